//! Usage metrics: the buffered recorder (batching, bounded buffer, shutdown
//! flush, hashed IPs, retention), the activity and admin views, the raw event
//! feed with cursor pagination, and `GET /metrics` in its three access modes.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use kiwi_host::usage::{PluginOutcome, Usage, UsageEvent};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{Session, master_session, send, session, simple_token};
use crate::helpers::{AppOptions, TestApp, assert_error, spawn_app, spawn_app_with};

fn event(user: Option<&str>, token: Option<&str>, tenant: &str, plugin: &str, status: u16, ms: u64) -> UsageEvent {
    UsageEvent {
        tenant_id: Some(tenant.into()),
        user_id: user.map(str::to_owned),
        token_id: token.map(str::to_owned),
        plugin: plugin.into(),
        method: "GET".into(),
        route: format!("/v1/{plugin}/items/{{id}}"),
        status,
        latency: Duration::from_millis(ms),
        bytes_in: 10,
        bytes_out: 100,
        client_ip: [203, 0, 113, 9].into(),
    }
}

async fn count(app: &TestApp) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM usage_events")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

async fn get_json(app: &TestApp, s: &Session, path: &str) -> Value {
    let res = send(app, s, Method::GET, path, None).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

#[tokio::test]
async fn recorder_buffers_batches_and_hashes_ips() {
    let app = spawn_app().await;
    let u = &app.state.usage;
    for i in 0..120 {
        u.record(event(Some("usr_a"), Some("tok_a"), "ten_default", "rot", 200, i % 7));
    }
    // Nothing is written on the request path: the events wait in the buffer.
    assert!(u.depth() > 0 || u.stats.written.load(std::sync::atomic::Ordering::Relaxed) > 0);
    u.flush().await;
    assert_eq!(u.depth(), 0);
    assert_eq!(count(&app).await, 120);
    let hashes: Vec<Option<String>> =
        sqlx::query_scalar("SELECT ip_hash FROM usage_events").fetch_all(&app.state.db.pool).await.unwrap();
    let h = hashes[0].clone().unwrap();
    assert_eq!(h.len(), 32);
    assert!(!h.contains("203.0.113.9"));
    assert_eq!(h, u.hash_ip([203, 0, 113, 9].into()), "stable keyed hash");
    assert_ne!(h, u.hash_ip([203, 0, 113, 10].into()));
    // The flusher also runs on its own (every second).
    u.record(event(None, None, "ten_default", "rot", 200, 1));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(count(&app).await, 121);
}

/// Identical requests in the same second are one row with a count; a different
/// second, status or latency bucket is another row. Every view counts requests.
#[tokio::test]
async fn identical_requests_coalesce_into_counted_rows() {
    let app = spawn_app().await;
    let m = master_session(&app).await;
    let u = &app.state.usage;
    let t0 = (kiwi_host::clock::system_ms() / 1000) * 1000;
    app.clock.pin(Some(t0 + 100));
    for _ in 0..1000 {
        u.record(event(Some("usr_c"), Some("tok_c"), "ten_default", "coal", 200, 1));
    }
    u.record(event(Some("usr_c"), Some("tok_c"), "ten_default", "coal", 200, 40)); // other latency bucket
    u.record(event(Some("usr_c"), Some("tok_c"), "ten_default", "coal", 404, 1)); // other status
    app.clock.pin(Some(t0 + 1100));
    u.record(event(Some("usr_c"), Some("tok_c"), "ten_default", "coal", 200, 1)); // next second
    app.clock.pin(None);
    assert_eq!(u.flush().await, 1003, "flush reports requests, not rows");
    let rows: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM usage_events WHERE plugin = 'coal'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 4);
    assert_eq!(count(&app).await, 1003);

    let v = get_json(&app, &m, "/admin/usage/plugins/coal").await;
    assert_eq!(v["total_requests"], 1003);
    assert_eq!(v["error_count"], 1);
    assert_eq!(v["by_status_class"]["2xx"], 1002);
    assert_eq!(v["bytes_out"], 100_300);
    assert_eq!(v["latency_ms"]["p50"].as_f64().map(|p| p <= 1.0), Some(true), "{}", v["latency_ms"]);
    let feed = get_json(&app, &m, "/admin/usage/events?plugin=coal&limit=10").await;
    let items = feed["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    let big = items.iter().find(|e| e["count"] == 1000).expect("the coalesced row");
    assert_eq!(big["latency_ms"], 1.0, "mean latency of the row");
    assert_eq!(big["bytes_out"], 100_000);
    assert_eq!(big["created_at"], t0 + 100);
}

#[tokio::test]
async fn buffer_is_bounded_drop_and_count() {
    let app = spawn_app().await;
    let st = &app.state;
    let small = Usage::with_capacity(&st.config, &st.db, &st.clock, &st.runtime_config, 3);
    // The bound is on distinct pending rows: five different statuses need five rows.
    for status in [200, 201, 202, 203, 204] {
        small.record(event(None, None, "ten_default", "rot", status, 1));
    }
    assert_eq!(small.depth(), 3);
    assert_eq!(small.stats.dropped.load(std::sync::atomic::Ordering::Relaxed), 2);
    // A request identical to a pending one still fits: it only bumps that row's count.
    small.record(event(None, None, "ten_default", "rot", 200, 1));
    assert_eq!(small.depth(), 3);
    assert_eq!(small.stats.dropped.load(std::sync::atomic::Ordering::Relaxed), 2);
    assert_eq!(small.flush().await, 4);
}

#[tokio::test]
async fn shutdown_flushes_the_buffer() {
    let app = spawn_app().await;
    let st = app.state.clone();
    st.runtime_config.set("usage_recording_enabled", &json!(true), "test").await.unwrap();
    for _ in 0..7 {
        st.usage.record(event(None, None, "ten_default", "rot", 200, 1));
    }
    app.stop().await;
    assert_eq!(st.usage.depth(), 0);
    assert!(st.usage.stats.written.load(std::sync::atomic::Ordering::Relaxed) >= 7);
}

#[tokio::test]
async fn recording_can_be_switched_off_live() {
    let app = spawn_app().await;
    app.state.runtime_config.set("usage_recording_enabled", &json!(false), "test").await.unwrap();
    app.state.usage.record(event(None, None, "ten_default", "off", 200, 1));
    assert_eq!(app.state.usage.depth(), 0);
    // Metrics still count it.
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(text.contains("plugin=\"off\""), "{text}");
}

#[tokio::test]
async fn retention_sweep_deletes_old_events() {
    let app = spawn_app().await;
    let now = kiwi_host::clock::system_ms();
    app.clock.pin(Some(now - 40 * 86_400_000));
    app.state.usage.record(event(None, None, "ten_default", "old", 200, 1));
    app.clock.pin(Some(now - 10 * 86_400_000));
    app.state.usage.record(event(None, None, "ten_default", "recent", 200, 1));
    app.state.usage.flush().await;
    app.clock.pin(None);
    assert_eq!(app.state.usage.sweep().await.unwrap(), 1);
    assert_eq!(count(&app).await, 1);
    app.state.runtime_config.set("usage_retention_days", &json!(5), "test").await.unwrap();
    assert_eq!(app.state.usage.sweep().await.unwrap(), 1);
}

#[tokio::test]
async fn token_activity_for_the_session_user() {
    let app = spawn_app().await;
    let s = session(&app, "act").await;
    let (tid, token) = simple_token(&app, &s).await;
    let other = session(&app, "other").await;
    let (other_tid, _) = simple_token(&app, &other).await;
    let u = &app.state.usage;
    for (status, ms) in [(200, 1), (200, 3), (404, 2), (429, 1), (500, 40)] {
        u.record(event(Some(&s.user_id), Some(&tid), "ten_default", "rot", status, ms));
    }
    u.record(event(Some(&other.user_id), Some(&other_tid), "ten_default", "rot", 200, 1));
    u.flush().await;

    let v = get_json(&app, &s, "/tokens/activity").await;
    assert_eq!(v["window_days"], 7);
    assert_eq!(v["total_requests"], 5);
    assert_eq!(v["error_count"], 3);
    assert_eq!(v["rate_limited"], 1);
    assert_eq!(v["by_status_class"], json!({"1xx": 0, "2xx": 2, "3xx": 0, "4xx": 2, "5xx": 1}));
    assert_eq!(v["by_day"].as_array().unwrap().len(), 1);
    assert_eq!(v["by_day"][0]["count"], 5);
    assert_eq!(v["by_route"][0]["route"], "/v1/rot/items/{id}");
    assert_eq!(v["by_route"][0]["count"], 5);
    assert_eq!(v["bytes_out"], 500);
    let p50 = v["latency_ms"]["p50"].as_f64().unwrap();
    let p99 = v["latency_ms"]["p99"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 <= 2.5 && (25.0..=50.0).contains(&p99), "{}", v["latency_ms"]);
    assert_eq!(v["avg_latency_ms"], 9.4);

    let v = get_json(&app, &s, &format!("/tokens/{tid}/activity?days=30")).await;
    assert_eq!(v["window_days"], 30);
    assert_eq!(v["total_requests"], 5);
    // Someone else's token looks missing; bad days are 422; a token cannot call this.
    assert_error(send(&app, &s, Method::GET, &format!("/tokens/{other_tid}/activity"), None).await, 404, "not_found")
        .await;
    assert_error(send(&app, &s, Method::GET, "/tokens/tok_nope/activity", None).await, 404, "not_found").await;
    assert_error(send(&app, &s, Method::GET, "/tokens/activity?days=0", None).await, 422, "validation_error").await;
    assert_error(send(&app, &s, Method::GET, "/tokens/activity?days=366", None).await, 422, "validation_error").await;
    assert_error(send(&app, &s, Method::GET, "/tokens/activity?days=x", None).await, 422, "validation_error").await;
    assert_error(send(&app, &s, Method::GET, "/tokens/activity?bogus=1", None).await, 422, "validation_error").await;
    assert_error(app.get("/tokens/activity").await, 401, "not_authenticated").await;
    let res = app.req(Method::GET, "/tokens/activity").bearer_auth(&token).send().await.unwrap();
    assert_error(res, 403, "forbidden").await;
}

#[tokio::test]
async fn tenant_usage_for_owners_admins_and_master() {
    let app = spawn_app().await;
    let owner = session(&app, "own").await;
    let slug = format!("t{:08x}", rand::random::<u32>());
    let res = send(&app, &owner, Method::POST, "/tenants", Some(json!({"slug": slug, "name": "Acme"}))).await;
    assert_eq!(res.status(), 201);
    let tenant: Value = res.json().await.unwrap();
    let tenant_id = tenant["id"].as_str().unwrap().to_owned();
    app.state.usage.record(event(Some(&owner.user_id), None, &tenant_id, "rot", 200, 1));
    app.state.usage.record(event(None, None, "ten_default", "rot", 200, 1));
    app.state.usage.flush().await;

    let v = get_json(&app, &owner, &format!("/tenants/{slug}/usage")).await;
    assert_eq!(v["total_requests"], 1);
    let m = master_session(&app).await;
    assert_eq!(get_json(&app, &m, &format!("/tenants/{slug}/usage?days=1")).await["total_requests"], 1);
    let stranger = session(&app, "str").await;
    assert_error(send(&app, &stranger, Method::GET, &format!("/tenants/{slug}/usage"), None).await, 403, "forbidden")
        .await;
    // A plain member of the default tenant is not an admin of it.
    assert_error(send(&app, &stranger, Method::GET, "/tenants/default/usage", None).await, 403, "forbidden").await;
    assert_error(send(&app, &owner, Method::GET, "/tenants/nope-nope/usage", None).await, 404, "not_found").await;
    assert_error(app.get(&format!("/tenants/{slug}/usage")).await, 401, "not_authenticated").await;
}

#[tokio::test]
async fn admin_usage_views_and_event_feed() {
    let app = spawn_app().await;
    let m = master_session(&app).await;
    let u = &app.state.usage;
    for i in 0..5u16 {
        // A second apart: identical requests within one second share a row.
        app.clock.pin(Some(kiwi_host::clock::system_ms() + i64::from(i) * 1000));
        u.record(event(
            Some("usr_x"),
            Some("tok_x"),
            "ten_default",
            if i < 3 { "alpha" } else { "beta" },
            if i == 4 { 429 } else { 200 },
            1,
        ));
    }
    app.clock.pin(None);
    u.flush().await;

    let v = get_json(&app, &m, "/admin/usage").await;
    assert_eq!(v["total_requests"], 5);
    assert_eq!(v["by_plugin"][0], json!({"plugin": "alpha", "count": 3, "error_count": 0, "avg_latency_ms": 1.0}));
    assert_eq!(get_json(&app, &m, "/admin/usage/plugins/beta").await["total_requests"], 2);
    assert_eq!(get_json(&app, &m, "/admin/usage/tenants/default?days=2").await["total_requests"], 5);
    assert_error(send(&app, &m, Method::GET, "/admin/usage/tenants/nope", None).await, 404, "not_found").await;

    // The feed: newest first, cursor-paginated without overlap.
    let p1 = get_json(&app, &m, "/admin/usage/events?limit=2").await;
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    assert_eq!(p1["has_more"], true);
    assert_eq!(p1["items"][0]["status"], 429, "newest first");
    let c = p1["next_cursor"].as_str().unwrap();
    let p2 = get_json(&app, &m, &format!("/admin/usage/events?limit=2&cursor={c}")).await;
    let p3 = get_json(&app, &m, &format!("/admin/usage/events?limit=2&cursor={}", p2["next_cursor"].as_str().unwrap()))
        .await;
    assert_eq!(p3["items"].as_array().unwrap().len(), 1);
    assert_eq!(p3["has_more"], false);
    assert_eq!(p3["next_cursor"], Value::Null);
    let mut ids: Vec<String> = [&p1, &p2, &p3]
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    let e = &p1["items"][0];
    assert_eq!(e["ip_hash"].as_str().unwrap().len(), 32);
    assert!(e.get("ip").is_none());
    // Filters.
    let limited = get_json(&app, &m, "/admin/usage/events?status=429").await;
    assert_eq!(limited["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        get_json(&app, &m, "/admin/usage/events?plugin=alpha&tenant=default").await["items"].as_array().unwrap().len(),
        3
    );
    assert_eq!(get_json(&app, &m, "/admin/usage/events?token_id=tok_none").await["items"].as_array().unwrap().len(), 0);
    // Errors.
    assert_error(send(&app, &m, Method::GET, "/admin/usage/events?cursor=garbage", None).await, 400, "bad_request")
        .await;
    assert_error(send(&app, &m, Method::GET, "/admin/usage/events?limit=0", None).await, 422, "validation_error").await;
    assert_error(send(&app, &m, Method::GET, "/admin/usage/events?status=99", None).await, 422, "validation_error")
        .await;
    assert_error(send(&app, &m, Method::GET, "/admin/usage/events?tenant=nope", None).await, 404, "not_found").await;
    let s = session(&app, "plain").await;
    for path in ["/admin/usage", "/admin/usage/plugins/alpha", "/admin/usage/tenants/default", "/admin/usage/events"] {
        assert_error(send(&app, &s, Method::GET, path, None).await, 403, "forbidden").await;
        assert_error(app.get(path).await, 401, "not_authenticated").await;
    }
}

#[tokio::test]
async fn metrics_exposition_open() {
    let app = spawn_app().await;
    app.get("/health").await;
    let st = &app.state;
    st.usage.metrics.plugin_outcome("rot", PluginOutcome::Ok);
    st.usage.metrics.plugin_outcome("rot", PluginOutcome::Timeout);
    st.usage.metrics.plugin_outcome("rot", PluginOutcome::Busy);
    st.usage.metrics.plugin_outcome("rot", PluginOutcome::Error);
    st.usage.metrics.set_pool("rot", 3, 16);
    st.usage.record(event(None, None, "ten_default", "rot", 200, 3));
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    for needle in [
        "# TYPE kiwi_http_requests_total counter",
        "kiwi_http_requests_total{plugin=\"\",method=\"GET\",route=\"/health\",status=\"2xx\"} 1",
        "# TYPE kiwi_http_request_duration_seconds histogram",
        "kiwi_http_request_duration_seconds_bucket{plugin=\"rot\",method=\"GET\",route=\"/v1/rot/items/{id}\",le=\"0.005\"} 1",
        "kiwi_http_request_duration_seconds_count{plugin=\"rot\",method=\"GET\",route=\"/v1/rot/items/{id}\"} 1",
        "kiwi_plugin_invocations_total{plugin=\"rot\"} 4",
        "kiwi_plugin_errors_total{plugin=\"rot\"} 1",
        "kiwi_plugin_timeouts_total{plugin=\"rot\"} 1",
        "kiwi_plugin_busy_total{plugin=\"rot\"} 1",
        "kiwi_plugin_instances_in_use{plugin=\"rot\"} 3",
        "kiwi_plugin_instances_capacity{plugin=\"rot\"} 16",
        "kiwi_ratelimit_rejections_total{rule=\"api\"} 0",
        "# TYPE kiwi_usage_buffer_depth gauge",
        "kiwi_usage_buffer_capacity 10000",
        "kiwi_usage_events_dropped_total 0",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // Every sample line parses as `name{labels} value`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
    // A limiter rejection shows up.
    app.state.runtime_config.set("signup_rate_limit_max", &json!(1), "test").await.unwrap();
    for i in 0..2 {
        app.post_json(
            "/auth/signup",
            &json!({"email": format!("m{i}@example.com"), "password": "a fine test password"}),
        )
        .await;
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(text.contains("kiwi_ratelimit_rejections_total{rule=\"signup\"} 1"), "{text}");
}

#[tokio::test]
async fn metrics_token_and_off() {
    let app = spawn_app_with(AppOptions {
        env: vec![("KIWI_METRICS_TOKEN".into(), "metrics-secret-123".into())],
        ..Default::default()
    })
    .await;
    assert_error(app.get("/metrics").await, 401, "not_authenticated").await;
    let res = app.req(Method::GET, "/metrics").bearer_auth("wrong").send().await.unwrap();
    assert_error(res, 401, "not_authenticated").await;
    let res = app.req(Method::GET, "/metrics").bearer_auth("metrics-secret-123").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let off =
        spawn_app_with(AppOptions { env: vec![("KIWI_METRICS".into(), "off".into())], ..Default::default() }).await;
    assert_error(off.get("/metrics").await, 404, "not_found").await;
}
