//! The metrics registry and its hand-written Prometheus text exposition.
//!
//! Counters are atomics; a series is found in a sharded [`DashMap`] (one short
//! shard lock per observation), or resolved once with [`Metrics::series`] and
//! kept by the caller, after which an observation is a handful of relaxed atomic adds.
//! Label cardinality is bounded: routes are templates, never concrete paths.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use dashmap::DashMap;

use crate::state::AppState;

/// Latency histogram bucket upper bounds, in microseconds.
pub const LATENCY_BUCKETS_US: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000,
];

/// Request counters and latency histogram of one (plugin, method, route) series.
#[derive(Debug)]
pub struct RouteSeries {
    plugin: String,
    method: String,
    route: String,
    /// By status class 1xx..5xx.
    status: [AtomicU64; 5],
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len()],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl RouteSeries {
    fn new(plugin: &str, method: &str, route: &str) -> Self {
        Self {
            plugin: plugin.to_owned(),
            method: method.to_owned(),
            route: route.to_owned(),
            status: Default::default(),
            buckets: Default::default(),
            sum_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Counts one request.
    pub fn observe(&self, status: u16, latency: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.status[class].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        if let Some(i) = LATENCY_BUCKETS_US.iter().position(|&b| us <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// A plugin invocation's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginOutcome {
    Ok,
    /// Trapped, panicked, out of memory, or answered 5xx.
    Error,
    Timeout,
    /// Refused at the concurrency limit.
    Busy,
}

#[derive(Debug, Default)]
struct PluginCounters {
    invocations: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    busy: AtomicU64,
    in_use: AtomicU64,
    capacity: AtomicU64,
}

/// The registry (`state.usage.metrics`).
#[derive(Debug, Default)]
pub struct Metrics {
    routes: DashMap<String, Arc<RouteSeries>>,
    plugins: DashMap<String, Arc<PluginCounters>>,
    pub idempotent_replays: AtomicU64,
}

impl Metrics {
    /// The series for (plugin, method, route); keep it to skip the map lookup.
    pub fn series(&self, plugin: &str, method: &str, route: &str) -> Arc<RouteSeries> {
        let key = format!("{plugin}\u{1f}{method}\u{1f}{route}");
        if let Some(s) = self.routes.get(&key) {
            return s.clone();
        }
        self.routes.entry(key).or_insert_with(|| Arc::new(RouteSeries::new(plugin, method, route))).clone()
    }

    /// Counts one request (`plugin` empty for host routes).
    pub fn observe(&self, plugin: &str, method: &str, route: &str, status: u16, latency: Duration) {
        self.series(plugin, method, route).observe(status, latency);
    }

    fn plugin(&self, plugin: &str) -> Arc<PluginCounters> {
        if let Some(p) = self.plugins.get(plugin) {
            return p.clone();
        }
        self.plugins.entry(plugin.to_owned()).or_default().clone()
    }

    /// Counts one plugin invocation and its outcome.
    pub fn plugin_outcome(&self, plugin: &str, outcome: PluginOutcome) {
        let p = self.plugin(plugin);
        p.invocations.fetch_add(1, Ordering::Relaxed);
        match outcome {
            PluginOutcome::Ok => {}
            PluginOutcome::Error => {
                p.errors.fetch_add(1, Ordering::Relaxed);
            }
            PluginOutcome::Timeout => {
                p.timeouts.fetch_add(1, Ordering::Relaxed);
            }
            PluginOutcome::Busy => {
                p.busy.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Instance-pool use of a plugin (gauges).
    pub fn set_pool(&self, plugin: &str, in_use: u64, capacity: u64) {
        let p = self.plugin(plugin);
        p.in_use.store(in_use, Ordering::Relaxed);
        p.capacity.store(capacity, Ordering::Relaxed);
    }
}

/// Escapes a label value (backslash, quote, newline).
pub fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Renders every metric of the instance in the Prometheus text format (0.0.4).
pub fn render(state: &AppState) -> String {
    let m = &state.usage.metrics;
    let mut out = String::with_capacity(8192);
    let mut routes: Vec<Arc<RouteSeries>> = m.routes.iter().map(|e| e.value().clone()).collect();
    routes.sort_by(|a, b| (&a.plugin, &a.route, &a.method).cmp(&(&b.plugin, &b.route, &b.method)));

    header(
        &mut out,
        "kiwi_http_requests_total",
        "counter",
        "Requests served, by plugin (empty: host), method, route template and status class.",
    );
    for s in &routes {
        let labels = format!(
            "plugin=\"{}\",method=\"{}\",route=\"{}\"",
            escape_label(&s.plugin),
            escape_label(&s.method),
            escape_label(&s.route)
        );
        for (i, c) in s.status.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n > 0 {
                let _ = writeln!(out, "kiwi_http_requests_total{{{labels},status=\"{}xx\"}} {n}", i + 1);
            }
        }
    }
    header(
        &mut out,
        "kiwi_http_request_duration_seconds",
        "histogram",
        "Request latency, by plugin, method and route template.",
    );
    for s in &routes {
        let labels = format!(
            "plugin=\"{}\",method=\"{}\",route=\"{}\"",
            escape_label(&s.plugin),
            escape_label(&s.method),
            escape_label(&s.route)
        );
        let mut cumulative = 0;
        for (i, b) in LATENCY_BUCKETS_US.iter().enumerate() {
            cumulative += s.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "kiwi_http_request_duration_seconds_bucket{{{labels},le=\"{}\"}} {cumulative}",
                *b as f64 / 1e6
            );
        }
        let count = s.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "kiwi_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "kiwi_http_request_duration_seconds_sum{{{labels}}} {}",
            s.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "kiwi_http_request_duration_seconds_count{{{labels}}} {count}");
    }

    let mut plugins: Vec<(String, Arc<PluginCounters>)> =
        m.plugins.iter().map(|e| (e.key().clone(), e.value().clone())).collect();
    plugins.sort_by(|a, b| a.0.cmp(&b.0));
    type Getter = fn(&PluginCounters) -> &AtomicU64;
    let per_plugin: [(&str, &str, &str, Getter); 6] = [
        ("kiwi_plugin_invocations_total", "counter", "Plugin invocations.", |p| &p.invocations),
        ("kiwi_plugin_errors_total", "counter", "Plugin invocations that failed (trap, panic, out of memory).", |p| {
            &p.errors
        }),
        ("kiwi_plugin_timeouts_total", "counter", "Plugin invocations that hit their time limit.", |p| &p.timeouts),
        ("kiwi_plugin_busy_total", "counter", "Plugin invocations refused at the concurrency limit.", |p| &p.busy),
        ("kiwi_plugin_instances_in_use", "gauge", "Plugin instances currently in use.", |p| &p.in_use),
        ("kiwi_plugin_instances_capacity", "gauge", "Plugin instance-pool capacity.", |p| &p.capacity),
    ];
    for (name, kind, help, get) in per_plugin {
        header(&mut out, name, kind, help);
        for (plugin, p) in &plugins {
            let _ = writeln!(out, "{name}{{plugin=\"{}\"}} {}", escape_label(plugin), get(p).load(Ordering::Relaxed));
        }
    }

    header(&mut out, "kiwi_ratelimit_rejections_total", "counter", "Requests rejected by a rate limit, by rule.");
    for (rule, n) in state.limiter.stats.rejections() {
        let _ = writeln!(out, "kiwi_ratelimit_rejections_total{{rule=\"{rule}\"}} {n}");
    }
    header(
        &mut out,
        "kiwi_ratelimit_redis_errors_total",
        "counter",
        "Rate-limit decisions that fell back to the in-process backend.",
    );
    let _ =
        writeln!(out, "kiwi_ratelimit_redis_errors_total {}", state.limiter.stats.redis_errors.load(Ordering::Relaxed));

    let u = &state.usage;
    let scalars: [(&str, &str, &str, u64); 9] = [
        ("kiwi_usage_buffer_depth", "gauge", "Usage events waiting to be written.", u.depth() as u64),
        ("kiwi_usage_buffer_capacity", "gauge", "Usage buffer capacity.", u.capacity() as u64),
        (
            "kiwi_usage_events_recorded_total",
            "counter",
            "Usage events accepted into the buffer.",
            u.stats.recorded.load(Ordering::Relaxed),
        ),
        (
            "kiwi_usage_events_dropped_total",
            "counter",
            "Usage events dropped because the buffer was full.",
            u.stats.dropped.load(Ordering::Relaxed),
        ),
        (
            "kiwi_usage_events_written_total",
            "counter",
            "Usage events written to the database.",
            u.stats.written.load(Ordering::Relaxed),
        ),
        (
            "kiwi_bus_messages_published_total",
            "counter",
            "Bus messages published to other instances.",
            state.bus.stats.published.load(Ordering::Relaxed),
        ),
        (
            "kiwi_bus_messages_received_total",
            "counter",
            "Bus messages received from other instances.",
            state.bus.stats.received.load(Ordering::Relaxed),
        ),
        (
            "kiwi_bus_reconnects_total",
            "counter",
            "Bus subscriber reconnections.",
            state.bus.stats.reconnects.load(Ordering::Relaxed),
        ),
        (
            "kiwi_idempotent_replays_total",
            "counter",
            "Responses replayed for a repeated Idempotency-Key.",
            m.idempotent_replays.load(Ordering::Relaxed),
        ),
    ];
    for (name, kind, help, v) in scalars {
        header(&mut out, name, kind, help);
        let _ = writeln!(out, "{name} {v}");
    }
    out
}

/// Route-layer middleware counting host routes by their template (`MatchedPath`).
pub async fn track_host_routes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route =
        req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let res = next.run(req).await;
    state.usage.metrics.observe("", &method, &route, res.status().as_u16(), started.elapsed());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_counts_and_buckets() {
        let m = Metrics::default();
        m.observe("p", "GET", "/v1/p/x", 200, Duration::from_micros(700));
        m.observe("p", "GET", "/v1/p/x", 503, Duration::from_secs(60));
        let s = m.series("p", "GET", "/v1/p/x");
        assert_eq!(s.count.load(Ordering::Relaxed), 2);
        assert_eq!(s.status[1].load(Ordering::Relaxed), 1);
        assert_eq!(s.status[4].load(Ordering::Relaxed), 1);
        assert_eq!(s.buckets[1].load(Ordering::Relaxed), 1);
        // Beyond the last bucket: only in +Inf (count).
        assert_eq!(s.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum::<u64>(), 1);
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
