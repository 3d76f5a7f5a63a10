//! Accounts and sessions (`/auth/*`): signup, login, HS256 access JWTs,
//! rotating single-use refresh tokens with reuse detection, lockout, email
//! verification and password reset, export and deletion, and the fast
//! `verify_access` path with its in-process session cache.
//!
//! Submodules: [`jwt`] (HS256), [`password`] (Argon2id), [`sessions`] (cache,
//! refresh secrets, device labels), [`email`] (normalisation, disposable
//! domains), [`mail`] (SMTP or log), and `routes` (the HTTP surface).
//!
//! Choices (documented in the route docs too):
//! - A locked account answers **423 `account_locked`** with `Retry-After`;
//!   5 failed logins within 15 minutes lock the email for 15 minutes. Unknown
//!   emails are tracked and locked the same way, so lockout does not reveal
//!   which emails exist.
//! - Wrong current password on `POST /auth/password` / `DELETE /auth/me` is
//!   **403 `forbidden`** (the caller is authenticated; 401 would look like a
//!   dead session to a web client).
//! - Login does not require a verified email; `is_verified` is exposed so other
//!   features can require it.

pub mod email;
pub mod jwt;
pub mod mail;
pub mod password;
mod routes;
pub mod sessions;

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::any::AnyRow;
use sqlx::{Column, Row};

use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Backend, Db};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::principal::{Principal, Via};

pub use routes::routes;

use self::jwt::{ACCESS_TTL_SECS, Claims, JwtError, JwtKey, TYP_ACCESS};
use self::mail::{Mail, Mailer};
use self::sessions::{CachedSession, SESSION_TTL_MS, SessionCache};

/// Failed logins that lock an email.
pub const LOCKOUT_MAX_FAILURES: i64 = 5;
/// The window those failures must fall in.
pub const LOCKOUT_WINDOW_MS: i64 = 15 * 60 * 1000;
/// How long the lock lasts.
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;
/// Email-verification links live 48 hours.
pub const VERIFY_TTL_MS: i64 = 48 * 3600 * 1000;
/// Password-reset links live 1 hour.
pub const RESET_TTL_MS: i64 = 3600 * 1000;
/// Longest display name, in characters.
pub const DISPLAY_NAME_MAX: usize = 80;
/// The refresh-token cookie (`HttpOnly; SameSite=Strict; Path=/auth`).
pub const REFRESH_COOKIE: &str = "kiwi_refresh";

const PURPOSE_VERIFY: &str = "verify";
const PURPOSE_RESET: &str = "reset";

/// Tables of other modules with rows keyed by `user_id`, exported with the user
/// (query suffix), and on deletion deleted (`true`) or detached (`user_id = NULL`:
/// tenant usage figures stay, the link to the person goes).
const USER_LINKED_TABLES: [(&str, &str, bool); 2] =
    [("api_tokens", "ORDER BY created_at", true), ("usage_events", "ORDER BY created_at DESC LIMIT 10000", false)];

const USER_COLS: &str = "id, email, password_hash, display_name, is_active, is_verified, is_master, token_version, created_at, updated_at, last_login_at";

/// A new id: `prefix` + `_` + 24 random hex digits.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", hex::encode(rand::random::<[u8; 12]>()))
}

/// HMAC-SHA256(secret, label): independent keys for independent uses.
fn derive_key(secret: &[u8], label: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| Hmac::<Sha256>::new(&Default::default()));
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// A user row.
#[derive(Debug, Clone)]
struct UserRow {
    id: String,
    email: String,
    password_hash: String,
    display_name: Option<String>,
    is_active: bool,
    is_verified: bool,
    is_master: bool,
    token_version: i64,
    created_at: i64,
    updated_at: i64,
    last_login_at: Option<i64>,
}

impl UserRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: r.try_get("id")?,
            email: r.try_get("email")?,
            password_hash: r.try_get("password_hash")?,
            display_name: r.try_get("display_name")?,
            is_active: r.try_get::<i64, _>("is_active")? != 0,
            is_verified: r.try_get::<i64, _>("is_verified")? != 0,
            is_master: r.try_get::<i64, _>("is_master")? != 0,
            token_version: r.try_get("token_version")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
            last_login_at: r.try_get("last_login_at")?,
        })
    }

    fn public(&self) -> UserPublic {
        UserPublic {
            id: self.id.clone(),
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            is_active: self.is_active,
            is_verified: self.is_verified,
            is_master: self.is_master,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_login_at: self.last_login_at,
        }
    }
}

/// What a user may see about themselves.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserPublic {
    pub id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub is_active: bool,
    pub is_verified: bool,
    pub is_master: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
}

/// The login/refresh answer. `refresh_token` is absent in cookie mode.
#[derive(Debug, Clone, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub session_id: String,
    /// Absolute end of the session, unix ms (refreshes do not extend it).
    pub session_expires_at: i64,
}

/// One row of `GET /auth/sessions`.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub id: String,
    pub device: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub current: bool,
}

