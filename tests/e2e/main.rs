//! End-to-end vector tests through the real host path: every reference vector
//! in `tests/reference/vectors/` is sent over HTTP to an in-process Kiwi server
//! (`kiwi_host::Application` on port 0, pinned clock) that runs the production
//! wasm plugins with the limits of the repository's `plugins.toml`.
//!
//! Each test starts its own server on a fresh database: a temp SQLite file, or a
//! fresh PostgreSQL database with `KIWI_TEST_DATABASE=postgres`. The plugins are
//! built from source once per run (`harness::plugins`).
//!
//! Comparisons mirror each plugin's own vector test (`plugins/*/tests/`), which
//! call the plugin in-process through the SDK's `TestClient`: same ignored paths,
//! same documented deviations. Here the request also goes through routing,
//! authentication, tenant resolution, rate limits, the wasm runtime and the
//! response envelope.

mod calculators;
mod compare;
mod harness;
mod market;
mod mods;
mod rotations;
