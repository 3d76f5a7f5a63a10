//! Pydantic-v2-style (lax mode) validation of JSON bodies and query strings.
//!
//! The original validated requests with pydantic behind FastAPI; clients rely on
//! the 422 `details` it produces (`type`, `loc`, `msg`, `input`, `ctx`). This module
//! reproduces the coercion rules (ints from `"5"`/`5.0`, floats from ints and
//! numeric strings, booleans from `"yes"`/`1`, integer enums, nested models with
//! FastAPI's `from_attributes` errors) and collects every field error in order.

use kiwi_sdk::Error;
use serde_json::{Map, Value, json};

/// A location: `["body", "gem", "stats", 0, "type"]`.
pub type Loc = Vec<Value>;

/// `loc` extended by one segment.
pub fn at(loc: &Loc, seg: impl Into<Value>) -> Loc {
    let mut l = loc.clone();
    l.push(seg.into());
    l
}

/// One pydantic error entry.
pub fn detail(kind: &str, loc: &Loc, msg: &str, input: &Value, ctx: Option<Value>) -> Value {
    let mut d = json!({"type": kind, "loc": loc, "msg": msg, "input": input});
    if let Some(c) = ctx {
        d["ctx"] = c;
    }
    d
}

/// The `"1, 2, 3 or 4"` text pydantic uses for an enum's expected values.
pub fn expected_text(values: &[i64]) -> String {
    match values {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => {
            let head: Vec<String> = init.iter().map(i64::to_string).collect();
            format!("{} or {}", head.join(", "), last)
        }
    }
}

/// Parses Python's `int()` string syntax as pydantic accepts it: surrounding
/// whitespace, a sign, digits with single underscores between them, and an
/// optional `.000` tail. Saturates outside the i64 range.
pub fn parse_int_str(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (int_part, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if let Some(f) = frac
        && (f.is_empty() || !f.bytes().all(|b| b == b'0'))
    {
        return None;
    }
    let digits = strip_underscores(int_part)?;
    let mut v: i128 = 0;
    for b in digits.bytes() {
        v = (v * 10 + i128::from(b - b'0')).min(i128::from(u64::MAX) * 2);
    }
    let v = if neg { -v } else { v };
    Some(v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// Removes underscores that sit between two ASCII digits; `None` if the text
/// has no digits, a non-digit, or a misplaced underscore.
fn strip_underscores(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(b.len());
    for (i, &c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            out.push(c as char);
        } else if c == b'_' {
            let prev = i > 0 && b[i - 1].is_ascii_digit();
            let next = b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(prev && next) {
                return None;
            }
        } else {
            return None;
        }
    }
    Some(out)
}

/// Parses Python's `float()` string syntax (digits with underscores, exponent,
/// `inf`/`nan`).
pub fn parse_float_str(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return lower.parse::<f64>().ok();
    }
    if !t.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E' | b'_')) {
        return None;
    }
    let cleaned = if t.contains('_') {
        let b = t.as_bytes();
        let mut out = String::with_capacity(b.len());
        for (i, &c) in b.iter().enumerate() {
            if c == b'_' {
                let prev = i > 0 && b[i - 1].is_ascii_digit();
                let next = b.get(i + 1).is_some_and(u8::is_ascii_digit);
                if !(prev && next) {
                    return None;
                }
            } else {
                out.push(c as char);
            }
        }
        out
    } else {
        t.to_owned()
    };
    cleaned.parse::<f64>().ok()
}

const INT_PARSING: &str = "Input should be a valid integer, unable to parse string as an integer";
const INT_FROM_FLOAT: &str = "Input should be a valid integer, got a number with a fractional part";

/// Lax int coercion of one value. Err = (type, msg).
pub fn coerce_int(v: &Value) -> Result<i64, (&'static str, &'static str)> {
    match v {
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else if n.as_u64().is_some() {
                Ok(i64::MAX)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.is_finite() && f.fract() == 0.0 {
                    Ok(f as i64)
                } else if f.is_finite() {
                    Err(("int_from_float", INT_FROM_FLOAT))
                } else {
                    Err(("finite_number", "Input should be a finite number"))
                }
            }
        }
        Value::String(s) => parse_int_str(s).ok_or(("int_parsing", INT_PARSING)),
        _ => Err(("int_type", "Input should be a valid integer")),
    }
}

/// Lax float coercion of one value.
pub fn coerce_float(v: &Value) -> Result<f64, (&'static str, &'static str)> {
    match v {
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => Ok(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => parse_float_str(s)
            .ok_or(("float_parsing", "Input should be a valid number, unable to parse string as a number")),
        _ => Err(("float_type", "Input should be a valid number")),
    }
}

/// Lax bool coercion of one value.
pub fn coerce_bool(v: &Value) -> Result<bool, (&'static str, &'static str)> {
    const PARSING: (&str, &str) = ("bool_parsing", "Input should be a valid boolean, unable to interpret input");
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => Ok(false),
            Some(1.0) => Ok(true),
            _ if n.is_f64() => Err(("bool_type", "Input should be a valid boolean")),
            _ => Err(PARSING),
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "0" | "off" | "f" | "false" | "n" | "no" => Ok(false),
            "1" | "on" | "t" | "true" | "y" | "yes" => Ok(true),
            _ => Err(PARSING),
        },
        _ => Err(("bool_type", "Input should be a valid boolean")),
    }
}

