//! Request validation: the 422 `details` must be what pydantic v2 (lax mode,
//! FastAPI's `from_attributes`) reports. `pydantic_cases.json` was produced by
//! running the original request models (schemas.py / model.py field types)
//! under pydantic 2.13 on malformed bodies; this test replays every case.
//! Also covers the plugin's own error paths (bad JSON, empty body, queries).

mod common;

use common::{client, diff};
use serde_json::{Value, json};

#[test]
fn pydantic_error_details_match() {
    let cases: Vec<Value> = serde_json::from_str(include_str!("pydantic_cases.json")).expect("cases");
    let c = client();
    let mut failures = Vec::new();
    for case in &cases {
        let path = case["path"].as_str().expect("path");
        let res = c.post(path).json(&case["body"]).send();
        let name = format!("POST {path} {}", case["body"]);
        match &case["errors"] {
            Value::Null => {
                if res.status == 422 {
                    failures.push(format!("{name}: unexpected 422 {}", res.text()));
                }
            }
            expected => {
                if res.status != 422 {
                    failures.push(format!("{name}: status {} {}", res.status, res.text()));
                    continue;
                }
                let body = res.json();
                assert_eq!(body["error"]["code"], "validation_error");
                assert_eq!(body["error"]["message"], "Request validation failed");
                let mut d = Vec::new();
                diff(expected, &body["error"]["details"], "$", &mut d);
                if !d.is_empty() {
                    failures.push(format!("{name}:\n    {}", d.join("\n    ")));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn body_errors() {
    let c = client();
    let res = c.post("/generate").send();
    assert_eq!(res.status, 422);
    assert_eq!(
        res.json()["error"]["details"],
        json!([{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}])
    );
    let res = c.post("/evaluate").body("{not json").send();
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"]["code"], "bad_request");
    let res = c.post("/spark").json(&json!({"gem": {}, "stat_position": 0, "seed": "x"})).send();
    assert_eq!(res.status, 422);
    let details = res.json()["error"]["details"].clone();
    assert!(
        details
            .as_array()
            .expect("details")
            .iter()
            .any(|d| d["loc"] == json!(["body", "seed"]) && d["type"] == "int_parsing"),
        "{details}"
    );
}

#[test]
fn query_errors() {
    let c = client();
    let res = c.get("/stat-range?type=1").send();
    assert_eq!(res.status, 422);
    assert_eq!(
        res.json()["error"]["details"],
        json!([
            {"type": "missing", "loc": ["query", "tier"], "msg": "Field required", "input": null},
            {"type": "missing", "loc": ["query", "stat_type"], "msg": "Field required", "input": null}
        ])
    );
    let res = c.get("/level-costs?tier=x&type=1.5&from_level=2").send();
    assert_eq!(res.status, 422);
    let d = res.json()["error"]["details"].clone();
    assert_eq!(d[0]["type"], "int_parsing");
    assert_eq!(d[0]["input"], "x");
    assert_eq!(d[1]["loc"], json!(["query", "type"]));
    // "5.0" is an int for pydantic; the last repeated value wins.
    let res = c.get("/stat-range?tier=1&tier=4&type=1.0&stat_type=1").send();
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["min_value"], json!(5040.0));
    let res = c.get("/stat-range?tier=4&type=1&stat_type=1&element=9").send();
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"]["message"], "Invalid stat-range parameters: 9 is not a valid GemElement");
    let res = c.get("/level-costs?tier=4&type=1&element=0").send();
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"]["message"], "Invalid level-cost parameters: 0 is not a valid GemElement");
}
