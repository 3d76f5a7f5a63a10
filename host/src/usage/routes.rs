//! Usage HTTP routes: activity for a user's tokens, a tenant's usage, the
//! master's global / per-plugin / per-tenant views and raw event feed, and `GET /metrics`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sqlx::Row;

use super::activity::{self, Filter};
use crate::config::MetricsAccess;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::openapi::{Auth, DocRouter, RouteDoc};
use crate::pagination::{self, PageQuery};
use crate::principal::{Authenticated, Master, SessionUser};
use crate::state::AppState;

/// Parses a raw query string into `T` (422 `validation_error` on a bad or unknown parameter).
pub fn parse_query<T: DeserializeOwned>(raw: Option<&str>) -> ApiResult<T> {
    serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| {
        let msg = e.to_string();
        ApiError::new(ErrorCode::ValidationError, format!("invalid query: {msg}"))
            .with_details(json!([{"loc": ["query"], "msg": msg}]))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DaysQuery {
    days: Option<u32>,
}

fn days(raw: Option<&str>) -> ApiResult<u32> {
    let q: DaysQuery = parse_query(raw)?;
    match q.days {
        None => Ok(7),
        Some(d) if (1..=365).contains(&d) => Ok(d),
        Some(_) => Err(ApiError::validation("query.days", "must be between 1 and 365")),
    }
}

async fn tenant_id_by_slug(state: &AppState, slug: &str) -> ApiResult<String> {
    let row = sqlx::query("SELECT id FROM tenants WHERE slug = $1").bind(slug).fetch_optional(&state.db.pool).await?;
    match row {
        Some(r) => Ok(r.try_get("id")?),
        None => Err(ApiError::not_found("tenant not found")),
    }
}

async fn summary(state: &AppState, f: &Filter, days: u32) -> ApiResult<Response> {
    Ok(axum::Json(activity::summary(&state.db, f, days, state.clock.now_ms()).await?).into_response())
}

/// `GET /tokens/activity`.
async fn my_activity(
    State(state): State<AppState>,
    SessionUser(p): SessionUser,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let d = days(q.as_deref())?;
    summary(&state, &Filter { user_id: Some(p.user_id), ..Default::default() }, d).await
}

/// `GET /tokens/{id}/activity`.
async fn token_activity(
    State(state): State<AppState>,
    SessionUser(p): SessionUser,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let d = days(q.as_deref())?;
    let owner =
        sqlx::query("SELECT user_id FROM api_tokens WHERE id = $1").bind(&id).fetch_optional(&state.db.pool).await?;
    match owner {
        Some(r) if r.try_get::<String, _>("user_id")? == p.user_id => {}
        _ => return Err(ApiError::not_found("token not found")),
    }
    summary(&state, &Filter { user_id: Some(p.user_id), token_id: Some(id), ..Default::default() }, d).await
}

/// `GET /tenants/{slug}/usage`: tenant owners and admins, or the master.
async fn tenant_usage(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(slug): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let d = days(q.as_deref())?;
    let tenant_id = tenant_id_by_slug(&state, &slug).await?;
    if !p.is_master {
        let role = sqlx::query("SELECT role FROM tenant_members WHERE tenant_id = $1 AND user_id = $2")
            .bind(&tenant_id)
            .bind(&p.user_id)
            .fetch_optional(&state.db.pool)
            .await?;
        let ok = match role {
            Some(r) => matches!(r.try_get::<String, _>("role")?.as_str(), "owner" | "admin"),
            None => false,
        };
        if !ok {
            return Err(ApiError::forbidden("tenant owners and admins only"));
        }
    }
    summary(&state, &Filter { tenant_id: Some(tenant_id), ..Default::default() }, d).await
}

/// `GET /admin/usage`.
async fn admin_usage(State(state): State<AppState>, _m: Master, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let d = days(q.as_deref())?;
    summary(&state, &Filter::default(), d).await
}

/// `GET /admin/usage/plugins/{name}`.
async fn admin_usage_plugin(
    State(state): State<AppState>,
    _m: Master,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let d = days(q.as_deref())?;
    summary(&state, &Filter { plugin: Some(name), ..Default::default() }, d).await
}

/// `GET /admin/usage/tenants/{slug}`.
async fn admin_usage_tenant(
    State(state): State<AppState>,
    _m: Master,
    Path(slug): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let d = days(q.as_deref())?;
    let tenant_id = tenant_id_by_slug(&state, &slug).await?;
    summary(&state, &Filter { tenant_id: Some(tenant_id), ..Default::default() }, d).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    cursor: Option<String>,
    limit: Option<i64>,
    plugin: Option<String>,
    tenant: Option<String>,
    user_id: Option<String>,
    token_id: Option<String>,
    status: Option<u16>,
}

/// `GET /admin/usage/events`: the raw feed, newest first.
async fn admin_events(State(state): State<AppState>, _m: Master, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q: EventsQuery = parse_query(q.as_deref())?;
    let page = PageQuery { cursor: q.cursor.clone(), limit: q.limit };
    let limit = page.limit()?;
    let after = match page.position(&state.config)? {
        Some(c) => Some((c.k_i64()?, c.id)),
        None => None,
    };
    if let Some(s) = q.status
        && !(100..=599).contains(&s)
    {
        return Err(ApiError::validation("query.status", "must be between 100 and 599"));
    }
    let tenant_id = match &q.tenant {
        Some(slug) => Some(tenant_id_by_slug(&state, slug).await?),
        None => None,
    };
    let f = Filter {
        tenant_id,
        user_id: q.user_id,
        token_id: q.token_id,
        plugin: q.plugin,
        status: q.status.map(i64::from),
    };
    let rows = activity::events(&state.db, &f, after, limit + 1).await?;
    let page = pagination::finish(rows, limit, &state.config, |e| (json!(e.created_at), e.id.clone()));
    Ok(axum::Json(page).into_response())
}

/// `GET /metrics` (Prometheus text format).
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    match &state.config.metrics {
        MetricsAccess::Off => return Err(ApiError::not_found("metrics are disabled")),
        MetricsAccess::Open => {}
        MetricsAccess::Token(t) => {
            let presented = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .unwrap_or("");
            if !pagination::constant_time_eq(presented.as_bytes(), t.as_bytes()) {
                return Err(ApiError::not_authenticated("metrics need Authorization: Bearer <metrics token>"));
            }
        }
    }
    let body = super::metrics::render(&state);
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], body)
        .into_response())
}

