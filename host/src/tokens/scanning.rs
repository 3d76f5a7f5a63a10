//! GitHub secret scanning (partner program): `POST /secret-scanning/github`.
//! The raw body is verified against an ECDSA P-256 / SHA-256 signature
//! (`Github-Public-Key-Signature`, base64 DER) with the PEM key named by
//! `Github-Public-Key-Identifier`, fetched from `config.github_keys_url` and
//! cached (refetched on an unknown identifier, at most once a minute).
//! Reported tokens are revoked with reason `leaked: <url>`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http_util::Json;
use crate::state::AppState;

use super::format;

/// Least time between two fetches of the key list.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest URL kept in a revoke reason.
const MAX_URL_IN_REASON: usize = 500;

/// The cached GitHub public keys.
#[derive(Default)]
pub struct KeyCache {
    inner: tokio::sync::Mutex<KeyCacheInner>,
}

#[derive(Default)]
struct KeyCacheInner {
    keys: HashMap<String, VerifyingKey>,
    last_fetch: Option<Instant>,
}

#[derive(Debug, Deserialize)]
struct KeyList {
    public_keys: Vec<KeyEntry>,
}

#[derive(Debug, Deserialize)]
struct KeyEntry {
    key_identifier: String,
    key: String,
}

async fn fetch_keys(url: &str) -> anyhow::Result<HashMap<String, VerifyingKey>> {
    let client = reqwest::Client::builder().timeout(FETCH_TIMEOUT).build()?;
    let list: KeyList = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(reqwest::header::USER_AGENT, "kiwi-secret-scanning")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut keys = HashMap::new();
    for k in list.public_keys {
        match VerifyingKey::from_public_key_pem(k.key.trim()) {
            Ok(vk) => {
                keys.insert(k.key_identifier, vk);
            }
            Err(e) => {
                tracing::warn!(key_identifier = %k.key_identifier, error = %e, "skipping a secret-scanning key that is not P-256")
            }
        }
    }
    Ok(keys)
}

impl KeyCache {
    /// The key with this identifier, fetching the list when it is unknown
    /// (rate limited to one fetch per [`REFETCH_INTERVAL`]).
    pub async fn key(&self, url: &str, id: &str) -> Option<VerifyingKey> {
        let mut inner = self.inner.lock().await;
        if let Some(k) = inner.keys.get(id) {
            return Some(*k);
        }
        if inner.last_fetch.is_some_and(|t| t.elapsed() < REFETCH_INTERVAL) {
            return None;
        }
        inner.last_fetch = Some(Instant::now());
        match fetch_keys(url).await {
            Ok(keys) => inner.keys = keys,
            Err(e) => tracing::warn!(error = format!("{e:#}"), "fetching the secret-scanning public keys failed"),
        }
        inner.keys.get(id).copied()
    }
}

/// Verifies `signature_b64` (base64 DER) over `body` with the key `key_id`.
pub async fn verify_signature(state: &AppState, key_id: &str, signature_b64: &str, body: &[u8]) -> bool {
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(signature_b64.trim()) else {
        return false;
    };
    let Ok(sig) = Signature::from_der(&der) else {
        return false;
    };
    let Some(key) = state.tokens.scanning.key(&state.tokens.github_keys_url, key_id).await else {
        return false;
    };
    key.verify(body, &sig).is_ok()
}

/// `POST /secret-scanning/github`.
pub async fn github(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Vec<Value>>> {
    // rate limit: secret-scanning webhook per IP (ratelimit module)
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let (Some(key_id), Some(signature)) =
        (header("github-public-key-identifier"), header("github-public-key-signature"))
    else {
        return Err(ApiError::not_authenticated("missing secret-scanning signature headers"));
    };
    if !verify_signature(&state, key_id, signature, &body).await {
        return Err(ApiError::new(ErrorCode::Forbidden, "invalid secret-scanning signature"));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|_| ApiError::bad_request("body must be JSON"))?;
    let Value::Array(items) = value else {
        return Err(ApiError::bad_request("body must be a JSON array of token matches"));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(raw) = item.get("token").and_then(Value::as_str) else {
            continue;
        };
        let token_type = item.get("type").and_then(Value::as_str).unwrap_or("kiwi_api_token");
        let url = item.get("url").and_then(Value::as_str).unwrap_or("unknown");
        let label = if handle_leak(&state, raw, url).await? { "true_positive" } else { "false_positive" };
        out.push(json!({"token_raw": raw, "token_type": token_type, "label": label}));
    }
    Ok(Json(out))
}

/// Revokes a reported token; true when it is (or was) a real token of ours.
async fn handle_leak(state: &AppState, raw: &str, url: &str) -> ApiResult<bool> {
    if !matches!(format::check(raw), format::Check::Valid { .. }) {
        return Ok(false);
    }
    let hash = state.tokens.hash_hex(raw);
    let Some(row) = state.tokens.store().find_by_hash(&hash).await? else {
        return Ok(false);
    };
    let url: String = url.chars().take(MAX_URL_IN_REASON).collect();
    if row.token_hash == hash {
        if state.tokens.revoke(&row.id, &format!("leaked: {url}")).await? {
            tracing::warn!(token_id = %row.id, "API token revoked: reported by GitHub secret scanning");
        }
    } else {
        // The previous secret of a rotation in its grace period: end the grace now.
        state.tokens.store().end_grace(&row.id).await?;
        state.tokens.invalidate(&row.id);
        tracing::warn!(token_id = %row.id, "previous secret of a rotated API token reported leaked: grace ended");
    }
    Ok(true)
}
