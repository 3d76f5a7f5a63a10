//! Who is calling: the [`Principal`] resolved from an API token or a session JWT,
//! and the extractors host routes use to demand one.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::{HeaderMap, header, request::Parts};

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http_util::client_ip;
use crate::state::AppState;

/// A token's scopes: every scope (`"*"`), or a bitmask over the scope registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeSet {
    All,
    Mask(u64),
}

impl ScopeSet {
    /// True when the set grants the scope with registry bit `bit`.
    pub fn grants_bit(self, bit: u32) -> bool {
        match self {
            ScopeSet::All => true,
            ScopeSet::Mask(m) => bit < 64 && m & (1u64 << bit) != 0,
        }
    }
}

/// How the principal authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A session access JWT (a logged-in user).
    Session { session_id: String },
    /// An API token, bound to a tenant.
    Token { token_id: String, tenant_id: String, scopes: ScopeSet },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub is_master: bool,
    pub via: Via,
}

impl Principal {
    pub fn token_id(&self) -> Option<&str> {
        match &self.via {
            Via::Token { token_id, .. } => Some(token_id),
            Via::Session { .. } => None,
        }
    }
    pub fn session_id(&self) -> Option<&str> {
        match &self.via {
            Via::Session { session_id } => Some(session_id),
            Via::Token { .. } => None,
        }
    }
}

/// The credential a request presents, without verifying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    None,
    /// `X-API-Key: …` or `Authorization: Bearer kiwi_…`.
    ApiToken(&'a str),
    /// `Authorization: Bearer <jwt>`.
    Jwt(&'a str),
}

/// Reads the credential from headers.
pub fn presented(headers: &HeaderMap) -> Presented<'_> {
    if let Some(k) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Presented::ApiToken(k.trim());
    }
    match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(v) => {
            let v = v.trim();
            let token = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).unwrap_or("").trim();
            if token.is_empty() {
                Presented::None
            } else if token.starts_with("kiwi_") {
                Presented::ApiToken(token)
            } else {
                Presented::Jwt(token)
            }
        }
        None => Presented::None,
    }
}

/// Verifies whatever credential the request presents (`Ok(None)`: anonymous).
pub async fn authenticate(state: &AppState, parts: &Parts) -> ApiResult<Option<Principal>> {
    match presented(&parts.headers) {
        Presented::None => Ok(None),
        Presented::ApiToken(raw) => {
            let ip = client_ip(parts, state.config.trust_forwarded_for);
            state.tokens.verify(raw, ip).await.map(Some)
        }
        Presented::Jwt(jwt) => state.accounts.verify_access(jwt).await.map(Some),
    }
}

/// Any authenticated caller (token or session).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

/// A logged-in user (session JWT only; API tokens are refused).
#[derive(Debug, Clone)]
pub struct SessionUser(pub Principal);

/// The platform superuser, by session or by one of their API tokens.
#[derive(Debug, Clone)]
pub struct Master(pub Principal);

/// Optional authentication: anonymous callers get `None`.
#[derive(Debug, Clone)]
pub struct MaybeAuthenticated(pub Option<Principal>);

async fn resolve(parts: &mut Parts, state: &AppState) -> ApiResult<Option<Principal>> {
    if let Some(p) = parts.extensions.get::<Principal>() {
        return Ok(Some(p.clone()));
    }
    let p = authenticate(state, parts).await?;
    if let Some(p) = &p {
        parts.extensions.insert(p.clone());
    }
    Ok(p)
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeAuthenticated
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeAuthenticated(resolve(parts, &AppState::from_ref(state)).await?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        resolve(parts, &AppState::from_ref(state))
            .await?
            .map(Authenticated)
            .ok_or_else(|| ApiError::not_authenticated("authentication required"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionUser
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match resolve(parts, &AppState::from_ref(state)).await? {
            Some(p) if matches!(p.via, Via::Session { .. }) => Ok(SessionUser(p)),
            Some(_) => {
                Err(ApiError::new(ErrorCode::Forbidden, "this endpoint needs a logged-in session, not an API token"))
            }
            None => Err(ApiError::not_authenticated("log in first")),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Master
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match resolve(parts, &AppState::from_ref(state)).await? {
            Some(p) if p.is_master => Ok(Master(p)),
            Some(_) => Err(ApiError::forbidden("master (platform superuser) only")),
            None => Err(ApiError::not_authenticated("authentication required")),
        }
    }
}
