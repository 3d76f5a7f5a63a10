//! `/admin/users*`, `/admin/tokens*`, `/admin/tenants`: the master's view of
//! accounts, API tokens and tenants (search, paginate, deactivate, promote, revoke).
//! Mutations invalidate the owners' caches (and, through their outboxes, every instance's).

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http_util::{is_json, parse_json};
use crate::openapi::{Auth, DocRouter, RouteDoc};
use crate::pagination::{self, PageQuery, keyset_desc};
use crate::principal::Master;
use crate::state::AppState;
use crate::usage::routes::parse_query;

fn opt_i64(r: &AnyRow, c: &str) -> ApiResult<Option<i64>> {
    Ok(r.try_get::<Option<i64>, _>(c)?)
}

const USER_COLS: &str = "u.id, u.email, u.display_name, u.is_active, u.is_verified, u.is_master, u.created_at, u.last_login_at, \
    (SELECT CAST(COUNT(*) AS BIGINT) FROM api_tokens t WHERE t.user_id = u.id) AS token_count, \
    (SELECT CAST(COUNT(*) AS BIGINT) FROM api_tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL) AS active_token_count";

fn user_view(r: &AnyRow) -> ApiResult<Value> {
    Ok(json!({
        "id": r.try_get::<String, _>("id")?,
        "email": r.try_get::<String, _>("email")?,
        "display_name": r.try_get::<Option<String>, _>("display_name")?,
        "is_active": r.try_get::<i64, _>("is_active")? != 0,
        "is_verified": r.try_get::<i64, _>("is_verified")? != 0,
        "is_master": r.try_get::<i64, _>("is_master")? != 0,
        "created_at": r.try_get::<i64, _>("created_at")?,
        "last_login_at": opt_i64(r, "last_login_at")?,
        "token_count": r.try_get::<i64, _>("token_count")?,
        "active_token_count": r.try_get::<i64, _>("active_token_count")?,
    }))
}

