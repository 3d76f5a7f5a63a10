//! The master's console (`/admin/*`, master only): users, tokens, tenants, usage
//! views (in [`crate::usage::routes`]) and the runtime config ([`config`]).

pub mod config;
pub mod people;

use crate::openapi::DocRouter;

/// Every `/admin/*` route owned here.
pub fn routes() -> DocRouter {
    DocRouter::new().merge(config::routes()).merge(people::routes())
}
