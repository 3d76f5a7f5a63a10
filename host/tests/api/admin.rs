//! `/admin/*` (master only): runtime config with its audit log, users, tokens, tenants.

#![allow(clippy::unwrap_used)]

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{Session, master_session, send, session, simple_token, whoami};
use crate::helpers::{TestApp, assert_error, spawn_app};

async fn get_json(app: &TestApp, s: &Session, path: &str) -> Value {
    let res = send(app, s, Method::GET, path, None).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

#[tokio::test]
async fn runtime_config_read_write_audit() {
    let app = spawn_app().await;
    let m = master_session(&app).await;
    let master_id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'master@example.com'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();

    let all = get_json(&app, &m, "/admin/config").await;
    assert_eq!(all["count"], kiwi_host::runtime_config::REGISTRY.len());
    let item = all["items"].as_array().unwrap().iter().find(|i| i["key"] == "api_rate_limit_max").unwrap().clone();
    assert_eq!(item["value"], 120);
    assert_eq!(item["is_default"], true);
    assert_eq!(item["type"], "int");
    assert_eq!((item["min_value"].clone(), item["max_value"].clone()), (json!(1), json!(100000)));

    let res = send(&app, &m, Method::PUT, "/admin/config/api_rate_limit_max", Some(json!({"value": 240}))).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        (v["value"].clone(), v["is_default"].clone(), v["default"].clone()),
        (json!(240), json!(false), json!(120))
    );
    assert_eq!(v["updated_by"], master_id.as_str());
    // Live: the limiter reads it at once.
    assert_eq!(app.state.limiter.rule_bucket(kiwi_host::ratelimit::Rule::Api, "x").limit, 240);
    assert_eq!(get_json(&app, &m, "/admin/config/api_rate_limit_max").await["value"], 240);

    let res = send(&app, &m, Method::PUT, "/admin/config/feature_signup_enabled", Some(json!({"value": false}))).await;
    assert_eq!(res.status(), 200);

    // Validation: strict types and ranges; unknown keys; body shape.
    for bad in [
        json!({"value": "240"}),
        json!({"value": true}),
        json!({"value": 0}),
        json!({"value": 100001}),
        json!({"value": 1.5}),
    ] {
        let res = send(&app, &m, Method::PUT, "/admin/config/api_rate_limit_max", Some(bad.clone())).await;
        assert_error(res, 422, "validation_error").await;
    }
    assert_error(
        send(&app, &m, Method::PUT, "/admin/config/feature_signup_enabled", Some(json!({"value": 1}))).await,
        422,
        "validation_error",
    )
    .await;
    assert_error(
        send(&app, &m, Method::PUT, "/admin/config/api_rate_limit_max", Some(json!({"nope": 1}))).await,
        422,
        "validation_error",
    )
    .await;
    assert_error(send(&app, &m, Method::PUT, "/admin/config/nope", Some(json!({"value": 1}))).await, 404, "not_found")
        .await;
    assert_error(send(&app, &m, Method::GET, "/admin/config/nope", None).await, 404, "not_found").await;
    assert_error(send(&app, &m, Method::DELETE, "/admin/config/nope", None).await, 404, "not_found").await;
    let res = app
        .req(Method::PUT, "/admin/config/api_rate_limit_max")
        .bearer_auth(&m.jwt)
        .body("{\"value\": 5}")
        .send()
        .await
        .unwrap();
    assert_error(res, 415, "unsupported_media_type").await;

    // Reset (idempotent).
    let res = send(&app, &m, Method::DELETE, "/admin/config/api_rate_limit_max", None).await;
    let v: Value = res.json().await.unwrap();
    assert_eq!((v["value"].clone(), v["is_default"].clone()), (json!(120), json!(true)));
    assert_eq!(send(&app, &m, Method::DELETE, "/admin/config/api_rate_limit_max", None).await.status(), 200);

    // Audit: every change with who made it, newest first, paginated.
    let log = get_json(&app, &m, "/admin/config/audit?key=api_rate_limit_max").await;
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{log}");
    assert_eq!(items[0]["old_value"], 240);
    assert_eq!(items[0]["new_value"], Value::Null);
    assert_eq!(items[1]["old_value"], Value::Null);
    assert_eq!(items[1]["new_value"], 240);
    assert_eq!(items[1]["changed_by"], master_id.as_str());
    let p1 = get_json(&app, &m, "/admin/config/audit?limit=1").await;
    assert_eq!(p1["has_more"], true);
    let p2 = get_json(&app, &m, &format!("/admin/config/audit?limit=5&cursor={}", p1["next_cursor"].as_str().unwrap()))
        .await;
    assert_eq!(p2["items"].as_array().unwrap().len(), 2);
    assert_ne!(p2["items"][0]["id"], p1["items"][0]["id"]);
    assert_error(send(&app, &m, Method::GET, "/admin/config/audit?cursor=x.y", None).await, 400, "bad_request").await;

    // Master only.
    send(&app, &m, Method::DELETE, "/admin/config/feature_signup_enabled", None).await;
    let s = session(&app, "plain").await;
    for (method, path) in [
        (Method::GET, "/admin/config"),
        (Method::GET, "/admin/config/audit"),
        (Method::GET, "/admin/config/login_rate_limit_max"),
        (Method::DELETE, "/admin/config/login_rate_limit_max"),
    ] {
        assert_error(send(&app, &s, method.clone(), path, None).await, 403, "forbidden").await;
        assert_error(app.req(method, path).send().await.unwrap(), 401, "not_authenticated").await;
    }
    assert_error(
        send(&app, &s, Method::PUT, "/admin/config/login_rate_limit_max", Some(json!({"value": 5}))).await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn admin_users_search_deactivate_promote() {
    let app = spawn_app().await;
    let m = master_session(&app).await;
    let alice = session(&app, "alice").await;
    let bob = session(&app, "bob").await;
    let (_, bob_token) = simple_token(&app, &bob).await;

    let page = get_json(&app, &m, "/admin/users?limit=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["has_more"], true);
    let rest =
        get_json(&app, &m, &format!("/admin/users?limit=2&cursor={}", page["next_cursor"].as_str().unwrap())).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    let found = get_json(&app, &m, "/admin/users?q=ALICE").await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["items"][0]["email"], alice.email.as_str());
    let b = get_json(&app, &m, &format!("/admin/users/{}", bob.user_id)).await;
    assert_eq!(
        (b["token_count"].clone(), b["active_token_count"].clone(), b["is_active"].clone()),
        (json!(1), json!(1), json!(true))
    );
    assert_error(send(&app, &m, Method::GET, "/admin/users/usr_nope", None).await, 404, "not_found").await;

    // Deactivation ends the session and stops the user's tokens.
    assert_eq!(whoami(&app, &bob_token).await.status(), 200);
    let res = send(&app, &m, Method::POST, &format!("/admin/users/{}/deactivate", bob.user_id), None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["is_active"], false);
    assert_eq!(send(&app, &bob, Method::GET, "/auth/me", None).await.status(), 401);
    assert!(whoami(&app, &bob_token).await.status().is_client_error());
    assert_eq!(
        send(&app, &m, Method::POST, &format!("/admin/users/{}/activate", bob.user_id), None).await.status(),
        200
    );
    assert_error(send(&app, &m, Method::POST, "/admin/users/usr_nope/deactivate", None).await, 404, "not_found").await;
    let me: Value = get_json(&app, &m, "/auth/me").await;
    let master_id = me["id"].as_str().unwrap().to_owned();
    assert_error(
        send(&app, &m, Method::POST, &format!("/admin/users/{master_id}/deactivate"), None).await,
        400,
        "bad_request",
    )
    .await;
    assert_error(
        send(&app, &m, Method::POST, &format!("/admin/users/{master_id}/demote"), None).await,
        400,
        "bad_request",
    )
    .await;

    // Promotion grants the console at once.
    assert_error(send(&app, &alice, Method::GET, "/admin/config", None).await, 403, "forbidden").await;
    let res = send(&app, &m, Method::POST, &format!("/admin/users/{}/promote", alice.user_id), None).await;
    assert_eq!(res.json::<Value>().await.unwrap()["is_master"], true);
    assert_eq!(send(&app, &alice, Method::GET, "/admin/config", None).await.status(), 200);
    assert_eq!(
        send(&app, &m, Method::POST, &format!("/admin/users/{}/demote", alice.user_id), None).await.status(),
        200
    );
    assert_error(send(&app, &alice, Method::GET, "/admin/config", None).await, 403, "forbidden").await;

    let carol = session(&app, "carol").await;
    for path in ["/admin/users", "/admin/tokens", "/admin/tenants"] {
        assert_error(send(&app, &carol, Method::GET, path, None).await, 403, "forbidden").await;
        assert_error(app.get(path).await, 401, "not_authenticated").await;
    }
    assert_error(
        send(&app, &alice, Method::POST, &format!("/admin/users/{}/promote", alice.user_id), None).await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn admin_tokens_list_and_revoke() {
    let app = spawn_app().await;
    let m = master_session(&app).await;
    let a = session(&app, "ta").await;
    let b = session(&app, "tb").await;
    let (a_id, a_token) = simple_token(&app, &a).await;
    simple_token(&app, &b).await;

    let all = get_json(&app, &m, "/admin/tokens").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    assert!(all["items"][0].get("token_hash").is_none());
    let mine = get_json(&app, &m, &format!("/admin/tokens?user_id={}", a.user_id)).await;
    assert_eq!(mine["items"][0]["id"], a_id.as_str());
    assert_eq!(mine["items"][0]["user_email"], a.email.as_str());
    assert_eq!(mine["items"][0]["tenant"], "default");
    let p = get_json(&app, &m, "/admin/tokens?limit=1").await;
    assert_eq!(p["has_more"], true);

    assert_eq!(whoami(&app, &a_token).await.status(), 200);
    let res =
        send(&app, &m, Method::POST, &format!("/admin/tokens/{a_id}/revoke"), Some(json!({"reason": "leaked"}))).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!((v["revoked"].clone(), v["revoke_reason"].clone()), (json!(true), json!("leaked")));
    assert_error(whoami(&app, &a_token).await, 401, "token_revoked").await;
    // Idempotent: the first reason is kept; no body means the default reason elsewhere.
    let res = send(&app, &m, Method::POST, &format!("/admin/tokens/{a_id}/revoke"), None).await;
    assert_eq!(res.json::<Value>().await.unwrap()["revoke_reason"], "leaked");
    assert_eq!(get_json(&app, &m, "/admin/tokens?active=true").await["items"].as_array().unwrap().len(), 1);
    assert_eq!(get_json(&app, &m, "/admin/tokens?active=false").await["items"].as_array().unwrap().len(), 1);
    assert_error(send(&app, &m, Method::POST, "/admin/tokens/tok_nope/revoke", None).await, 404, "not_found").await;
    let long = "x".repeat(201);
    let res =
        send(&app, &m, Method::POST, &format!("/admin/tokens/{a_id}/revoke"), Some(json!({"reason": long}))).await;
    assert_error(res, 422, "validation_error").await;
    assert_error(send(&app, &a, Method::POST, &format!("/admin/tokens/{a_id}/revoke"), None).await, 403, "forbidden")
        .await;
}

#[tokio::test]
async fn admin_tenants_list() {
    let app = spawn_app().await;
    let m = master_session(&app).await;
    let v = get_json(&app, &m, "/admin/tenants").await;
    let items = v["items"].as_array().unwrap();
    let default = items.iter().find(|t| t["slug"] == "default").unwrap();
    assert_eq!(default["plan"], "free");
    assert!(default["member_count"].as_i64().unwrap() >= 1);
    assert_error(send(&app, &m, Method::GET, "/admin/tenants?limit=999", None).await, 422, "validation_error").await;
}
