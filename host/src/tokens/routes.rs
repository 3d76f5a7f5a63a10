//! HTTP surface of the token service: `/tokens/*` (session users manage their
//! own tokens in the request's tenant), `GET /v1/whoami` (an API token checks
//! itself), `GET /scopes` (the public registry) and the GitHub secret-scanning
//! webhook.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::IntoResponse as _;
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http_util::{ClientIp, Json, is_json, parse_json};
use crate::openapi::{Auth, DocRouter, RouteDoc};
use crate::principal::{Authenticated, Principal, ScopeSet, SessionUser, Via};
use crate::state::AppState;
use crate::tenants::Tenant;

use super::store::TokenRow;
use super::{MAX_GRACE_SECONDS, entry_text, parse_ip_entry};

/// Tokens a user may create per rolling 24 h.
pub const DAILY_CREATION_CAP: i64 = 3;
/// Longest token name.
pub const MAX_NAME_CHARS: usize = 80;
/// Longest revoke reason.
pub const MAX_REASON_CHARS: usize = 200;
/// Most allowlist entries per token.
pub const MAX_ALLOWED_IPS: usize = 100;
/// Accepted `expires_in_days` values (or `null`: never).
pub const EXPIRY_CHOICES: [i64; 3] = [30, 60, 90];

fn example_token() -> Value {
    json!({
        "id": "tok_5f2c0a9e1b3d4c6a7e8f9012",
        "name": "CI pipeline",
        "prefix": "kiwi_Ab12Cd34",
        "tenant_id": "ten_default",
        "scopes": ["rotations:read", "stats:read"],
        "allowed_ips": ["203.0.113.7", "10.0.0.0/8"],
        "allowed_ip_count": 2,
        "revoked": false,
        "revoked_at": null,
        "revoke_reason": null,
        "created_at": 1767225600000i64,
        "last_used_at": null,
        "rotated_at": null,
        "expires_at": 1769817600000i64,
        "grace_until": null,
        "request_count": 0
    })
}

