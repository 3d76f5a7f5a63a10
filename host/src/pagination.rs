//! Cursor pagination for every host list: `{items, next_cursor, has_more}`.
//!
//! API summary:
//! - [`PageQuery`]: the `?cursor=&limit=` query (limit 1..=200, default 50; out of range → 422).
//! - [`PageQuery::position`] decodes the cursor into a [`Cursor`] `{k, id}` (bad or tampered → 400
//!   `bad_request` "invalid cursor").
//! - [`keyset_desc`] writes the SQL condition for "after this cursor" in a `k DESC, id DESC` order.
//! - [`finish`] turns `limit + 1` fetched rows into a [`Page`], signing the next cursor.
//!
//! Typical handler:
//! ```ignore
//! let limit = q.limit()?;
//! let pos = q.position(&state.config)?;
//! // SELECT … WHERE <filters> [AND keyset_desc("created_at", "id", n)] ORDER BY created_at DESC, id DESC LIMIT limit+1
//! let page = pagination::finish(rows, limit, &state.config, |r| (json!(r.created_at), r.id.clone()));
//! ```
//!
//! **Cursor format** (opaque to clients): `base64url(JSON {"k": <last sort key>, "id": "<last id>"})`,
//! then `.` and `base64url(HMAC-SHA256(key, payload)[..12])`, the key derived from the host secret.
//! Host cursors are always signed, so clients cannot forge positions.
//!
//! **Plugins** use the same envelope `{items, next_cursor, has_more}` and the same payload shape
//! (`base64url(JSON {"k", "id"})`) but without the signature (they do not hold the host secret):
//! they must validate the decoded JSON themselves and answer 400 `bad_request` for anything else.
//! [`decode_unsigned`] / [`encode_unsigned`] implement that form.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::config::Config;
use crate::error::{ApiError, ApiResult};

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size.
pub const MAX_LIMIT: u32 = 200;

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

/// The position after the last item of a page: its sort key and id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cursor {
    pub k: Value,
    pub id: String,
}

impl Cursor {
    /// The sort key as an integer (400 if it is not one).
    pub fn k_i64(&self) -> ApiResult<i64> {
        self.k.as_i64().ok_or_else(invalid)
    }
}

/// `?cursor=&limit=`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

impl PageQuery {
    /// The page size (default 50, 1..=200).
    pub fn limit(&self) -> ApiResult<u32> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(l) if (1..=i64::from(MAX_LIMIT)).contains(&l) => Ok(l as u32),
            Some(_) => Err(ApiError::validation("query.limit", format!("must be between 1 and {MAX_LIMIT}"))),
        }
    }
    /// The decoded cursor, if any.
    pub fn position(&self, config: &Config) -> ApiResult<Option<Cursor>> {
        match self.cursor.as_deref() {
            None | Some("") => Ok(None),
            Some(c) => decode(config, c).map(Some),
        }
    }
}

fn invalid() -> ApiError {
    ApiError::bad_request("invalid cursor")
}

fn mac(config: &Config, payload: &[u8]) -> Vec<u8> {
    let derived = hmac_sha256(config.secret_bytes(), &[b"kiwi-cursor-v1"]);
    hmac_sha256(&derived, &[payload])[..12].to_vec()
}

/// HMAC-SHA256 over the concatenation of `parts` (shared keyed-hash helper).
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this never fails.
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(key) else { return [0; 32] };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Encodes a signed cursor.
pub fn encode(config: &Config, cursor: &Cursor) -> String {
    let payload = encode_unsigned(cursor);
    let sig = URL_SAFE_NO_PAD.encode(mac(config, payload.as_bytes()));
    format!("{payload}.{sig}")
}

/// Decodes and verifies a signed cursor.
pub fn decode(config: &Config, s: &str) -> ApiResult<Cursor> {
    if s.len() > 512 {
        return Err(invalid());
    }
    let (payload, sig) = s.split_once('.').ok_or_else(invalid)?;
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| invalid())?;
    let expected = mac(config, payload.as_bytes());
    if !constant_time_eq(&sig, &expected) {
        return Err(invalid());
    }
    decode_unsigned(payload)
}

/// The unsigned form plugins use: `base64url(JSON {"k", "id"})`.
pub fn encode_unsigned(cursor: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

/// Decodes the unsigned form (400 for anything malformed).
pub fn decode_unsigned(s: &str) -> ApiResult<Cursor> {
    let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| invalid())?;
    let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if c.id.is_empty() || !(c.k.is_i64() || c.k.is_string()) {
        return Err(invalid());
    }
    Ok(c)
}

/// Constant-time byte comparison.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// SQL for "strictly after the cursor" in `k_col DESC, id_col DESC` order, using
/// placeholders `$n` (sort key) and `$n+1` (id).
pub fn keyset_desc(k_col: &str, id_col: &str, n: usize) -> String {
    format!("({k_col} < ${n} OR ({k_col} = ${n} AND {id_col} < ${}))", n + 1)
}

/// Builds a page from up to `limit + 1` rows fetched in page order.
pub fn finish<T>(mut rows: Vec<T>, limit: u32, config: &Config, key: impl Fn(&T) -> (Value, String)) -> Page<T> {
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if has_more {
        rows.last().map(|last| {
            let (k, id) = key(last);
            encode(config, &Cursor { k, id })
        })
    } else {
        None
    };
    Page { items: rows, next_cursor, has_more }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn config() -> Config {
        let env: BTreeMap<String, String> = [
            ("KIWI_SECRET_KEY".to_owned(), "x".repeat(40)),
            ("KIWI_DATA_DIR".to_owned(), "/tmp/kiwi-pg-unused".to_owned()),
        ]
        .into();
        Config::from_sources(None, &env).unwrap()
    }

    #[test]
    fn round_trip_and_tamper() {
        let c = config();
        let cur = Cursor { k: json!(1_700_000_000_000i64), id: "use_00ff".into() };
        let s = encode(&c, &cur);
        assert_eq!(decode(&c, &s).unwrap(), cur);
        // Tampered payload or signature.
        let (p, sig) = s.split_once('.').unwrap();
        let other = encode_unsigned(&Cursor { k: json!(1), id: "x".into() });
        assert!(decode(&c, &format!("{other}.{sig}")).is_err());
        assert!(decode(&c, &format!("{p}.AAAA")).is_err());
        assert!(decode(&c, "nope").is_err());
        assert!(decode(&c, "").is_err());
        assert!(decode_unsigned("!!!").is_err());
        assert!(decode_unsigned(&URL_SAFE_NO_PAD.encode(b"{\"k\":[1],\"id\":\"a\"}")).is_err());
    }

    #[test]
    fn finish_pages() {
        let c = config();
        let p = finish(vec![1, 2, 3], 2, &c, |v| (json!(*v), v.to_string()));
        assert_eq!(p.items, vec![1, 2]);
        assert!(p.has_more);
        assert_eq!(decode(&c, p.next_cursor.as_deref().unwrap()).unwrap().id, "2");
        let p = finish(vec![1, 2], 2, &c, |v| (json!(*v), v.to_string()));
        assert!(!p.has_more && p.next_cursor.is_none());
    }

    #[test]
    fn limits() {
        assert_eq!(PageQuery::default().limit().unwrap(), 50);
        assert!(PageQuery { cursor: None, limit: Some(0) }.limit().is_err());
        assert!(PageQuery { cursor: None, limit: Some(201) }.limit().is_err());
        assert_eq!(keyset_desc("created_at", "id", 3), "(created_at < $3 OR (created_at = $3 AND id < $4))");
    }
}
