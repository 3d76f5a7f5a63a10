//! `Idempotency-Key` for every POST/PUT/PATCH, host and plugin routes alike
//! (an axum middleware added in `app.rs`).
//!
//! Behaviour:
//! - The first response (status, headers, body) to a `(principal, key)` pair is kept for
//!   `idempotency_ttl_seconds` (runtime config, default 24 h) and replayed for a repeat with
//!   `Idempotent-Replay: true`. The principal is the API token id, the session user id, or the
//!   client IP for anonymous callers.
//! - The request is fingerprinted (SHA-256 of method, path + query and body): the same key with a
//!   different request → 422 `idempotency_mismatch`.
//! - A key whose first request is still running → 409 `conflict` (in-process marker, plus
//!   Redis `SET NX` or a `pending` database row so it holds across instances; the claim expires
//!   after 60 s if an instance dies mid-request).
//! - Stored: responses with status < 500 except 429 and 409 (those are worth retrying; the key is
//!   released instead). Streaming (`text/event-stream`) and bodies over 4 MiB are not stored.
//! - Keys must be 1–255 visible ASCII characters (else 400 `bad_request`).
//! - Stored responses are encrypted (HMAC-SHA256 keystream with a random nonce, plus a MAC) under a
//!   key derived from the host secret, since they may hold secrets (e.g. a new API token).
//! - Storage: Redis keys `<namespace>idem:<hash>` when Redis is configured, else the
//!   `idempotency_keys` table (expired rows swept in the background).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::clock::Clock;
use crate::db::Db;
use crate::error::{ApiError, EnvelopeMarker, ErrorCode};
use crate::http_util::client_ip;
use crate::pagination::{constant_time_eq, hmac_sha256};
use crate::principal::{Principal, Via};
use crate::runtime_config::RuntimeConfig;
use crate::state::AppState;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The replay marker header.
pub const REPLAY_HEADER: &str = "idempotent-replay";
/// How long an in-flight claim holds if its instance dies.
const LOCK_MS: i64 = 60_000;
/// Largest response body kept for replay.
const MAX_STORED_BODY: usize = 4 * 1024 * 1024;

/// A stored response.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    status: u16,
    headers: Vec<(String, String)>,
    #[serde(with = "b64")]
    body: Vec<u8>,
}

mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

/// What the store knows about a key.
#[derive(Debug)]
enum Record {
    Absent,
    Pending { fingerprint: String },
    Done { fingerprint: String, response: Stored },
}

/// Redis value.
#[derive(Debug, Serialize, Deserialize)]
struct RedisValue {
    s: String,
    f: String,
    #[serde(default)]
    r: Option<String>,
}

/// The idempotency service (`state.idempotency`).
pub struct Idempotency {
    inflight: DashMap<String, String>,
    redis: Option<(redis::aio::ConnectionManager, String)>,
    db: Db,
    clock: Clock,
    enc_key: [u8; 32],
    mac_key: [u8; 32],
    runtime: Arc<RuntimeConfig>,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency").field("redis", &self.redis.is_some()).finish_non_exhaustive()
    }
}

/// Removes the in-process claim when the request ends (even if cancelled).
struct InflightGuard<'a> {
    map: &'a DashMap<String, String>,
    key: String,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.map.remove(&self.key);
    }
}

fn sha_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

impl Idempotency {
    /// `redis`: the connection and the namespace prefix (`kiwi:<db>:`).
    pub fn new(
        secret: &[u8],
        db: &Db,
        clock: &Clock,
        runtime: &Arc<RuntimeConfig>,
        redis: Option<(redis::aio::ConnectionManager, String)>,
    ) -> Self {
        Self {
            inflight: DashMap::new(),
            redis,
            db: db.clone(),
            clock: clock.clone(),
            enc_key: hmac_sha256(secret, &[b"kiwi-idempotency-enc-v1"]),
            mac_key: hmac_sha256(secret, &[b"kiwi-idempotency-mac-v1"]),
            runtime: runtime.clone(),
        }
    }

    fn ttl_ms(&self) -> i64 {
        self.runtime.int("idempotency_ttl_seconds").max(60) * 1000
    }

    fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let nonce: [u8; 16] = rand::random();
        let mut out = Vec::with_capacity(16 + plain.len() + 16);
        out.extend_from_slice(&nonce);
        out.extend(xor_stream(&self.enc_key, &nonce, plain));
        let tag = hmac_sha256(&self.mac_key, &[&out]);
        out.extend_from_slice(&tag[..16]);
        out
    }

    fn open(&self, sealed: &[u8]) -> Option<Stored> {
        if sealed.len() < 32 {
            return None;
        }
        let (body, tag) = sealed.split_at(sealed.len() - 16);
        if !constant_time_eq(&hmac_sha256(&self.mac_key, &[body])[..16], tag) {
            tracing::warn!("an idempotency record failed authentication; ignoring it");
            return None;
        }
        let (nonce, ct) = body.split_at(16);
        serde_json::from_slice(&xor_stream(&self.enc_key, nonce, ct)).ok()
    }

    async fn load(&self, sk: &str) -> anyhow::Result<Record> {
        if let Some((conn, prefix)) = &self.redis {
            let mut conn = conn.clone();
            let v: Option<String> = redis::cmd("GET").arg(format!("{prefix}idem:{sk}")).query_async(&mut conn).await?;
            let Some(v) = v else { return Ok(Record::Absent) };
            let v: RedisValue = serde_json::from_str(&v)?;
            return Ok(match (v.s.as_str(), v.r) {
                ("done", Some(r)) => match STANDARD.decode(r).ok().and_then(|b| self.open(&b)) {
                    Some(response) => Record::Done { fingerprint: v.f, response },
                    None => Record::Absent,
                },
                _ => Record::Pending { fingerprint: v.f },
            });
        }
        let row =
            sqlx::query("SELECT fingerprint, state, response, expires_at FROM idempotency_keys WHERE storage_key = $1")
                .bind(sk)
                .fetch_optional(&self.db.pool)
                .await?;
        let Some(row) = row else { return Ok(Record::Absent) };
        if row.try_get::<i64, _>("expires_at")? <= self.clock.now_ms() {
            return Ok(Record::Absent);
        }
        let fingerprint: String = row.try_get("fingerprint")?;
        let state: String = row.try_get("state")?;
        let response: Option<Vec<u8>> = row.try_get("response")?;
        Ok(match (state.as_str(), response.and_then(|r| self.open(&r))) {
            ("done", Some(response)) => Record::Done { fingerprint, response },
            ("done", None) => Record::Absent,
            _ => Record::Pending { fingerprint },
        })
    }

    /// Claims the key across instances; false if someone else holds it.
    async fn claim(&self, sk: &str, fp: &str) -> anyhow::Result<bool> {
        let now = self.clock.now_ms();
        if let Some((conn, prefix)) = &self.redis {
            let mut conn = conn.clone();
            let v = serde_json::to_string(&RedisValue { s: "pending".into(), f: fp.into(), r: None })?;
            let ok: Option<String> = redis::cmd("SET")
                .arg(format!("{prefix}idem:{sk}"))
                .arg(v)
                .arg("NX")
                .arg("PX")
                .arg(LOCK_MS)
                .query_async(&mut conn)
                .await?;
            return Ok(ok.is_some());
        }
        sqlx::query("DELETE FROM idempotency_keys WHERE storage_key = $1 AND expires_at <= $2")
            .bind(sk)
            .bind(now)
            .execute(&self.db.pool)
            .await?;
        let r = sqlx::query(
            "INSERT INTO idempotency_keys (storage_key, fingerprint, state, response, created_at, expires_at) VALUES ($1, $2, 'pending', NULL, $3, $4) \
             ON CONFLICT (storage_key) DO NOTHING",
        )
        .bind(sk)
        .bind(fp)
        .bind(now)
        .bind(now + LOCK_MS)
        .execute(&self.db.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn store(&self, sk: &str, fp: &str, stored: &Stored) -> anyhow::Result<()> {
        let sealed = self.seal(&serde_json::to_vec(stored)?);
        let ttl = self.ttl_ms();
        if let Some((conn, prefix)) = &self.redis {
            let mut conn = conn.clone();
            let v = serde_json::to_string(&RedisValue {
                s: "done".into(),
                f: fp.into(),
                r: Some(STANDARD.encode(&sealed)),
            })?;
            let _: () = redis::cmd("SET")
                .arg(format!("{prefix}idem:{sk}"))
                .arg(v)
                .arg("PX")
                .arg(ttl)
                .query_async(&mut conn)
                .await?;
            return Ok(());
        }
        let now = self.clock.now_ms();
        sqlx::query(
            "UPDATE idempotency_keys SET state = 'done', response = $1, expires_at = $2 WHERE storage_key = $3",
        )
        .bind(sealed)
        .bind(now + ttl)
        .bind(sk)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    async fn release(&self, sk: &str) -> anyhow::Result<()> {
        if let Some((conn, prefix)) = &self.redis {
            let mut conn = conn.clone();
            let _: i64 = redis::cmd("DEL").arg(format!("{prefix}idem:{sk}")).query_async(&mut conn).await?;
            return Ok(());
        }
        sqlx::query("DELETE FROM idempotency_keys WHERE storage_key = $1 AND state = 'pending'")
            .bind(sk)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Deletes expired database records.
    pub async fn sweep(&self) -> anyhow::Result<u64> {
        let r = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
            .bind(self.clock.now_ms())
            .execute(&self.db.pool)
            .await?;
        Ok(r.rows_affected())
    }

    /// Sweeps every `usage_sweep_interval_seconds` (database mode only).
    pub fn spawn_sweeper(self: &Arc<Self>) {
        if self.redis.is_some() {
            return;
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let period = match weak.upgrade() {
                    Some(this) => this.runtime.int("usage_sweep_interval_seconds").max(10) as u64,
                    None => break,
                };
                tokio::time::sleep(Duration::from_secs(period)).await;
                let Some(this) = weak.upgrade() else { break };
                if let Err(e) = this.sweep().await {
                    tracing::warn!(error = %format!("{e:#}"), "idempotency sweep failed");
                }
            }
        });
    }
}

/// `data XOR HMAC(key, nonce ‖ counter)` blocks.
fn xor_stream(key: &[u8; 32], nonce: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for (i, chunk) in data.chunks(32).enumerate() {
        let block = hmac_sha256(key, &[nonce, &(i as u64).to_be_bytes()]);
        out.extend(chunk.iter().zip(block.iter()).map(|(a, b)| a ^ b));
    }
    out
}

/// The storage key of `(principal, key)`: `principal` is `token:<id>`, `user:<id>` or `ip:<addr>`.
pub fn storage_key(principal: &str, key: &str) -> String {
    sha_hex(&[principal.as_bytes(), key.as_bytes()])
}

/// The fingerprint of a request: method, path with query, body.
pub fn fingerprint(method: &str, path_and_query: &str, body: &[u8]) -> String {
    sha_hex(&[method.as_bytes(), path_and_query.as_bytes(), body])
}

fn principal_key(p: Option<&Principal>, ip: std::net::IpAddr) -> String {
    match p {
        Some(Principal { via: Via::Token { token_id, .. }, .. }) => format!("token:{token_id}"),
        Some(p) => format!("user:{}", p.user_id),
        None => format!("ip:{ip}"),
    }
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Headers never stored or replayed (per-request or added by outer layers).
fn keep_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    !(n == "content-length"
        || n == "date"
        || n == "transfer-encoding"
        || n == "connection"
        || n == "retry-after"
        || n == crate::request_id::HEADER
        || n.starts_with("x-ratelimit-"))
}

fn replay(stored: Stored) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut res = Response::new(Body::from(stored.body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    for (k, v) in stored.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
            h.append(k, v);
        }
    }
    h.insert(HeaderName::from_static(REPLAY_HEADER), HeaderValue::from_static("true"));
    if status.is_client_error() || status.is_server_error() {
        // The stored body is already an envelope.
        res.extensions_mut().insert(EnvelopeMarker);
    }
    res
}

