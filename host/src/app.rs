//! The application: router assembly, cross-cutting middleware (request id,
//! security headers, envelope for every error, CORS, body cap), and the server
//! lifecycle ([`Application::build`] binds; port 0 works for tests).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::clock::Clock;
use crate::config::Config;
use crate::error::{ApiError, EnvelopeMarker, ErrorCode, envelope};
use crate::openapi::{DocRouter, RouteDoc};
use crate::request_id;
use crate::state::AppState;

/// A built, bound server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("addr", &self.listener.local_addr().ok()).finish_non_exhaustive()
    }
}

impl Application {
    /// Builds state (database, migrations, plugins) and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        Self::build_with_clock(config, Clock::default()).await
    }

    /// Like [`Application::build`] with a given clock (tests pin it).
    pub async fn build_with_clock(config: Config, clock: Clock) -> anyhow::Result<Application> {
        let bind = config.bind;
        let state = AppState::build(config, clock).await?;
        crate::bootstrap::ensure_admin_from_config(&state).await?;
        let router = router(state.clone());
        let listener = TcpListener::bind(bind).await.map_err(|e| anyhow::anyhow!("binding {bind}: {e}"))?;
        crate::bootstrap::spawn_background(&state);
        Ok(Application { listener, router, state })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The shared state (tests use it to reach services directly).
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until Ctrl-C / SIGTERM, then drains and flushes.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let state = self.state.clone();
        let result = axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown_signal())
            .await;
        crate::bootstrap::shutdown(&state).await;
        result
    }

    /// Serves until `stop` resolves (tests and embedding).
    pub async fn run_until(self, stop: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let state = self.state.clone();
        let result = axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(stop)
            .await;
        crate::bootstrap::shutdown(&state).await;
        result
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// Every documented host route.
pub fn host_routes() -> DocRouter {
    DocRouter::new()
        .route(RouteDoc::new("GET", "/health", "Liveness").tag("meta").response(json!({"status": "ok"})), get(health))
        .route(
            RouteDoc::new("GET", "/ready", "Readiness: the database answers")
                .tag("meta")
                .errors(&[ErrorCode::ServiceUnavailable]),
            get(ready),
        )
        .merge(crate::accounts::routes())
        .merge(crate::tenants::routes())
        .merge(crate::tokens::routes())
        .merge(crate::plugins::admin_routes())
        .merge(crate::usage::routes())
        .merge(crate::admin::routes())
}

/// The full router with middleware.
pub fn router(state: AppState) -> Router {
    let DocRouter { router, docs } = host_routes();
    let docs = std::sync::Arc::new(docs);
    let docs_for_openapi = docs.clone();
    let openapi =
        RouteDoc::new("GET", "/openapi.json", "This document (`?tenant=<slug>`: only what that tenant has enabled)")
            .tag("meta");
    // No configured origins: no CORS layer at all (same-origin portal; cross-origin
    // requests get no CORS headers, so browsers refuse them) and no per-response work.
    let cors = tower::util::option_layer((!state.config.cors_origins.is_empty()).then(|| cors_layer(&state.config)));
    let body_limit = state.config.body_limit;
    router
        .route(
            "/openapi.json",
            get(
                move |State(st): State<AppState>,
                      q: axum::extract::Query<std::collections::HashMap<String, String>>| {
                    let docs = docs_for_openapi.clone();
                    let openapi = openapi.clone();
                    async move { openapi_handler(st, &docs, openapi, q.0.get("tenant").cloned()).await }
                },
            ),
        )
        .route("/docs", get(docs_page))
        // Host routes only (before the dispatcher): request/latency metrics by route template.
        .route_layer(middleware::from_fn_with_state(state.clone(), crate::usage::metrics::track_host_routes))
        .merge(crate::plugins::dispatch_routes())
        .fallback(crate::site::fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        // One layer: request id, span, headers, envelope, and idempotency inside it.
        .layer(middleware::from_fn_with_state(state.clone(), envelope_and_headers))
        // Outermost, so every answer a browser may read carries the CORS headers: router
        // errors, idempotency replays and conflicts included.
        .layer(cors)
        .with_state(state)
}

async fn openapi_handler(state: AppState, docs: &[RouteDoc], self_doc: RouteDoc, tenant: Option<String>) -> Response {
    let mut all: Vec<RouteDoc> = docs.to_vec();
    all.push(self_doc);
    match state.plugins.openapi_paths(&state, tenant.as_deref()).await {
        Ok(plugin_paths) => axum::Json(crate::openapi::document(&all, plugin_paths)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn docs_page() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], include_str!("docs.html"))
        .into_response()
}

async fn health() -> axum::Json<Value> {
    axum::Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<AppState>) -> Response {
    if state.db.ping().await {
        axum::Json(json!({"status": "ready", "database": "ok"})).into_response()
    } else {
        ApiError::new(ErrorCode::ServiceUnavailable, "database unreachable").into_response()
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "method not allowed for this route")
}

fn cors_layer(config: &Config) -> CorsLayer {
    let origins: Vec<HeaderValue> = config.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::HEAD])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-kiwi-tenant"),
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderName::from_static("retry-after"),
            HeaderName::from_static("idempotent-replay"),
        ])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
}

