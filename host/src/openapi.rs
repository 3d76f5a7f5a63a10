//! OpenAPI 3.1, generated from the code: host routes are registered through
//! [`DocRouter`], which records each route's docs beside its handler, and every
//! enabled plugin's manifest routes are added at request time.

use axum::Router;
use axum::routing::MethodRouter;
use serde_json::{Map, Value, json};

use crate::error::ErrorCode;
use crate::state::AppState;

/// Who may call a host route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    /// Session JWT (a logged-in user).
    Session,
    /// An API token.
    Token,
    /// Session or token.
    Any,
    /// The platform superuser.
    Master,
}

/// Documentation of one host route.
#[derive(Debug, Clone)]
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub auth: Auth,
    pub errors: Vec<ErrorCode>,
    pub request_example: Option<Value>,
    pub response_example: Option<Value>,
    pub success: u16,
}

impl RouteDoc {
    pub fn new(method: &'static str, path: &'static str, summary: &'static str) -> Self {
        Self {
            method,
            path,
            summary,
            tag: "platform",
            auth: Auth::None,
            errors: Vec::new(),
            request_example: None,
            response_example: None,
            success: 200,
        }
    }
    pub fn tag(mut self, t: &'static str) -> Self {
        self.tag = t;
        self
    }
    pub fn auth(mut self, a: Auth) -> Self {
        self.auth = a;
        self
    }
    pub fn errors(mut self, e: &[ErrorCode]) -> Self {
        self.errors.extend_from_slice(e);
        self
    }
    pub fn request(mut self, v: Value) -> Self {
        self.request_example = Some(v);
        self
    }
    pub fn response(mut self, v: Value) -> Self {
        self.response_example = Some(v);
        self
    }
    pub fn status(mut self, s: u16) -> Self {
        self.success = s;
        self
    }
}

/// A router that records docs for every route it mounts.
pub struct DocRouter {
    pub router: Router<AppState>,
    pub docs: Vec<RouteDoc>,
}

impl Default for DocRouter {
    fn default() -> Self {
        Self::new()
    }
}

impl DocRouter {
    pub fn new() -> Self {
        Self { router: Router::new(), docs: Vec::new() }
    }
    /// Mounts `handler` at `doc.path` (axum `{param}` syntax) and records `doc`.
    /// Call once per method; routes on the same path are merged.
    pub fn route(mut self, doc: RouteDoc, handler: MethodRouter<AppState>) -> Self {
        // axum merges method routers registered on the same path.
        self.router = self.router.route(doc.path, handler);
        self.docs.push(doc);
        self
    }
    /// Records a doc for a path already mounted (another method on the same MethodRouter).
    pub fn doc(mut self, doc: RouteDoc) -> Self {
        self.docs.push(doc);
        self
    }
    /// Merges another doc router.
    pub fn merge(mut self, other: DocRouter) -> Self {
        self.router = self.router.merge(other.router);
        self.docs.extend(other.docs);
        self
    }
}

fn error_response(codes: &[ErrorCode]) -> Vec<(String, Value)> {
    let mut by_status: std::collections::BTreeMap<u16, Vec<&str>> = Default::default();
    for c in codes {
        by_status.entry(c.status().as_u16()).or_default().push(c.as_str());
    }
    by_status
        .into_iter()
        .map(|(status, names)| {
            (
                status.to_string(),
                json!({
                    "description": format!("Error envelope; code one of: {}", names.join(", ")),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                }),
            )
        })
        .collect()
}

fn security(auth: Auth) -> Value {
    match auth {
        Auth::None => json!([]),
        Auth::Session => json!([{"session": []}]),
        Auth::Token => json!([{"apiToken": []}, {"apiKeyHeader": []}]),
        Auth::Any | Auth::Master => json!([{"session": []}, {"apiToken": []}, {"apiKeyHeader": []}]),
    }
}

/// Adds one operation to `paths`.
pub fn add_operation(paths: &mut Map<String, Value>, path: &str, method: &str, op: Value) {
    let entry = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
    if let Some(obj) = entry.as_object_mut() {
        obj.insert(method.to_ascii_lowercase(), op);
    }
}

/// Builds the document from host docs plus extra (plugin) operations.
pub fn document(host: &[RouteDoc], plugin_paths: Map<String, Value>) -> Value {
    let mut paths = Map::new();
    for d in host {
        let mut responses = Map::new();
        let mut ok = json!({"description": "Success"});
        if let Some(ex) = &d.response_example {
            ok["content"] = json!({"application/json": {"example": ex}});
        }
        responses.insert(d.success.to_string(), ok);
        let mut codes = d.errors.clone();
        codes.push(ErrorCode::Internal);
        if !matches!(d.auth, Auth::None) {
            codes.push(ErrorCode::NotAuthenticated);
        }
        if matches!(d.auth, Auth::Master) {
            codes.push(ErrorCode::Forbidden);
        }
        for (k, v) in error_response(&codes) {
            responses.insert(k, v);
        }
        let params: Vec<Value> = d
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": d.summary,
            "tags": [d.tag],
            "security": security(d.auth),
            "x-kiwi-access": format!("{:?}", d.auth).to_ascii_lowercase(),
            "parameters": params,
            "responses": responses,
        });
        if let Some(ex) = &d.request_example {
            op["requestBody"] = json!({"content": {"application/json": {"example": ex}}});
        }
        add_operation(&mut paths, d.path, d.method, op);
    }
    for (k, v) in plugin_paths {
        if let (Some(existing), Some(new)) = (paths.get_mut(&k).and_then(Value::as_object_mut), v.as_object()) {
            existing.extend(new.clone());
        } else {
            paths.insert(k, v);
        }
    }
    let codes: Vec<Value> = ErrorCode::ALL
        .iter()
        .map(|c| json!({"code": c.as_str(), "status": c.status().as_u16(), "meaning": c.describe()}))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Kiwi API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Multi-tenant developer API. Product surfaces are plugins mounted under /v1/<plugin>.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiToken": {"type": "http", "scheme": "bearer", "description": "kiwi_<body>_<checksum>"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {
                        "type": "object",
                        "required": ["code", "message", "details", "request_id"],
                        "properties": {
                            "code": {"type": "string", "enum": ErrorCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()},
                            "message": {"type": "string"},
                            "details": {},
                            "request_id": {"type": "string", "pattern": "^req_[0-9a-f]{16}$"},
                        }
                    }}
                }
            },
        },
        "x-error-codes": codes,
    })
}
