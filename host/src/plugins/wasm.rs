//! The WebAssembly tier: one wasmtime `Engine` (pooling allocator, epoch
//! interruption, async), components compiled once and cached on disk, one
//! `InstancePre` per plugin version, and a per-tenant pool of warm instances.
//!
//! **Instance strategy** (figures in ARCHITECTURE.md): instances are reused,
//! but only within one (plugin version, tenant) pair — a tenant's request can
//! never run in an instance that served another tenant. An instance that traps
//! is discarded; one that has served `MAX_USES` calls is retired.
//!
//! **Time:** an epoch ticker advances every [`TICK`]; a running guest yields to
//! tokio at every tick (so a looping plugin never blocks a worker) and traps
//! with `plugin_timeout` once its deadline has passed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder,
    UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::caps::{CallCtx, Caps};
use super::manifest_file::Limits;

/// Generated host bindings for `kiwi:plugin@1.0.0` (private: the rest of the
/// host sees only this module's API).
pub(crate) mod generated {
    wasmtime::component::bindgen!({
        path: "../plugin-api/wit/kiwi-plugin@1.0.0",
        world: "plugin",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

pub use generated::exports::kiwi::plugin::guest;
pub use generated::kiwi::plugin::types as wit;

/// Epoch tick period.
pub const TICK: Duration = Duration::from_millis(5);
/// Calls an instance may serve before it is retired.
const MAX_USES: u32 = 50_000;
/// Idle instances kept per (plugin, tenant).
const MAX_IDLE_PER_TENANT: usize = 8;
/// Pool capacity (instances across all plugins).
pub const POOL_INSTANCES: u32 = 1000;

/// Per-store data: WASI (empty), limits, and the capability context.
pub struct StoreData {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    pub(crate) caps: Arc<Caps>,
    pub(crate) call: CallCtx,
    started: Instant,
    timeout: Duration,
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// The shared engine and linker.
pub struct WasmEngine {
    engine: Engine,
    linker: Linker<StoreData>,
    cache_dir: PathBuf,
    fingerprint: String,
}

impl std::fmt::Debug for WasmEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmEngine").field("cache_dir", &self.cache_dir).finish_non_exhaustive()
    }
}

impl WasmEngine {
    /// Builds the engine, starts the epoch ticker thread, links WASI and the Kiwi imports.
    pub fn new(cache_dir: &Path) -> anyhow::Result<WasmEngine> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 4)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 4)
            .max_memory_size(super::manifest_file::MAX_MEMORY_MIB as usize * 1024 * 1024)
            .max_core_instances_per_component(16)
            .max_memories_per_component(4)
            .max_tables_per_component(8);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .wasm_component_model(true)
            .memory_reservation(4 << 30)
            .memory_guard_size(32 << 20);
        let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("creating the wasm engine: {e}"))?;
        let fingerprint =
            format!("wasmtime-{}|pool{}|epoch|{}", wasmtime_version(), POOL_INSTANCES, std::env::consts::ARCH);

        let weak = engine.weak();
        std::thread::Builder::new()
            .name("kiwi-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .context("starting the epoch ticker")?;

        let mut linker: Linker<StoreData> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow::anyhow!("linking WASI: {e}"))?;
        generated::Plugin::add_to_linker::<StoreData, HasSelf<StoreData>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("linking kiwi imports: {e}"))?;
        std::fs::create_dir_all(cache_dir).with_context(|| format!("creating {}", cache_dir.display()))?;
        Ok(WasmEngine { engine, linker, cache_dir: cache_dir.to_path_buf(), fingerprint })
    }

    /// Compiles (or loads from the on-disk cache) and pre-instantiates a component.
    pub fn load(&self, wasm: &[u8]) -> anyhow::Result<InstancePre<StoreData>> {
        let mut h = Sha256::new();
        h.update(self.fingerprint.as_bytes());
        h.update(wasm);
        let key = hex::encode(h.finalize());
        let cached = self.cache_dir.join(format!("{key}.cwasm"));
        let component = match std::fs::metadata(&cached) {
            // SAFETY: the artifact was written by `Component::serialize` of an engine with this
            // exact fingerprint into the host's own data dir; wasmtime rejects mismatched artifacts.
            Ok(_) => match unsafe { Component::deserialize_file(&self.engine, &cached) } {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "stale compiled artifact; recompiling");
                    self.compile_and_cache(wasm, &cached)?
                }
            },
            Err(_) => self.compile_and_cache(wasm, &cached)?,
        };
        self.linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow::anyhow!("the component does not fit the kiwi:plugin@1.0.0 world: {e}"))
    }

    fn compile_and_cache(&self, wasm: &[u8], cached: &Path) -> anyhow::Result<Component> {
        let component = Component::new(&self.engine, wasm)
            .map_err(|e| anyhow::anyhow!("not a valid WebAssembly component: {e}"))?;
        match component.serialize() {
            Ok(bytes) => {
                // Unique per writer: two loads of one component (threads or processes sharing
                // the cache) must never write into the same file, which a reader may map.
                let tmp = cached.with_extension(format!("tmp{}-{:x}", std::process::id(), rand::random::<u64>()));
                if std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, cached)).is_err() {
                    tracing::warn!(path = %cached.display(), "could not cache the compiled component");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not serialize the compiled component"),
        }
        Ok(component)
    }

    /// A fresh store for one plugin.
    fn store(&self, caps: Arc<Caps>, limits: &Limits) -> Store<StoreData> {
        let data = StoreData {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_mib as usize * 1024 * 1024)
                .instances(16)
                .tables(16)
                .memories(4)
                .trap_on_grow_failure(true)
                .build(),
            caps,
            call: CallCtx::default(),
            started: Instant::now(),
            timeout: Duration::from_millis(limits.timeout_ms as u64),
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|d| &mut d.limits);
        store.epoch_deadline_callback(|ctx| {
            let d = ctx.data();
            if d.started.elapsed() >= d.timeout {
                Err(wasmtime::Trap::Interrupt.into())
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }
}

fn wasmtime_version() -> &'static str {
    // Pinned in Cargo.toml; part of the cache key so an upgrade recompiles.
    "48"
}

