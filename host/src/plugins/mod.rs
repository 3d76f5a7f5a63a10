//! The plugin runtime: every product surface is a plugin.
//!
//! - [`manifest_file`]: `plugins.toml` (strict).
//! - [`wasm`]: the sandboxed WebAssembly tier (wasmtime, pooling, epochs, warm pools).
//! - [`native`]: the trusted abi_stable tier.
//! - [`caps`] / [`sql`]: the host capabilities plugins import.
//! - [`dispatch`]: `/v1/<plugin>/…` — tenant, auth, access, scope, limits, then the plugin.
//! - [`admin`]: runtime control (`/admin/plugins…`, tenant feature sets).
//!
//! **Lifecycle.** At start-up every `plugins.toml` entry (plus plugins installed
//! at runtime, kept in `plugin_settings`) is loaded: read, compiled (or loaded
//! from the compiled cache), `describe()`d, its scopes registered, its SQL
//! namespace provisioned and migrated. A loaded version is an immutable
//! [`LoadedPlugin`] behind an `Arc` in a copy-on-write map: reload builds the new
//! version first and swaps the map entry atomically, so in-flight requests finish
//! on the old version and new ones use the new one.

pub mod admin;
pub mod caps;
pub mod dispatch;
pub mod manifest_file;
pub mod native;
pub mod sql;
pub mod stats;
pub mod wasm;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use dashmap::DashMap;
use kiwi_plugin_api::manifest::{Access, Manifest, RouteSpec};
use parking_lot::RwLock;
use serde_json::{Map, Value, json};
use sqlx::Row;
use tokio::sync::{Semaphore, broadcast};

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::openapi::add_operation;
use crate::state::AppState;
use caps::{Caps, PluginEvent};
use manifest_file::{Limits, PluginEntry, PluginsFile, Tier};

pub use admin::admin_routes;
pub use dispatch::dispatch_routes;

/// How a loaded plugin runs.
#[derive(Debug)]
pub enum Runtime {
    Wasm(wasm::WasmPlugin),
    Native(native::NativePlugin),
}

/// One route with what dispatch needs precomputed.
#[derive(Debug, Clone)]
pub struct LoadedRoute {
    pub spec: RouteSpec,
    /// Registry bit of `spec.scope`.
    pub scope_bit: Option<u32>,
}

/// An immutable loaded plugin version.
#[derive(Debug)]
pub struct LoadedPlugin {
    pub name: String,
    pub manifest: Manifest,
    pub entry: PluginEntry,
    pub runtime: Runtime,
    pub routes: Vec<LoadedRoute>,
    /// Path template → indices into `routes` (one per method).
    pub router: matchit::Router<Vec<usize>>,
    pub semaphore: Arc<Semaphore>,
    pub loaded_at_ms: i64,
    pub stats: Arc<stats::PluginStats>,
}

impl LoadedPlugin {
    pub fn limits(&self) -> &Limits {
        &self.entry.limits
    }
    pub fn tier(&self) -> Tier {
        self.entry.tier
    }
}

/// A plugin slot: its current version and whether it is enabled platform-wide.
#[derive(Debug)]
pub struct Slot {
    pub current: Arc<LoadedPlugin>,
    pub enabled: AtomicBool,
}

/// The plugin host.
pub struct PluginHost {
    engine: Arc<wasm::WasmEngine>,
    slots: RwLock<Arc<BTreeMap<String, Arc<Slot>>>>,
    /// (tenant id, plugin) → enabled, for tenants that chose explicitly.
    tenant_choice: DashMap<(String, String), bool>,
    /// Plugins that failed to load: name → error.
    failures: RwLock<BTreeMap<String, String>>,
    events: broadcast::Sender<PluginEvent>,
    http: reqwest::Client,
    data_dir: PathBuf,
    plugins_file: PathBuf,
    /// Serializes load/reload/install so two admins cannot race.
    admin_lock: tokio::sync::Mutex<()>,
    /// Reload generations seen per plugin (`plugin_settings.generation`).
    generations: parking_lot::Mutex<HashMap<String, i64>>,
    background: parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost").finish_non_exhaustive()
    }
}

