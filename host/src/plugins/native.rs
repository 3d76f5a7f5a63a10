//! The native tier: trusted `abi_stable` libraries (explicit `tier = "native"`),
//! ABI-checked at load, called on blocking threads, panics caught at the boundary.
//! Capabilities are the same [`Caps`] as the wasm tier, reached through the
//! JSON `HostCall` callback. Libraries are never unloaded (abi_stable cannot):
//! disabling a native plugin stops routing to it.

use std::path::Path;
use std::sync::Arc;

use abi_stable::library::RootModule;
use abi_stable::std_types::{RResult, RSlice, RStr, RString, RVec};
use kiwi_plugin_api::manifest::{Manifest, Request, Response};
use kiwi_plugin_api::native::{HostCall, NativePluginRef};
use serde_json::{Value, json};

use super::caps::{CallCtx, Caps};
use super::wasm::generated::kiwi::plugin::{http as whttp, log as wlog, sql as wsql};

/// A loaded native plugin.
#[derive(Clone)]
pub struct NativePlugin {
    module: NativePluginRef,
    caps: Arc<Caps>,
}

impl std::fmt::Debug for NativePlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativePlugin").finish_non_exhaustive()
    }
}

/// Loads a library and checks its ABI; returns the module and its manifest.
pub fn load(path: &Path) -> anyhow::Result<(NativePluginRef, Manifest)> {
    let module = NativePluginRef::load_from_file(path).map_err(|e| {
        let full = e.to_string();
        let short: String = full.lines().take(6).collect::<Vec<_>>().join("\n");
        anyhow::anyhow!("{}: not a compatible native Kiwi plugin: {short}", path.display())
    })?;
    let abi = (module.abi_version())().into_string();
    if !kiwi_plugin_api::abi_compatible(&abi) {
        anyhow::bail!(
            "{}: plugin ABI {abi} is not compatible with the host's {}",
            path.display(),
            kiwi_plugin_api::ABI_VERSION
        );
    }
    let manifest: Manifest = serde_json::from_str((module.describe())().as_str())
        .map_err(|e| anyhow::anyhow!("{}: bad manifest: {e}", path.display()))?;
    Ok((module, manifest))
}

struct Invocation {
    caps: Arc<Caps>,
    call: std::sync::Mutex<CallCtx>,
    rt: tokio::runtime::Handle,
}

fn ok<T: serde::Serialize>(v: &T) -> RResult<RVec<u8>, RString> {
    match serde_json::to_vec(v) {
        Ok(b) => RResult::ROk(RVec::from(b)),
        Err(e) => RResult::RErr(RString::from(e.to_string())),
    }
}

fn sql_value(v: &Value) -> wsql::Value {
    match (v.get("t").and_then(Value::as_str), v.get("v")) {
        (Some("integer"), Some(x)) => x.as_i64().map(wsql::Value::Integer).unwrap_or(wsql::Value::Null),
        (Some("real"), Some(x)) => x.as_f64().map(wsql::Value::Real).unwrap_or(wsql::Value::Null),
        (Some("text"), Some(x)) => x.as_str().map(|s| wsql::Value::Text(s.to_owned())).unwrap_or(wsql::Value::Null),
        (Some("blob"), Some(x)) => {
            serde_json::from_value::<Vec<u8>>(x.clone()).map(wsql::Value::Blob).unwrap_or(wsql::Value::Null)
        }
        _ => wsql::Value::Null,
    }
}

fn sql_value_json(v: &wsql::Value) -> Value {
    match v {
        wsql::Value::Null => json!({"t": "null"}),
        wsql::Value::Integer(i) => json!({"t": "integer", "v": i}),
        wsql::Value::Real(r) => json!({"t": "real", "v": r}),
        wsql::Value::Text(s) => json!({"t": "text", "v": s}),
        wsql::Value::Blob(b) => json!({"t": "blob", "v": b}),
    }
}

fn sql_err_json(e: &wsql::SqlError) -> Value {
    match e {
        wsql::SqlError::Denied(m) => json!({"denied": m}),
        wsql::SqlError::Query(m) => json!({"query": m}),
        wsql::SqlError::LimitExceeded(m) => json!({"limit_exceeded": m}),
        wsql::SqlError::Unavailable(m) => json!({"unavailable": m}),
    }
}

fn kv_err_json(e: &super::wasm::generated::kiwi::plugin::kv::KvError) -> Value {
    use super::wasm::generated::kiwi::plugin::kv::KvError as K;
    match e {
        K::KeyTooLong(n) => json!({"key_too_long": n}),
        K::ValueTooLarge(n) => json!({"value_too_large": n}),
        K::QuotaExceeded(n) => json!({"quota_exceeded": n}),
        K::InvalidTtl => json!("invalid_ttl"),
        K::Unavailable(m) => json!({"unavailable": m}),
    }
}

fn wrap<T: serde::Serialize>(r: Result<T, Value>) -> RResult<RVec<u8>, RString> {
    match r {
        Ok(v) => ok(&json!({"Ok": v})),
        Err(e) => ok(&json!({"Err": e})),
    }
}

