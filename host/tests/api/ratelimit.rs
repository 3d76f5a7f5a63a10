//! Rate limiting: the limiter's semantics on both backends (one test body run
//! against each), the plugin-request policy (primary, secondary, ingest
//! cooldown), auth-flow limits, headers and the 429, runtime tuning, tenant
//! plans, and exactness with 64 concurrent clients on two instances sharing Redis.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::sync::Arc;

use kiwi_host::principal::{Principal, ScopeSet, Via};
use kiwi_host::ratelimit::{Bucket, BucketCondition, PluginLimitRequest, Rule};
use kiwi_plugin_api::manifest::{Access, RateLimit, RouteSpec, SecondaryBucket};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{session, simple_token, whoami};
use crate::helpers::{AppOptions, TestApp, assert_error, spawn_app_with};

const T0: i64 = 1_893_456_000_000; // 2030-01-01T00:00:00Z

async fn app(redis: bool) -> TestApp {
    spawn_app_with(AppOptions { redis, ..Default::default() }).await
}

fn key() -> String {
    format!("test:{:016x}", rand::random::<u64>())
}

async fn set(app: &TestApp, key: &str, v: Value) {
    app.state.runtime_config.set(key, &v, "test").await.unwrap();
}

/// The shared semantics test body.
async fn semantics(app: &TestApp) {
    app.clock.pin(Some(T0));
    let l = &app.state.limiter;
    let b = Bucket { key: key(), limit: 3, window_secs: 10 };
    for (i, expected) in [2, 1, 0].into_iter().enumerate() {
        app.clock.pin(Some(T0 + 1000 * i as i64));
        let d = l.check(&b).await;
        assert!(d.allowed);
        assert_eq!((d.limit, d.remaining, d.retry_after_secs), (3, expected, 0));
        assert_eq!(d.reset_at, T0 / 1000 + 10);
    }
    app.clock.pin(Some(T0 + 4_000));
    let d = l.check(&b).await;
    assert!(!d.allowed);
    assert_eq!((d.remaining, d.retry_after_secs, d.reset_at), (0, 6, T0 / 1000 + 10));
    // Rejections never consume budget: the first slot frees exactly one window after it was taken.
    app.clock.pin(Some(T0 + 9_999));
    assert!(!l.check(&b).await.allowed);
    app.clock.pin(Some(T0 + 10_000));
    let d = l.check(&b).await;
    assert!(d.allowed, "{d:?}");
    assert_eq!(d.remaining, 0);
    assert!(!l.check(&b).await.allowed);
    // A sliding window, not a fixed one: slots free one by one as their requests age out.
    app.clock.pin(Some(T0 + 10_500));
    assert!(!l.check(&b).await.allowed);
    app.clock.pin(Some(T0 + 11_000));
    assert!(l.check(&b).await.allowed, "the T0+1 s slot is free");
    app.clock.pin(Some(T0 + 11_000));
    assert!(!l.check(&b).await.allowed);
    app.clock.pin(Some(T0 + 21_000));
    assert_eq!(l.check(&b).await.remaining, 2);
    // Independent keys; a zero limit always rejects.
    let other = Bucket { key: key(), limit: 1, window_secs: 60 };
    assert!(l.check(&other).await.allowed);
    let zero = Bucket { key: key(), limit: 0, window_secs: 60 };
    let d = l.check(&zero).await;
    assert!(!d.allowed && d.retry_after_secs == 60);
    // The 429 built from a decision.
    let e = d.to_error(60);
    assert_eq!(e.code.as_str(), "rate_limited");
    assert!(e.headers.iter().any(|(k, v)| k == "retry-after" && v == "60"));
    assert!(e.headers.iter().any(|(k, v)| k == "x-ratelimit-remaining" && v == "0"));
}

#[tokio::test]
async fn limiter_semantics_in_process() {
    let app = app(false).await;
    assert!(!app.state.limiter.is_shared());
    semantics(&app).await;
}

#[tokio::test]
async fn limiter_semantics_redis() {
    let app = app(true).await;
    assert!(app.state.limiter.is_shared());
    semantics(&app).await;
}

fn token_principal(token_id: &str) -> Principal {
    Principal {
        user_id: "usr_test".into(),
        is_master: false,
        via: Via::Token { token_id: token_id.into(), tenant_id: "ten_default".into(), scopes: ScopeSet::All },
    }
}

fn session_principal() -> Principal {
    Principal {
        user_id: format!("usr_{:08x}", rand::random::<u32>()),
        is_master: false,
        via: Via::Session { session_id: "ses_x".into() },
    }
}

fn route(path: &str) -> RouteSpec {
    RouteSpec {
        method: "GET".into(),
        path: path.into(),
        access: Access::Public,
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
    }
}