impl PluginHost {
    /// Creates the engine (no plugins loaded yet; see [`PluginHost::load_all`]).
    pub async fn new(config: &Config, _db: &Db, _clock: &Clock) -> anyhow::Result<Self> {
        let engine = Arc::new(wasm::WasmEngine::new(&config.data_dir.join("cache").join("wasm"))?);
        let (events, _) = broadcast::channel(1024);
        Ok(Self {
            engine,
            slots: RwLock::new(Arc::new(BTreeMap::new())),
            tenant_choice: DashMap::new(),
            failures: RwLock::new(BTreeMap::new()),
            events,
            http: reqwest::Client::new(),
            data_dir: config.data_dir.clone(),
            plugins_file: config.plugins_file.clone(),
            admin_lock: tokio::sync::Mutex::new(()),
            generations: parking_lot::Mutex::new(HashMap::new()),
            background: parking_lot::Mutex::new(Vec::new()),
        })
    }

    /// Subscribes to events plugins publish.
    pub fn subscribe_events(&self) -> broadcast::Receiver<PluginEvent> {
        self.events.subscribe()
    }

    /// The current slot of a plugin.
    pub fn slot(&self, name: &str) -> Option<Arc<Slot>> {
        self.slots.read().get(name).cloned()
    }

    /// Every slot.
    pub fn slots(&self) -> Arc<BTreeMap<String, Arc<Slot>>> {
        self.slots.read().clone()
    }

    /// Load failures by plugin name.
    pub fn failures(&self) -> BTreeMap<String, String> {
        self.failures.read().clone()
    }

    fn put_slot(&self, name: &str, slot: Arc<Slot>) {
        let mut w = self.slots.write();
        let mut map = (**w).clone();
        map.insert(name.to_owned(), slot);
        *w = Arc::new(map);
    }

    /// Loads every plugin from plugins.toml and the runtime-installed ones, and
    /// the tenants' choices. A plugin that fails to load is logged and skipped.
    pub async fn load_all(&self, state: &AppState) -> anyhow::Result<()> {
        let _guard = self.admin_lock.lock().await;
        let file = PluginsFile::load(&self.plugins_file)?;
        let mut entries: BTreeMap<String, PluginEntry> = file.plugins;
        let settings = sqlx::query("SELECT name, enabled, path, tier, generation FROM plugin_settings")
            .fetch_all(&state.db.pool)
            .await?;
        let mut enabled_override: HashMap<String, bool> = HashMap::new();
        for row in settings {
            let name: String = row.try_get("name")?;
            let generation: i64 = row.try_get("generation")?;
            self.generations.lock().insert(name.clone(), generation);
            let enabled: i64 = row.try_get("enabled")?;
            let path: Option<String> = row.try_get("path")?;
            let tier: Option<String> = row.try_get("tier")?;
            enabled_override.insert(name.clone(), enabled != 0);
            if let (Some(path), false) = (path, entries.contains_key(&name)) {
                let tier = if tier.as_deref() == Some("native") { Tier::Native } else { Tier::Wasm };
                entries.insert(name, installed_entry(PathBuf::from(path), tier));
            }
        }
        for (name, entry) in entries {
            let enabled = enabled_override.get(&name).copied().unwrap_or(entry.enabled);
            match self.build(state, &name, entry).await {
                Ok(plugin) => {
                    tracing::info!(plugin = %name, version = %plugin.manifest.version, enabled, "plugin loaded");
                    self.put_slot(
                        &name,
                        Arc::new(Slot { current: Arc::new(plugin), enabled: AtomicBool::new(enabled) }),
                    );
                    self.failures.write().remove(&name);
                }
                Err(e) => {
                    tracing::error!(plugin = %name, error = format!("{e:#}"), "plugin failed to load");
                    self.failures.write().insert(name, format!("{e:#}"));
                }
            }
        }
        self.reload_tenant_choices(state).await?;
        Ok(())
    }

    /// Re-reads the tenants' plugin choices from the database.
    pub async fn reload_tenant_choices(&self, state: &AppState) -> anyhow::Result<()> {
        let rows =
            sqlx::query("SELECT tenant_id, plugin, enabled FROM tenant_plugins").fetch_all(&state.db.pool).await?;
        self.tenant_choice.clear();
        for r in rows {
            let t: String = r.try_get("tenant_id")?;
            let p: String = r.try_get("plugin")?;
            let e: i64 = r.try_get("enabled")?;
            self.tenant_choice.insert((t, p), e != 0);
        }
        Ok(())
    }