extern "C" fn host_call(handle: usize, op: RStr<'_>, payload: RSlice<'_, u8>) -> RResult<RVec<u8>, RString> {
    // SAFETY: `handle` is the address of an `Invocation` that outlives the plugin call it was passed to.
    let inv = unsafe { &*(handle as *const Invocation) };
    let Ok(p) = serde_json::from_slice::<Value>(payload.as_slice()) else {
        return RResult::RErr(RString::from("payload is not JSON"));
    };
    let caps = inv.caps.clone();
    let mut call = inv.call.lock().unwrap_or_else(|e| e.into_inner());
    let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    match op.as_str() {
        "kv.get" => wrap(inv.rt.block_on(caps.kv_get(&mut call, &s("key"))).map_err(|e| kv_err_json(&e))),
        "kv.set" => {
            let value: Vec<u8> =
                p.get("value").cloned().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
            let ttl = p.get("ttl_secs").and_then(Value::as_u64).map(|t| t.min(u32::MAX as u64) as u32);
            wrap(inv.rt.block_on(caps.kv_set(&mut call, &s("key"), &value, ttl)).map_err(|e| kv_err_json(&e)))
        }
        "kv.delete" => wrap(inv.rt.block_on(caps.kv_delete(&mut call, &s("key"))).map_err(|e| kv_err_json(&e))),
        "kv.list_prefix" => {
            let limit = p.get("limit").and_then(Value::as_u64).unwrap_or(100).min(1000) as u32;
            wrap(inv.rt.block_on(caps.kv_list_prefix(&mut call, &s("prefix"), limit)).map_err(|e| kv_err_json(&e)))
        }
        "sql.query" | "sql.execute" => {
            let params: Vec<wsql::Value> = p
                .get("params")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(sql_value).collect())
                .unwrap_or_default();
            if op.as_str() == "sql.query" {
                let r = inv.rt.block_on(caps.sql_query(&mut call, s("statement"), params)).map(|rows| {
                    json!({"columns": rows.columns, "rows": rows.rows.iter().map(|r| r.iter().map(sql_value_json).collect::<Vec<_>>()).collect::<Vec<_>>()})
                });
                wrap(r.map_err(|e| sql_err_json(&e)))
            } else {
                wrap(inv.rt.block_on(caps.sql_execute(&mut call, s("statement"), params)).map_err(|e| sql_err_json(&e)))
            }
        }
        "sql.batch" => {
            let stmts: Vec<(String, Vec<wsql::Value>)> = p
                .get("statements")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|pair| {
                            let st = pair.get(0)?.as_str()?.to_owned();
                            let ps = pair.get(1)?.as_array()?.iter().map(sql_value).collect();
                            Some((st, ps))
                        })
                        .collect()
                })
                .unwrap_or_default();
            wrap(inv.rt.block_on(caps.sql_batch(&mut call, stmts)).map_err(|e| sql_err_json(&e)))
        }
        "config.get" => wrap::<String>(Ok(caps.config_json.clone())),
        "log.log" => {
            let level = match s("level").as_str() {
                "trace" => wlog::Level::Trace,
                "debug" => wlog::Level::Debug,
                "warn" => wlog::Level::Warn,
                "error" => wlog::Level::Error,
                _ => wlog::Level::Info,
            };
            caps.log(&mut call, level, &s("message"));
            wrap::<()>(Ok(()))
        }
        "clock.now_millis" => wrap::<i64>(Ok(caps.clock.now_ms())),
        "http.fetch" => {
            let out = whttp::Outgoing {
                method: s("method"),
                url: s("url"),
                headers: p.get("headers").cloned().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
                body: p.get("body").cloned().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
            };
            let r = inv.rt.block_on(caps.http_fetch(&mut call, out));
            wrap(r.map(|i| json!({"status": i.status, "headers": i.headers, "body": i.body})).map_err(|e| match e {
                whttp::HttpError::HostNotAllowed(h) => json!({"host_not_allowed": h}),
                whttp::HttpError::InvalidUrl(u) => json!({"invalid_url": u}),
                whttp::HttpError::Timeout => json!("timeout"),
                whttp::HttpError::TooLarge => json!("too_large"),
                whttp::HttpError::Failed(m) => json!({"failed": m}),
            }))
        }
        "events.publish" => {
            let payload: Vec<u8> =
                p.get("payload").cloned().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
            wrap(caps.publish(&mut call, &s("topic"), payload).map_err(|_| json!("too_large")))
        }
        other => RResult::RErr(RString::from(format!("unknown host operation {other:?}"))),
    }
}

impl NativePlugin {
    pub fn new(module: NativePluginRef, caps: Arc<Caps>) -> Self {
        Self { module, caps }
    }

    /// Handles a request on a blocking thread. A panic that escapes the plugin's
    /// own guard becomes an error here, never a crashed host.
    pub async fn handle(&self, call: CallCtx, req: Request) -> Result<Response, String> {
        let module = self.module;
        let caps = self.caps.clone();
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let bytes = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
            let inv = Invocation { caps, call: std::sync::Mutex::new(call), rt };
            let host = HostCall { handle: &inv as *const Invocation as usize, call: host_call };
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                (module.handle())(RSlice::from(&bytes[..]), host)
            }))
            .map_err(|_| "the native plugin panicked".to_owned())?;
            serde_json::from_slice::<Response>(out.as_slice()).map_err(|e| format!("bad response encoding: {e}"))
        })
        .await
        .map_err(|e| format!("native call failed: {e}"))?
    }

    /// Runs a job on a blocking thread.
    pub async fn run_job(&self, call: CallCtx, name: String) -> Result<(), String> {
        let module = self.module;
        let caps = self.caps.clone();
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let inv = Invocation { caps, call: std::sync::Mutex::new(call), rt };
            let host = HostCall { handle: &inv as *const Invocation as usize, call: host_call };
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                (module.run_job())(RStr::from(name.as_str()), host)
            })) {
                Ok(RResult::ROk(())) => Ok(()),
                Ok(RResult::RErr(e)) => Err(e.into_string()),
                Err(_) => Err("the native job panicked".to_owned()),
            }
        })
        .await
        .map_err(|e| format!("native job failed: {e}"))?
    }
}
