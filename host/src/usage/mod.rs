//! Usage metrics: the buffered usage-event recorder, the Prometheus metrics
//! registry (`GET /metrics`), and the activity aggregations and feeds.
//!
//! # API summary (what the plugin dispatcher calls)
//! - `state.usage.record(UsageEvent { .. })` once per token-authenticated or anonymous
//!   plugin request, after the response is known (including 401/403/429 answers produced by
//!   the host for that route). Never blocks and never touches the database: the event is
//!   folded into a bounded in-memory map of pending rows (identical requests of the same
//!   second share one counted row; an event needing a row beyond the bound is dropped and
//!   counted) that a background task writes once a second, in one transaction; it is
//!   flushed on shutdown. It also feeds the request/latency
//!   histograms of `/metrics`, so the dispatcher does not call [`Metrics::observe`] itself.
//! - `state.usage.metrics.plugin_outcome(plugin, PluginOutcome::Timeout)` per invocation outcome,
//!   and `state.usage.metrics.set_pool(plugin, in_use, capacity)` when instance-pool use changes.
//!
//! Host routes (everything outside `/v1/…`) are counted by the [`metrics::track_host_routes`]
//! middleware. No raw IP is stored: `ip_hash` is an HMAC of the IP under a key derived from
//! the host secret. Retention (`usage_retention_days`, default 30) is swept in the background.

pub mod activity;
pub mod metrics;
pub mod routes;

use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

pub use metrics::{Metrics, PluginOutcome};
pub use routes::routes;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::runtime_config::RuntimeConfig;

/// One plugin request, as the dispatcher reports it.
#[derive(Debug, Clone)]
pub struct UsageEvent {
    pub tenant_id: Option<String>,
    pub user_id: Option<String>,
    pub token_id: Option<String>,
    pub plugin: String,
    pub method: String,
    /// The route template, e.g. `/v1/rotations/items/{name}`.
    pub route: String,
    pub status: u16,
    pub latency: Duration,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub client_ip: IpAddr,
}

/// What makes two events the same row: the second, every dimension, the client IP
/// (hashed when written) and the latency bucket. Coalescing on it loses nothing the
/// views show. The event's own strings move into the key: no copy on the hot path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct EventKey {
    second: i64,
    tenant_id: Option<String>,
    user_id: Option<String>,
    token_id: Option<String>,
    plugin: String,
    method: String,
    route: String,
    status: u16,
    client_ip: IpAddr,
    lat_bucket: i64,
}

/// What a row adds up.
#[derive(Debug, Clone)]
struct Sums {
    /// The first request's time (ms).
    created_at: i64,
    n: i64,
    latency_us: i64,
    bytes_in: i64,
    bytes_out: i64,
}

/// The rows waiting to be written: one per distinct [`EventKey`], with its sums.
#[derive(Debug, Default)]
struct Pending {
    rows: std::collections::HashMap<EventKey, Sums, foldhash::fast::RandomState>,
    /// Requests folded into `rows`.
    events: usize,
}

impl Pending {
    /// Folds one event in; `false` (and nothing changed) when it would need a new
    /// row and `capacity` rows are already waiting.
    fn add(&mut self, created_at: i64, ev: UsageEvent, capacity: usize) -> bool {
        let latency_us = i64::try_from(ev.latency.as_micros()).unwrap_or(i64::MAX);
        let bytes_in = i64::try_from(ev.bytes_in).unwrap_or(i64::MAX);
        let bytes_out = i64::try_from(ev.bytes_out).unwrap_or(i64::MAX);
        let key = EventKey {
            second: created_at.div_euclid(1000),
            tenant_id: ev.tenant_id,
            user_id: ev.user_id,
            token_id: ev.token_id,
            plugin: ev.plugin,
            method: ev.method,
            route: ev.route,
            status: ev.status,
            client_ip: ev.client_ip,
            lat_bucket: activity::latency_bucket(latency_us),
        };
        let full = self.rows.len() >= capacity;
        match self.rows.entry(key) {
            Entry::Occupied(mut o) => {
                let s = o.get_mut();
                s.n += 1;
                s.created_at = s.created_at.min(created_at);
                s.latency_us = s.latency_us.saturating_add(latency_us);
                s.bytes_in = s.bytes_in.saturating_add(bytes_in);
                s.bytes_out = s.bytes_out.saturating_add(bytes_out);
            }
            Entry::Vacant(_) if full => return false,
            Entry::Vacant(v) => {
                v.insert(Sums { created_at, n: 1, latency_us, bytes_in, bytes_out });
            }
        }
        self.events += 1;
        true
    }
}

