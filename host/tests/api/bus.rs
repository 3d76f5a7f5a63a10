//! Several instances as one: the Redis bus fans out invalidations (runtime config,
//! token revocation, tenant changes) between two in-process instances, and between
//! two real `kiwi` processes on PostgreSQL + Redis, one of them killed and restarted.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiwi_host::bus::BusMessage;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{master_session, send, session, simple_token, whoami};
use crate::helpers::{AppOptions, PG_ADMIN_URL, fresh_pg_database, spawn_app_with, temp_dir};

async fn recv(rx: &mut tokio::sync::broadcast::Receiver<BusMessage>, want: impl Fn(&BusMessage) -> bool) -> BusMessage {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Ok(m)) if want(&m) => return m,
            Ok(Ok(_)) => continue,
            other => panic!("no matching bus message within 1 s: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bus_fans_out_between_two_instances() {
    let a = spawn_app_with(AppOptions { redis: true, ..Default::default() }).await;
    let b = spawn_app_with(AppOptions {
        redis: true,
        database_url: Some(a.database_url.clone()),
        data_dir: Some(a.data_dir.clone()),
        ..Default::default()
    })
    .await;
    a.state.bus.ready().await;
    b.state.bus.ready().await;
    assert_ne!(a.state.bus.instance_id(), b.state.bus.instance_id());
    let mut rx_b = b.state.bus.subscribe();
    let mut rx_a = a.state.bus.subscribe();

    // Runtime config.
    let m = master_session(&a).await;
    let res = send(&a, &m, Method::PUT, "/admin/config/login_rate_limit_max", Some(json!({"value": 7}))).await;
    assert_eq!(res.status(), 200);
    let msg = recv(&mut rx_b, |m| matches!(m, BusMessage::RuntimeConfigChanged { .. })).await;
    assert_eq!(msg, BusMessage::RuntimeConfigChanged { key: "login_rate_limit_max".into() });
    assert_eq!(b.state.runtime_config.int("login_rate_limit_max"), 7, "applied before it is broadcast locally");

    // Token revocation: B has the token cached; revoking on A invalidates it on B.
    let s = session(&a, "bus").await;
    let (tid, token) = simple_token(&a, &s).await;
    assert_eq!(whoami(&b, &token).await.status(), 200);
    assert_eq!(whoami(&b, &token).await.status(), 200);
    let res = send(&a, &m, Method::POST, &format!("/admin/tokens/{tid}/revoke"), None).await;
    assert_eq!(res.status(), 200);
    recv(&mut rx_b, |m| *m == BusMessage::TokenInvalidated { token_id: tid.clone() }).await;
    assert_eq!(whoami(&b, &token).await.status(), 401);

    // Tenant changes drop B's cached plan limit.
    a.state.tenants.invalidate("ten_default");
    recv(&mut rx_b, |m| *m == BusMessage::TenantChanged { tenant_id: "ten_default".into() }).await;

    // An instance ignores its own messages.
    assert!(tokio::time::timeout(Duration::from_millis(200), rx_a.recv()).await.is_err(), "A heard itself");
    b.stop().await;
}

#[tokio::test]
async fn bus_is_a_noop_without_redis() {
    let a = spawn_app_with(AppOptions::default()).await;
    assert!(!a.state.bus.is_shared());
    a.state.bus.ready().await;
    a.state.bus.publish(BusMessage::PluginChanged { name: "x".into() }).await;
    assert_eq!(a.state.bus.stats.published.load(std::sync::atomic::Ordering::Relaxed), 0);
}

// ---------------------------------------------------------------------------
// Two real processes.

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

struct Instance {
    child: Child,
    port: u16,
}

