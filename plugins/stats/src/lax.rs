//! Pydantic-v2 "lax mode" validation of JSON request bodies, reproducing the
//! 422 `details` entries FastAPI emits (`type`, `loc`, `msg`, `input`, `ctx`).
//!
//! Only what the stats plugin needs: the body envelope (missing / malformed /
//! not an object) and `float` fields with a `ge` bound.

use kiwi_sdk::Error;
use kiwi_sdk::validate::{self, Loc};
use serde_json::{Map, Value, json};

/// Parses a request body the way FastAPI does for a single pydantic model
/// parameter: an empty body or `null` is `missing`, bad JSON is `json_invalid`,
/// anything but an object is `model_attributes_type` (FastAPI validates with
/// `from_attributes=True`).
pub fn parse_body(raw: &[u8]) -> Result<Map<String, Value>, Error> {
    if raw.is_empty() {
        return Err(Error::validation(vec![validate::missing(&Loc(vec!["body".into()]), Value::Null)]));
    }
    let value: Value = serde_json::from_slice(raw).map_err(|e| json_invalid(raw, &e))?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Err(Error::validation(vec![validate::missing(&Loc(vec!["body".into()]), Value::Null)])),
        other => Err(Error::validation(vec![validate::detail(
            "model_attributes_type",
            &Loc(vec!["body".into()]),
            "Input should be a valid dictionary or object to extract fields from",
            other,
            None,
        )])),
    }
}

/// The `json_invalid` entry for a body that is not JSON: Python's `json`
/// message for the failure serde found, at serde's character offset.
fn json_invalid(raw: &[u8], e: &serde_json::Error) -> Error {
    let text = String::from_utf8_lossy(raw);
    let mut pos = 0usize;
    if e.is_eof() {
        pos = text.chars().count();
    } else {
        for (i, line) in text.split('\n').enumerate() {
            if i + 1 >= e.line() {
                pos += e.column().saturating_sub(1).min(line.chars().count());
                break;
            }
            pos += line.chars().count() + 1;
        }
    }
    let serde_message = e.to_string();
    let message = [
        ("expected `:`", "Expecting ':' delimiter"),
        ("expected `,`", "Expecting ',' delimiter"),
        ("key must be a string", "Expecting property name enclosed in double quotes"),
        ("trailing", "Extra data"),
        ("control character", "Invalid control character at"),
        ("invalid escape", "Invalid \\escape"),
        ("EOF while parsing a string", "Unterminated string starting at"),
    ]
    .iter()
    .find(|(prefix, _)| serde_message.starts_with(prefix))
    .map_or("Expecting value", |(_, python)| python);
    Error::validation(vec![validate::detail(
        "json_invalid",
        &Loc(vec!["body".into(), pos.into()]),
        "JSON decode error",
        json!({}),
        Some(json!({ "error": message })),
    )])
}

/// pydantic-core's `strip_underscores`: `1_000` → `1000`; leading, trailing
/// or doubled underscores are not stripped (the parse then fails).
fn strip_underscores(s: &str) -> Option<String> {
    if s.starts_with('_') || s.ends_with('_') || !s.contains('_') || s.contains("__") {
        None
    } else {
        Some(s.replace('_', ""))
    }
}

/// pydantic-core's `str_as_float`: Rust's `f64` grammar on the trimmed text
/// (so `inf`, `nan`, `1e3`, `.5` parse), then a retry without underscores.
fn str_as_float(s: &str) -> Option<f64> {
    if let Ok(f) = s.trim().parse::<f64>() {
        return Some(f);
    }
    strip_underscores(s).and_then(|t| t.parse::<f64>().ok())
}

/// A `float` (or `float | None` when `nullable`) field in lax mode: numbers,
/// booleans and numeric strings are accepted. `Ok(None)` means null.
pub fn float_field(loc: &Loc, v: &Value, nullable: bool) -> Result<Option<f64>, Value> {
    let type_error = || detail_float_type(loc, v);
    match v {
        Value::Null if nullable => Ok(None),
        Value::Number(n) => n.as_f64().map(Some).ok_or_else(type_error),
        Value::Bool(b) => Ok(Some(if *b { 1.0 } else { 0.0 })),
        Value::String(s) => str_as_float(s).map(Some).ok_or_else(|| validate::float_parsing(loc, v.clone())),
        _ => Err(type_error()),
    }
}

fn detail_float_type(loc: &Loc, v: &Value) -> Value {
    validate::detail("float_type", loc, "Input should be a valid number", v.clone(), None)
}

/// `Field(ge=0)` on a float: fails for negatives and NaN, echoing the input as sent.
pub fn ge_zero(loc: &Loc, input: &Value, value: f64) -> Result<f64, Value> {
    if value >= 0.0 {
        Ok(value)
    } else {
        Err(validate::detail(
            "greater_than_equal",
            loc,
            "Input should be greater than or equal to 0",
            input.clone(),
            Some(json!({ "ge": 0.0 })),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_parse_like_pydantic() {
        let loc = Loc::body(&["x"]);
        assert_eq!(float_field(&loc, &json!(" 5 "), false), Ok(Some(5.0)));
        assert_eq!(float_field(&loc, &json!("1_0"), false), Ok(Some(10.0)));
        assert_eq!(float_field(&loc, &json!(true), false), Ok(Some(1.0)));
        assert_eq!(float_field(&loc, &json!(null), true), Ok(None));
        assert!(float_field(&loc, &json!("inf"), false).unwrap().unwrap().is_infinite());
        let e = float_field(&loc, &json!("abc"), false).unwrap_err();
        assert_eq!(e["type"], "float_parsing");
        let e = float_field(&loc, &json!(null), false).unwrap_err();
        assert_eq!(e["type"], "float_type");
        let e = float_field(&loc, &json!([1]), true).unwrap_err();
        assert_eq!(e["type"], "float_type");
        let e = ge_zero(&loc, &json!("nan"), f64::NAN).unwrap_err();
        assert_eq!(e["type"], "greater_than_equal");
    }

    #[test]
    fn body_envelope_errors() {
        let e = parse_body(b"").unwrap_err();
        assert_eq!(e.status, 422);
        assert_eq!(e.details.unwrap()[0]["loc"], json!(["body"]));
        let e = parse_body(b"null").unwrap_err();
        assert_eq!(e.details.unwrap()[0]["type"], "missing");
        let e = parse_body(b"[1]").unwrap_err();
        assert_eq!(e.details.unwrap()[0]["msg"], "Input should be a valid dictionary or object to extract fields from");
        let e = parse_body(b"{\"a\": ").unwrap_err();
        let d = e.details.unwrap();
        assert_eq!(d[0]["type"], "json_invalid");
        assert_eq!(d[0]["loc"], json!(["body", 6]));
    }
}
