//! Runs every parser-level reference vector of `tests/reference/vectors/ocr/`
//! (parse, match_label, numbers, coefficient, engine_order, vocabulary) against
//! the pure-Rust parser and compares JSON by value.

#![allow(clippy::unwrap_used)] // test helpers panic on broken fixtures

use kiwi_plugin_ocr::numbers::{parse_number, tokens};
use kiwi_plugin_ocr::order::{RawResult, lines_of, order_elements};
use kiwi_plugin_ocr::parse::{compute_coefficient, extract_character_stats};
use kiwi_plugin_ocr::vocab::{normalize, vocabulary};
use serde_json::{Value, json};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/reference/vectors/ocr/");

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}{name}")).unwrap_or_else(|e| panic!("cannot read vector file {name}: {e}"))
}

fn jsonl(name: &str) -> Vec<Value> {
    read(name)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: bad line {e}: {l}")))
        .collect()
}

/// Compares two JSON values, collecting every differing path.
fn diff(path: &str, got: &Value, want: &Value, out: &mut Vec<String>) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => diff(&format!("{path}.{k}"), gv, wv, out),
                    None => out.push(format!("{path}.{k}: missing (want {wv})")),
                }
            }
            for k in g.keys().filter(|k| !w.contains_key(*k)) {
                out.push(format!("{path}.{k}: unexpected {}", g[k]));
            }
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                diff(&format!("{path}[{i}]"), gv, wv, out);
            }
        }
        (Value::Number(g), Value::Number(w)) => {
            // Ints must be exact and stay ints; floats compare by value.
            let same_kind = g.is_f64() == w.is_f64();
            if !same_kind || g.as_f64() != w.as_f64() {
                out.push(format!("{path}: got {g}, want {w}"));
            }
        }
        _ if got == want => {}
        _ => out.push(format!("{path}: got {got}, want {want}")),
    }
}

fn assert_all(failures: Vec<String>, total: usize, what: &str) {
    assert!(failures.is_empty(), "{} of {total} {what} vectors failed:\n{}", failures.len(), failures.join("\n"));
    eprintln!("{total} {what} vectors passed");
}

#[test]
fn parse_vectors() {
    let rows = jsonl("parse.jsonl");
    assert!(!rows.is_empty());
    let mut failures = Vec::new();
    for row in &rows {
        let name = row["name"].as_str().unwrap_or("?");
        let lines: Vec<String> = serde_json::from_value(row["lines"].clone()).unwrap();
        let got = serde_json::to_value(extract_character_stats(&lines).unwrap()).unwrap();
        let mut d = Vec::new();
        diff("", &got, &row["expected"], &mut d);
        if !d.is_empty() {
            failures.push(format!("[{name}] {}", d.join("; ")));
        }
    }
    assert_all(failures, rows.len(), "parse");
}

#[test]
fn match_label_vectors() {
    let rows = jsonl("match_label.jsonl");
    let vocab = vocabulary();
    let mut failures = Vec::new();
    for row in &rows {
        let text = row["text"].as_str().unwrap();
        if let Some(n) = row["normalized"].as_str()
            && normalize(text) != n
        {
            failures.push(format!("normalize({text:?}) = {:?}, want {n:?}", normalize(text)));
        }
        let got = match vocab.match_label(text) {
            Some(m) => json!({"key": vocab.stat(m.stat).unwrap().key, "score": m.score}),
            None => Value::Null,
        };
        let mut d = Vec::new();
        diff("", &got, &row["expected"], &mut d);
        if !d.is_empty() {
            failures.push(format!("match_label({text:?}): {}", d.join("; ")));
        }
    }
    assert_all(failures, rows.len(), "match_label");
}

fn number_json(n: Option<kiwi_plugin_ocr::numbers::Number>) -> Value {
    n.map_or(Value::Null, |n| json!({"value": n.value, "is_percent": n.is_percent}))
}

