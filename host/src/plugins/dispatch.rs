//! `/v1/<plugin>/<path>`: the request path every product call takes.
//!
//! In order: find the plugin (404 when missing or disabled) and the route
//! (404 / 405) → authenticate (token or session) → resolve the tenant → check
//! the tenant's feature set (404) → access mode and scope (401/403) → rate
//! limits → read the body under the route's cap (413) → take a concurrency
//! permit (503 `plugin_busy`) → invoke the plugin under its time limit
//! (504 `plugin_timeout`; trap/panic/OOM → 500 `plugin_failed`) → return its
//! response. A plugin never sees a request it may not serve, nor the caller's
//! credentials.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http_body_util::BodyExt;
use kiwi_plugin_api::manifest::{Access, Request as PluginRequest};

use super::caps::CallCtx;
use super::wasm::{CallError, wit};
use super::{LoadedPlugin, LoadedRoute, Runtime};
use crate::error::{ApiError, EnvelopeMarker, ErrorCode};
use crate::http_util::client_ip;
use crate::principal::{self, Principal, ScopeSet, Via};
use crate::state::AppState;
use crate::tenants::Tenant;
use crate::usage::UsageEvent;
use crate::usage::metrics::PluginOutcome;

/// The dispatcher routes.
pub fn dispatch_routes() -> Router<AppState> {
    Router::new().route("/v1/{plugin}/{*rest}", any(dispatch))
}

/// Everything decided about a request before the plugin runs.
pub struct Admitted {
    pub plugin: Arc<LoadedPlugin>,
    pub route_idx: usize,
    pub params: Vec<(String, String)>,
    pub principal: Option<Principal>,
    pub tenant: Tenant,
}

async fn dispatch(
    State(state): State<AppState>,
    Path((plugin, rest)): Path<(String, String)>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let path = format!("/{rest}");
    let admitted = match admit(&state, &plugin, &path, &parts).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let route = &admitted.plugin.routes[admitted.route_idx];
    let ip = client_ip(&parts, state.config.trust_forwarded_for);

    // Rate limits (per token / per IP, secondary buckets, ingest cooldown).
    let limit_req = crate::ratelimit::PluginLimitRequest {
        plugin: &admitted.plugin.name,
        route: &route.spec,
        principal: admitted.principal.as_ref(),
        client_ip: ip,
        raw_query: parts.uri.query(),
    };
    let limit_headers = match state.limiter.check_plugin_request(&limit_req).await {
        Ok(h) => h,
        Err(e) => {
            let res = e.into_response();
            record_usage(&state, &admitted, route, &parts, ip, res.status().as_u16(), started, 0, 0);
            return res;
        }
    };

    let cap = route.spec.body_limit.map(|b| b as usize).unwrap_or(state.config.body_limit);
    let body = match read_body(body, cap).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };

    let plugin = admitted.plugin.clone();
    let request_id = crate::request_id::current();
    let preq = PluginRequest {
        method: parts.method.as_str().to_owned(),
        path,
        route: route.spec.path.clone(),
        params: admitted.params.clone(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: forwarded_headers(&parts.headers),
        body,
        context: kiwi_plugin_api::manifest::Context {
            tenant: admitted.tenant.slug.clone(),
            principal: admitted.principal.as_ref().map(|p| plugin_principal(&state, p)),
            request_id: request_id.clone(),
            client_ip: ip.to_string(),
        },
    };
    let bytes_in = preq.body.len() as u64;
    let call = CallCtx { tenant_id: admitted.tenant.id.clone(), request_id, host_calls: 0 };
    let outcome = invoke(&plugin, call, preq).await;
    let micros = started.elapsed().as_micros() as u64;
    let (mut res, bytes_out, result) = match outcome {
        Ok(r) => {
            plugin.stats.record(micros, r.status >= 500);
            let n = r.body.len() as u64;
            let kind = if r.status >= 500 { PluginOutcome::Error } else { PluginOutcome::Ok };
            (plugin_response(&plugin, r), n, kind)
        }
        Err(e) => {
            plugin.stats.record(micros, true);
            let kind = match e.code {
                ErrorCode::PluginTimeout => PluginOutcome::Timeout,
                ErrorCode::PluginBusy => PluginOutcome::Busy,
                _ => PluginOutcome::Error,
            };
            (e.into_response(), 0, kind)
        }
    };
    state.usage.metrics.plugin_outcome(&plugin.name, result);
    limit_headers.apply(res.headers_mut());
    record_usage(&state, &admitted, route, &parts, ip, res.status().as_u16(), started, bytes_in, bytes_out);
    res
}

