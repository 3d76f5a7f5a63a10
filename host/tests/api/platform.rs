//! Cross-cutting behaviour: envelope, request ids, health, OpenAPI, headers.

use serde_json::Value;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn health_and_ready() {
    let app = spawn_app().await;
    let res = app.get("/health").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers().contains_key("content-security-policy"));
    let res = app.get("/ready").await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn unknown_route_is_enveloped_404() {
    let app = spawn_app().await;
    assert_error(app.get("/v1/nope/x").await, 404, "not_found").await;
    assert_error(app.get("/auth/nothing-here").await, 404, "not_found").await;
}

#[tokio::test]
async fn method_not_allowed_is_enveloped() {
    let app = spawn_app().await;
    let res = app.req(reqwest::Method::DELETE, "/health").send().await.unwrap();
    assert_error(res, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn request_id_kept_when_well_formed_and_replaced_otherwise() {
    let app = spawn_app().await;
    let res =
        app.req(reqwest::Method::GET, "/health").header("x-request-id", "req_00112233445566ff").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "req_00112233445566ff");
    let res = app.req(reqwest::Method::GET, "/health").header("x-request-id", "req_NOT-VALID").send().await.unwrap();
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(rid.starts_with("req_") && rid != "req_NOT-VALID");
}

#[tokio::test]
async fn openapi_lists_host_routes_and_error_codes() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/health"]["get"].is_object());
    let codes: Vec<&str> =
        doc["x-error-codes"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
    for c in ["bad_request", "validation_error", "rate_limited", "plugin_timeout", "internal"] {
        assert!(codes.contains(&c), "{c}");
    }
    let res = app.get("/docs").await;
    assert_eq!(res.status(), 200);
}

/// CORS: only configured origins get CORS headers (with credentials, for the refresh
/// cookie); anything else, and every origin when none is configured, gets none.
#[tokio::test]
async fn cors_only_for_configured_origins() {
    use crate::helpers::{AppOptions, spawn_app_with};
    let app = spawn_app_with(AppOptions {
        env: vec![("KIWI_CORS_ORIGINS".into(), "https://app.example, https://other.example".into())],
        ..AppOptions::default()
    })
    .await;
    let preflight = |origin: &str| {
        app.req(reqwest::Method::OPTIONS, "/tokens")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
    };
    let res = preflight("https://app.example").send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example");
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    let res = app.req(reqwest::Method::GET, "/health").header("origin", "https://other.example").send().await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "https://other.example");
    assert!(res.headers()["access-control-expose-headers"].to_str().unwrap().contains("x-request-id"));
    let res = preflight("https://evil.example").send().await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    // Answers made outside a handler carry them too: a router 405 in the envelope, and an
    // idempotency conflict (same key, different body).
    let res = app.req(reqwest::Method::DELETE, "/health").header("origin", "https://app.example").send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example");
    assert!(res.headers().contains_key("x-request-id"));
    let signup = |email: &str| {
        app.req(reqwest::Method::POST, "/auth/signup")
            .header("origin", "https://app.example")
            .header("idempotency-key", "cors-key-1")
            .json(&serde_json::json!({"email": email, "password": "correct horse battery staple"}))
    };
    let first = signup("cors1@example.com").send().await.unwrap();
    assert!(first.status().is_success(), "{}", first.status());
    let res = signup("cors2@example.com").send().await.unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example");

    // Not configured: no CORS headers for anyone.
    let plain = spawn_app().await;
    let res = plain.req(reqwest::Method::GET, "/health").header("origin", "https://app.example").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    assert!(!res.headers().contains_key("vary"));
}