    /// Builds (loads, describes, provisions) one plugin version without publishing it.
    async fn build(&self, state: &AppState, name: &str, entry: PluginEntry) -> anyhow::Result<LoadedPlugin> {
        manifest_file::validate_name(name).map_err(|m| anyhow::anyhow!("plugin name {name:?}: {m}"))?;
        let config_json = serde_json::to_string(&entry.config).context("plugin config")?;
        let make_caps = |sql| {
            Arc::new(Caps {
                plugin: name.to_owned(),
                db: state.db.clone(),
                clock: state.clock.clone(),
                config_json: config_json.clone(),
                allowed_hosts: entry.allowed_hosts.clone(),
                allow_private_network: entry.allow_private_network,
                max_host_calls: entry.limits.max_host_calls,
                sql,
                events: self.events.clone(),
                http: self.http.clone(),
            })
        };
        let (runtime, manifest) = match entry.tier {
            Tier::Wasm => {
                let bytes =
                    tokio::fs::read(&entry.path).await.with_context(|| format!("reading {}", entry.path.display()))?;
                let engine = self.engine.clone();
                let pre = tokio::task::spawn_blocking(move || engine.load(&bytes)).await??;
                // Describe with a capability-less probe, then build the real one with SQL.
                let probe = wasm::WasmPlugin::new(self.engine.clone(), pre.clone(), make_caps(None), entry.limits);
                let wit_manifest = probe.describe().await.map_err(|e| anyhow::anyhow!("describe() failed: {e:?}"))?;
                let manifest = convert::manifest(wit_manifest);
                check_manifest(name, &manifest)?;
                let sql = self.provision_sql(state, name, &manifest, &entry.limits).await?;
                (Runtime::Wasm(wasm::WasmPlugin::new(self.engine.clone(), pre, make_caps(sql), entry.limits)), manifest)
            }
            Tier::Native => {
                let path = entry.path.clone();
                let (module, manifest) = tokio::task::spawn_blocking(move || native::load(&path)).await??;
                check_manifest(name, &manifest)?;
                let sql = self.provision_sql(state, name, &manifest, &entry.limits).await?;
                (Runtime::Native(native::NativePlugin::new(module, make_caps(sql))), manifest)
            }
        };
        let scope_defs: Vec<(String, String)> =
            manifest.scopes.iter().map(|s| (s.name.clone(), s.description.clone())).collect();
        state.tokens.ensure_scopes(name, &scope_defs).await.context("registering scopes")?;
        let mut routes = Vec::new();
        let mut by_path: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, spec) in manifest.routes.iter().enumerate() {
            let scope_bit =
                match &spec.scope {
                    Some(s) => Some(state.tokens.bit_of(s).ok_or_else(|| {
                        anyhow::anyhow!("route {} {} uses unknown scope {s:?}", spec.method, spec.path)
                    })?),
                    None => None,
                };
            routes.push(LoadedRoute { spec: spec.clone(), scope_bit });
            by_path.entry(spec.path.clone()).or_default().push(i);
        }
        let mut router = matchit::Router::new();
        for (path, idx) in by_path {
            router.insert(path.clone(), idx).map_err(|e| anyhow::anyhow!("route template {path:?}: {e}"))?;
        }
        Ok(LoadedPlugin {
            name: name.to_owned(),
            semaphore: Arc::new(Semaphore::new(entry.limits.max_concurrency as usize)),
            manifest,
            entry,
            runtime,
            routes,
            router,
            loaded_at_ms: state.clock.now_ms(),
            stats: Arc::new(stats::PluginStats::default()),
        })
    }

    async fn provision_sql(
        &self,
        state: &AppState,
        name: &str,
        manifest: &Manifest,
        limits: &manifest_file::Limits,
    ) -> anyhow::Result<Option<sql::SqlNamespace>> {
        if manifest.migrations.is_empty() {
            return Ok(None);
        }
        let limit = std::time::Duration::from_millis(u64::from(limits.sql_statement_ms));
        Ok(Some(sql::SqlNamespace::provision(&state.db, &self.data_dir, name, &manifest.migrations, limit).await?))
    }

    /// Reloads a plugin from its path (atomically swapping versions).
    pub async fn reload(&self, state: &AppState, name: &str) -> ApiResult<Arc<LoadedPlugin>> {
        let _guard = self.admin_lock.lock().await;
        let slot = self.slot(name).ok_or_else(|| ApiError::not_found(format!("no plugin {name:?}")))?;
        let entry = slot.current.entry.clone();
        if entry.tier == Tier::Native {
            return Err(ApiError::conflict(
                "native plugins cannot be reloaded in-process (abi_stable never unloads); restart the host",
            ));
        }
        let plugin = Arc::new(
            self.build(state, name, entry).await.map_err(|e| ApiError::bad_request(format!("reload failed: {e:#}")))?,
        );
        let enabled = slot.enabled.load(Ordering::SeqCst);
        self.put_slot(name, Arc::new(Slot { current: plugin.clone(), enabled: AtomicBool::new(enabled) }));
        if let Runtime::Wasm(w) = &slot.current.runtime {
            w.drain();
        }
        Ok(plugin)
    }

    /// Asks every instance (this one included) to reload `name` by bumping its generation.
    pub async fn request_reload(&self, state: &AppState, name: &str) -> ApiResult<i64> {
        if self.slot(name).is_none() {
            return Err(ApiError::not_found(format!("no plugin {name:?}")));
        }
        let enabled = self.slot(name).map(|s| s.enabled.load(Ordering::SeqCst)).unwrap_or(true);
        sqlx::query(
            "INSERT INTO plugin_settings (name, enabled, generation, updated_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (name) DO UPDATE SET generation = plugin_settings.generation + 1, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(enabled as i64)
        .bind(state.clock.now_ms())
        .execute(&state.db.pool)
        .await?;
        let g: i64 = sqlx::query("SELECT generation FROM plugin_settings WHERE name = $1")
            .bind(name)
            .fetch_one(&state.db.pool)
            .await
            .and_then(|r| r.try_get(0))?;
        Ok(g)
    }

    /// Reloads here and tells the other instances (through the shared database).
    pub async fn reload_everywhere(&self, state: &AppState, name: &str) -> ApiResult<Arc<LoadedPlugin>> {
        let g = self.request_reload(state, name).await?;
        self.generations.lock().insert(name.to_owned(), g);
        self.reload(state, name).await
    }

    /// Applies changes other instances (or the CLI) made: enabled flags, reload
    /// requests, runtime installs, tenant choices. Runs every second; cheap.
    pub async fn sync_from_db(&self, state: &AppState) -> anyhow::Result<()> {
        let rows = sqlx::query("SELECT name, enabled, path, tier, generation FROM plugin_settings")
            .fetch_all(&state.db.pool)
            .await?;
        for row in rows {
            let name: String = row.try_get("name")?;
            let enabled: i64 = row.try_get("enabled")?;
            let generation: i64 = row.try_get("generation")?;
            let path: Option<String> = row.try_get("path")?;
            let tier: Option<String> = row.try_get("tier")?;
            match self.slot(&name) {
                Some(slot) => {
                    slot.enabled.store(enabled != 0, Ordering::SeqCst);
                    let seen = self.generations.lock().get(&name).copied().unwrap_or(0);
                    if generation > seen {
                        self.generations.lock().insert(name.clone(), generation);
                        if let Err(e) = self.reload(state, &name).await {
                            tracing::error!(plugin = %name, error = %e, "reload requested elsewhere failed here");
                        } else {
                            tracing::info!(plugin = %name, generation, "plugin reloaded (requested elsewhere)");
                        }
                    }
                }
                None => {
                    if let Some(path) = path {
                        if self.failures.read().contains_key(&name) {
                            continue;
                        }
                        let tier = if tier.as_deref() == Some("native") { Tier::Native } else { Tier::Wasm };
                        self.generations.lock().insert(name.clone(), generation);
                        let _guard = self.admin_lock.lock().await;
                        match self.build(state, &name, installed_entry(PathBuf::from(path), tier)).await {
                            Ok(p) => self.put_slot(
                                &name,
                                Arc::new(Slot { current: Arc::new(p), enabled: AtomicBool::new(enabled != 0) }),
                            ),
                            Err(e) => {
                                self.failures.write().insert(name.clone(), format!("{e:#}"));
                            }
                        }
                    }
                }
            }
        }
        self.reload_tenant_choices(state).await
    }

    /// Installs a new plugin from a path; its routes appear at once.
    pub async fn install(&self, state: &AppState, name: &str, path: &Path, tier: Tier) -> ApiResult<Arc<LoadedPlugin>> {
        let _guard = self.admin_lock.lock().await;
        manifest_file::validate_name(name).map_err(|m| ApiError::validation("name", m))?;
        if self.slot(name).is_some() {
            return Err(ApiError::conflict(format!("plugin {name:?} is already installed; use reload")));
        }
        let entry = installed_entry(path.to_path_buf(), tier);
        let plugin = Arc::new(
            self.build(state, name, entry)
                .await
                .map_err(|e| ApiError::bad_request(format!("install failed: {e:#}")))?,
        );
        let now = state.clock.now_ms();
        sqlx::query(
            "INSERT INTO plugin_settings (name, enabled, path, tier, updated_at) VALUES ($1, 1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET enabled = 1, path = excluded.path, tier = excluded.tier, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(path.display().to_string())
        .bind(if tier == Tier::Native { "native" } else { "wasm" })
        .bind(now)
        .execute(&state.db.pool)
        .await?;
        self.put_slot(name, Arc::new(Slot { current: plugin.clone(), enabled: AtomicBool::new(true) }));
        Ok(plugin)
    }

    /// Enables or disables a plugin platform-wide (persisted).
    pub async fn set_enabled(&self, state: &AppState, name: &str, enabled: bool) -> ApiResult<()> {
        let slot = self.slot(name).ok_or_else(|| ApiError::not_found(format!("no plugin {name:?}")))?;
        sqlx::query(
            "INSERT INTO plugin_settings (name, enabled, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(enabled as i64)
        .bind(state.clock.now_ms())
        .execute(&state.db.pool)
        .await?;
        slot.enabled.store(enabled, Ordering::SeqCst);
        Ok(())
    }

    /// Re-reads one plugin's platform-wide enabled flag from the database (other instances' changes).
    pub async fn refresh_enabled(&self, state: &AppState, name: &str) -> anyhow::Result<()> {
        if let Some(slot) = self.slot(name)
            && let Some(row) = sqlx::query("SELECT enabled FROM plugin_settings WHERE name = $1")
                .bind(name)
                .fetch_optional(&state.db.pool)
                .await?
        {
            let e: i64 = row.try_get(0)?;
            slot.enabled.store(e != 0, Ordering::SeqCst);
        }
        Ok(())
    }

    /// A tenant's choice for a plugin (persisted).
    pub async fn set_tenant_enabled(
        &self,
        state: &AppState,
        tenant_id: &str,
        name: &str,
        enabled: bool,
    ) -> ApiResult<()> {
        if self.slot(name).is_none() {
            return Err(ApiError::not_found(format!("no plugin {name:?}")));
        }
        sqlx::query(
            "INSERT INTO tenant_plugins (tenant_id, plugin, enabled, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, plugin) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
        )
        .bind(tenant_id)
        .bind(name)
        .bind(enabled as i64)
        .bind(state.clock.now_ms())
        .execute(&state.db.pool)
        .await?;
        self.tenant_choice.insert((tenant_id.to_owned(), name.to_owned()), enabled);
        Ok(())
    }

    /// Is `name` on for `tenant_id`? (Platform-wide enabled, and the tenant's choice or the plugin's default.)
    pub fn enabled_for(&self, slot: &Slot, tenant_id: &str) -> bool {
        if !slot.enabled.load(Ordering::Relaxed) {
            return false;
        }
        self.tenant_enabled(tenant_id, &slot.current)
    }

    fn tenant_enabled(&self, tenant_id: &str, plugin: &LoadedPlugin) -> bool {
        if self.tenant_choice.is_empty() {
            return plugin.entry.default_for_new_tenants;
        }
        self.tenant_choice
            .get(&(tenant_id.to_owned(), plugin.name.clone()))
            .map(|e| *e)
            .unwrap_or(plugin.entry.default_for_new_tenants)
    }

    /// OpenAPI paths of every enabled plugin (for `tenant`: those it has enabled).
    pub async fn openapi_paths(&self, state: &AppState, tenant: Option<&str>) -> ApiResult<Map<String, Value>> {
        let tenant_id = match tenant {
            Some(slug) => Some(
                tenant_id_by_slug(state, slug)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("no tenant {slug:?}")))?,
            ),
            None => None,
        };
        let mut paths = Map::new();
        for (name, slot) in self.slots().iter() {
            let on = match &tenant_id {
                Some(t) => self.enabled_for(slot, t),
                None => slot.enabled.load(Ordering::Relaxed),
            };
            if !on {
                continue;
            }
            for r in &slot.current.routes {
                let s = &r.spec;
                let full = format!("/v1/{name}{}", s.path);
                add_operation(&mut paths, &full, &s.method, plugin_operation(name, &slot.current.manifest, s));
            }
        }
        Ok(paths)
    }

    /// Starts plugin jobs and the once-a-second sync with the shared database.
    pub fn spawn_background(&self, state: &AppState) {
        let st = state.clone();
        let jobs = tokio::spawn(async move { jobs_loop(st).await });
        let st = state.clone();
        let sync = tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = st.plugins.sync_from_db(&st).await {
                    tracing::warn!(error = format!("{e:#}"), "plugin state sync failed");
                }
            }
        });
        self.background.lock().extend([jobs, sync]);
    }

    /// Stops background work.
    pub async fn shutdown(&self) {
        for h in self.background.lock().drain(..) {
            h.abort();
        }
    }
}

