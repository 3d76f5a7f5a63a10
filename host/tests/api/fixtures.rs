//! Fixtures for the token tests: a logged-in user (through `POST /auth/signup`
//! and `POST /auth/login`), token creation, and requests as a session or with
//! an API token.

#![allow(dead_code, clippy::unwrap_used)]

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApp;

pub const PASSWORD: &str = "a fine test password";

/// A logged-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub email: String,
    pub jwt: String,
}

/// Signs up and logs in a fresh user.
pub async fn session(app: &TestApp, name: &str) -> Session {
    let email = format!("{name}-{:08x}@example.com", rand::random::<u32>());
    let res = app.post_json("/auth/signup", &json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(res.status(), 201, "signup {email}: {}", res.text().await.unwrap_or_default());
    let user: Value = res.json().await.unwrap();
    let res = app.post_json("/auth/login", &json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(res.status(), 200, "login {email}");
    let t: Value = res.json().await.unwrap();
    let jwt = t["access_token"].as_str().expect("access_token").to_owned();
    let user_id = user["id"].as_str().map(str::to_owned).unwrap_or_default();
    Session { user_id, email, jwt }
}

/// Logs the user in again (after the clock moved past the 15-minute access JWT).
pub async fn relogin(app: &TestApp, s: &Session) -> Session {
    let res = app.post_json("/auth/login", &json!({"email": s.email, "password": PASSWORD})).await;
    assert_eq!(res.status(), 200, "login {}", s.email);
    let t: Value = res.json().await.unwrap();
    Session { jwt: t["access_token"].as_str().expect("access_token").to_owned(), ..s.clone() }
}

/// The platform superuser, logged in.
pub async fn master_session(app: &TestApp) -> Session {
    let email = "master@example.com";
    app.state.accounts.ensure_master(email, "master password 1").await.unwrap();
    let res = app.post_json("/auth/login", &json!({"email": email, "password": "master password 1"})).await;
    assert_eq!(res.status(), 200);
    let t: Value = res.json().await.unwrap();
    Session { user_id: String::new(), email: email.into(), jwt: t["access_token"].as_str().unwrap().to_owned() }
}

/// A request as the session user.
pub fn as_user(app: &TestApp, s: &Session, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.req(method, path).bearer_auth(&s.jwt)
}

/// Sends a JSON request as the session user.
pub async fn send(app: &TestApp, s: &Session, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut r = as_user(app, s, method, path);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

/// Creates a token (201) and returns the response body (with `token`).
pub async fn create_token(app: &TestApp, s: &Session, body: Value) -> Value {
    let res = send(app, s, Method::POST, "/tokens", Some(body)).await;
    assert_eq!(res.status(), 201, "create token: {}", res.text().await.unwrap_or_default());
    res.json().await.unwrap()
}

/// A token with every scope and no IP restriction.
pub async fn simple_token(app: &TestApp, s: &Session) -> (String, String) {
    let t = create_token(app, s, json!({"name": "t", "scopes": ["*"]})).await;
    (t["id"].as_str().unwrap().to_owned(), t["token"].as_str().unwrap().to_owned())
}

/// `GET /v1/whoami` with a token (as `Authorization: Bearer`).
pub async fn whoami(app: &TestApp, token: &str) -> reqwest::Response {
    app.req(Method::GET, "/v1/whoami").bearer_auth(token).send().await.unwrap()
}

/// `GET /v1/whoami` with a token from a given client IP (`X-Forwarded-For`;
/// the app must trust it).
pub async fn whoami_from(app: &TestApp, token: &str, ip: &str) -> reqwest::Response {
    app.req(Method::GET, "/v1/whoami").header("x-api-key", token).header("x-forwarded-for", ip).send().await.unwrap()
}
