//! Request validation for the capture routes: `limit`/`offset` paging query
//! parameters and the `{name}` insert body, reported as 422
//! `validation_error` entries (pydantic shape) naming the field.

use kiwi_sdk::validate::{self, Loc};
use kiwi_sdk::{Error, query_pairs};
use serde_json::{Value, json};

/// Longest accepted capture name, in characters.
pub const MAX_NAME_CHARS: usize = 256;

/// Bounds of a history listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageParams {
    pub limit: usize,
    pub offset: usize,
}

/// Parses an integer the way a query parameter is read: surrounding
/// whitespace ignored, optional sign. A well-formed integer too large for i64
/// saturates, so the range check (not the parse) reports it.
fn parse_query_int(loc: &Loc, raw: &str) -> Result<i64, Value> {
    let t = raw.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(t.parse::<i64>().unwrap_or(if t.starts_with('-') { i64::MIN } else { i64::MAX }));
    }
    validate::parse_int(loc, raw)
}

/// One bounded integer parameter; the last occurrence wins, absent → `default`.
fn int_param(pairs: &[(String, String)], name: &str, default: i64, min: i64, max: Option<i64>) -> Result<i64, Value> {
    let Some(raw) = pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v) else {
        return Ok(default);
    };
    let loc = Loc::query(name);
    let value = parse_query_int(&loc, raw)?;
    let value = validate::ge(loc.clone(), raw.as_str(), value, min)?;
    match max {
        Some(max) => validate::le(loc, raw.as_str(), value, max),
        None => Ok(value),
    }
}

/// `limit` (1..=`max_limit`, default 50) and `offset` (≥ 0, default 0).
pub fn page_params(raw_query: &str, max_limit: i64) -> Result<PageParams, Error> {
    let pairs = query_pairs(raw_query);
    let limit = int_param(&pairs, "limit", 50, 1, Some(max_limit));
    let offset = int_param(&pairs, "offset", 0, 0, None);
    match (limit, offset) {
        (Ok(limit), Ok(offset)) => Ok(PageParams {
            // Both are range-checked non-negative; a huge offset saturates.
            limit: usize::try_from(limit).unwrap_or(1),
            offset: usize::try_from(offset).unwrap_or(usize::MAX),
        }),
        (limit, offset) => Err(Error::validation([limit.err(), offset.err()].into_iter().flatten().collect())),
    }
}

/// The `name` of a `{"name": str}` body (untrimmed; the capture rules trim it).
pub fn insert_name(body: &[u8]) -> Result<String, Error> {
    let missing_body = || Error::validation(vec![validate::missing(&Loc(vec!["body".into()]), Value::Null)]);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(missing_body());
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Error::bad_request(format!("Malformed JSON body: {e}")))?;
    let obj = match value {
        Value::Null => return Err(missing_body()),
        Value::Object(obj) => obj,
        other => {
            return Err(Error::validation(vec![validate::detail(
                "model_attributes_type",
                &Loc(vec!["body".into()]),
                "Input should be a valid dictionary or object to extract fields from",
                other,
                None,
            )]));
        }
    };
    let loc = Loc::body(&["name"]);
    match obj.get("name") {
        None => Err(Error::validation(vec![validate::missing(&loc, Value::Object(obj.clone()))])),
        Some(Value::String(s)) if s.chars().count() > MAX_NAME_CHARS => Err(Error::validation(vec![validate::detail(
            "string_too_long",
            &loc,
            &format!("String should have at most {MAX_NAME_CHARS} characters"),
            Value::String(s.clone()),
            Some(json!({"max_length": MAX_NAME_CHARS})),
        )])),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(Error::validation(vec![validate::detail(
            "string_type",
            &loc,
            "Input should be a valid string",
            other.clone(),
            None,
        )])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(e: &Error) -> Value {
        e.details.clone().unwrap_or(Value::Null)
    }

    #[test]
    fn paging_defaults_and_bounds() {
        assert_eq!(page_params("", 200), Ok(PageParams { limit: 50, offset: 0 }));
        assert_eq!(page_params("limit=200&offset=3&x=y", 200), Ok(PageParams { limit: 200, offset: 3 }));
        assert_eq!(page_params("limit=1&limit=7", 200).map(|p| p.limit), Ok(7));
        assert_eq!(page_params("limit=%2010%20", 200).map(|p| p.limit), Ok(10));
        let e = page_params("limit=0&offset=-1", 200).unwrap_err();
        assert_eq!(e.status, 422);
        let d = details(&e);
        assert_eq!(d[0]["loc"], json!(["query", "limit"]));
        assert_eq!(d[0]["type"], "greater_than_equal");
        assert_eq!(d[1]["loc"], json!(["query", "offset"]));
        let e = page_params("limit=abc", 200).unwrap_err();
        assert_eq!(details(&e)[0]["type"], "int_parsing");
        assert_eq!(details(&e)[0]["input"], "abc");
        let e = page_params("limit=99999999999999999999999", 500).unwrap_err();
        assert_eq!(details(&e)[0]["type"], "less_than_equal");
        assert_eq!(details(&e)[0]["ctx"], json!({"le": 500}));
        let e = page_params("offset=", 500).unwrap_err();
        assert_eq!(details(&e)[0]["type"], "int_parsing");
    }

    #[test]
    fn insert_bodies() {
        assert_eq!(insert_name(br#"{"name":" Box ","x":1}"#), Ok(" Box ".to_owned()));
        let e = insert_name(b"").unwrap_err();
        assert_eq!((e.status, details(&e)[0]["loc"].clone()), (422, json!(["body"])));
        let e = insert_name(b"null").unwrap_err();
        assert_eq!(details(&e)[0]["type"], "missing");
        let e = insert_name(b"{nope").unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "bad_request"));
        let e = insert_name(b"[1]").unwrap_err();
        assert_eq!(details(&e)[0]["type"], "model_attributes_type");
        let e = insert_name(b"{}").unwrap_err();
        assert_eq!(details(&e)[0]["loc"], json!(["body", "name"]));
        assert_eq!(details(&e)[0]["type"], "missing");
        let e = insert_name(br#"{"name": 5}"#).unwrap_err();
        assert_eq!(details(&e)[0]["type"], "string_type");
        assert_eq!(details(&e)[0]["input"], 5);
        let long = format!(r#"{{"name":"{}"}}"#, "é".repeat(MAX_NAME_CHARS + 1));
        let e = insert_name(long.as_bytes()).unwrap_err();
        assert_eq!(details(&e)[0]["type"], "string_too_long");
        let ok = format!(r#"{{"name":"{}"}}"#, "é".repeat(MAX_NAME_CHARS));
        assert!(insert_name(ok.as_bytes()).is_ok());
    }
}
