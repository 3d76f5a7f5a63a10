//! The developer portal: static files from the site directory, served at `/`.
//! Anything not found is a 404 in the error envelope.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// API prefixes never served from the site.
const API_PREFIXES: [&str; 6] = ["/v1/", "/auth/", "/tokens", "/tenants", "/admin", "/secret-scanning"];

/// Router fallback: a portal file, or the envelope 404.
pub async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    let path = req.uri().path();
    if (req.method() != Method::GET && req.method() != Method::HEAD) || API_PREFIXES.iter().any(|p| path.starts_with(p))
    {
        return ApiError::not_found(format!("no route {} {}", req.method(), path)).into_response();
    }
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() || !rel.contains('.') { "index.html" } else { rel };
    if rel.split('/').any(|seg| seg == ".." || seg.starts_with('.')) {
        return ApiError::not_found("no such file").into_response();
    }
    let file = state.config.site_dir.join(rel);
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            let ct = match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
                "html" => "text/html; charset=utf-8",
                "css" => "text/css; charset=utf-8",
                "js" => "text/javascript; charset=utf-8",
                "json" => "application/json",
                "svg" => "image/svg+xml",
                "png" => "image/png",
                "ico" => "image/x-icon",
                _ => "application/octet-stream",
            };
            let mut res = bytes.into_response();
            res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            res
        }
        Err(_) => ApiError::not_found(format!("no route GET {path}")).into_response(),
    }
}