/// Request id in and out, security headers, the envelope for any error response
/// produced outside a handler (router 404/405, body limit, panics), and — inside
/// all that — `Idempotency-Key` handling ([`crate::idempotency::middleware`]; GET and
/// friends pass straight through). One layer instead of two: each `from_fn` layer
/// costs a boxed service clone and a boxed future per request.
async fn envelope_and_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(request_id::HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| request_id::is_well_formed(v))
        .map(str::to_owned)
        .unwrap_or_else(request_id::generate);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    let started = std::time::Instant::now();
    let inner = crate::idempotency::middleware(State(state), req, next);
    let mut res = request_id::scope(id.clone(), tracing::Instrument::instrument(inner, span.clone())).await;

    let status = res.status();
    if (status.is_client_error() || status.is_server_error()) && res.extensions().get::<EnvelopeMarker>().is_none() {
        res = rewrap(res, &id).await;
    }
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert(HeaderName::from_static(request_id::HEADER), v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
        );
    }
    let _enter = span.enter();
    tracing::debug!(status = res.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "served");
    res
}

/// Replaces a non-envelope error body with the envelope, keeping status and headers.
async fn rewrap(res: Response, request_id: &str) -> Response {
    let status = res.status();
    let (code, default_msg) = match status {
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (ErrorCode::MethodNotAllowed, "method not allowed for this route"),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, "request body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (ErrorCode::UnsupportedMediaType, "unsupported content type"),
        StatusCode::UNPROCESSABLE_ENTITY => (ErrorCode::ValidationError, "request validation failed"),
        StatusCode::UNAUTHORIZED => (ErrorCode::NotAuthenticated, "authentication required"),
        StatusCode::FORBIDDEN => (ErrorCode::Forbidden, "forbidden"),
        StatusCode::CONFLICT => (ErrorCode::Conflict, "conflict"),
        StatusCode::TOO_MANY_REQUESTS => (ErrorCode::RateLimited, "rate limited"),
        s if s.is_client_error() => (ErrorCode::BadRequest, "bad request"),
        StatusCode::SERVICE_UNAVAILABLE => (ErrorCode::ServiceUnavailable, "service unavailable"),
        _ => (ErrorCode::Internal, "internal error"),
    };
    let (mut parts, body) = res.into_parts();
    // Keep a short plain-text reason from axum's rejections (never from 5xx).
    let text = if status.is_client_error() {
        axum::body::to_bytes(body, 4096).await.ok().and_then(|b| String::from_utf8(b.to_vec()).ok()).unwrap_or_default()
    } else {
        String::new()
    };
    let message =
        if text.trim().is_empty() || text.len() > 300 { default_msg.to_owned() } else { text.trim().to_owned() };
    let body = envelope(code.as_str(), &message, &Value::Null, request_id).to_string();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.extensions.insert(EnvelopeMarker);
    Response::from_parts(parts, Body::from(body))
}
