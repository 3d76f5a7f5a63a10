//! Rate limiting: a sliding-window limiter with a Redis backend (shared by every
//! instance) and an in-process backend, plus the platform's limit policy.
//!
//! # API summary
//! - [`Limiter::check`]`(&Bucket { key, limit, window_secs }) -> Decision`: one decision on a raw bucket.
//! - [`Limiter::enforce`]`(Rule::Signup, &ip) -> ApiResult<Decision>`: a named default limit
//!   (read live from runtime config); `Err` is the 429 [`ApiError`] with headers.
//! - [`Limiter::check_plugin_request`]`(&PluginLimitRequest { .. }) -> ApiResult<RateHeaders>`:
//!   **what the plugin dispatcher calls** once per `/v1/<plugin>/…` request, after
//!   authentication and before invoking the plugin. It applies, in order:
//!   1. the primary bucket: per token (`RouteSpec.rate_limit`, else the tenant's plan
//!      `tenants.rate_limit_per_min`, else `api_rate_limit`), per user for session callers,
//!      per IP for anonymous callers of `public` routes (`public_anon_rate_limit`);
//!   2. the secondary bucket when `RouteSpec.secondary`'s condition matches the query
//!      (per token or IP; `X-RateLimit-Archive-*` headers);
//!   3. the ingest cooldown when `RouteSpec.ingest_cooldown` and the caller uses an API token
//!      (session callers bypass it).
//!
//!   On success, apply the returned [`RateHeaders`] to the plugin's response; on `Err`, return the error
//!   (429 `rate_limited` with `Retry-After` and the `X-RateLimit-*` headers).
//! - [`Decision::headers`] / [`Decision::to_error`]: headers and the 429 for custom buckets.
//! - [`condition_matches`]: pure evaluation of a [`BucketCondition`].
//!
//! # Algorithm: sliding log
//! Both backends keep, per key, the timestamps of the requests admitted in the
//! last `window` and admit a request only when fewer than `limit` remain. A
//! sliding log is exact — at most `limit` requests in *any* window, never more,
//! which is what the multi-instance correctness test demands — where a weighted
//! two-window counter is an approximation that can admit up to ~2× at window edges.
//! Its cost is memory proportional to the limit per active key, which is small for
//! the platform's limits (≤ a few hundred per window) and bounded by the sweeper.
//! Rejected requests are not logged, so they never consume budget.
//!
//! `X-RateLimit-Reset` is the unix second at which the oldest counted request leaves the
//! window (when a slot frees); a 429's `Retry-After` is the delta to it (≥ 1 s).
//! Times come from the host [`Clock`] (pinnable in tests). If Redis fails, the
//! decision falls back to the in-process backend (fail-open to per-instance limits)
//! and the failure is counted and logged.

mod condition;
mod memory;
mod redis_backend;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use dashmap::DashMap;
use kiwi_plugin_api::manifest::RouteSpec;
use serde_json::json;
use sqlx::Row;

pub use condition::condition_matches;
pub use kiwi_plugin_api::manifest::BucketCondition;
pub use memory::MemoryBackend;
pub use redis_backend::RedisBackend;

use crate::clock::Clock;
use crate::db::Db;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::principal::{Principal, Via};
use crate::runtime_config::RuntimeConfig;

/// One bucket: `limit` requests per `window_secs` for `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub key: String,
    pub limit: u32,
    pub window_secs: u32,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    /// Requests left in the window after this one.
    pub remaining: u32,
    /// Unix seconds at which the oldest counted request leaves the window.
    pub reset_at: i64,
    /// Seconds to wait before retrying (0 when allowed, ≥ 1 when rejected).
    pub retry_after_secs: u64,
}

impl Decision {
    pub(crate) fn allowed(limit: u32, remaining: u32, reset_ms: i64) -> Self {
        Decision { allowed: true, limit, remaining, reset_at: ceil_div(reset_ms, 1000), retry_after_secs: 0 }
    }
    pub(crate) fn rejected(limit: u32, reset_ms: i64, now_ms: i64) -> Self {
        let wait = ceil_div(reset_ms - now_ms, 1000).max(1) as u64;
        Decision { allowed: false, limit, remaining: 0, reset_at: ceil_div(reset_ms, 1000), retry_after_secs: wait }
    }

