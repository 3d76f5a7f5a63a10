//! Extractors: typed views of a request that handlers take as arguments.

use kiwi_plugin_api::manifest::Request;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{Ctx, Error, Result};

/// Anything a handler can take as an argument.
pub trait FromRequest: Sized {
    fn from_request(req: &Request, ctx: &Ctx) -> Result<Self>;
}

/// Path parameters. `Path<String>` for one parameter, a tuple for several in
/// template order, or a struct with named fields.
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

/// Query parameters deserialized into `T` (missing/invalid fields → 422 naming the field).
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

/// The raw query string (without `?`), for handlers that validate by hand.
#[derive(Debug, Clone)]
pub struct RawQuery(pub String);

/// A JSON body (also a JSON response). Bad JSON → 400; wrong shape → 422 naming the field.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

/// The raw request body.
#[derive(Debug, Clone)]
pub struct Body(pub Vec<u8>);

/// Request headers (lower-case names).
#[derive(Debug, Clone)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// First value of a header, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn field_error(kind: &str, loc: Vec<Value>, msg: String) -> Error {
    Error::validation(vec![json!({"type": kind, "loc": loc, "msg": msg})])
}

fn loc_of(source: &str, path: &serde_path_to_error::Path) -> Vec<Value> {
    let mut loc = vec![Value::from(source)];
    for seg in path.iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => loc.push(Value::from(*index)),
            serde_path_to_error::Segment::Map { key } => loc.push(Value::from(key.clone())),
            serde_path_to_error::Segment::Enum { variant } => loc.push(Value::from(variant.clone())),
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    loc
}

impl<T: DeserializeOwned> FromRequest for Path<T> {
    fn from_request(req: &Request, _: &Ctx) -> Result<Self> {
        // One parameter: deserialize the bare value; several: as a map (struct) or in order (tuple).
        if req.params.len() == 1 {
            let raw = &req.params[0].1;
            let value = serde_json::from_value::<T>(Value::String(raw.clone()))
                .or_else(|_| {
                    serde_json::from_str::<Value>(raw)
                        .map_err(|e| e.to_string())
                        .and_then(|v| serde_json::from_value::<T>(v).map_err(|e| e.to_string()))
                })
                .or_else(|_| {
                    let map: serde_json::Map<String, Value> =
                        req.params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
                    serde_json::from_value::<T>(Value::Object(map)).map_err(|e| e.to_string())
                });
            return value
                .map(Path)
                .map_err(|msg| field_error("path_parsing", vec!["path".into(), req.params[0].0.clone().into()], msg));
        }
        let map: serde_json::Map<String, Value> =
            req.params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        if let Ok(v) = serde_json::from_value::<T>(Value::Object(map)) {
            return Ok(Path(v));
        }
        let seq: Vec<Value> = req.params.iter().map(|(_, v)| Value::String(v.clone())).collect();
        serde_json::from_value::<T>(Value::Array(seq))
            .map(Path)
            .map_err(|e| field_error("path_parsing", vec!["path".into()], e.to_string()))
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    fn from_request(req: &Request, _: &Ctx) -> Result<Self> {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(req.query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Query).map_err(|e| {
            let loc = loc_of("query", e.path());
            field_error("query_parsing", loc, e.inner().to_string())
        })
    }
}

impl FromRequest for RawQuery {
    fn from_request(req: &Request, _: &Ctx) -> Result<Self> {
        Ok(RawQuery(req.query.clone()))
    }
}

impl<T: DeserializeOwned> FromRequest for Json<T> {
    fn from_request(req: &Request, _: &Ctx) -> Result<Self> {
        if req.body.is_empty() {
            return Err(field_error("missing", vec!["body".into()], "Field required".into()));
        }
        let value: Value =
            serde_json::from_slice(&req.body).map_err(|e| Error::bad_request(format!("Malformed JSON body: {e}")))?;
        serde_path_to_error::deserialize(value).map(Json).map_err(|e| {
            let loc = loc_of("body", e.path());
            field_error("body_parsing", loc, e.inner().to_string())
        })
    }
}

impl FromRequest for Body {
    fn from_request(req: &Request, _: &Ctx) -> Result<Self> {
        Ok(Body(req.body.clone()))
    }
}

impl FromRequest for Headers {
    fn from_request(req: &Request, _: &Ctx) -> Result<Self> {
        Ok(Headers(req.headers.clone()))
    }
}

impl FromRequest for Ctx {
    fn from_request(_: &Request, ctx: &Ctx) -> Result<Self> {
        Ok(ctx.clone())
    }
}

impl FromRequest for Request {
    fn from_request(req: &Request, _: &Ctx) -> Result<Self> {
        Ok(req.clone())
    }
}

/// Parses a raw query string into (name, value) pairs, decoded.
pub fn query_pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}
