//! Route-level behaviour of the misc plugin: access rules and docs in the
//! manifest, the pinned host clock, and every error path through HTTP.

use kiwi_sdk::Access;
use kiwi_sdk::testing::TestClient;
use serde_json::{Value, json};

fn client() -> TestClient {
    TestClient::new(kiwi_plugin_misc::plugin())
}

fn post(body: &[u8]) -> (u16, Value) {
    let res = client().post("/time/convert").body(body.to_vec()).send();
    (res.status, res.json())
}

#[test]
fn every_route_is_public_misc_read_and_documented() {
    let plugin = kiwi_plugin_misc::plugin();
    let m = plugin.manifest();
    assert_eq!(m.name, "misc");
    assert!(m.scopes.iter().any(|s| s.name == "misc:read"));
    assert_eq!(m.routes.len(), 3);
    for r in &m.routes {
        assert_eq!(r.access, Access::Public, "{}", r.path);
        assert_eq!(r.scope.as_deref(), Some("misc:read"), "{}", r.path);
        assert!(!r.summary.is_empty(), "{} has no summary", r.path);
        let example = r.example.as_deref().unwrap_or_default();
        let parsed: Value = serde_json::from_str(example).expect("example is JSON");
        assert!(parsed["zones"].is_array() || parsed["items"].is_array(), "{}", r.path);
    }
}

#[test]
fn time_now_uses_the_pinned_host_clock() {
    let c = client().now(1_780_657_200);
    let body = c.get("/time/now").send().json();
    assert_eq!(body["unix"], 1_780_657_200);
    let zones = body["zones"].as_array().unwrap();
    assert_eq!(zones.len(), 11);
    assert_eq!(zones[0]["datetime"], "2026-06-05T00:00:00-11:00");
    assert_eq!(zones[1]["id"], "UTC");
    assert_eq!(zones[1]["time"], "11:00:00");
    c.set_now_millis(1_717_596_600_999);
    let body = c.get("/time/now").send().json();
    assert_eq!(body["unix"], 1_717_596_600);
    assert_eq!(body["zones"][1]["datetime"], "2024-06-05T14:10:00+00:00");
}

#[test]
fn bad_request_paths() {
    let (status, body) = post(br#"{"timezone": "UTC"}"#);
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "Provide either 'unix' or 'datetime'.");
    assert_eq!(body["error"]["code"], "bad_request");
    let (status, _) = post(br#"{"datetime": null, "unix": null}"#);
    assert_eq!(status, 400);
    let (status, body) = post(br#"{"datetime": "not-a-date"}"#);
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "Invalid datetime 'not-a-date': Invalid isoformat string: 'not-a-date'");
    let (_, body) = post(br#"{"datetime": "2026-02-30T10:00"}"#);
    assert_eq!(body["error"]["message"], "Invalid datetime '2026-02-30T10:00': day is out of range for month");
    let (status, body) = post(br#"{"datetime": "2026-06-05T00:00", "timezone": "Mars/Olympus"}"#);
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "Unknown timezone 'Mars/Olympus'.");
    // Zone names are case-sensitive, like zoneinfo on Linux.
    let (status, _) = post(br#"{"datetime": "2026-06-05T00:00", "timezone": "europe/paris"}"#);
    assert_eq!(status, 400);
}

#[test]
fn validation_paths() {
    let (status, body) = post(br#"{"unix": "soon"}"#);
    assert_eq!(status, 422);
    assert_eq!(
        body["error"]["details"],
        json!([{"type": "int_parsing", "loc": ["body", "unix"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "soon"}])
    );
    let (_, body) = post(br#"{"unix": 1.5}"#);
    assert_eq!(body["error"]["details"][0]["type"], "int_from_float");
    let (_, body) = post(br#"{"datetime": 20260605, "timezone": null}"#);
    let d = &body["error"]["details"];
    assert_eq!(d[0]["loc"], json!(["body", "datetime"]));
    assert_eq!(d[0]["type"], "string_type");
    assert_eq!(d[1]["loc"], json!(["body", "timezone"]));
    assert_eq!(d[1]["input"], Value::Null);
    let (status, body) = post(b"");
    assert_eq!(status, 422);
    assert_eq!(body["error"]["details"][0]["loc"], json!(["body"]));
    let (_, body) = post(b"\"2026-06-05\"");
    assert_eq!(body["error"]["details"][0]["type"], "model_attributes_type");
    let (_, body) = post(b"{\"unix\": }");
    assert_eq!(body["error"]["details"][0]["type"], "json_invalid");
}

#[test]
fn out_of_range_instants_are_500_like_python() {
    for body in [
        &br#"{"unix": 253402300800}"#[..],
        br#"{"unix": -62135596800}"#,
        br#"{"unix": 99999999999999999999}"#,
        br#"{"datetime": "9999-12-31T23:00:00", "timezone": "trove"}"#,
    ] {
        let (status, body) = post(body);
        assert_eq!(status, 500, "{body}");
        assert_eq!(body["error"]["code"], "internal_error");
    }
}

#[test]
fn convert_renders_zones_and_discord_codes() {
    let (status, body) = post(br#"{"unix": 1717596600, "timezone": "ignored/zone"}"#);
    assert_eq!(status, 200);
    assert_eq!(body["iso_utc"], "2024-06-05T14:10:00+00:00");
    assert_eq!(body["discord"][4]["code"], "<t:1717596600:f>");
    assert_eq!(body["discord"].as_array().unwrap().len(), 7);
    // DST gap in New York (fold=0 keeps EST), then the far future (rule-based DST).
    let (_, body) = post(br#"{"datetime": "2026-03-08T02:30", "timezone": "America/New_York"}"#);
    assert_eq!(body["zones"][3]["datetime"], "2026-03-08T03:30:00-04:00");
    let (_, body) = post(br#"{"datetime": "2300-07-01T12:00", "timezone": "Europe/Paris"}"#);
    assert_eq!(body["zones"][6]["datetime"], "2300-07-01T12:00:00+02:00");
    assert_eq!(body["zones"][3]["datetime"], "2300-07-01T06:00:00-04:00");
}