    /// `X-RateLimit-Limit/Remaining/Reset` (with `Retry-After` when rejected).
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        self.headers_named("")
    }

    /// Like [`Decision::headers`] for a named extra bucket: `X-RateLimit-<Name>-Limit/...`
    /// (e.g. `Archive`), without `Retry-After`.
    pub fn headers_named(&self, name: &str) -> Vec<(HeaderName, HeaderValue)> {
        let infix = if name.is_empty() { String::new() } else { format!("{}-", name.to_ascii_lowercase()) };
        let mut out = Vec::with_capacity(4);
        for (suffix, v) in
            [("limit", i64::from(self.limit)), ("remaining", i64::from(self.remaining)), ("reset", self.reset_at)]
        {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(format!("x-ratelimit-{infix}{suffix}").as_bytes()),
                HeaderValue::from_str(&v.to_string()),
            ) {
                out.push((n, v));
            }
        }
        if !self.allowed && name.is_empty() {
            out.push((HeaderName::from_static("retry-after"), HeaderValue::from(self.retry_after_secs)));
        }
        out
    }

    /// The 429 `rate_limited` error for a rejected decision (headers included).
    pub fn to_error(&self, window_secs: u32) -> ApiError {
        let mut e = ApiError::new(ErrorCode::RateLimited, "Rate limit exceeded. Slow down and try again later.")
            .with_details(
                json!({"limit": self.limit, "window_seconds": window_secs, "retry_after": self.retry_after_secs}),
            );
        e.headers = self.headers();
        e
    }
}

fn ceil_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)
}

/// The named default limits (values live in runtime config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Per API token (or per user for session callers of plugin routes).
    Api,
    /// Per IP, anonymous callers of `public` routes.
    PublicAnon,
    /// Per IP.
    Signup,
    /// Per IP.
    Login,
    /// Per IP.
    ForgotPassword,
    /// Per user.
    TokenCreate,
    /// Per IP (resending the verification mail; shares the forgot-password values).
    Resend,
    /// Secondary ("archive") bucket default, per token or IP.
    Archive,
    /// Ingest cooldown, per token per endpoint.
    IngestCooldown,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 9] = [
        Rule::Api,
        Rule::PublicAnon,
        Rule::Signup,
        Rule::Login,
        Rule::ForgotPassword,
        Rule::TokenCreate,
        Rule::Resend,
        Rule::Archive,
        Rule::IngestCooldown,
    ];

    /// Name used in bucket keys and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Api => "api",
            Rule::PublicAnon => "public",
            Rule::Signup => "signup",
            Rule::Login => "login",
            Rule::ForgotPassword => "forgot",
            Rule::TokenCreate => "tokencreate",
            Rule::Resend => "resend",
            Rule::Archive => "archive",
            Rule::IngestCooldown => "ingest",
        }
    }

    /// The runtime-config prefix of its `<prefix>_max` / `<prefix>_window_seconds` pair.
    pub fn config_prefix(self) -> &'static str {
        match self {
            Rule::Api => "api_rate_limit",
            Rule::PublicAnon => "public_anon_rate_limit",
            Rule::Signup => "signup_rate_limit",
            Rule::Login => "login_rate_limit",
            Rule::ForgotPassword | Rule::Resend => "forgot_password_rate_limit",
            Rule::TokenCreate => "token_create_rate_limit",
            Rule::Archive => "archive_rate_limit",
            Rule::IngestCooldown => "ingest_cooldown",
        }
    }

    fn index(self) -> usize {
        Rule::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// What the dispatcher passes to [`Limiter::check_plugin_request`].
#[derive(Debug, Clone, Copy)]
pub struct PluginLimitRequest<'a> {
    pub plugin: &'a str,
    /// The matched route (its `method`, `path` template, `access`, `rate_limit`,
    /// `secondary` and `ingest_cooldown` are used).
    pub route: &'a RouteSpec,
    pub principal: Option<&'a Principal>,
    pub client_ip: IpAddr,
    /// The raw query string, without `?`.
    pub raw_query: Option<&'a str>,
}

/// Rate-limit headers to add to a successful response.
#[derive(Debug, Clone, Default)]
pub struct RateHeaders(pub Vec<(HeaderName, HeaderValue)>);

impl RateHeaders {
    /// Inserts the headers (replacing any the plugin set).
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (k, v) in &self.0 {
            headers.insert(k.clone(), v.clone());
        }
    }
}

/// Index of the `custom` rejection counter.
const CUSTOM: usize = Rule::ALL.len();

/// Counters the metrics endpoint reads.
#[derive(Debug, Default)]
pub struct LimiterStats {
    rejections: [AtomicU64; 10],
    /// Decisions that fell back to memory because Redis failed.
    pub redis_errors: AtomicU64,
}

