//! `tmod/`: every vector of `index.json` over HTTP, as the HTTP half of
//! `plugins/mods/tests/vectors.rs`: `POST /v1/mods/read` (full and
//! metadata-only; Kiwi adds `flags` and `categories`, which must equal what the
//! original computed — `expected_read` — and are then stripped), `POST
//! /v1/mods/build` byte for byte with its headers, and `POST /v1/mods/build-pack`
//! for the `.tpack` vectors. The build requests are sent with their key order
//! intact (property order is part of the built bytes).
//!
//! Not reachable over HTTP, and covered by the plugin's own tests: the core
//! reader's internal dict and `checksum.jsonl` (the bare hash function).

use std::collections::HashMap;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::compare::{Numbers, diff};
use crate::harness::{self, App};

/// A JSON object with its members as raw text (order and spelling kept).
fn raw_members(json: &str) -> HashMap<String, Box<RawValue>> {
    serde_json::from_str(json).expect("a JSON object")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tmod_vector() {
    let dir = harness::vectors().join("tmod");
    let index: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).expect("tmod/index.json"))
        .expect("index.json");
    let app = harness::spawn().await;
    let mut failures = Vec::new();
    let (mut vectors, mut checks) = (0, 0);
    for entry in index.as_array().expect("index is a list") {
        let name = entry["name"].as_str().expect("name");
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("vector json");
        let v: Value = serde_json::from_str(&text).expect("vector json");
        let bytes = std::fs::read(dir.join(format!("{name}.tmod"))).expect("vector .tmod");
        assert_eq!(bytes.len() as u64, entry["size"].as_u64().unwrap_or(0), "{name}: size in index.json");
        checks += check_read(&app, name, &v, &bytes, &mut failures).await;
        checks += check_build(&app, name, &text, &v, &bytes, &mut failures).await;
        vectors += 1;
    }
    assert!(vectors >= 12, "only {vectors} tmod vectors");
    eprintln!("{vectors} tmod vectors, {checks} HTTP checks");
    harness::report("tmod", vectors, &failures);
}

async fn check_read(app: &App, name: &str, v: &Value, bytes: &[u8], failures: &mut Vec<String>) -> usize {
    let mut checks = 0;
    for (metadata_only, api_key, core_key) in [
        (false, "expected_api_POST_v1_mods_read", "expected_read"),
        (true, "expected_api_POST_v1_mods_read_metadata_only", "expected_read_metadata_only"),
    ] {
        checks += 1;
        let label = format!("{name}: POST /v1/mods/read?metadata_only={metadata_only}");
        let want = &v[api_key];
        let res = harness::send(
            app.request("POST", &format!("/v1/mods/read?metadata_only={metadata_only}"))
                .header("content-type", "application/octet-stream")
                .body(bytes.to_vec()),
        )
        .await;
        if Some(u64::from(res.status)) != want["status"].as_u64() {
            failures.push(format!("{label}: status {} != expected {}: {}", res.status, want["status"], res.text()));
            continue;
        }
        let mut got = res.json();
        let mut want_body = want["body"].clone();
        if res.status == 200 {
            // Kiwi adds flags and categories (the original computed them, then dropped them).
            let core = &v[core_key];
            let obj = got.as_object_mut().expect("a JSON object");
            for key in ["flags", "categories"] {
                match obj.remove(key) {
                    Some(x) if x == core[key] => {}
                    other => failures.push(format!("{label}: {key} {other:?} != expected {}", core[key])),
                }
            }
        } else {
            got["error"]["request_id"] = Value::Null;
            want_body["error"]["request_id"] = Value::Null;
        }
        let d = diff(&want_body, &got, Numbers::Exact, 10);
        if !d.is_empty() {
            failures.push(format!("{label}:\n  {}", d.join("\n  ")));
        }
    }
    checks
}

async fn check_build(app: &App, name: &str, text: &str, v: &Value, bytes: &[u8], failures: &mut Vec<String>) -> usize {
    let members = raw_members(text);
    let mut checks = 0;
    if let Some(build) = members.get("api_POST_v1_mods_build") {
        checks += 1;
        let request = raw_members(build.get()).remove("request_json").expect("request_json");
        let res = harness::send(
            app.request("POST", "/v1/mods/build")
                .header("content-type", "application/json")
                .body(request.get().as_bytes().to_vec()),
        )
        .await;
        let want = &v["api_POST_v1_mods_build"]["response"];
        if res.status != 200 {
            failures.push(format!("{name}: POST /v1/mods/build: status {}: {}", res.status, res.text()));
        } else {
            if res.body != bytes {
                failures.push(format!(
                    "{name}: POST /v1/mods/build: {} bytes differ from the vector's {} bytes",
                    res.body.len(),
                    bytes.len()
                ));
            }
            for (header, key) in [("content-disposition", "content_disposition"), ("content-type", "media_type")] {
                if res.header(header) != want[key].as_str() {
                    failures.push(format!(
                        "{name}: POST /v1/mods/build: {header} {:?} != expected {}",
                        res.header(header),
                        want[key]
                    ));
                }
            }
        }
    }
    if v["build_call"]["function"] == "build_tpack" {
        checks += 1;
        let call = raw_members(members["build_call"].get());
        let body = format!(
            "{{\"version\":{},\"properties\":{},\"tmods\":{}}}",
            call["version"], call["properties"], call["tmods"]
        );
        let res = harness::send(
            app.request("POST", "/v1/mods/build-pack").header("content-type", "application/json").body(body),
        )
        .await;
        if res.status != 200 {
            failures.push(format!("{name}: POST /v1/mods/build-pack: status {}: {}", res.status, res.text()));
        } else if res.body != bytes {
            failures.push(format!(
                "{name}: POST /v1/mods/build-pack: {} bytes differ from the vector's {} bytes",
                res.body.len(),
                bytes.len()
            ));
        }
    }
    checks
}