/// Collects field errors while reading a request.
#[derive(Debug, Default)]
pub struct V {
    pub errs: Vec<Value>,
}

impl V {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, d: Value) {
        self.errs.push(d);
    }

    /// 422 with every collected error, or Ok.
    pub fn finish(self) -> Result<(), Error> {
        if self.errs.is_empty() { Ok(()) } else { Err(Error::validation(self.errs)) }
    }

    /// The field value, or `None` after recording `missing` when required.
    fn field<'a>(&mut self, obj: &'a Map<String, Value>, key: &str, loc: &Loc, required: bool) -> Option<&'a Value> {
        match obj.get(key) {
            Some(v) => Some(v),
            None => {
                if required {
                    self.push(detail("missing", &at(loc, key), "Field required", &Value::Object(obj.clone()), None));
                }
                None
            }
        }
    }

    /// A value validated as a nested model: must be an object.
    pub fn model<'a>(&mut self, v: &'a Value, loc: &Loc) -> Option<&'a Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.push(detail(
                    "model_attributes_type",
                    loc,
                    "Input should be a valid dictionary or object to extract fields from",
                    other,
                    None,
                ));
                None
            }
        }
    }

    /// A value validated as a list.
    pub fn list<'a>(&mut self, v: &'a Value, loc: &Loc) -> Option<&'a Vec<Value>> {
        match v {
            Value::Array(a) => Some(a),
            other => {
                self.push(detail("list_type", loc, "Input should be a valid list", other, None));
                None
            }
        }
    }

    /// Validates one value as an int.
    pub fn int_value(&mut self, v: &Value, loc: &Loc) -> Option<i64> {
        match coerce_int(v) {
            Ok(i) => Some(i),
            Err((kind, msg)) => {
                self.push(detail(kind, loc, msg, v, None));
                None
            }
        }
    }

    /// Validates one value as a float.
    pub fn float_value(&mut self, v: &Value, loc: &Loc) -> Option<f64> {
        match coerce_float(v) {
            Ok(f) => Some(f),
            Err((kind, msg)) => {
                self.push(detail(kind, loc, msg, v, None));
                None
            }
        }
    }

    /// Validates one value as a bool.
    pub fn bool_value(&mut self, v: &Value, loc: &Loc) -> Option<bool> {
        match coerce_bool(v) {
            Ok(b) => Some(b),
            Err((kind, msg)) => {
                self.push(detail(kind, loc, msg, v, None));
                None
            }
        }
    }

    /// Validates one value as an integer enum with members `members`.
    pub fn enum_value(&mut self, v: &Value, loc: &Loc, members: &[i64]) -> Option<i64> {
        match coerce_int(v) {
            Ok(i) if members.contains(&i) => Some(i),
            _ => {
                let expected = expected_text(members);
                self.push(detail(
                    "enum",
                    loc,
                    &format!("Input should be {expected}"),
                    v,
                    Some(json!({ "expected": expected })),
                ));
                None
            }
        }
    }

    /// `int` field; `default` = None makes it required. Outer None = invalid/missing.
    pub fn int(&mut self, obj: &Map<String, Value>, key: &str, loc: &Loc, default: Option<i64>) -> Option<i64> {
        match self.field(obj, key, loc, default.is_none()) {
            Some(v) => self.int_value(v, &at(loc, key)),
            None => default,
        }
    }

    /// `int | None = None` field. Outer None = invalid.
    pub fn opt_int(&mut self, obj: &Map<String, Value>, key: &str, loc: &Loc) -> Option<Option<i64>> {
        match obj.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(v) => self.int_value(v, &at(loc, key)).map(Some),
        }
    }

    /// `float` field with an optional default.
    pub fn float(&mut self, obj: &Map<String, Value>, key: &str, loc: &Loc, default: Option<f64>) -> Option<f64> {
        match self.field(obj, key, loc, default.is_none()) {
            Some(v) => self.float_value(v, &at(loc, key)),
            None => default,
        }
    }

    /// `float | None = None` field.
    pub fn opt_float(&mut self, obj: &Map<String, Value>, key: &str, loc: &Loc) -> Option<Option<f64>> {
        match obj.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(v) => self.float_value(v, &at(loc, key)).map(Some),
        }
    }

    /// `bool` field with a default.
    pub fn boolean(&mut self, obj: &Map<String, Value>, key: &str, loc: &Loc, default: bool) -> Option<bool> {
        match obj.get(key) {
            Some(v) => self.bool_value(v, &at(loc, key)),
            None => Some(default),
        }
    }

    /// `str` field with a default.
    pub fn string(&mut self, obj: &Map<String, Value>, key: &str, loc: &Loc, default: &str) -> Option<String> {
        match obj.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.push(detail("string_type", &at(loc, key), "Input should be a valid string", other, None));
                None
            }
            None => Some(default.to_owned()),
        }
    }

    /// `str | None = None` field.
    pub fn opt_string(&mut self, obj: &Map<String, Value>, key: &str, loc: &Loc) -> Option<Option<String>> {
        match obj.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(other) => {
                self.push(detail("string_type", &at(loc, key), "Input should be a valid string", other, None));
                None
            }
        }
    }

    /// Records a `ge` violation (pydantic reports the raw input).
    pub fn check_ge(&mut self, value: i64, min: i64, loc: &Loc, input: &Value) -> Option<i64> {
        if value >= min {
            Some(value)
        } else {
            self.push(detail(
                "greater_than_equal",
                loc,
                &format!("Input should be greater than or equal to {min}"),
                input,
                Some(json!({ "ge": min })),
            ));
            None
        }
    }

    /// Records an `le` violation.
    pub fn check_le(&mut self, value: i64, max: i64, loc: &Loc, input: &Value) -> Option<i64> {
        if value <= max {
            Some(value)
        } else {
            self.push(detail(
                "less_than_equal",
                loc,
                &format!("Input should be less than or equal to {max}"),
                input,
                Some(json!({ "le": max })),
            ));
            None
        }
    }

    /// An int field with `ge`/`le` bounds (required when `default` is None).
    pub fn int_bounded(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        loc: &Loc,
        default: Option<i64>,
        ge: Option<i64>,
        le: Option<i64>,
    ) -> Option<i64> {
        let raw = obj.get(key);
        let v = self.int(obj, key, loc, default)?;
        let Some(input) = raw else { return Some(v) };
        let l = at(loc, key);
        if let Some(min) = ge {
            self.check_ge(v, min, &l, input)?;
        }
        if let Some(max) = le {
            self.check_le(v, max, &l, input)?;
        }
        Some(v)
    }
}