/// `/tokens/*`, `/v1/whoami`, `/scopes` and `/secret-scanning/github`.
pub fn routes() -> DocRouter {
    let mut created = example_token();
    created["token"] = json!("kiwi_Ab12Cd34xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx_eQPpmd");
    DocRouter::new()
        .route(
            RouteDoc::new("POST", "/tokens", "Create an API token in the request's tenant (the secret is shown once)")
                .tag("tokens")
                .auth(Auth::Session)
                .status(201)
                .errors(&[ErrorCode::ValidationError, ErrorCode::Forbidden, ErrorCode::RateLimited, ErrorCode::BadRequest, ErrorCode::UnsupportedMediaType])
                .request(json!({"name": "CI pipeline", "scopes": ["rotations:read"], "allowed_ips": ["203.0.113.7", "10.0.0.0/8"], "expires_in_days": 30}))
                .response(created.clone()),
            post(create).get(list),
        )
        .doc(
            RouteDoc::new("GET", "/tokens", "My tokens in the request's tenant (revoked ones included)")
                .tag("tokens")
                .auth(Auth::Session)
                .errors(&[ErrorCode::Forbidden])
                .response(json!([example_token()])),
        )
        .route(
            RouteDoc::new("GET", "/tokens/{id}", "One of my tokens")
                .tag("tokens")
                .auth(Auth::Session)
                .errors(&[ErrorCode::NotFound, ErrorCode::Forbidden])
                .response(example_token()),
            get(show).patch(update),
        )
        .doc(
            RouteDoc::new("PATCH", "/tokens/{id}", "Rename a token or replace its IP allowlist")
                .tag("tokens")
                .auth(Auth::Session)
                .errors(&[ErrorCode::NotFound, ErrorCode::ValidationError, ErrorCode::BadRequest, ErrorCode::Forbidden])
                .request(json!({"name": "CI (new)", "allowed_ips": []}))
                .response(example_token()),
        )
        .route(
            RouteDoc::new("POST", "/tokens/{id}/rotate", "New secret; the old one keeps working for `grace_seconds` (≤ 86400) if asked")
                .tag("tokens")
                .auth(Auth::Session)
                .errors(&[ErrorCode::NotFound, ErrorCode::ValidationError, ErrorCode::BadRequest, ErrorCode::Forbidden])
                .request(json!({"grace_seconds": 3600}))
                .response(created),
            post(rotate),
        )
        .route(
            RouteDoc::new("POST", "/tokens/{id}/revoke", "Revoke a token (idempotent: the first reason is kept)")
                .tag("tokens")
                .auth(Auth::Session)
                .errors(&[ErrorCode::NotFound, ErrorCode::ValidationError, ErrorCode::Forbidden])
                .request(json!({"reason": "No longer using it"})),
            post(revoke),
        )
        .route(
            RouteDoc::new("GET", "/v1/whoami", "The presenting API token: tenant, scopes, expiry, allowlist size")
                .tag("tokens")
                .auth(Auth::Token)
                .errors(&[ErrorCode::InvalidToken, ErrorCode::TokenRevoked, ErrorCode::TokenExpired, ErrorCode::IpNotAllowed, ErrorCode::Forbidden])
                .response(json!({
                    "token_id": "tok_5f2c0a9e1b3d4c6a7e8f9012", "name": "CI pipeline", "prefix": "kiwi_Ab12Cd34",
                    "user_id": "usr_0123456789abcdef", "tenant": "default", "scopes": ["rotations:read"],
                    "expires_at": 1769817600000i64, "allowed_ip_count": 2
                })),
            get(whoami),
        )
        .route(
            RouteDoc::new("GET", "/scopes", "The scope registry (permanent bits), for scope pickers")
                .tag("tokens")
                .response(json!([{"name": "rotations:read", "bit": 0, "resource": "rotations", "description": "", "plugin": null}])),
            get(list_scopes),
        )
        .route(
            RouteDoc::new("POST", "/secret-scanning/github", "GitHub secret-scanning partner webhook (ECDSA-signed)")
                .tag("tokens")
                .errors(&[ErrorCode::NotAuthenticated, ErrorCode::Forbidden, ErrorCode::BadRequest])
                .request(json!([{"token": "kiwi_…", "type": "kiwi_api_token", "url": "https://github.com/o/r/blob/x/f", "source": "content"}]))
                .response(json!([{"token_raw": "kiwi_…", "token_type": "kiwi_api_token", "label": "true_positive"}])),
            post(super::scanning::github),
        )
}

/// A row as clients see it (never the secret or its hash).
pub fn public(state: &AppState, t: &TokenRow) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "tenant_id": t.tenant_id,
        "scopes": state.tokens.scopes().names(t.scopes),
        "allowed_ips": t.allowed_ips,
        "allowed_ip_count": t.allowed_ips.len(),
        "revoked": t.revoked_at.is_some(),
        "revoked_at": t.revoked_at,
        "revoke_reason": t.revoke_reason,
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
        "rotated_at": t.rotated_at,
        "expires_at": t.expires_at,
        "grace_until": t.prev_hash.as_ref().and(t.prev_expires_at),
        "request_count": t.request_count,
    })
}

/// The request's tenant, which the user must belong to (or be master).
async fn tenant_of(state: &AppState, parts: &Parts, p: &Principal) -> ApiResult<Tenant> {
    let tenant = state.tenants.resolve(state, parts, Some(p)).await?;
    if !p.is_master && !is_member(state, &tenant, p).await? {
        return Err(ApiError::forbidden("you are not a member of this tenant"));
    }
    Ok(tenant)
}

/// Tenant membership (any role).
async fn is_member(state: &AppState, tenant: &Tenant, p: &Principal) -> ApiResult<bool> {
    Ok(state.tenants.role_of(&p.user_id, &tenant.id).await?.is_some())
}

fn validate_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::validation("name", format!("must be 1 to {MAX_NAME_CHARS} characters")));
    }
    Ok(name.to_owned())
}

