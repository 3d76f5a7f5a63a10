//! The `/auth/*` HTTP surface: request shapes, the refresh-token cookie, and
//! the documented routes. Logic lives in [`super::Accounts`].

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::{REFRESH_COOKIE, TokenPair};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http_util::{ClientIp, Json, is_json, parse_json};
use crate::openapi::{Auth, DocRouter, RouteDoc};
use crate::principal::{Authenticated, Presented, SessionUser, presented};
use crate::ratelimit::Rule;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct SignupBody {
    email: String,
    password: String,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LoginBody {
    email: String,
    password: String,
    /// Browser mode: the refresh token goes into an HttpOnly cookie, not the body.
    #[serde(default)]
    cookie: bool,
}

#[derive(Debug, Default, Deserialize)]
struct RefreshBody {
    #[serde(default)]
    refresh_token: Option<String>,
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
struct PatchMeBody {
    #[serde(default, deserialize_with = "present")]
    display_name: Option<Option<String>>,
}

#[derive(Debug, Deserialize)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

#[derive(Debug, Deserialize)]
struct PasswordConfirmBody {
    password: String,
}

#[derive(Debug, Deserialize)]
struct TokenBody {
    token: String,
}

#[derive(Debug, Deserialize)]
struct EmailBody {
    email: String,
}

#[derive(Debug, Deserialize)]
struct ResetBody {
    token: String,
    new_password: String,
}

fn device(headers: &HeaderMap) -> Option<String> {
    super::sessions::device_label(headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()))
}

/// The value of cookie `name`, if sent.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

/// An optional JSON body: empty → default; otherwise JSON with envelope errors.
fn optional_json<T: DeserializeOwned + Default>(headers: &HeaderMap, body: &Bytes) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    if !is_json(headers) {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "expected Content-Type: application/json"));
    }
    parse_json(body)
}

fn set_cookie(value: &str) -> Option<(header::HeaderName, HeaderValue)> {
    HeaderValue::from_str(value).ok().map(|v| (header::SET_COOKIE, v))
}

fn no_store(res: &mut Response) {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The token answer; in cookie mode the refresh token moves into the cookie.
fn token_response(state: &AppState, mut pair: TokenPair, cookie_mode: bool) -> Response {
    let cookie = if cookie_mode {
        pair.refresh_token.take().map(|t| state.accounts.refresh_cookie(&t, pair.session_expires_at))
    } else {
        None
    };
    let mut res = Json(pair).into_response();
    if let Some((k, v)) = cookie.as_deref().and_then(set_cookie) {
        res.headers_mut().append(k, v);
    }
    no_store(&mut res);
    res
}

fn no_content_clearing_cookie(state: &AppState) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Some((k, v)) = set_cookie(&state.accounts.clear_refresh_cookie()) {
        res.headers_mut().append(k, v);
    }
    res
}