/// Hands one request to the usage recorder (buffered; no database write here).
#[allow(clippy::too_many_arguments)]
fn record_usage(
    state: &AppState,
    a: &Admitted,
    route: &LoadedRoute,
    parts: &axum::http::request::Parts,
    ip: std::net::IpAddr,
    status: u16,
    started: Instant,
    bytes_in: u64,
    bytes_out: u64,
) {
    let (user_id, token_id) = match &a.principal {
        Some(p) => (Some(p.user_id.clone()), p.token_id().map(str::to_owned)),
        None => (None, None),
    };
    state.usage.record(UsageEvent {
        tenant_id: Some(a.tenant.id.clone()),
        user_id,
        token_id,
        plugin: a.plugin.name.clone(),
        method: parts.method.as_str().to_owned(),
        route: format!("/v1/{}{}", a.plugin.name, route.spec.path),
        status,
        latency: started.elapsed(),
        bytes_in,
        bytes_out,
        client_ip: ip,
    });
}

/// Finds plugin and route, authenticates, resolves the tenant and checks access.
pub async fn admit(
    state: &AppState,
    plugin: &str,
    path: &str,
    parts: &axum::http::request::Parts,
) -> Result<Admitted, ApiError> {
    let not_found = || ApiError::not_found(format!("no route {} /v1/{plugin}{path}", parts.method));
    let slot = state.plugins.slot(plugin).ok_or_else(not_found)?;
    if !slot.enabled.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(not_found());
    }
    let loaded = slot.current.clone();
    let matched = loaded.router.at(path).map_err(|_| not_found())?;
    let method = if parts.method == Method::HEAD { "GET" } else { parts.method.as_str() };
    let Some(&route_idx) = matched.value.iter().find(|&&i| loaded.routes[i].spec.method == method) else {
        let allow: Vec<&str> = matched.value.iter().map(|&i| loaded.routes[i].spec.method.as_str()).collect();
        let e = ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("{} is not allowed here; allowed: {}", parts.method, allow.join(", ")),
        );
        return Err(match HeaderValue::from_str(&allow.join(", ")) {
            Ok(v) => e.with_header(header::ALLOW, v),
            Err(_) => e,
        });
    };
    let params: Vec<(String, String)> = matched.params.iter().map(|(k, v)| (k.to_owned(), percent_decode(v))).collect();

    // An in-process caller (`kiwi call`) may attach a principal; HTTP clients cannot.
    let principal = match parts.extensions.get::<Principal>() {
        Some(p) => Some(p.clone()),
        None => principal::authenticate(state, parts).await?,
    };
    let tenant = state.tenants.resolve(state, parts, principal.as_ref()).await?;
    if !state.plugins.enabled_for(&slot, &tenant.id) {
        return Err(not_found());
    }
    check_access(&loaded.routes[route_idx], principal.as_ref())?;
    Ok(Admitted { plugin: loaded, route_idx, params, principal, tenant })
}

