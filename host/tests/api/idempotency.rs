//! `Idempotency-Key`: replay with `Idempotent-Replay: true`, body mismatch (422),
//! in-flight (409), per-principal keys, stored 4xx, expiry, bad keys — with the
//! database store and with Redis (the same test bodies).

#![allow(clippy::unwrap_used)]

use kiwi_host::idempotency::{fingerprint, storage_key};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{Session, session};
use crate::helpers::{AppOptions, TestApp, assert_error, spawn_app_with};

async fn app(redis: bool) -> TestApp {
    spawn_app_with(AppOptions { redis, ..Default::default() }).await
}

async fn post(app: &TestApp, s: Option<&Session>, path: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut r = app.req(Method::POST, path).json(body);
    if let Some(s) = s {
        r = r.bearer_auth(&s.jwt);
    }
    if let Some(k) = key {
        r = r.header("idempotency-key", k);
    }
    r.send().await.unwrap()
}

async fn replay_and_mismatch(app: &TestApp) {
    let s = session(app, "idem").await;
    let slug = format!("t{:08x}", rand::random::<u32>());
    let body = json!({"slug": slug, "name": "Acme"});
    let first = post(app, Some(&s), "/tenants", Some("key-1"), &body).await;
    assert_eq!(first.status(), 201);
    assert!(!first.headers().contains_key("idempotent-replay"));
    let first_body: Value = first.json().await.unwrap();

    let again = post(app, Some(&s), "/tenants", Some("key-1"), &body).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replay"], "true");
    assert!(again.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    assert!(again.headers().contains_key("x-request-id"), "outer layers still add their headers");
    assert_eq!(again.json::<Value>().await.unwrap(), first_body);

    // Same key, different body → 422.
    let res =
        post(app, Some(&s), "/tenants", Some("key-1"), &json!({"slug": format!("{slug}x"), "name": "Acme"})).await;
    assert_error(res, 422, "idempotency_mismatch").await;
    // Same key on another path → 422 too.
    let res = post(app, Some(&s), "/auth/logout-all", Some("key-1"), &body).await;
    assert_error(res, 422, "idempotency_mismatch").await;
    // Without a key (or a new key) the request really runs again.
    assert_error(post(app, Some(&s), "/tenants", None, &body).await, 409, "conflict").await;
    assert_error(post(app, Some(&s), "/tenants", Some("key-2"), &body).await, 409, "conflict").await;

    // Keys are per principal: another user's identical key is independent.
    let other = session(app, "idem2").await;
    let slug2 = format!("u{:08x}", rand::random::<u32>());
    let res = post(app, Some(&other), "/tenants", Some("key-1"), &json!({"slug": slug2, "name": "Other"})).await;
    assert_eq!(res.status(), 201);
    assert!(!res.headers().contains_key("idempotent-replay"));

    // Anonymous callers are keyed by IP.
    let signup = json!({"email": format!("anon{:06x}@example.com", rand::random::<u32>() & 0xffffff), "password": "a fine test password"});
    let a = post(app, None, "/auth/signup", Some("signup-1"), &signup).await;
    assert_eq!(a.status(), 201);
    let a_body: Value = a.json().await.unwrap();
    let b = post(app, None, "/auth/signup", Some("signup-1"), &signup).await;
    assert_eq!(b.status(), 201);
    assert_eq!(b.headers()["idempotent-replay"], "true");
    assert_eq!(b.json::<Value>().await.unwrap()["id"], a_body["id"]);

    // A stored 4xx is replayed as the same envelope.
    let bad = json!({"slug": "NOT A SLUG!", "name": "x"});
    let r1 = post(app, Some(&s), "/tenants", Some("bad-1"), &bad).await;
    let status = r1.status().as_u16();
    assert!((400..500).contains(&status) && status != 409 && status != 429, "{status}");
    let b1: Value = r1.json().await.unwrap();
    let r2 = post(app, Some(&s), "/tenants", Some("bad-1"), &bad).await;
    assert_eq!(r2.status().as_u16(), status);
    assert_eq!(r2.headers()["idempotent-replay"], "true");
    assert_eq!(r2.json::<Value>().await.unwrap()["error"]["code"], b1["error"]["code"]);

    // A 409 is not stored: the key is free again (here it conflicts for real each time).
    let r = post(app, Some(&s), "/tenants", Some("conf-1"), &body).await;
    assert_error(r, 409, "conflict").await;
    let r = post(app, Some(&s), "/tenants", Some("conf-1"), &body).await;
    assert!(!r.headers().contains_key("idempotent-replay"));

    // GET ignores the header; malformed keys are 400.
    let res = app.req(Method::GET, "/health").header("idempotency-key", "x").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_error(post(app, Some(&s), "/tenants", Some("has space"), &body).await, 400, "bad_request").await;
    assert_error(post(app, Some(&s), "/tenants", Some(&"k".repeat(256)), &body).await, 400, "bad_request").await;

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("kiwi_idempotent_replays_total 3"), "{metrics}");
}