/// Canonical allowlist entries (exact addresses or CIDR networks, deduplicated).
fn validate_ips(entries: &[String]) -> ApiResult<Vec<String>> {
    if entries.len() > MAX_ALLOWED_IPS {
        return Err(ApiError::validation("allowed_ips", format!("at most {MAX_ALLOWED_IPS} entries")));
    }
    let mut out: Vec<String> = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let Some(net) = parse_ip_entry(e) else {
            return Err(ApiError::validation(
                &format!("allowed_ips.{i}"),
                format!("not an IP address or CIDR range: {:?}", e.chars().take(64).collect::<String>()),
            ));
        };
        let text = entry_text(&net);
        if !out.contains(&text) {
            out.push(text);
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    allowed_ips: Vec<String>,
    /// Missing: 30; `null`: never expires.
    #[serde(default = "default_expiry")]
    expires_in_days: Option<i64>,
}

fn default_expiry() -> Option<i64> {
    Some(30)
}

async fn create(
    SessionUser(p): SessionUser,
    parts: Parts,
    State(state): State<AppState>,
    Json(body): Json<CreateBody>,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    let tenant = tenant_of(&state, &parts, &p).await?;
    let name = validate_name(&body.name)?;
    let scopes = state.tokens.scopes().resolve(&body.scopes).map_err(|(i, msg)| match i {
        Some(i) => ApiError::validation(&format!("scopes.{i}"), msg),
        None => ApiError::validation("scopes", msg),
    })?;
    let allowed_ips = validate_ips(&body.allowed_ips)?;
    if body.expires_in_days.is_some_and(|d| !EXPIRY_CHOICES.contains(&d)) {
        return Err(ApiError::validation("expires_in_days", "must be 30, 60, 90 or null (never)"));
    }
    // Daily cap, counted from the table (pinned-clock aware).
    let _guard = state.tokens.creation_guard().await;
    let now = state.clock.now_ms();
    // Cap and window are live-tunable (runtime config `token_create_rate_limit_*`, default 3 per day).
    let (cap, window_secs) = state.runtime_config.rate_limit("token_create_rate_limit");
    let window_ms = i64::from(window_secs) * 1000;
    let (count, oldest) = state.tokens.store().created_since(&p.user_id, now - window_ms).await?;
    if count >= i64::from(cap) {
        let retry_ms = oldest.map_or(window_ms, |o| o + window_ms - now).max(1000);
        let retry_secs = (retry_ms + 999) / 1000;
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!("at most {cap} tokens may be created per {window_secs} s"),
        )
        .with_details(json!({"limit": cap, "window_seconds": window_secs, "retry_after": retry_secs}))
        .with_header(HeaderName::from_static("retry-after"), HeaderValue::from(retry_secs)));
    }
    let issued = state.tokens.create(&p.user_id, &tenant.id, &name, scopes, allowed_ips, body.expires_in_days).await?;
    tracing::info!(token_id = %issued.row.id, user_id = %p.user_id, "API token created");
    let mut out = public(&state, &issued.row);
    out["token"] = json!(issued.secret);
    Ok((axum::http::StatusCode::CREATED, Json(out)))
}

async fn list(SessionUser(p): SessionUser, parts: Parts, State(state): State<AppState>) -> ApiResult<Json<Vec<Value>>> {
    let tenant = tenant_of(&state, &parts, &p).await?;
    let rows = state.tokens.store().list_for_user(&p.user_id, &tenant.id).await?;
    Ok(Json(rows.into_iter().map(|r| public(&state, &state.tokens.with_pending_usage(r))).collect()))
}

/// The caller's token by id, or 404 (missing and someone else's look the same).
async fn owned(state: &AppState, p: &Principal, id: &str) -> ApiResult<TokenRow> {
    match state.tokens.store().get_for_user(id, &p.user_id).await? {
        Some(r) => Ok(state.tokens.with_pending_usage(r)),
        None => Err(ApiError::not_found("token not found")),
    }
}

async fn show(
    SessionUser(p): SessionUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let row = owned(&state, &p, &id).await?;
    Ok(Json(public(&state, &row)))
}