/// Buffer capacity (distinct pending rows); an event that would need a row beyond it
/// is dropped and counted. Identical requests of one second share a row, so the
/// buffer fills with the variety of the traffic, not its rate.
pub const BUFFER_CAPACITY: usize = 10_000;
/// A flush starts early once this many distinct rows are waiting.
const FLUSH_THRESHOLD: usize = 500;
/// Rows per INSERT statement (15 binds each). Small on purpose: SQLite resolves each
/// `$N` by a linear scan of the statement's parameter list, so binding costs grow with
/// the square of the parameters per statement; 10 rows keep that negligible while the
/// (cached, prepared) statement still amortises its round trip.
const ROWS_PER_INSERT: usize = 10;

/// Recorder counters.
#[derive(Debug, Default)]
pub struct RecorderStats {
    pub recorded: AtomicU64,
    pub dropped: AtomicU64,
    pub written: AtomicU64,
    pub write_errors: AtomicU64,
}

/// The usage service (`state.usage`).
pub struct Usage {
    db: Db,
    clock: Clock,
    ip_key: [u8; 32],
    buffer: Mutex<Pending>,
    depth: AtomicUsize,
    capacity: usize,
    notify: Notify,
    flush_lock: tokio::sync::Mutex<()>,
    stopped: AtomicBool,
    runtime: Arc<RuntimeConfig>,
    pub stats: RecorderStats,
    pub metrics: Metrics,
}

impl std::fmt::Debug for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Usage").field("depth", &self.depth()).finish_non_exhaustive()
    }
}

impl Usage {
    pub fn new(config: &Config, db: &Db, clock: &Clock, runtime: &Arc<RuntimeConfig>) -> Self {
        Self::with_capacity(config, db, clock, runtime, BUFFER_CAPACITY)
    }

    /// A recorder with a custom buffer capacity (tests).
    pub fn with_capacity(
        config: &Config,
        db: &Db,
        clock: &Clock,
        runtime: &Arc<RuntimeConfig>,
        capacity: usize,
    ) -> Self {
        Self {
            db: db.clone(),
            clock: clock.clone(),
            ip_key: crate::pagination::hmac_sha256(config.secret_bytes(), &[b"kiwi-usage-ip-v1"]),
            buffer: Mutex::new(Pending::default()),
            depth: AtomicUsize::new(0),
            capacity,
            notify: Notify::new(),
            flush_lock: tokio::sync::Mutex::new(()),
            stopped: AtomicBool::new(false),
            runtime: runtime.clone(),
            stats: RecorderStats::default(),
            metrics: Metrics::default(),
        }
    }

    /// The keyed hash stored instead of an IP (32 hex chars).
    pub fn hash_ip(&self, ip: IpAddr) -> String {
        hex::encode(&crate::pagination::hmac_sha256(&self.ip_key, &[ip.to_string().as_bytes()])[..16])
    }

    /// Records one request (hot path: metrics atomics plus one short lock; no I/O).
    pub fn record(&self, ev: UsageEvent) {
        self.metrics.observe(&ev.plugin, &ev.method, &ev.route, ev.status, ev.latency);
        if !self.runtime.flag("usage_recording_enabled") {
            return;
        }
        self.push(ev);
    }

