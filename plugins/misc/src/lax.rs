//! Pydantic-v2 "lax mode" validation of JSON request bodies, reproducing the
//! 422 `details` entries FastAPI emits (`type`, `loc`, `msg`, `input`, `ctx`).
//!
//! Only what the misc plugin needs: the body envelope (missing / malformed /
//! not an object), `str` fields and `int | None` fields (which may hold a
//! Python big int, kept here as "too big for any datetime").

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

/// Scans a JSON object's raw text for its top-level `key` and returns the
/// raw text of the (last) value. Only called on text serde already accepted.
pub fn top_level_literal<'a>(raw: &'a [u8], key: &str) -> Option<&'a [u8]> {
    fn ws(raw: &[u8], mut i: usize) -> usize {
        while raw.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        i
    }
    fn string_end(raw: &[u8], mut i: usize) -> Option<usize> {
        i += 1;
        loop {
            match raw.get(i)? {
                b'\\' => i += 2,
                b'"' => return Some(i + 1),
                _ => i += 1,
            }
        }
    }
    fn value_end(raw: &[u8], mut i: usize) -> Option<usize> {
        match raw.get(i)? {
            b'"' => string_end(raw, i),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match raw.get(i)? {
                        b'"' => {
                            i = string_end(raw, i)?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(i + 1);
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => {
                while raw.get(i).is_some_and(|c| !matches!(c, b',' | b'}' | b']') && !c.is_ascii_whitespace()) {
                    i += 1;
                }
                Some(i)
            }
        }
    }
    let mut i = ws(raw, 0);
    if raw.get(i) != Some(&b'{') {
        return None;
    }
    let mut found = None;
    loop {
        i = ws(raw, i + 1);
        if raw.get(i) != Some(&b'"') {
            return found;
        }
        let key_end = string_end(raw, i)?;
        let name: String = serde_json::from_slice(&raw[i..key_end]).ok()?;
        i = ws(raw, key_end);
        if raw.get(i) != Some(&b':') {
            return found;
        }
        let start = ws(raw, i + 1);
        let end = value_end(raw, start)?;
        if name == key {
            found = Some(&raw[start..end]);
        }
        i = ws(raw, end);
        if raw.get(i) != Some(&b',') {
            return found;
        }
    }
}

/// True when `literal` is a JSON integer (no fraction or exponent): Python's
/// `json` reads it as an exact `int`, however large.
pub fn is_integer_literal(literal: &[u8]) -> bool {
    let digits = literal.strip_prefix(b"-").unwrap_or(literal);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// A Python `int`: `Big` is anything outside `i64` (always out of range for
/// a datetime, so the exact value is never needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PyInt {
    Small(i64),
    Big,
}

fn int_detail(kind: &str, msg: &str, loc: &Loc, v: &Value) -> Value {
    validate::detail(kind, loc, msg, v.clone(), None)
}

/// pydantic-core's `float_as_int`.
fn float_as_int(loc: &Loc, v: &Value, f: f64) -> Result<PyInt, Value> {
    if !f.is_finite() {
        Err(int_detail("finite_number", "Input should be a finite number", loc, v))
    } else if f % 1.0 != 0.0 {
        Err(int_detail(
            "int_from_float",
            "Input should be a valid integer, got a number with a fractional part",
            loc,
            v,
        ))
    } else if (i64::MIN as f64) < f && f < (i64::MAX as f64) {
        Ok(PyInt::Small(f as i64))
    } else {
        Err(int_size_detail(loc, v))
    }
}

fn int_size_detail(loc: &Loc, v: &Value) -> Value {
    int_detail("int_parsing_size", "Unable to parse input string as an integer, exceeded maximum size", loc, v)
}

/// A JSON-grammar integer (`-?(0|[1-9][0-9]*)`), as jiter parses it.
fn strict_int(s: &str) -> Option<PyInt> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let b = digits.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    Some(s.parse::<i64>().map_or(PyInt::Big, PyInt::Small))
}

/// pydantic-core's `strip_leading_zeros`: keeps one zero (`000` → `0`,
/// `00.0` → `0.0`), lets underscores between zeros through.
fn strip_leading_zeros(s: &str) -> Option<&str> {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, '0')) => {}
        Some((_, c)) if c.is_ascii_digit() || c == '-' => return Some(s),
        _ => return None,
    }
    for (i, c) in chars {
        match c {
            '0' | '_' => {}
            '1'..='9' | '-' => return Some(&s[i..]),
            '.' => return Some(&s[i - 1..]),
            _ => return None,
        }
    }
    s.get(s.len() - 1..)
}

/// pydantic-core's `clean_int_str`: trims, drops a `+`, leading zeros, a
/// `.000…` tail and single underscores; `None` when nothing changed.
fn clean_int_str(orig: &str) -> Option<String> {
    let len_before = orig.len();
    let mut s = orig.trim();
    if let Some(rest) = s.strip_prefix('+') {
        if rest.starts_with('-') {
            return None;
        }
        s = rest;
    }
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        if rest.starts_with('-') || rest.starts_with('+') {
            return None;
        }
        negative = true;
        s = rest;
    }
    s = strip_leading_zeros(s)?;
    if let Some(i) = s.find('.') {
        let decimals = &s[i + 1..];
        if !decimals.is_empty() && decimals.chars().all(|c| c == '0') {
            s = &s[..i];
        }
    }
    let sign = if negative { "-" } else { "" };
    if let Some(stripped) = strip_underscores(s) {
        return Some(format!("{sign}{stripped}"));
    }
    if len_before == s.len() {
        return None;
    }
    Some(format!("{sign}{s}"))
}

