//! The server under test: the production plugins built from source, a
//! plugins.toml for them, and a Kiwi [`Application`] on port 0 with a pinned
//! [`Clock`] and a fresh database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use kiwi_host::Application;
use kiwi_host::clock::Clock;
use kiwi_host::config::Config;
use kiwi_host::state::AppState;
use serde_json::{Value, json};

/// PostgreSQL admin URL for creating per-test databases (as the host API suite).
const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The workspace root.
pub fn workspace() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().expect("the e2e crate lives in the workspace").to_path_buf()
}

/// The reference vectors directory.
pub fn vectors() -> PathBuf {
    workspace().join("tests/reference/vectors")
}

/// True when the suite runs against PostgreSQL.
pub fn use_postgres() -> bool {
    std::env::var("KIWI_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// Where the plugins are built: `KIWI_E2E_TARGET`, else `e2e-plugins` under the
/// cargo target dir (a separate target dir: the outer `cargo test` holds the lock
/// on its own).
fn plugin_target() -> PathBuf {
    if let Some(t) = std::env::var_os("KIWI_E2E_TARGET") {
        return PathBuf::from(t);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_relative() { workspace().join(t) } else { t })
        .unwrap_or_else(|| workspace().join("target"));
    target.join("e2e-plugins")
}

/// The built plugins.
#[derive(Debug)]
pub struct Plugins {
    /// plugins.toml contents: the repository's, with the wasm paths pointing at this build
    /// and the native plugins left out.
    pub toml: String,
    /// The plugin names in it.
    pub names: Vec<String>,
    /// Compiled-component cache shared by every server of the run (keyed by the
    /// component's hash and the engine configuration, so it never serves a stale build).
    pub wasm_cache: PathBuf,
}

/// Builds (incrementally, once per test run) every wasm plugin of the repository's
/// plugins.toml and returns a plugins.toml for them.
pub fn plugins() -> &'static Plugins {
    static P: OnceLock<Plugins> = OnceLock::new();
    P.get_or_init(|| {
        let source = workspace().join("plugins.toml");
        let text = std::fs::read_to_string(&source).expect("plugins.toml");
        let table: toml::Table = toml::from_str(&text).expect("plugins.toml parses");
        let entries = table.get("plugins").and_then(|p| p.as_table()).expect("[plugins]");
        // Plugin name → wasm file name; native plugins are left out (the e2e covers the wasm tier).
        let mut wasm: BTreeMap<String, String> = BTreeMap::new();
        let mut native: Vec<String> = Vec::new();
        for (name, entry) in entries {
            if entry.get("tier").and_then(|t| t.as_str()) == Some("native") {
                native.push(name.clone());
                continue;
            }
            let path = entry.get("path").and_then(|p| p.as_str()).expect("plugin path");
            let file = Path::new(path).file_name().and_then(|f| f.to_str()).expect("file name");
            wasm.insert(name.clone(), file.to_owned());
        }
        assert!(wasm.len() >= 7, "expected the production wasm plugins in plugins.toml, found {wasm:?}");

        let target = plugin_target();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace()).env("CARGO_TARGET_DIR", &target).args([
            "build",
            "--quiet",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "wasm",
        ]);
        for file in wasm.values() {
            let package = file.trim_end_matches(".wasm").replace('_', "-");
            cmd.args(["-p", &package]);
        }
        let out = cmd.output().expect("running cargo to build the plugins");
        assert!(out.status.success(), "plugin build failed:\n{}", String::from_utf8_lossy(&out.stderr));

        let dir = target.join("wasm32-wasip2").join("wasm");
        let toml = rewrite_plugins_toml(&text, &native, |name| {
            let p = dir.join(&wasm[name]);
            assert!(p.exists(), "{} was not built", p.display());
            p
        });
        let wasm_cache = target.join("compiled-cache");
        std::fs::create_dir_all(&wasm_cache).expect("compiled cache dir");
        Plugins { toml, names: wasm.into_keys().collect(), wasm_cache }
    })
}

