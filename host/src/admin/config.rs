//! `GET /admin/config`, `PUT|DELETE /admin/config/{key}`, `GET /admin/config/audit`:
//! the runtime-config tunables and their audit log.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bus::BusMessage;
use crate::error::{ApiResult, ErrorCode};
use crate::http_util::Json;
use crate::openapi::{Auth, DocRouter, RouteDoc};
use crate::pagination::{self, PageQuery};
use crate::principal::Master;
use crate::state::AppState;
use crate::usage::routes::parse_query;

async fn list(State(state): State<AppState>, _m: Master) -> Response {
    let items = state.runtime_config.items();
    axum::Json(json!({"count": items.len(), "items": items})).into_response()
}

async fn get_one(State(state): State<AppState>, _m: Master, Path(key): Path<String>) -> ApiResult<Response> {
    Ok(axum::Json(state.runtime_config.item(&key)?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBody {
    value: Value,
}

async fn put(
    State(state): State<AppState>,
    Master(p): Master,
    Path(key): Path<String>,
    Json(body): Json<SetBody>,
) -> ApiResult<Response> {
    let item = state.runtime_config.set(&key, &body.value, &p.user_id).await?;
    tracing::info!(key = %key, by = %p.user_id, "runtime config changed");
    state.bus.publish(BusMessage::RuntimeConfigChanged { key }).await;
    Ok(axum::Json(item).into_response())
}

async fn delete(State(state): State<AppState>, Master(p): Master, Path(key): Path<String>) -> ApiResult<Response> {
    let item = state.runtime_config.reset(&key, &p.user_id).await?;
    state.bus.publish(BusMessage::RuntimeConfigChanged { key }).await;
    Ok(axum::Json(item).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    key: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

async fn audit(State(state): State<AppState>, _m: Master, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q: AuditQuery = parse_query(q.as_deref())?;
    let page = PageQuery { cursor: q.cursor, limit: q.limit };
    let limit = page.limit()?;
    let after = match page.position(&state.config)? {
        Some(c) => Some((c.k_i64()?, c.id)),
        None => None,
    };
    let rows = state.runtime_config.audit_log(q.key.as_deref(), after, limit + 1).await?;
    let page = pagination::finish(rows, limit, &state.config, |e| (json!(e.changed_at), e.id.clone()));
    Ok(axum::Json(page).into_response())
}

fn item_example() -> Value {
    json!({"key": "api_rate_limit_max", "category": "api_rate_limits", "type": "int",
        "description": "Requests per window per API token (tenant plans may override).",
        "default": 120, "value": 240, "is_default": false, "min_value": 1, "max_value": 100000,
        "updated_at": 1_700_000_000_000i64, "updated_by": "usr_00112233445566ff"})
}

/// Runtime-config routes.
pub fn routes() -> DocRouter {
    use ErrorCode::*;
    let master = [NotAuthenticated, Forbidden];
    DocRouter::new()
        .route(
            RouteDoc::new("GET", "/admin/config", "Every runtime tunable with its current value")
                .tag("admin")
                .auth(Auth::Master)
                .errors(&master)
                .response(json!({"count": 1, "items": [item_example()]})),
            get(list),
        )
        .route(
            RouteDoc::new("GET", "/admin/config/audit", "Runtime-config changes, newest first (`?key&cursor&limit`)")
                .tag("admin")
                .auth(Auth::Master)
                .errors(&[NotAuthenticated, Forbidden, BadRequest, ValidationError])
                .response(json!({"items": [{"id": "rca_00112233445566ff", "key": "api_rate_limit_max", "old_value": null, "new_value": 240, "changed_by": "usr_00112233445566ff", "changed_at": 1_700_000_000_000i64}], "next_cursor": null, "has_more": false})),
            get(audit),
        )
        .route(
            RouteDoc::new("GET", "/admin/config/{key}", "One runtime tunable").tag("admin").auth(Auth::Master).errors(&[NotAuthenticated, Forbidden, NotFound]).response(item_example()),
            get(get_one).put(put).delete(delete),
        )
        .doc(
            RouteDoc::new("PUT", "/admin/config/{key}", "Set a runtime tunable (live on every instance within 1 s; audited)")
                .tag("admin")
                .auth(Auth::Master)
                .errors(&[NotAuthenticated, Forbidden, NotFound, ValidationError, UnsupportedMediaType, BadRequest])
                .request(json!({"value": 240}))
                .response(item_example()),
        )
        .doc(
            RouteDoc::new("DELETE", "/admin/config/{key}", "Reset a runtime tunable to its default (idempotent; audited)")
                .tag("admin")
                .auth(Auth::Master)
                .errors(&[NotAuthenticated, Forbidden, NotFound])
                .response(item_example()),
        )
}
