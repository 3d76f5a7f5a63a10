//! Runtime control, no restarts: the master's `/admin/plugins…` (list with
//! stats, enable, disable, reload, install) and tenant admins' feature sets
//! (`/tenants/{slug}/plugins…`).

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::manifest_file::Tier;
use super::{LoadedPlugin, Runtime, Slot};
use crate::error::{ApiResult, ErrorCode};
use crate::http_util::Json;
use crate::openapi::{Auth, DocRouter, RouteDoc};
use crate::principal::{Authenticated, Master};
use crate::state::AppState;

/// `/admin/plugins*` routes.
pub fn admin_routes() -> DocRouter {
    let example = json!({"items": [{"name": "hello", "version": "0.1.0", "tier": "wasm", "state": "enabled", "calls": 12, "errors": 0, "p50_ms": 0.1, "p99_ms": 0.4}]});
    DocRouter::new()
        .route(
            RouteDoc::new("GET", "/admin/plugins", "Plugins: state, version, load time, calls, errors, p50/p99 latency").tag("admin").auth(Auth::Master).response(example),
            get(list).post(install),
        )
        .doc(
            RouteDoc::new("POST", "/admin/plugins", "Install a plugin from a path on the server; its routes appear at once")
                .tag("admin")
                .auth(Auth::Master)
                .status(201)
                .errors(&[ErrorCode::ValidationError, ErrorCode::Conflict, ErrorCode::BadRequest])
                .request(json!({"name": "hello2", "path": "/srv/kiwi/plugins/hello2.wasm", "tier": "wasm"})),
        )
        .route(
            RouteDoc::new("POST", "/admin/plugins/{name}/enable", "Enable a plugin platform-wide").tag("admin").auth(Auth::Master).errors(&[ErrorCode::NotFound]),
            post(enable),
        )
        .route(
            RouteDoc::new("POST", "/admin/plugins/{name}/disable", "Disable a plugin platform-wide (its routes answer 404)").tag("admin").auth(Auth::Master).errors(&[ErrorCode::NotFound]),
            post(disable),
        )
        .route(
            RouteDoc::new("POST", "/admin/plugins/{name}/reload", "Reload a plugin from its path; in-flight requests finish on the old version")
                .tag("admin")
                .auth(Auth::Master)
                .errors(&[ErrorCode::NotFound, ErrorCode::BadRequest, ErrorCode::Conflict]),
            post(reload),
        )
        .route(
            RouteDoc::new("GET", "/tenants/{slug}/plugins", "The tenant's feature set: every platform plugin and whether it is on for this tenant")
                .tag("tenants")
                .auth(Auth::Session)
                .errors(&[ErrorCode::NotFound])
                .response(json!({"items": [{"name": "rotations", "description": "…", "enabled": true, "available": true, "scopes": ["rotations:read"]}]})),
            get(tenant_list),
        )
        .route(
            RouteDoc::new("PUT", "/tenants/{slug}/plugins/{name}", "Turn a plugin on or off for this tenant (tenant owner/admin or master)")
                .tag("tenants")
                .auth(Auth::Session)
                .errors(&[ErrorCode::NotFound, ErrorCode::ValidationError])
                .request(json!({"enabled": false})),
            axum::routing::put(tenant_set),
        )
}