#[tokio::test]
async fn replay_and_mismatch_database() {
    replay_and_mismatch(&app(false).await).await;
}

#[tokio::test]
async fn replay_and_mismatch_redis() {
    replay_and_mismatch(&app(true).await).await;
}

/// Marks a key as in flight the way another instance would.
async fn claim_elsewhere(app: &TestApp, principal: &str, key: &str, fp: &str) {
    let sk = storage_key(principal, key);
    match &app.state.redis {
        Some(conn) => {
            let mut conn = conn.clone();
            let ns = kiwi_host::bus::redis_namespace(&app.state.config);
            let v = json!({"s": "pending", "f": fp}).to_string();
            let _: () = redis::cmd("SET")
                .arg(format!("{ns}idem:{sk}"))
                .arg(v)
                .arg("PX")
                .arg(60_000)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
        None => {
            let now = app.state.clock.now_ms();
            sqlx::query("INSERT INTO idempotency_keys (storage_key, fingerprint, state, response, created_at, expires_at) VALUES ($1, $2, 'pending', NULL, $3, $4)")
                .bind(sk)
                .bind(fp)
                .bind(now)
                .bind(now + 60_000)
                .execute(&app.state.db.pool)
                .await
                .unwrap();
        }
    }
}

async fn in_flight(app: &TestApp) {
    let s = session(app, "fly").await;
    let body = json!({"slug": format!("f{:08x}", rand::random::<u32>()), "name": "F"});
    let bytes = serde_json::to_vec(&body).unwrap();
    claim_elsewhere(app, &format!("user:{}", s.user_id), "busy-1", &fingerprint("POST", "/tenants", &bytes)).await;
    assert_error(post(app, Some(&s), "/tenants", Some("busy-1"), &body).await, 409, "conflict").await;
    // The same in-flight key with another request is a mismatch.
    let other = json!({"slug": "zzz-other", "name": "F"});
    assert_error(post(app, Some(&s), "/tenants", Some("busy-1"), &other).await, 422, "idempotency_mismatch").await;
}

#[tokio::test]
async fn in_flight_key_is_a_conflict_database() {
    in_flight(&app(false).await).await;
}

#[tokio::test]
async fn in_flight_key_is_a_conflict_redis() {
    in_flight(&app(true).await).await;
}

#[tokio::test]
async fn records_expire_after_the_ttl_database() {
    let app = app(false).await;
    let s = session(&app, "exp").await;
    let body = json!({"slug": format!("e{:08x}", rand::random::<u32>()), "name": "E"});
    assert_eq!(post(&app, Some(&s), "/tenants", Some("exp-1"), &body).await.status(), 201);
    // Past its TTL the record is ignored: the request runs again (and conflicts with its tenant).
    sqlx::query("UPDATE idempotency_keys SET expires_at = 1").execute(&app.state.db.pool).await.unwrap();
    let res = post(&app, Some(&s), "/tenants", Some("exp-1"), &body).await;
    assert!(!res.headers().contains_key("idempotent-replay"));
    assert_error(res, 409, "conflict").await;
    // The sweeper deletes expired records.
    let body2 = json!({"slug": format!("e{:08x}", rand::random::<u32>()), "name": "E"});
    assert_eq!(post(&app, Some(&s), "/tenants", Some("exp-2"), &body2).await.status(), 201);
    sqlx::query("UPDATE idempotency_keys SET expires_at = 1").execute(&app.state.db.pool).await.unwrap();
    assert_eq!(app.state.idempotency.sweep().await.unwrap(), 1);
}

#[tokio::test]
async fn stored_responses_are_encrypted() {
    let app = app(false).await;
    let s = session(&app, "enc").await;
    let res = post(&app, Some(&s), "/tokens", Some("tok-1"), &json!({"name": "secret", "scopes": ["*"]})).await;
    assert_eq!(res.status(), 201);
    let token = res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let blob: Vec<u8> = sqlx::query_scalar("SELECT response FROM idempotency_keys WHERE state = 'done'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let needle = &token.as_bytes()[..20];
    assert!(!blob.windows(needle.len()).any(|w| w == needle), "the secret is not stored in clear");
    let again = post(&app, Some(&s), "/tokens", Some("tok-1"), &json!({"name": "secret", "scopes": ["*"]})).await;
    assert_eq!(again.headers()["idempotent-replay"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["token"], token.as_str());
}
