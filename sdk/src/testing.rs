//! Native test harness: run a plugin's handlers in unit tests with in-memory
//! kv, optional in-memory SQL (feature `test-sql`), a pinned clock and a
//! configurable caller.
//!
//! ```
//! # use kiwi_sdk::prelude::*;
//! # fn hi() -> Json<&'static str> { Json("hi") }
//! # let plugin = Plugin::new("t", "0.1.0").route(get("/hi", hi).public("t:read"));
//! let client = kiwi_sdk::testing::TestClient::new(plugin).now(1_700_000_000);
//! let res = client.get("/hi").send();
//! assert_eq!(res.status, 200);
//! assert_eq!(res.json(), serde_json::json!("hi"));
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kiwi_plugin_api::manifest::{Context, Principal, Request, Response};
use serde_json::Value;

use crate::Plugin;
use crate::host::{Host, HttpError, HttpRequest, HttpResponse, KvError, Level, PublishError, Rows, SqlError, SqlValue};

/// In-memory host capabilities for tests.
pub struct TestHost {
    kv: Mutex<BTreeMap<String, Vec<u8>>>,
    now_millis: Mutex<i64>,
    config: Mutex<String>,
    logs: Mutex<Vec<(Level, String)>>,
    events: Mutex<Vec<(String, Vec<u8>)>>,
    #[cfg(feature = "test-sql")]
    sql: Mutex<rusqlite::Connection>,
}

impl std::fmt::Debug for TestHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestHost")
    }
}