/// The accounts service.
pub struct Accounts {
    db: Db,
    clock: Clock,
    jwt: JwtKey,
    /// Keys the HMAC under which refresh and mail tokens are stored.
    token_mac: Hmac<Sha256>,
    cache: SessionCache,
    mailer: Mailer,
    public_base: String,
    secure_cookies: bool,
    /// Invalidations for the other instances (drained by `crate::bus`).
    pub outbox: crate::bus::Outbox,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").field("cached_sessions", &self.cache.len()).finish_non_exhaustive()
    }
}

impl Accounts {
    pub fn new(config: &Config, db: &Db, clock: &Clock) -> Self {
        let secret = config.secret_bytes();
        let token_key = derive_key(secret, "kiwi/token-hash/v1");
        let token_mac =
            Hmac::<Sha256>::new_from_slice(&token_key).unwrap_or_else(|_| Hmac::<Sha256>::new(&Default::default()));
        let public_base = config
            .public_url
            .as_deref()
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{}", config.bind));
        Self {
            db: db.clone(),
            clock: clock.clone(),
            jwt: JwtKey::new(&derive_key(secret, "kiwi/jwt/v1")),
            token_mac,
            cache: SessionCache::default(),
            mailer: Mailer::new(config.smtp.clone()),
            secure_cookies: public_base.starts_with("https://"),
            public_base,
            outbox: crate::bus::Outbox::default(),
        }
    }

    /// The mailer (tests switch on its capture hook).
    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    /// Drops every cached session of a user (their access JWTs are re-checked
    /// against the database on next use) here and, through the bus, on the
    /// other instances.
    pub fn invalidate_user(&self, user_id: &str) {
        self.cache.invalidate_user(user_id);
        self.outbox.send(crate::bus::BusMessage::UserInvalidated { user_id: user_id.to_owned() });
    }

    /// Drops one cached session here and, through the bus, on the other instances.
    pub fn invalidate_session(&self, session_id: &str) {
        self.cache.invalidate_session(session_id);
        self.outbox.send(crate::bus::BusMessage::SessionInvalidated { session_id: session_id.to_owned() });
    }

    /// [`Accounts::invalidate_user`] on this instance only (applying a bus message).
    pub fn invalidate_user_local(&self, user_id: &str) {
        self.cache.invalidate_user(user_id);
    }

    /// [`Accounts::invalidate_session`] on this instance only (applying a bus message).
    pub fn invalidate_session_local(&self, session_id: &str) {
        self.cache.invalidate_session(session_id);
    }

    fn hash_token(&self, secret: &str) -> String {
        sessions::hash_secret(&self.token_mac, secret)
    }

    // ---- users ------------------------------------------------------------

