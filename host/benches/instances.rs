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

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use kiwi_host::plugins::Runtime;
use kiwi_host::plugins::wasm::WasmPlugin;

/// The `hello` component: from `KIWI_BENCH_HELLO_WASM`, else built from source.
fn hello_wasm() -> Option<std::path::PathBuf> {
    match std::env::var_os("KIWI_BENCH_HELLO_WASM") {
        Some(p) => Some(p.into()),
        None => common::component("kiwi-plugin-hello"),
    }
}

async fn once(plugin: &WasmPlugin, tenant: &str) {
    let mut req = common::request("GET", "/greet/bench", "/greet/{name}", "", tenant, Vec::new());
    req.params = vec![("name".into(), "bench".into())];
    match plugin.handle(common::call(tenant), req).await {
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
    let (app, dir) = common::app(&rt, &format!("[plugins.hello]\npath = {:?}\n", wasm.display().to_string()));
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
