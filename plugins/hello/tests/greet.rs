//! Native tests of the hello plugin through the SDK's test client.

#[test]
fn greets_and_rejects_long_names() {
    let client = kiwi_sdk::testing::TestClient::new(kiwi_plugin_hello::plugin());
    let res = client.get("/greet/ann").send();
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["message"], "hello, ann");
    assert_eq!(res.json()["tenant"], "default");
    let res = client.get(&format!("/greet/{}", "x".repeat(65))).send();
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"]["code"], "bad_request");
}
