//! Shared test helpers: vector loading, request building and a JSON comparison
//! that reports every differing path (numbers compare by value and by int/float kind).

#![allow(dead_code)]

use kiwi_sdk::testing::{TestClient, TestResponse};
use serde_json::Value;

pub const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/reference/vectors/calculators.jsonl");

pub fn client() -> TestClient {
    TestClient::new(kiwi_plugin_gems::plugin()).now(1_700_000_000)
}

/// Every vector for `/v1/gems/*` (including `#logic` entries).
pub fn gem_vectors() -> Vec<Value> {
    let text = std::fs::read_to_string(VECTORS).expect("vectors file");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).expect("vector json"))
        .filter(|v| v["endpoint"].as_str().is_some_and(|e| e.contains(" /v1/gems/")))
        .collect()
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `?a=1&b=x` from a JSON object of query values.
pub fn query_string(q: &Value) -> String {
    let Some(m) = q.as_object() else {
        return String::new();
    };
    let parts: Vec<String> = m
        .iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                other => other.to_string(),
            };
            format!("{}={}", encode(k), encode(&s))
        })
        .collect();
    if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
}

/// Sends a vector's request (method + path relative to `/v1/gems`).
pub fn send(client: &TestClient, method: &str, path: &str, request: &Value) -> TestResponse {
    let path = path.trim_start_matches("/v1/gems");
    let url = format!("{path}{}", query_string(&request["query"]));
    let req = client.request(method, &url);
    match request.get("body") {
        Some(body) => req.json(body).send(),
        None => req.send(),
    }
}

/// Compares `actual` with `expected`; returns the differing paths.
pub fn diff(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                if k == "request_id" {
                    continue;
                }
                match a.get(k) {
                    Some(av) => diff(ev, av, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: missing (expected {ev})")),
                }
            }
            for k in a.keys() {
                if !e.contains_key(k) && k != "request_id" {
                    out.push(format!("{path}.{k}: unexpected key"));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                out.push(format!("{path}: length {} != expected {}", a.len(), e.len()));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff(ev, av, &format!("{path}[{i}]"), out);
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            if e.as_f64() != a.as_f64() {
                out.push(format!("{path}: {a} != expected {e}"));
            } else if e.is_f64() != a.is_f64() {
                out.push(format!("{path}: {a} (int/float kind) != expected {e}"));
            }
        }
        (e, a) => {
            if e != a {
                out.push(format!("{path}: {a} != expected {e}"));
            }
        }
    }
}

/// Removes top-level keys listed in a vector's `ignore_paths`.
pub fn strip_ignored(v: &Value, expected: &mut Value, actual: &mut Value) {
    if let Some(paths) = v["ignore_paths"].as_array() {
        for p in paths.iter().filter_map(Value::as_str) {
            if let Some(o) = expected.as_object_mut() {
                o.remove(p);
            }
            if let Some(o) = actual.as_object_mut() {
                o.remove(p);
            }
        }
    }
}
