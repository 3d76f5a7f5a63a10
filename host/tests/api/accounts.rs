//! Accounts and sessions (`/auth/*`): every endpoint and error path.

#![allow(clippy::unwrap_used)]

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{AppOptions, TestApp, assert_error, spawn_app, spawn_app_with};

pub const PASSWORD: &str = "correct horse battery";

/// These tests sign up and log in many times from one IP: lift the per-IP auth
/// limits (the limiter has its own tests).
pub async fn relax_auth_limits(app: &TestApp) {
    for key in ["signup_rate_limit_max", "login_rate_limit_max", "forgot_password_rate_limit_max"] {
        app.state.runtime_config.set(key, &json!(1000), "test").await.unwrap();
    }
}

/// `spawn_app()` with relaxed auth limits.
pub async fn spawn() -> TestApp {
    let app = spawn_app().await;
    relax_auth_limits(&app).await;
    app
}

/// `spawn_app_with()` with relaxed auth limits.
pub async fn spawn_with(opts: AppOptions) -> TestApp {
    let app = spawn_app_with(opts).await;
    relax_auth_limits(&app).await;
    app
}

/// Signs up (201) and returns the user.
pub async fn signup(app: &TestApp, email: &str) -> Value {
    let res = app.post_json("/auth/signup", &json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(res.status(), 201, "signup {email}");
    res.json().await.unwrap()
}

/// Logs in (200) and returns the token pair.
pub async fn login(app: &TestApp, email: &str, password: &str) -> Value {
    let res = app.post_json("/auth/login", &json!({"email": email, "password": password})).await;
    assert_eq!(res.status(), 200, "login {email}");
    res.json().await.unwrap()
}

/// Signs up and logs in: (user, tokens).
pub async fn user(app: &TestApp, email: &str) -> (Value, Value) {
    let u = signup(app, email).await;
    let t = login(app, email, PASSWORD).await;
    (u, t)
}

pub fn access(t: &Value) -> String {
    t["access_token"].as_str().unwrap().to_owned()
}

pub async fn get_as(app: &TestApp, path: &str, jwt: &str) -> reqwest::Response {
    app.req(Method::GET, path).bearer_auth(jwt).send().await.unwrap()
}

async fn me_status(app: &TestApp, jwt: &str) -> u16 {
    get_as(app, "/auth/me", jwt).await.status().as_u16()
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/auth/refresh", &json!({"refresh_token": token})).await
}

/// The token in the last captured mail's link.
fn last_mail_token(app: &TestApp, to: &str) -> String {
    let mails = app.state.accounts.mailer().captured();
    let mail = mails.iter().rev().find(|m| m.to == to).expect("a captured mail");
    let at = mail.body.find("token=").expect("a link") + "token=".len();
    mail.body[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

fn mails_to(app: &TestApp, to: &str) -> usize {
    app.state.accounts.mailer().captured().iter().filter(|m| m.to == to).count()
}

#[tokio::test]
async fn signup_creates_a_member_of_the_default_tenant() {
    let app = spawn().await;
    let res = app
        .post_json(
            "/auth/signup",
            &json!({"email": "  Ann@Example.COM ", "password": PASSWORD, "display_name": " Ann "}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let u: Value = res.json().await.unwrap();
    assert_eq!(u["email"], "ann@example.com");
    assert_eq!(u["display_name"], "Ann");
    assert_eq!(u["is_verified"], false);
    assert_eq!(u["is_master"], false);
    assert!(u["id"].as_str().unwrap().starts_with("usr_"));
    assert!(u.get("password_hash").is_none());
    let t = login(&app, "ANN@example.com", PASSWORD).await;
    let me: Value = get_as(&app, "/auth/me", &access(&t)).await.json().await.unwrap();
    assert_eq!(me["id"], u["id"]);
    assert_eq!(
        me["tenants"],
        json!([{"id": "ten_default", "slug": "default", "name": "Default", "role": "member", "joined_at": me["tenants"][0]["joined_at"]}])
    );
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'ann@example.com'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"), "{hash}");
}

#[tokio::test]
async fn signup_errors() {
    let app = spawn().await;
    signup(&app, "dup@example.com").await;
    let res = app.post_json("/auth/signup", &json!({"email": "DUP@example.com", "password": PASSWORD})).await;
    assert_error(res, 409, "conflict").await;
    let res = app.post_json("/auth/signup", &json!({"email": "weak@example.com", "password": "1234567"})).await;
    let body = assert_error(res, 422, "validation_error").await;
    assert_eq!(body["error"]["details"][0]["loc"], json!(["password"]));
    let res = app.post_json("/auth/signup", &json!({"email": "long@example.com", "password": "x".repeat(257)})).await;
    assert_error(res, 422, "validation_error").await;
    let res = app.post_json("/auth/signup", &json!({"email": "not-an-email", "password": PASSWORD})).await;
    let body = assert_error(res, 422, "validation_error").await;
    assert_eq!(body["error"]["details"][0]["loc"], json!(["email"]));
    let res = app.post_json("/auth/signup", &json!({"email": "x@mailinator.com", "password": PASSWORD})).await;
    let body = assert_error(res, 422, "validation_error").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("disposable"));
    let res = app
        .post_json(
            "/auth/signup",
            &json!({"email": "n@example.com", "password": PASSWORD, "display_name": "x".repeat(81)}),
        )
        .await;
    assert_error(res, 422, "validation_error").await;
    let res = app.post_json("/auth/signup", &json!({"email": "x@example.com"})).await;
    assert_error(res, 422, "validation_error").await;
    let res = app.req(Method::POST, "/auth/signup").body("email=x").send().await.unwrap();
    assert_error(res, 415, "unsupported_media_type").await;
    let res = app
        .req(Method::POST, "/auth/signup")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "bad_request").await;
}

#[tokio::test]
async fn login_success_and_bad_credentials() {
    let app = spawn().await;
    signup(&app, "bob@example.com").await;
    let t = login(&app, "bob@example.com", PASSWORD).await;
    assert_eq!(t["token_type"], "bearer");
    assert_eq!(t["expires_in"], 900);
    assert!(t["refresh_token"].as_str().unwrap().len() >= 43);
    assert!(t["session_id"].as_str().unwrap().starts_with("ses_"));
    // Claims: sub, sid, ver, iat, exp (15 min), typ.
    use base64::Engine as _;
    let payload = access(&t).split('.').nth(1).unwrap().to_owned();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["typ"], "access");
    assert_eq!(claims["sid"], t["session_id"]);
    assert_eq!(claims["ver"], 0);
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
    let res = app.post_json("/auth/login", &json!({"email": "bob@example.com", "password": "wrong password"})).await;
    assert_error(res, 401, "not_authenticated").await;
    let res = app.post_json("/auth/login", &json!({"email": "nobody@example.com", "password": PASSWORD})).await;
    assert_error(res, 401, "not_authenticated").await;
    let res = app.post_json("/auth/login", &json!({"email": "bob@example.com"})).await;
    assert_error(res, 422, "validation_error").await;
    let me: Value = get_as(&app, "/auth/me", &access(&t)).await.json().await.unwrap();
    assert!(me["last_login_at"].is_i64());
}

#[tokio::test]
async fn unknown_email_costs_about_as_much_as_a_wrong_password() {
    let app = spawn().await;
    signup(&app, "timing@example.com").await;
    let time = |email: &'static str| {
        let app = &app;
        async move {
            let t = std::time::Instant::now();
            let res = app.post_json("/auth/login", &json!({"email": email, "password": "wrong password"})).await;
            assert_eq!(res.status(), 401);
            t.elapsed()
        }
    };
    let known = time("timing@example.com").await;
    let unknown = time("nobody-here@example.com").await;
    // Both verify an argon2 hash with the production parameters; allow wide noise.
    assert!(unknown * 3 >= known, "unknown {unknown:?} vs known {known:?}");
    assert!(known * 3 >= unknown, "unknown {unknown:?} vs known {known:?}");
}

#[tokio::test]
async fn five_failures_in_fifteen_minutes_lock_the_account() {
    let app = spawn().await;
    signup(&app, "lock@example.com").await;
    let t0 = 1_800_000_000_000_i64;
    app.clock.pin(Some(t0));
    let bad = json!({"email": "lock@example.com", "password": "wrong password"});
    let good = json!({"email": "lock@example.com", "password": PASSWORD});
    // Four failures, then the window passes: the count restarts.
    for _ in 0..4 {
        assert_error(app.post_json("/auth/login", &bad).await, 401, "not_authenticated").await;
    }
    app.clock.pin(Some(t0 + 15 * 60 * 1000 + 1));
    for _ in 0..4 {
        assert_error(app.post_json("/auth/login", &bad).await, 401, "not_authenticated").await;
    }
    let t1 = t0 + 16 * 60 * 1000;
    app.clock.pin(Some(t1));
    // A success clears the count.
    assert_eq!(app.post_json("/auth/login", &good).await.status(), 200);
    for _ in 0..5 {
        assert_error(app.post_json("/auth/login", &bad).await, 401, "not_authenticated").await;
    }
    // Locked: even the right password is refused, with Retry-After.
    let res = app.post_json("/auth/login", &good).await;
    assert_eq!(res.headers()["retry-after"], "900");
    let body = assert_error(res, 423, "account_locked").await;
    assert_eq!(body["error"]["details"]["retry_after_seconds"], 900);
    app.clock.pin(Some(t1 + 14 * 60 * 1000));
    assert_error(app.post_json("/auth/login", &good).await, 423, "account_locked").await;
    app.clock.pin(Some(t1 + 15 * 60 * 1000 + 1));
    assert_eq!(app.post_json("/auth/login", &good).await.status(), 200);
    // Unknown emails lock the same way (lockout reveals nothing).
    let ghost = json!({"email": "ghost@example.com", "password": "wrong password"});
    for _ in 0..5 {
        assert_error(app.post_json("/auth/login", &ghost).await, 401, "not_authenticated").await;
    }
    assert_error(app.post_json("/auth/login", &ghost).await, 423, "account_locked").await;
}

#[tokio::test]
async fn access_token_errors() {
    let app = spawn().await;
    let (_, t) = user(&app, "jwt@example.com").await;
    assert_error(app.get("/auth/me").await, 401, "not_authenticated").await;
    assert_error(get_as(&app, "/auth/me", "garbage").await, 401, "invalid_token").await;
    let jwt = access(&t);
    let mut tampered = jwt.clone();
    tampered.pop();
    tampered.push(if jwt.ends_with('A') { 'B' } else { 'A' });
    assert_error(get_as(&app, "/auth/me", &tampered).await, 401, "invalid_token").await;
    assert_eq!(me_status(&app, &jwt).await, 200);
    app.clock.pin(Some(kiwi_host::clock::system_ms() + 15 * 60 * 1000 + 1000));
    assert_error(get_as(&app, "/auth/me", &jwt).await, 401, "token_expired").await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    let app = spawn().await;
    let (_, t) = user(&app, "rot@example.com").await;
    let r1 = t["refresh_token"].as_str().unwrap().to_owned();
    let res = refresh(&app, &r1).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let t2: Value = res.json().await.unwrap();
    let r2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert_eq!(t2["session_id"], t["session_id"]);
    assert_eq!(me_status(&app, &access(&t2)).await, 200);
    // The refresh token is stored hashed, never in clear.
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = $1")
        .bind(&r2)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    // Reusing r1: the whole session is revoked, r2 and live access JWTs included.
    assert_error(refresh(&app, &r1).await, 401, "token_revoked").await;
    assert_error(refresh(&app, &r2).await, 401, "token_revoked").await;
    assert_error(get_as(&app, "/auth/me", &access(&t2)).await, 401, "token_revoked").await;
    assert_error(get_as(&app, "/auth/me", &access(&t)).await, 401, "token_revoked").await;
    // Unknown and missing tokens.
    assert_error(refresh(&app, "not-a-real-token").await, 401, "invalid_token").await;
    assert_error(app.req(Method::POST, "/auth/refresh").send().await.unwrap(), 401, "not_authenticated").await;
    assert_error(app.req(Method::POST, "/auth/refresh").body("x").send().await.unwrap(), 415, "unsupported_media_type")
        .await;
}

#[tokio::test]
async fn an_expired_session_cannot_refresh() {
    let app = spawn().await;
    let (_, t) = user(&app, "old@example.com").await;
    app.clock.pin(Some(kiwi_host::clock::system_ms() + 31 * 24 * 3600 * 1000));
    assert_error(refresh(&app, t["refresh_token"].as_str().unwrap()).await, 401, "token_expired").await;
}

#[tokio::test]
async fn logout_ends_one_session_and_is_idempotent() {
    let app = spawn().await;
    let (_, a) = user(&app, "out@example.com").await;
    let b = login(&app, "out@example.com", PASSWORD).await;
    let res = app.post_json("/auth/logout", &json!({"refresh_token": a["refresh_token"]})).await;
    assert_eq!(res.status(), 204);
    assert_error(get_as(&app, "/auth/me", &access(&a)).await, 401, "token_revoked").await;
    assert_error(refresh(&app, a["refresh_token"].as_str().unwrap()).await, 401, "token_revoked").await;
    assert_eq!(me_status(&app, &access(&b)).await, 200);
    assert_eq!(app.post_json("/auth/logout", &json!({"refresh_token": a["refresh_token"]})).await.status(), 204);
    assert_eq!(app.req(Method::POST, "/auth/logout").send().await.unwrap().status(), 204);
    // By bearer access token, no body.
    let res = app.req(Method::POST, "/auth/logout").bearer_auth(access(&b)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_error(get_as(&app, "/auth/me", &access(&b)).await, 401, "token_revoked").await;
}

#[tokio::test]
async fn logout_all_kills_every_live_access_jwt() {
    let app = spawn().await;
    let (_, a) = user(&app, "all@example.com").await;
    let b = login(&app, "all@example.com", PASSWORD).await;
    assert_eq!(me_status(&app, &access(&a)).await, 200);
    assert_eq!(me_status(&app, &access(&b)).await, 200);
    let res = app.req(Method::POST, "/auth/logout-all").bearer_auth(access(&a)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_error(get_as(&app, "/auth/me", &access(&a)).await, 401, "token_revoked").await;
    assert_error(get_as(&app, "/auth/me", &access(&b)).await, 401, "token_revoked").await;
    assert_error(refresh(&app, b["refresh_token"].as_str().unwrap()).await, 401, "token_revoked").await;
    assert_error(app.req(Method::POST, "/auth/logout-all").send().await.unwrap(), 401, "not_authenticated").await;
    // A new login works, with the bumped version.
    let c = login(&app, "all@example.com", PASSWORD).await;
    assert_eq!(me_status(&app, &access(&c)).await, 200);
}

#[tokio::test]
async fn sessions_are_listed_and_a_deleted_one_dies_at_once() {
    let app = spawn().await;
    let (_, a) = user(&app, "ses@example.com").await;
    let b = app
        .req(Method::POST, "/auth/login")
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")
        .json(&json!({"email": "ses@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let list: Value = get_as(&app, "/auth/sessions", &access(&a)).await.json().await.unwrap();
    let list = list["sessions"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    let mine = list.iter().find(|s| s["id"] == a["session_id"]).unwrap();
    assert_eq!(mine["current"], true);
    let other = list.iter().find(|s| s["id"] == b["session_id"]).unwrap();
    assert_eq!(other["current"], false);
    assert_eq!(other["device"], "Firefox on Linux");
    assert_eq!(me_status(&app, &access(&b)).await, 200); // cached now
    let sid = b["session_id"].as_str().unwrap();
    let res = app.req(Method::DELETE, &format!("/auth/sessions/{sid}")).bearer_auth(access(&a)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_error(get_as(&app, "/auth/me", &access(&b)).await, 401, "token_revoked").await;
    assert_error(refresh(&app, b["refresh_token"].as_str().unwrap()).await, 401, "token_revoked").await;
    let res = app.req(Method::DELETE, &format!("/auth/sessions/{sid}")).bearer_auth(access(&a)).send().await.unwrap();
    assert_error(res, 404, "not_found").await;
    let res = app.req(Method::DELETE, "/auth/sessions/ses_nope").bearer_auth(access(&a)).send().await.unwrap();
    assert_error(res, 404, "not_found").await;
    // Someone else's session is not found either.
    let (_, z) = user(&app, "zed@example.com").await;
    let res = app
        .req(Method::DELETE, &format!("/auth/sessions/{}", a["session_id"].as_str().unwrap()))
        .bearer_auth(access(&z))
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
    assert_eq!(me_status(&app, &access(&a)).await, 200);
    let list: Value = get_as(&app, "/auth/sessions", &access(&a)).await.json().await.unwrap();
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
    assert_error(app.get("/auth/sessions").await, 401, "not_authenticated").await;
}

#[tokio::test]
async fn patch_me_sets_and_clears_the_display_name() {
    let app = spawn().await;
    let (_, t) = user(&app, "name@example.com").await;
    let patch = |body: Value| app.req(Method::PATCH, "/auth/me").bearer_auth(access(&t)).json(&body).send();
    let v: Value = patch(json!({"display_name": "  Nora  "})).await.unwrap().json().await.unwrap();
    assert_eq!(v["display_name"], "Nora");
    let v: Value = patch(json!({})).await.unwrap().json().await.unwrap();
    assert_eq!(v["display_name"], "Nora");
    let v: Value = patch(json!({"display_name": ""})).await.unwrap().json().await.unwrap();
    assert_eq!(v["display_name"], Value::Null);
    assert_error(patch(json!({"display_name": "x".repeat(81)})).await.unwrap(), 422, "validation_error").await;
    assert_error(patch(json!({"display_name": 5})).await.unwrap(), 422, "validation_error").await;
    let res = app.req(Method::PATCH, "/auth/me").json(&json!({"display_name": "x"})).send().await.unwrap();
    assert_error(res, 401, "not_authenticated").await;
}

#[tokio::test]
async fn password_change_revokes_the_other_sessions() {
    let app = spawn().await;
    let (_, a) = user(&app, "pw@example.com").await;
    let b = login(&app, "pw@example.com", PASSWORD).await;
    let change = |body: Value| app.req(Method::POST, "/auth/password").bearer_auth(access(&a)).json(&body).send();
    let res = change(json!({"current_password": "wrong password", "new_password": "new password 1"})).await.unwrap();
    assert_error(res, 403, "forbidden").await;
    let res = change(json!({"current_password": PASSWORD, "new_password": "short"})).await.unwrap();
    let body = assert_error(res, 422, "validation_error").await;
    assert_eq!(body["error"]["details"][0]["loc"], json!(["new_password"]));
    assert_eq!(me_status(&app, &access(&b)).await, 200);
    let res = change(json!({"current_password": PASSWORD, "new_password": "new password 1"})).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(me_status(&app, &access(&a)).await, 200);
    assert_error(get_as(&app, "/auth/me", &access(&b)).await, 401, "token_revoked").await;
    assert_error(refresh(&app, b["refresh_token"].as_str().unwrap()).await, 401, "token_revoked").await;
    assert_eq!(refresh(&app, a["refresh_token"].as_str().unwrap()).await.status(), 200);
    let res = app.post_json("/auth/login", &json!({"email": "pw@example.com", "password": PASSWORD})).await;
    assert_error(res, 401, "not_authenticated").await;
    login(&app, "pw@example.com", "new password 1").await;
}

#[tokio::test]
async fn email_verification_tokens_are_single_use_and_expire() {
    let app = spawn().await;
    app.state.accounts.mailer().capture(true);
    let (_, t) = user(&app, "ver@example.com").await;
    let token = last_mail_token(&app, "ver@example.com");
    assert!(app.state.accounts.mailer().captured()[0].body.contains("/auth/verify-email?token="));
    // Stored hashed.
    let clear: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM email_tokens WHERE token_hash = $1")
        .bind(&token)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(clear, 0);
    let res = app.post_json("/auth/verify-email", &json!({"token": token})).await;
    assert_eq!(res.status(), 200);
    let me: Value = get_as(&app, "/auth/me", &access(&t)).await.json().await.unwrap();
    assert_eq!(me["is_verified"], true);
    assert_error(app.post_json("/auth/verify-email", &json!({"token": token})).await, 400, "bad_request").await;
    assert_error(app.post_json("/auth/verify-email", &json!({"token": "nope"})).await, 400, "bad_request").await;
    assert_error(app.post_json("/auth/verify-email", &json!({})).await, 422, "validation_error").await;
    // Resend: only for unverified accounts; the answer is the same either way.
    assert_eq!(app.post_json("/auth/resend-verification", &json!({"email": "ver@example.com"})).await.status(), 202);
    assert_eq!(mails_to(&app, "ver@example.com"), 1);
    assert_eq!(app.post_json("/auth/resend-verification", &json!({"email": "ghost@example.com"})).await.status(), 202);
    assert_eq!(mails_to(&app, "ghost@example.com"), 0);
    // Expiry (48 h), and a resend replaces the older link.
    signup(&app, "late@example.com").await;
    let first = last_mail_token(&app, "late@example.com");
    assert_eq!(app.post_json("/auth/resend-verification", &json!({"email": "late@example.com"})).await.status(), 202);
    let second = last_mail_token(&app, "late@example.com");
    assert_ne!(first, second);
    assert_error(app.post_json("/auth/verify-email", &json!({"token": first})).await, 400, "bad_request").await;
    app.clock.pin(Some(kiwi_host::clock::system_ms() + 48 * 3600 * 1000 + 1000));
    assert_error(app.post_json("/auth/verify-email", &json!({"token": second})).await, 400, "bad_request").await;
    app.clock.pin(None);
    // The mailed GET link.
    signup(&app, "link@example.com").await;
    let token = last_mail_token(&app, "link@example.com");
    let res = app.get(&format!("/auth/verify-email?token={token}")).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_error(app.get(&format!("/auth/verify-email?token={token}")).await, 400, "bad_request").await;
    assert_error(app.get("/auth/verify-email?token=%3Cscript%3E").await, 400, "bad_request").await;
}

#[tokio::test]
async fn password_reset_tokens_are_single_use_and_expire() {
    let app = spawn().await;
    app.state.accounts.mailer().capture(true);
    let (_, a) = user(&app, "reset@example.com").await;
    assert_eq!(app.post_json("/auth/forgot-password", &json!({"email": "Reset@Example.com"})).await.status(), 202);
    let token = last_mail_token(&app, "reset@example.com");
    assert!(app.state.accounts.mailer().captured().last().unwrap().body.contains("/auth/reset-password?token="));
    assert_eq!(app.post_json("/auth/forgot-password", &json!({"email": "ghost@example.com"})).await.status(), 202);
    assert_eq!(mails_to(&app, "ghost@example.com"), 0);
    // A weak password does not use up the token.
    let res = app.post_json("/auth/reset-password", &json!({"token": token, "new_password": "short"})).await;
    assert_error(res, 422, "validation_error").await;
    let res =
        app.post_json("/auth/reset-password", &json!({"token": token, "new_password": "brand new password"})).await;
    assert_eq!(res.status(), 200);
    // Every session ended.
    assert_error(get_as(&app, "/auth/me", &access(&a)).await, 401, "token_revoked").await;
    assert_error(refresh(&app, a["refresh_token"].as_str().unwrap()).await, 401, "token_revoked").await;
    let t = login(&app, "reset@example.com", "brand new password").await;
    let me: Value = get_as(&app, "/auth/me", &access(&t)).await.json().await.unwrap();
    assert_eq!(me["is_verified"], true, "a reset proves the address");
    // Single use.
    let res = app.post_json("/auth/reset-password", &json!({"token": token, "new_password": "another password"})).await;
    assert_error(res, 400, "bad_request").await;
    // Expiry: 1 hour.
    app.post_json("/auth/forgot-password", &json!({"email": "reset@example.com"})).await;
    let token = last_mail_token(&app, "reset@example.com");
    app.clock.pin(Some(kiwi_host::clock::system_ms() + 3600 * 1000 + 1000));
    let res = app.post_json("/auth/reset-password", &json!({"token": token, "new_password": "another password"})).await;
    assert_error(res, 400, "bad_request").await;
    app.clock.pin(None);
    // The mailed link: an HTML form posting form-encoded.
    app.post_json("/auth/forgot-password", &json!({"email": "reset@example.com"})).await;
    let token = last_mail_token(&app, "reset@example.com");
    let page = app.get(&format!("/auth/reset-password?token={token}")).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(&format!("value=\"{token}\"")));
    let res = app
        .req(Method::POST, "/auth/reset-password")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}&new_password=form+password+99"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Password changed"));
    login(&app, "reset@example.com", "form password 99").await;
    let res = app
        .req(Method::POST, "/auth/reset-password")
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_error(res, 415, "unsupported_media_type").await;
    assert_error(app.get("/auth/reset-password?token=%22%3E").await, 400, "bad_request").await;
}

#[tokio::test]
async fn export_has_everything_but_secrets() {
    let app = spawn().await;
    let (u, a) = user(&app, "exp@example.com").await;
    login(&app, "exp@example.com", PASSWORD).await;
    let res = get_as(&app, "/auth/export", &access(&a)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-disposition"], "attachment; filename=\"kiwi-export.json\"");
    let text = res.text().await.unwrap();
    assert!(!text.contains("argon2"), "no password hash");
    assert!(!text.contains("token_hash"), "no token hashes");
    assert!(!text.contains(a["refresh_token"].as_str().unwrap()));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["user"]["id"], u["id"]);
    assert_eq!(v["user"]["email"], "exp@example.com");
    assert_eq!(v["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(v["tenants"][0]["slug"], "default");
    assert_eq!(v["email_tokens"][0]["purpose"], "verify");
    assert!(v["api_tokens"].is_array());
    assert!(v["exported_at"].is_i64());
    assert_error(app.get("/auth/export").await, 401, "not_authenticated").await;
}

#[tokio::test]
async fn delete_me_removes_the_user_sessions_and_tokens() {
    let app = spawn().await;
    let (u, a) = user(&app, "gone@example.com").await;
    let uid = u["id"].as_str().unwrap();
    // An API token row for the user (table from the tokens migration, if present).
    let has_tokens = sqlx::query(
        "INSERT INTO api_tokens (id, user_id, tenant_id, name, prefix, token_hash, created_at) VALUES ('tok_x', $1, 'ten_default', 'n', 'kiwi_abcdefgh', 'h', 0)",
    )
    .bind(uid)
    .execute(&app.state.db.pool)
    .await
    .is_ok();
    let del = |body: Value| app.req(Method::DELETE, "/auth/me").bearer_auth(access(&a)).json(&body).send();
    assert_error(del(json!({"password": "wrong password"})).await.unwrap(), 403, "forbidden").await;
    assert_error(del(json!({})).await.unwrap(), 422, "validation_error").await;
    let res = del(json!({"password": PASSWORD})).await.unwrap();
    assert_eq!(res.status(), 204);
    assert_error(get_as(&app, "/auth/me", &access(&a)).await, 401, "token_revoked").await;
    assert_error(refresh(&app, a["refresh_token"].as_str().unwrap()).await, 401, "invalid_token").await;
    let res = app.post_json("/auth/login", &json!({"email": "gone@example.com", "password": PASSWORD})).await;
    assert_error(res, 401, "not_authenticated").await;
    for (table, col) in
        [("users", "id"), ("sessions", "user_id"), ("email_tokens", "user_id"), ("tenant_members", "user_id")]
    {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {col} = $1"))
            .bind(uid)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    if has_tokens {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE user_id = $1")
            .bind(uid)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "api_tokens");
    }
    // The address is free again.
    signup(&app, "gone@example.com").await;
}

fn set_cookie(res: &reqwest::Response) -> String {
    res.headers().get("set-cookie").expect("Set-Cookie").to_str().unwrap().to_owned()
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn cookie_flow_keeps_the_refresh_token_out_of_scripts() {
    let app = spawn().await;
    signup(&app, "web@example.com").await;
    let res =
        app.post_json("/auth/login", &json!({"email": "web@example.com", "password": PASSWORD, "cookie": true})).await;
    assert_eq!(res.status(), 200);
    let c1 = set_cookie(&res);
    assert!(c1.starts_with("kiwi_refresh="), "{c1}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/auth", "Max-Age="] {
        assert!(c1.contains(attr), "{attr} in {c1}");
    }
    assert!(!c1.contains("Secure"), "plain http: {c1}");
    let body: Value = res.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(me_status(&app, &access(&body)).await, 200);
    // Refresh from the cookie, no body.
    let res = app.req(Method::POST, "/auth/refresh").header("cookie", cookie_pair(&c1)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let c2 = set_cookie(&res);
    assert_ne!(cookie_pair(&c1), cookie_pair(&c2));
    let body2: Value = res.json().await.unwrap();
    assert!(body2.get("refresh_token").is_none());
    // Replaying the old cookie revokes the session and clears the cookie.
    let res = app.req(Method::POST, "/auth/refresh").header("cookie", cookie_pair(&c1)).send().await.unwrap();
    assert!(set_cookie(&res).contains("Max-Age=0"));
    assert_error(res, 401, "token_revoked").await;
    assert_error(get_as(&app, "/auth/me", &access(&body2)).await, 401, "token_revoked").await;
    // Logout by cookie clears it.
    let res =
        app.post_json("/auth/login", &json!({"email": "web@example.com", "password": PASSWORD, "cookie": true})).await;
    let c3 = set_cookie(&res);
    let body3: Value = res.json().await.unwrap();
    let res = app.req(Method::POST, "/auth/logout").header("cookie", cookie_pair(&c3)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert!(set_cookie(&res).contains("kiwi_refresh=;") && set_cookie(&res).contains("Max-Age=0"));
    assert_error(get_as(&app, "/auth/me", &access(&body3)).await, 401, "token_revoked").await;
}

#[tokio::test]
async fn cookies_are_secure_behind_https() {
    let app = spawn_with(AppOptions {
        env: vec![("KIWI_PUBLIC_URL".into(), "https://kiwi.example".into())],
        ..Default::default()
    })
    .await;
    app.state.accounts.mailer().capture(true);
    signup(&app, "tls@example.com").await;
    assert!(app.state.accounts.mailer().captured()[0].body.contains("https://kiwi.example/auth/verify-email?token="));
    let res =
        app.post_json("/auth/login", &json!({"email": "tls@example.com", "password": PASSWORD, "cookie": true})).await;
    assert!(set_cookie(&res).contains("; Secure"));
}

#[tokio::test]
async fn ensure_master_creates_or_promotes() {
    let app = spawn().await;
    app.state.accounts.ensure_master("Root@Example.com", "root password 1").await.unwrap();
    let t = login(&app, "root@example.com", "root password 1").await;
    let me: Value = get_as(&app, "/auth/me", &access(&t)).await.json().await.unwrap();
    assert_eq!(me["is_master"], true);
    assert_eq!(me["is_verified"], true);
    let p = app.state.accounts.verify_access(&access(&t)).await.unwrap();
    assert!(p.is_master);
    // Promote an existing user: their live session sees it at once; the password is reset.
    let (_, b) = user(&app, "promote@example.com").await;
    assert!(!app.state.accounts.verify_access(&access(&b)).await.unwrap().is_master);
    app.state.accounts.ensure_master("promote@example.com", "other password 2").await.unwrap();
    assert!(app.state.accounts.verify_access(&access(&b)).await.unwrap().is_master);
    login(&app, "promote@example.com", "other password 2").await;
    // Idempotent.
    app.state.accounts.ensure_master("promote@example.com", "other password 2").await.unwrap();
    assert!(app.state.accounts.ensure_master("bad", "other password 2").await.is_err());
    assert!(app.state.accounts.ensure_master("x@example.com", "short").await.is_err());
}

#[tokio::test]
async fn master_from_config_at_startup() {
    let app = spawn_with(AppOptions {
        env: vec![
            ("KIWI_ADMIN_EMAIL".into(), "boss@example.com".into()),
            ("KIWI_ADMIN_PASSWORD".into(), "boss password 1".into()),
        ],
        ..Default::default()
    })
    .await;
    let t = login(&app, "boss@example.com", "boss password 1").await;
    let me: Value = get_as(&app, "/auth/me", &access(&t)).await.json().await.unwrap();
    assert_eq!(me["is_master"], true);
}

#[tokio::test]
async fn invalidation_hooks_force_a_reload() {
    let app = spawn().await;
    let (u, t) = user(&app, "hook@example.com").await;
    assert_eq!(me_status(&app, &access(&t)).await, 200);
    // Another instance revoked the session in the database and fanned out the invalidation.
    sqlx::query("UPDATE sessions SET revoked = 1 WHERE id = $1")
        .bind(t["session_id"].as_str().unwrap())
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(me_status(&app, &access(&t)).await, 200, "served from the cache until invalidated");
    app.state.accounts.invalidate_session(t["session_id"].as_str().unwrap());
    assert_eq!(me_status(&app, &access(&t)).await, 401);
    let t2 = login(&app, "hook@example.com", PASSWORD).await;
    assert_eq!(me_status(&app, &access(&t2)).await, 200);
    sqlx::query("UPDATE users SET token_version = token_version + 1 WHERE id = $1")
        .bind(u["id"].as_str().unwrap())
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    app.state.accounts.invalidate_user(u["id"].as_str().unwrap());
    assert_eq!(me_status(&app, &access(&t2)).await, 401);
}

#[tokio::test]
async fn openapi_documents_the_auth_routes() {
    let app = spawn().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    for (path, method) in [
        ("/auth/signup", "post"),
        ("/auth/login", "post"),
        ("/auth/refresh", "post"),
        ("/auth/logout", "post"),
        ("/auth/logout-all", "post"),
        ("/auth/sessions", "get"),
        ("/auth/sessions/{id}", "delete"),
        ("/auth/me", "get"),
        ("/auth/me", "patch"),
        ("/auth/me", "delete"),
        ("/auth/password", "post"),
        ("/auth/verify-email", "post"),
        ("/auth/verify-email", "get"),
        ("/auth/resend-verification", "post"),
        ("/auth/forgot-password", "post"),
        ("/auth/reset-password", "get"),
        ("/auth/reset-password", "post"),
        ("/auth/export", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    assert!(doc["paths"]["/auth/login"]["post"]["responses"]["423"].is_object());
}

#[tokio::test]
async fn sweep_deletes_expired_sessions_and_tokens() {
    let app = spawn().await;
    let (_, a) = user(&app, "sweep@example.com").await;
    refresh(&app, a["refresh_token"].as_str().unwrap()).await;
    app.post_json("/auth/forgot-password", &json!({"email": "sweep@example.com"})).await;
    app.post_json("/auth/login", &json!({"email": "ghost@example.com", "password": "wrong password"})).await;
    let count = |table: &'static str| {
        let app = &app;
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&app.state.db.pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(app.state.accounts.sweep_expired().await.unwrap(), 0, "nothing is stale yet");
    assert_eq!((count("sessions").await, count("refresh_tokens").await), (1, 2));
    app.clock.pin(Some(kiwi_host::clock::system_ms() + 31 * 24 * 3600 * 1000));
    assert!(app.state.accounts.sweep_expired().await.unwrap() >= 5);
    for table in ["sessions", "refresh_tokens", "email_tokens", "login_failures"] {
        assert_eq!(count(table).await, 0, "{table}");
    }
    // An absurdly long email is refused without being stored.
    let res = app
        .post_json("/auth/login", &json!({"email": format!("{}@example.com", "x".repeat(300)), "password": "p"}))
        .await;
    assert_error(res, 401, "not_authenticated").await;
    assert_eq!(count("login_failures").await, 0);
}
