//! The plugin definition: manifest builder, route table and dispatch.

use std::collections::HashMap;
use std::sync::Arc;

use kiwi_plugin_api::manifest::{
    Access, BucketCondition, JobSpec, Manifest, Migration, RateLimit, Request, Response, RouteSpec, ScopeDef,
    SecondaryBucket,
};

use crate::host::Host;
use crate::{Ctx, Error, FromRequest, IntoResponse};

type BoxedHandler = Box<dyn Fn(&Request, &Ctx) -> Response + Send + Sync>;
type BoxedJob = Box<dyn Fn(&Ctx) -> Result<(), String> + Send + Sync>;

/// A function usable as a route handler: any `Fn(A, B, ...) -> R` whose arguments
/// are [`FromRequest`] extractors and whose result is [`IntoResponse`].
pub trait Handler<Args>: Send + Sync + 'static {
    fn call(&self, req: &Request, ctx: &Ctx) -> Response;
}

macro_rules! impl_handler {
    ($($arg:ident),*) => {
        #[allow(non_snake_case, unused_variables)]
        impl<F, R, $($arg,)*> Handler<($($arg,)*)> for F
        where
            F: Fn($($arg,)*) -> R + Send + Sync + 'static,
            R: IntoResponse,
            $($arg: FromRequest,)*
        {
            fn call(&self, req: &Request, ctx: &Ctx) -> Response {
                let rid = ctx.request_id().to_owned();
                $(
                    let $arg = match $arg::from_request(req, ctx) {
                        Ok(v) => v,
                        Err(e) => return e.into_response(&rid),
                    };
                )*
                (self)($($arg,)*).into_response(&rid)
            }
        }
    };
}

impl_handler!();
impl_handler!(A1);
impl_handler!(A1, A2);
impl_handler!(A1, A2, A3);
impl_handler!(A1, A2, A3, A4);
impl_handler!(A1, A2, A3, A4, A5);
impl_handler!(A1, A2, A3, A4, A5, A6);

/// A route under construction: method, path template, access rules and docs.
pub struct RouteBuilder {
    spec: RouteSpec,
    handler: BoxedHandler,
}

impl std::fmt::Debug for RouteBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteBuilder").field("spec", &self.spec).finish_non_exhaustive()
    }
}

fn route<H, Args>(method: &str, path: &str, handler: H) -> RouteBuilder
where
    H: Handler<Args>,
    Args: 'static,
{
    RouteBuilder {
        spec: RouteSpec {
            method: method.to_owned(),
            path: path.to_owned(),
            access: Access::Token,
            scope: None,
            rate_limit: None,
            secondary: None,
            ingest_cooldown: false,
            body_limit: None,
            summary: String::new(),
            description: String::new(),
            request_schema: None,
            response_schema: None,
            example: None,
            query_params: Vec::new(),
        },
        handler: Box::new(move |req, ctx| handler.call(req, ctx)),
    }
}

/// A `GET` route (also answers `HEAD`).
pub fn get<H: Handler<Args>, Args: 'static>(path: &str, handler: H) -> RouteBuilder {
    route("GET", path, handler)
}
/// A `POST` route.
pub fn post<H: Handler<Args>, Args: 'static>(path: &str, handler: H) -> RouteBuilder {
    route("POST", path, handler)
}
/// A `PUT` route.
pub fn put<H: Handler<Args>, Args: 'static>(path: &str, handler: H) -> RouteBuilder {
    route("PUT", path, handler)
}
/// A `PATCH` route.
pub fn patch<H: Handler<Args>, Args: 'static>(path: &str, handler: H) -> RouteBuilder {
    route("PATCH", path, handler)
}
/// A `DELETE` route.
pub fn delete<H: Handler<Args>, Args: 'static>(path: &str, handler: H) -> RouteBuilder {
    route("DELETE", path, handler)
}

