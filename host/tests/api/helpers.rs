//! `spawn_app()` and typed request helpers shared by every test module.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use kiwi_host::Application;
use kiwi_host::clock::Clock;
use kiwi_host::config::Config;
use kiwi_host::state::AppState;
use serde_json::Value;

/// PostgreSQL admin URL for creating per-test databases.
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// True when the suite runs against PostgreSQL.
pub fn use_postgres() -> bool {
    std::env::var("KIWI_TEST_DATABASE").map(|v| v == "postgres").unwrap_or(false)
}

/// Options for [`spawn_app_with`].
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Extra `KIWI_*` settings.
    pub env: Vec<(String, String)>,
    /// plugins.toml contents (default: no plugins).
    pub plugins_toml: Option<String>,
    /// Use Redis (127.0.0.1:6379, a fresh key prefix is not needed: keys carry ids).
    pub redis: bool,
    /// Reuse this database URL instead of creating one (multi-instance tests).
    pub database_url: Option<String>,
    /// Reuse this data dir.
    pub data_dir: Option<PathBuf>,
}

/// A running server.
pub struct TestApp {
    pub addr: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: Clock,
    pub data_dir: PathBuf,
    pub database_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    pg_db: Option<String>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request")
    }
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }
    /// Stops the server (graceful: flushes buffers).
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(db) = self.pg_db.take() {
            // Best effort: drop the per-test database on a helper thread.
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    rt.block_on(async move {
                        if let Ok(pool) = sqlx::PgPool::connect(PG_ADMIN_URL).await {
                            let _ =
                                sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&pool).await;
                            // Plugin roles are cluster-wide: drop this database's ones too.
                            let prefix = kiwi_host::plugins::sql::pg_role(&db, "");
                            let roles: Vec<String> =
                                sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE starts_with(rolname, $1)")
                                    .bind(&prefix)
                                    .fetch_all(&pool)
                                    .await
                                    .unwrap_or_default();
                            for role in roles {
                                let _ = sqlx::query(&format!("DROP ROLE IF EXISTS {role}")).execute(&pool).await;
                            }
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// Creates a fresh PostgreSQL database, returning (name, url).
pub async fn fresh_pg_database() -> (String, String) {
    let name = format!("kiwi_t_{:016x}", rand::random::<u64>());
    let pool = sqlx::PgPool::connect(PG_ADMIN_URL).await.expect("PostgreSQL at 127.0.0.1:5432 (user postgres)");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.expect("create database");
    (name.clone(), format!("postgres://postgres@127.0.0.1:5432/{name}"))
}

/// A temp directory unique to this test.
pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiwi-test-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Points the data dir's compiled-component cache at one directory shared by every test
/// app (as a deployment's data dir keeps it across restarts): each fixture component is
/// compiled by Cranelift once per suite run, not once per test. Entries are keyed by the
/// engine fingerprint and the component's hash, so sharing cannot mix artifacts up.
fn share_compiled_cache(data_dir: &std::path::Path) {
    let link = data_dir.join("cache").join("wasm");
    if link.exists() {
        return;
    }
    let shared = crate::plugin_fixtures::fixture_target().join("compiled-cache");
    std::fs::create_dir_all(&shared).expect("shared compiled cache");
    std::fs::create_dir_all(data_dir.join("cache")).expect("cache dir");
    std::os::unix::fs::symlink(&shared, &link).expect("compiled cache link");
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

pub async fn spawn_app_with(opts: AppOptions) -> TestApp {
    let data_dir = opts.data_dir.clone().unwrap_or_else(temp_dir);
    let (pg_db, database_url) = match (&opts.database_url, use_postgres()) {
        (Some(url), _) => (None, url.clone()),
        (None, true) => {
            let (name, url) = fresh_pg_database().await;
            (Some(name), url)
        }
        (None, false) => (None, format!("sqlite://{}?mode=rwc", data_dir.join("kiwi.db").display())),
    };
    share_compiled_cache(&data_dir);
    let plugins_file = data_dir.join("plugins.toml");
    std::fs::write(&plugins_file, opts.plugins_toml.clone().unwrap_or_default()).expect("plugins.toml");
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("KIWI_BIND".into(), "127.0.0.1:0".into());
    env.insert("KIWI_DATA_DIR".into(), data_dir.display().to_string());
    env.insert("KIWI_DATABASE_URL".into(), database_url.clone());
    env.insert("KIWI_SECRET_KEY".into(), "test-secret-key-0123456789abcdef-0123456789".into());
    env.insert("KIWI_PLUGINS_FILE".into(), plugins_file.display().to_string());
    env.insert("KIWI_SITE_DIR".into(), concat!(env!("CARGO_MANIFEST_DIR"), "/../site").into());
    if opts.redis {
        env.insert("KIWI_REDIS_URL".into(), "redis://127.0.0.1:6379".into());
    }
    for (k, v) in &opts.env {
        env.insert(k.clone(), v.clone());
    }
    let config = Config::from_sources(None, &env).expect("config");
    let clock = Clock::default();
    let app = Application::build_with_clock(config, clock.clone()).await.expect("build app");
    let port = app.port();
    let state = app.state();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let _ = app
            .run_until(async move {
                let _ = rx.await;
            })
            .await;
    });
    TestApp {
        addr: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
        state,
        clock,
        data_dir,
        database_url,
        stop: Some(tx),
        handle: Some(handle),
        pg_db,
    }
}

/// Asserts an error envelope with `code` and returns its body.
pub async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let rid_header = res.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body: Value = res.json().await.expect("JSON envelope");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    let rid = body["error"]["request_id"].as_str().expect("request_id");
    assert!(rid.starts_with("req_") && rid.len() == 20, "request id {rid}");
    assert_eq!(Some(rid.to_owned()), rid_header, "envelope and header request ids agree");
    body
}