fn header<'a>(h: &'a [(axum::http::HeaderName, axum::http::HeaderValue)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k.as_str() == name).and_then(|(_, v)| v.to_str().ok())
}

async fn plugin_policy(app: &TestApp) {
    app.clock.pin(Some(T0));
    let l = &app.state.limiter;
    let plugin = format!("p{:08x}", rand::random::<u32>());
    let ip: IpAddr = [198, 51, 100, 7].into();

    // Anonymous caller of a public route: per-IP public budget (tuned to 2).
    set(app, "public_anon_rate_limit_max", json!(2)).await;
    let r = route("/items");
    let req = PluginLimitRequest { plugin: &plugin, route: &r, principal: None, client_ip: ip, raw_query: None };
    let h = l.check_plugin_request(&req).await.unwrap();
    assert_eq!(header(&h.0, "x-ratelimit-limit"), Some("2"));
    assert_eq!(header(&h.0, "x-ratelimit-remaining"), Some("1"));
    assert_eq!(header(&h.0, "x-ratelimit-reset"), Some(&*(T0 / 1000 + 60).to_string()));
    l.check_plugin_request(&req).await.unwrap();
    let e = l.check_plugin_request(&req).await.unwrap_err();
    assert_eq!(e.code.as_str(), "rate_limited");
    assert_eq!(header(&e.headers, "retry-after"), Some("60"));
    // Another IP has its own budget.
    let req2 = PluginLimitRequest { client_ip: [198, 51, 100, 8].into(), ..req };
    assert!(l.check_plugin_request(&req2).await.is_ok());

    // A token: the API default (tuned to 3), shared across routes without an override.
    set(app, "api_rate_limit_max", json!(3)).await;
    let tok = token_principal(&format!("tok_{:08x}", rand::random::<u32>()));
    let other_route = route("/other");
    let treq = PluginLimitRequest { plugin: &plugin, route: &r, principal: Some(&tok), client_ip: ip, raw_query: None };
    let h = l.check_plugin_request(&treq).await.unwrap();
    assert_eq!(header(&h.0, "x-ratelimit-limit"), Some("3"));
    let treq_other = PluginLimitRequest { route: &other_route, ..treq };
    assert_eq!(header(&l.check_plugin_request(&treq_other).await.unwrap().0, "x-ratelimit-remaining"), Some("1"));

    // A per-route override is its own bucket.
    let mut heavy = route("/heavy");
    heavy.rate_limit = Some(RateLimit { limit: 1, window_secs: 30 });
    let hreq = PluginLimitRequest { route: &heavy, ..treq };
    let h = l.check_plugin_request(&hreq).await.unwrap();
    assert_eq!(header(&h.0, "x-ratelimit-limit"), Some("1"));
    let e = l.check_plugin_request(&hreq).await.unwrap_err();
    assert_eq!(header(&e.headers, "retry-after"), Some("30"));

    // Secondary bucket: only matching queries pay it; its own headers.
    let tok2 = token_principal(&format!("tok_{:08x}", rand::random::<u32>()));
    let mut archive = route("/history");
    archive.secondary = Some(SecondaryBucket {
        name: "archive".into(),
        condition: BucketCondition::QueryEquals { param: "hide_expired".into(), value: "false".into() },
        limit: Some(RateLimit { limit: 1, window_secs: 60 }),
    });
    let plain = PluginLimitRequest {
        plugin: &plugin,
        route: &archive,
        principal: Some(&tok2),
        client_ip: ip,
        raw_query: Some("hide_expired=true"),
    };
    let h = l.check_plugin_request(&plain).await.unwrap();
    assert_eq!(header(&h.0, "x-ratelimit-archive-limit"), None);
    let matching = PluginLimitRequest { raw_query: Some("page=2&hide_expired=FALSE"), ..plain };
    let h = l.check_plugin_request(&matching).await.unwrap();
    assert_eq!(header(&h.0, "x-ratelimit-archive-limit"), Some("1"));
    assert_eq!(header(&h.0, "x-ratelimit-archive-remaining"), Some("0"));
    assert_eq!(header(&h.0, "x-ratelimit-remaining"), Some("1"), "standard headers kept");
    let e = l.check_plugin_request(&matching).await.unwrap_err();
    assert_eq!(e.code.as_str(), "rate_limited");
    assert_eq!(header(&e.headers, "x-ratelimit-archive-remaining"), Some("0"));
    assert_eq!(header(&e.headers, "retry-after"), Some("60"));

    // Default secondary limit from runtime config (archive 10/min, tuned to 1).
    set(app, "archive_rate_limit_max", json!(1)).await;
    let tok3 = token_principal(&format!("tok_{:08x}", rand::random::<u32>()));
    let mut old = route("/board");
    old.secondary = Some(SecondaryBucket {
        name: "archive".into(),
        condition: BucketCondition::QueryOlderThanDays { param: "at".into(), days: 3 },
        limit: None,
    });
    let q = format!("at={}", T0 / 1000 - 4 * 86_400);
    let oreq =
        PluginLimitRequest { plugin: &plugin, route: &old, principal: Some(&tok3), client_ip: ip, raw_query: Some(&q) };
    l.check_plugin_request(&oreq).await.unwrap();
    assert!(l.check_plugin_request(&oreq).await.is_err());
    let recent = format!("at={}", T0 / 1000 - 86_400);
    assert!(l.check_plugin_request(&PluginLimitRequest { raw_query: Some(&recent), ..oreq }).await.is_ok());

    // Ingest cooldown: one submission per window per token per endpoint; sessions bypass.
    set(app, "api_rate_limit_max", json!(100)).await;
    let tok4 = token_principal(&format!("tok_{:08x}", rand::random::<u32>()));
    let mut ingest = route("/insert");
    ingest.method = "POST".into();
    ingest.access = Access::Master;
    ingest.ingest_cooldown = true;
    let ireq =
        PluginLimitRequest { plugin: &plugin, route: &ingest, principal: Some(&tok4), client_ip: ip, raw_query: None };
    l.check_plugin_request(&ireq).await.unwrap();
    let e = l.check_plugin_request(&ireq).await.unwrap_err();
    assert_eq!(header(&e.headers, "retry-after"), Some("300"));
    assert!(e.message.contains("cooldown"), "{}", e.message);
    let mut other_ingest = ingest.clone();
    other_ingest.path = "/insert2".into();
    assert!(l.check_plugin_request(&PluginLimitRequest { route: &other_ingest, ..ireq }).await.is_ok(), "per endpoint");
    let s = session_principal();
    let sreq = PluginLimitRequest { principal: Some(&s), ..ireq };
    for _ in 0..3 {
        assert!(l.check_plugin_request(&sreq).await.is_ok(), "sessions bypass the cooldown");
    }
    app.clock.pin(Some(T0 + 300_000));
    assert!(l.check_plugin_request(&ireq).await.is_ok(), "after the window");

    let rejections: std::collections::HashMap<_, _> = l.stats.rejections().into_iter().collect();
    assert!(rejections["public"] >= 1 && rejections["archive"] >= 2 && rejections["ingest"] >= 1, "{rejections:?}");
}

