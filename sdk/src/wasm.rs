//! WebAssembly glue: the raw `wit-bindgen` bindings (hidden) and conversions
//! between them and the SDK's types. Plugin authors never touch this module.

use std::sync::Arc;

use kiwi_plugin_api::manifest as m;

wit_bindgen::generate!({
    path: "../plugin-api/wit/kiwi-plugin@1.0.0",
    world: "plugin",
    pub_export_macro: true,
    default_bindings_module: "kiwi_sdk::wasm",
    export_macro_name: "__kiwi_wit_export",
});

use exports::kiwi::plugin::guest as g;
use kiwi::plugin::types as t;

use crate::host::{Host, HttpError, HttpRequest, HttpResponse, KvError, Level, PublishError, Rows, SqlError, SqlValue};

/// The host as seen from inside the component: every call is a WIT import.
#[derive(Debug, Clone, Copy)]
pub struct WasmHost;

fn kv_err(e: kiwi::plugin::kv::KvError) -> KvError {
    use kiwi::plugin::kv::KvError as K;
    match e {
        K::KeyTooLong(n) => KvError::KeyTooLong(n),
        K::ValueTooLarge(n) => KvError::ValueTooLarge(n),
        K::QuotaExceeded(n) => KvError::QuotaExceeded(n),
        K::InvalidTtl => KvError::InvalidTtl,
        K::Unavailable(s) => KvError::Unavailable(s),
    }
}

fn sql_err(e: kiwi::plugin::sql::SqlError) -> SqlError {
    use kiwi::plugin::sql::SqlError as S;
    match e {
        S::Denied(s) => SqlError::Denied(s),
        S::Query(s) => SqlError::Query(s),
        S::LimitExceeded(s) => SqlError::LimitExceeded(s),
        S::Unavailable(s) => SqlError::Unavailable(s),
    }
}

fn to_wit_value(v: &SqlValue) -> kiwi::plugin::sql::Value {
    use kiwi::plugin::sql::Value as V;
    match v {
        SqlValue::Null => V::Null,
        SqlValue::Integer(i) => V::Integer(*i),
        SqlValue::Real(r) => V::Real(*r),
        SqlValue::Text(s) => V::Text(s.clone()),
        SqlValue::Blob(b) => V::Blob(b.clone()),
    }
}

fn from_wit_value(v: kiwi::plugin::sql::Value) -> SqlValue {
    use kiwi::plugin::sql::Value as V;
    match v {
        V::Null => SqlValue::Null,
        V::Integer(i) => SqlValue::Integer(i),
        V::Real(r) => SqlValue::Real(r),
        V::Text(s) => SqlValue::Text(s),
        V::Blob(b) => SqlValue::Blob(b),
    }
}

impl Host for WasmHost {
    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        kiwi::plugin::kv::get(key).map_err(kv_err)
    }
    fn kv_set(&self, key: &str, value: &[u8], ttl_secs: Option<u32>) -> Result<(), KvError> {
        kiwi::plugin::kv::set(key, value, ttl_secs).map_err(kv_err)
    }
    fn kv_delete(&self, key: &str) -> Result<bool, KvError> {
        kiwi::plugin::kv::delete(key).map_err(kv_err)
    }
    fn kv_list_prefix(&self, prefix: &str, limit: u32) -> Result<Vec<String>, KvError> {
        kiwi::plugin::kv::list_prefix(prefix, limit).map_err(kv_err)
    }
    fn sql_query(&self, statement: &str, params: &[SqlValue]) -> Result<Rows, SqlError> {
        let params: Vec<_> = params.iter().map(to_wit_value).collect();
        let rows = kiwi::plugin::sql::query(statement, &params).map_err(sql_err)?;
        Ok(Rows {
            columns: rows.columns,
            rows: rows.rows.into_iter().map(|r| r.into_iter().map(from_wit_value).collect()).collect(),
        })
    }
    fn sql_execute(&self, statement: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
        let params: Vec<_> = params.iter().map(to_wit_value).collect();
        kiwi::plugin::sql::execute(statement, &params).map_err(sql_err)
    }
    fn sql_batch(&self, statements: &[(String, Vec<SqlValue>)]) -> Result<u64, SqlError> {
        let stmts: Vec<(String, Vec<kiwi::plugin::sql::Value>)> =
            statements.iter().map(|(s, p)| (s.clone(), p.iter().map(to_wit_value).collect())).collect();
        kiwi::plugin::sql::batch(&stmts).map_err(sql_err)
    }
    fn config_json(&self) -> String {
        kiwi::plugin::config::get()
    }
    fn log(&self, level: Level, message: &str) {
        use kiwi::plugin::log::Level as L;
        let l = match level {
            Level::Trace => L::Trace,
            Level::Debug => L::Debug,
            Level::Info => L::Info,
            Level::Warn => L::Warn,
            Level::Error => L::Error,
        };
        kiwi::plugin::log::log(l, message)
    }
    fn now_millis(&self) -> i64 {
        kiwi::plugin::clock::now_millis()
    }
    fn http_fetch(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        use kiwi::plugin::http as h;
        let out = h::Outgoing {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        match h::fetch(&out) {
            Ok(r) => Ok(HttpResponse { status: r.status, headers: r.headers, body: r.body }),
            Err(h::HttpError::HostNotAllowed(s)) => Err(HttpError::HostNotAllowed(s)),
            Err(h::HttpError::InvalidUrl(s)) => Err(HttpError::InvalidUrl(s)),
            Err(h::HttpError::Timeout) => Err(HttpError::Timeout),
            Err(h::HttpError::TooLarge) => Err(HttpError::TooLarge),
            Err(h::HttpError::Failed(s)) => Err(HttpError::Failed(s)),
        }
    }
    fn publish(&self, topic: &str, payload: &[u8]) -> Result<(), PublishError> {
        use kiwi::plugin::events as e;
        e::publish(topic, payload).map_err(|err| match err {
            e::PublishError::InvalidTopic(s) => PublishError::InvalidTopic(s),
            e::PublishError::TooLarge => PublishError::TooLarge,
        })
    }
}