/// pydantic-core's `str_as_int`.
fn str_as_int(loc: &Loc, v: &Value, s: &str) -> Result<PyInt, Value> {
    if s.len() > 4300 {
        return Err(int_size_detail(loc, v));
    }
    if let Some(i) = strict_int(s) {
        return Ok(i);
    }
    clean_int_str(s).and_then(|c| strict_int(&c)).ok_or_else(|| validate::int_parsing(loc, v.clone()))
}

/// An `int | None` field in lax mode. `Ok(None)` means null.
pub fn optional_int_field(loc: &Loc, v: &Value) -> Result<Option<PyInt>, Value> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(PyInt::Small(i64::from(*b)))),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(PyInt::Small(i)))
            } else if n.is_u64() {
                Ok(Some(PyInt::Big))
            } else {
                float_as_int(loc, v, n.as_f64().unwrap_or(f64::NAN)).map(Some)
            }
        }
        Value::String(s) => str_as_int(loc, v, s).map(Some),
        _ => Err(int_detail("int_type", "Input should be a valid integer", loc, v)),
    }
}

/// A `str` field (`nullable` for `str | None`). `Ok(None)` means null.
pub fn str_field<'a>(loc: &Loc, v: &'a Value, nullable: bool) -> Result<Option<&'a str>, Value> {
    match v {
        Value::String(s) => Ok(Some(s)),
        Value::Null if nullable => Ok(None),
        _ => Err(validate::detail("string_type", loc, "Input should be a valid string", v.clone(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: Value) -> Result<Option<PyInt>, String> {
        optional_int_field(&Loc::body(&["unix"]), &v).map_err(|d| d["type"].as_str().unwrap_or_default().to_owned())
    }

    #[test]
    fn ints_coerce_like_pydantic() {
        use PyInt::*;
        assert_eq!(int(json!(5)), Ok(Some(Small(5))));
        assert_eq!(int(json!(5.0)), Ok(Some(Small(5))));
        assert_eq!(int(json!(true)), Ok(Some(Small(1))));
        assert_eq!(int(json!(null)), Ok(None));
        assert_eq!(int(json!("5.0")), Ok(Some(Small(5))));
        assert_eq!(int(json!(" 12 ")), Ok(Some(Small(12))));
        assert_eq!(int(json!("00012")), Ok(Some(Small(12))));
        assert_eq!(int(json!("-0012.000")), Ok(Some(Small(-12))));
        assert_eq!(int(json!("1_000")), Ok(Some(Small(1000))));
        assert_eq!(int(json!("+5")), Ok(Some(Small(5))));
        assert_eq!(int(json!("9".repeat(30))), Ok(Some(Big)));
        assert_eq!(int(json!(u64::MAX)), Ok(Some(Big)));
        assert_eq!(int(json!("soon")), Err("int_parsing".into()));
        assert_eq!(int(json!("1e3")), Err("int_parsing".into()));
        assert_eq!(int(json!("+_1")), Err("int_parsing".into()));
        assert_eq!(int(json!("0x10")), Err("int_parsing".into()));
        assert_eq!(int(json!("")), Err("int_parsing".into()));
        assert_eq!(int(json!(5.5)), Err("int_from_float".into()));
        assert_eq!(int(json!(1e30)), Err("int_parsing_size".into()));
        assert_eq!(int(json!("1".repeat(4301))), Err("int_parsing_size".into()));
        assert_eq!(int(json!([1])), Err("int_type".into()));
    }

    #[test]
    fn finds_top_level_literals() {
        let raw = br#"{"a": {"unix": 1}, "b": "x\"unix", "unix": 123456789012345678901234, "c": [1]}"#;
        assert_eq!(top_level_literal(raw, "unix"), Some(&b"123456789012345678901234"[..]));
        assert_eq!(top_level_literal(br#"{"unix":1.5e3}"#, "unix"), Some(&b"1.5e3"[..]));
        assert_eq!(top_level_literal(br#"{"u\u006eix": -7 }"#, "unix"), Some(&b"-7"[..]));
        assert_eq!(top_level_literal(br#"{"x": 1}"#, "unix"), None);
        assert!(is_integer_literal(b"-100000000000000000000"));
        assert!(!is_integer_literal(b"1e20"));
        assert!(!is_integer_literal(b"1.0"));
    }

    #[test]
    fn strings_are_strict() {
        let loc = Loc::body(&["timezone"]);
        assert_eq!(str_field(&loc, &json!("x"), false), Ok(Some("x")));
        assert_eq!(str_field(&loc, &json!(null), true), Ok(None));
        assert_eq!(str_field(&loc, &json!(null), false).unwrap_err()["type"], "string_type");
        assert_eq!(str_field(&loc, &json!(5), true).unwrap_err()["msg"], "Input should be a valid string");
    }

    #[test]
    fn body_envelope_errors() {
        let e = parse_body(b"").unwrap_err();
        assert_eq!(e.details.unwrap()[0]["loc"], json!(["body"]));
        let e = parse_body(b"7").unwrap_err();
        assert_eq!(e.details.unwrap()[0]["type"], "model_attributes_type");
        let e = parse_body(b"{\"a\" 1}").unwrap_err();
        let d = e.details.unwrap();
        assert_eq!(d[0]["ctx"]["error"], "Expecting ':' delimiter");
        assert_eq!(d[0]["loc"], json!(["body", 5]));
    }
}