/// A tenant's id by slug (`None` if there is no such tenant).
pub async fn tenant_id_by_slug(state: &AppState, slug: &str) -> ApiResult<Option<String>> {
    Ok(state.tenants.record_by_slug(slug).await?.map(|r| r.tenant().id))
}

fn installed_entry(path: PathBuf, tier: Tier) -> PluginEntry {
    PluginEntry {
        path,
        enabled: true,
        tier,
        default_for_new_tenants: true,
        allowed_hosts: Vec::new(),
        allow_private_network: false,
        limits: Limits::default(),
        config: toml::Table::new(),
    }
}

fn check_manifest(name: &str, m: &Manifest) -> anyhow::Result<()> {
    if m.name != name {
        anyhow::bail!("the component describes itself as {:?} but plugins.toml names it {name:?}", m.name);
    }
    for r in &m.routes {
        if !r.path.starts_with('/') {
            anyhow::bail!("route path {:?} must start with '/'", r.path);
        }
        if !matches!(r.method.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE") {
            anyhow::bail!("route {} {}: unsupported method", r.method, r.path);
        }
        if matches!(r.access, Access::Token | Access::Public) && r.scope.is_none() {
            anyhow::bail!("route {} {}: {} access needs a scope", r.method, r.path, r.access.as_str());
        }
    }
    Ok(())
}

