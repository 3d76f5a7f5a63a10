//! Plain-Rust mirror of the WIT `types` interface: manifests, requests, responses.
//!
//! The host converts WIT values into these; native plugins exchange them as JSON.

use serde::{Deserialize, Serialize};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Token optional; anonymous callers get a per-IP budget.
    Public,
    /// An API token carrying the route's scope.
    Token,
    /// A logged-in user (session JWT).
    Session,
    /// The platform superuser.
    Master,
}

impl Access {
    /// Lower-case name as used in docs and OpenAPI.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Token => "token",
            Access::Session => "session",
            Access::Master => "master",
        }
    }
}

/// `limit` requests per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub limit: u32,
    pub window_secs: u32,
}

/// When a request also pays a secondary bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BucketCondition {
    /// Query parameter `param` equals `value` (ASCII case-insensitive).
    QueryEquals { param: String, value: String },
    /// Query parameter `param` is a unix time (seconds) older than `days` days.
    QueryOlderThanDays { param: String, days: u32 },
}

/// A secondary ("archive") bucket a route's matching requests also pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondaryBucket {
    pub name: String,
    pub condition: BucketCondition,
    /// `None`: the host's default for this bucket name.
    pub limit: Option<RateLimit>,
}

/// One HTTP route a plugin serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteSpec {
    pub method: String,
    /// Template relative to `/v1/<plugin>`, e.g. `/items/{name}/summary`.
    pub path: String,
    pub access: Access,
    pub scope: Option<String>,
    pub rate_limit: Option<RateLimit>,
    pub secondary: Option<SecondaryBucket>,
    pub ingest_cooldown: bool,
    pub body_limit: Option<u64>,
    pub summary: String,
    pub description: String,
    pub request_schema: Option<String>,
    pub response_schema: Option<String>,
    pub example: Option<String>,
    pub query_params: Vec<String>,
}

/// A scope the plugin defines, e.g. `rotations:read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeDef {
    pub name: String,
    pub description: String,
}

/// A periodic job the host runs by calling `run-job(name)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub name: String,
    pub interval_secs: u32,
}

/// A schema migration of the plugin's own SQL namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    pub version: u32,
    pub name: String,
    pub sqlite: String,
    pub postgres: String,
}

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub description: String,
    pub scopes: Vec<ScopeDef>,
    pub routes: Vec<RouteSpec>,
    pub jobs: Vec<JobSpec>,
    pub migrations: Vec<Migration>,
}

/// The authenticated caller, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Principal {
    pub user_id: Option<String>,
    pub token_id: Option<String>,
    pub scopes: Vec<String>,
    pub is_master: bool,
}

/// Per-request context the host attaches.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Context {
    pub tenant: String,
    pub principal: Option<Principal>,
    pub request_id: String,
    pub client_ip: String,
}

/// A request as a plugin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub route: String,
    pub params: Vec<(String, String)>,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub context: Context,
}

/// A response as a plugin returns it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}
