//! # kiwi-sdk: write Kiwi plugins in plain Rust
//!
//! A plugin is a [`Plugin`]: a name, a version, the scopes it defines and its
//! routes, each bound to an ordinary function whose arguments are *extractors*
//! ([`Path`], [`Query`], [`Json`], [`Body`], [`Ctx`], [`Headers`]) and whose return
//! value is anything that implements [`IntoResponse`] — usually
//! `Result<Json<T>, Error>`. An [`Error`] becomes the host's error envelope.
//!
//! ```
//! use kiwi_sdk::prelude::*;
//!
//! #[derive(serde::Serialize)]
//! struct Greeting { message: String }
//!
//! fn greet(Path(name): Path<String>) -> Result<Json<Greeting>> {
//!     if name.is_empty() { return Err(Error::bad_request("name must not be empty")); }
//!     Ok(Json(Greeting { message: format!("hello, {name}") }))
//! }
//!
//! pub fn plugin() -> Plugin {
//!     Plugin::new("hello", "0.1.0")
//!         .scope("hello:read", "Say hello")
//!         .route(get("/greet/{name}", greet).token("hello:read").summary("Greets someone"))
//! }
//! // In the plugin crate: `kiwi_sdk::export!(plugin);`
//! # let client = kiwi_sdk::testing::TestClient::new(plugin());
//! # let res = client.get("/greet/ann").send();
//! # assert_eq!(res.status, 200);
//! ```
//!
//! The same source builds as a WebAssembly component (`--target wasm32-wasip2`)
//! or, with the `native` feature, as a trusted native plugin. Handlers are tested
//! natively with [`testing::TestClient`], which provides in-memory kv (and SQL with
//! the `test-sql` feature) and a pinned clock.

mod error;
mod extract;
pub mod host;
mod plugin;
mod response;
pub mod validate;

#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

#[cfg(feature = "native")]
#[doc(hidden)]
pub mod native;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod wasm;

pub use error::{Error, Result};
pub use extract::{Body, FromRequest, Headers, Json, Path, Query, RawQuery, query_pairs};
pub use host::Ctx;
pub use kiwi_plugin_api::manifest::{
    Access, BucketCondition, Context, Manifest, Principal, RateLimit, Request, Response,
};
pub use plugin::{Plugin, RouteBuilder, delete, get, patch, post, put};
pub use response::{IntoResponse, Status};

#[doc(hidden)]
pub use kiwi_plugin_api as __api;
#[doc(hidden)]
pub use serde_json as __json;

/// Everything a plugin module usually needs.
pub mod prelude {
    pub use crate::host::{Ctx, Level, SqlValue};
    pub use crate::{
        Body, Error, Headers, IntoResponse, Json, Path, Plugin, Query, RawQuery, Result, Status, delete, get, patch,
        post, put,
    };
}

/// Exports a plugin built by `fn() -> Plugin` as a WebAssembly component
/// (on `wasm32`; natively it emits nothing — unit tests use [`testing::TestClient`]).
#[macro_export]
macro_rules! export {
    ($build:path) => {
        #[doc(hidden)]
        fn __kiwi_plugin() -> &'static $crate::Plugin {
            static PLUGIN: ::std::sync::OnceLock<$crate::Plugin> = ::std::sync::OnceLock::new();
            PLUGIN.get_or_init($build)
        }
        $crate::__export_wasm!(__kiwi_plugin);
    };
}

/// Exports a plugin built by `fn() -> Plugin` as a trusted native (abi_stable)
/// plugin. Needs the SDK's `native` feature and `abi_stable` as a dependency.
/// A separate macro (not a feature switch of [`export!`]) so that building a
/// whole workspace, where features unify, never turns wasm plugins native.
#[cfg(feature = "native")]
#[macro_export]
macro_rules! export_native {
    ($build:path) => {
        #[doc(hidden)]
        fn __kiwi_plugin() -> &'static $crate::Plugin {
            static PLUGIN: ::std::sync::OnceLock<$crate::Plugin> = ::std::sync::OnceLock::new();
            PLUGIN.get_or_init($build)
        }
        $crate::__export_native!(__kiwi_plugin);
    };
}

#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __export_wasm {
    ($get:ident) => {};
}