/// The repository's plugins.toml with every `path` replaced by `path_of(plugin)` and the
/// `native` plugins' sections dropped; everything else (limits, config) is kept verbatim.
fn rewrite_plugins_toml(text: &str, native: &[String], path_of: impl Fn(&str) -> PathBuf) -> String {
    let mut out = String::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(header) = t.strip_prefix("[plugins.").and_then(|h| h.strip_suffix(']')) {
            current = Some(header.split('.').next().unwrap_or(header).trim_matches('"').to_owned());
        }
        if current.as_ref().is_some_and(|c| native.contains(c)) {
            continue;
        }
        let is_path = t.strip_prefix("path").is_some_and(|r| r.trim_start().starts_with('='));
        match (&current, is_path) {
            (Some(name), true) => out.push_str(&format!("path = {:?}\n", path_of(name).display().to_string())),
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// A running server with its own database and clock.
pub struct App {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: Clock,
    pub data_dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pg_db: Option<String>,
}

impl App {
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    pub fn request(&self, method: &str, path_and_query: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        self.client.request(method, self.url(path_and_query))
    }

    /// Logs in the platform superuser (created on first use) and returns its access token.
    pub async fn master_jwt(&self) -> String {
        let (email, password) = ("e2e-master@example.com", "e2e master password 1");
        self.state.accounts.ensure_master(email, password).await.expect("ensure_master");
        let res = self
            .request("POST", "/auth/login")
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("login");
        let status = res.status();
        let body: Value = res.json().await.expect("login JSON");
        assert_eq!(status, 200, "master login: {body}");
        body["access_token"].as_str().expect("access_token").to_owned()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(db) = self.pg_db.take() {
            // Best effort, on a helper thread (we may be inside a runtime): the database, then
            // the plugins' login roles, which are cluster-wide and outlive it.
            let roles: Vec<String> = plugins().names.iter().map(|p| kiwi_host::plugins::sql::pg_role(&db, p)).collect();
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    rt.block_on(async move {
                        if let Ok(pool) = sqlx::PgPool::connect(PG_ADMIN_URL).await {
                            let _ =
                                sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&pool).await;
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

/// Starts a server running the production wasm plugins. The vector runs send hundreds of
/// anonymous requests from one IP and as one user, so the API rate limits are raised
/// (runtime config, as an operator would) to keep them out of the comparison.
pub async fn spawn() -> App {
    let plugins = plugins();
    let data_dir = std::env::temp_dir().join(format!("kiwi-e2e-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(data_dir.join("cache")).expect("data dir");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&plugins.wasm_cache, data_dir.join("cache").join("wasm")).expect("compiled cache link");
    let (pg_db, database_url) = if use_postgres() {
        let name = format!("kiwi_e2e_{:016x}", rand::random::<u64>());
        let pool = sqlx::PgPool::connect(PG_ADMIN_URL).await.expect("PostgreSQL at 127.0.0.1:5432 (user postgres)");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.expect("create database");
        pool.close().await;
        (Some(name.clone()), format!("postgres://postgres@127.0.0.1:5432/{name}"))
    } else {
        (None, format!("sqlite://{}?mode=rwc", data_dir.join("kiwi.db").display()))
    };
    let plugins_file = data_dir.join("plugins.toml");
    std::fs::write(&plugins_file, &plugins.toml).expect("plugins.toml");
    let env: BTreeMap<String, String> = [
        ("KIWI_BIND", "127.0.0.1:0".to_owned()),
        ("KIWI_DATA_DIR", data_dir.display().to_string()),
        ("KIWI_DATABASE_URL", database_url),
        ("KIWI_SECRET_KEY", "e2e-secret-key-0123456789abcdef-0123456789".to_owned()),
        ("KIWI_PLUGINS_FILE", plugins_file.display().to_string()),
        ("KIWI_SITE_DIR", workspace().join("site").display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::from_sources(None, &env).expect("config");
    let clock = Clock::default();
    // One build at a time: the first compiles the components (slow in a debug build of the
    // host) and fills the shared cache; the others then load from it instead of compiling
    // the same components concurrently.
    static BUILDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let app = {
        let _one_at_a_time = BUILDING.lock().await;
        Application::build_with_clock(config, clock.clone()).await.expect("build the application")
    };
    let state = app.state();
    let failures = state.plugins.failures();
    assert!(failures.is_empty(), "plugins failed to load: {failures:#?}");
    for key in ["public_anon_rate_limit_max", "api_rate_limit_max"] {
        state.runtime_config.set(key, &json!(100_000), "e2e").await.expect("raise the rate limit");
    }
    let port = app.port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = app
            .run_until(async move {
                let _ = rx.await;
            })
            .await;
    });
    App {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
        state,
        clock,
        data_dir,
        stop: Some(tx),
        pg_db,
    }
}

/// A response read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub async fn from(res: reqwest::Response) -> Reply {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.bytes().await.expect("response body").to_vec();
        Reply { status, headers, body }
    }

    /// The body as JSON (`Value::Null` with the text in the failure message if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends a request and reads the whole response.
pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    Reply::from(req.send().await.expect("request")).await
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `?k=v&…` from a JSON object of query values (strings as is, other values as JSON text).
pub fn query_string(q: &Value) -> String {
    let Some(m) = q.as_object() else {
        return String::new();
    };
    let parts: Vec<String> = m
        .iter()
        .map(|(k, v)| {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            format!("{}={}", enc(k), enc(&v))
        })
        .collect();
    if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
}

/// Panics with every failure (at most `max` shown) when there are any.
#[track_caller]
pub fn report(what: &str, total: usize, failures: &[String]) {
    const MAX: usize = 25;
    if failures.is_empty() {
        eprintln!(
            "{what}: {total} vectors passed through HTTP ({})",
            if use_postgres() { "PostgreSQL" } else { "SQLite" }
        );
        return;
    }
    let shown: Vec<&str> = failures.iter().take(MAX).map(String::as_str).collect();
    let more = if failures.len() > MAX { format!("\n… and {} more", failures.len() - MAX) } else { String::new() };
    panic!("{what}: {} of {total} vectors differ:\n\n{}{more}", failures.len(), shown.join("\n\n"));
}