async fn signup(State(st): State<AppState>, ClientIp(ip): ClientIp, Json(b): Json<SignupBody>) -> ApiResult<Response> {
    if !st.runtime_config.flag("feature_signup_enabled") {
        return Err(ApiError::not_found("Signup is currently disabled."));
    }
    st.limiter.enforce(Rule::Signup, &ip.to_string()).await?;
    let user = st.accounts.signup(&b.email, &b.password, b.display_name.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

async fn login(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(b): Json<LoginBody>,
) -> ApiResult<Response> {
    st.limiter.enforce(Rule::Login, &ip.to_string()).await?;
    let pair = st.accounts.login(&b.email, &b.password, device(&headers)).await?;
    Ok(token_response(&st, pair, b.cookie))
}

async fn refresh(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let b: RefreshBody = optional_json(&headers, &body)?;
    let (token, from_cookie) = match b.refresh_token.filter(|t| !t.is_empty()) {
        Some(t) => (t, false),
        None => match cookie(&headers, REFRESH_COOKIE) {
            Some(t) => (t, true),
            None => {
                return Err(ApiError::not_authenticated(
                    "no refresh token: send {\"refresh_token\": ...} or the kiwi_refresh cookie",
                ));
            }
        },
    };
    match st.accounts.refresh(&token, device(&headers)).await {
        Ok(pair) => Ok(token_response(&st, pair, from_cookie)),
        Err(mut e) => {
            if from_cookie && let Some((k, v)) = set_cookie(&st.accounts.clear_refresh_cookie()) {
                e = e.with_header(k, v);
            }
            Err(e)
        }
    }
}

async fn logout(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let b: RefreshBody = optional_json(&headers, &body)?;
    // An invalid or expired access token just doesn't name a session here.
    if let Presented::Jwt(jwt) = presented(&headers)
        && let Ok(p) = st.accounts.verify_access(jwt).await
        && let Some(sid) = p.session_id()
    {
        st.accounts.revoke_session(sid, "logout").await?;
    }
    for token in [b.refresh_token, cookie(&headers, REFRESH_COOKIE)].into_iter().flatten() {
        if let Some(sid) = st.accounts.session_of_refresh(&token).await? {
            st.accounts.revoke_session(&sid, "logout").await?;
        }
    }
    Ok(no_content_clearing_cookie(&st))
}

async fn logout_all(State(st): State<AppState>, SessionUser(p): SessionUser) -> ApiResult<Response> {
    st.accounts.logout_all(&p.user_id).await?;
    Ok(no_content_clearing_cookie(&st))
}

async fn list_sessions(State(st): State<AppState>, SessionUser(p): SessionUser) -> ApiResult<Response> {
    let list = st.accounts.list_sessions(&p.user_id, p.session_id()).await?;
    Ok(Json(json!({ "sessions": list })).into_response())
}

async fn delete_session(
    State(st): State<AppState>,
    SessionUser(p): SessionUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    st.accounts.delete_session(&p.user_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_me(State(st): State<AppState>, Authenticated(p): Authenticated) -> ApiResult<Response> {
    Ok(Json(st.accounts.me(&p.user_id).await?).into_response())
}

async fn patch_me(
    State(st): State<AppState>,
    SessionUser(p): SessionUser,
    Json(b): Json<PatchMeBody>,
) -> ApiResult<Response> {
    let v = match b.display_name {
        Some(name) => st.accounts.update_me(&p.user_id, name.as_deref()).await?,
        None => st.accounts.me(&p.user_id).await?,
    };
    Ok(Json(v).into_response())
}

async fn delete_me(
    State(st): State<AppState>,
    SessionUser(p): SessionUser,
    Json(b): Json<PasswordConfirmBody>,
) -> ApiResult<Response> {
    st.accounts.delete_user(&p.user_id, &b.password).await?;
    // Their API tokens are gone from the database; drop them from the token cache too.
    st.tokens.invalidate_user(&p.user_id);
    Ok(no_content_clearing_cookie(&st))
}

async fn change_password(
    State(st): State<AppState>,
    SessionUser(p): SessionUser,
    Json(b): Json<PasswordBody>,
) -> ApiResult<Response> {
    st.accounts.change_password(&p.user_id, p.session_id(), &b.current_password, &b.new_password).await?;
    Ok(Json(json!({"message": "password changed; your other sessions were signed out"})).into_response())
}

async fn verify_email_post(State(st): State<AppState>, Json(b): Json<TokenBody>) -> ApiResult<Response> {
    st.accounts.verify_email(&b.token).await?;
    Ok(Json(json!({"verified": true})).into_response())
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: String,
}

/// Tokens are base64url; anything else is refused before use (and never echoed).
fn check_token_shape(token: &str) -> ApiResult<()> {
    if token.is_empty()
        || token.len() > 128
        || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::bad_request("malformed token"));
    }
    Ok(())
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>"
    ))
}

async fn verify_email_link(State(st): State<AppState>, Query(q): Query<TokenQuery>) -> ApiResult<Response> {
    check_token_shape(&q.token)?;
    st.accounts.verify_email(&q.token).await?;
    Ok(page("Email verified", "<p>Your email address is verified. You can close this page.</p>").into_response())
}

async fn resend_verification(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(b): Json<EmailBody>,
) -> ApiResult<Response> {
    st.limiter.enforce(Rule::Resend, &ip.to_string()).await?;
    st.accounts.resend_verification(&b.email).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"message": "If that account exists and isn't verified, a new link is on its way."})),
    )
        .into_response())
}

async fn forgot_password(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(b): Json<EmailBody>,
) -> ApiResult<Response> {
    st.limiter.enforce(Rule::ForgotPassword, &ip.to_string()).await?;
    st.accounts.forgot_password(&b.email).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"message": "If that email is registered, a reset link is on its way."})))
        .into_response())
}

async fn reset_password_form(Query(q): Query<TokenQuery>) -> ApiResult<Response> {
    check_token_shape(&q.token)?;
    let form = format!(
        "<form method=\"post\" action=\"/auth/reset-password\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
         <label>New password <input type=\"password\" name=\"new_password\" minlength=\"8\" maxlength=\"256\" required autocomplete=\"new-password\"></label>\
         <button type=\"submit\">Set password</button></form>",
        q.token
    );
    Ok(page("Choose a new password", &form).into_response())
}

