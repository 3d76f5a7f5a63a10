//! Host integration tests: the real server on port 0 with a fresh database per
//! test (a temp SQLite file, or a fresh PostgreSQL database when
//! `KIWI_TEST_DATABASE=postgres`). One test binary keeps link time down.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod admin;
mod bus;
mod fixtures;
mod helpers;
mod idempotency;
mod platform;
mod plugin_fixtures;
mod plugins;
mod ratelimit;
mod scanning;
mod tenants;
mod tokens;
mod usage;
