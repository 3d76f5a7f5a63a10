//! The Kiwi host library; `main.rs` is a thin CLI over it.
//!
//! Map (see ARCHITECTURE.md): [`app`] assembles the router and middleware;
//! [`state`] holds the services; [`accounts`], [`tenants`], [`tokens`] are the
//! platform; [`plugins`] is the runtime every product surface goes through.

pub mod accounts;
pub mod admin;
pub mod app;
pub mod bootstrap;
pub mod bus;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod http_util;
pub mod idempotency;
pub mod openapi;
pub mod pagination;
pub mod plugins;
pub mod principal;
pub mod ratelimit;
pub mod request_id;
pub mod runtime_config;
pub mod site;
pub mod state;
pub mod telemetry;
pub mod tenants;
pub mod tokens;
pub mod usage;

pub use app::Application;
pub use config::Config;