async fn load_user(state: &AppState, id: &str) -> ApiResult<Value> {
    let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(&state.db.pool)
        .await?;
    match row {
        Some(r) => user_view(&r),
        None => Err(ApiError::not_found("user not found")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersQuery {
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `GET /admin/users?q=&cursor=&limit=`: newest first; `q` matches email or display name.
async fn list_users(State(state): State<AppState>, _m: Master, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q: UsersQuery = parse_query(q.as_deref())?;
    let page = PageQuery { cursor: q.cursor, limit: q.limit };
    let limit = page.limit()?;
    let pos = page.position(&state.config)?;
    let pattern = q.q.map(|s| format!("%{}%", s.trim().to_lowercase().replace(['\\', '%', '_'], "")));
    let mut sql = format!(
        "SELECT {USER_COLS} FROM users u WHERE ($1 = '' OR LOWER(u.email) LIKE $1 OR LOWER(COALESCE(u.display_name, '')) LIKE $1)"
    );
    if pos.is_some() {
        sql.push_str(" AND ");
        sql.push_str(&keyset_desc("u.created_at", "u.id", 3));
    }
    sql.push_str(" ORDER BY u.created_at DESC, u.id DESC LIMIT $2");
    let mut query = sqlx::query(&sql).bind(pattern.unwrap_or_default()).bind(i64::from(limit) + 1);
    if let Some(c) = pos {
        query = query.bind(c.k_i64()?).bind(c.id);
    }
    let rows = query.fetch_all(&state.db.pool).await?;
    let items = rows.iter().map(user_view).collect::<ApiResult<Vec<_>>>()?;
    let page = pagination::finish(items, limit, &state.config, |u| {
        (u["created_at"].clone(), u["id"].as_str().unwrap_or("").to_owned())
    });
    Ok(axum::Json(page).into_response())
}

async fn get_user(State(state): State<AppState>, _m: Master, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(axum::Json(load_user(&state, &id).await?).into_response())
}

/// Applies a flag change to a user and invalidates their sessions and tokens everywhere.
async fn set_user_flag(state: &AppState, id: &str, sql: &str) -> ApiResult<Value> {
    load_user(state, id).await?;
    sqlx::query(sql).bind(state.clock.now_ms()).bind(id).execute(&state.db.pool).await?;
    state.accounts.invalidate_user(id);
    state.tokens.invalidate_user(id);
    load_user(state, id).await
}

async fn deactivate(State(state): State<AppState>, Master(p): Master, Path(id): Path<String>) -> ApiResult<Response> {
    if id == p.user_id {
        return Err(ApiError::bad_request("you cannot deactivate yourself"));
    }
    // Bumping the token version ends every access JWT at once.
    let v = set_user_flag(
        &state,
        &id,
        "UPDATE users SET is_active = 0, token_version = token_version + 1, updated_at = $1 WHERE id = $2",
    )
    .await?;
    tracing::info!(user_id = %id, by = %p.user_id, "user deactivated");
    Ok(axum::Json(v).into_response())
}

async fn activate(State(state): State<AppState>, Master(p): Master, Path(id): Path<String>) -> ApiResult<Response> {
    let v = set_user_flag(&state, &id, "UPDATE users SET is_active = 1, updated_at = $1 WHERE id = $2").await?;
    tracing::info!(user_id = %id, by = %p.user_id, "user activated");
    Ok(axum::Json(v).into_response())
}

async fn promote(State(state): State<AppState>, Master(p): Master, Path(id): Path<String>) -> ApiResult<Response> {
    let v = set_user_flag(&state, &id, "UPDATE users SET is_master = 1, updated_at = $1 WHERE id = $2").await?;
    tracing::info!(user_id = %id, by = %p.user_id, "user promoted to master");
    Ok(axum::Json(v).into_response())
}

async fn demote(State(state): State<AppState>, Master(p): Master, Path(id): Path<String>) -> ApiResult<Response> {
    if id == p.user_id {
        return Err(ApiError::bad_request("you cannot demote yourself"));
    }
    let v = set_user_flag(&state, &id, "UPDATE users SET is_master = 0, updated_at = $1 WHERE id = $2").await?;
    tracing::info!(user_id = %id, by = %p.user_id, "user demoted");
    Ok(axum::Json(v).into_response())
}

const TOKEN_COLS: &str = "t.id, t.user_id, t.tenant_id, t.name, t.prefix, t.all_scopes, t.scopes, t.expires_at, t.created_at, \
    t.last_used_at, t.rotated_at, t.revoked_at, t.revoke_reason, t.request_count, u.email AS user_email, n.slug AS tenant";

fn token_view(state: &AppState, r: &AnyRow) -> ApiResult<Value> {
    let all = r.try_get::<i64, _>("all_scopes")? != 0;
    let mask = r.try_get::<i64, _>("scopes")?;
    let set = if all { crate::principal::ScopeSet::All } else { crate::principal::ScopeSet::Mask(mask as u64) };
    Ok(json!({
        "id": r.try_get::<String, _>("id")?,
        "user_id": r.try_get::<String, _>("user_id")?,
        "user_email": r.try_get::<Option<String>, _>("user_email")?,
        "tenant_id": r.try_get::<String, _>("tenant_id")?,
        "tenant": r.try_get::<Option<String>, _>("tenant")?,
        "name": r.try_get::<String, _>("name")?,
        "prefix": r.try_get::<String, _>("prefix")?,
        "scopes": state.tokens.scopes().names(set),
        "all_scopes": all,
        "expires_at": opt_i64(r, "expires_at")?,
        "created_at": r.try_get::<i64, _>("created_at")?,
        "last_used_at": opt_i64(r, "last_used_at")?,
        "rotated_at": opt_i64(r, "rotated_at")?,
        "revoked": opt_i64(r, "revoked_at")?.is_some(),
        "revoked_at": opt_i64(r, "revoked_at")?,
        "revoke_reason": r.try_get::<Option<String>, _>("revoke_reason")?,
        "request_count": r.try_get::<i64, _>("request_count")?,
    }))
}

const TOKEN_FROM: &str =
    "FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id LEFT JOIN tenants n ON n.id = t.tenant_id";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensQuery {
    user_id: Option<String>,
    tenant: Option<String>,
    active: Option<bool>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `GET /admin/tokens?user_id=&tenant=&active=&cursor=&limit=`: every token, newest first.
async fn list_tokens(State(state): State<AppState>, _m: Master, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q: TokensQuery = parse_query(q.as_deref())?;
    let page = PageQuery { cursor: q.cursor, limit: q.limit };
    let limit = page.limit()?;
    let pos = page.position(&state.config)?;
    let mut sql =
        format!("SELECT {TOKEN_COLS} {TOKEN_FROM} WHERE ($1 = '' OR t.user_id = $1) AND ($2 = '' OR n.slug = $2)");
    match q.active {
        Some(true) => sql.push_str(" AND t.revoked_at IS NULL"),
        Some(false) => sql.push_str(" AND t.revoked_at IS NOT NULL"),
        None => {}
    }
    if pos.is_some() {
        sql.push_str(" AND ");
        sql.push_str(&keyset_desc("t.created_at", "t.id", 4));
    }
    sql.push_str(" ORDER BY t.created_at DESC, t.id DESC LIMIT $3");
    let mut query = sqlx::query(&sql)
        .bind(q.user_id.unwrap_or_default())
        .bind(q.tenant.unwrap_or_default())
        .bind(i64::from(limit) + 1);
    if let Some(c) = pos {
        query = query.bind(c.k_i64()?).bind(c.id);
    }
    let rows = query.fetch_all(&state.db.pool).await?;
    let items = rows.iter().map(|r| token_view(&state, r)).collect::<ApiResult<Vec<_>>>()?;
    let page = pagination::finish(items, limit, &state.config, |t| {
        (t["created_at"].clone(), t["id"].as_str().unwrap_or("").to_owned())
    });
    Ok(axum::Json(page).into_response())
}

async fn load_token(state: &AppState, id: &str) -> ApiResult<Value> {
    let row = sqlx::query(&format!("SELECT {TOKEN_COLS} {TOKEN_FROM} WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(&state.db.pool)
        .await?;
    match row {
        Some(r) => token_view(state, &r),
        None => Err(ApiError::not_found("token not found")),
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: Option<String>,
}

/// `POST /admin/tokens/{id}/revoke` `{reason?}`: idempotent (the first reason is kept).
async fn revoke_token(
    State(state): State<AppState>,
    Master(p): Master,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge, "request body too large"))?;
    let b: RevokeBody = if bytes.is_empty() {
        RevokeBody::default()
    } else if is_json(&parts.headers) {
        parse_json(&bytes)?
    } else {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "expected Content-Type: application/json"));
    };
    let reason = b
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "Revoked by administrator".to_owned());
    if reason.chars().count() > 200 {
        return Err(ApiError::validation("reason", "at most 200 characters"));
    }
    load_token(&state, &id).await?;
    state.tokens.revoke(&id, &reason).await.map_err(ApiError::internal)?;
    tracing::info!(token_id = %id, by = %p.user_id, "token revoked by the master");
    Ok(axum::Json(load_token(&state, &id).await?).into_response())
}

/// `GET /admin/tenants?cursor=&limit=`: every tenant with member and token counts, newest first.
async fn list_tenants(State(state): State<AppState>, _m: Master, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let page: PageQuery = parse_query(q.as_deref())?;
    let limit = page.limit()?;
    let pos = page.position(&state.config)?;
    let mut sql = String::from(
        "SELECT n.id, n.slug, n.name, n.plan, n.rate_limit_per_min, n.created_at, \
         (SELECT CAST(COUNT(*) AS BIGINT) FROM tenant_members m WHERE m.tenant_id = n.id) AS member_count, \
         (SELECT CAST(COUNT(*) AS BIGINT) FROM api_tokens t WHERE t.tenant_id = n.id AND t.revoked_at IS NULL) AS active_token_count \
         FROM tenants n WHERE 1 = 1",
    );
    if pos.is_some() {
        sql.push_str(" AND ");
        sql.push_str(&keyset_desc("n.created_at", "n.id", 2));
    }
    sql.push_str(" ORDER BY n.created_at DESC, n.id DESC LIMIT $1");
    let mut query = sqlx::query(&sql).bind(i64::from(limit) + 1);
    if let Some(c) = pos {
        query = query.bind(c.k_i64()?).bind(c.id);
    }
    let rows = query.fetch_all(&state.db.pool).await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(json!({
                "id": r.try_get::<String, _>("id")?,
                "slug": r.try_get::<String, _>("slug")?,
                "name": r.try_get::<String, _>("name")?,
                "plan": r.try_get::<String, _>("plan")?,
                "rate_limit_per_min": opt_i64(r, "rate_limit_per_min")?,
                "created_at": r.try_get::<i64, _>("created_at")?,
                "member_count": r.try_get::<i64, _>("member_count")?,
                "active_token_count": r.try_get::<i64, _>("active_token_count")?,
            }))
        })
        .collect::<ApiResult<Vec<Value>>>()?;
    let page = pagination::finish(items, limit, &state.config, |t| {
        (t["created_at"].clone(), t["id"].as_str().unwrap_or("").to_owned())
    });
    Ok(axum::Json(page).into_response())
}

fn user_example() -> Value {
    json!({"id": "usr_00112233445566ff", "email": "ann@example.com", "display_name": "Ann", "is_active": true, "is_verified": true,
        "is_master": false, "created_at": 1_700_000_000_000i64, "last_login_at": 1_700_000_500_000i64, "token_count": 2, "active_token_count": 1})
}

fn token_example() -> Value {
    json!({"id": "tok_00112233445566ff", "user_id": "usr_00112233445566ff", "user_email": "ann@example.com", "tenant_id": "ten_default",
        "tenant": "default", "name": "CI", "prefix": "kiwi_Ab12Cd34", "scopes": ["rotations:read"], "all_scopes": false, "expires_at": null,
        "created_at": 1_700_000_000_000i64, "last_used_at": null, "rotated_at": null, "revoked": true, "revoked_at": 1_700_000_900_000i64,
        "revoke_reason": "Revoked by administrator", "request_count": 0})
}

fn page_of(v: Value) -> Value {
    json!({"items": [v], "next_cursor": null, "has_more": false})
}

/// The routes.
pub fn routes() -> DocRouter {
    use ErrorCode::*;
    let master = [NotAuthenticated, Forbidden];
    DocRouter::new()
        .route(
            RouteDoc::new("GET", "/admin/users", "Users, newest first (`?q=` email/name search, `cursor`, `limit`)")
                .tag("admin")
                .auth(Auth::Master)
                .errors(&[NotAuthenticated, Forbidden, BadRequest, ValidationError])
                .response(page_of(user_example())),
            get(list_users),
        )
        .route(
            RouteDoc::new("GET", "/admin/users/{id}", "One user").tag("admin").auth(Auth::Master).errors(&[NotAuthenticated, Forbidden, NotFound]).response(user_example()),
            get(get_user),
        )
        .route(
            RouteDoc::new("POST", "/admin/users/{id}/deactivate", "Deactivate a user (ends their sessions; their tokens stop working)")
                .tag("admin")
                .auth(Auth::Master)
                .errors(&[NotAuthenticated, Forbidden, NotFound, BadRequest])
                .response(user_example()),
            post(deactivate),
        )
        .route(
            RouteDoc::new("POST", "/admin/users/{id}/activate", "Reactivate a user").tag("admin").auth(Auth::Master).errors(&[NotAuthenticated, Forbidden, NotFound]).response(user_example()),
            post(activate),
        )
        .route(
            RouteDoc::new("POST", "/admin/users/{id}/promote", "Make a user a master").tag("admin").auth(Auth::Master).errors(&[NotAuthenticated, Forbidden, NotFound]).response(user_example()),
            post(promote),
        )
        .route(
            RouteDoc::new("POST", "/admin/users/{id}/demote", "Remove a user's master rights").tag("admin").auth(Auth::Master).errors(&[NotAuthenticated, Forbidden, NotFound, BadRequest]).response(user_example()),
            post(demote),
        )
        .route(
            RouteDoc::new("GET", "/admin/tokens", "Every API token, newest first (`?user_id&tenant&active&cursor&limit`)")
                .tag("admin")
                .auth(Auth::Master)
                .errors(&[NotAuthenticated, Forbidden, BadRequest, ValidationError])
                .response(page_of(token_example())),
            get(list_tokens),
        )
        .route(
            RouteDoc::new("POST", "/admin/tokens/{id}/revoke", "Revoke any token (optional `{reason}`; idempotent)")
                .tag("admin")
                .auth(Auth::Master)
                .errors(&[NotAuthenticated, Forbidden, NotFound, ValidationError, UnsupportedMediaType, BadRequest])
                .request(json!({"reason": "Leaked in a public repository"}))
                .response(token_example()),
            post(revoke_token),
        )
        .route(
            RouteDoc::new("GET", "/admin/tenants", "Every tenant, newest first (`cursor`, `limit`)")
                .tag("admin")
                .auth(Auth::Master)
                .errors(&master)
                .response(page_of(json!({"id": "ten_default", "slug": "default", "name": "Default", "plan": "free", "rate_limit_per_min": null, "created_at": 0, "member_count": 3, "active_token_count": 2}))),
            get(list_tenants),
        )
}