fn activity_example() -> Value {
    json!({
        "window_days": 7, "since": 1_700_000_000_000i64, "total_requests": 3, "error_count": 1, "rate_limited": 1,
        "avg_latency_ms": 1.5, "latency_ms": {"p50": 0.9, "p90": 2.4, "p99": 2.5}, "bytes_in": 0, "bytes_out": 512,
        "by_day": [{"date": "2023-11-14", "count": 3, "error_count": 1, "rate_limited": 1, "avg_latency_ms": 1.5}],
        "by_route": [{"plugin": "rotations", "method": "GET", "route": "/v1/rotations/current", "count": 3, "error_count": 1, "rate_limited": 1, "avg_latency_ms": 1.5}],
        "by_plugin": [{"plugin": "rotations", "count": 3, "error_count": 1, "avg_latency_ms": 1.5}],
        "by_status_class": {"1xx": 0, "2xx": 2, "3xx": 0, "4xx": 1, "5xx": 0}
    })
}

/// Usage routes.
pub fn routes() -> DocRouter {
    use ErrorCode::*;
    DocRouter::new()
        .route(
            RouteDoc::new("GET", "/tokens/activity", "Activity of all your API tokens (`?days=1..365`, default 7)")
                .tag("tokens")
                .auth(Auth::Session)
                .errors(&[NotAuthenticated, Forbidden, ValidationError])
                .response(activity_example()),
            get(my_activity),
        )
        .route(
            RouteDoc::new("GET", "/tokens/{id}/activity", "Activity of one of your API tokens (`?days=`)")
                .tag("tokens")
                .auth(Auth::Session)
                .errors(&[NotAuthenticated, Forbidden, NotFound, ValidationError])
                .response(activity_example()),
            get(token_activity),
        )
        .route(
            RouteDoc::new("GET", "/tenants/{slug}/usage", "A tenant's usage (tenant owners/admins, or the master; `?days=`)")
                .tag("tenants")
                .auth(Auth::Any)
                .errors(&[NotAuthenticated, Forbidden, NotFound, ValidationError])
                .response(activity_example()),
            get(tenant_usage),
        )
        .route(
            RouteDoc::new("GET", "/admin/usage", "Global usage (`?days=`)").tag("admin").auth(Auth::Master).errors(&[NotAuthenticated, Forbidden, ValidationError]).response(activity_example()),
            get(admin_usage),
        )
        .route(
            RouteDoc::new("GET", "/admin/usage/plugins/{name}", "One plugin's usage (`?days=`)")
                .tag("admin")
                .auth(Auth::Master)
                .errors(&[NotAuthenticated, Forbidden, ValidationError])
                .response(activity_example()),
            get(admin_usage_plugin),
        )
        .route(
            RouteDoc::new("GET", "/admin/usage/tenants/{slug}", "One tenant's usage (`?days=`)")
                .tag("admin")
                .auth(Auth::Master)
                .errors(&[NotAuthenticated, Forbidden, NotFound, ValidationError])
                .response(activity_example()),
            get(admin_usage_tenant),
        )
        .route(
            RouteDoc::new("GET", "/admin/usage/events", "Raw usage events, newest first (`?cursor&limit&plugin&tenant&user_id&token_id&status`)")
                .tag("admin")
                .auth(Auth::Master)
                .errors(&[NotAuthenticated, Forbidden, BadRequest, NotFound, ValidationError])
                .response(json!({"items": [{"id": "use_00112233445566ff", "created_at": 1_700_000_000_000i64, "tenant_id": "ten_default", "user_id": "usr_1", "token_id": "tok_1", "plugin": "rotations", "method": "GET", "route": "/v1/rotations/current", "status": 200, "latency_ms": 0.8, "bytes_in": 0, "bytes_out": 120, "ip_hash": "9f86d081884c7d659a2feaa0c55ad015"}], "next_cursor": null, "has_more": false})),
            get(admin_events),
        )
        .route(
            RouteDoc::new("GET", "/metrics", "Prometheus metrics (access per `KIWI_METRICS` / `KIWI_METRICS_TOKEN`)").tag("meta").errors(&[NotAuthenticated, NotFound]),
            get(metrics),
        )
}
