//! Differential tests against fixtures recorded from CPython 3.11.7 + zlib
//! 1.2.13 running the original's reader/builder logic (the same Python and
//! zlib versions as the reference vectors): random builds (byte-exact), random
//! and mutated reads (exact results and error texts, including BTT
//! character-length headers and real deflate-compressed streams), strict base64
//! errors and UTF-8 decode errors.

#![allow(clippy::unwrap_used)] // test code

use kiwi_plugin_mods::{b64, builder, primitives, pyutf8, reader};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    serde_json::from_str(&std::fs::read_to_string(format!("{path}{name}")).unwrap()).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn builds_match_python() {
    let cases = fixture("oracle_build.json");
    let mut n = 0;
    for (i, c) in cases.as_array().unwrap().iter().enumerate() {
        let props: Vec<(String, String)> = c["properties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned()))
            .collect();
        let files: Vec<(String, Vec<u8>)> = if let Some(n) = c["gen_size"].as_u64() {
            let content: Vec<u8> = (0..n as usize).map(|i| ((i * 7 + 3) & 0xFF) as u8).collect();
            vec![("big.bin".into(), content), ("tail".into(), b"xyz".to_vec())]
        } else {
            c["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| (f[0].as_str().unwrap().to_owned(), b64::decode_strict(f[1].as_str().unwrap()).unwrap()))
                .collect()
        };
        let got = builder::build_tmod(
            i128::from(c["version"].as_i64().unwrap()),
            &props,
            &files,
            c["mod_loader"].as_str().unwrap(),
            c["lowercase_paths"].as_bool().unwrap(),
        );
        if let Some(err) = c["error"].as_str() {
            assert_eq!(got, Err(builder::BuildError::Tmod(err.into())), "case {i}");
        } else if let Some(h) = c["expected_hex"].as_str() {
            assert_eq!(hex(&got.unwrap()), h, "case {i}: {c}");
        } else {
            let got = got.unwrap();
            assert_eq!(got.len() as u64, c["expected_len"].as_u64().unwrap(), "case {i}");
            assert_eq!(u64::from(primitives::calculate_hash(&got)), c["expected_hash"].as_u64().unwrap(), "case {i}");
            assert_eq!(hex(&got[..got.len().min(200)]), c["expected_head_hex"].as_str().unwrap());
            assert_eq!(hex(&got[got.len().saturating_sub(64)..]), c["expected_tail_hex"].as_str().unwrap());
        }
        n += 1;
    }
    eprintln!("{n} oracle builds matched");
}

#[test]
fn reads_match_python() {
    let cases = fixture("oracle_read.json");
    let mut n = 0;
    for (i, c) in cases.as_array().unwrap().iter().enumerate() {
        let data = unhex(c["hex"].as_str().unwrap());
        let md = c["metadata_only"].as_bool().unwrap();
        let want = &c["expected"];
        match reader::read_tmod(&data, md) {
            Err(e) => assert_eq!(Some(e.0.as_str()), want["error"].as_str(), "case {i} ({})", c["hex"]),
            Ok(t) => {
                assert!(want.get("error").is_none(), "case {i}: expected {want}");
                let files: Vec<Value> = (0..t.files.len())
                    .map(|j| {
                        let e = &t.files[j];
                        let mut f = json!({"path": e.path, "index": e.index,
                            "offset": e.offset, "size": e.size, "checksum": e.checksum});
                        if let Some(content) = t.content(j) {
                            f["content_base64"] = b64::encode(content).into();
                        }
                        f
                    })
                    .collect();
                let props: serde_json::Map<String, Value> =
                    t.properties.iter().map(|(k, v)| (k.clone(), v.as_str().into())).collect();
                assert_eq!(t.version, want["version"].as_u64().unwrap() as u16, "case {i}");
                assert_eq!(t.header_size, want["header_size"].as_u64().unwrap(), "case {i}");
                assert_eq!(Value::Object(props), want["properties"], "case {i}");
                assert_eq!(Value::Array(files), want["files"], "case {i} ({})", c["hex"]);
                assert_eq!(t.header_repaired, want["header_repaired"], "case {i}");
                assert_eq!(json!(t.categories), want["categories"], "case {i}");
                match t.flags.exact {
                    Some(f) => assert_eq!(json!(f), want["flags"], "case {i}"),
                    None => assert!(want["flags"].as_i64().is_none(), "case {i}"),
                }
            }
        }
        n += 1;
    }
    eprintln!("{n} oracle reads matched");
}

#[test]
fn base64_matches_python() {
    for c in fixture("py_b64decode.json").as_array().unwrap() {
        let input = c["input"].as_str().unwrap();
        match (b64::decode_strict(input), c.get("ok")) {
            (Ok(bytes), Some(h)) => assert_eq!(hex(&bytes), h.as_str().unwrap(), "{input:?}"),
            (Err(e), None) => assert_eq!(Some(e.as_str()), c["err"].as_str(), "{input:?}"),
            (got, _) => panic!("{input:?}: got {got:?}, want {c}"),
        }
    }
}

#[test]
fn utf8_errors_match_python() {
    for c in fixture("py_utf8.json").as_array().unwrap() {
        let bytes = unhex(c["hex"].as_str().unwrap());
        match pyutf8::decode(&bytes) {
            Ok(_) => assert_eq!(c["ok"], true, "{c}"),
            Err(e) => assert_eq!(Some(e.as_str()), c["err"].as_str(), "{c}"),
        }
    }
}
