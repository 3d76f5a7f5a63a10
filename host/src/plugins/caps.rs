//! Host capabilities offered to plugins (the WIT imports), implemented once and
//! used by both tiers: kv, sql, config, log, clock, http, events.
//!
//! Every capability is scoped by the host — kv keys by (tenant, plugin), SQL to
//! the plugin's own namespace, HTTP to its allowlist — never by anything the
//! plugin chooses. Expected failures are WIT error variants; a request's host
//! calls are counted against `limits.max_host_calls`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use tokio::sync::broadcast;

use super::sql::SqlNamespace;
use super::wasm::{StoreData, generated};
use crate::clock::Clock;
use crate::db::Db;
use generated::kiwi::plugin::{
    clock as wclock, config as wconfig, events as wevents, http as whttp, kv as wkv, log as wlog, sql as wsql,
    types as wtypes,
};

/// Max kv key length, bytes.
pub const KV_MAX_KEY: u32 = 512;
/// Max kv value size, bytes.
pub const KV_MAX_VALUE: u32 = 1024 * 1024;
/// Max keys per (tenant, plugin).
pub const KV_MAX_KEYS: u32 = 100_000;
/// Max TTL, seconds (one year).
pub const KV_MAX_TTL: u32 = 365 * 24 * 3600;
/// Max outbound HTTP response, bytes.
pub const HTTP_MAX_RESPONSE: usize = 8 * 1024 * 1024;
/// Max event payload, bytes.
pub const EVENT_MAX_PAYLOAD: usize = 64 * 1024;

/// An event a plugin published.
#[derive(Debug, Clone)]
pub struct PluginEvent {
    pub plugin: String,
    pub tenant_id: String,
    pub topic: String,
    pub payload: Vec<u8>,
}

/// The per-call context (which tenant and request a host call belongs to).
#[derive(Debug, Clone, Default)]
pub struct CallCtx {
    pub tenant_id: String,
    pub request_id: String,
    pub host_calls: u32,
}

/// One plugin's capability context.
pub struct Caps {
    pub plugin: String,
    pub db: Db,
    pub clock: Clock,
    pub config_json: String,
    pub allowed_hosts: Vec<String>,
    pub allow_private_network: bool,
    pub max_host_calls: u32,
    pub sql: Option<SqlNamespace>,
    pub events: broadcast::Sender<PluginEvent>,
    pub http: reqwest::Client,
}

impl std::fmt::Debug for Caps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caps").field("plugin", &self.plugin).finish_non_exhaustive()
    }
}

/// Errors shared by both tiers (converted to WIT variants or JSON).
pub type KvResult<T> = Result<T, wkv::KvError>;

impl Caps {
    fn budget(&self, call: &mut CallCtx) -> bool {
        call.host_calls = call.host_calls.saturating_add(1);
        call.host_calls <= self.max_host_calls
    }

    pub async fn kv_get(&self, call: &mut CallCtx, key: &str) -> KvResult<Option<Vec<u8>>> {
        if !self.budget(call) {
            return Err(wkv::KvError::Unavailable("host call budget exceeded".into()));
        }
        check_key(key)?;
        let now = self.clock.now_ms();
        let row = sqlx::query("SELECT value FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2 AND key = $3 AND (expires_at IS NULL OR expires_at > $4)")
            .bind(&call.tenant_id)
            .bind(&self.plugin)
            .bind(key)
            .bind(now)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(|e| kv_unavailable(&e))?;
        Ok(row.and_then(|r| r.try_get::<Vec<u8>, _>(0).ok()))
    }

