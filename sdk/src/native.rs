//! Native-tier glue: exports a [`crate::Plugin`] as an `abi_stable` root module
//! and reaches host capabilities through the [`HostCall`] callback (JSON payloads).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use abi_stable::std_types::{RResult, RSlice, RStr, RString, RVec};
use kiwi_plugin_api::manifest::{Request, Response};
pub use kiwi_plugin_api::native::{HostCall, NativePlugin, NativePluginRef};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::json;

use crate::host::{Host, HttpError, HttpRequest, HttpResponse, KvError, Level, PublishError, Rows, SqlError, SqlValue};

/// Host capabilities over the native callback.
#[derive(Debug, Clone, Copy)]
pub struct NativeHost(pub HostCall);

impl NativeHost {
    fn call<T: DeserializeOwned, E: DeserializeOwned>(
        &self,
        op: &str,
        payload: impl Serialize,
        unavailable: impl Fn(String) -> E,
    ) -> Result<T, E> {
        let bytes = serde_json::to_vec(&payload).map_err(|e| unavailable(e.to_string()))?;
        match (self.0.call)(self.0.handle, RStr::from(op), RSlice::from(&bytes[..])) {
            RResult::ROk(out) => {
                serde_json::from_slice::<Result<T, E>>(&out).map_err(|e| unavailable(e.to_string()))?
            }
            RResult::RErr(msg) => Err(unavailable(msg.into_string())),
        }
    }
}

impl Host for NativeHost {
    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.call("kv.get", json!({"key": key}), KvError::Unavailable)
    }
    fn kv_set(&self, key: &str, value: &[u8], ttl_secs: Option<u32>) -> Result<(), KvError> {
        self.call("kv.set", json!({"key": key, "value": value, "ttl_secs": ttl_secs}), KvError::Unavailable)
    }
    fn kv_delete(&self, key: &str) -> Result<bool, KvError> {
        self.call("kv.delete", json!({"key": key}), KvError::Unavailable)
    }
    fn kv_list_prefix(&self, prefix: &str, limit: u32) -> Result<Vec<String>, KvError> {
        self.call("kv.list_prefix", json!({"prefix": prefix, "limit": limit}), KvError::Unavailable)
    }
    fn sql_query(&self, statement: &str, params: &[SqlValue]) -> Result<Rows, SqlError> {
        self.call("sql.query", json!({"statement": statement, "params": params}), SqlError::Unavailable)
    }
    fn sql_execute(&self, statement: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
        self.call("sql.execute", json!({"statement": statement, "params": params}), SqlError::Unavailable)
    }
    fn sql_batch(&self, statements: &[(String, Vec<SqlValue>)]) -> Result<u64, SqlError> {
        self.call("sql.batch", json!({"statements": statements}), SqlError::Unavailable)
    }
    fn config_json(&self) -> String {
        self.call::<String, String>("config.get", json!({}), |e| e).unwrap_or_else(|_| "{}".into())
    }
    fn log(&self, level: Level, message: &str) {
        let _ = self.call::<(), String>("log.log", json!({"level": level, "message": message}), |e| e);
    }
    fn now_millis(&self) -> i64 {
        self.call::<i64, String>("clock.now_millis", json!({}), |e| e).unwrap_or(0)
    }
    fn http_fetch(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        self.call("http.fetch", request, HttpError::Failed)
    }
    fn publish(&self, topic: &str, payload: &[u8]) -> Result<(), PublishError> {
        self.call("events.publish", json!({"topic": topic, "payload": payload}), |_| PublishError::TooLarge)
    }
}

fn failed(message: &str) -> Response {
    let body = json!({"error": {"code": "plugin_failed", "message": message, "details": null, "request_id": null}});
    Response {
        status: 500,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

/// `describe` for the root module.
pub fn describe(plugin: &crate::Plugin) -> RString {
    RString::from(serde_json::to_string(plugin.manifest()).unwrap_or_default())
}

/// `handle` for the root module: panics become a 500 `plugin_failed` response.
pub fn handle(plugin: &crate::Plugin, request: RSlice<'_, u8>, host: HostCall) -> RVec<u8> {
    let res = catch_unwind(AssertUnwindSafe(|| match serde_json::from_slice::<Request>(request.as_slice()) {
        Ok(req) => plugin.handle(&req, Arc::new(NativeHost(host))),
        Err(e) => failed(&format!("bad request encoding: {e}")),
    }))
    .unwrap_or_else(|_| failed("the plugin panicked"));
    RVec::from(serde_json::to_vec(&res).unwrap_or_default())
}

/// `run_job` for the root module.
pub fn run_job(plugin: &crate::Plugin, name: RStr<'_>, host: HostCall) -> RResult<(), RString> {
    match catch_unwind(AssertUnwindSafe(|| plugin.run_job(name.as_str(), Arc::new(NativeHost(host))))) {
        Ok(Ok(())) => RResult::ROk(()),
        Ok(Err(e)) => RResult::RErr(RString::from(e)),
        Err(_) => RResult::RErr(RString::from("the job panicked")),
    }
}

/// `abi_version` for the root module.
pub extern "C" fn abi_version() -> RString {
    RString::from(kiwi_plugin_api::ABI_VERSION)
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_native {
    ($get:ident) => {
        mod __kiwi_native {
            use $crate::native::abi_stable_reexport::{
                prefix_type::PrefixTypeTrait,
                std_types::{RResult, RSlice, RStr, RString, RVec},
            };
            extern "C" fn describe() -> RString {
                $crate::native::describe(super::$get())
            }
            extern "C" fn handle(req: RSlice<'_, u8>, host: $crate::native::HostCall) -> RVec<u8> {
                $crate::native::handle(super::$get(), req, host)
            }
            extern "C" fn run_job(name: RStr<'_>, host: $crate::native::HostCall) -> RResult<(), RString> {
                $crate::native::run_job(super::$get(), name, host)
            }
            #[$crate::native::abi_stable_reexport::export_root_module]
            fn root() -> $crate::native::NativePluginRef {
                $crate::native::NativePlugin { abi_version: $crate::native::abi_version, describe, run_job, handle }
                    .leak_into_prefix()
            }
        }
    };
}

#[doc(hidden)]
pub use abi_stable as abi_stable_reexport;