#[test]
fn number_vectors() {
    let rows = jsonl("numbers.jsonl");
    let mut failures = Vec::new();
    for row in &rows {
        if let Some(input) = row.get("parse_number").and_then(Value::as_str) {
            let got = number_json(parse_number(input));
            let mut d = Vec::new();
            diff("", &got, &row["expected"], &mut d);
            if !d.is_empty() {
                failures.push(format!("parse_number({input:?}): {}", d.join("; ")));
            }
            continue;
        }
        let text = row["text"].as_str().unwrap();
        // Offsets in the vectors are code-point indices (Python).
        let cp = |byte: usize| text.get(..byte).map_or(0, |s| s.chars().count());
        let got: Vec<Value> = tokens(text)
            .iter()
            .map(|t| {
                json!({
                    "match": t.text,
                    "start": cp(t.start),
                    "end": cp(t.end),
                    "raw": kiwi_plugin_ocr::numbers::py_strip(t.text),
                    "parsed": number_json(parse_number(t.text)),
                })
            })
            .collect();
        let mut d = Vec::new();
        diff("", &Value::Array(got), &row["tokens"], &mut d);
        if !d.is_empty() {
            failures.push(format!("tokens({text:?}): {}", d.join("; ")));
        }
    }
    assert_all(failures, rows.len(), "numbers");
}

#[test]
fn coefficient_vectors() {
    let rows = jsonl("coefficient.jsonl");
    let mut failures = Vec::new();
    for row in &rows {
        let got = compute_coefficient(
            row["physical_damage"].as_f64(),
            row["magic_damage"].as_f64(),
            row["critical_damage"].as_f64(),
        )
        .unwrap();
        let got = got.map_or(Value::Null, |(c, used)| json!({"coefficient": c as i64, "damage_used": used}));
        let mut d = Vec::new();
        diff("", &got, &row["expected"], &mut d);
        if !d.is_empty() {
            failures.push(format!("{row}: {}", d.join("; ")));
        }
    }
    assert_all(failures, rows.len(), "coefficient");
}

#[test]
fn engine_order_vectors() {
    let rows = jsonl("engine_order.jsonl");
    let mut failures = Vec::new();
    for row in &rows {
        let name = row["name"].as_str().unwrap_or("?");
        let r = &row["rapidocr"];
        let raw = RawResult {
            boxes: serde_json::from_value(r["boxes"].clone()).ok(),
            txts: serde_json::from_value(r["txts"].clone()).ok(),
            scores: serde_json::from_value(r["scores"].clone()).ok(),
        };
        let elements = order_elements(&raw);
        let lines = lines_of(&elements);
        let got = json!({
            "elements": elements,
            "lines": lines,
            "parse": extract_character_stats(&lines).unwrap(),
        });
        let mut d = Vec::new();
        diff("", &got, &row["expected"], &mut d);
        if !d.is_empty() {
            failures.push(format!("[{name}] {}", d.join("; ")));
        }
    }
    assert_all(failures, rows.len(), "engine_order");
}

#[test]
fn vocabulary_matches_reference() {
    let reference: Value = serde_json::from_str(&read("character_stats.json")).unwrap();
    let vocab = vocabulary();
    let order: Vec<Value> =
        vocab.synonyms().iter().map(|s| json!({"key": vocab.stat(s.stat).unwrap().key, "norm": s.norm})).collect();
    assert_eq!(Value::Array(order), reference["synonym_scan_order"]);
    let stats = reference["stats"].as_array().unwrap();
    assert_eq!(stats.len(), vocab.stats().len());
    assert_eq!(reference["total_known"], json!(vocab.stats().len()));
    for (want, got) in stats.iter().zip(vocab.stats()) {
        assert_eq!(want["key"], json!(got.key));
        assert_eq!(want["type"] == "percent", got.is_percent(), "{}", got.key);
        assert_eq!(want["max"].as_f64(), Some(got.max), "{}", got.key);
        assert_eq!(want["min"].as_f64().unwrap_or(0.0), got.min, "{}", got.key);
    }
}