#[derive(Debug, Deserialize)]
struct PatchBody {
    name: Option<String>,
    /// `null`/missing: unchanged; `[]`: any IP.
    allowed_ips: Option<Vec<String>>,
}

async fn update(
    SessionUser(p): SessionUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<PatchBody>,
) -> ApiResult<Json<Value>> {
    let row = owned(&state, &p, &id).await?;
    if row.revoked_at.is_some() {
        return Err(ApiError::bad_request("token is revoked"));
    }
    let name = match &body.name {
        Some(n) => validate_name(n)?,
        None => row.name.clone(),
    };
    let ips = match &body.allowed_ips {
        Some(list) => validate_ips(list)?,
        None => row.allowed_ips.clone(),
    };
    state.tokens.store().update_meta(&row.id, &name, &ips).await?;
    state.tokens.invalidate(&row.id);
    let row = owned(&state, &p, &id).await?;
    Ok(Json(public(&state, &row)))
}

/// An optional JSON body: empty means `T::default()`.
fn optional_json<T: DeserializeOwned + Default>(headers: &HeaderMap, body: &Bytes) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    if !is_json(headers) {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "expected Content-Type: application/json"));
    }
    parse_json(body)
}

#[derive(Debug, Default, Deserialize)]
struct RotateBody {
    grace_seconds: Option<i64>,
}

async fn rotate(
    SessionUser(p): SessionUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body: RotateBody = optional_json(&headers, &body)?;
    if body.grace_seconds.is_some_and(|g| !(0..=MAX_GRACE_SECONDS).contains(&g)) {
        return Err(ApiError::validation("grace_seconds", format!("must be between 0 and {MAX_GRACE_SECONDS}")));
    }
    let row = owned(&state, &p, &id).await?;
    if row.revoked_at.is_some() {
        return Err(ApiError::bad_request("token is revoked"));
    }
    let issued = state.tokens.rotate(&row.id, body.grace_seconds).await?;
    tracing::info!(token_id = %row.id, grace_seconds = body.grace_seconds.unwrap_or(0), "API token rotated");
    let mut out = public(&state, &state.tokens.with_pending_usage(issued.row));
    out["token"] = json!(issued.secret);
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
struct RevokeBody {
    reason: String,
}

async fn revoke(
    SessionUser(p): SessionUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<RevokeBody>,
) -> ApiResult<Json<Value>> {
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::validation("reason", format!("must be 1 to {MAX_REASON_CHARS} characters")));
    }
    let row = owned(&state, &p, &id).await?;
    if state.tokens.revoke(&row.id, reason).await? {
        tracing::info!(token_id = %row.id, "API token revoked");
    }
    let row = owned(&state, &p, &id).await?;
    Ok(Json(public(&state, &row)))
}

async fn whoami(
    Authenticated(p): Authenticated,
    ClientIp(ip): ClientIp,
    State(state): State<AppState>,
) -> ApiResult<axum::response::Response> {
    let Via::Token { token_id, tenant_id, scopes } = &p.via else {
        return Err(ApiError::forbidden("this endpoint needs an API token, not a session"));
    };
    // The per-token API limit (shared with plugin routes); headers on success.
    let limit_headers = state.limiter.check_api(Some(&p), ip).await?;
    // Both from memory on the hot path (token rows and tenants are cached and invalidated on change).
    let row = state
        .tokens
        .row_cached(token_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidToken, "invalid API token"))?;
    let slug = state.tenants.record_by_id(tenant_id).await?.map(|t| t.slug.clone());
    let names = state.tokens.scopes().names(*scopes);
    let mut res = Json(json!({
        "token_id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "user_id": p.user_id,
        "tenant": slug,
        "tenant_id": tenant_id,
        "scopes": names,
        "all_scopes": *scopes == ScopeSet::All,
        "expires_at": row.expires_at,
        "allowed_ip_count": row.allowed_ips.len(),
    }))
    .into_response();
    limit_headers.apply(res.headers_mut());
    Ok(res)
}

async fn list_scopes(State(state): State<AppState>) -> Json<Vec<super::scopes::ScopeInfo>> {
    Json(state.tokens.scopes().list())
}
