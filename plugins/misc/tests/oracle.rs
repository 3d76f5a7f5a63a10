//! Differential test against reference answers produced by CPython +
//! pydantic (`tests/fixtures/gen_oracle.py`): random wall times, offsets,
//! week dates, DST gaps/folds in random IANA zones, malformed strings and
//! wrongly typed fields. Set `ORACLE_CASES=/path/to/cases.jsonl` to run a
//! larger generated corpus instead of the committed one.

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

fn check(client: &TestClient, line: &str, case: &Value) -> Result<(), String> {
    // Send the body exactly as written (big integer literals must survive).
    let raw = kiwi_plugin_misc::lax::top_level_literal(line.as_bytes(), "body").ok_or("case without a body")?;
    let res = client.post("/time/convert").body(raw.to_vec()).send();
    let got = res.json();
    let status = case["status"].as_u64().unwrap_or_default();
    if u64::from(res.status) != status {
        return Err(format!("status {} != {status}: {got}", res.status));
    }
    let want = &case["expected"];
    let ok = match status {
        200 => {
            let zones = got["zones"].as_array().cloned().unwrap_or_default();
            let datetimes: Vec<Value> = zones.iter().map(|z| z["datetime"].clone()).collect();
            let dates: Vec<Value> = zones.iter().map(|z| z["date"].clone()).collect();
            got["unix"] == want["unix"]
                && got["iso_utc"] == want["iso_utc"]
                && Value::Array(datetimes) == want["zones"]
                && Value::Array(dates) == want["dates"]
        }
        400 => got["error"]["code"] == "bad_request" && got["error"]["message"] == want["message"],
        422 => got["error"]["code"] == "validation_error" && same(&got["error"]["details"], &want["details"]),
        _ => got["error"]["code"] == "internal_error",
    };
    if ok {
        Ok(())
    } else if status == 200 {
        let zones: Vec<&Value> =
            got["zones"].as_array().map(|z| z.iter().map(|z| &z["datetime"]).collect()).unwrap_or_default();
        Err(format!("got unix {} zones {zones:?}\n  expected {want}", got["unix"]))
    } else {
        Err(format!("got {got}\n  expected {want}"))
    }
}

#[test]
fn convert_matches_python_reference() {
    let external = std::env::var("ORACLE_CASES").ok();
    let text = match &external {
        Some(path) => std::fs::read_to_string(path).expect("ORACLE_CASES file"),
        None => CASES.to_owned(),
    };
    let client = TestClient::new(kiwi_plugin_misc::plugin());
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
