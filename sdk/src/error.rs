//! The plugin-side error type; the host turns it into its error envelope.

use serde_json::{Value, json};

/// A handler error: an HTTP status, a stable machine `code`, a human message and
/// optional structured `details` (e.g. per-field validation errors).
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub details: Option<Value>,
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Any status and code.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into(), details: None }
    }
    /// Attach structured details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }
    /// 422 `validation_error` with a list of field errors (see [`crate::validate`]).
    pub fn validation(details: Vec<Value>) -> Self {
        Self::new(422, "validation_error", "Request validation failed").with_details(Value::Array(details))
    }
    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }
    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "conflict", message)
    }
    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message)
    }
    /// 413 `payload_too_large`.
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(413, "payload_too_large", message)
    }
    /// 503 `plugin_unavailable`: the plugin is loaded but cannot serve (missing runtime, models...).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "plugin_unavailable", message)
    }
    /// 500 `internal`. The message is shown to the client: keep secrets out of it.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal", message)
    }

    /// The envelope body `{"error": {code, message, details, request_id}}`.
    pub fn to_envelope(&self, request_id: &str) -> Value {
        json!({"error": {
            "code": self.code,
            "message": self.message,
            "details": self.details.clone().unwrap_or(Value::Null),
            "request_id": request_id,
        }})
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for Error {}

impl From<crate::host::KvError> for Error {
    fn from(e: crate::host::KvError) -> Self {
        Error::internal(format!("storage error: {e}"))
    }
}

impl From<crate::host::SqlError> for Error {
    fn from(e: crate::host::SqlError) -> Self {
        Error::internal(format!("database error: {e}"))
    }
}
