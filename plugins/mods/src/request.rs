//! Build-request parsing: an order-preserving, borrowing JSON value (property
//! order is part of the output bytes) and validation into [`BuildRequest`] with
//! pydantic-style `details` (`missing`, `int_type`, `string_type`, ...), the way
//! the original's `TmodBuildRequest` model rejects bad input.

use std::borrow::Cow;
use std::fmt;

use kiwi_sdk::Error;
use kiwi_sdk::validate::{Loc, detail, missing};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// A JSON value whose objects keep their key order (duplicates: first position,
/// last value, like Python's `json.loads`) and whose strings borrow the body.
#[derive(Debug, Clone, PartialEq)]
pub enum JValue<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Cow<'a, str>),
    Array(Vec<JValue<'a>>),
    Object(Vec<(Cow<'a, str>, JValue<'a>)>),
}

impl JValue<'_> {
    /// A plain `serde_json::Value` (for error `input`s).
    pub fn to_value(&self) -> Value {
        match self {
            JValue::Null => Value::Null,
            JValue::Bool(b) => Value::Bool(*b),
            JValue::Int(i) => i64::try_from(*i)
                .map(Value::from)
                .or_else(|_| u64::try_from(*i).map(Value::from))
                .unwrap_or_else(|_| Value::from(*i as f64)),
            JValue::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            JValue::Str(s) => Value::String(s.to_string()),
            JValue::Array(a) => Value::Array(a.iter().map(JValue::to_value).collect()),
            JValue::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.to_string(), v.to_value())).collect()),
        }
    }

    /// A member of an object, by key.
    pub fn get(&self, key: &str) -> Option<&JValue<'_>> {
        match self {
            JValue::Object(o) => o.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl serde::Serialize for JValue<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            JValue::Null => s.serialize_unit(),
            JValue::Bool(b) => s.serialize_bool(*b),
            JValue::Int(i) => s.serialize_i128(*i),
            JValue::Float(f) => s.serialize_f64(*f),
            JValue::Str(v) => s.serialize_str(v),
            JValue::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            JValue::Object(o) => {
                let mut m = s.serialize_map(Some(o.len()))?;
                for (k, v) in o {
                    m.serialize_entry(k.as_ref(), v)?;
                }
                m.end()
            }
        }
    }
}

struct JVisitor;