impl Default for TestHost {
    fn default() -> Self {
        Self {
            kv: Mutex::new(BTreeMap::new()),
            now_millis: Mutex::new(1_700_000_000_000),
            config: Mutex::new("{}".into()),
            logs: Mutex::new(Vec::new()),
            events: Mutex::new(Vec::new()),
            #[cfg(feature = "test-sql")]
            sql: Mutex::new(rusqlite::Connection::open_in_memory().expect("in-memory sqlite")),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TestHost {
    /// Pins the clock (unix milliseconds).
    pub fn set_now_millis(&self, ms: i64) {
        *lock(&self.now_millis) = ms;
    }
    /// Sets the plugin config (JSON).
    pub fn set_config(&self, json: Value) {
        *lock(&self.config) = json.to_string();
    }
    /// Log lines written so far.
    pub fn logs(&self) -> Vec<(Level, String)> {
        lock(&self.logs).clone()
    }
    /// Events published so far.
    pub fn events(&self) -> Vec<(String, Vec<u8>)> {
        lock(&self.events).clone()
    }
}

#[cfg(feature = "test-sql")]
fn to_rusqlite(v: &SqlValue) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        SqlValue::Null => V::Null,
        SqlValue::Integer(i) => V::Integer(*i),
        SqlValue::Real(r) => V::Real(*r),
        SqlValue::Text(s) => V::Text(s.clone()),
        SqlValue::Blob(b) => V::Blob(b.clone()),
    }
}

#[cfg(feature = "test-sql")]
fn from_rusqlite(v: rusqlite::types::ValueRef<'_>) -> SqlValue {
    use rusqlite::types::ValueRef as V;
    match v {
        V::Null => SqlValue::Null,
        V::Integer(i) => SqlValue::Integer(i),
        V::Real(r) => SqlValue::Real(r),
        V::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        V::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

impl Host for TestHost {
    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(lock(&self.kv).get(key).cloned())
    }
    fn kv_set(&self, key: &str, value: &[u8], _ttl: Option<u32>) -> Result<(), KvError> {
        lock(&self.kv).insert(key.to_owned(), value.to_vec());
        Ok(())
    }
    fn kv_delete(&self, key: &str) -> Result<bool, KvError> {
        Ok(lock(&self.kv).remove(key).is_some())
    }
    fn kv_list_prefix(&self, prefix: &str, limit: u32) -> Result<Vec<String>, KvError> {
        Ok(lock(&self.kv).keys().filter(|k| k.starts_with(prefix)).take(limit as usize).cloned().collect())
    }
    #[cfg(feature = "test-sql")]
    fn sql_query(&self, statement: &str, params: &[SqlValue]) -> Result<Rows, SqlError> {
        let conn = lock(&self.sql);
        let mut stmt = conn.prepare(statement).map_err(|e| SqlError::Query(e.to_string()))?;
        let columns: Vec<String> = stmt.column_names().iter().map(|c| (*c).to_owned()).collect();
        let n = columns.len();
        let params: Vec<rusqlite::types::Value> = params.iter().map(to_rusqlite).collect();
        let mut rows =
            stmt.query(rusqlite::params_from_iter(params.iter())).map_err(|e| SqlError::Query(e.to_string()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| SqlError::Query(e.to_string()))? {
            let mut r = Vec::with_capacity(n);
            for i in 0..n {
                r.push(from_rusqlite(row.get_ref(i).map_err(|e| SqlError::Query(e.to_string()))?));
            }
            out.push(r);
        }
        Ok(Rows { columns, rows: out })
    }
    #[cfg(feature = "test-sql")]
    fn sql_execute(&self, statement: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
        let conn = lock(&self.sql);
        let params: Vec<rusqlite::types::Value> = params.iter().map(to_rusqlite).collect();
        conn.execute(statement, rusqlite::params_from_iter(params.iter()))
            .map(|n| n as u64)
            .map_err(|e| SqlError::Query(e.to_string()))
    }
    #[cfg(feature = "test-sql")]
    fn sql_batch(&self, statements: &[(String, Vec<SqlValue>)]) -> Result<u64, SqlError> {
        let mut conn = lock(&self.sql);
        let tx = conn.transaction().map_err(|e| SqlError::Query(e.to_string()))?;
        let mut total = 0u64;
        for (s, p) in statements {
            let p: Vec<rusqlite::types::Value> = p.iter().map(to_rusqlite).collect();
            total +=
                tx.execute(s, rusqlite::params_from_iter(p.iter())).map_err(|e| SqlError::Query(e.to_string()))? as u64;
        }
        tx.commit().map_err(|e| SqlError::Query(e.to_string()))?;
        Ok(total)
    }
    #[cfg(not(feature = "test-sql"))]
    fn sql_query(&self, _: &str, _: &[SqlValue]) -> Result<Rows, SqlError> {
        Err(SqlError::Unavailable("enable the kiwi-sdk `test-sql` feature".into()))
    }
    #[cfg(not(feature = "test-sql"))]
    fn sql_execute(&self, _: &str, _: &[SqlValue]) -> Result<u64, SqlError> {
        Err(SqlError::Unavailable("enable the kiwi-sdk `test-sql` feature".into()))
    }
    #[cfg(not(feature = "test-sql"))]
    fn sql_batch(&self, _: &[(String, Vec<SqlValue>)]) -> Result<u64, SqlError> {
        Err(SqlError::Unavailable("enable the kiwi-sdk `test-sql` feature".into()))
    }
    fn config_json(&self) -> String {
        lock(&self.config).clone()
    }
    fn log(&self, level: Level, message: &str) {
        lock(&self.logs).push((level, message.to_owned()));
    }
    fn now_millis(&self) -> i64 {
        *lock(&self.now_millis)
    }
    fn http_fetch(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        Err(HttpError::HostNotAllowed(request.url.clone()))
    }
    fn publish(&self, topic: &str, payload: &[u8]) -> Result<(), PublishError> {
        lock(&self.events).push((topic.to_owned(), payload.to_vec()));
        Ok(())
    }
}

/// Matches `path` against a route template like `/items/{name}/summary`,
/// returning the decoded parameters.
pub fn match_template(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut params = Vec::new();
    for (ts, ps) in t.iter().zip(p.iter()) {
        if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if ps.is_empty() {
                return None;
            }
            let decoded: String = form_urlencoded::parse(format!("x={}", ps.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            params.push((name.to_owned(), decoded));
        } else if ts != ps {
            return None;
        }
    }
    Some(params)
}

/// Drives a plugin's handlers in-process.
pub struct TestClient {
    plugin: Arc<Plugin>,
    host: Arc<TestHost>,
    context: Context,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient").finish_non_exhaustive()
    }
}

impl TestClient {
    /// A client calling as an anonymous caller of tenant `default`.
    /// Runs the plugin's SQL migrations when the `test-sql` feature is on.
    pub fn new(plugin: Plugin) -> Self {
        let host = Arc::new(TestHost::default());
        #[cfg(feature = "test-sql")]
        for m in &plugin.manifest().migrations {
            lock(&host.sql).execute_batch(&m.sqlite).expect("plugin migration");
        }
        Self {
            plugin: Arc::new(plugin),
            host,
            context: Context {
                tenant: "default".into(),
                principal: None,
                request_id: "req_0000000000000000".into(),
                client_ip: "127.0.0.1".into(),
            },
        }
    }
    /// Pins the clock (unix seconds).
    pub fn now(self, secs: i64) -> Self {
        self.host.set_now_millis(secs * 1000);
        self
    }
    /// Pins the clock (unix milliseconds) on an existing client.
    pub fn set_now_millis(&self, ms: i64) {
        self.host.set_now_millis(ms);
    }
    /// Calls as the platform superuser.
    pub fn as_master(mut self) -> Self {
        self.context.principal = Some(Principal {
            user_id: Some("usr_master".into()),
            token_id: None,
            scopes: vec!["*".into()],
            is_master: true,
        });
        self
    }
    /// Calls as tenant `slug`.
    pub fn tenant(mut self, slug: &str) -> Self {
        self.context.tenant = slug.to_owned();
        self
    }
    /// The in-memory host (kv, clock, logs).
    pub fn host(&self) -> &TestHost {
        &self.host
    }
    pub fn get(&self, path_and_query: &str) -> TestRequest<'_> {
        self.request("GET", path_and_query)
    }
    pub fn post(&self, path_and_query: &str) -> TestRequest<'_> {
        self.request("POST", path_and_query)
    }
    pub fn put(&self, path_and_query: &str) -> TestRequest<'_> {
        self.request("PUT", path_and_query)
    }
    pub fn delete(&self, path_and_query: &str) -> TestRequest<'_> {
        self.request("DELETE", path_and_query)
    }
    /// A request with any method.
    pub fn request(&self, method: &str, path_and_query: &str) -> TestRequest<'_> {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        TestRequest {
            client: self,
            req: Request {
                method: method.to_owned(),
                path: path.to_owned(),
                route: String::new(),
                params: Vec::new(),
                query: query.to_owned(),
                headers: Vec::new(),
                body: Vec::new(),
                context: self.context.clone(),
            },
        }
    }
}