fn plugin_operation(plugin: &str, m: &Manifest, s: &RouteSpec) -> Value {
    let mut params: Vec<Value> = s
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|x| x.strip_suffix('}')))
        .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(
        s.query_params
            .iter()
            .map(|q| json!({"name": q, "in": "query", "required": false, "schema": {"type": "string"}})),
    );
    let mut ok = json!({"description": "Success"});
    let mut content = Map::new();
    let mut media = Map::new();
    if let Some(schema) = s.response_schema.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok()) {
        media.insert("schema".into(), schema);
    }
    if let Some(ex) = s.example.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok()) {
        media.insert("example".into(), ex);
    }
    if !media.is_empty() {
        content.insert("application/json".into(), Value::Object(media));
        ok["content"] = Value::Object(content);
    }
    let err = json!({"description": "Error envelope", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let mut responses = json!({"200": ok, "404": err, "429": err, "500": err, "503": err, "504": err});
    // Every access mode can fail authentication (a bad token) or authorization.
    responses["401"] = err.clone();
    responses["403"] = err.clone();
    let security = match s.access {
        Access::Public => json!([{}, {"apiToken": []}, {"apiKeyHeader": []}]),
        Access::Token => json!([{"apiToken": []}, {"apiKeyHeader": []}]),
        Access::Session => json!([{"session": []}]),
        Access::Master => json!([{"session": []}, {"apiToken": []}]),
    };
    let mut op = json!({
        "summary": if s.summary.is_empty() { format!("{} {}", s.method, s.path) } else { s.summary.clone() },
        "description": s.description,
        "tags": [plugin],
        "parameters": params,
        "responses": responses,
        "security": security,
        "x-kiwi-access": s.access.as_str(),
        "x-kiwi-scope": s.scope,
        "x-kiwi-plugin-version": m.version,
    });
    if matches!(s.method.as_str(), "POST" | "PUT" | "PATCH") {
        let schema =
            s.request_schema.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok()).unwrap_or(json!({}));
        op["requestBody"] = json!({"content": {"application/json": {"schema": schema}}});
    }
    op
}