    /// Buffers an event without touching metrics or flags: folds it into its row
    /// (one hash-map update under a short lock; the IP is hashed by the flusher).
    pub fn push(&self, ev: UsageEvent) {
        let created_at = self.clock.now_ms();
        let (added, rows) = {
            let mut buf = self.buffer.lock();
            let added = buf.add(created_at, ev, self.capacity);
            (added, buf.rows.len())
        };
        if !added {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.depth.store(rows, Ordering::Relaxed);
        self.stats.recorded.fetch_add(1, Ordering::Relaxed);
        if rows >= FLUSH_THRESHOLD {
            self.notify.notify_one();
        }
    }

    /// Rows waiting to be written (each one or more identical requests).
    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// Buffer capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Writes everything buffered now (returns the number written).
    pub async fn flush(&self) -> usize {
        let _guard = self.flush_lock.lock().await;
        let pending = {
            let mut buf = self.buffer.lock();
            std::mem::take(&mut *buf)
        };
        self.depth.store(0, Ordering::Relaxed);
        if pending.rows.is_empty() {
            return 0;
        }
        // Identical requests of the same second are already one row with a count, and
        // the whole flush is one transaction: the write cost follows the variety of the
        // traffic, not its rate.
        let events = pending.events;
        match self.write_all(pending).await {
            Ok(()) => {
                self.stats.written.fetch_add(events as u64, Ordering::Relaxed);
                events
            }
            Err(e) => {
                self.stats.write_errors.fetch_add(events as u64, Ordering::Relaxed);
                tracing::warn!(error = %e, events, "writing usage events failed; dropped");
                0
            }
        }
    }

    async fn write_all(&self, pending: Pending) -> Result<(), sqlx::Error> {
        let mut hashes: std::collections::HashMap<IpAddr, String> = std::collections::HashMap::new();
        let rows: Vec<(EventKey, Sums, String)> = pending
            .rows
            .into_iter()
            .map(|(key, sums)| {
                let ip_hash = hashes.entry(key.client_ip).or_insert_with(|| self.hash_ip(key.client_ip)).clone();
                (key, sums, ip_hash)
            })
            .collect();
        let mut tx = self.db.pool.begin().await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            insert(&mut tx, chunk).await?;
        }
        tx.commit().await
    }

    /// Deletes events older than the retention; returns how many.
    pub async fn sweep(&self) -> anyhow::Result<u64> {
        let days = self.runtime.int("usage_retention_days").max(1);
        let cutoff = self.clock.now_ms() - days * 86_400_000;
        let r =
            sqlx::query("DELETE FROM usage_events WHERE created_at < $1").bind(cutoff).execute(&self.db.pool).await?;
        Ok(r.rows_affected())
    }

    /// Starts the flusher (every second, or early at the threshold) and the retention sweeper.
    pub fn spawn_background(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(this) = weak.upgrade() else { break };
                if this.stopped.load(Ordering::Relaxed) {
                    break;
                }
                tokio::select! {
                    _ = this.notify.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                if this.stopped.load(Ordering::Relaxed) {
                    break;
                }
                this.flush().await;
            }
        });
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut last = std::time::Instant::now();
            let mut first = true;
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let Some(this) = weak.upgrade() else { break };
                if this.stopped.load(Ordering::Relaxed) {
                    break;
                }
                let period = Duration::from_secs(this.runtime.int("usage_sweep_interval_seconds").max(10) as u64);
                if first || last.elapsed() >= period {
                    first = false;
                    last = std::time::Instant::now();
                    match this.sweep().await {
                        Ok(n) if n > 0 => tracing::info!(deleted = n, "usage retention sweep"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %format!("{e:#}"), "usage retention sweep failed"),
                    }
                }
            }
        });
    }

    /// Stops background work and writes what is buffered.
    pub async fn shutdown(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.notify.notify_one();
        let n = self.flush().await;
        if n > 0 {
            tracing::info!(events = n, "usage events flushed on shutdown");
        }
    }
}

async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    rows: &[(EventKey, Sums, String)],
) -> Result<(), sqlx::Error> {
    const COLS: usize = 15;
    let mut sql = String::from(
        "INSERT INTO usage_events (id, created_at, tenant_id, user_id, token_id, plugin, method, route, status, \
         latency_us, bytes_in, bytes_out, ip_hash, n, lat_bucket) VALUES ",
    );
    for i in 0..rows.len() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..COLS {
            if c > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${}", i * COLS + c + 1));
        }
        sql.push(')');
    }
    let mut q = sqlx::query(&sql);
    for (k, r, ip_hash) in rows {
        q = q
            .bind(crate::runtime_config::new_id("use"))
            .bind(r.created_at)
            .bind(k.tenant_id.clone())
            .bind(k.user_id.clone())
            .bind(k.token_id.clone())
            .bind(k.plugin.clone())
            .bind(k.method.clone())
            .bind(k.route.clone())
            .bind(i32::from(k.status))
            .bind(r.latency_us)
            .bind(r.bytes_in)
            .bind(r.bytes_out)
            .bind(ip_hash.clone())
            .bind(r.n)
            .bind(k.lat_bucket as i32);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}