impl Instance {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ADMIN_EMAIL: &str = "root@example.com";
const ADMIN_PASSWORD: &str = "root password 123";

fn start(port: u16, db: &str, dir: &std::path::Path) -> Instance {
    let plugins = dir.join("plugins.toml");
    std::fs::write(&plugins, "").expect("plugins.toml");
    let log = std::fs::File::create(dir.join(format!("kiwi-{port}.log"))).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_kiwi"))
        .arg("serve")
        .env("KIWI_CONFIG", dir.join("absent.toml"))
        .env("KIWI_BIND", format!("127.0.0.1:{port}"))
        .env("KIWI_DATABASE_URL", db)
        .env("KIWI_REDIS_URL", "redis://127.0.0.1:6379")
        .env("KIWI_SECRET_KEY", "process-test-secret-0123456789abcdef-0123")
        .env("KIWI_DATA_DIR", dir)
        .env("KIWI_PLUGINS_FILE", &plugins)
        .env("KIWI_SITE_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/../site"))
        .env("KIWI_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("KIWI_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawning kiwi");
    Instance { child, port }
}

async fn wait_healthy(c: &reqwest::Client, i: &Instance) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = c.get(i.url("/health")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("instance on port {} did not become healthy", i.port);
}

async fn json_of(r: reqwest::RequestBuilder) -> (u16, Value) {
    let res = r.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn bus_received(c: &reqwest::Client, i: &Instance) -> u64 {
    let text = c.get(i.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("kiwi_bus_messages_received_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Polls `check` until it holds, for at most 1 s (the cross-instance guarantee).
async fn within_1s<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(start.elapsed() < Duration::from_millis(1000), "{what}: not within 1 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn new_token(c: &reqwest::Client, i: &Instance, jwt: &str, name: &str) -> (String, String) {
    let (st, v) =
        json_of(c.post(i.url("/tokens")).bearer_auth(jwt).json(&json!({"name": name, "scopes": ["*"]}))).await;
    assert_eq!(st, 201, "{v}");
    (v["id"].as_str().unwrap().to_owned(), v["token"].as_str().unwrap().to_owned())
}

async fn whoami_status(c: &reqwest::Client, i: &Instance, token: &str) -> u16 {
    c.get(i.url("/v1/whoami")).bearer_auth(token).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_behave_as_one_across_a_restart() {
    let (db_name, db) = fresh_pg_database().await;
    let dir = temp_dir();
    let c = reqwest::Client::new();
    let a = start(free_port(), &db, &dir);
    // Start B after A has migrated the database.
    wait_healthy(&c, &a).await;
    let b_port = free_port();
    let mut b = start(b_port, &db, &dir);
    wait_healthy(&c, &b).await;
    // Give B's subscriber a moment to subscribe.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (st, t) =
        json_of(c.post(a.url("/auth/login")).json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))).await;
    assert_eq!(st, 200, "{t}");
    let jwt = t["access_token"].as_str().unwrap().to_owned();

    // Runtime config: changed on A, live on B within 1 s, through the bus.
    let before = bus_received(&c, &b).await;
    let (st, _) =
        json_of(c.put(a.url("/admin/config/api_rate_limit_max")).bearer_auth(&jwt).json(&json!({"value": 5}))).await;
    assert_eq!(st, 200);
    within_1s("config on B", || async {
        let (_, v) = json_of(c.get(b.url("/admin/config/api_rate_limit_max")).bearer_auth(&jwt)).await;
        v["value"] == 5
    })
    .await;
    within_1s("bus message counted on B", || async { bus_received(&c, &b).await > before }).await;

    // Rate limits are shared: 4 calls on each instance, limit 5 → exactly 5 pass.
    let (_, token) = new_token(&c, &a, &jwt, "shared").await;
    let mut ok = 0;
    for i in 0..8 {
        let inst = if i % 2 == 0 { &a } else { &b };
        if whoami_status(&c, inst, &token).await == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 5);
    let (st, _) =
        json_of(c.put(a.url("/admin/config/api_rate_limit_max")).bearer_auth(&jwt).json(&json!({"value": 1000}))).await;
    assert_eq!(st, 200);
    within_1s("limit raised on B", || async {
        let (_, v) = json_of(c.get(b.url("/admin/config/api_rate_limit_max")).bearer_auth(&jwt)).await;
        v["value"] == 1000
    })
    .await;

    // Token revocation on A reaches B's verification cache within 1 s.
    let (tid, token) = new_token(&c, &a, &jwt, "revoke-me").await;
    assert_eq!(whoami_status(&c, &b, &token).await, 200);
    let (st, _) = json_of(c.post(a.url(&format!("/admin/tokens/{tid}/revoke"))).bearer_auth(&jwt)).await;
    assert_eq!(st, 200);
    within_1s("revocation on B", || async { whoami_status(&c, &b, &token).await == 401 }).await;

    // Kill B hard and restart it on the same port: it rejoins the bus.
    b.child.kill().expect("kill B");
    let _ = b.child.wait();
    drop(b);
    b = start(b_port, &db, &dir);
    wait_healthy(&c, &b).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (tid, token) = new_token(&c, &a, &jwt, "after-restart").await;
    assert_eq!(whoami_status(&c, &b, &token).await, 200);
    let (st, _) = json_of(c.post(a.url(&format!("/admin/tokens/{tid}/revoke"))).bearer_auth(&jwt)).await;
    assert_eq!(st, 200);
    within_1s("revocation on restarted B", || async { whoami_status(&c, &b, &token).await == 401 }).await;
    let before = bus_received(&c, &b).await;
    let (st, _) =
        json_of(c.put(a.url("/admin/config/login_rate_limit_max")).bearer_auth(&jwt).json(&json!({"value": 9}))).await;
    assert_eq!(st, 200);
    within_1s("bus on restarted B", || async { bus_received(&c, &b).await > before }).await;
    // And the other way round: B → A.
    let before_a = bus_received(&c, &a).await;
    let (st, _) =
        json_of(c.put(b.url("/admin/config/login_rate_limit_max")).bearer_auth(&jwt).json(&json!({"value": 8}))).await;
    assert_eq!(st, 200);
    within_1s("bus B → A", || async { bus_received(&c, &a).await > before_a }).await;

    drop(a);
    drop(b);
    if let Ok(pool) = sqlx::PgPool::connect(PG_ADMIN_URL).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")).execute(&pool).await;
    }
}
