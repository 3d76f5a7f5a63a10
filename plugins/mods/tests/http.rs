//! Route-level behaviour through `TestClient`: the categories list, every error
//! path of `/read`, `/build` and `/build-pack`, download names and an HTTP
//! build → read round trip.

#![allow(clippy::unwrap_used)] // test code

use kiwi_plugin_mods::plugin;
use kiwi_sdk::testing::{TestClient, TestResponse};
use serde_json::{Value, json};

fn client() -> TestClient {
    TestClient::new(plugin())
}

fn error(res: &TestResponse) -> (u16, String, String, Value) {
    let v = res.json();
    let e = &v["error"];
    (
        res.status,
        e["code"].as_str().unwrap().to_owned(),
        e["message"].as_str().unwrap().to_owned(),
        e["details"].clone(),
    )
}

fn header(res: &TestResponse, name: &str) -> Option<String> {
    res.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

fn build(c: &TestClient, body: &Value) -> TestResponse {
    c.post("/build").json(body).send()
}

#[test]
fn categories_route() {
    let v = client().get("/categories").send().json();
    let cats = v["categories"].as_array().unwrap();
    assert_eq!(cats.len(), 19);
    assert_eq!(cats[0], json!({"name": "Allies", "bit": 1}));
    assert_eq!(cats[7], json!({"name": "GUI", "bit": 128}));
    assert_eq!(cats[18], json!({"name": "Radar", "bit": 262144}));
}

#[test]
fn manifest_declares_public_routes_with_limits() {
    let p = plugin();
    let m = p.manifest();
    assert_eq!(m.routes.len(), 4);
    for r in &m.routes {
        assert_eq!(r.scope.as_deref(), Some("mods:read"));
        assert!(!r.summary.is_empty() && !r.description.is_empty());
        if r.method == "POST" {
            assert_eq!(r.body_limit, Some(20 * 1024 * 1024));
        }
    }
}

#[test]
fn read_errors() {
    let c = client();
    let res = c.post("/read").send();
    let (s, code, _, d) = error(&res);
    assert_eq!((s, code.as_str()), (422, "validation_error"));
    assert_eq!(d[0]["type"], "missing");
    assert_eq!(d[0]["loc"], json!(["body"]));

    let res = c.post("/read?metadata_only=maybe").body(vec![0u8; 20]).send();
    let (s, _, _, d) = error(&res);
    assert_eq!(s, 422);
    assert_eq!(d[0]["type"], "bool_parsing");
    assert_eq!(d[0]["loc"], json!(["query", "metadata_only"]));
    assert_eq!(d[0]["input"], "maybe");

    // Both problems are reported together, query first.
    let res = c.post("/read?metadata_only=").send();
    let (_, _, _, d) = error(&res);
    assert_eq!(d.as_array().unwrap().len(), 2);

    let res = c.post("/read").header("content-type", "application/json").body(vec![0x36, 0, 0, 0xFF]).send();
    assert_eq!(error(&res), (400, "bad_request".into(), "There was an error parsing the body".into(), Value::Null));

    // A JSON-typed body that is valid JSON: a string is taken as the bytes,
    // anything else is not bytes.
    let res =
        c.post("/read").header("content-type", "application/json; charset=utf-8").body(b"\"short\"".to_vec()).send();
    assert_eq!(error(&res).2, "file too small to be a .tmod");
    let res = c.post("/read").header("content-type", "application/vnd.api+json").body(b"[1]".to_vec()).send();
    assert_eq!(error(&res).3[0]["type"], "bytes_type");

    let res = c.post("/read").body(b"garbage".to_vec()).send();
    assert_eq!(error(&res).2, "file too small to be a .tmod");
    let res = c.post("/read").body(vec![0xFFu8; 64]).send();
    assert_eq!(error(&res).2, "declared header size is outside the file");
    let mut junk = vec![12u8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0];
    junk.extend_from_slice(&[0x85, 0x80]);
    let res = c.post("/read").body(junk).send();
    assert_eq!(error(&res).2, "malformed .tmod file: index out of range");
}

#[test]
fn build_validation_errors() {
    let c = client();
    let res = c.post("/build").send();
    assert_eq!(error(&res).3[0]["loc"], json!(["body"]));

    let res = c.post("/build").body(b"{not json".to_vec()).send();
    let (s, _, _, d) = error(&res);
    assert_eq!((s, d[0]["type"].as_str()), (422, Some("json_invalid")));

    let res = build(&c, &json!([1, 2]));
    assert_eq!(error(&res).3[0]["type"], "model_attributes_type");

    let res = build(&c, &json!({"properties": {}}));
    let (s, _, _, d) = error(&res);
    assert_eq!(s, 422);
    assert_eq!(d[0]["type"], "missing");
    assert_eq!(d[0]["loc"], json!(["body", "files"]));

    let res = build(&c, &json!({"version": "abc", "properties": {"title": 5, "ok": "x"}, "files": "nope"}));
    let (_, _, _, d) = error(&res);
    let got: Vec<(Value, Value)> =
        d.as_array().unwrap().iter().map(|e| (e["type"].clone(), e["loc"].clone())).collect();
    assert_eq!(
        got,
        vec![
            (json!("int_parsing"), json!(["body", "version"])),
            (json!("string_type"), json!(["body", "properties", "title"])),
            (json!("list_type"), json!(["body", "files"])),
        ]
    );

    for (version, kind) in [(json!(1.5), "int_from_float"), (json!(null), "int_type"), (json!([1]), "int_type")] {
        let res = build(&c, &json!({"version": version, "files": [{"path": "a", "content_base64": ""}]}));
        assert_eq!(error(&res).3[0]["type"], kind, "{version}");
    }
    let res = build(&c, &json!({"properties": [], "files": [{"path": "a", "content_base64": ""}]}));
    assert_eq!(error(&res).3[0]["type"], "dict_type");

    let res = build(&c, &json!({"files": [7, {"content_base64": ""}, {"path": "a", "content_base64": 3}]}));
    let (_, _, _, d) = error(&res);
    assert_eq!(d[0]["type"], "model_attributes_type");
    assert_eq!(d[0]["loc"], json!(["body", "files", 0]));
    assert_eq!(d[1]["type"], "missing");
    assert_eq!(d[1]["loc"], json!(["body", "files", 1, "path"]));
    assert_eq!(d[2]["type"], "string_type");
    assert_eq!(d[2]["loc"], json!(["body", "files", 2, "content_base64"]));

    // Accepted lax forms: "2", 2.0, true.
    for version in [json!("2"), json!(2.0), json!(true)] {
        let res = build(&c, &json!({"version": version, "files": [{"path": "a", "content_base64": ""}]}));
        assert_eq!(res.status, 200, "{version}: {}", res.text());
    }
}

#[test]
fn build_bad_request_and_internal_errors() {
    let c = client();
    let res = build(
        &c,
        &json!({"files": [{"path": "ok", "content_base64": "QQ=="}, {"path": "Bad\\Path", "content_base64": "QQ"}]}),
    );
    assert_eq!(
        error(&res),
        (400, "bad_request".into(), "Invalid base64 content for 'Bad\\Path': Incorrect padding".into(), Value::Null)
    );
    let res = build(&c, &json!({"files": [{"path": "a", "content_base64": "QQ==\n"}]}));
    assert_eq!(error(&res).2, "Invalid base64 content for 'a': Excess data after padding");
    let res = build(&c, &json!({"files": [{"path": "a", "content_base64": "Q!=="}]}));
    assert_eq!(error(&res).2, "Invalid base64 content for 'a': Only base64 data is allowed");

    let res = build(&c, &json!({"files": []}));
    assert_eq!(error(&res).2, "a .tmod needs at least one file");

    let long = "X".repeat(256);
    let res = build(&c, &json!({"files": [{"path": long, "content_base64": ""}]}));
    assert_eq!(error(&res).2, format!("internal path too long for the .tmod format (>255 bytes): {}", "x".repeat(256)));

    for version in [json!(70000), json!(-1), json!(1e30)] {
        let res = build(&c, &json!({"version": version, "files": [{"path": "a", "content_base64": ""}]}));
        assert_eq!(
            error(&res),
            (500, "internal_error".into(), "Internal server error".into(), Value::Null),
            "{version}"
        );
    }
}

#[test]
fn build_names_and_round_trip() {
    let c = client();
    // A raw body: `json!` would sort the property keys.
    let body = r#"{"version": 3, "properties": {"title": "My Mod!! \u2603/..\\x", "tags": "Wings, reskin", "author": "Zo\u00eb"},
        "files": [{"path": "\\UI\\Icon.PNG", "content_base64": "iVBORw=="}, {"path": "empty", "content_base64": ""}]}"#;
    let res = c.post("/build").body(body.as_bytes().to_vec()).send();
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(header(&res, "content-disposition").as_deref(), Some("attachment; filename=\"My Mod ..x.tmod\""));
    let read = c.post("/read").body(res.body.clone()).send().json();
    assert_eq!(read["version"], 3);
    assert_eq!(read["flags"], 73728);
    assert_eq!(read["categories"], json!(["Wings", "Reskin"]));
    assert_eq!(read["properties"]["flags"], "73728");
    assert_eq!(read["properties"]["modLoader"], "KiwiAPI");
    assert_eq!(read["files"][0]["path"], "ui/icon.png");
    assert_eq!(read["files"][0]["content_base64"], "iVBORw==");
    assert_eq!(read["files"][1]["offset"], 0);
    // The response keeps the file's property order.
    let text = c.post("/read?metadata_only=1").body(res.body.clone()).send().text();
    let order: Vec<usize> = ["\"title\"", "\"tags\"", "\"author\"", "\"modLoader\"", "\"flags\":\"7"]
        .iter()
        .map(|k| text.find(k).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(text.contains("\"content_base64\":null"));

    let res = build(&c, &json!({"files": [{"path": "a", "content_base64": ""}]}));
    assert_eq!(header(&res, "content-disposition").as_deref(), Some("attachment; filename=\"mod.tmod\""));
}

#[test]
fn build_pack() {
    let c = client();
    let inner =
        build(&c, &json!({"properties": {"title": "Inner"}, "files": [{"path": "a.txt", "content_base64": "aGk="}]}));
    let b64 = kiwi_plugin_mods::b64::encode(&inner.body);
    let res = c
        .post("/build-pack")
        .json(&json!({"properties": {"title": "Pack", "packVersion": "1", "variant": "Hard Mode", "manifest": "{}"},
                      "tmods": [{"path": "Inner.tmod", "content_base64": b64}]}))
        .send();
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(header(&res, "content-disposition").as_deref(), Some("attachment; filename=\"Pack-Hard Mode.tpack\""));
    let read = c.post("/read").body(res.body.clone()).send().json();
    assert_eq!(read["files"][0]["path"], "Inner.tmod");
    assert_eq!(read["files"][0]["content_base64"], json!(b64));
    assert_eq!(read["properties"]["modLoader"], "KiwiAPI");

    let res = c.post("/build-pack").json(&json!({"files": []})).send();
    let (s, _, _, d) = error(&res);
    assert_eq!(s, 422);
    assert_eq!(d[0]["loc"], json!(["body", "tmods"]));
}