fn check_access(route: &LoadedRoute, principal: Option<&Principal>) -> Result<(), ApiError> {
    let scope_ok = |p: &Principal| match (&p.via, route.scope_bit) {
        (Via::Token { scopes, .. }, Some(bit)) => scopes.grants_bit(bit),
        _ => true,
    };
    let insufficient = || {
        ApiError::new(
            ErrorCode::InsufficientScope,
            format!("this token lacks the {:?} scope", route.spec.scope.as_deref().unwrap_or("")),
        )
    };
    match route.spec.access {
        Access::Public => match principal {
            Some(p) if !scope_ok(p) => Err(insufficient()),
            _ => Ok(()),
        },
        Access::Token => match principal {
            None => {
                Err(ApiError::not_authenticated("an API token is required (Authorization: Bearer kiwi_… or X-API-Key)"))
            }
            Some(p) if !matches!(p.via, Via::Token { .. }) => {
                Err(ApiError::not_authenticated("this route needs an API token, not a session"))
            }
            Some(p) if !scope_ok(p) => Err(insufficient()),
            Some(_) => Ok(()),
        },
        Access::Session => match principal {
            Some(p) if matches!(p.via, Via::Session { .. }) => Ok(()),
            Some(_) => Err(ApiError::forbidden("this route needs a logged-in session")),
            None => Err(ApiError::not_authenticated("log in first")),
        },
        Access::Master => match principal {
            Some(p) if p.is_master => Ok(()),
            Some(_) => Err(ApiError::forbidden("master (platform superuser) only")),
            None => Err(ApiError::not_authenticated("authentication required")),
        },
    }
}

fn plugin_principal(state: &AppState, p: &Principal) -> kiwi_plugin_api::manifest::Principal {
    let (token_id, scopes) = match &p.via {
        Via::Token { token_id, scopes, .. } => (
            Some(token_id.clone()),
            match scopes {
                ScopeSet::All => vec!["*".to_owned()],
                s => state.tokens.scopes().names(*s),
            },
        ),
        Via::Session { .. } => (None, vec!["*".to_owned()]),
    };
    kiwi_plugin_api::manifest::Principal { user_id: Some(p.user_id.clone()), token_id, scopes, is_master: p.is_master }
}

/// Headers a plugin may see: everything but credentials and hop-by-hop headers.
fn forwarded_headers(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "authorization"
                    | "x-api-key"
                    | "cookie"
                    | "proxy-authorization"
                    | "connection"
                    | "transfer-encoding"
                    | "upgrade"
                    | "te"
            )
        })
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
        .collect()
}

async fn read_body(body: Body, cap: usize) -> Result<Vec<u8>, ApiError> {
    let limited = http_body_util::Limited::new(body, cap);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes().to_vec()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            Err(ApiError::new(ErrorCode::PayloadTooLarge, format!("request body larger than {cap} bytes")))
        }
        Err(e) => Err(ApiError::bad_request(format!("could not read the request body: {e}"))),
    }
}