async fn jobs_loop(state: AppState) {
    use std::time::Duration;
    let mut last_run: HashMap<(String, String), i64> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = crate::clock::system_ms();
        for (name, slot) in state.plugins.slots().iter() {
            if !slot.enabled.load(Ordering::Relaxed) {
                continue;
            }
            for job in &slot.current.manifest.jobs {
                let key = (name.clone(), job.name.clone());
                let due = last_run.get(&key).map(|t| now - t >= job.interval_secs.max(1) as i64 * 1000).unwrap_or(true);
                if !due {
                    continue;
                }
                last_run.insert(key, now);
                let plugin = slot.current.clone();
                let job_name = job.name.clone();
                tokio::spawn(async move {
                    let call = caps::CallCtx {
                        tenant_id: "ten_default".into(),
                        request_id: crate::request_id::generate(),
                        host_calls: 0,
                    };
                    let r = match &plugin.runtime {
                        Runtime::Wasm(w) => {
                            w.run_job(call, job_name.clone()).await.map_err(|e| format!("{e:?}")).and_then(|r| r)
                        }
                        Runtime::Native(n) => n.run_job(call, job_name.clone()).await,
                    };
                    if let Err(e) = r {
                        tracing::warn!(plugin = %plugin.name, job = %job_name, error = %e, "plugin job failed");
                    }
                });
            }
        }
    }
}