struct Warm {
    store: Store<StoreData>,
    bindings: generated::Plugin,
    uses: u32,
}

/// Why a wasm call failed.
#[derive(Debug)]
pub enum CallError {
    Timeout,
    /// Trap, panic, out of memory: the message is for logs.
    Failed(String),
    /// Instantiation failed (pool exhausted, ...).
    Unavailable(String),
}

/// A loaded component version with its warm-instance pool.
pub struct WasmPlugin {
    pre: InstancePre<StoreData>,
    engine: Arc<WasmEngine>,
    caps: Arc<Caps>,
    limits: Limits,
    idle: Mutex<HashMap<String, Vec<Warm>>>,
}

impl std::fmt::Debug for WasmPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmPlugin").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl WasmPlugin {
    pub fn new(engine: Arc<WasmEngine>, pre: InstancePre<StoreData>, caps: Arc<Caps>, limits: Limits) -> Self {
        Self { pre, engine, caps, limits, idle: Mutex::new(HashMap::new()) }
    }

    async fn instantiate(&self) -> Result<Warm, CallError> {
        let mut store = self.engine.store(self.caps.clone(), &self.limits);
        store.data_mut().started = Instant::now();
        store.set_epoch_deadline(1);
        let instance =
            self.pre.instantiate_async(&mut store).await.map_err(|e| CallError::Unavailable(format!("{e:#}")))?;
        let bindings =
            generated::Plugin::new(&mut store, &instance).map_err(|e| CallError::Unavailable(format!("{e:#}")))?;
        Ok(Warm { store, bindings, uses: 0 })
    }

    fn take(&self, tenant: &str) -> Option<Warm> {
        self.idle.lock().get_mut(tenant).and_then(Vec::pop)
    }

    fn give_back(&self, tenant: &str, warm: Warm) {
        if warm.uses >= MAX_USES {
            return;
        }
        let mut idle = self.idle.lock();
        let list = idle.entry(tenant.to_owned()).or_default();
        if list.len() < MAX_IDLE_PER_TENANT {
            list.push(warm);
        }
    }

    /// Idle instances currently pooled.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().values().map(Vec::len).sum()
    }

    /// Drops every pooled instance (on unload).
    pub fn drain(&self) {
        self.idle.lock().clear();
    }

    /// Runs one export on an instance from this tenant's pool with `call` as context.
    async fn run(&self, call: CallCtx, op: Op) -> Result<OpResult, CallError> {
        let tenant = call.tenant_id.clone();
        let mut warm = match self.take(&tenant) {
            Some(w) => w,
            None => self.instantiate().await?,
        };
        {
            let d = warm.store.data_mut();
            d.call = call;
            d.started = Instant::now();
        }
        warm.store.set_epoch_deadline(1);
        let guest = warm.bindings.kiwi_plugin_guest();
        let result = match op {
            Op::Handle(req) => guest.call_handle(&mut warm.store, &req).await.map(OpResult::Handle),
            Op::Describe => guest.call_describe(&mut warm.store).await.map(OpResult::Describe),
            Op::RunJob(name) => guest.call_run_job(&mut warm.store, &name).await.map(OpResult::RunJob),
        };
        match result {
            Ok(v) => {
                warm.uses += 1;
                warm.store.data_mut().call = CallCtx::default();
                self.give_back(&tenant, warm);
                Ok(v)
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Calls `handle`.
    pub async fn handle(&self, call: CallCtx, req: wit::Request) -> Result<wit::Response, CallError> {
        match self.run(call, Op::Handle(Box::new(req))).await? {
            OpResult::Handle(r) => Ok(r),
            _ => Err(CallError::Failed("unexpected export result".into())),
        }
    }

    /// Calls `describe` on a fresh instance (not pooled).
    pub async fn describe(&self) -> Result<wit::Manifest, CallError> {
        let call = CallCtx { tenant_id: "__describe".into(), ..CallCtx::default() };
        let r = self.run(call, Op::Describe).await;
        self.idle.lock().remove("__describe");
        match r? {
            OpResult::Describe(m) => Ok(m),
            _ => Err(CallError::Failed("unexpected export result".into())),
        }
    }

    /// Calls `run-job`.
    pub async fn run_job(&self, call: CallCtx, name: String) -> Result<Result<(), String>, CallError> {
        match self.run(call, Op::RunJob(name)).await? {
            OpResult::RunJob(r) => Ok(r),
            _ => Err(CallError::Failed("unexpected export result".into())),
        }
    }
}

enum Op {
    Handle(Box<wit::Request>),
    Describe,
    RunJob(String),
}

enum OpResult {
    Handle(wit::Response),
    Describe(wit::Manifest),
    RunJob(Result<(), String>),
}

fn classify(e: wasmtime::Error) -> CallError {
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>()
        && *trap == wasmtime::Trap::Interrupt
    {
        return CallError::Timeout;
    }
    CallError::Failed(format!("{e:#}"))
}