impl<'de> Visitor<'de> for JVisitor {
    type Value = JValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(JValue::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(JValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(JValue::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(JValue::Int(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(JValue::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(JValue::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(JValue::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(JValue::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<JValue<'de>>()? {
            out.push(v);
        }
        Ok(JValue::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: Vec<(Cow<'de, str>, JValue<'de>)> = Vec::new();
        let mut index: std::collections::HashMap<Cow<'de, str>, usize> = std::collections::HashMap::new();
        while let Some(BorrowedKey(k)) = map.next_key::<BorrowedKey<'de>>()? {
            let v = map.next_value::<JValue<'de>>()?;
            match index.get(&k) {
                Some(&i) => {
                    if let Some(slot) = out.get_mut(i) {
                        slot.1 = v;
                    }
                }
                None => {
                    index.insert(k.clone(), out.len());
                    out.push((k, v));
                }
            }
        }
        Ok(JValue::Object(out))
    }
}

impl<'de> Deserialize<'de> for JValue<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JVisitor)
    }
}

/// A wrapper so `next_key` borrows when it can.
struct BorrowedKey<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for BorrowedKey<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KV;
        impl<'de> Visitor<'de> for KV {
            type Value = BorrowedKey<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(BorrowedKey(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BorrowedKey(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KV)
    }
}

/// Parses a JSON body. Empty → 422 `missing`; invalid JSON → 422 `json_invalid`.
pub fn parse_body(body: &[u8]) -> Result<JValue<'_>, Error> {
    if body.is_empty() {
        return Err(Error::validation(vec![missing(&Loc(vec!["body".into()]), Value::Null)]));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = JValue::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| {
        let pos = byte_offset(body, e.line(), e.column());
        Error::validation(vec![detail(
            "json_invalid",
            &Loc(vec!["body".into(), pos.into()]),
            "JSON decode error",
            Value::Object(Default::default()),
            Some(serde_json::json!({"error": e.to_string()})),
        )])
    })
}

fn byte_offset(body: &[u8], line: usize, column: usize) -> usize {
    let mut off = 0;
    for (i, l) in body.split(|b| *b == b'\n').enumerate() {
        if i + 1 == line {
            return off + column.saturating_sub(1);
        }
        off += l.len() + 1;
    }
    body.len()
}

/// One file of a build request; `content_base64` still encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildFile<'a> {
    pub path: Cow<'a, str>,
    pub content_base64: Cow<'a, str>,
}

/// A validated `TmodBuildRequest` (`files` is called `tmods` for packs).
#[derive(Debug, Clone, PartialEq)]
pub struct BuildRequest<'a> {
    pub version: i128,
    pub properties: Vec<(String, String)>,
    pub files: Vec<BuildFile<'a>>,
}

fn int_field(v: &JValue<'_>, loc: &Loc, errs: &mut Vec<Value>) -> Option<i128> {
    match v {
        JValue::Int(i) => Some(*i),
        JValue::Bool(b) => Some(i128::from(*b)),
        JValue::Float(f) if f.fract() == 0.0 && f.is_finite() => Some(*f as i128),
        JValue::Float(_) => {
            errs.push(detail(
                "int_from_float",
                loc,
                "Input should be a valid integer, got a number with a fractional part",
                v.to_value(),
                None,
            ));
            None
        }
        JValue::Str(s) => {
            let t = s.trim();
            let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
            let parsed = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                t.parse::<i128>().ok().or(Some(if t.starts_with('-') { i128::MIN } else { i128::MAX }))
            } else {
                None
            };
            if parsed.is_none() {
                errs.push(kiwi_sdk::validate::int_parsing(loc, v.to_value()));
            }
            parsed
        }
        _ => {
            errs.push(detail("int_type", loc, "Input should be a valid integer", v.to_value(), None));
            None
        }
    }
}

fn string_type(loc: &Loc, v: &JValue<'_>) -> Value {
    detail("string_type", loc, "Input should be a valid string", v.to_value(), None)
}

/// Validates `{"version": int = 1, "properties": {str: str} = {}, "<list_key>": [{path, content_base64}]}`.
pub fn validate_build<'a>(body: &'a JValue<'a>, list_key: &str) -> Result<BuildRequest<'a>, Error> {
    let JValue::Object(_) = body else {
        return Err(Error::validation(vec![detail(
            "model_attributes_type",
            &Loc(vec!["body".into()]),
            "Input should be a valid dictionary or object to extract fields from",
            body.to_value(),
            None,
        )]));
    };
    let mut errs = Vec::new();
    let version = match body.get("version") {
        None => Some(1),
        Some(v) => int_field(v, &Loc::body(&["version"]), &mut errs),
    };
    let mut properties = Vec::new();
    match body.get("properties") {
        None => {}
        Some(JValue::Object(o)) => {
            for (k, v) in o {
                match v {
                    JValue::Str(s) => properties.push((k.to_string(), s.to_string())),
                    other => errs.push(string_type(&Loc::body(&["properties", k.as_ref()]), other)),
                }
            }
        }
        Some(other) => errs.push(detail(
            "dict_type",
            &Loc::body(&["properties"]),
            "Input should be a valid dictionary",
            other.to_value(),
            None,
        )),
    }
    let mut files = Vec::new();
    match body.get(list_key) {
        None => errs.push(missing(&Loc::body(&[list_key]), body.to_value())),
        Some(JValue::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let loc = Loc::body(&[list_key]).push(i);
                if !matches!(item, JValue::Object(_)) {
                    errs.push(detail(
                        "model_attributes_type",
                        &loc,
                        "Input should be a valid dictionary or object to extract fields from",
                        item.to_value(),
                        None,
                    ));
                    continue;
                }
                let mut field = |name: &str| match item.get(name) {
                    Some(JValue::Str(s)) => Some(s.clone()),
                    Some(other) => {
                        errs.push(string_type(&loc.clone().push(name), other));
                        None
                    }
                    None => {
                        errs.push(missing(&loc.clone().push(name), item.to_value()));
                        None
                    }
                };
                let path = field("path");
                let content = field("content_base64");
                if let (Some(path), Some(content_base64)) = (path, content) {
                    files.push(BuildFile { path, content_base64 });
                }
            }
        }
        Some(other) => errs.push(detail(
            "list_type",
            &Loc::body(&[list_key]),
            "Input should be a valid list",
            other.to_value(),
            None,
        )),
    }
    match (errs.is_empty(), version) {
        (true, Some(version)) => Ok(BuildRequest { version, properties, files }),
        _ => Err(Error::validation(errs)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_dedups() {
        let body = br#"{"b":1,"a":2,"b":3}"#;
        let v = parse_body(body).unwrap();
        let JValue::Object(o) = v else { panic!() };
        let keys: Vec<&str> = o.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(o[0].1, JValue::Int(3));
    }

    #[test]
    fn borrows_strings() {
        let body = br#"{"files":[{"path":"a","content_base64":"QUJD"}]}"#;
        let v = parse_body(body).unwrap();
        let r = validate_build(&v, "files").unwrap();
        assert!(matches!(r.files[0].content_base64, Cow::Borrowed(_)));
        assert_eq!(r.version, 1);
    }
}
