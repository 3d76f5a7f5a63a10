//! `rotations.jsonl`: every vector as `GET /v1/rotations/…` (public, no token) at
//! its instant (the host clock pinned to `now`), compared exactly as
//! `plugins/rotations/tests/api.rs` does.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::compare::{Numbers, diff};
use crate::harness::{self, Reply, query_string};

/// Fields the vectors drop because they depend on stored captures (rotations.md §3).
/// With an empty store they are present and null.
fn dropped_fields(endpoint: &str) -> &'static [&'static str] {
    match endpoint {
        "/v1/rotations/chaos-chest" => &["item", "fetched_at"],
        "/v1/rotations/challenge/current" => &["name", "type", "captured_at"],
        _ => &[],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rotations_vector() {
    let text = std::fs::read_to_string(harness::vectors().join("rotations.jsonl")).expect("rotations.jsonl");
    let app = harness::spawn().await;
    let mut failures = Vec::new();
    let mut per_endpoint: BTreeMap<String, usize> = BTreeMap::new();
    for (line_no, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("vector line is JSON");
        let endpoint = v["endpoint"].as_str().expect("endpoint");
        let now = v["now"].as_i64().expect("now");
        let url = format!("{endpoint}{}", query_string(&v["query"]));
        *per_endpoint.entry(endpoint.to_owned()).or_default() += 1;
        let label = format!("line {}: GET {url} @{now}", line_no + 1);

        app.clock.pin(Some(now * 1000));
        let res = harness::send(app.request("GET", &url)).await;
        if res.status != 200 {
            failures.push(format!("{label}: status {}: {}", res.status, res.text()));
            continue;
        }
        let mut actual = res.json();
        let mut dropped_ok = true;
        for f in dropped_fields(endpoint) {
            let removed = actual.as_object_mut().and_then(|o| o.remove(*f));
            if removed != Some(Value::Null) {
                failures.push(format!("{label}: {f} should be present and null with no captures, got {removed:?}"));
                dropped_ok = false;
            }
        }
        let d = diff(&v["expected"], &actual, Numbers::Exact, 8);
        if dropped_ok && !d.is_empty() {
            failures.push(format!("{label}:\n  {}", d.join("\n  ")));
        }
        check_headers(&label, &res, &mut failures);
    }
    app.clock.pin(None);
    let total: usize = per_endpoint.values().sum();
    assert_eq!(total, 664, "rotations.jsonl changed size? {per_endpoint:?}");
    for ep in [
        "server-time",
        "daily-buffs",
        "weekly-buffs",
        "corruxion",
        "fluxion",
        "gardening",
        "chaos-chest",
        "challenge/current",
        "calendar",
        "biomes",
        "wild-mana",
        "stampy",
    ] {
        assert!(per_endpoint.contains_key(&format!("/v1/rotations/{ep}")), "{ep} untested");
    }
    harness::report("rotations", total, &failures);
}

/// What the host adds to every plugin answer: JSON content type, a request id and the
/// anonymous rate-limit headers.
fn check_headers(label: &str, res: &Reply, failures: &mut Vec<String>) {
    for (name, ok) in [
        ("content-type", res.header("content-type").is_some_and(|c| c.starts_with("application/json"))),
        ("x-request-id", res.header("x-request-id").is_some_and(|r| r.starts_with("req_"))),
        ("x-ratelimit-limit", res.header("x-ratelimit-limit").is_some()),
    ] {
        if !ok {
            failures.push(format!("{label}: header {name} is {:?}", res.header(name)));
        }
    }
}