#[tokio::test]
async fn plugin_request_policy_in_process() {
    plugin_policy(&app(false).await).await;
}

#[tokio::test]
async fn plugin_request_policy_redis() {
    plugin_policy(&app(true).await).await;
}

async fn auth_limits(app: &TestApp) {
    set(app, "signup_rate_limit_max", json!(2)).await;
    for i in 0..2 {
        let res = app
            .post_json(
                "/auth/signup",
                &json!({"email": format!("s{i}@example.com"), "password": "a fine test password"}),
            )
            .await;
        assert_eq!(res.status(), 201);
        assert!(!res.headers().contains_key("x-ratelimit-limit"), "auth flows send no headers on success");
    }
    let res =
        app.post_json("/auth/signup", &json!({"email": "s3@example.com", "password": "a fine test password"})).await;
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3590..=3600).contains(&retry), "{retry}");
    assert_eq!(res.headers()["x-ratelimit-limit"], "2");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");
    let body = assert_error(res, 429, "rate_limited").await;
    assert_eq!(body["error"]["details"]["limit"], 2);
    assert_eq!(body["error"]["details"]["window_seconds"], 3600);

    // Raising the limit takes effect without a restart.
    set(app, "signup_rate_limit_max", json!(3)).await;
    let res =
        app.post_json("/auth/signup", &json!({"email": "s3@example.com", "password": "a fine test password"})).await;
    assert_eq!(res.status(), 201);

    // Login: failures count too.
    set(app, "login_rate_limit_max", json!(3)).await;
    for _ in 0..3 {
        let res =
            app.post_json("/auth/login", &json!({"email": "s0@example.com", "password": "wrong password here"})).await;
        assert_eq!(res.status(), 401);
    }
    let res =
        app.post_json("/auth/login", &json!({"email": "s0@example.com", "password": "a fine test password"})).await;
    assert_error(res, 429, "rate_limited").await;

    // Forgot-password and resend-verification.
    set(app, "forgot_password_rate_limit_max", json!(1)).await;
    let res = app.post_json("/auth/forgot-password", &json!({"email": "s0@example.com"})).await;
    assert_eq!(res.status(), 202);
    assert_error(
        app.post_json("/auth/forgot-password", &json!({"email": "s0@example.com"})).await,
        429,
        "rate_limited",
    )
    .await;
}

#[tokio::test]
async fn auth_flow_limits_in_process() {
    auth_limits(&app(false).await).await;
}