impl RouteBuilder {
    /// Token optional; anonymous callers get a per-IP budget. A token, if sent, needs `scope`.
    pub fn public(mut self, scope: &str) -> Self {
        self.spec.access = Access::Public;
        self.spec.scope = Some(scope.to_owned());
        self
    }
    /// An API token with `scope` is required.
    pub fn token(mut self, scope: &str) -> Self {
        self.spec.access = Access::Token;
        self.spec.scope = Some(scope.to_owned());
        self
    }
    /// A logged-in user (session) is required.
    pub fn session(mut self) -> Self {
        self.spec.access = Access::Session;
        self
    }
    /// Only the platform superuser (by session or by an API token of theirs).
    pub fn master(mut self) -> Self {
        self.spec.access = Access::Master;
        self
    }
    /// Overrides the default per-token rate limit for this route.
    pub fn rate_limit(mut self, limit: u32, window_secs: u32) -> Self {
        self.spec.rate_limit = Some(RateLimit { limit, window_secs });
        self
    }
    /// Requests whose query `param` equals `value` also pay the secondary bucket `bucket`.
    pub fn secondary_when_query(mut self, bucket: &str, param: &str, value: &str) -> Self {
        self.spec.secondary = Some(SecondaryBucket {
            name: bucket.to_owned(),
            condition: BucketCondition::QueryEquals { param: param.to_owned(), value: value.to_owned() },
            limit: None,
        });
        self
    }
    /// Requests whose query `param` (unix seconds) is older than `days` also pay `bucket`.
    pub fn secondary_when_older(mut self, bucket: &str, param: &str, days: u32) -> Self {
        self.spec.secondary = Some(SecondaryBucket {
            name: bucket.to_owned(),
            condition: BucketCondition::QueryOlderThanDays { param: param.to_owned(), days },
            limit: None,
        });
        self
    }
    /// A master ingest route: one submission per cooldown per token (sessions bypass).
    pub fn ingest_cooldown(mut self) -> Self {
        self.spec.ingest_cooldown = true;
        self
    }
    /// Maximum request body, bytes (the host default is 8 MiB).
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.spec.body_limit = Some(bytes);
        self
    }
    /// One-line summary for OpenAPI.
    pub fn summary(mut self, s: &str) -> Self {
        self.spec.summary = s.to_owned();
        self
    }
    /// Longer description for OpenAPI.
    pub fn description(mut self, s: &str) -> Self {
        self.spec.description = s.to_owned();
        self
    }
    /// Documents the query parameters by name.
    pub fn query_params(mut self, names: &[&str]) -> Self {
        self.spec.query_params = names.iter().map(|s| (*s).to_owned()).collect();
        self
    }
    /// JSON Schema of the request body (JSON text).
    pub fn request_schema(mut self, schema: &str) -> Self {
        self.spec.request_schema = Some(schema.to_owned());
        self
    }
    /// JSON Schema of the response body (JSON text).
    pub fn response_schema(mut self, schema: &str) -> Self {
        self.spec.response_schema = Some(schema.to_owned());
        self
    }
    /// Example response body (JSON text).
    pub fn example(mut self, json: &str) -> Self {
        self.spec.example = Some(json.to_owned());
        self
    }
}

/// A plugin: its manifest and its handlers.
pub struct Plugin {
    manifest: Manifest,
    handlers: HashMap<(String, String), BoxedHandler>,
    jobs: HashMap<String, BoxedJob>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("manifest", &self.manifest).finish_non_exhaustive()
    }
}

impl Plugin {
    /// A new plugin; `name` is its URL prefix (`/v1/<name>`).
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            manifest: Manifest {
                name: name.to_owned(),
                version: version.to_owned(),
                description: String::new(),
                scopes: Vec::new(),
                routes: Vec::new(),
                jobs: Vec::new(),
                migrations: Vec::new(),
            },
            handlers: HashMap::new(),
            jobs: HashMap::new(),
        }
    }
    /// Human description.
    pub fn description(mut self, d: &str) -> Self {
        self.manifest.description = d.to_owned();
        self
    }
    /// Declares a scope this plugin defines (e.g. `rotations:read`).
    pub fn scope(mut self, name: &str, description: &str) -> Self {
        self.manifest.scopes.push(ScopeDef { name: name.to_owned(), description: description.to_owned() });
        self
    }
    /// Adds a route.
    pub fn route(mut self, r: RouteBuilder) -> Self {
        self.handlers.insert((r.spec.method.clone(), r.spec.path.clone()), r.handler);
        self.manifest.routes.push(r.spec);
        self
    }
    /// Adds a periodic job run every `interval_secs`.
    pub fn job<F>(mut self, name: &str, interval_secs: u32, f: F) -> Self
    where
        F: Fn(&Ctx) -> Result<(), String> + Send + Sync + 'static,
    {
        self.manifest.jobs.push(JobSpec { name: name.to_owned(), interval_secs });
        self.jobs.insert(name.to_owned(), Box::new(f));
        self
    }
    /// Adds a migration of the plugin's SQL namespace (one text per backend).
    pub fn migration(mut self, version: u32, name: &str, sqlite: &str, postgres: &str) -> Self {
        self.manifest.migrations.push(Migration {
            version,
            name: name.to_owned(),
            sqlite: sqlite.to_owned(),
            postgres: postgres.to_owned(),
        });
        self
    }
    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Dispatches a request to its handler. `req.route` is the matched template;
    /// `HEAD` is served by the `GET` handler.
    pub fn handle(&self, req: &Request, host: Arc<dyn Host>) -> Response {
        let ctx = Ctx::new(req.context.clone(), host);
        let method =
            if req.method.eq_ignore_ascii_case("HEAD") { "GET".to_owned() } else { req.method.to_ascii_uppercase() };
        match self.handlers.get(&(method, req.route.clone())) {
            Some(h) => h(req, &ctx),
            None => Error::not_found(format!("no route {} {}", req.method, req.route)).into_response(ctx.request_id()),
        }
    }

    /// Runs a job by name.
    pub fn run_job(&self, name: &str, host: Arc<dyn Host>) -> Result<(), String> {
        let ctx = Ctx::new(Default::default(), host);
        match self.jobs.get(name) {
            Some(job) => job(&ctx),
            None => Err(format!("unknown job {name:?}")),
        }
    }
}