fn mismatch() -> Response {
    ApiError::new(ErrorCode::IdempotencyMismatch, "this Idempotency-Key was used with a different request")
        .into_response()
}

fn in_flight() -> Response {
    ApiError::conflict("a request with this Idempotency-Key is already in progress").into_response()
}

/// The middleware.
pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
        return next.run(req).await;
    }
    let Some(raw_key) = req.headers().get(HEADER) else { return next.run(req).await };
    let key = match raw_key.to_str() {
        Ok(k) if valid_key(k.trim()) => k.trim().to_owned(),
        _ => return ApiError::bad_request("Idempotency-Key must be 1-255 visible ASCII characters").into_response(),
    };
    let (mut parts, body) = req.into_parts();
    // Authenticate once here (handlers reuse the principal from the extensions). A bad
    // credential skips idempotency: the handler answers 401 itself.
    let principal = match crate::principal::authenticate(&state, &parts).await {
        Ok(p) => p,
        Err(_) => return next.run(Request::from_parts(parts, body)).await,
    };
    if let Some(p) = &principal {
        parts.extensions.insert(p.clone());
    }
    let ip = client_ip(&parts, state.config.trust_forwarded_for);
    let cap = state.config.body_limit.max(64 * 1024 * 1024);
    let bytes = match axum::body::to_bytes(body, cap).await {
        Ok(b) => b,
        Err(_) => return ApiError::new(ErrorCode::PayloadTooLarge, "request body too large").into_response(),
    };
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let fp = fingerprint(parts.method.as_str(), path, &bytes);
    let sk = storage_key(&principal_key(principal.as_ref(), ip), &key);
    let idem = &state.idempotency;

    if let Some(other) = idem.inflight.get(&sk).map(|v| v.clone()) {
        return if other == fp { in_flight() } else { mismatch() };
    }
    match idem.load(&sk).await {
        Ok(Record::Done { fingerprint, response }) => {
            return if fingerprint == fp {
                state.usage.metrics.idempotent_replays.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                replay(response)
            } else {
                mismatch()
            };
        }
        Ok(Record::Pending { fingerprint }) => return if fingerprint == fp { in_flight() } else { mismatch() },
        Ok(Record::Absent) => {}
        Err(e) => return ApiError::internal(e.context("idempotency lookup")).into_response(),
    }
    // Claim: in-process first (cheap, exact within the instance), then across instances.
    if idem.inflight.insert(sk.clone(), fp.clone()).is_some() {
        return in_flight();
    }
    let _guard = InflightGuard { map: &idem.inflight, key: sk.clone() };
    match idem.claim(&sk, &fp).await {
        Ok(true) => {}
        Ok(false) => {
            return match idem.load(&sk).await {
                Ok(Record::Done { fingerprint, response }) if fingerprint == fp => replay(response),
                Ok(Record::Done { .. }) => mismatch(),
                Ok(Record::Pending { fingerprint }) if fingerprint != fp => mismatch(),
                _ => in_flight(),
            };
        }
        Err(e) => return ApiError::internal(e.context("idempotency claim")).into_response(),
    }

    let res = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let status = res.status();
    let streaming = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    let storable = status.as_u16() < 500 && status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::CONFLICT;
    if !storable || streaming {
        if let Err(e) = idem.release(&sk).await {
            tracing::warn!(error = %format!("{e:#}"), "releasing an idempotency key");
        }
        return res;
    }
    let (parts, body) = res.into_parts();
    let body = match axum::body::to_bytes(body, MAX_STORED_BODY).await {
        Ok(b) => b,
        Err(e) => {
            // Too large to keep (or a broken body): release and answer with an error.
            let _ = idem.release(&sk).await;
            return ApiError::internal(anyhow::anyhow!("buffering a response for idempotency: {e}")).into_response();
        }
    };
    let stored = Stored { status: status.as_u16(), headers: stored_headers(&parts.headers), body: body.to_vec() };
    if let Err(e) = idem.store(&sk, &fp, &stored).await {
        tracing::warn!(error = %format!("{e:#}"), "storing an idempotent response");
        let _ = idem.release(&sk).await;
    }
    Response::from_parts(parts, Body::from(body))
}

fn stored_headers(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .filter(|(k, _)| keep_header(k))
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_fingerprints() {
        assert!(valid_key("abc-123_XYZ"));
        assert!(!valid_key(""));
        assert!(!valid_key("has space"));
        assert!(!valid_key(&"k".repeat(256)));
        assert_ne!(sha_hex(&[b"ab", b"c"]), sha_hex(&[b"a", b"bc"]), "length-prefixed");
    }

    #[test]
    fn xor_stream_round_trips() {
        let key = [7u8; 32];
        let data: Vec<u8> = (0..100u8).collect();
        let ct = xor_stream(&key, b"nonce", &data);
        assert_ne!(ct, data);
        assert_eq!(xor_stream(&key, b"nonce", &ct), data);
    }
}
