//! Runs every reference vector of `/v1/stats/*` against the plugin and
//! compares the JSON by value (numbers numerically, `request_id` and the
//! vector's `ignore_paths` ignored).

use kiwi_sdk::testing::TestClient;
use serde_json::Value;

const VECTORS: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/reference/vectors/calculators.jsonl"));

/// Removes `path` (dotted, `[*]` for every list item) from `v`.
fn remove_path(v: &mut Value, path: &[&str]) {
    let Some((head, rest)) = path.split_first() else {
        return;
    };
    if let Some(key) = head.strip_suffix("[*]") {
        if let Some(Value::Array(items)) = v.get_mut(key) {
            for item in items {
                remove_path(item, rest);
            }
        }
        return;
    }
    if rest.is_empty() {
        if let Some(map) = v.as_object_mut() {
            map.remove(*head);
        }
    } else if let Some(child) = v.get_mut(*head) {
        remove_path(child, rest);
    }
}

/// JSON equality with numbers compared as f64; reports the first difference.
fn diff(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            (x.as_f64() != y.as_f64()).then(|| format!("{path}: got {x}, expected {y}"))
        }
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = diff(&format!("{path}.{k}"), p, q) {
                            return Some(d);
                        }
                    }
                    (p, q) => return Some(format!("{path}.{k}: got {p:?}, expected {q:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!("{path}: got {} items, expected {}", x.len(), y.len()));
            }
            x.iter().zip(y).enumerate().find_map(|(i, (p, q))| diff(&format!("{path}[{i}]"), p, q))
        }
        _ => (a != b).then(|| format!("{path}: got {a}, expected {b}")),
    }
}

fn run(prefix: &str) -> usize {
    let client = TestClient::new(kiwi_plugin_stats::plugin());
    let mut count = 0;
    let mut failures = Vec::new();
    for line in VECTORS.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("vector JSON");
        let endpoint = v["endpoint"].as_str().expect("endpoint");
        let (method, route) = endpoint.split_once(' ').expect("METHOD /path");
        if !route.starts_with(prefix) {
            continue;
        }
        count += 1;
        let mut path = route.trim_start_matches("/v1/stats").to_owned();
        if let Some(params) = v["request"]["path"].as_object() {
            for (k, val) in params {
                path = path.replace(&format!("{{{k}}}"), val.as_str().expect("path param"));
            }
        }
        let mut req = client.request(method, &path);
        if let Some(body) = v["request"].get("body") {
            req = req.json(body);
        }
        let res = req.send();
        let mut got = res.json();
        let mut expected = v["expected"].clone();
        for g in [&mut got, &mut expected] {
            if let Some(err) = g.get_mut("error").and_then(Value::as_object_mut) {
                err.remove("request_id");
            }
            for p in v["ignore_paths"].as_array().into_iter().flatten() {
                let p = p.as_str().expect("ignore path");
                remove_path(g, &p.split('.').collect::<Vec<_>>());
            }
        }
        let status = v["expected_status"].as_u64().expect("status");
        if u64::from(res.status) != status {
            failures.push(format!("{line}\n  status {} != {status}: {got}", res.status));
        } else if let Some(d) = diff("$", &got, &expected) {
            failures.push(format!("{line}\n  {d}"));
        }
    }
    assert!(failures.is_empty(), "{} of {count} vectors failed:\n{}", failures.len(), failures.join("\n"));
    count
}

#[test]
fn every_stats_vector_passes() {
    let n = run("/v1/stats/");
    assert!(n >= 17, "only {n} stats vectors found");
}
