//! Shared set-up for the benches that call plugins in-process: building a plugin
//! component from source, a host application around it, and a request.

#![allow(dead_code)] // each bench uses a subset

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use kiwi_host::Application;
use kiwi_host::clock::Clock;
use kiwi_host::config::Config;
use kiwi_host::plugins::caps::CallCtx;
use kiwi_host::plugins::wasm::wit;

pub fn workspace() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// A wasm plugin component built from source into `target/fixtures` (as the API tests do).
pub fn component(package: &str) -> Option<PathBuf> {
    let target = workspace().join("target").join("fixtures");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace())
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--quiet", "--target", "wasm32-wasip2", "--profile", "wasm", "-p", package])
        .status()
        .ok()?;
    let path = target.join("wasm32-wasip2").join("wasm").join(format!("{}.wasm", package.replace('-', "_")));
    (status.success() && path.exists()).then_some(path)
}

/// A host application (SQLite in a temp dir) loading `plugins_toml`; returns it and its dir.
pub fn app(rt: &tokio::runtime::Runtime, plugins_toml: &str) -> (Application, PathBuf) {
    let dir = std::env::temp_dir().join(format!("kiwi-bench-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let plugins = dir.join("plugins.toml");
    std::fs::write(&plugins, plugins_toml).expect("plugins.toml");
    let env: BTreeMap<String, String> = [
        ("KIWI_BIND", "127.0.0.1:0".to_owned()),
        ("KIWI_DATA_DIR", dir.display().to_string()),
        ("KIWI_DATABASE_URL", format!("sqlite://{}?mode=rwc", dir.join("kiwi.db").display())),
        ("KIWI_SECRET_KEY", "bench-secret-key-0123456789abcdef-0123456789".to_owned()),
        ("KIWI_PLUGINS_FILE", plugins.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::from_sources(None, &env).expect("config");
    let app = rt.block_on(Application::build_with_clock(config, Clock::default())).expect("app");
    (app, dir)
}

/// A request as the dispatcher hands it to a plugin.
pub fn request(method: &str, path: &str, route: &str, query: &str, tenant: &str, body: Vec<u8>) -> wit::Request {
    wit::Request {
        method: method.into(),
        path: path.into(),
        route: route.into(),
        params: Vec::new(),
        query: query.into(),
        headers: Vec::new(),
        body,
        context: wit::Context {
            tenant: tenant.into(),
            principal: None,
            request_id: "req_bench".into(),
            client_ip: "127.0.0.1".into(),
        },
    }
}

pub fn call(tenant: &str) -> CallCtx {
    CallCtx { tenant_id: tenant.into(), request_id: "req_bench".into(), ..CallCtx::default() }
}
