//! The one error envelope: `{"error": {"code", "message", "details", "request_id"}}`.
//!
//! Every error a client sees is an [`ApiError`] with a code from the fixed list
//! in [`ErrorCode`]. Internal causes are logged once (with the request id) and
//! never shown.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The documented, fixed list of error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadRequest,
    ValidationError,
    NotAuthenticated,
    InvalidToken,
    TokenRevoked,
    TokenExpired,
    IpNotAllowed,
    InsufficientScope,
    Forbidden,
    AccountLocked,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    IdempotencyMismatch,
    RateLimited,
    Internal,
    ServiceUnavailable,
    PluginTimeout,
    PluginFailed,
    PluginBusy,
    PluginUnavailable,
}

impl ErrorCode {
    /// Every code, for docs and tests.
    pub const ALL: [ErrorCode; 23] = [
        ErrorCode::BadRequest,
        ErrorCode::ValidationError,
        ErrorCode::NotAuthenticated,
        ErrorCode::InvalidToken,
        ErrorCode::TokenRevoked,
        ErrorCode::TokenExpired,
        ErrorCode::IpNotAllowed,
        ErrorCode::InsufficientScope,
        ErrorCode::Forbidden,
        ErrorCode::AccountLocked,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::IdempotencyMismatch,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::ServiceUnavailable,
        ErrorCode::PluginTimeout,
        ErrorCode::PluginFailed,
        ErrorCode::PluginBusy,
        ErrorCode::PluginUnavailable,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::ValidationError => "validation_error",
            ErrorCode::NotAuthenticated => "not_authenticated",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::TokenRevoked => "token_revoked",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::IpNotAllowed => "ip_not_allowed",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::AccountLocked => "account_locked",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::IdempotencyMismatch => "idempotency_mismatch",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::ServiceUnavailable => "service_unavailable",
            ErrorCode::PluginTimeout => "plugin_timeout",
            ErrorCode::PluginFailed => "plugin_failed",
            ErrorCode::PluginBusy => "plugin_busy",
            ErrorCode::PluginUnavailable => "plugin_unavailable",
        }
    }

    /// The HTTP status this code is sent with.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::ValidationError | ErrorCode::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::NotAuthenticated
            | ErrorCode::InvalidToken
            | ErrorCode::TokenRevoked
            | ErrorCode::TokenExpired => StatusCode::UNAUTHORIZED,
            ErrorCode::IpNotAllowed | ErrorCode::InsufficientScope | ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::AccountLocked => StatusCode::LOCKED,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal | ErrorCode::PluginFailed => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServiceUnavailable | ErrorCode::PluginBusy | ErrorCode::PluginUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorCode::PluginTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// One-line meaning, for the docs.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "The request is malformed (bad JSON, bad query value, ...).",
            ErrorCode::ValidationError => "A field failed validation; `details` names each field.",
            ErrorCode::NotAuthenticated => "No credentials, or bad credentials.",
            ErrorCode::InvalidToken => "The API token or JWT is malformed, has a bad checksum, or is unknown.",
            ErrorCode::TokenRevoked => "The API token was revoked.",
            ErrorCode::TokenExpired => "The API token or JWT has expired.",
            ErrorCode::IpNotAllowed => "The caller's IP is not in the token's allowlist.",
            ErrorCode::InsufficientScope => "The token lacks the route's scope.",
            ErrorCode::Forbidden => "The caller may not do this.",
            ErrorCode::AccountLocked => "Too many failed logins; try again later.",
            ErrorCode::NotFound => "No such route or resource.",
            ErrorCode::MethodNotAllowed => "The route exists but not with this method.",
            ErrorCode::Conflict => "The resource already exists, or a request with this idempotency key is in flight.",
            ErrorCode::PayloadTooLarge => "The body exceeds the route's cap (default 8 MiB).",
            ErrorCode::UnsupportedMediaType => "The body's content type is not accepted here.",
            ErrorCode::IdempotencyMismatch => "The Idempotency-Key was used with a different request.",
            ErrorCode::RateLimited => "A rate limit was hit; see Retry-After.",
            ErrorCode::Internal => "An unexpected error; the request id identifies it in the logs.",
            ErrorCode::ServiceUnavailable => "A dependency (database, cache) is unavailable.",
            ErrorCode::PluginTimeout => "The plugin exceeded its time limit.",
            ErrorCode::PluginFailed => "The plugin trapped, panicked or ran out of memory.",
            ErrorCode::PluginBusy => "The plugin is at its concurrency limit.",
            ErrorCode::PluginUnavailable => "The plugin cannot serve right now (not loaded, missing assets).",
        }
    }
}

/// An error on its way to a client.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    /// Overrides the status implied by `code` (plugins may choose their own 4xx).
    pub status: Option<StatusCode>,
    pub message: String,
    pub details: Option<Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Internal cause: logged, never shown.
    pub cause: Option<anyhow::Error>,
}

/// `Result` with [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, status: None, message: message.into(), details: None, headers: Vec::new(), cause: None }
    }
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, m)
    }
    /// 422 with one field error.
    pub fn validation(field: &str, m: impl Into<String>) -> Self {
        let m = m.into();
        Self::new(ErrorCode::ValidationError, format!("{field}: {m}"))
            .with_details(json!([{"loc": field.split('.').collect::<Vec<_>>(), "msg": m}]))
    }
    pub fn not_authenticated(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotAuthenticated, m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, m)
    }
    /// 500 with a generic message; the cause is logged with the request id.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(ErrorCode::Internal, "internal error");
        e.cause = Some(cause.into());
        e
    }
    /// The status this error is sent with.
    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| self.code.status())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(e)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::internal(e)
    }
}

/// Builds the envelope body for a code/message (also used by middleware for
/// errors raised outside handlers).
pub fn envelope(code: &str, message: &str, details: &Value, request_id: &str) -> Value {
    json!({"error": {"code": code, "message": message, "details": details, "request_id": request_id}})
}

/// Marker extension: this response already carries the envelope.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeMarker;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = crate::request_id::current();
        if let Some(cause) = &self.cause {
            tracing::error!(request_id = %request_id, code = self.code.as_str(), error = format!("{cause:#}"), "request failed");
        }
        let body =
            envelope(self.code.as_str(), &self.message, self.details.as_ref().unwrap_or(&Value::Null), &request_id);
        let mut res =
            (self.status(), [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body.to_string())
                .into_response();
        for (k, v) in self.headers {
            res.headers_mut().append(k, v);
        }
        res.extensions_mut().insert(EnvelopeMarker);
        res
    }
}