#[tokio::test]
async fn auth_flow_limits_redis() {
    auth_limits(&app(true).await).await;
}

#[tokio::test]
async fn signup_feature_flag() {
    let app = app(false).await;
    set(&app, "feature_signup_enabled", json!(false)).await;
    let res =
        app.post_json("/auth/signup", &json!({"email": "x@example.com", "password": "a fine test password"})).await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test]
async fn token_creation_cap_is_tunable() {
    let app = app(false).await;
    let s = session(&app, "cap").await;
    set(&app, "token_create_rate_limit_max", json!(1)).await;
    simple_token(&app, &s).await;
    let res = app
        .req(Method::POST, "/tokens")
        .bearer_auth(&s.jwt)
        .json(&json!({"name": "t2", "scopes": ["*"]}))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn whoami_headers_and_tenant_plan_limit() {
    let app = app(false).await;
    let s = session(&app, "who").await;
    let (_, token) = simple_token(&app, &s).await;
    let res = whoami(&app, &token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-ratelimit-limit"], "120");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "119");
    assert!(res.headers()["x-ratelimit-reset"].to_str().unwrap().parse::<i64>().unwrap() > 1_700_000_000);
    // The tenant's plan limit replaces the default (cached ≤ 1 s; invalidated on change).
    sqlx::query("UPDATE tenants SET rate_limit_per_min = 3 WHERE id = 'ten_default'")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    app.state.limiter.invalidate_tenant("ten_default");
    let res = whoami(&app, &token).await;
    assert_eq!(res.headers()["x-ratelimit-limit"], "3");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "1");
    assert_eq!(whoami(&app, &token).await.status(), 200);
    let res = whoami(&app, &token).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, 429, "rate_limited").await;
}

/// Two instances sharing Redis (and one database): the budget is exact under concurrency.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_64_concurrent_clients_exact_budget() {
    let a = app(true).await;
    let b = spawn_app_with(AppOptions {
        redis: true,
        database_url: Some(a.database_url.clone()),
        data_dir: Some(a.data_dir.clone()),
        ..Default::default()
    })
    .await;

    // Service level: 64 clients × 4 checks on one bucket of 100.
    let bucket = Bucket { key: key(), limit: 100, window_secs: 60 };
    let mut tasks = Vec::new();
    for i in 0..64 {
        let st = if i % 2 == 0 { a.state.clone() } else { b.state.clone() };
        let bucket = bucket.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            for _ in 0..4 {
                if st.limiter.check(&bucket).await.allowed {
                    n += 1;
                }
            }
            n
        }));
    }
    let mut allowed = 0;
    for t in tasks {
        allowed += t.await.unwrap();
    }
    assert_eq!(allowed, 100, "exactly the limit across both instances");

    // HTTP level: one token, 64 concurrent clients split over both instances, API limit 40.
    let s = session(&a, "conc").await;
    let (_, token) = simple_token(&a, &s).await;
    set(&a, "api_rate_limit_max", json!(40)).await;
    b.state.runtime_config.reload().await.unwrap();
    let token = Arc::new(token);
    let urls = [a.url("/v1/whoami"), b.url("/v1/whoami")];
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (client, url, token) = (client.clone(), urls[i % 2].clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            client.get(url).bearer_auth(&*token).send().await.unwrap().status().as_u16()
        }));
    }
    let mut ok = 0;
    let mut limited = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, limited), (40, 24));
    b.stop().await;
}

#[tokio::test]
async fn rule_names_and_config_prefixes() {
    let app = app(false).await;
    for rule in Rule::ALL {
        let (limit, window) = app.state.runtime_config.rate_limit(rule.config_prefix());
        assert!(limit > 0 && window > 0, "{rule:?}");
    }
    let b = app.state.limiter.rule_bucket(Rule::Signup, "1.2.3.4");
    assert_eq!(b, Bucket { key: "signup:1.2.3.4".into(), limit: 5, window_secs: 3600 });
    let b = app.state.limiter.rule_bucket(Rule::Login, "1.2.3.4");
    assert_eq!((b.limit, b.window_secs), (10, 300));
    let b = app.state.limiter.rule_bucket(Rule::TokenCreate, "usr_1");
    assert_eq!((b.limit, b.window_secs), (3, 86_400));
    let b = app.state.limiter.rule_bucket(Rule::PublicAnon, "ip");
    assert_eq!((b.limit, b.window_secs), (30, 60));
    let b = app.state.limiter.rule_bucket(Rule::IngestCooldown, "x");
    assert_eq!((b.limit, b.window_secs), (1, 300));
    let b = app.state.limiter.rule_bucket(Rule::Archive, "x");
    assert_eq!((b.limit, b.window_secs), (10, 60));
}
