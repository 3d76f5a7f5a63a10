//! Instance strategy: what one `hello` call costs on a warm instance reused within
//! its tenant (Kiwi's strategy) versus a fresh instance per request (instantiate from
//! the `InstancePre` with the pooling allocator, call, drop), and the first call of a
//! tenant that has no warm instance yet.
//!
//! The component is built from source into `target/fixtures` (as the API tests do), or
//! taken from `KIWI_BENCH_HELLO_WASM`. The calls go to `WasmPlugin::handle` directly:
//! no HTTP, no auth; the figure is the runtime's share of a plugin request.
//!
//! Run: `cargo bench -p kiwi-host --bench instances`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use kiwi_host::Application;
use kiwi_host::clock::Clock;
use kiwi_host::config::Config;
use kiwi_host::plugins::Runtime;
use kiwi_host::plugins::caps::CallCtx;
use kiwi_host::plugins::wasm::{WasmPlugin, wit};

fn workspace() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The `hello` component: from the environment, else built into `target/fixtures`.
fn hello_wasm() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KIWI_BENCH_HELLO_WASM") {
        return Some(PathBuf::from(p));
    }
    let target = workspace().join("target").join("fixtures");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace())
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--quiet", "--target", "wasm32-wasip2", "--profile", "wasm", "-p", "kiwi-plugin-hello"])
        .status()
        .ok()?;
    let path = target.join("wasm32-wasip2").join("wasm").join("kiwi_plugin_hello.wasm");
    (status.success() && path.exists()).then_some(path)
}

fn request(tenant: &str) -> wit::Request {
    wit::Request {
        method: "GET".into(),
        path: "/greet/bench".into(),
        route: "/greet/{name}".into(),
        params: vec![("name".into(), "bench".into())],
        query: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
        context: wit::Context {
            tenant: tenant.into(),
            principal: None,
            request_id: "req_bench".into(),
            client_ip: "127.0.0.1".into(),
        },
    }
}

fn call(tenant: &str) -> CallCtx {
    CallCtx { tenant_id: tenant.into(), request_id: "req_bench".into(), ..CallCtx::default() }
}

async fn once(plugin: &WasmPlugin, tenant: &str) {
    match plugin.handle(call(tenant), request(tenant)).await {
        Ok(r) if r.status == 200 => {}
        Ok(r) => panic!("hello answered {}", r.status),
        Err(e) => panic!("hello failed: {e:?}"),
    }
}

fn instances(c: &mut Criterion) {
    let Some(wasm) = hello_wasm() else {
        eprintln!("instances: could not build the hello component (wasm32-wasip2 target installed?); skipped");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let dir = std::env::temp_dir().join(format!("kiwi-bench-inst-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let plugins = dir.join("plugins.toml");
    std::fs::write(&plugins, format!("[plugins.hello]\npath = {:?}\n", wasm.display().to_string())).expect("toml");
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
    let state = app.state();
    let slot = state.plugins.slot("hello").expect("hello loaded");
    let Runtime::Wasm(plugin) = &slot.current.runtime else {
        panic!("hello is a wasm plugin");
    };

    let mut g = c.benchmark_group("hello_call");
    g.bench_function("warm_instance_same_tenant", |b| b.iter(|| rt.block_on(once(plugin, "t_warm"))));
    g.bench_function("fresh_instance_per_request", |b| {
        b.iter(|| {
            rt.block_on(once(plugin, "t_fresh"));
            plugin.drain();
        })
    });
    g.finish();
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, instances);
criterion_main!(benches);
