//! Host capabilities as a plugin sees them: [`Ctx`] and the [`Host`] trait behind it.
//!
//! On `wasm32` the host is the WIT imports; in native plugins a callback into the
//! host process; in unit tests [`crate::testing::TestHost`].

use std::sync::Arc;

use kiwi_plugin_api::manifest::{Context, Principal};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Log level for [`Ctx::log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// A typed SQL parameter or column value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "t", content = "v")]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl SqlValue {
    /// The integer value, if this is an integer (or an integral real).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Integer(i) => Some(*i),
            SqlValue::Real(r) if r.fract() == 0.0 => Some(*r as i64),
            _ => None,
        }
    }
    /// The numeric value as f64.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            SqlValue::Integer(i) => Some(*i as f64),
            SqlValue::Real(r) => Some(*r),
            _ => None,
        }
    }
    /// The text value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }
    /// True for NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, SqlValue::Null)
    }
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}
impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Real(v)
    }
}
impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<Vec<u8>> for SqlValue {
    fn from(v: Vec<u8>) -> Self {
        SqlValue::Blob(v)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// Result rows of a query.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<SqlValue>>,
}

impl Rows {
    /// Index of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// Errors of the kv capability (the WIT `kv-error` variant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvError {
    KeyTooLong(u32),
    ValueTooLarge(u32),
    QuotaExceeded(u32),
    InvalidTtl,
    Unavailable(String),
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::KeyTooLong(max) => write!(f, "key longer than {max} bytes"),
            KvError::ValueTooLarge(max) => write!(f, "value larger than {max} bytes"),
            KvError::QuotaExceeded(max) => write!(f, "more than {max} keys"),
            KvError::InvalidTtl => write!(f, "invalid ttl"),
            KvError::Unavailable(m) => write!(f, "kv unavailable: {m}"),
        }
    }
}

/// Errors of the sql capability (the WIT `sql-error` variant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlError {
    Denied(String),
    Query(String),
    LimitExceeded(String),
    Unavailable(String),
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlError::Denied(m) => write!(f, "denied: {m}"),
            SqlError::Query(m) => write!(f, "query failed: {m}"),
            SqlError::LimitExceeded(m) => write!(f, "limit exceeded: {m}"),
            SqlError::Unavailable(m) => write!(f, "unavailable: {m}"),
        }
    }
}

/// An outbound HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// An outbound HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Errors of the http capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpError {
    HostNotAllowed(String),
    InvalidUrl(String),
    Timeout,
    TooLarge,
    Failed(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::HostNotAllowed(h) => write!(f, "host not allowed: {h}"),
            HttpError::InvalidUrl(u) => write!(f, "invalid url: {u}"),
            HttpError::Timeout => write!(f, "timed out"),
            HttpError::TooLarge => write!(f, "response too large"),
            HttpError::Failed(m) => write!(f, "request failed: {m}"),
        }
    }
}

/// Errors of the events capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishError {
    InvalidTopic(String),
    TooLarge,
}

/// The capabilities a host offers a plugin. Plugin code uses [`Ctx`]; implement
/// this only to embed plugins somewhere new.
pub trait Host: Send + Sync {
    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    fn kv_set(&self, key: &str, value: &[u8], ttl_secs: Option<u32>) -> Result<(), KvError>;
    fn kv_delete(&self, key: &str) -> Result<bool, KvError>;
    fn kv_list_prefix(&self, prefix: &str, limit: u32) -> Result<Vec<String>, KvError>;
    fn sql_query(&self, statement: &str, params: &[SqlValue]) -> Result<Rows, SqlError>;
    fn sql_execute(&self, statement: &str, params: &[SqlValue]) -> Result<u64, SqlError>;
    fn sql_batch(&self, statements: &[(String, Vec<SqlValue>)]) -> Result<u64, SqlError>;
    fn config_json(&self) -> String;
    fn log(&self, level: Level, message: &str);
    fn now_millis(&self) -> i64;
    fn http_fetch(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError>;
    fn publish(&self, topic: &str, payload: &[u8]) -> Result<(), PublishError>;
}

/// The request context plus the host's capabilities. Take it as a handler argument.
#[derive(Clone)]
pub struct Ctx {
    context: Context,
    host: Arc<dyn Host>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("context", &self.context).finish_non_exhaustive()
    }
}

impl Ctx {
    /// Builds a context (used by the export glue and the test harness).
    pub fn new(context: Context, host: Arc<dyn Host>) -> Self {
        Self { context, host }
    }
    /// The raw request context.
    pub fn context(&self) -> &Context {
        &self.context
    }
    /// The caller's tenant slug.
    pub fn tenant(&self) -> &str {
        &self.context.tenant
    }
    /// The authenticated caller, or `None` for anonymous callers.
    pub fn principal(&self) -> Option<&Principal> {
        self.context.principal.as_ref()
    }
    /// True for the platform superuser.
    pub fn is_master(&self) -> bool {
        self.context.principal.as_ref().is_some_and(|p| p.is_master)
    }
    /// The request id (`req_…`).
    pub fn request_id(&self) -> &str {
        &self.context.request_id
    }
    /// Host clock, unix milliseconds.
    pub fn now_millis(&self) -> i64 {
        self.host.now_millis()
    }
    /// Host clock, unix seconds (floor).
    pub fn now_secs(&self) -> i64 {
        self.host.now_millis().div_euclid(1000)
    }
    /// Host clock, unix seconds with the millisecond fraction.
    pub fn now_f64(&self) -> f64 {
        self.host.now_millis() as f64 / 1000.0
    }
    /// The plugin's config table from plugins.toml, deserialized.
    pub fn config<T: DeserializeOwned>(&self) -> crate::Result<T> {
        serde_json::from_str(&self.host.config_json())
            .map_err(|e| crate::Error::internal(format!("plugin config: {e}")))
    }
    /// Writes into the host's log, tagged with plugin and request id.
    pub fn log(&self, level: Level, message: &str) {
        self.host.log(level, message)
    }
    /// Key-value storage scoped to (tenant, plugin).
    pub fn kv(&self) -> Kv<'_> {
        Kv { host: &*self.host }
    }
    /// SQL in the plugin's own namespace.
    pub fn sql(&self) -> Sql<'_> {
        Sql { host: &*self.host }
    }
    /// Outbound HTTP to allowlisted hosts.
    pub fn http(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        self.host.http_fetch(request)
    }
    /// Publishes an event to a topic.
    pub fn publish(&self, topic: &str, payload: &[u8]) -> Result<(), PublishError> {
        self.host.publish(topic, payload)
    }
}

/// Key-value capability handle.
#[derive(Clone, Copy)]
pub struct Kv<'a> {
    host: &'a dyn Host,
}

impl std::fmt::Debug for Kv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kv")
    }
}

impl Kv<'_> {
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.host.kv_get(key)
    }
    pub fn set(&self, key: &str, value: &[u8], ttl_secs: Option<u32>) -> Result<(), KvError> {
        self.host.kv_set(key, value, ttl_secs)
    }
    pub fn delete(&self, key: &str) -> Result<bool, KvError> {
        self.host.kv_delete(key)
    }
    pub fn list_prefix(&self, prefix: &str, limit: u32) -> Result<Vec<String>, KvError> {
        self.host.kv_list_prefix(prefix, limit)
    }
    /// Reads a JSON value.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> crate::Result<Option<T>> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| crate::Error::internal(format!("stored value for {key:?}: {e}"))),
        }
    }
    /// Writes a JSON value.
    pub fn set_json<T: Serialize>(&self, key: &str, value: &T, ttl_secs: Option<u32>) -> crate::Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| crate::Error::internal(e.to_string()))?;
        Ok(self.set(key, &bytes, ttl_secs)?)
    }
}

/// SQL capability handle.
#[derive(Clone, Copy)]
pub struct Sql<'a> {
    host: &'a dyn Host,
}

impl std::fmt::Debug for Sql<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sql")
    }
}

impl Sql<'_> {
    /// Runs a query with `$1`-style parameters.
    pub fn query(&self, statement: &str, params: &[SqlValue]) -> Result<Rows, SqlError> {
        self.host.sql_query(statement, params)
    }
    /// Runs a statement; returns rows affected.
    pub fn execute(&self, statement: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
        self.host.sql_execute(statement, params)
    }
    /// Runs statements atomically (one transaction).
    pub fn batch(&self, statements: &[(String, Vec<SqlValue>)]) -> Result<u64, SqlError> {
        self.host.sql_batch(statements)
    }
}
