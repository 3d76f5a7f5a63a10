//! API tokens (`/tokens/*`, `/v1/whoami`, `/scopes`): every endpoint and
//! error path, the verification failures, rotation, the cache, batching of
//! usage counters and the inactivity sweep.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{
    Session, create_token, master_session, relogin, send, session, simple_token, whoami, whoami_from,
};
use crate::helpers::{AppOptions, TestApp, assert_error, spawn_app, spawn_app_with};

const DAY_MS: i64 = 86_400_000;
/// 2030-01-01T00:00:00Z.
const T0: i64 = 1_893_456_000_000;

fn localhost() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

async fn trusting_app() -> TestApp {
    spawn_app_with(AppOptions { env: vec![("KIWI_TRUST_FORWARDED_FOR".into(), "true".into())], ..Default::default() })
        .await
}

async fn get_token(app: &TestApp, s: &Session, id: &str) -> Value {
    let res = send(app, s, Method::GET, &format!("/tokens/{id}"), None).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Replaces one character of the body so the checksum no longer matches.
fn typo(token: &str) -> String {
    let mut b = token.as_bytes().to_vec();
    b[10] = if b[10] == b'x' { b'y' } else { b'x' };
    String::from_utf8(b).unwrap()
}

#[tokio::test]
async fn create_shows_the_secret_once_and_lists_the_prefix() {
    let app = spawn_app().await;
    let s = session(&app, "alice").await;
    let t = create_token(
        &app,
        &s,
        json!({"name": " CI pipeline ", "scopes": ["rotations:read", "stats:read"], "allowed_ips": ["203.0.113.7", "10.1.2.3/8"], "expires_in_days": 60}),
    )
    .await;
    let secret = t["token"].as_str().unwrap();
    assert!(secret.starts_with("kiwi_") && secret.len() >= 5 + 43 + 2, "{secret}");
    assert_eq!(t["prefix"], secret[..13]);
    assert_eq!(t["name"], "CI pipeline");
    assert_eq!(t["scopes"], json!(["rotations:read", "stats:read"]));
    assert_eq!(t["allowed_ips"], json!(["203.0.113.7", "10.0.0.0/8"]), "CIDR host bits dropped");
    assert_eq!(t["allowed_ip_count"], 2);
    assert_eq!(t["tenant_id"], "ten_default");
    assert_eq!(t["revoked"], false);
    let created = t["created_at"].as_i64().unwrap();
    assert_eq!(t["expires_at"].as_i64().unwrap(), created + 60 * DAY_MS);

    let list: Value = send(&app, &s, Method::GET, "/tokens", None).await.json().await.unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], t["id"]);
    assert_eq!(list[0]["prefix"], t["prefix"]);
    assert!(list[0].get("token").is_none(), "the secret is never listed");
    assert!(!list[0].to_string().contains(&secret[13..]), "no part of the secret beyond the prefix");
    let one = get_token(&app, &s, t["id"].as_str().unwrap()).await;
    assert!(one.get("token").is_none());
    assert_eq!(one["name"], "CI pipeline");

    // The stored hash is an HMAC under the server secret, not a plain SHA-256.
    let row = app.state.tokens.store().get(t["id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(row.token_hash, app.state.tokens.hash_hex(secret));
    use sha2::Digest;
    assert_ne!(row.token_hash, hex::encode(sha2::Sha256::digest(secret.as_bytes())));
}

#[tokio::test]
async fn star_means_all_scopes_and_expiry_defaults() {
    let app = spawn_app().await;
    let s = session(&app, "bob").await;
    let t = create_token(&app, &s, json!({"name": "all", "scopes": ["*"]})).await;
    assert_eq!(t["scopes"], json!(["*"]));
    let c = t["created_at"].as_i64().unwrap();
    assert_eq!(t["expires_at"].as_i64().unwrap(), c + 30 * DAY_MS, "default 30 days");
    let t = create_token(&app, &s, json!({"name": "forever", "scopes": ["*"], "expires_in_days": null})).await;
    assert!(t["expires_at"].is_null());
    let t = create_token(&app, &s, json!({"name": "ninety", "scopes": ["mods:write"], "expires_in_days": 90})).await;
    assert_eq!(t["expires_at"].as_i64().unwrap(), t["created_at"].as_i64().unwrap() + 90 * DAY_MS);
}

#[tokio::test]
async fn create_validation_errors() {
    let app = spawn_app().await;
    let s = session(&app, "carol").await;
    let post = |body: Value| {
        let s = s.clone();
        let app = &app;
        async move { send(app, &s, Method::POST, "/tokens", Some(body)).await }
    };
    assert_error(post(json!({"name": "x", "scopes": []})).await, 422, "validation_error").await;
    let e = assert_error(
        post(json!({"name": "x", "scopes": ["rotations:read", "nope:read"]})).await,
        422,
        "validation_error",
    )
    .await;
    assert!(e["error"]["message"].as_str().unwrap().contains("nope:read"), "{e}");
    assert_eq!(e["error"]["details"][0]["loc"], json!(["scopes", "1"]));
    assert_error(post(json!({"name": "x", "scopes": ["*", "stats:read"]})).await, 422, "validation_error").await;
    let e = assert_error(
        post(json!({"name": "x", "scopes": ["*"], "allowed_ips": ["1.2.3.4", "1.2.3.999"]})).await,
        422,
        "validation_error",
    )
    .await;
    assert!(e["error"]["message"].as_str().unwrap().contains("allowed_ips.1"), "{e}");
    assert_error(
        post(json!({"name": "x", "scopes": ["*"], "allowed_ips": ["10.0.0.0/33"]})).await,
        422,
        "validation_error",
    )
    .await;
    for days in [json!(0), json!(45), json!(365), json!(-30)] {
        assert_error(
            post(json!({"name": "x", "scopes": ["*"], "expires_in_days": days})).await,
            422,
            "validation_error",
        )
        .await;
    }
    assert_error(post(json!({"name": "x", "scopes": ["*"], "expires_in_days": "30"})).await, 422, "validation_error")
        .await;
    assert_error(post(json!({"name": "  ", "scopes": ["*"]})).await, 422, "validation_error").await;
    assert_error(post(json!({"name": "n".repeat(81), "scopes": ["*"]})).await, 422, "validation_error").await;
    assert_error(post(json!({"scopes": ["*"]})).await, 422, "validation_error").await;
    assert_error(post(json!({"name": "x"})).await, 422, "validation_error").await;
    let res = app.req(Method::POST, "/tokens").bearer_auth(&s.jwt).body("name=x").send().await.unwrap();
    assert_error(res, 415, "unsupported_media_type").await;
    let res = app
        .req(Method::POST, "/tokens")
        .bearer_auth(&s.jwt)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "bad_request").await;
    // Nothing was created by the failures.
    let list: Value = send(&app, &s, Method::GET, "/tokens", None).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn token_routes_need_a_session() {
    let app = spawn_app().await;
    assert_error(app.post_json("/tokens", &json!({"name": "x", "scopes": ["*"]})).await, 401, "not_authenticated")
        .await;
    assert_error(app.get("/tokens").await, 401, "not_authenticated").await;
    let s = session(&app, "dave").await;
    let (id, token) = simple_token(&app, &s).await;
    // An API token cannot manage tokens.
    let res = app.req(Method::GET, "/tokens").bearer_auth(&token).send().await.unwrap();
    assert_error(res, 403, "forbidden").await;
    let res = app
        .req(Method::POST, &format!("/tokens/{id}/revoke"))
        .header("x-api-key", &token)
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;
}

#[tokio::test]
async fn creation_cap_is_three_per_day() {
    let app = spawn_app().await;
    app.clock.pin(Some(T0));
    let s = session(&app, "erin").await;
    for i in 0..3 {
        create_token(&app, &s, json!({"name": format!("t{i}"), "scopes": ["*"]})).await;
        app.clock.pin(Some(T0 + (i + 1) * 60_000));
    }
    let res = send(&app, &s, Method::POST, "/tokens", Some(json!({"name": "t4", "scopes": ["*"]}))).await;
    let retry: i64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    // The oldest creation (T0) leaves the window at T0 + 24 h; now is T0 + 3 min.
    assert_eq!(retry, 86_400 - 180);
    assert_error(res, 429, "rate_limited").await;
    // Another user is not affected.
    let other = session(&app, "frank").await;
    create_token(&app, &other, json!({"name": "x", "scopes": ["*"]})).await;
    // Once the first creation is more than 24 h old, one more is allowed.
    app.clock.pin(Some(T0 + DAY_MS + 1));
    let s = relogin(&app, &s).await;
    create_token(&app, &s, json!({"name": "t4", "scopes": ["*"]})).await;
    let res = send(&app, &s, Method::POST, "/tokens", Some(json!({"name": "t5", "scopes": ["*"]}))).await;
    assert_error(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn checksum_typo_is_rejected_without_any_lookup() {
    let app = spawn_app().await;
    let s = session(&app, "gina").await;
    let (_, token) = simple_token(&app, &s).await;
    let bad = typo(&token);
    assert_eq!(kiwi_host::tokens::format::check(&bad), kiwi_host::tokens::format::Check::BadChecksum);
    let before = app.state.tokens.lookup_count();
    let db_before = app.state.tokens.db_lookup_count();
    assert_error(whoami(&app, &bad).await, 401, "invalid_token").await;
    let res = app.req(Method::GET, "/v1/whoami").header("x-api-key", &bad).send().await.unwrap();
    assert_error(res, 401, "invalid_token").await;
    assert_eq!(app.state.tokens.lookup_count(), before, "no cache or database lookup for a bad checksum");
    assert_eq!(app.state.tokens.db_lookup_count(), db_before);
    // The real token does look up.
    assert_eq!(whoami(&app, &token).await.status(), 200);
    assert_eq!(app.state.tokens.lookup_count(), before + 1);
}

#[tokio::test]
async fn malformed_and_unknown_tokens_are_invalid() {
    let app = spawn_app().await;
    for bad in ["kiwi_nope", "kiwi_", &format!("kiwi_{}_", "a".repeat(43)), &format!("kiwi_{}_eCrnIQx", "a".repeat(43))]
    {
        let before = app.state.tokens.lookup_count();
        assert_error(whoami(&app, bad).await, 401, "invalid_token").await;
        assert_eq!(app.state.tokens.lookup_count(), before, "{bad}");
    }
    let res = app.req(Method::GET, "/v1/whoami").header("x-api-key", "not-a-token").send().await.unwrap();
    assert_error(res, 401, "invalid_token").await;
    // Well-formed, right checksum, but never issued: looked up, then unknown.
    let unknown = kiwi_host::tokens::format::generate();
    let before = app.state.tokens.db_lookup_count();
    assert_error(whoami(&app, &unknown).await, 401, "invalid_token").await;
    assert_eq!(app.state.tokens.db_lookup_count(), before + 1);
    // No credential at all.
    assert_error(app.get("/v1/whoami").await, 401, "not_authenticated").await;
}

#[tokio::test]
async fn whoami_describes_the_token() {
    let app = spawn_app().await;
    let s = session(&app, "hank").await;
    let t = create_token(
        &app,
        &s,
        json!({"name": "reader", "scopes": ["stats:read", "rotations:read"], "allowed_ips": ["127.0.0.1", "::1"]}),
    )
    .await;
    let token = t["token"].as_str().unwrap();
    let res = whoami(&app, token).await;
    assert_eq!(res.status(), 200);
    let w: Value = res.json().await.unwrap();
    assert_eq!(w["token_id"], t["id"]);
    assert_eq!(w["tenant"], "default");
    assert_eq!(w["scopes"], json!(["rotations:read", "stats:read"]), "registry order");
    assert_eq!(w["expires_at"], t["expires_at"]);
    assert_eq!(w["allowed_ip_count"], 2);
    assert_eq!(w["user_id"], s.user_id);
    // X-API-Key works too.
    let res = app.req(Method::GET, "/v1/whoami").header("x-api-key", token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // A session is not a token.
    let res = app.req(Method::GET, "/v1/whoami").bearer_auth(&s.jwt).send().await.unwrap();
    assert_error(res, 403, "forbidden").await;
    // whoami answers from memory; an edit is visible on the very next call.
    assert_eq!(w["name"], "reader");
    let id = t["id"].as_str().unwrap();
    let res =
        send(&app, &s, Method::PATCH, &format!("/tokens/{id}"), Some(json!({"name": "renamed", "allowed_ips": []})))
            .await;
    assert_eq!(res.status(), 200);
    let w: Value = whoami(&app, token).await.json().await.unwrap();
    assert_eq!(w["name"], "renamed");
    assert_eq!(w["allowed_ip_count"], 0);
    // "*" tokens report "*".
    let (_, all) = simple_token(&app, &s).await;
    let w: Value = whoami(&app, &all).await.json().await.unwrap();
    assert_eq!(w["scopes"], json!(["*"]));
    assert_eq!(w["all_scopes"], true);
}

#[tokio::test]
async fn expired_tokens_fail_on_the_cached_path_too() {
    let app = spawn_app().await;
    app.clock.pin(Some(T0));
    let s = session(&app, "ivy").await;
    let t = create_token(&app, &s, json!({"name": "short", "scopes": ["*"], "expires_in_days": 30})).await;
    let token = t["token"].as_str().unwrap();
    assert_eq!(whoami(&app, token).await.status(), 200);
    // Loaded into the cache 30 s before the expiry ...
    app.clock.pin(Some(T0 + 30 * DAY_MS - 30_000));
    app.state.tokens.invalidate(t["id"].as_str().unwrap());
    assert_eq!(whoami(&app, token).await.status(), 200);
    app.clock.pin(Some(T0 + 30 * DAY_MS - 1));
    let db = app.state.tokens.db_lookup_count();
    assert!(app.state.tokens.verify_cached(token, localhost()).is_some_and(|r| r.is_ok()), "cache hit");
    // ... and still cached when the clock passes it.
    app.clock.pin(Some(T0 + 30 * DAY_MS));
    let cached = app.state.tokens.verify_cached(token, localhost()).expect("checked from the cache");
    assert_eq!(cached.unwrap_err().code, kiwi_host::error::ErrorCode::TokenExpired);
    assert_eq!(app.state.tokens.db_lookup_count(), db, "no database read");
    assert_error(whoami(&app, token).await, 401, "token_expired").await;
    // And from a cold cache (database path).
    app.state.tokens.invalidate(t["id"].as_str().unwrap());
    assert_error(whoami(&app, token).await, 401, "token_expired").await;
}

#[tokio::test]
async fn revoke_is_immediate_and_idempotent() {
    let app = spawn_app().await;
    let s = session(&app, "jack").await;
    let (id, token) = simple_token(&app, &s).await;
    assert_eq!(whoami(&app, &token).await.status(), 200);
    let res =
        send(&app, &s, Method::POST, &format!("/tokens/{id}/revoke"), Some(json!({"reason": "Possibly compromised"})))
            .await;
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["revoked"], true);
    assert_eq!(r["revoke_reason"], "Possibly compromised");
    let first_at = r["revoked_at"].clone();
    assert_error(whoami(&app, &token).await, 401, "token_revoked").await;
    // Again, with another reason: nothing changes.
    let res =
        send(&app, &s, Method::POST, &format!("/tokens/{id}/revoke"), Some(json!({"reason": "No longer using it"})))
            .await;
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["revoke_reason"], "Possibly compromised", "first reason kept");
    assert_eq!(r["revoked_at"], first_at);
    // Revoked tokens stay listed.
    let list: Value = send(&app, &s, Method::GET, "/tokens", None).await.json().await.unwrap();
    assert_eq!(list[0]["revoked"], true);
    // Errors.
    assert_error(
        send(&app, &s, Method::POST, &format!("/tokens/{id}/revoke"), Some(json!({"reason": ""}))).await,
        422,
        "validation_error",
    )
    .await;
    assert_error(
        send(&app, &s, Method::POST, &format!("/tokens/{id}/revoke"), Some(json!({}))).await,
        422,
        "validation_error",
    )
    .await;
    assert_error(
        send(&app, &s, Method::POST, &format!("/tokens/{id}/revoke"), Some(json!({"reason": "r".repeat(201)}))).await,
        422,
        "validation_error",
    )
    .await;
    assert_error(
        send(&app, &s, Method::POST, "/tokens/tok_nope/revoke", Some(json!({"reason": "x"}))).await,
        404,
        "not_found",
    )
    .await;
    // A revoked token cannot be rotated or edited.
    assert_error(send(&app, &s, Method::POST, &format!("/tokens/{id}/rotate"), None).await, 400, "bad_request").await;
    assert_error(
        send(&app, &s, Method::PATCH, &format!("/tokens/{id}"), Some(json!({"name": "y"}))).await,
        400,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn ip_allowlist_exact_v4_v6_and_cidr() {
    let app = trusting_app().await;
    let s = session(&app, "kate").await;
    let t = create_token(
        &app,
        &s,
        json!({"name": "pinned", "scopes": ["*"], "allowed_ips": ["203.0.113.7", "2001:db8::/32", "198.51.100.0/24", "::1"]}),
    )
    .await;
    let token = t["token"].as_str().unwrap();
    for ok in ["203.0.113.7", "198.51.100.200", "2001:db8::1", "2001:db8:ffff::42", "::1", "::ffff:203.0.113.7"] {
        assert_eq!(whoami_from(&app, token, ok).await.status(), 200, "{ok}");
    }
    for bad in ["203.0.113.8", "198.51.101.1", "2001:db9::1", "127.0.0.1", "::2"] {
        assert_error(whoami_from(&app, token, bad).await, 403, "ip_not_allowed").await;
    }
    // Clearing the allowlist takes effect at once (cache invalidated).
    let id = t["id"].as_str().unwrap();
    let res = send(&app, &s, Method::PATCH, &format!("/tokens/{id}"), Some(json!({"allowed_ips": []}))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(whoami_from(&app, token, "192.0.2.1").await.status(), 200);
    // And pinning again.
    let res =
        send(&app, &s, Method::PATCH, &format!("/tokens/{id}"), Some(json!({"allowed_ips": ["192.0.2.0/30"]}))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(whoami_from(&app, token, "192.0.2.3").await.status(), 200);
    assert_error(whoami_from(&app, token, "192.0.2.4").await, 403, "ip_not_allowed").await;
}

#[tokio::test]
async fn patch_renames_and_validates() {
    let app = spawn_app().await;
    let s = session(&app, "leo").await;
    let t = create_token(&app, &s, json!({"name": "old", "scopes": ["*"], "allowed_ips": ["192.0.2.1"]})).await;
    let id = t["id"].as_str().unwrap();
    let res = send(&app, &s, Method::PATCH, &format!("/tokens/{id}"), Some(json!({"name": "new"}))).await;
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["name"], "new");
    assert_eq!(r["allowed_ips"], json!(["192.0.2.1"]), "null/missing allowed_ips keeps the list");
    assert_eq!(r["scopes"], json!(["*"]));
    let e = assert_error(
        send(&app, &s, Method::PATCH, &format!("/tokens/{id}"), Some(json!({"allowed_ips": ["ok?"]}))).await,
        422,
        "validation_error",
    )
    .await;
    assert!(e["error"]["message"].as_str().unwrap().contains("allowed_ips.0"));
    assert_error(
        send(&app, &s, Method::PATCH, &format!("/tokens/{id}"), Some(json!({"name": ""}))).await,
        422,
        "validation_error",
    )
    .await;
    assert_error(
        send(&app, &s, Method::PATCH, "/tokens/tok_missing", Some(json!({"name": "x"}))).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn rotation_without_grace_ends_the_old_secret_at_once() {
    let app = spawn_app().await;
    let s = session(&app, "mia").await;
    let (id, old) = simple_token(&app, &s).await;
    assert_eq!(whoami(&app, &old).await.status(), 200, "cached now");
    let res = send(&app, &s, Method::POST, &format!("/tokens/{id}/rotate"), None).await;
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    let new = r["token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(r["id"], id.as_str());
    assert_eq!(r["prefix"], new[..13]);
    assert!(r["rotated_at"].is_i64());
    assert!(r["grace_until"].is_null());
    assert_error(whoami(&app, &old).await, 401, "invalid_token").await;
    assert_eq!(whoami(&app, new).await.status(), 200);
    // An explicit zero grace behaves the same.
    let res = send(&app, &s, Method::POST, &format!("/tokens/{id}/rotate"), Some(json!({"grace_seconds": 0}))).await;
    let newer = res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    assert_error(whoami(&app, new).await, 401, "invalid_token").await;
    assert_eq!(whoami(&app, &newer).await.status(), 200);
}

#[tokio::test]
async fn rotation_with_grace_keeps_the_old_secret_for_a_while() {
    let app = spawn_app().await;
    app.clock.pin(Some(T0));
    let s = session(&app, "ned").await;
    let (id, old) = simple_token(&app, &s).await;
    assert_eq!(whoami(&app, &old).await.status(), 200);
    let res = send(&app, &s, Method::POST, &format!("/tokens/{id}/rotate"), Some(json!({"grace_seconds": 3600}))).await;
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["grace_until"].as_i64(), Some(T0 + 3_600_000));
    let new = r["token"].as_str().unwrap().to_owned();
    assert_eq!(whoami(&app, &old).await.status(), 200, "old secret in its grace period");
    assert_eq!(whoami(&app, &new).await.status(), 200);
    app.clock.pin(Some(T0 + 3_600_000 - 1));
    assert_eq!(whoami(&app, &old).await.status(), 200);
    app.clock.pin(Some(T0 + 3_600_000));
    assert_error(whoami(&app, &old).await, 401, "invalid_token").await;
    assert_eq!(whoami(&app, &new).await.status(), 200);
    let s = relogin(&app, &s).await;
    // Grace is capped at 24 h; negative and non-integer values are refused.
    for g in [json!(86_401), json!(-1), json!("60")] {
        let res =
            send(&app, &s, Method::POST, &format!("/tokens/{id}/rotate"), Some(json!({"grace_seconds": g}))).await;
        assert_error(res, 422, "validation_error").await;
    }
    let res =
        send(&app, &s, Method::POST, &format!("/tokens/{id}/rotate"), Some(json!({"grace_seconds": 86_400}))).await;
    assert_eq!(res.status(), 200);
    // Revoking ends the grace period too.
    let res = send(&app, &s, Method::POST, &format!("/tokens/{id}/revoke"), Some(json!({"reason": "done"}))).await;
    assert_eq!(res.status(), 200);
    assert_error(whoami(&app, &new).await, 401, "invalid_token").await;
    assert_error(send(&app, &s, Method::POST, "/tokens/tok_missing/rotate", None).await, 404, "not_found").await;
}

#[tokio::test]
async fn another_users_token_is_not_found() {
    let app = spawn_app().await;
    let a = session(&app, "olga").await;
    let b = session(&app, "pete").await;
    let (id, token) = simple_token(&app, &a).await;
    let path = format!("/tokens/{id}");
    assert_error(send(&app, &b, Method::GET, &path, None).await, 404, "not_found").await;
    assert_error(send(&app, &b, Method::PATCH, &path, Some(json!({"name": "mine now"}))).await, 404, "not_found").await;
    assert_error(send(&app, &b, Method::POST, &format!("{path}/rotate"), None).await, 404, "not_found").await;
    assert_error(
        send(&app, &b, Method::POST, &format!("{path}/revoke"), Some(json!({"reason": "x"}))).await,
        404,
        "not_found",
    )
    .await;
    let list: Value = send(&app, &b, Method::GET, "/tokens", None).await.json().await.unwrap();
    assert_eq!(list, json!([]));
    // A's token is untouched.
    assert_eq!(whoami(&app, &token).await.status(), 200);
    assert_eq!(get_token(&app, &a, &id).await["name"], "t");
}

#[tokio::test]
async fn tokens_belong_to_the_request_tenant() {
    let app = spawn_app().await;
    let a = session(&app, "quinn").await;
    let b = session(&app, "rosa").await;
    let res = send(&app, &a, Method::POST, "/tenants", Some(json!({"slug": "acme", "name": "Acme"}))).await;
    assert_eq!(res.status(), 201);
    // A creates a token in acme; it is not listed in the default tenant.
    let res = app
        .req(Method::POST, "/tokens")
        .bearer_auth(&a.jwt)
        .header("x-kiwi-tenant", "acme")
        .json(&json!({"name": "acme token", "scopes": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let t: Value = res.json().await.unwrap();
    assert_ne!(t["tenant_id"], "ten_default");
    let w: Value = whoami(&app, t["token"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(w["tenant"], "acme");
    let list: Value = send(&app, &a, Method::GET, "/tokens", None).await.json().await.unwrap();
    assert_eq!(list, json!([]));
    let list: Value = app
        .req(Method::GET, "/tokens")
        .bearer_auth(&a.jwt)
        .header("x-kiwi-tenant", "acme")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    // B is not a member of acme: cannot create or list there.
    let res = app
        .req(Method::POST, "/tokens")
        .bearer_auth(&b.jwt)
        .header("x-kiwi-tenant", "acme")
        .json(&json!({"name": "intruder", "scopes": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;
    let res = app.req(Method::GET, "/tokens").bearer_auth(&b.jwt).header("x-kiwi-tenant", "acme").send().await.unwrap();
    assert_error(res, 403, "forbidden").await;
    let res = app
        .req(Method::GET, "/tokens")
        .bearer_auth(&b.jwt)
        .header("x-kiwi-tenant", "no-such-tenant")
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
    // The master may create tokens in any tenant, and their tokens are master principals.
    let m = master_session(&app).await;
    let res = app
        .req(Method::POST, "/tokens")
        .bearer_auth(&m.jwt)
        .header("x-kiwi-tenant", "acme")
        .json(&json!({"name": "ops", "scopes": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let mt: Value = res.json().await.unwrap();
    let p = app.state.tokens.verify(mt["token"].as_str().unwrap(), localhost()).await.unwrap();
    assert!(p.is_master);
    let p = app.state.tokens.verify(t["token"].as_str().unwrap(), localhost()).await.unwrap();
    assert!(!p.is_master);
}

#[tokio::test]
async fn a_cache_hit_costs_no_database_lookup() {
    let app = spawn_app().await;
    let s = session(&app, "sam").await;
    let (id, token) = simple_token(&app, &s).await;
    let p = app.state.tokens.verify(&token, localhost()).await.unwrap();
    assert_eq!(p.token_id(), Some(id.as_str()));
    let db = app.state.tokens.db_lookup_count();
    for _ in 0..50 {
        app.state.tokens.verify(&token, localhost()).await.unwrap();
    }
    assert_eq!(whoami(&app, &token).await.status(), 200);
    assert_eq!(app.state.tokens.db_lookup_count(), db, "all cache hits");
    // After invalidation the next verification reads the database once.
    app.state.tokens.invalidate(&id);
    app.state.tokens.verify(&token, localhost()).await.unwrap();
    app.state.tokens.verify(&token, localhost()).await.unwrap();
    assert_eq!(app.state.tokens.db_lookup_count(), db + 1);
}

#[tokio::test]
async fn usage_counters_are_batched_and_flushed() {
    let app = spawn_app().await;
    app.state.tokens.set_auto_flush(false);
    let s = session(&app, "tia").await;
    let (id, token) = simple_token(&app, &s).await;
    for _ in 0..3 {
        assert_eq!(whoami(&app, &token).await.status(), 200);
    }
    // Not written yet (no database write per request) ...
    let row = app.state.tokens.store().get(&id).await.unwrap().unwrap();
    assert_eq!(row.request_count, 0);
    assert!(row.last_used_at.is_none());
    // ... but the API shows the pending counts.
    let t = get_token(&app, &s, &id).await;
    assert_eq!(t["request_count"], 3);
    assert!(t["last_used_at"].is_i64());
    app.state.tokens.flush_usage().await.unwrap();
    let row = app.state.tokens.store().get(&id).await.unwrap().unwrap();
    assert_eq!(row.request_count, 3);
    assert!(row.last_used_at.is_some());
    let t = get_token(&app, &s, &id).await;
    assert_eq!(t["request_count"], 3, "not double counted after the flush");
    // The shutdown hook flushes too.
    assert_eq!(whoami(&app, &token).await.status(), 200);
    kiwi_host::bootstrap::shutdown(&app.state).await;
    let row = app.state.tokens.store().get(&id).await.unwrap().unwrap();
    assert_eq!(row.request_count, 4);
}

#[tokio::test]
async fn inactive_tokens_are_swept_after_182_days() {
    let app = spawn_app().await;
    app.clock.pin(Some(T0));
    let s = session(&app, "uma").await;
    let (idle, idle_token) = simple_token(&app, &s).await;
    let t = create_token(&app, &s, json!({"name": "busy", "scopes": ["*"], "expires_in_days": null})).await;
    let busy_token = t["token"].as_str().unwrap().to_owned();
    let forever =
        create_token(&app, &s, json!({"name": "idle forever", "scopes": ["*"], "expires_in_days": null})).await;
    // Busy is used on day 100 (a cached verification: the use is flushed by the sweep).
    app.clock.pin(Some(T0 + 100 * DAY_MS));
    assert_eq!(whoami(&app, &busy_token).await.status(), 200);
    app.clock.pin(Some(T0 + 181 * DAY_MS));
    assert_eq!(app.state.tokens.sweep_inactive().await.unwrap(), 0);
    app.clock.pin(Some(T0 + 183 * DAY_MS));
    // idle (expired anyway) and "idle forever" go; busy stays (used 83 days ago).
    assert_eq!(app.state.tokens.sweep_inactive().await.unwrap(), 2);
    let s = relogin(&app, &s).await;
    let r = get_token(&app, &s, forever["id"].as_str().unwrap()).await;
    assert_eq!(r["revoked"], true);
    assert!(r["revoke_reason"].as_str().unwrap().contains("inactive"));
    assert_error(whoami(&app, forever["token"].as_str().unwrap()).await, 401, "token_revoked").await;
    assert_eq!(get_token(&app, &s, &idle).await["revoked"], true);
    assert_error(whoami(&app, &idle_token).await, 401, "token_revoked").await;
    assert_eq!(whoami(&app, &busy_token).await.status(), 200);
    assert_eq!(app.state.tokens.sweep_inactive().await.unwrap(), 0, "idempotent");
}

#[tokio::test]
async fn deleted_or_deactivated_owner_invalidates_the_token() {
    let app = spawn_app().await;
    let s = session(&app, "vic").await;
    let (_, token) = simple_token(&app, &s).await;
    assert_eq!(whoami(&app, &token).await.status(), 200);
    let res = app
        .req(Method::DELETE, "/auth/me")
        .bearer_auth(&s.jwt)
        .json(&json!({"password": crate::fixtures::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "delete account: {}", res.status());
    assert_error(whoami(&app, &token).await, 401, "invalid_token").await;

    // Deactivated (is_active = 0) behaves the same once the cache is refreshed.
    let s = session(&app, "wes").await;
    let (_, token) = simple_token(&app, &s).await;
    assert_eq!(whoami(&app, &token).await.status(), 200);
    sqlx::query("UPDATE users SET is_active = 0 WHERE id = $1")
        .bind(&s.user_id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    app.state.tokens.invalidate_user(&s.user_id);
    assert_error(whoami(&app, &token).await, 401, "invalid_token").await;
}

#[tokio::test]
async fn scope_registry_is_public_and_plugins_extend_it() {
    let app = spawn_app().await;
    let res = app.get("/scopes").await;
    assert_eq!(res.status(), 200);
    let scopes: Value = res.json().await.unwrap();
    let scopes = scopes.as_array().unwrap();
    assert_eq!(scopes.len(), 17);
    assert_eq!(
        scopes[0],
        json!({"name": "rotations:read", "bit": 0, "resource": "rotations", "description": "", "plugin": null})
    );
    assert_eq!(scopes[16]["name"], "mods:write");
    let tokens = &app.state.tokens;
    assert_eq!(tokens.bit_of("market:read"), Some(10));
    assert_eq!(tokens.bit_of("nope:read"), None);

    let new = vec![("demo:read".to_owned(), "Read demo".to_owned()), ("demo:write".to_owned(), String::new())];
    tokens.ensure_scopes("demo", &new).await.unwrap();
    assert_eq!(tokens.bit_of("demo:read"), Some(17));
    assert_eq!(tokens.bit_of("demo:write"), Some(18));
    // Idempotent: same bits again.
    tokens.ensure_scopes("demo", &new).await.unwrap();
    assert_eq!(tokens.bit_of("demo:write"), Some(18));
    // A retired scope keeps its bit; the next new scope does not reuse it.
    sqlx::query("UPDATE scopes SET retired = 1 WHERE name = 'demo:write'").execute(&app.state.db.pool).await.unwrap();
    tokens.scopes().reload().await.unwrap();
    assert_eq!(tokens.bit_of("demo:write"), None);
    tokens.ensure_scopes("other", &[("other:read".to_owned(), String::new())]).await.unwrap();
    assert_eq!(tokens.bit_of("other:read"), Some(19));
    assert!(tokens.ensure_scopes("bad", &[("Bad Name".to_owned(), String::new())]).await.is_err());

    let listed: Value = app.get("/scopes").await.json().await.unwrap();
    let demo = listed.as_array().unwrap().iter().find(|s| s["name"] == "demo:read").unwrap().clone();
    assert_eq!(
        demo,
        json!({"name": "demo:read", "bit": 17, "resource": "demo", "description": "Read demo", "plugin": "demo"})
    );

    // Tokens can be given plugin scopes; the mask uses the registry bit.
    let s = session(&app, "xena").await;
    let t = create_token(&app, &s, json!({"name": "demo", "scopes": ["demo:read"]})).await;
    assert_eq!(t["scopes"], json!(["demo:read"]));
    let p = tokens.verify(t["token"].as_str().unwrap(), localhost()).await.unwrap();
    match p.via {
        kiwi_host::principal::Via::Token { scopes, .. } => {
            assert!(scopes.grants_bit(17));
            assert!(!scopes.grants_bit(0));
        }
        other => panic!("{other:?}"),
    }
    // Retired scopes cannot be granted.
    assert_error(
        send(&app, &s, Method::POST, "/tokens", Some(json!({"name": "x", "scopes": ["demo:write"]}))).await,
        422,
        "validation_error",
    )
    .await;
}

#[tokio::test]
async fn openapi_documents_the_token_routes() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    for (path, method) in [
        ("/tokens", "post"),
        ("/tokens", "get"),
        ("/tokens/{id}", "get"),
        ("/tokens/{id}", "patch"),
        ("/tokens/{id}/rotate", "post"),
        ("/tokens/{id}/revoke", "post"),
        ("/v1/whoami", "get"),
        ("/scopes", "get"),
        ("/secret-scanning/github", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    assert!(doc["paths"]["/tokens"]["post"]["responses"]["429"].is_object());
}