    pub async fn kv_set(&self, call: &mut CallCtx, key: &str, value: &[u8], ttl: Option<u32>) -> KvResult<()> {
        if !self.budget(call) {
            return Err(wkv::KvError::Unavailable("host call budget exceeded".into()));
        }
        check_key(key)?;
        if value.len() > KV_MAX_VALUE as usize {
            return Err(wkv::KvError::ValueTooLarge(KV_MAX_VALUE));
        }
        if matches!(ttl, Some(t) if t == 0 || t > KV_MAX_TTL) {
            return Err(wkv::KvError::InvalidTtl);
        }
        let now = self.clock.now_ms();
        let exists = sqlx::query("SELECT 1 FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2 AND key = $3")
            .bind(&call.tenant_id)
            .bind(&self.plugin)
            .bind(key)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(|e| kv_unavailable(&e))?
            .is_some();
        if !exists {
            let n: i64 = sqlx::query("SELECT COUNT(*) FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2 AND (expires_at IS NULL OR expires_at > $3)")
                .bind(&call.tenant_id)
                .bind(&self.plugin)
                .bind(now)
                .fetch_one(&self.db.pool)
                .await
                .and_then(|r| r.try_get::<i64, _>(0))
                .map_err(|e| kv_unavailable(&e))?;
            if n >= KV_MAX_KEYS as i64 {
                return Err(wkv::KvError::QuotaExceeded(KV_MAX_KEYS));
            }
        }
        let expires: Option<i64> = ttl.map(|t| now + t as i64 * 1000);
        sqlx::query(
            "INSERT INTO plugin_kv (tenant_id, plugin, key, value, expires_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (tenant_id, plugin, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at",
        )
        .bind(&call.tenant_id)
        .bind(&self.plugin)
        .bind(key)
        .bind(value)
        .bind(expires)
        .bind(now)
        .execute(&self.db.pool)
        .await
        .map_err(|e| kv_unavailable(&e))?;
        Ok(())
    }