    async fn user_by_email(&self, email: &str) -> ApiResult<Option<UserRow>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE email = $1"))
            .bind(email)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.as_ref().map(UserRow::from_row).transpose()?)
    }

    async fn user_by_id(&self, id: &str) -> ApiResult<Option<UserRow>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.as_ref().map(UserRow::from_row).transpose()?)
    }

    async fn require_user(&self, id: &str) -> ApiResult<UserRow> {
        self.user_by_id(id).await?.ok_or_else(|| ApiError::new(ErrorCode::TokenRevoked, "the account no longer exists"))
    }

    /// Inserts a user and their `member` row in the default tenant.
    async fn insert_user(
        &self,
        email: &str,
        password_hash: &str,
        display_name: Option<&str>,
        is_master: bool,
        is_verified: bool,
    ) -> ApiResult<UserRow> {
        let now = self.clock.now_ms();
        let id = new_id("usr");
        let mut tx = self.db.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, password_hash, display_name, is_active, is_verified, is_master, token_version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 1, $5, $6, 0, $7, $7)",
        )
        .bind(&id)
        .bind(email)
        .bind(password_hash)
        .bind(display_name)
        .bind(i64::from(is_verified))
        .bind(i64::from(is_master))
        .bind(now)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            if is_unique_violation(&e) {
                return Err(ApiError::conflict("an account with this email already exists"));
            }
            return Err(e.into());
        }
        sqlx::query("INSERT INTO tenant_members (tenant_id, user_id, role, created_at) VALUES ('ten_default', $1, 'member', $2)")
            .bind(&id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.user_by_id(&id).await?.ok_or_else(|| ApiError::internal(anyhow::anyhow!("user vanished after insert")))
    }

    /// `POST /auth/signup`: creates an unverified user (member of the default
    /// tenant) and mails a verification link.
    pub async fn signup(&self, raw_email: &str, password: &str, display_name: Option<&str>) -> ApiResult<UserPublic> {
        let email = email::normalise(raw_email).map_err(|m| ApiError::validation("email", m))?;
        if email::is_disposable(&email) {
            return Err(ApiError::validation("email", "disposable email addresses are not allowed"));
        }
        password::check_policy("password", password)?;
        let display_name = clean_display_name(display_name)?;
        if self.user_by_email(&email).await?.is_some() {
            return Err(ApiError::conflict("an account with this email already exists"));
        }
        let hash = password::hash(password).await?;
        let user = self.insert_user(&email, &hash, display_name.as_deref(), false, false).await?;
        self.send_verification(&user).await?;
        Ok(user.public())
    }

    /// Creates or promotes the platform superuser (verified, active); resets
    /// the password to `password` when it differs.
    pub async fn ensure_master(&self, email: &str, password: &str) -> anyhow::Result<()> {
        let email = email::normalise(email).map_err(|m| anyhow::anyhow!("admin email {m}"))?;
        password::check_policy("password", password).map_err(|e| anyhow::anyhow!("admin password: {}", e.message))?;
        let api = |e: ApiError| anyhow::anyhow!("{e}");
        match self.user_by_email(&email).await.map_err(api)? {
            Some(u) => {
                let hash = if password::verify(password, Some(&u.password_hash)).await.map_err(api)? {
                    u.password_hash.clone()
                } else {
                    password::hash(password).await.map_err(api)?
                };
                sqlx::query(
                    "UPDATE users SET is_master = 1, is_verified = 1, is_active = 1, password_hash = $1, updated_at = $2 WHERE id = $3",
                )
                .bind(&hash)
                .bind(self.clock.now_ms())
                .bind(&u.id)
                .execute(&self.db.pool)
                .await?;
                self.invalidate_user(&u.id);
            }
            None => {
                let hash = password::hash(password).await.map_err(api)?;
                self.insert_user(&email, &hash, None, true, true).await.map_err(api)?;
            }
        }
        Ok(())
    }

    // ---- login, lockout, sessions -------------------------------------------

    /// `Some(ms)` while the email is locked.
    async fn locked_until(&self, email: &str) -> ApiResult<Option<i64>> {
        let row = sqlx::query("SELECT locked_until FROM login_failures WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.db.pool)
            .await?;
        let until: i64 = match row {
            Some(r) => r.try_get("locked_until")?,
            None => 0,
        };
        Ok((until > self.clock.now_ms()).then_some(until))
    }

    /// Counts a failure; the fifth within the window locks the email.
    async fn record_failure(&self, email: &str) -> ApiResult<()> {
        let now = self.clock.now_ms();
        let row = sqlx::query(
            "INSERT INTO login_failures (email, fail_count, window_start, locked_until) VALUES ($1, 1, $2, 0)
             ON CONFLICT (email) DO UPDATE SET
               fail_count = CASE WHEN login_failures.window_start > $3 THEN login_failures.fail_count + 1 ELSE 1 END,
               window_start = CASE WHEN login_failures.window_start > $3 THEN login_failures.window_start ELSE $2 END
             RETURNING fail_count",
        )
        .bind(email)
        .bind(now)
        .bind(now - LOCKOUT_WINDOW_MS)
        .fetch_one(&self.db.pool)
        .await?;
        let count: i64 = row.try_get("fail_count")?;
        if count >= LOCKOUT_MAX_FAILURES {
            sqlx::query(
                "UPDATE login_failures SET locked_until = $1, fail_count = 0, window_start = 0 WHERE email = $2",
            )
            .bind(now + LOCKOUT_MS)
            .bind(email)
            .execute(&self.db.pool)
            .await?;
            tracing::warn!("login locked after repeated failures");
        }
        Ok(())
    }

    fn locked_error(&self, until: i64) -> ApiError {
        let secs = ((until - self.clock.now_ms()) + 999).div_euclid(1000).max(1);
        let mut e = ApiError::new(ErrorCode::AccountLocked, "too many failed logins; try again later")
            .with_details(json!({"retry_after_seconds": secs}));
        if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
            e = e.with_header(axum::http::header::RETRY_AFTER, v);
        }
        e
    }

    /// `POST /auth/login`: checks the lock, the password (an unknown email is
    /// verified against a dummy hash: same cost), then opens a session.
    pub async fn login(&self, raw_email: &str, password: &str, device: Option<String>) -> ApiResult<TokenPair> {
        let email = raw_email.trim().to_lowercase();
        if email.len() > 254 {
            // Never a real address: refuse at the same cost, without storing it.
            password::verify(password, None).await?;
            return Err(ApiError::not_authenticated("incorrect email or password"));
        }
        if let Some(until) = self.locked_until(&email).await? {
            return Err(self.locked_error(until));
        }
        let user = self.user_by_email(&email).await?;
        let ok = password::verify(password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
        let user = match user {
            Some(u) if ok && u.is_active => u,
            _ => {
                self.record_failure(&email).await?;
                return Err(ApiError::not_authenticated("incorrect email or password"));
            }
        };
        sqlx::query("DELETE FROM login_failures WHERE email = $1").bind(&email).execute(&self.db.pool).await?;
        let now = self.clock.now_ms();
        // Housekeeping: this user's expired sessions (and their refresh rows) go.
        self.purge_expired_sessions(&user.id, now).await?;
        sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&user.id)
            .execute(&self.db.pool)
            .await?;
        self.open_session(&user, device).await
    }

    /// Deletes a user's expired sessions and their refresh rows.
    async fn purge_expired_sessions(&self, user_id: &str, now: i64) -> ApiResult<()> {
        let ids = sqlx::query_scalar::<_, String>("SELECT id FROM sessions WHERE user_id = $1 AND expires_at <= $2")
            .bind(user_id)
            .bind(now)
            .fetch_all(&self.db.pool)
            .await?;
        for id in ids {
            sqlx::query("DELETE FROM refresh_tokens WHERE session_id = $1").bind(&id).execute(&self.db.pool).await?;
            sqlx::query("DELETE FROM sessions WHERE id = $1").bind(&id).execute(&self.db.pool).await?;
            self.invalidate_session(&id);
        }
        Ok(())
    }

    fn access_token(&self, user_id: &str, session_id: &str, token_version: i64) -> String {
        let iat = self.clock.now_secs();
        self.jwt.sign(&Claims {
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            ver: token_version,
            iat,
            exp: iat + ACCESS_TTL_SECS,
            typ: TYP_ACCESS.to_owned(),
        })
    }

    async fn open_session(&self, user: &UserRow, device: Option<String>) -> ApiResult<TokenPair> {
        let now = self.clock.now_ms();
        let sid = new_id("ses");
        let refresh = sessions::new_secret();
        let expires_at = now + SESSION_TTL_MS;
        let mut tx = self.db.pool.begin().await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, device, created_at, last_used_at, expires_at, revoked) VALUES ($1, $2, $3, $4, $4, $5, 0)",
        )
        .bind(&sid)
        .bind(&user.id)
        .bind(device)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, used, created_at) VALUES ($1, $2, 0, $3)")
            .bind(self.hash_token(&refresh))
            .bind(&sid)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(TokenPair {
            access_token: self.access_token(&user.id, &sid, user.token_version),
            refresh_token: Some(refresh),
            token_type: "bearer",
            expires_in: ACCESS_TTL_SECS,
            session_id: sid,
            session_expires_at: expires_at,
        })
    }

    /// Marks a session revoked and drops it from the cache.
    pub async fn revoke_session(&self, session_id: &str, reason: &str) -> ApiResult<()> {
        sqlx::query(
            "UPDATE sessions SET revoked = 1, revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked = 0",
        )
        .bind(self.clock.now_ms())
        .bind(reason)
        .bind(session_id)
        .execute(&self.db.pool)
        .await?;
        self.invalidate_session(session_id);
        Ok(())
    }

    /// `POST /auth/refresh`: single-use rotation. Presenting an already-used
    /// refresh token revokes the whole session.
    pub async fn refresh(&self, refresh_token: &str, device: Option<String>) -> ApiResult<TokenPair> {
        let invalid = || ApiError::new(ErrorCode::InvalidToken, "invalid or expired refresh token");
        let hash = self.hash_token(refresh_token);
        let row = sqlx::query(
            "SELECT r.session_id, r.used, s.user_id, s.revoked, s.expires_at
             FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&self.db.pool)
        .await?
        .ok_or_else(invalid)?;
        let sid: String = row.try_get("session_id")?;
        let used: i64 = row.try_get("used")?;
        let user_id: String = row.try_get("user_id")?;
        let revoked: i64 = row.try_get("revoked")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        if revoked != 0 {
            return Err(ApiError::new(ErrorCode::TokenRevoked, "this session has ended; log in again"));
        }
        let reuse = || ApiError::new(ErrorCode::TokenRevoked, "refresh token reuse detected; the session was revoked");
        if used != 0 {
            tracing::warn!(session_id = %sid, "refresh token reuse: revoking the session");
            self.revoke_session(&sid, "refresh token reuse").await?;
            return Err(reuse());
        }
        let now = self.clock.now_ms();
        if expires_at <= now {
            return Err(ApiError::new(ErrorCode::TokenExpired, "the session has expired; log in again"));
        }
        let claimed =
            sqlx::query("UPDATE refresh_tokens SET used = 1, used_at = $1 WHERE token_hash = $2 AND used = 0")
                .bind(now)
                .bind(&hash)
                .execute(&self.db.pool)
                .await?;
        if claimed.rows_affected() != 1 {
            // A concurrent request used it first: reuse.
            self.revoke_session(&sid, "refresh token reuse").await?;
            return Err(reuse());
        }
        let user = match self.user_by_id(&user_id).await? {
            Some(u) if u.is_active => u,
            _ => {
                return Err(ApiError::new(ErrorCode::TokenRevoked, "the account is inactive or no longer exists"));
            }
        };
        let next = sessions::new_secret();
        sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, used, created_at) VALUES ($1, $2, 0, $3)")
            .bind(self.hash_token(&next))
            .bind(&sid)
            .bind(now)
            .execute(&self.db.pool)
            .await?;
        sqlx::query("UPDATE sessions SET last_used_at = $1, device = COALESCE($2, device) WHERE id = $3")
            .bind(now)
            .bind(device)
            .bind(&sid)
            .execute(&self.db.pool)
            .await?;
        Ok(TokenPair {
            access_token: self.access_token(&user.id, &sid, user.token_version),
            refresh_token: Some(next),
            token_type: "bearer",
            expires_in: ACCESS_TTL_SECS,
            session_id: sid,
            session_expires_at: expires_at,
        })
    }

    /// The session a refresh token belongs to (used or not), if any.
    pub async fn session_of_refresh(&self, refresh_token: &str) -> ApiResult<Option<String>> {
        Ok(sqlx::query_scalar::<_, String>("SELECT session_id FROM refresh_tokens WHERE token_hash = $1")
            .bind(self.hash_token(refresh_token))
            .fetch_optional(&self.db.pool)
            .await?)
    }

    /// `POST /auth/logout-all`: bumps `token_version` (every access JWT dies)
    /// and revokes every session.
    pub async fn logout_all(&self, user_id: &str) -> ApiResult<()> {
        let now = self.clock.now_ms();
        let mut tx = self.db.pool.begin().await?;
        sqlx::query("UPDATE users SET token_version = token_version + 1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE sessions SET revoked = 1, revoked_at = $1, revoke_reason = 'logout-all' WHERE user_id = $2 AND revoked = 0")
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.invalidate_user(user_id);
        Ok(())
    }

    /// `GET /auth/sessions`: live sessions, newest first.
    pub async fn list_sessions(&self, user_id: &str, current: Option<&str>) -> ApiResult<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "SELECT id, device, created_at, last_used_at, expires_at FROM sessions
             WHERE user_id = $1 AND revoked = 0 AND expires_at > $2 ORDER BY created_at DESC, id",
        )
        .bind(user_id)
        .bind(self.clock.now_ms())
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                Ok(SessionInfo {
                    current: current == Some(id.as_str()),
                    id,
                    device: r.try_get("device")?,
                    created_at: r.try_get("created_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    expires_at: r.try_get("expires_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// `DELETE /auth/sessions/{id}`: revokes one of the caller's sessions; its
    /// access JWTs stop working at once.
    pub async fn delete_session(&self, user_id: &str, session_id: &str) -> ApiResult<()> {
        let owner = sqlx::query_scalar::<_, String>("SELECT user_id FROM sessions WHERE id = $1 AND revoked = 0")
            .bind(session_id)
            .fetch_optional(&self.db.pool)
            .await?;
        if owner.as_deref() != Some(user_id) {
            return Err(ApiError::not_found("session not found"));
        }
        self.revoke_session(session_id, "deleted by user").await
    }

    // ---- verify_access ------------------------------------------------------

    async fn load_session(&self, session_id: &str) -> ApiResult<CachedSession> {
        let generation = self.cache.generation();
        let row = sqlx::query(
            "SELECT s.user_id, s.revoked, s.expires_at, u.token_version, u.is_master, u.is_active
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
        )
        .bind(session_id)
        .fetch_optional(&self.db.pool)
        .await?;
        let entry = match row {
            Some(r) => CachedSession {
                user_id: r.try_get("user_id")?,
                token_version: r.try_get("token_version")?,
                is_master: r.try_get::<i64, _>("is_master")? != 0,
                revoked: r.try_get::<i64, _>("revoked")? != 0 || r.try_get::<i64, _>("is_active")? == 0,
                expires_at_ms: r.try_get("expires_at")?,
            },
            // Deleted (or never existed): session ids are never reused, so cache the miss.
            None => CachedSession {
                user_id: String::new(),
                token_version: -1,
                is_master: false,
                revoked: true,
                expires_at_ms: 0,
            },
        };
        self.cache.insert_if_current(session_id, entry.clone(), generation);
        Ok(entry)
    }

    /// Verifies a session access JWT: signature, type, expiry, then the
    /// session (live, not revoked) and the user's token version, from the
    /// in-process cache (one database read per session on first use).
    pub async fn verify_access(&self, jwt: &str) -> ApiResult<Principal> {
        let now_ms = self.clock.now_ms();
        let claims = self.jwt.verify(jwt, now_ms.div_euclid(1000)).map_err(|e| match e {
            JwtError::Expired => ApiError::new(ErrorCode::TokenExpired, "access token expired; refresh it"),
            _ => ApiError::new(ErrorCode::InvalidToken, "invalid access token"),
        })?;
        let entry = match self.cache.get(&claims.sid) {
            Some(e) => e,
            None => self.load_session(&claims.sid).await?,
        };
        if entry.revoked || entry.user_id != claims.sub || entry.token_version != claims.ver {
            return Err(ApiError::new(ErrorCode::TokenRevoked, "this session has ended; log in again"));
        }
        if entry.expires_at_ms <= now_ms {
            return Err(ApiError::new(ErrorCode::TokenExpired, "the session has expired; log in again"));
        }
        Ok(Principal { user_id: claims.sub, is_master: entry.is_master, via: Via::Session { session_id: claims.sid } })
    }

    // ---- profile ---------------------------------------------------------------

    /// `GET /auth/me`: the user and their tenant memberships.
    pub async fn me(&self, user_id: &str) -> ApiResult<Value> {
        let user = self.require_user(user_id).await?;
        let mut v = serde_json::to_value(user.public()).map_err(ApiError::internal)?;
        v["tenants"] = Value::Array(self.memberships(user_id).await?);
        Ok(v)
    }

    async fn memberships(&self, user_id: &str) -> ApiResult<Vec<Value>> {
        let rows = sqlx::query(
            "SELECT t.id, t.slug, t.name, m.role, m.created_at FROM tenant_members m JOIN tenants t ON t.id = m.tenant_id
             WHERE m.user_id = $1 ORDER BY t.slug",
        )
        .bind(user_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(json!({
                    "id": r.try_get::<String, _>("id")?,
                    "slug": r.try_get::<String, _>("slug")?,
                    "name": r.try_get::<String, _>("name")?,
                    "role": r.try_get::<String, _>("role")?,
                    "joined_at": r.try_get::<i64, _>("created_at")?,
                }))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// `PATCH /auth/me`: the display name (trimmed; empty clears it).
    pub async fn update_me(&self, user_id: &str, display_name: Option<&str>) -> ApiResult<Value> {
        let name = clean_display_name(display_name)?;
        sqlx::query("UPDATE users SET display_name = $1, updated_at = $2 WHERE id = $3")
            .bind(name)
            .bind(self.clock.now_ms())
            .bind(user_id)
            .execute(&self.db.pool)
            .await?;
        self.me(user_id).await
    }

    /// `POST /auth/password`: checks the current password, stores the new one,
    /// revokes every other session and any open reset links.
    pub async fn change_password(
        &self,
        user_id: &str,
        current_session: Option<&str>,
        current: &str,
        new: &str,
    ) -> ApiResult<()> {
        password::check_policy("new_password", new)?;
        let user = self.require_user(user_id).await?;
        if !password::verify(current, Some(&user.password_hash)).await? {
            return Err(ApiError::forbidden("the current password is incorrect"));
        }
        let hash = password::hash(new).await?;
        let now = self.clock.now_ms();
        let mut tx = self.db.pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(&hash)
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE sessions SET revoked = 1, revoked_at = $1, revoke_reason = 'password changed'
             WHERE user_id = $2 AND revoked = 0 AND id <> $3",
        )
        .bind(now)
        .bind(user_id)
        .bind(current_session.unwrap_or(""))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL")
            .bind(user_id)
            .bind(PURPOSE_RESET)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.invalidate_user(user_id);
        self.mailer.send(Mail {
            to: user.email.clone(),
            subject: "Your Kiwi password was changed".into(),
            body: "Your password was just changed and your other sessions were signed out.\n\
                   If this wasn't you, reset your password now."
                .into(),
        });
        Ok(())
    }

    // ---- mail tokens -------------------------------------------------------------

    async fn issue_mail_token(&self, user_id: &str, purpose: &str, ttl_ms: i64) -> ApiResult<String> {
        let raw = sessions::new_secret();
        let now = self.clock.now_ms();
        // One live link per purpose: a new one replaces older unused ones.
        sqlx::query("DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL")
            .bind(user_id)
            .bind(purpose)
            .execute(&self.db.pool)
            .await?;
        sqlx::query("INSERT INTO email_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(self.hash_token(&raw))
            .bind(user_id)
            .bind(purpose)
            .bind(now)
            .bind(now + ttl_ms)
            .execute(&self.db.pool)
            .await?;
        Ok(raw)
    }

    /// Atomically marks a live token used; returns its user.
    async fn consume_mail_token(&self, raw: &str, purpose: &str) -> ApiResult<Option<String>> {
        Ok(sqlx::query_scalar::<_, String>(
            "UPDATE email_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1
             RETURNING user_id",
        )
        .bind(self.clock.now_ms())
        .bind(self.hash_token(raw))
        .bind(purpose)
        .fetch_optional(&self.db.pool)
        .await?)
    }

    async fn send_verification(&self, user: &UserRow) -> ApiResult<()> {
        let raw = self.issue_mail_token(&user.id, PURPOSE_VERIFY, VERIFY_TTL_MS).await?;
        let link = format!("{}/auth/verify-email?token={raw}", self.public_base);
        self.mailer.send(Mail {
            to: user.email.clone(),
            subject: "Verify your Kiwi email address".into(),
            body: format!("Welcome to Kiwi!\n\nConfirm your address (the link works once, for 48 hours):\n{link}\n"),
        });
        Ok(())
    }

    /// `POST /auth/resend-verification`: a new link if the account exists and
    /// is unverified; the caller cannot tell which.
    pub async fn resend_verification(&self, raw_email: &str) -> ApiResult<()> {
        let email = raw_email.trim().to_lowercase();
        if let Some(u) = self.user_by_email(&email).await?
            && u.is_active
            && !u.is_verified
        {
            self.send_verification(&u).await?;
        }
        Ok(())
    }

    /// Consumes a verification token and marks the user verified.
    pub async fn verify_email(&self, token: &str) -> ApiResult<()> {
        let user_id = self
            .consume_mail_token(token, PURPOSE_VERIFY)
            .await?
            .ok_or_else(|| ApiError::bad_request("this verification link is invalid, used or expired"))?;
        sqlx::query("UPDATE users SET is_verified = 1, updated_at = $1 WHERE id = $2")
            .bind(self.clock.now_ms())
            .bind(user_id)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// `POST /auth/forgot-password`: mails a reset link if the account exists;
    /// the caller cannot tell which.
    pub async fn forgot_password(&self, raw_email: &str) -> ApiResult<()> {
        let email = raw_email.trim().to_lowercase();
        if let Some(u) = self.user_by_email(&email).await?
            && u.is_active
        {
            let raw = self.issue_mail_token(&u.id, PURPOSE_RESET, RESET_TTL_MS).await?;
            let link = format!("{}/auth/reset-password?token={raw}", self.public_base);
            self.mailer.send(Mail {
                to: u.email.clone(),
                subject: "Reset your Kiwi password".into(),
                body: format!(
                    "Someone asked to reset the password of this account.\n\nChoose a new password (the link works once, for 1 hour):\n{link}\n\nIf this wasn't you, ignore this message.\n"
                ),
            });
        }
        Ok(())
    }

    /// `POST /auth/reset-password`: consumes the token, sets the password,
    /// ends every session (token version bumped) and marks the email verified.
    pub async fn reset_password(&self, token: &str, new: &str) -> ApiResult<()> {
        password::check_policy("new_password", new)?;
        let user_id = self
            .consume_mail_token(token, PURPOSE_RESET)
            .await?
            .ok_or_else(|| ApiError::bad_request("this reset link is invalid, used or expired"))?;
        let hash = password::hash(new).await?;
        sqlx::query("UPDATE users SET password_hash = $1, is_verified = 1, updated_at = $2 WHERE id = $3")
            .bind(&hash)
            .bind(self.clock.now_ms())
            .bind(&user_id)
            .execute(&self.db.pool)
            .await?;
        self.logout_all(&user_id).await?;
        if let Some(u) = self.user_by_id(&user_id).await? {
            sqlx::query("DELETE FROM login_failures WHERE email = $1").bind(&u.email).execute(&self.db.pool).await?;
        }
        Ok(())
    }

    // ---- export and deletion ---------------------------------------------------------

    async fn table_exists(&self, name: &str) -> ApiResult<bool> {
        let sql = match self.db.backend {
            Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
            }
        };
        let n: i64 = sqlx::query_scalar(sql).bind(name).fetch_one(&self.db.pool).await?;
        Ok(n > 0)
    }

    /// `GET /auth/export`: everything stored about the user (secrets and
    /// their hashes excepted).
    pub async fn export(&self, user_id: &str) -> ApiResult<Value> {
        let user = self.require_user(user_id).await?;
        let sessions = sqlx::query(
            "SELECT id, device, created_at, last_used_at, expires_at, revoked, revoked_at, revoke_reason FROM sessions
             WHERE user_id = $1 ORDER BY created_at",
        )
        .bind(user_id)
        .fetch_all(&self.db.pool)
        .await?;
        let mail_tokens = sqlx::query(
            "SELECT purpose, created_at, expires_at, used_at FROM email_tokens WHERE user_id = $1 ORDER BY created_at",
        )
        .bind(user_id)
        .fetch_all(&self.db.pool)
        .await?;
        let failures =
            sqlx::query("SELECT fail_count, window_start, locked_until FROM login_failures WHERE email = $1")
                .bind(&user.email)
                .fetch_all(&self.db.pool)
                .await?;
        let mut out = json!({
            "exported_at": self.clock.now_ms(),
            "user": user.public(),
            "password": "stored only as a one-way hash; not exported",
            "tenants": self.memberships(user_id).await?,
            "sessions": sessions.iter().map(row_to_json).collect::<Vec<_>>(),
            "email_tokens": mail_tokens.iter().map(row_to_json).collect::<Vec<_>>(),
            "login_failures": failures.iter().map(row_to_json).collect::<Vec<_>>(),
        });
        for (table, suffix, _) in USER_LINKED_TABLES {
            let rows = if self.table_exists(table).await? {
                sqlx::query(&format!("SELECT * FROM {table} WHERE user_id = $1 {suffix}"))
                    .bind(user_id)
                    .fetch_all(&self.db.pool)
                    .await?
                    .iter()
                    .map(row_to_json)
                    .collect::<Vec<_>>()
            } else {
                Vec::new()
            };
            out[table] = Value::Array(rows);
        }
        Ok(out)
    }

    /// `DELETE /auth/me`: after re-checking the password, deletes the user with
    /// their sessions, refresh and mail tokens, memberships and API tokens, and
    /// detaches their usage events.
    pub async fn delete_user(&self, user_id: &str, password: &str) -> ApiResult<()> {
        let user = self.require_user(user_id).await?;
        if !password::verify(password, Some(&user.password_hash)).await? {
            return Err(ApiError::forbidden("the password is incorrect"));
        }
        let mut linked = Vec::new();
        for (table, _, delete) in USER_LINKED_TABLES {
            if self.table_exists(table).await? {
                linked.push(if delete {
                    format!("DELETE FROM {table} WHERE user_id = $1")
                } else {
                    format!("UPDATE {table} SET user_id = NULL WHERE user_id = $1")
                });
            }
        }
        let mut tx = self.db.pool.begin().await?;
        for sql in linked {
            sqlx::query(&sql).bind(user_id).execute(&mut *tx).await?;
        }
        for sql in [
            "DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = $1)",
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM email_tokens WHERE user_id = $1",
            "DELETE FROM tenant_members WHERE user_id = $1",
            "DELETE FROM users WHERE id = $1",
        ] {
            sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM login_failures WHERE email = $1").bind(&user.email).execute(&mut *tx).await?;
        tx.commit().await?;
        self.invalidate_user(user_id);
        tracing::info!(user_id = %user_id, "account deleted");
        Ok(())
    }

    // ---- housekeeping ------------------------------------------------------------------

    /// Deletes expired sessions (and sessions revoked over 30 days ago) with
    /// their refresh tokens, expired mail tokens, and stale lockout rows.
    /// Returns the number of rows deleted.
    pub async fn sweep_expired(&self) -> ApiResult<u64> {
        let now = self.clock.now_ms();
        let revoked_before = now - SESSION_TTL_MS;
        let mut n = 0;
        let stale = "expires_at <= $1 OR (revoked = 1 AND revoked_at < $2)";
        n += sqlx::query(&format!(
            "DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE {stale})"
        ))
        .bind(now)
        .bind(revoked_before)
        .execute(&self.db.pool)
        .await?
        .rows_affected();
        n += sqlx::query(&format!("DELETE FROM sessions WHERE {stale}"))
            .bind(now)
            .bind(revoked_before)
            .execute(&self.db.pool)
            .await?
            .rows_affected();
        n += sqlx::query("DELETE FROM email_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.db.pool)
            .await?
            .rows_affected();
        n += sqlx::query("DELETE FROM login_failures WHERE locked_until <= $1 AND window_start <= $2")
            .bind(now)
            .bind(now - LOCKOUT_WINDOW_MS)
            .execute(&self.db.pool)
            .await?
            .rows_affected();
        Ok(n)
    }

    // ---- cookies ------------------------------------------------------------------------

    /// `Set-Cookie` value carrying a refresh token (`Secure` behind HTTPS).
    pub fn refresh_cookie(&self, token: &str, session_expires_at: i64) -> String {
        let max_age = ((session_expires_at - self.clock.now_ms()) / 1000).max(0);
        format!(
            "{REFRESH_COOKIE}={token}; Path=/auth; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
            self.secure_suffix()
        )
    }

    /// `Set-Cookie` value clearing the refresh cookie.
    pub fn clear_refresh_cookie(&self) -> String {
        format!("{REFRESH_COOKIE}=; Path=/auth; Max-Age=0; HttpOnly; SameSite=Strict{}", self.secure_suffix())
    }

    fn secure_suffix(&self) -> &'static str {
        if self.secure_cookies { "; Secure" } else { "" }
    }
}

/// How often [`spawn_sweeper`] runs [`Accounts::sweep_expired`].
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Starts the hourly [`Accounts::sweep_expired`] (holds only a weak reference to the state).
pub fn spawn_sweeper(state: &crate::state::AppState) {
    let weak = std::sync::Arc::downgrade(&state.0);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else { break };
            match inner.accounts.sweep_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "swept expired sessions and account tokens"),
                Err(e) => tracing::warn!(error = %e, "account sweep failed"),
            }
        }
    });
}