impl LimiterStats {
    /// Rejections per rule name (`custom` for raw buckets).
    pub fn rejections(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<_> =
            Rule::ALL.iter().map(|r| (r.as_str(), self.rejections[r.index()].load(Ordering::Relaxed))).collect();
        v.push(("custom", self.rejections[CUSTOM].load(Ordering::Relaxed)));
        v
    }
}

/// The limiter service (`state.limiter`).
pub struct Limiter {
    memory: MemoryBackend,
    redis: Option<RedisBackend>,
    clock: Clock,
    config: Arc<RuntimeConfig>,
    db: Db,
    /// tenant id → (plan limit per minute, fetched at).
    tenant_limits: DashMap<String, (Option<u32>, Instant)>,
    pub stats: LimiterStats,
    last_warn: AtomicI64,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("redis", &self.redis.is_some()).finish_non_exhaustive()
    }
}

/// How long a tenant's plan limit is cached per instance.
const TENANT_LIMIT_TTL: Duration = Duration::from_secs(1);

impl Limiter {
    /// Builds the limiter; with `redis`, keys are `<redis_prefix><bucket key>`.
    pub fn new(
        redis: Option<(redis::aio::ConnectionManager, String, String)>,
        clock: &Clock,
        config: Arc<RuntimeConfig>,
        db: &Db,
    ) -> Self {
        Self {
            memory: MemoryBackend::default(),
            redis: redis.map(|(conn, prefix, instance)| RedisBackend::new(conn, prefix, instance)),
            clock: clock.clone(),
            config,
            db: db.clone(),
            tenant_limits: DashMap::new(),
            stats: LimiterStats::default(),
            last_warn: AtomicI64::new(0),
        }
    }

    /// True when decisions are shared through Redis.
    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// One decision on a raw bucket.
    pub async fn check(&self, bucket: &Bucket) -> Decision {
        let now = self.clock.now_ms();
        let window_ms = i64::from(bucket.window_secs.max(1)) * 1000;
        if let Some(r) = &self.redis {
            match r.check(&bucket.key, bucket.limit, window_ms, now).await {
                Ok(d) => return d,
                Err(e) => {
                    self.stats.redis_errors.fetch_add(1, Ordering::Relaxed);
                    let secs = crate::clock::system_ms() / 1000;
                    if self.last_warn.swap(secs, Ordering::Relaxed) < secs - 10 {
                        tracing::warn!(error = %e, "Redis rate limiter failed; using per-instance limits");
                    }
                }
            }
        }
        self.memory.check(&bucket.key, bucket.limit, window_ms, now)
    }

    /// The in-process decision only (benchmarks; never shared between instances).
    pub fn check_local(&self, bucket: &Bucket) -> Decision {
        let window_ms = i64::from(bucket.window_secs.max(1)) * 1000;
        self.memory.check(&bucket.key, bucket.limit, window_ms, self.clock.now_ms())
    }

    /// The bucket of a named rule for `subject` (IP, user id, token id…), from runtime config.
    pub fn rule_bucket(&self, rule: Rule, subject: &str) -> Bucket {
        let (limit, window_secs) = self.config.rate_limit(rule.config_prefix());
        Bucket { key: format!("{}:{subject}", rule.as_str()), limit, window_secs }
    }

    /// Checks a named rule; a rejection is the 429 error (and is counted).
    pub async fn enforce(&self, rule: Rule, subject: &str) -> ApiResult<Decision> {
        let bucket = self.rule_bucket(rule, subject);
        self.enforce_bucket(&bucket, Some(rule)).await
    }

    /// Checks a bucket; a rejection is the 429 error (counted under `rule`, or `custom`).
    pub async fn enforce_bucket(&self, bucket: &Bucket, rule: Option<Rule>) -> ApiResult<Decision> {
        let d = self.check(bucket).await;
        if d.allowed {
            Ok(d)
        } else {
            self.count_rejection(rule);
            Err(d.to_error(bucket.window_secs))
        }
    }

    fn count_rejection(&self, rule: Option<Rule>) {
        let i = rule.map(Rule::index).unwrap_or(CUSTOM);
        self.stats.rejections[i].fetch_add(1, Ordering::Relaxed);
    }