    pub async fn kv_delete(&self, call: &mut CallCtx, key: &str) -> KvResult<bool> {
        if !self.budget(call) {
            return Err(wkv::KvError::Unavailable("host call budget exceeded".into()));
        }
        check_key(key)?;
        let r = sqlx::query("DELETE FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2 AND key = $3")
            .bind(&call.tenant_id)
            .bind(&self.plugin)
            .bind(key)
            .execute(&self.db.pool)
            .await
            .map_err(|e| kv_unavailable(&e))?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn kv_list_prefix(&self, call: &mut CallCtx, prefix: &str, limit: u32) -> KvResult<Vec<String>> {
        if !self.budget(call) {
            return Err(wkv::KvError::Unavailable("host call budget exceeded".into()));
        }
        if prefix.len() > KV_MAX_KEY as usize {
            return Err(wkv::KvError::KeyTooLong(KV_MAX_KEY));
        }
        let limit = limit.clamp(1, 1000) as i64;
        let rows = sqlx::query(
            "SELECT key FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2 AND substr(key, 1, length($3)) = $3 \
             AND (expires_at IS NULL OR expires_at > $4) ORDER BY key LIMIT $5",
        )
        .bind(&call.tenant_id)
        .bind(&self.plugin)
        .bind(prefix)
        .bind(self.clock.now_ms())
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await
        .map_err(|e| kv_unavailable(&e))?;
        Ok(rows.iter().filter_map(|r| r.try_get::<String, _>(0).ok()).collect())
    }

    pub async fn sql_query(
        &self,
        call: &mut CallCtx,
        stmt: String,
        params: Vec<wsql::Value>,
    ) -> Result<wsql::Rows, wsql::SqlError> {
        if !self.budget(call) {
            return Err(wsql::SqlError::LimitExceeded("host call budget exceeded".into()));
        }
        match &self.sql {
            Some(ns) => ns.query(stmt, params).await,
            None => Err(wsql::SqlError::Unavailable(
                "this plugin declares no migrations, so it has no SQL namespace".into(),
            )),
        }
    }

    pub async fn sql_execute(
        &self,
        call: &mut CallCtx,
        stmt: String,
        params: Vec<wsql::Value>,
    ) -> Result<u64, wsql::SqlError> {
        if !self.budget(call) {
            return Err(wsql::SqlError::LimitExceeded("host call budget exceeded".into()));
        }
        match &self.sql {
            Some(ns) => ns.execute(stmt, params).await,
            None => Err(wsql::SqlError::Unavailable(
                "this plugin declares no migrations, so it has no SQL namespace".into(),
            )),
        }
    }

    pub async fn sql_batch(
        &self,
        call: &mut CallCtx,
        stmts: Vec<(String, Vec<wsql::Value>)>,
    ) -> Result<u64, wsql::SqlError> {
        if !self.budget(call) {
            return Err(wsql::SqlError::LimitExceeded("host call budget exceeded".into()));
        }
        match &self.sql {
            Some(ns) => ns.batch(stmts).await,
            None => Err(wsql::SqlError::Unavailable(
                "this plugin declares no migrations, so it has no SQL namespace".into(),
            )),
        }
    }

    pub fn log(&self, call: &mut CallCtx, level: wlog::Level, message: &str) {
        if !self.budget(call) {
            return;
        }
        let msg: String = message.chars().take(4096).collect();
        let (plugin, rid) = (&self.plugin, &call.request_id);
        match level {
            wlog::Level::Trace => tracing::trace!(plugin = %plugin, request_id = %rid, "{msg}"),
            wlog::Level::Debug => tracing::debug!(plugin = %plugin, request_id = %rid, "{msg}"),
            wlog::Level::Info => tracing::info!(plugin = %plugin, request_id = %rid, "{msg}"),
            wlog::Level::Warn => tracing::warn!(plugin = %plugin, request_id = %rid, "{msg}"),
            wlog::Level::Error => tracing::error!(plugin = %plugin, request_id = %rid, "{msg}"),
        }
    }

    pub async fn http_fetch(
        &self,
        call: &mut CallCtx,
        req: whttp::Outgoing,
    ) -> Result<whttp::Incoming, whttp::HttpError> {
        if !self.budget(call) {
            return Err(whttp::HttpError::Failed("host call budget exceeded".into()));
        }
        let url = reqwest::Url::parse(&req.url).map_err(|e| whttp::HttpError::InvalidUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(whttp::HttpError::InvalidUrl("only http and https".into()));
        }
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        let port = url.port_or_known_default().unwrap_or(0);
        let host_port = format!("{host}:{port}");
        if !self.allowed_hosts.iter().any(|a| a.eq_ignore_ascii_case(&host) || a.eq_ignore_ascii_case(&host_port)) {
            return Err(whttp::HttpError::HostNotAllowed(host));
        }
        // Resolve once and refuse private addresses (DNS rebinding), then pin the connection to what we checked.
        let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host(host_port.as_str())
            .await
            .map_err(|e| whttp::HttpError::Failed(format!("resolving {host}: {e}")))?
            .collect();
        let Some(addr) = addrs.into_iter().find(|a| self.allow_private_network || is_public(a.ip())) else {
            return Err(whttp::HttpError::HostNotAllowed(format!("{host} resolves to a private address")));
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .resolve(&host, addr)
            .build()
            .map_err(|e| whttp::HttpError::Failed(e.to_string()))?;
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| whttp::HttpError::InvalidUrl("bad method".into()))?;
        let mut builder = client.request(method, url).body(req.body);
        for (k, v) in req.headers {
            if !k.eq_ignore_ascii_case("host") {
                builder = builder.header(k, v);
            }
        }
        let mut res = builder.send().await.map_err(|e| {
            if e.is_timeout() { whttp::HttpError::Timeout } else { whttp::HttpError::Failed(e.to_string()) }
        })?;
        let status = res.status().as_u16();
        let headers: Vec<(String, String)> = res
            .headers()
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| whttp::HttpError::Failed(e.to_string()))? {
            if body.len() + chunk.len() > HTTP_MAX_RESPONSE {
                return Err(whttp::HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(whttp::Incoming { status, headers, body })
    }

    pub fn publish(&self, call: &mut CallCtx, topic: &str, payload: Vec<u8>) -> Result<(), wevents::PublishError> {
        if !self.budget(call) {
            return Err(wevents::PublishError::TooLarge);
        }
        if topic.is_empty()
            || topic.len() > 128
            || !topic.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-:/".contains(&b))
        {
            return Err(wevents::PublishError::InvalidTopic(topic.chars().take(128).collect()));
        }
        if payload.len() > EVENT_MAX_PAYLOAD {
            return Err(wevents::PublishError::TooLarge);
        }
        let _ = self.events.send(PluginEvent {
            plugin: self.plugin.clone(),
            tenant_id: call.tenant_id.clone(),
            topic: topic.to_owned(),
            payload,
        });
        Ok(())
    }
}

fn check_key(key: &str) -> KvResult<()> {
    if key.is_empty() || key.len() > KV_MAX_KEY as usize {
        return Err(wkv::KvError::KeyTooLong(KV_MAX_KEY));
    }
    Ok(())
}

fn kv_unavailable(e: &sqlx::Error) -> wkv::KvError {
    tracing::warn!(error = %e, "plugin kv storage error");
    wkv::KvError::Unavailable("storage unavailable".into())
}

/// True for globally routable addresses.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
                || v4.octets()[0] == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments()[0];
            !(v6.is_loopback() || v6.is_unspecified() || (seg & 0xfe00) == 0xfc00 || (seg & 0xffc0) == 0xfe80)
        }
    }
}

