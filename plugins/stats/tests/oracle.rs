//! Differential test of `POST /coefficient` against reference answers from
//! pydantic + CPython floats (`tests/fixtures/gen_oracle.py`): random damage
//! and crit values (including products just below an integer and huge
//! results), lax strings/booleans, wrong types and missing fields. Set
//! `ORACLE_CASES=/path/to/cases.jsonl` to run a larger generated corpus.

use kiwi_sdk::testing::TestClient;
use serde_json::Value;

const CASES: &str = include_str!("fixtures/oracle.jsonl");

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The body exactly as written in the case line (`{"body": RAW, "status": ...}`).
fn raw_body(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("{\"body\": ")?;
    let end = rest.rfind(", \"status\": ")?;
    Some(&rest[..end])
}

fn check(client: &TestClient, line: &str, case: &Value) -> Result<(), String> {
    let raw = raw_body(line).ok_or("case without a body")?;
    let res = client.post("/coefficient").body(raw).send();
    let status = case["status"].as_u64().unwrap_or_default();
    if u64::from(res.status) != status {
        return Err(format!("status {} != {status}: {}", res.status, res.text()));
    }
    let want = &case["expected"];
    let got = res.json();
    let ok = match status {
        200 => Some(res.text().as_str()) == want.as_str(),
        400 => got["error"]["message"] == want["message"],
        422 => same(&got["error"]["details"], &want["details"]),
        _ => got["error"]["code"] == "internal_error",
    };
    if ok { Ok(()) } else { Err(format!("got {}\n  expected {want}", res.text())) }
}

#[test]
fn coefficient_matches_python_reference() {
    let text = match std::env::var("ORACLE_CASES") {
        Ok(path) => std::fs::read_to_string(path).expect("ORACLE_CASES file"),
        Err(_) => CASES.to_owned(),
    };
    let client = TestClient::new(kiwi_plugin_stats::plugin());
    let mut total = 0;
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("case JSON");
        total += 1;
        if let Err(e) = check(&client, line, &case) {
            failures.push(format!("{}\n  {e}", case["body"]));
        }
    }
    assert!(total > 100, "only {total} oracle cases");
    assert!(
        failures.is_empty(),
        "{} of {total} oracle cases failed:\n{}",
        failures.len(),
        failures.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}