async fn tenant_list(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(slug): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let tenant = state.tenants.by_slug(&slug).await?;
    // Members see their tenant's feature set; admins may change it.
    if !p.is_master && state.tenants.role_of(&p.user_id, &tenant.id).await?.is_none() {
        return Err(crate::error::ApiError::not_found(format!("no tenant {slug:?}")));
    }
    let items: Vec<Value> = state
        .plugins
        .slots()
        .iter()
        .map(|(name, slot)| {
            json!({
                "name": name,
                "description": slot.current.manifest.description,
                "version": slot.current.manifest.version,
                "available": slot.enabled.load(Ordering::Relaxed),
                "platform_enabled": slot.enabled.load(Ordering::Relaxed),
                "enabled": state.plugins.enabled_for(slot, &tenant.id),
                "scopes": slot.current.manifest.scopes.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(axum::Json(json!({"tenant": tenant.slug, "items": items})))
}

/// `PUT /tenants/{slug}/plugins/{name}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantToggle {
    enabled: bool,
}

async fn tenant_set(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path((slug, name)): Path<(String, String)>,
    Json(body): Json<TenantToggle>,
) -> ApiResult<axum::Json<Value>> {
    let tenant = state.tenants.require_admin(&p, &slug).await?;
    state.plugins.set_tenant_enabled(&state, &tenant.id, &name, body.enabled).await?;
    tenant_changed(&state, &tenant.id, &name);
    let slot =
        state.plugins.slot(&name).ok_or_else(|| crate::error::ApiError::not_found(format!("no plugin {name:?}")))?;
    Ok(axum::Json(
        json!({"tenant": tenant.slug, "name": name, "enabled": state.plugins.enabled_for(&slot, &tenant.id)}),
    ))
}

/// Tells other instances a tenant's feature set changed.
fn tenant_changed(_state: &AppState, tenant_id: &str, name: &str) {
    tracing::info!(tenant = %tenant_id, plugin = %name, "tenant plugin choice changed");
}

fn ms(us: Option<u64>) -> Value {
    match us {
        Some(u) if u == u64::MAX => Value::from("inf"),
        Some(u) => Value::from(u as f64 / 1000.0),
        None => Value::Null,
    }
}

/// One plugin as the admin sees it.
pub fn describe(name: &str, slot: &Slot) -> Value {
    let p: &LoadedPlugin = &slot.current;
    let s = &p.stats;
    json!({
        "name": name,
        "version": p.manifest.version,
        "description": p.manifest.description,
        "tier": match p.tier() { Tier::Wasm => "wasm", Tier::Native => "native" },
        "state": if slot.enabled.load(Ordering::Relaxed) { "enabled" } else { "disabled" },
        "path": p.entry.path.display().to_string(),
        "loaded_at": p.loaded_at_ms,
        "routes": p.routes.iter().map(|r| json!({"method": r.spec.method, "path": format!("/v1/{name}{}", r.spec.path), "access": r.spec.access.as_str(), "scope": r.spec.scope})).collect::<Vec<_>>(),
        "scopes": p.manifest.scopes.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
        "default_for_new_tenants": p.entry.default_for_new_tenants,
        "limits": {"memory_mib": p.entry.limits.memory_mib, "timeout_ms": p.entry.limits.timeout_ms, "max_concurrency": p.entry.limits.max_concurrency},
        "calls": s.calls.load(Ordering::Relaxed),
        "errors": s.errors.load(Ordering::Relaxed),
        "timeouts": s.timeouts.load(Ordering::Relaxed),
        "busy": s.busy.load(Ordering::Relaxed),
        "p50_ms": ms(s.quantile_us(0.5)),
        "p99_ms": ms(s.quantile_us(0.99)),
        "in_flight": p.entry.limits.max_concurrency as usize - p.semaphore.available_permits(),
        "idle_instances": match &p.runtime { Runtime::Wasm(w) => w.idle_count(), Runtime::Native(_) => 0 },
    })
}

async fn list(State(state): State<AppState>, _m: Master) -> ApiResult<axum::Json<Value>> {
    let mut items: Vec<Value> = state.plugins.slots().iter().map(|(n, s)| describe(n, s)).collect();
    for (name, error) in state.plugins.failures() {
        if state.plugins.slot(&name).is_none() {
            items.push(json!({"name": name, "state": "failed", "error": error}));
        }
    }
    Ok(axum::Json(json!({"items": items})))
}

async fn enable(State(state): State<AppState>, _m: Master, Path(name): Path<String>) -> ApiResult<axum::Json<Value>> {
    state.plugins.set_enabled(&state, &name, true).await?;
    changed(&state, &name);
    one(&state, &name)
}

async fn disable(State(state): State<AppState>, _m: Master, Path(name): Path<String>) -> ApiResult<axum::Json<Value>> {
    state.plugins.set_enabled(&state, &name, false).await?;
    changed(&state, &name);
    one(&state, &name)
}

async fn reload(State(state): State<AppState>, _m: Master, Path(name): Path<String>) -> ApiResult<axum::Json<Value>> {
    state.plugins.reload_everywhere(&state, &name).await?;
    changed(&state, &name);
    one(&state, &name)
}

/// `POST /admin/plugins` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstallBody {
    name: String,
    path: String,
    #[serde(default)]
    tier: Option<Tier>,
}

async fn install(
    State(state): State<AppState>,
    _m: Master,
    Json(body): Json<InstallBody>,
) -> ApiResult<(axum::http::StatusCode, axum::Json<Value>)> {
    let path = PathBuf::from(&body.path);
    if !path.is_absolute() {
        return Err(crate::error::ApiError::validation("path", "must be an absolute path on the server"));
    }
    state.plugins.install(&state, &body.name, &path, body.tier.unwrap_or_default()).await?;
    changed(&state, &body.name);
    let v = one(&state, &body.name)?;
    Ok((axum::http::StatusCode::CREATED, v))
}

fn one(state: &AppState, name: &str) -> ApiResult<axum::Json<Value>> {
    let slot =
        state.plugins.slot(name).ok_or_else(|| crate::error::ApiError::not_found(format!("no plugin {name:?}")))?;
    Ok(axum::Json(describe(name, &slot)))
}

/// Tells other instances (multi-instance bus hook).
fn changed(_state: &AppState, name: &str) {
    tracing::info!(plugin = %name, "plugin changed");
}
