//! Differential test against CPython: `tests/data/python_semantics.jsonl`
//! (made by `tests/data/gen_python_semantics.py`) holds difflib ratios
//! (including `autojunk` cases), `normalize` results on mixed Unicode, regex
//! token segmentation and `_parse_number`/`float()` results on noisy text.

#![allow(clippy::unwrap_used)] // test helpers panic on broken fixtures

use kiwi_plugin_ocr::difflib::ratio;
use kiwi_plugin_ocr::numbers::{Number, parse_number, tokens};
use kiwi_plugin_ocr::vocab::normalize;
use serde_json::{Value, json};

fn number_json(n: Option<Number>) -> Value {
    match n {
        None => Value::Null,
        Some(n) if n.value.is_finite() => json!({"value": n.value, "is_percent": n.is_percent}),
        Some(n) => {
            let repr = if n.value.is_nan() {
                "nan"
            } else if n.value > 0.0 {
                "inf"
            } else {
                "-inf"
            };
            json!({"value": repr, "is_percent": n.is_percent})
        }
    }
}

#[test]
fn matches_cpython() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/python_semantics.jsonl")).unwrap();
    let mut failures = Vec::new();
    let mut total = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        total += 1;
        let row: Value = serde_json::from_str(line).unwrap();
        match row["kind"].as_str().unwrap() {
            "ratio" => {
                let (a, b) = (row["a"].as_str().unwrap(), row["b"].as_str().unwrap());
                let got = ratio(a, b);
                if Some(got) != row["ratio"].as_f64() {
                    failures.push(format!("ratio({a:?}, {b:?}) = {got}, want {}", row["ratio"]));
                }
            }
            "normalize" => {
                let t = row["text"].as_str().unwrap();
                let got = normalize(t);
                if got != row["normalized"].as_str().unwrap() {
                    failures.push(format!("normalize({t:?}) = {got:?}, want {}", row["normalized"]));
                }
            }
            "tokens" => {
                let t = row["text"].as_str().unwrap();
                let cp = |byte: usize| t.get(..byte).map_or(0, |s| s.chars().count());
                let got: Vec<Value> = tokens(t)
                    .iter()
                    .map(|k| {
                        json!({"match": k.text, "start": cp(k.start), "end": cp(k.end),
                               "parsed": number_json(parse_number(k.text))})
                    })
                    .collect();
                if Value::Array(got.clone()) != row["tokens"] {
                    failures.push(format!("tokens({t:?}) = {got:?}, want {}", row["tokens"]));
                }
                let whole = number_json(parse_number(t));
                if whole != row["parse_number"] {
                    failures.push(format!("parse_number({t:?}) = {whole}, want {}", row["parse_number"]));
                }
            }
            other => panic!("unknown kind {other}"),
        }
    }
    assert!(failures.is_empty(), "{} of {total} CPython cases differ:\n{}", failures.len(), failures.join("\n"));
}