/// Parses a request body the way FastAPI does for a single model parameter:
/// empty → 422 `missing` at `["body"]`; not JSON → 400 (the SDK's convention);
/// not an object → 422 `model_attributes_type`.
pub fn body_object(body: &[u8]) -> Result<Map<String, Value>, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::validation(vec![detail(
            "missing",
            &vec![Value::from("body")],
            "Field required",
            &Value::Null,
            None,
        )]));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Error::bad_request(format!("Malformed JSON body: {e}")))?;
    let mut v = V::new();
    let loc = vec![Value::from("body")];
    match v.model(&value, &loc) {
        Some(m) => Ok(m.clone()),
        None => {
            v.finish()?;
            Err(Error::bad_request("body must be a JSON object"))
        }
    }
}

/// Query parameters as FastAPI sees them: the last value of a repeated name wins.
pub fn query_map(raw: &str) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in kiwi_sdk::query_pairs(raw) {
        m.insert(k, Value::String(v));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_strings() {
        assert_eq!(parse_int_str(" 5 "), Some(5));
        assert_eq!(parse_int_str("5.00"), Some(5));
        assert_eq!(parse_int_str("-5_0.0"), Some(-50));
        assert_eq!(parse_int_str("5."), None);
        assert_eq!(parse_int_str("_5"), None);
        assert_eq!(parse_int_str("5__0"), None);
        assert_eq!(parse_int_str("+-5"), None);
        assert_eq!(parse_int_str(""), None);
        assert_eq!(parse_int_str("1e3"), None);
        assert_eq!(parse_int_str("99999999999999999999999"), Some(i64::MAX));
    }

    #[test]
    fn float_strings() {
        assert_eq!(parse_float_str("1_0"), Some(10.0));
        assert_eq!(parse_float_str(".5"), Some(0.5));
        assert_eq!(parse_float_str("5."), Some(5.0));
        assert_eq!(parse_float_str(" 1e5 "), Some(1e5));
        assert_eq!(parse_float_str("_1"), None);
        assert_eq!(parse_float_str("0x1"), None);
        assert_eq!(parse_float_str("1,5"), None);
        assert!(parse_float_str("-inf").is_some_and(|f| f == f64::NEG_INFINITY));
    }

    #[test]
    fn coercions() {
        assert_eq!(coerce_int(&json!(true)), Ok(1));
        assert_eq!(coerce_int(&json!(5.0)), Ok(5));
        assert_eq!(coerce_int(&json!(5.5)).map_err(|e| e.0), Err("int_from_float"));
        assert_eq!(coerce_int(&json!(null)).map_err(|e| e.0), Err("int_type"));
        assert_eq!(coerce_bool(&json!("YES")), Ok(true));
        assert_eq!(coerce_bool(&json!(2)).map_err(|e| e.0), Err("bool_parsing"));
        assert_eq!(coerce_bool(&json!(0.5)).map_err(|e| e.0), Err("bool_type"));
        assert_eq!(expected_text(&[1, 2, 3, 4]), "1, 2, 3 or 4");
        assert_eq!(expected_text(&[1, 2]), "1 or 2");
    }
}
