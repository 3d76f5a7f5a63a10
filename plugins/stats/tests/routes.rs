//! Route-level behaviour of the stats plugin: access rules and docs in the
//! manifest, and every error path through the HTTP layer.

use kiwi_sdk::Access;
use kiwi_sdk::testing::TestClient;
use serde_json::{Value, json};

fn client() -> TestClient {
    TestClient::new(kiwi_plugin_stats::plugin())
}

#[test]
fn every_route_is_public_stats_read_and_documented() {
    let plugin = kiwi_plugin_stats::plugin();
    let m = plugin.manifest();
    assert_eq!(m.name, "stats");
    assert!(m.scopes.iter().any(|s| s.name == "stats:read"));
    assert_eq!(m.routes.len(), 6);
    for r in &m.routes {
        assert_eq!(r.access, Access::Public, "{}", r.path);
        assert_eq!(r.scope.as_deref(), Some("stats:read"), "{}", r.path);
        assert!(!r.summary.is_empty(), "{} has no summary", r.path);
        let example = r.example.as_deref().unwrap_or_default();
        let parsed: Value = serde_json::from_str(example).expect("example is JSON");
        assert!(parsed.is_object() && parsed != json!({}), "{} example", r.path);
    }
}

#[test]
fn unknown_class_is_a_404_envelope() {
    let res = client().get("/classes/Knight").send();
    assert_eq!(res.status, 404);
    let e = &res.json()["error"];
    assert_eq!(e["code"], "not_found");
    assert_eq!(e["message"], "No class with tech_name 'Knight'");
    assert_eq!(e["details"], Value::Null);
    let res = client().get("/classes/ice%20mage").send();
    assert_eq!(res.json()["error"]["message"], "No class with tech_name 'ice mage'");
}

#[test]
fn classes_carry_every_field() {
    let res = client().get("/classes").send();
    assert_eq!(res.status, 200);
    let body = res.json();
    assert_eq!(body["count"], 18);
    let first = &body["items"][0];
    assert_eq!(first["tech_name"], "bard");
    assert_eq!(first["abilities"], json!([]));
    assert_eq!(first["subclass"]["power"], json!({}));
    assert!(first["stats"][0].get("absolute").is_none());
    let boom = client().get("/classes/adventurer").send().json();
    assert_eq!(boom["name"], "Boomeranger");
    assert_eq!(boom["stats"][4]["value"], Value::Null);
}

#[test]
fn coefficient_error_paths() {
    let post = |body: &[u8]| {
        let res = client().post("/coefficient").body(body.to_vec()).send();
        (res.status, res.json())
    };
    // No damage at all: 400 with the original wording.
    let (status, body) = post(br#"{"critical_damage": 10}"#);
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "Provide critical_damage and at least one of physical_damage / magic_damage.");
    let (status, _) = post(br#"{"physical_damage": null, "magic_damage": null, "critical_damage": 1}"#);
    assert_eq!(status, 400);
    // Missing critical_damage: 422 echoing the whole body.
    let (status, body) = post(br#"{"physical_damage": 1000}"#);
    assert_eq!(status, 422);
    assert_eq!(
        body["error"]["details"],
        json!([{"type": "missing", "loc": ["body", "critical_damage"], "msg": "Field required",
                "input": {"physical_damage": 1000}}])
    );
    // Wrong types.
    let (status, body) = post(br#"{"physical_damage": "lots", "critical_damage": [1]}"#);
    assert_eq!(status, 422);
    let d = &body["error"]["details"];
    assert_eq!(d[0]["type"], "float_parsing");
    assert_eq!(d[1]["type"], "float_type");
    assert_eq!(d[1]["msg"], "Input should be a valid number");
    // Lax coercion is accepted.
    let (status, body) = post(br#"{"magic_damage": "2000", "critical_damage": true}"#);
    assert_eq!((status, body["coefficient"].clone()), (200, json!(2020)));
    // Body problems.
    let (status, body) = post(b"");
    assert_eq!((status, body["error"]["details"][0]["type"].clone()), (422, json!("missing")));
    let (status, body) = post(b"[1, 2]");
    assert_eq!(status, 422);
    assert_eq!(body["error"]["details"][0]["type"], "model_attributes_type");
    let (status, body) = post(b"{not json");
    assert_eq!(status, 422);
    assert_eq!(body["error"]["details"][0]["type"], "json_invalid");
    // A non-finite product is what Python answers with a 500.
    let (status, body) = post(br#"{"physical_damage": 1e308, "critical_damage": 1e308}"#);
    assert_eq!((status, body["error"]["code"].clone()), (500, json!("internal_error")));
}

#[test]
fn coefficient_beyond_64_bits_is_exact() {
    let res = client().post("/coefficient").json(&json!({"physical_damage": 1e20, "critical_damage": 0})).send();
    assert_eq!(res.status, 200);
    assert!(res.text().starts_with("{\"coefficient\":100000000000000000000,"));
}

#[test]
fn stat_tables_render_floats() {
    let res = client().get("/light").send();
    let body = res.json();
    assert_eq!(body["count"], 18);
    assert!(res.text().contains("\"value\":2340.0"));
    assert_eq!(body["sources"][8]["step"], json!(10.0));
}
