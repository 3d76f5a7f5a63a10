//! Field-validation helpers producing the envelope's `details` entries in the
//! shape API consumers already know (`type`, `loc`, `msg`, `input`, `ctx`).
//!
//! ```
//! use kiwi_sdk::validate::{self, Loc};
//! let errs = validate::ge(Loc::query("level"), "0", 0, 1).err().unwrap();
//! assert_eq!(errs["msg"], "Input should be greater than or equal to 1");
//! ```

use serde_json::{Value, json};

/// Where a field lives: `["query", "level"]`, `["body", "gem", "tier"]`...
#[derive(Debug, Clone)]
pub struct Loc(pub Vec<Value>);

impl Loc {
    pub fn query(name: &str) -> Self {
        Loc(vec!["query".into(), name.into()])
    }
    pub fn body(path: &[&str]) -> Self {
        let mut v = vec![Value::from("body")];
        v.extend(path.iter().map(|p| Value::from(*p)));
        Loc(v)
    }
    pub fn path(name: &str) -> Self {
        Loc(vec!["path".into(), name.into()])
    }
    /// Appends a segment (field name or list index).
    pub fn push(mut self, seg: impl Into<Value>) -> Self {
        self.0.push(seg.into());
        self
    }
}

/// One details entry.
pub fn detail(kind: &str, loc: &Loc, msg: &str, input: Value, ctx: Option<Value>) -> Value {
    let mut d = json!({"type": kind, "loc": loc.0, "msg": msg, "input": input});
    if let Some(c) = ctx {
        d["ctx"] = c;
    }
    d
}

/// `missing`: "Field required".
pub fn missing(loc: &Loc, input: Value) -> Value {
    detail("missing", loc, "Field required", input, None)
}

/// `int_parsing` for a string that is not an integer.
pub fn int_parsing(loc: &Loc, input: Value) -> Value {
    detail("int_parsing", loc, "Input should be a valid integer, unable to parse string as an integer", input, None)
}

/// `float_parsing` for a string that is not a number.
pub fn float_parsing(loc: &Loc, input: Value) -> Value {
    detail("float_parsing", loc, "Input should be a valid number, unable to parse string as a number", input, None)
}

/// `bool_parsing` for a string that is not a boolean.
pub fn bool_parsing(loc: &Loc, input: Value) -> Value {
    detail("bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", input, None)
}

/// Checks `value >= min`, reporting `input` as given.
pub fn ge<T: PartialOrd + Into<Value> + Copy + std::fmt::Display>(
    loc: Loc,
    input: impl Into<Value>,
    value: T,
    min: T,
) -> Result<T, Value> {
    if value >= min {
        Ok(value)
    } else {
        Err(detail(
            "greater_than_equal",
            &loc,
            &format!("Input should be greater than or equal to {min}"),
            input.into(),
            Some(json!({"ge": min.into()})),
        ))
    }
}

/// Checks `value <= max`, reporting `input` as given.
pub fn le<T: PartialOrd + Into<Value> + Copy + std::fmt::Display>(
    loc: Loc,
    input: impl Into<Value>,
    value: T,
    max: T,
) -> Result<T, Value> {
    if value <= max {
        Ok(value)
    } else {
        Err(detail(
            "less_than_equal",
            &loc,
            &format!("Input should be less than or equal to {max}"),
            input.into(),
            Some(json!({"le": max.into()})),
        ))
    }
}

/// Parses a query/path string as an integer.
pub fn parse_int(loc: &Loc, raw: &str) -> Result<i64, Value> {
    raw.trim().parse::<i64>().map_err(|_| int_parsing(loc, Value::from(raw)))
}

/// Parses a query/path string as a boolean the way form parsers do
/// (`true/false/1/0/yes/no/on/off`, case-insensitive).
pub fn parse_bool(loc: &Loc, raw: &str) -> Result<bool, Value> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
        _ => Err(bool_parsing(loc, Value::from(raw))),
    }
}