/// Trims a display name; empty means none; at most 80 characters.
fn clean_display_name(name: Option<&str>) -> ApiResult<Option<String>> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    if let Some(n) = name {
        if n.chars().count() > DISPLAY_NAME_MAX {
            return Err(ApiError::validation("display_name", format!("must be at most {DISPLAY_NAME_MAX} characters")));
        }
        if n.chars().any(char::is_control) {
            return Err(ApiError::validation("display_name", "must not contain control characters"));
        }
    }
    Ok(name.map(str::to_owned))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Columns whose names suggest secrets are left out of exports.
fn is_secret_column(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["hash", "secret", "salt", "password"].iter().any(|s| n.contains(s))
}

/// A row as a JSON object, whatever its columns (integers, text, reals; bytes as hex).
fn row_to_json(row: &AnyRow) -> Value {
    let mut obj = serde_json::Map::new();
    for (i, col) in row.columns().iter().enumerate() {
        let name = col.name();
        if is_secret_column(name) {
            continue;
        }
        let v = if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
            json!(v)
        } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
            json!(v)
        } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
            json!(v)
        } else if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
            json!(v.map(hex::encode))
        } else {
            Value::Null
        };
        obj.insert(name.to_owned(), v);
    }
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(clean_display_name(Some("  Ann ")).unwrap().as_deref(), Some("Ann"));
        assert_eq!(clean_display_name(Some("   ")).unwrap(), None);
        assert_eq!(clean_display_name(None).unwrap(), None);
        assert!(clean_display_name(Some(&"x".repeat(81))).is_err());
        assert!(clean_display_name(Some("a\nb")).is_err());
    }

    #[test]
    fn derived_keys_differ_by_label() {
        assert_ne!(derive_key(b"s", "a"), derive_key(b"s", "b"));
        assert_eq!(derive_key(b"s", "a").len(), 32);
        assert!(new_id("usr").starts_with("usr_") && new_id("usr").len() == 28);
        assert!(is_secret_column("hashed_token") && is_secret_column("ip_salt") && !is_secret_column("name"));
    }
}
