//! The native-tier interface: an `abi_stable` prefix-type root module.
//!
//! Native plugins are trusted code in the host process (explicit `tier = "native"`
//! opt-in in plugins.toml). They exchange the [`crate::manifest`] types as JSON and
//! reach host capabilities through one callback, [`HostCall`], whose operations
//! mirror the WIT imports (`kv.get`, `sql.query`, `clock.now-millis`, ...).
//!
//! Stability rule: fields are only ever appended after the last prefix field.

use abi_stable::{
    StableAbi, declare_root_module_statics,
    library::RootModule,
    package_version_strings,
    sabi_types::VersionStrings,
    std_types::{RResult, RSlice, RStr, RString, RVec},
};

/// Capability callback handed to a native plugin for the duration of one call.
///
/// `op` names the capability operation (`"kv.get"`, `"sql.query"`, ...);
/// payload and result are JSON. Errors are JSON-encoded WIT error variants.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct HostCall {
    /// Opaque host-side handle identifying the invocation.
    pub handle: usize,
    pub call: extern "C" fn(handle: usize, op: RStr<'_>, payload: RSlice<'_, u8>) -> RResult<RVec<u8>, RString>,
}

impl std::fmt::Debug for HostCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCall").field("handle", &self.handle).finish()
    }
}

/// The root module a native plugin exports with `#[export_root_module]`.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = NativePluginRef)))]
#[sabi(missing_field(panic))]
pub struct NativePlugin {
    /// The [`crate::ABI_VERSION`] the plugin was built against.
    pub abi_version: extern "C" fn() -> RString,
    /// The manifest, as JSON.
    pub describe: extern "C" fn() -> RString,
    /// Runs a job; `Err` carries a message.
    pub run_job: extern "C" fn(name: RStr<'_>, host: HostCall) -> RResult<(), RString>,
    /// Handles one request (JSON `Request`) and returns a JSON `Response`.
    #[sabi(last_prefix_field)]
    pub handle: extern "C" fn(request: RSlice<'_, u8>, host: HostCall) -> RVec<u8>,
}

impl RootModule for NativePluginRef {
    declare_root_module_statics! {NativePluginRef}
    const BASE_NAME: &'static str = "kiwi_native_plugin";
    const NAME: &'static str = "kiwi_native_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