fn access(a: m::Access) -> t::Access {
    match a {
        m::Access::Public => t::Access::Public,
        m::Access::Token => t::Access::Token,
        m::Access::Session => t::Access::Session,
        m::Access::Master => t::Access::Master,
    }
}

fn rate(r: m::RateLimit) -> t::RateLimit {
    t::RateLimit { limit: r.limit, window_secs: r.window_secs }
}

/// SDK manifest → WIT manifest.
pub fn manifest_to_wit(man: &m::Manifest) -> t::Manifest {
    t::Manifest {
        name: man.name.clone(),
        version: man.version.clone(),
        description: man.description.clone(),
        scopes: man
            .scopes
            .iter()
            .map(|s| t::ScopeDef { name: s.name.clone(), description: s.description.clone() })
            .collect(),
        routes: man
            .routes
            .iter()
            .map(|r| t::Route {
                method: r.method.clone(),
                path: r.path.clone(),
                access: access(r.access),
                scope: r.scope.clone(),
                rate_limit: r.rate_limit.map(rate),
                secondary: r.secondary.as_ref().map(|s| t::SecondaryBucket {
                    name: s.name.clone(),
                    condition: match &s.condition {
                        m::BucketCondition::QueryEquals { param, value } => {
                            t::BucketCondition::QueryEquals((param.clone(), value.clone()))
                        }
                        m::BucketCondition::QueryOlderThanDays { param, days } => {
                            t::BucketCondition::QueryOlderThanDays((param.clone(), *days))
                        }
                    },
                    limit: s.limit.map(rate),
                }),
                ingest_cooldown: r.ingest_cooldown,
                body_limit: r.body_limit,
                summary: r.summary.clone(),
                description: r.description.clone(),
                request_schema: r.request_schema.clone(),
                response_schema: r.response_schema.clone(),
                example: r.example.clone(),
                query_params: r.query_params.clone(),
            })
            .collect(),
        jobs: man.jobs.iter().map(|j| t::Job { name: j.name.clone(), interval_secs: j.interval_secs }).collect(),
        migrations: man
            .migrations
            .iter()
            .map(|mg| t::Migration {
                version: mg.version,
                name: mg.name.clone(),
                sqlite: mg.sqlite.clone(),
                postgres: mg.postgres.clone(),
            })
            .collect(),
    }
}

/// WIT request → SDK request.
pub fn request_from_wit(r: t::Request) -> m::Request {
    m::Request {
        method: r.method,
        path: r.path,
        route: r.route,
        params: r.params,
        query: r.query,
        headers: r.headers,
        body: r.body,
        context: m::Context {
            tenant: r.context.tenant,
            principal: r.context.principal.map(|p| m::Principal {
                user_id: p.user_id,
                token_id: p.token_id,
                scopes: p.scopes,
                is_master: p.is_master,
            }),
            request_id: r.context.request_id,
            client_ip: r.context.client_ip,
        },
    }
}

/// Handles one request inside the component.
pub fn handle(plugin: &crate::Plugin, req: t::Request) -> t::Response {
    let req = request_from_wit(req);
    let res = plugin.handle(&req, Arc::new(WasmHost));
    t::Response { status: res.status, headers: res.headers, body: res.body }
}

/// Runs a job inside the component.
pub fn run_job(plugin: &crate::Plugin, name: &str) -> Result<(), String> {
    plugin.run_job(name, Arc::new(WasmHost))
}

pub use g::Guest;
pub use t::{Manifest as WitManifest, Request as WitRequest, Response as WitResponse};

#[doc(hidden)]
#[macro_export]
macro_rules! __export_wasm {
    ($get:ident) => {
        #[doc(hidden)]
        struct __KiwiGuest;
        impl $crate::wasm::Guest for __KiwiGuest {
            fn describe() -> $crate::wasm::WitManifest {
                $crate::wasm::manifest_to_wit($get().manifest())
            }
            fn handle(req: $crate::wasm::WitRequest) -> $crate::wasm::WitResponse {
                $crate::wasm::handle($get(), req)
            }
            fn run_job(name: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                $crate::wasm::run_job($get(), &name)
            }
        }
        $crate::wasm::__kiwi_wit_export!(__KiwiGuest);
    };
}