    /// A tenant's plan limit (requests per minute per token), cached ≤ 1 s.
    pub async fn tenant_limit(&self, tenant_id: &str) -> Option<u32> {
        if let Some(e) = self.tenant_limits.get(tenant_id)
            && e.1.elapsed() < TENANT_LIMIT_TTL
        {
            return e.0;
        }
        let v = match sqlx::query("SELECT rate_limit_per_min FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(&self.db.pool)
            .await
        {
            Ok(Some(row)) => {
                row.try_get::<Option<i64>, _>("rate_limit_per_min").ok().flatten().and_then(|v| u32::try_from(v).ok())
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "reading a tenant's plan limit");
                None
            }
        };
        self.tenant_limits.insert(tenant_id.to_owned(), (v, Instant::now()));
        v
    }

    /// Forgets a cached tenant plan limit (after a change; also on the bus).
    pub fn invalidate_tenant(&self, tenant_id: &str) {
        self.tenant_limits.remove(tenant_id);
    }

    /// Forgets every cached tenant plan limit.
    pub fn clear_caches(&self) {
        self.tenant_limits.clear();
    }

    /// The primary bucket of a plugin request.
    pub async fn primary_bucket(&self, req: &PluginLimitRequest<'_>) -> Bucket {
        let route_id = format!("{}:{} {}", req.plugin, req.route.method.to_ascii_uppercase(), req.route.path);
        let subject = subject(req.principal, req.client_ip);
        if let Some(rl) = req.route.rate_limit {
            return Bucket { key: format!("route:{route_id}:{subject}"), limit: rl.limit, window_secs: rl.window_secs };
        }
        self.api_bucket(req.principal, &subject).await
    }

    /// The general API bucket: per token (tenant plan limit, else `api_rate_limit`), per
    /// user for sessions, per IP (`public_anon_rate_limit`) for anonymous callers.
    async fn api_bucket(&self, principal: Option<&Principal>, subject: &str) -> Bucket {
        match principal {
            Some(Principal { via: Via::Token { tenant_id, .. }, .. }) => match self.tenant_limit(tenant_id).await {
                Some(per_min) => Bucket { key: format!("api:{subject}"), limit: per_min, window_secs: 60 },
                None => self.rule_bucket(Rule::Api, subject),
            },
            Some(_) => self.rule_bucket(Rule::Api, subject),
            None => self.rule_bucket(Rule::PublicAnon, subject),
        }
    }

    /// The general API limit for a host route that is part of the API (e.g. `GET /v1/whoami`);
    /// shares the bucket of plugin routes without a per-route override.
    pub async fn check_api(&self, principal: Option<&Principal>, client_ip: IpAddr) -> ApiResult<RateHeaders> {
        let subject = subject(principal, client_ip);
        let bucket = self.api_bucket(principal, &subject).await;
        let rule = if principal.is_some() { Rule::Api } else { Rule::PublicAnon };
        let d = self.enforce_bucket(&bucket, Some(rule)).await?;
        Ok(RateHeaders(d.headers()))
    }

    /// Applies every limit of a plugin request (see the module docs).
    pub async fn check_plugin_request(&self, req: &PluginLimitRequest<'_>) -> ApiResult<RateHeaders> {
        let mut headers = RateHeaders::default();
        let primary = self.primary_bucket(req).await;
        let rule = if req.route.rate_limit.is_some() {
            None
        } else if req.principal.is_some() {
            Some(Rule::Api)
        } else {
            Some(Rule::PublicAnon)
        };
        let d = self.enforce_bucket(&primary, rule).await?;
        headers.0.extend(d.headers());

        if let Some(sec) = &req.route.secondary
            && condition_matches(&sec.condition, req.raw_query, self.clock.now_secs())
        {
            let (limit, window_secs) = match sec.limit {
                Some(l) => (l.limit, l.window_secs),
                None => self.config.rate_limit(Rule::Archive.config_prefix()),
            };
            let bucket = Bucket {
                key: format!("secondary:{}:{}:{}", req.plugin, sec.name, subject(req.principal, req.client_ip)),
                limit,
                window_secs,
            };
            let d2 = self.check(&bucket).await;
            let name = secondary_header_name(&sec.name);
            headers.0.extend(d2.headers_named(&name));
            if !d2.allowed {
                self.count_rejection(Some(Rule::Archive));
                let mut e = d2.to_error(window_secs);
                e.message = format!("The {} rate limit was exceeded. Slow down and try again later.", sec.name);
                e.headers = headers.0;
                e.headers.push((HeaderName::from_static("retry-after"), HeaderValue::from(d2.retry_after_secs)));
                return Err(e);
            }
        }

        if req.route.ingest_cooldown
            && let Some(Principal { via: Via::Token { token_id, .. }, .. }) = req.principal
        {
            let route_id = format!("{}:{} {}", req.plugin, req.route.method.to_ascii_uppercase(), req.route.path);
            let mut bucket = self.rule_bucket(Rule::IngestCooldown, &format!("{route_id}:{token_id}"));
            bucket.key = format!("ingest:{route_id}:{token_id}");
            let d3 = self.check(&bucket).await;
            if !d3.allowed {
                self.count_rejection(Some(Rule::IngestCooldown));
                let mut e = d3.to_error(bucket.window_secs);
                e.message = format!(
                    "Ingest cooldown: at most {} submission(s) per {} s per token on this endpoint.",
                    bucket.limit, bucket.window_secs
                );
                e.headers = headers.0;
                e.headers.push((HeaderName::from_static("retry-after"), HeaderValue::from(d3.retry_after_secs)));
                return Err(e);
            }
        }
        Ok(headers)
    }