/// A request being built by [`TestClient`].
#[derive(Debug)]
pub struct TestRequest<'a> {
    client: &'a TestClient,
    req: Request,
}

impl TestRequest<'_> {
    /// JSON body.
    pub fn json(mut self, v: &Value) -> Self {
        self.req.body = serde_json::to_vec(v).unwrap_or_default();
        self.req.headers.push(("content-type".into(), "application/json".into()));
        self
    }
    /// Raw body.
    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.req.body = b.into();
        self
    }
    /// Adds a header.
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.req.headers.push((k.to_ascii_lowercase(), v.to_owned()));
        self
    }
    /// Dispatches like the host: matches the route template, then calls the handler.
    pub fn send(mut self) -> TestResponse {
        let method = if self.req.method == "HEAD" { "GET" } else { self.req.method.as_str() };
        let mut allowed = false;
        let mut found = None;
        for r in &self.client.plugin.manifest().routes {
            if let Some(params) = match_template(&r.path, &self.req.path) {
                allowed = true;
                if r.method == method {
                    found = Some((r.path.clone(), params));
                    break;
                }
            }
        }
        let Some((route, params)) = found else {
            let (status, code) = if allowed { (405, "method_not_allowed") } else { (404, "not_found") };
            let err = crate::Error::new(status, code, "no such route");
            return TestResponse::from(crate::IntoResponse::into_response(err, "req_0000000000000000"));
        };
        self.req.route = route;
        self.req.params = params;
        let host: Arc<dyn Host> = self.client.host.clone();
        TestResponse::from(self.client.plugin.handle(&self.req, host))
    }
}

/// A response from [`TestClient`].
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl From<Response> for TestResponse {
    fn from(r: Response) -> Self {
        Self { status: r.status, headers: r.headers, body: r.body }
    }
}

impl TestResponse {
    /// The body as JSON (panics if it is not JSON: this is test code).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
