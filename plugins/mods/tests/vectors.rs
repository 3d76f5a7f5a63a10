//! Every reference vector in `tests/reference/vectors/tmod/`: reads (HTTP and
//! core, full and metadata-only), builds (`/build`, `/build-pack` and the core
//! builder, byte for byte) and the checksum lines.

#![allow(clippy::unwrap_used)] // test code

use std::path::PathBuf;

use kiwi_plugin_mods::request::{JValue, parse_body};
use kiwi_plugin_mods::{builder, plugin, primitives, reader};
use kiwi_sdk::testing::TestClient;
use serde_json::{Value, json};

fn dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/reference/vectors/tmod"))
}

fn load(name: &str) -> (String, Value, Vec<u8>) {
    let text = std::fs::read_to_string(dir().join(format!("{name}.json"))).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let bytes = std::fs::read(dir().join(format!("{name}.tmod"))).unwrap();
    (text, v, bytes)
}

/// Path-by-path differences between two JSON values.
fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(l), Some(r)) => diff(&p, l, r, out),
                    (l, r) => out.push(format!("{p}: got {l:?}, want {r:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), l, r, out);
            }
        }
        _ if a != b => {
            let s = |v: &Value| {
                let t = v.to_string();
                if t.len() > 200 { format!("{}...", &t[..200]) } else { t }
            };
            out.push(format!("{path}: got {}, want {}", s(a), s(b)));
        }
        _ => {}
    }
}

fn assert_json(ctx: &str, got: &Value, want: &Value) {
    let mut d = Vec::new();
    diff("$", got, want, &mut d);
    assert!(d.is_empty(), "{ctx}: JSON mismatch:\n  {}", d.join("\n  "));
}

/// The core reader's result as the original's internal dict.
fn internal(t: &reader::Tmod, metadata_only: bool) -> Value {
    let files: Vec<Value> = (0..t.files.len())
        .map(|i| {
            let e = &t.files[i];
            let mut f = json!({"path": e.path, "index": e.index, "offset": e.offset,
                "size": e.size, "checksum": e.checksum});
            if let Some(c) = t.content(i) {
                f["content_base64"] = Value::from(kiwi_plugin_mods::b64::encode(c));
            }
            f
        })
        .collect();
    let props: serde_json::Map<String, Value> =
        t.properties.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
    json!({"version": t.version, "header_size": t.header_size, "properties": props,
        "files": files, "file_count": t.files.len(), "metadata_only": metadata_only,
        "header_repaired": t.header_repaired, "flags": t.flags.exact, "categories": t.categories})
}

fn check_read(name: &str, v: &Value, bytes: &[u8], client: &TestClient) -> usize {
    let mut checks = 0;
    for (metadata_only, api_key, core_key) in [
        (false, "expected_api_POST_v1_mods_read", "expected_read"),
        (true, "expected_api_POST_v1_mods_read_metadata_only", "expected_read_metadata_only"),
    ] {
        let ctx = format!("{name} metadata_only={metadata_only}");
        // Core reader vs the internal dict.
        let want_core = &v[core_key];
        match reader::read_tmod(bytes, metadata_only) {
            Ok(t) => assert_json(&ctx, &internal(&t, metadata_only), want_core),
            Err(e) => assert_eq!(Value::from(e.0), want_core["error"]["message"], "{ctx}: core error"),
        }
        // HTTP.
        let want = &v[api_key];
        let res = client
            .post(&format!("/read?metadata_only={metadata_only}"))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send();
        assert_eq!(u64::from(res.status), want["status"].as_u64().unwrap(), "{ctx}: {}", res.text());
        let mut got = res.json();
        if res.status == 200 {
            // flags/categories are added by Kiwi (the issue asks for them); the
            // original computed them (expected_read) but dropped them.
            let obj = got.as_object_mut().unwrap();
            let flags = obj.remove("flags").unwrap();
            let cats = obj.remove("categories").unwrap();
            assert_eq!(flags, want_core["flags"], "{ctx}: flags");
            assert_eq!(cats, want_core["categories"], "{ctx}: categories");
        } else {
            got["error"]["request_id"] = Value::Null;
        }
        let mut want_body = want["body"].clone();
        if want_body.get("error").is_some() {
            want_body["error"]["request_id"] = Value::Null;
        }
        assert_json(&ctx, &got, &want_body);
        checks += 2;
    }
    checks
}