/// WIT ⇄ manifest conversions.
pub(crate) mod convert {
    use kiwi_plugin_api::manifest as m;

    use super::wasm::wit as t;

    fn rate(r: t::RateLimit) -> m::RateLimit {
        m::RateLimit { limit: r.limit, window_secs: r.window_secs }
    }

    pub fn manifest(w: t::Manifest) -> m::Manifest {
        m::Manifest {
            name: w.name,
            version: w.version,
            description: w.description,
            scopes: w.scopes.into_iter().map(|s| m::ScopeDef { name: s.name, description: s.description }).collect(),
            routes: w
                .routes
                .into_iter()
                .map(|r| m::RouteSpec {
                    method: r.method.to_ascii_uppercase(),
                    path: r.path,
                    access: match r.access {
                        t::Access::Public => m::Access::Public,
                        t::Access::Token => m::Access::Token,
                        t::Access::Session => m::Access::Session,
                        t::Access::Master => m::Access::Master,
                    },
                    scope: r.scope,
                    rate_limit: r.rate_limit.map(rate),
                    secondary: r.secondary.map(|s| m::SecondaryBucket {
                        name: s.name,
                        condition: match s.condition {
                            t::BucketCondition::QueryEquals((param, value)) => {
                                m::BucketCondition::QueryEquals { param, value }
                            }
                            t::BucketCondition::QueryOlderThanDays((param, days)) => {
                                m::BucketCondition::QueryOlderThanDays { param, days }
                            }
                        },
                        limit: s.limit.map(rate),
                    }),
                    ingest_cooldown: r.ingest_cooldown,
                    body_limit: r.body_limit,
                    summary: r.summary,
                    description: r.description,
                    request_schema: r.request_schema,
                    response_schema: r.response_schema,
                    example: r.example,
                    query_params: r.query_params,
                })
                .collect(),
            jobs: w.jobs.into_iter().map(|j| m::JobSpec { name: j.name, interval_secs: j.interval_secs }).collect(),
            migrations: w
                .migrations
                .into_iter()
                .map(|g| m::Migration { version: g.version, name: g.name, sqlite: g.sqlite, postgres: g.postgres })
                .collect(),
        }
    }
}