// ---- WIT import implementations (thin: delegate to `Caps`) ----

impl wtypes::Host for StoreData {}

impl wkv::Host for StoreData {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, wkv::KvError>> {
        let caps = self.caps.clone();
        Ok(caps.kv_get(&mut self.call, &key).await)
    }
    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_secs: Option<u32>,
    ) -> wasmtime::Result<Result<(), wkv::KvError>> {
        let caps = self.caps.clone();
        Ok(caps.kv_set(&mut self.call, &key, &value, ttl_secs).await)
    }
    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, wkv::KvError>> {
        let caps = self.caps.clone();
        Ok(caps.kv_delete(&mut self.call, &key).await)
    }
    async fn list_prefix(&mut self, prefix: String, limit: u32) -> wasmtime::Result<Result<Vec<String>, wkv::KvError>> {
        let caps = self.caps.clone();
        Ok(caps.kv_list_prefix(&mut self.call, &prefix, limit).await)
    }
}

impl wsql::Host for StoreData {
    async fn query(
        &mut self,
        statement: String,
        params: Vec<wsql::Value>,
    ) -> wasmtime::Result<Result<wsql::Rows, wsql::SqlError>> {
        let caps = self.caps.clone();
        Ok(caps.sql_query(&mut self.call, statement, params).await)
    }
    async fn execute(
        &mut self,
        statement: String,
        params: Vec<wsql::Value>,
    ) -> wasmtime::Result<Result<u64, wsql::SqlError>> {
        let caps = self.caps.clone();
        Ok(caps.sql_execute(&mut self.call, statement, params).await)
    }
    async fn batch(
        &mut self,
        statements: Vec<(String, Vec<wsql::Value>)>,
    ) -> wasmtime::Result<Result<u64, wsql::SqlError>> {
        let caps = self.caps.clone();
        Ok(caps.sql_batch(&mut self.call, statements).await)
    }
}

impl wconfig::Host for StoreData {
    async fn get(&mut self) -> wasmtime::Result<String> {
        Ok(self.caps.config_json.clone())
    }
}

impl wlog::Host for StoreData {
    async fn log(&mut self, level: wlog::Level, message: String) -> wasmtime::Result<()> {
        let caps = self.caps.clone();
        caps.log(&mut self.call, level, &message);
        Ok(())
    }
}

impl wclock::Host for StoreData {
    async fn now_millis(&mut self) -> wasmtime::Result<i64> {
        Ok(self.caps.clock.now_ms())
    }
}

impl whttp::Host for StoreData {
    async fn fetch(&mut self, req: whttp::Outgoing) -> wasmtime::Result<Result<whttp::Incoming, whttp::HttpError>> {
        let caps = self.caps.clone();
        Ok(caps.http_fetch(&mut self.call, req).await)
    }
}

impl wevents::Host for StoreData {
    async fn publish(
        &mut self,
        topic: String,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<(), wevents::PublishError>> {
        let caps = self.caps.clone();
        Ok(caps.publish(&mut self.call, &topic, payload))
    }
}

/// Keeps `Arc` in scope for doc links.
pub type SharedCaps = Arc<Caps>;