    /// Drops idle in-process keys and stale tenant-limit cache entries.
    pub fn sweep(&self) {
        self.memory.sweep(self.clock.now_ms());
        self.tenant_limits.retain(|_, v| v.1.elapsed() < TENANT_LIMIT_TTL);
    }

    /// Sweeps every minute until the state is dropped.
    pub fn spawn_sweeper(self: &Arc<Self>) {
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(l) = this.upgrade() else { break };
                l.sweep();
            }
        });
    }
}

/// `token:<id>`, `user:<id>` or `ip:<addr>`.
fn subject(principal: Option<&Principal>, client_ip: IpAddr) -> String {
    match principal {
        Some(Principal { via: Via::Token { token_id, .. }, .. }) => format!("token:{token_id}"),
        Some(p) => format!("user:{}", p.user_id),
        None => format!("ip:{client_ip}"),
    }
}

/// `archive` → `Archive`, `old-data` → `Old-Data` (header-safe).
fn secondary_header_name(name: &str) -> String {
    let cleaned: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    cleaned
        .split('-')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_header_vector() {
        // limit 120, remaining 119, reset 2030-01-01T00:00Z (platform.md §7.1).
        let d = Decision::allowed(120, 119, 1_893_456_000_000);
        let h = d.headers();
        let get = |n: &str| h.iter().find(|(k, _)| k.as_str() == n).map(|(_, v)| v.to_str().unwrap().to_owned());
        assert_eq!(get("x-ratelimit-limit").as_deref(), Some("120"));
        assert_eq!(get("x-ratelimit-remaining").as_deref(), Some("119"));
        assert_eq!(get("x-ratelimit-reset").as_deref(), Some("1893456000"));
        assert_eq!(get("retry-after"), None);
    }

    #[test]
    fn rejected_decision_and_error() {
        let d = Decision::rejected(5, 10_500, 1_000);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_secs, 10);
        assert_eq!(d.reset_at, 11);
        let e = d.to_error(60);
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert!(e.headers.iter().any(|(k, v)| k == "retry-after" && v == "10"));
        // Never less than one second.
        assert_eq!(Decision::rejected(5, 1_000, 1_000).retry_after_secs, 1);
    }

    #[test]
    fn named_headers() {
        let d = Decision::allowed(10, 9, 60_000);
        let names: Vec<String> =
            d.headers_named(&secondary_header_name("archive")).into_iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(names, ["x-ratelimit-archive-limit", "x-ratelimit-archive-remaining", "x-ratelimit-archive-reset"]);
        assert_eq!(secondary_header_name("old data!"), "Old-Data");
    }

    #[test]
    fn memory_sliding_log() {
        let m = MemoryBackend::default();
        // 3 per 10 s.
        for i in 0..3 {
            let d = m.check("k", 3, 10_000, 1_000 + i);
            assert!(d.allowed);
            assert_eq!(d.remaining, 2 - i as u32);
        }
        let d = m.check("k", 3, 10_000, 5_000);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_secs, 6); // oldest (1000) leaves at 11000
        // Rejections do not consume budget: the first slot frees exactly at 11 000.
        assert!(!m.check("k", 3, 10_000, 10_999).allowed);
        assert!(m.check("k", 3, 10_000, 11_000).allowed);
        assert!(!m.check("k", 3, 10_000, 11_000).allowed);
        m.sweep(100_000);
        assert!(m.is_empty());
    }
}