/// `request_json` / `build_call` re-serialised with its key order intact.
fn ordered<'a>(root: &'a JValue<'a>, path: &[&str]) -> &'a JValue<'a> {
    path.iter().fold(root, |v, k| v.get(k).unwrap())
}

fn check_build(name: &str, text: &str, v: &Value, bytes: &[u8], client: &TestClient) -> usize {
    let mut checks = 0;
    let root = parse_body(text.as_bytes()).unwrap();
    if v.get("api_POST_v1_mods_build").is_some() {
        let req = ordered(&root, &["api_POST_v1_mods_build", "request_json"]);
        let res = client
            .post("/build")
            .header("content-type", "application/json")
            .body(serde_json::to_vec(req).unwrap())
            .send();
        assert_eq!(res.status, 200, "{name}: {}", res.text());
        assert!(res.body == bytes, "{name}: /build bytes differ");
        let want = &v["api_POST_v1_mods_build"]["response"];
        let header = |k: &str| res.headers.iter().find(|(h, _)| h == k).map(|(_, v)| v.clone());
        assert_eq!(header("content-disposition").as_deref(), want["content_disposition"].as_str(), "{name}");
        assert_eq!(header("content-type").as_deref(), want["media_type"].as_str(), "{name}");
        checks += 1;
    }
    let call = &v["build_call"];
    if call.is_null() {
        return checks;
    }
    let call_o = ordered(&root, &["build_call"]);
    let props: Vec<(String, String)> = match call_o.get("properties") {
        Some(JValue::Object(o)) => o
            .iter()
            .map(|(k, v)| match v {
                JValue::Str(s) => (k.to_string(), s.to_string()),
                _ => panic!("non-string property"),
            })
            .collect(),
        _ => vec![],
    };
    let list_key = if call["function"] == "build_tpack" { "tmods" } else { "files" };
    let files: Vec<(String, Vec<u8>)> = call[list_key]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                kiwi_plugin_mods::b64::decode_strict(f["content_base64"].as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    let version = i128::from(call["version"].as_i64().unwrap());
    let built = if list_key == "tmods" {
        builder::build_tpack(version, &props, &files).unwrap()
    } else {
        let implied = &call["implied"];
        builder::build_tmod(
            version,
            &props,
            &files,
            implied["mod_loader"].as_str().unwrap(),
            implied["lowercase_paths"].as_bool().unwrap(),
        )
        .unwrap()
    };
    assert!(built == bytes, "{name}: core builder bytes differ");
    checks += 1;
    if list_key == "tmods" {
        // The same through /build-pack.
        let field = |k: &'static str| (k.into(), call_o.get(k).unwrap().clone());
        let body = JValue::Object(vec![field("version"), field("properties"), field("tmods")]);
        let body = serde_json::to_vec(&body).unwrap();
        let res = client.post("/build-pack").body(body).send();
        assert_eq!(res.status, 200, "{name}: {}", res.text());
        assert!(res.body == bytes, "{name}: /build-pack bytes differ");
        checks += 1;
    }
    checks
}

#[test]
fn every_tmod_vector() {
    let index: Value = serde_json::from_str(&std::fs::read_to_string(dir().join("index.json")).unwrap()).unwrap();
    let client = TestClient::new(plugin());
    let mut vectors = 0;
    let mut checks = 0;
    for entry in index.as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let (text, v, bytes) = load(name);
        assert_eq!(bytes.len() as u64, entry["size"].as_u64().unwrap(), "{name}");
        checks += check_read(name, &v, &bytes, &client);
        checks += check_build(name, &text, &v, &bytes, &client);
        vectors += 1;
    }
    assert!(vectors >= 12, "only {vectors} vectors found");
    eprintln!("{vectors} tmod vectors, {checks} checks passed");
}

#[test]
fn checksum_lines() {
    let text = std::fs::read_to_string(dir().join("checksum.jsonl")).unwrap();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let hex = v["input_hex"].as_str().unwrap();
        let bytes: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        assert_eq!(u64::from(primitives::calculate_hash(&bytes)), v["checksum"].as_u64().unwrap(), "checksum of {hex}");
        n += 1;
    }
    assert!(n >= 9, "only {n} checksum lines");
    eprintln!("{n} checksum lines passed");
}