/// JSON (API clients) or an HTML form post (the page above).
async fn reset_password(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let b: ResetBody = if form {
        serde_urlencoded::from_bytes(&body)
            .map_err(|e| ApiError::new(ErrorCode::ValidationError, format!("invalid form: {e}")))?
    } else if is_json(&headers) {
        parse_json(&body)?
    } else {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "expected JSON or a form post"));
    };
    st.accounts.reset_password(&b.token, &b.new_password).await?;
    if form {
        Ok(page("Password changed", "<p>Your password has been reset. You can now log in.</p>").into_response())
    } else {
        Ok(Json(json!({"message": "Your password has been reset. You can now log in."})).into_response())
    }
}

async fn export(State(st): State<AppState>, SessionUser(p): SessionUser) -> ApiResult<Response> {
    let mut res = Json(st.accounts.export(&p.user_id).await?).into_response();
    res.headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"kiwi-export.json\""));
    no_store(&mut res);
    Ok(res)
}

/// `/auth/*` routes.
pub fn routes() -> DocRouter {
    use ErrorCode as E;
    let user_example = json!({"id": "usr_0123456789abcdef01234567", "email": "ann@example.com", "display_name": "Ann",
        "is_active": true, "is_verified": false, "is_master": false, "created_at": 1767225600000_i64,
        "updated_at": 1767225600000_i64, "last_login_at": null});
    let tokens_example = json!({"access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.…", "refresh_token": "…43 chars…",
        "token_type": "bearer", "expires_in": 900, "session_id": "ses_…", "session_expires_at": 1769817600000_i64});
    let body_errors = [E::BadRequest, E::ValidationError, E::UnsupportedMediaType];
    DocRouter::new()
        .route(
            RouteDoc::new("POST", "/auth/signup", "Create an account (email normalised; password 8–256; disposable domains refused); mails a verification link")
                .tag("auth")
                .errors(&body_errors)
                .errors(&[E::Conflict, E::RateLimited])
                .request(json!({"email": "ann@example.com", "password": "correct horse battery", "display_name": "Ann"}))
                .response(user_example.clone())
                .status(201),
            post(signup),
        )
        .route(
            RouteDoc::new("POST", "/auth/login", "Log in: an access JWT (HS256, 15 min) and a refresh token. `\"cookie\": true` puts the refresh token in an HttpOnly SameSite=Strict cookie instead of the body. 5 failures in 15 min lock the email for 15 min (423 account_locked with Retry-After)")
                .tag("auth")
                .errors(&body_errors)
                .errors(&[E::NotAuthenticated, E::AccountLocked, E::RateLimited])
                .request(json!({"email": "ann@example.com", "password": "correct horse battery", "cookie": false}))
                .response(tokens_example.clone()),
            post(login),
        )
        .route(
            RouteDoc::new("POST", "/auth/refresh", "Rotate a refresh token (body `refresh_token`, else the kiwi_refresh cookie). Single use: presenting a used one revokes the whole session")
                .tag("auth")
                .errors(&body_errors)
                .errors(&[E::NotAuthenticated, E::InvalidToken, E::TokenRevoked, E::TokenExpired])
                .request(json!({"refresh_token": "…"}))
                .response(tokens_example),
            post(refresh),
        )
        .route(
            RouteDoc::new("POST", "/auth/logout", "End the session named by the bearer access token, the body's refresh_token or the cookie; clears the cookie. Idempotent")
                .tag("auth")
                .errors(&body_errors)
                .request(json!({"refresh_token": "…"}))
                .status(204),
            post(logout),
        )
        .route(
            RouteDoc::new("POST", "/auth/logout-all", "End every session: bumps the token version, so every access JWT of the user dies at once")
                .tag("auth")
                .auth(Auth::Session)
                .errors(&[E::Forbidden, E::InvalidToken, E::TokenRevoked, E::TokenExpired])
                .status(204),
            post(logout_all),
        )
        .route(
            RouteDoc::new("GET", "/auth/sessions", "The caller's live sessions (`current` marks this one)")
                .tag("auth")
                .auth(Auth::Session)
                .errors(&[E::Forbidden, E::InvalidToken, E::TokenRevoked, E::TokenExpired])
                .response(json!({"sessions": [{"id": "ses_…", "device": "Firefox on Linux", "created_at": 0, "last_used_at": 0, "expires_at": 0, "current": true}]})),
            get(list_sessions),
        )
        .route(
            RouteDoc::new("DELETE", "/auth/sessions/{id}", "Revoke one of the caller's sessions; its access JWTs stop working immediately")
                .tag("auth")
                .auth(Auth::Session)
                .errors(&[E::Forbidden, E::NotFound, E::InvalidToken, E::TokenRevoked, E::TokenExpired])
                .status(204),
            delete(delete_session),
        )
        .route(
            RouteDoc::new("GET", "/auth/me", "The caller's account and tenant memberships (session or API token)")
                .tag("auth")
                .auth(Auth::Any)
                .errors(&[E::InvalidToken, E::TokenRevoked, E::TokenExpired])
                .response({
                    let mut v = user_example.clone();
                    v["tenants"] = json!([{"id": "ten_default", "slug": "default", "name": "Default", "role": "member", "joined_at": 0}]);
                    v
                }),
            get(get_me),
        )
        .route(
            RouteDoc::new("PATCH", "/auth/me", "Change the display name (trimmed, ≤ 80; empty or null clears it)")
                .tag("auth")
                .auth(Auth::Session)
                .errors(&body_errors)
                .errors(&[E::Forbidden, E::InvalidToken, E::TokenRevoked, E::TokenExpired])
                .request(json!({"display_name": "Ann"}))
                .response(user_example),
            patch(patch_me),
        )
        .route(
            RouteDoc::new("DELETE", "/auth/me", "Delete the account (password required) with its sessions, tokens and memberships; 403 forbidden on a wrong password")
                .tag("auth")
                .auth(Auth::Session)
                .errors(&body_errors)
                .errors(&[E::Forbidden, E::InvalidToken, E::TokenRevoked, E::TokenExpired])
                .request(json!({"password": "correct horse battery"}))
                .status(204),
            delete(delete_me),
        )
        .route(
            RouteDoc::new("POST", "/auth/password", "Change the password (403 forbidden if the current one is wrong); every other session is revoked")
                .tag("auth")
                .auth(Auth::Session)
                .errors(&body_errors)
                .errors(&[E::Forbidden, E::InvalidToken, E::TokenRevoked, E::TokenExpired])
                .request(json!({"current_password": "old password", "new_password": "new password 123"}))
                .response(json!({"message": "password changed; your other sessions were signed out"})),
            post(change_password),
        )
        .route(
            RouteDoc::new("POST", "/auth/verify-email", "Consume an email-verification token (single use, 48 h)")
                .tag("auth")
                .errors(&body_errors)
                .request(json!({"token": "…"}))
                .response(json!({"verified": true})),
            post(verify_email_post),
        )
        .route(
            RouteDoc::new("GET", "/auth/verify-email", "The mailed verification link (`?token=`); answers a small HTML page")
                .tag("auth")
                .errors(&[E::BadRequest]),
            get(verify_email_link),
        )
        .route(
            RouteDoc::new("POST", "/auth/resend-verification", "Mail a new verification link if the account exists and is unverified (same answer either way)")
                .tag("auth")
                .errors(&body_errors)
                .errors(&[E::RateLimited])
                .request(json!({"email": "ann@example.com"}))
                .status(202),
            post(resend_verification),
        )
        .route(
            RouteDoc::new("POST", "/auth/forgot-password", "Mail a password-reset link (single use, 1 h) if the account exists (same answer either way)")
                .tag("auth")
                .errors(&body_errors)
                .errors(&[E::RateLimited])
                .request(json!({"email": "ann@example.com"}))
                .status(202),
            post(forgot_password),
        )
        .route(
            RouteDoc::new("GET", "/auth/reset-password", "The mailed reset link (`?token=`): an HTML form that posts to POST /auth/reset-password")
                .tag("auth")
                .errors(&[E::BadRequest]),
            get(reset_password_form),
        )
        .route(
            RouteDoc::new("POST", "/auth/reset-password", "Set a new password with a reset token (JSON or form post); ends every session")
                .tag("auth")
                .errors(&body_errors)
                .request(json!({"token": "…", "new_password": "new password 123"}))
                .response(json!({"message": "Your password has been reset. You can now log in."})),
            post(reset_password),
        )
        .route(
            RouteDoc::new("GET", "/auth/export", "Everything stored about the caller, as a JSON attachment")
                .tag("auth")
                .auth(Auth::Session)
                .errors(&[E::Forbidden, E::InvalidToken, E::TokenRevoked, E::TokenExpired])
                .response(json!({"exported_at": 0, "user": {}, "tenants": [], "sessions": [], "email_tokens": [], "login_failures": [], "api_tokens": []})),
            get(export),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_parsing() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; kiwi_refresh=abc; b=2"));
        assert_eq!(cookie(&h, "kiwi_refresh").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("kiwi_refresh="));
        assert_eq!(cookie(&h, "kiwi_refresh"), None);
    }

    #[test]
    fn token_shapes() {
        assert!(check_token_shape("abcDEF012-_").is_ok());
        assert!(check_token_shape("").is_err());
        assert!(check_token_shape("\"><script>").is_err());
    }
}