/// Runs the plugin under its concurrency and time limits.
pub async fn invoke(
    plugin: &LoadedPlugin,
    call: CallCtx,
    req: PluginRequest,
) -> Result<kiwi_plugin_api::manifest::Response, ApiError> {
    let Ok(_permit) = plugin.semaphore.clone().try_acquire_owned() else {
        plugin.stats.busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(ApiError::new(
            ErrorCode::PluginBusy,
            format!("plugin {} is at its concurrency limit; retry shortly", plugin.name),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1")));
    };
    let limits = *plugin.limits();
    let res = match &plugin.runtime {
        Runtime::Wasm(w) => match w.handle(call, to_wit(req)).await {
            Ok(r) => Ok(kiwi_plugin_api::manifest::Response { status: r.status, headers: r.headers, body: r.body }),
            Err(CallError::Timeout) => {
                plugin.stats.timeouts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Err(ApiError::new(
                    ErrorCode::PluginTimeout,
                    format!("plugin {} exceeded its {} ms time limit", plugin.name, limits.timeout_ms),
                ))
            }
            Err(CallError::Failed(msg)) => {
                tracing::warn!(plugin = %plugin.name, error = %msg, "plugin call failed");
                Err(ApiError::new(
                    ErrorCode::PluginFailed,
                    format!("plugin {} failed (trap, panic or out of memory)", plugin.name),
                ))
            }
            Err(CallError::Unavailable(msg)) => {
                tracing::warn!(plugin = %plugin.name, error = %msg, "plugin instance unavailable");
                Err(ApiError::new(
                    ErrorCode::PluginBusy,
                    format!("plugin {} has no free instance; retry shortly", plugin.name),
                ))
            }
        },
        Runtime::Native(n) => {
            match tokio::time::timeout(Duration::from_millis(limits.timeout_ms as u64), n.handle(call, req)).await {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(msg)) => {
                    tracing::warn!(plugin = %plugin.name, error = %msg, "native plugin call failed");
                    Err(ApiError::new(ErrorCode::PluginFailed, format!("plugin {} failed", plugin.name)))
                }
                Err(_) => {
                    plugin.stats.timeouts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Err(ApiError::new(
                        ErrorCode::PluginTimeout,
                        format!("plugin {} exceeded its {} ms time limit", plugin.name, limits.timeout_ms),
                    ))
                }
            }
        }
    }?;
    let max = limits.max_response_mib as usize * 1024 * 1024;
    if res.body.len() > max {
        tracing::warn!(plugin = %plugin.name, bytes = res.body.len(), "plugin response over the cap");
        return Err(ApiError::new(
            ErrorCode::PluginFailed,
            format!("plugin {} returned a response larger than {} MiB", plugin.name, limits.max_response_mib),
        ));
    }
    Ok(res)
}

fn to_wit(r: PluginRequest) -> wit::Request {
    wit::Request {
        method: r.method,
        path: r.path,
        route: r.route,
        params: r.params,
        query: r.query,
        headers: r.headers,
        body: r.body,
        context: wit::Context {
            tenant: r.context.tenant,
            principal: r.context.principal.map(|p| wit::Principal {
                user_id: p.user_id,
                token_id: p.token_id,
                scopes: p.scopes,
                is_master: p.is_master,
            }),
            request_id: r.context.request_id,
            client_ip: r.context.client_ip,
        },
    }
}

/// Response headers a plugin may not set (platform-owned or hop-by-hop).
fn blocked_response_header(name: &str) -> bool {
    matches!(
        name,
        "set-cookie"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "x-request-id"
            | "content-security-policy"
            | "strict-transport-security"
            | "access-control-allow-origin"
            | "access-control-allow-credentials"
    ) || name.starts_with("x-ratelimit")
}

fn plugin_response(plugin: &LoadedPlugin, r: kiwi_plugin_api::manifest::Response) -> Response {
    let status = match StatusCode::from_u16(r.status) {
        Ok(s) if (200..=599).contains(&r.status) => s,
        _ => {
            tracing::warn!(plugin = %plugin.name, status = r.status, "plugin returned an invalid status");
            return ApiError::new(
                ErrorCode::PluginFailed,
                format!("plugin {} returned an invalid status", plugin.name),
            )
            .into_response();
        }
    };
    // A plugin's error envelope is kept, with this request's id filled in.
    let mut body = r.body;
    let mut is_envelope = false;
    if status.as_u16() >= 400
        && let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body)
        && let Some(err) = v.get_mut("error").and_then(|e| e.as_object_mut()).filter(|e| e.contains_key("code"))
    {
        let rid = crate::request_id::current();
        if err.get("request_id").and_then(|x| x.as_str()) != Some(rid.as_str()) {
            err.insert("request_id".into(), serde_json::Value::String(rid));
            body = serde_json::to_vec(&v).unwrap_or(body);
        }
        is_envelope = true;
    }
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    for (k, v) in r.headers.iter().take(64) {
        let lk = k.to_ascii_lowercase();
        if blocked_response_header(&lk) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(lk.as_bytes()), HeaderValue::from_str(v)) {
            res.headers_mut().append(name, value);
        }
    }
    if is_envelope {
        res.extensions_mut().insert(EnvelopeMarker);
    }
    res
}

fn percent_decode(s: &str) -> String {
    urlencoding::decode(s).map(|c| c.into_owned()).unwrap_or_else(|_| s.to_owned())
}
