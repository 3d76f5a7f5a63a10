//! Tenants (`/tenants/*`): tenant records (cached in-process by slug and id),
//! membership with roles `owner | admin | member`, the helpers other modules
//! use ([`Tenants::role_of`], [`Tenants::by_slug`], [`Tenants::require_admin`]),
//! and resolving a request's tenant ([`Tenants::resolve`]).
//!
//! Rules: the master superuser is above all tenants. Owners manage everything
//! in their tenant; admins manage members and admins but never owners; a
//! tenant must keep at least one owner. Callers without the needed role get
//! 403 `forbidden`; unknown slugs are 404 `not_found`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use dashmap::DashMap;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::Db;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http_util::Json;
use crate::openapi::{Auth, DocRouter, RouteDoc};
use crate::principal::{Authenticated, Principal, SessionUser, Via};
use crate::state::AppState;

/// The tenant every install starts with.
pub const DEFAULT_TENANT_ID: &str = "ten_default";
/// Its slug.
pub const DEFAULT_TENANT_SLUG: &str = "default";
/// The request header naming a tenant by slug.
pub const TENANT_HEADER: &str = "x-kiwi-tenant";

/// A tenant reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub slug: String,
}

/// A full tenant row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantRecord {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub plan: String,
    /// Requests per minute per token; `None`: the platform default.
    pub rate_limit_per_min: Option<i64>,
    pub created_at: i64,
}

impl TenantRecord {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: r.try_get("id")?,
            slug: r.try_get("slug")?,
            name: r.try_get("name")?,
            plan: r.try_get("plan")?,
            rate_limit_per_min: r.try_get("rate_limit_per_min")?,
            created_at: r.try_get("created_at")?,
        })
    }

    /// The reference form.
    pub fn tenant(&self) -> Tenant {
        Tenant { id: self.id.clone(), slug: self.slug.clone() }
    }
}

/// A member's role in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// Owner or admin.
    pub fn is_admin(self) -> bool {
        self >= Role::Admin
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Role::parse(&s).ok_or_else(|| serde::de::Error::custom("expected one of owner, admin, member"))
    }
}

/// The tenants service.
pub struct Tenants {
    db: Db,
    by_slug: DashMap<String, Arc<TenantRecord>>,
    by_id: DashMap<String, Arc<TenantRecord>>,
    /// Invalidations for the other instances (drained by `crate::bus`).
    pub outbox: crate::bus::Outbox,
}

impl std::fmt::Debug for Tenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants").field("cached", &self.by_id.len()).finish_non_exhaustive()
    }
}

const TENANT_COLS: &str = "id, slug, name, plan, rate_limit_per_min, created_at";

impl Tenants {
    pub fn new(db: &Db) -> Self {
        Self { db: db.clone(), by_slug: DashMap::new(), by_id: DashMap::new(), outbox: crate::bus::Outbox::default() }
    }

    fn remember(&self, rec: TenantRecord) -> Arc<TenantRecord> {
        let rec = Arc::new(rec);
        self.by_slug.insert(rec.slug.clone(), rec.clone());
        self.by_id.insert(rec.id.clone(), rec.clone());
        rec
    }

    /// Drops a tenant from the cache (after a change; multi-instance fan-out calls this too).
    pub fn invalidate(&self, tenant_id: &str) {
        self.invalidate_local(tenant_id);
        self.outbox.send(crate::bus::BusMessage::TenantChanged { tenant_id: tenant_id.to_owned() });
    }

    /// [`Tenants::invalidate`] on this instance only (applying a bus message).
    pub fn invalidate_local(&self, tenant_id: &str) {
        if let Some((_, rec)) = self.by_id.remove(tenant_id) {
            self.by_slug.remove(&rec.slug);
        }
    }

    /// The tenant with this slug (cached), if any.
    pub async fn record_by_slug(&self, slug: &str) -> ApiResult<Option<Arc<TenantRecord>>> {
        if let Some(r) = self.by_slug.get(slug) {
            return Ok(Some(r.value().clone()));
        }
        let row = sqlx::query(&format!("SELECT {TENANT_COLS} FROM tenants WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.as_ref().map(TenantRecord::from_row).transpose()?.map(|r| self.remember(r)))
    }

    /// The tenant with this id (cached), if any.
    pub async fn record_by_id(&self, id: &str) -> ApiResult<Option<Arc<TenantRecord>>> {
        if let Some(r) = self.by_id.get(id) {
            return Ok(Some(r.value().clone()));
        }
        let row = sqlx::query(&format!("SELECT {TENANT_COLS} FROM tenants WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.as_ref().map(TenantRecord::from_row).transpose()?.map(|r| self.remember(r)))
    }

    /// The tenant with this slug; unknown → 404 `not_found`.
    pub async fn by_slug(&self, slug: &str) -> ApiResult<Tenant> {
        self.record_by_slug(slug).await?.map(|r| r.tenant()).ok_or_else(|| unknown_tenant(slug))
    }

    /// The user's role in the tenant (`None`: not a member).
    pub async fn role_of(&self, user_id: &str, tenant_id: &str) -> ApiResult<Option<Role>> {
        let role =
            sqlx::query_scalar::<_, String>("SELECT role FROM tenant_members WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant_id)
                .bind(user_id)
                .fetch_optional(&self.db.pool)
                .await?;
        Ok(role.as_deref().and_then(Role::parse))
    }

    /// The caller's role in a tenant; `None` for master (above all roles).
    /// Token callers act only inside their token's tenant.
    async fn caller_role(&self, principal: &Principal, tenant: &TenantRecord) -> ApiResult<CallerRole> {
        if let Via::Token { tenant_id, .. } = &principal.via
            && tenant_id != &tenant.id
            && !principal.is_master
        {
            return Err(ApiError::forbidden("this API token belongs to another tenant"));
        }
        if principal.is_master {
            return Ok(CallerRole::Master);
        }
        Ok(match self.role_of(&principal.user_id, &tenant.id).await? {
            Some(r) => CallerRole::Member(r),
            None => CallerRole::Outsider,
        })
    }

    /// The tenant `slug` if the caller is its owner or admin, or master;
    /// unknown slug → 404, anyone else → 403.
    pub async fn require_admin(&self, principal: &Principal, slug: &str) -> ApiResult<Tenant> {
        let rec = self.record_by_slug(slug).await?.ok_or_else(|| unknown_tenant(slug))?;
        match self.caller_role(principal, &rec).await? {
            CallerRole::Master => Ok(rec.tenant()),
            CallerRole::Member(r) if r.is_admin() => Ok(rec.tenant()),
            _ => Err(ApiError::forbidden("tenant owner or admin only")),
        }
    }

    /// A request's tenant: the API token's tenant; else `X-Kiwi-Tenant` (a
    /// slug) or a configured host name (`tenant_hosts`); else the default
    /// tenant. An unknown slug is 404; a session caller naming a tenant must be
    /// a member of it (or master), else 403.
    pub async fn resolve(&self, state: &AppState, parts: &Parts, principal: Option<&Principal>) -> ApiResult<Tenant> {
        if let Some(Principal { via: Via::Token { tenant_id, .. }, .. }) = principal {
            let rec = self
                .record_by_id(tenant_id)
                .await?
                .ok_or_else(|| ApiError::not_found("this API token's tenant no longer exists"))?;
            return Ok(rec.tenant());
        }
        let named = match parts.headers.get(TENANT_HEADER) {
            Some(v) => Some(
                v.to_str().map_err(|_| ApiError::bad_request("X-Kiwi-Tenant: not a valid slug"))?.trim().to_owned(),
            ),
            None => host_tenant(state, parts),
        };
        let Some(slug) = named else {
            return Ok(Tenant { id: DEFAULT_TENANT_ID.into(), slug: DEFAULT_TENANT_SLUG.into() });
        };
        let rec = self.record_by_slug(&slug).await?.ok_or_else(|| unknown_tenant(&slug))?;
        if let Some(p) = principal
            && matches!(self.caller_role(p, &rec).await?, CallerRole::Outsider)
        {
            return Err(ApiError::forbidden("you are not a member of this tenant"));
        }
        Ok(rec.tenant())
    }

    // ---- operations behind the routes ------------------------------------------

    async fn create(&self, user_id: &str, slug: &str, name: &str, now: i64) -> ApiResult<TenantRecord> {
        let id = crate::accounts::new_id("ten");
        let mut tx = self.db.pool.begin().await?;
        let inserted =
            sqlx::query("INSERT INTO tenants (id, slug, name, plan, created_at) VALUES ($1, $2, $3, 'free', $4)")
                .bind(&id)
                .bind(slug)
                .bind(name)
                .bind(now)
                .execute(&mut *tx)
                .await;
        if let Err(e) = inserted {
            if matches!(&e, sqlx::Error::Database(d) if d.is_unique_violation()) {
                return Err(ApiError::conflict(format!("the slug {slug:?} is taken")));
            }
            return Err(e.into());
        }
        sqlx::query("INSERT INTO tenant_members (tenant_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)")
            .bind(&id)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.invalidate(&id);
        self.record_by_id(&id)
            .await?
            .map(|r| (*r).clone())
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("tenant vanished after insert")))
    }

    async fn mine(&self, user_id: &str) -> ApiResult<Vec<Value>> {
        let rows = sqlx::query(
            "SELECT t.id, t.slug, t.name, t.plan, t.rate_limit_per_min, t.created_at, m.role
             FROM tenant_members m JOIN tenants t ON t.id = m.tenant_id WHERE m.user_id = $1 ORDER BY t.slug",
        )
        .bind(user_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut v = serde_json::to_value(TenantRecord::from_row(r)?).map_err(ApiError::internal)?;
                v["role"] = json!(r.try_get::<String, _>("role")?);
                Ok(v)
            })
            .collect()
    }

    async fn members(&self, tenant_id: &str) -> ApiResult<Vec<Value>> {
        let rows = sqlx::query(
            "SELECT u.id, u.email, u.display_name, m.role, m.created_at FROM tenant_members m JOIN users u ON u.id = m.user_id
             WHERE m.tenant_id = $1 ORDER BY m.created_at, u.email",
        )
        .bind(tenant_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(json!({
                    "user_id": r.try_get::<String, _>("id")?,
                    "email": r.try_get::<String, _>("email")?,
                    "display_name": r.try_get::<Option<String>, _>("display_name")?,
                    "role": r.try_get::<String, _>("role")?,
                    "joined_at": r.try_get::<i64, _>("created_at")?,
                }))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(Into::into)
    }

    async fn owner_count(&self, tenant_id: &str) -> ApiResult<i64> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM tenant_members WHERE tenant_id = $1 AND role = 'owner'")
            .bind(tenant_id)
            .fetch_one(&self.db.pool)
            .await?)
    }
}

/// Who the caller is relative to one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallerRole {
    Master,
    Member(Role),
    Outsider,
}

impl CallerRole {
    /// May this caller grant, change or remove `role`?
    fn may_manage(self, role: Role) -> bool {
        match self {
            CallerRole::Master | CallerRole::Member(Role::Owner) => true,
            CallerRole::Member(Role::Admin) => role != Role::Owner,
            _ => false,
        }
    }
}

fn unknown_tenant(slug: &str) -> ApiError {
    ApiError::not_found(format!("no tenant {:?}", slug.chars().take(64).collect::<String>()))
}

/// The slug configured for the request's Host (port ignored, case-insensitive).
fn host_tenant(state: &AppState, parts: &Parts) -> Option<String> {
    if state.config.tenant_hosts.is_empty() {
        return None;
    }
    let host =
        parts.headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok()).or_else(|| parts.uri.host())?;
    let host = strip_port(host);
    let host = host.trim_end_matches('.');
    state.config.tenant_hosts.iter().find(|(h, _)| h.eq_ignore_ascii_case(host)).map(|(_, slug)| slug.clone())
}

/// `example.com:8080` → `example.com`; `[::1]:80` → `::1`.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Slugs: 3–40 of `a-z 0-9 -`, starting and ending alphanumeric.
fn validate_slug(slug: &str) -> ApiResult<()> {
    let ok = (3..=40).contains(&slug.len())
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::validation(
            "slug",
            "3–40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit",
        ))
    }
}

fn validate_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        return Err(ApiError::validation("name", "1–80 characters, no control characters"));
    }
    Ok(name.to_owned())
}

// ---- routes -------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct CreateBody {
    slug: String,
    #[serde(default)]
    name: Option<String>,
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
struct PatchBody {
    #[serde(default)]
    name: Option<String>,
    /// Master only.
    #[serde(default)]
    plan: Option<String>,
    /// Master only; `null` resets to the platform default.
    #[serde(default, deserialize_with = "present")]
    rate_limit_per_min: Option<Option<i64>>,
}

#[derive(Debug, Deserialize)]
struct AddMemberBody {
    email: String,
    role: Role,
}

#[derive(Debug, Deserialize)]
struct RoleBody {
    role: Role,
}

async fn create_tenant(
    State(st): State<AppState>,
    SessionUser(p): SessionUser,
    Json(b): Json<CreateBody>,
) -> ApiResult<Response> {
    let slug = b.slug.trim().to_owned();
    validate_slug(&slug)?;
    let name = validate_name(b.name.as_deref().unwrap_or(&slug))?;
    let rec = st.tenants.create(&p.user_id, &slug, &name, st.clock.now_ms()).await?;
    let mut v = serde_json::to_value(rec).map_err(ApiError::internal)?;
    v["role"] = json!(Role::Owner);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn list_tenants(State(st): State<AppState>, Authenticated(p): Authenticated) -> ApiResult<Response> {
    let mut list = st.tenants.mine(&p.user_id).await?;
    if let Via::Token { tenant_id, .. } = &p.via {
        list.retain(|t| t["id"] == json!(tenant_id));
    }
    Ok(Json(json!({ "tenants": list })).into_response())
}

async fn get_tenant(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    let rec = st.tenants.record_by_slug(&slug).await?.ok_or_else(|| unknown_tenant(&slug))?;
    let role = match st.tenants.caller_role(&p, &rec).await? {
        CallerRole::Outsider => {
            return Err(ApiError::forbidden("you are not a member of this tenant"));
        }
        CallerRole::Master => st.tenants.role_of(&p.user_id, &rec.id).await?,
        CallerRole::Member(r) => Some(r),
    };
    let mut v = serde_json::to_value(&*rec).map_err(ApiError::internal)?;
    v["role"] = json!(role);
    Ok(Json(v).into_response())
}

async fn patch_tenant(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    Path(slug): Path<String>,
    Json(b): Json<PatchBody>,
) -> ApiResult<Response> {
    let tenant = st.tenants.require_admin(&p, &slug).await?;
    if (b.plan.is_some() || b.rate_limit_per_min.is_some()) && !p.is_master {
        return Err(ApiError::forbidden("only the master can change a tenant's plan or rate limit"));
    }
    if let Some(name) = &b.name {
        let name = validate_name(name)?;
        sqlx::query("UPDATE tenants SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(&tenant.id)
            .execute(&st.db.pool)
            .await?;
    }
    if let Some(plan) = &b.plan {
        let plan = plan.trim();
        if plan.is_empty()
            || plan.len() > 40
            || !plan.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ApiError::validation("plan", "1–40 characters of a-z, 0-9, '-' and '_'"));
        }
        sqlx::query("UPDATE tenants SET plan = $1 WHERE id = $2")
            .bind(plan)
            .bind(&tenant.id)
            .execute(&st.db.pool)
            .await?;
    }
    if let Some(limit) = b.rate_limit_per_min {
        if limit.is_some_and(|l| !(1..=1_000_000).contains(&l)) {
            return Err(ApiError::validation(
                "rate_limit_per_min",
                "must be 1 to 1000000, or null for the platform default",
            ));
        }
        sqlx::query("UPDATE tenants SET rate_limit_per_min = $1 WHERE id = $2")
            .bind(limit)
            .bind(&tenant.id)
            .execute(&st.db.pool)
            .await?;
    }
    st.tenants.invalidate(&tenant.id);
    let rec = st.tenants.record_by_id(&tenant.id).await?.ok_or_else(|| unknown_tenant(&slug))?;
    Ok(Json(&*rec).into_response())
}

async fn list_members(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    let tenant = st.tenants.require_admin(&p, &slug).await?;
    Ok(Json(json!({ "members": st.tenants.members(&tenant.id).await? })).into_response())
}

/// The tenant and the caller's standing, for member management (admin/owner/master).
async fn manager(st: &AppState, p: &Principal, slug: &str) -> ApiResult<(Arc<TenantRecord>, CallerRole)> {
    let tenant = st.tenants.require_admin(p, slug).await?;
    let rec = st.tenants.record_by_id(&tenant.id).await?.ok_or_else(|| unknown_tenant(slug))?;
    let caller = st.tenants.caller_role(p, &rec).await?;
    Ok((rec, caller))
}

async fn add_member(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    Path(slug): Path<String>,
    Json(b): Json<AddMemberBody>,
) -> ApiResult<Response> {
    let (rec, caller) = manager(&st, &p, &slug).await?;
    if !caller.may_manage(b.role) {
        return Err(ApiError::forbidden("only an owner can grant the owner role"));
    }
    let email = b.email.trim().to_lowercase();
    let user_id = sqlx::query_scalar::<_, String>("SELECT id FROM users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&st.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("no user with that email; they must sign up first"))?;
    let now = st.clock.now_ms();
    let inserted =
        sqlx::query("INSERT INTO tenant_members (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&rec.id)
            .bind(&user_id)
            .bind(b.role.as_str())
            .bind(now)
            .execute(&st.db.pool)
            .await;
    match inserted {
        Ok(_) => {}
        Err(e) if matches!(&e, sqlx::Error::Database(d) if d.is_unique_violation()) => {
            return Err(ApiError::conflict("already a member; change the role with PATCH"));
        }
        Err(e) => return Err(e.into()),
    }
    Ok((StatusCode::CREATED, Json(json!({"user_id": user_id, "email": email, "role": b.role, "joined_at": now})))
        .into_response())
}

async fn patch_member(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    Path((slug, user_id)): Path<(String, String)>,
    Json(b): Json<RoleBody>,
) -> ApiResult<Response> {
    let (rec, caller) = manager(&st, &p, &slug).await?;
    let current = st.tenants.role_of(&user_id, &rec.id).await?.ok_or_else(|| ApiError::not_found("no such member"))?;
    if !caller.may_manage(current) || !caller.may_manage(b.role) {
        return Err(ApiError::forbidden("only an owner can change an owner or grant the owner role"));
    }
    if current == Role::Owner && b.role != Role::Owner && st.tenants.owner_count(&rec.id).await? <= 1 {
        return Err(ApiError::conflict("a tenant needs at least one owner; make someone else owner first"));
    }
    sqlx::query("UPDATE tenant_members SET role = $1 WHERE tenant_id = $2 AND user_id = $3")
        .bind(b.role.as_str())
        .bind(&rec.id)
        .bind(&user_id)
        .execute(&st.db.pool)
        .await?;
    Ok(Json(json!({"user_id": user_id, "role": b.role})).into_response())
}

async fn remove_member(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    Path((slug, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let rec = st.tenants.record_by_slug(&slug).await?.ok_or_else(|| unknown_tenant(&slug))?;
    let caller = st.tenants.caller_role(&p, &rec).await?;
    let leaving =
        p.user_id == user_id && matches!(p.via, Via::Session { .. }) && matches!(caller, CallerRole::Member(_));
    if !leaving && !matches!(caller, CallerRole::Master | CallerRole::Member(Role::Owner | Role::Admin)) {
        return Err(ApiError::forbidden("tenant owner or admin only"));
    }
    let current = st.tenants.role_of(&user_id, &rec.id).await?.ok_or_else(|| ApiError::not_found("no such member"))?;
    if !leaving && !caller.may_manage(current) {
        return Err(ApiError::forbidden("only an owner can remove an owner"));
    }
    if current == Role::Owner && st.tenants.owner_count(&rec.id).await? <= 1 {
        return Err(ApiError::conflict("a tenant needs at least one owner; make someone else owner first"));
    }
    sqlx::query("DELETE FROM tenant_members WHERE tenant_id = $1 AND user_id = $2")
        .bind(&rec.id)
        .bind(&user_id)
        .execute(&st.db.pool)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `/tenants/*` routes.
pub fn routes() -> DocRouter {
    use ErrorCode as E;
    let tenant_example = json!({"id": "ten_0123456789abcdef01234567", "slug": "acme", "name": "Acme", "plan": "free",
        "rate_limit_per_min": null, "created_at": 1767225600000_i64, "role": "owner"});
    let auth_errors = [E::InvalidToken, E::TokenRevoked, E::TokenExpired, E::Forbidden];
    let body_errors = [E::BadRequest, E::ValidationError, E::UnsupportedMediaType];
    DocRouter::new()
        .route(
            RouteDoc::new("POST", "/tenants", "Create a tenant; the caller becomes its owner")
                .tag("tenants")
                .auth(Auth::Session)
                .errors(&auth_errors)
                .errors(&body_errors)
                .errors(&[E::Conflict])
                .request(json!({"slug": "acme", "name": "Acme"}))
                .response(tenant_example.clone())
                .status(201),
            post(create_tenant),
        )
        .route(
            RouteDoc::new("GET", "/tenants", "The caller's tenants with their role (an API token sees only its own tenant)")
                .tag("tenants")
                .auth(Auth::Any)
                .errors(&auth_errors)
                .response(json!({"tenants": [tenant_example.clone()]})),
            get(list_tenants),
        )
        .route(
            RouteDoc::new("GET", "/tenants/{slug}", "One tenant (members and master)")
                .tag("tenants")
                .auth(Auth::Any)
                .errors(&auth_errors)
                .errors(&[E::NotFound])
                .response(tenant_example.clone()),
            get(get_tenant),
        )
        .route(
            RouteDoc::new("PATCH", "/tenants/{slug}", "Rename (owner/admin); `plan` and `rate_limit_per_min` are master-only")
                .tag("tenants")
                .auth(Auth::Any)
                .errors(&auth_errors)
                .errors(&body_errors)
                .errors(&[E::NotFound])
                .request(json!({"name": "Acme Inc."}))
                .response(tenant_example),
            patch(patch_tenant),
        )
        .route(
            RouteDoc::new("GET", "/tenants/{slug}/members", "The members (owner/admin or master)")
                .tag("tenants")
                .auth(Auth::Any)
                .errors(&auth_errors)
                .errors(&[E::NotFound])
                .response(json!({"members": [{"user_id": "usr_…", "email": "ann@example.com", "display_name": "Ann", "role": "owner", "joined_at": 0}]})),
            get(list_members),
        )
        .route(
            RouteDoc::new("POST", "/tenants/{slug}/members", "Add an existing user by email (owner/admin; only owners grant owner)")
                .tag("tenants")
                .auth(Auth::Any)
                .errors(&auth_errors)
                .errors(&body_errors)
                .errors(&[E::NotFound, E::Conflict])
                .request(json!({"email": "bob@example.com", "role": "member"}))
                .response(json!({"user_id": "usr_…", "email": "bob@example.com", "role": "member", "joined_at": 0}))
                .status(201),
            post(add_member),
        )
        .route(
            RouteDoc::new("PATCH", "/tenants/{slug}/members/{user_id}", "Change a member's role (owner/admin; owners only by owners; the last owner stays)")
                .tag("tenants")
                .auth(Auth::Any)
                .errors(&auth_errors)
                .errors(&body_errors)
                .errors(&[E::NotFound, E::Conflict])
                .request(json!({"role": "admin"}))
                .response(json!({"user_id": "usr_…", "role": "admin"})),
            patch(patch_member),
        )
        .route(
            RouteDoc::new("DELETE", "/tenants/{slug}/members/{user_id}", "Remove a member (owner/admin), or leave (yourself); the last owner stays")
                .tag("tenants")
                .auth(Auth::Any)
                .errors(&auth_errors)
                .errors(&[E::NotFound, E::Conflict])
                .status(204),
            delete(remove_member),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_and_parse() {
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Member);
        assert!(Role::Admin.is_admin() && !Role::Member.is_admin());
        for r in [Role::Owner, Role::Admin, Role::Member] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        assert!(serde_json::from_str::<Role>("\"boss\"").is_err());
    }

    #[test]
    fn who_may_manage_whom() {
        assert!(CallerRole::Master.may_manage(Role::Owner));
        assert!(CallerRole::Member(Role::Owner).may_manage(Role::Owner));
        assert!(CallerRole::Member(Role::Admin).may_manage(Role::Admin));
        assert!(!CallerRole::Member(Role::Admin).may_manage(Role::Owner));
        assert!(!CallerRole::Member(Role::Member).may_manage(Role::Member));
        assert!(!CallerRole::Outsider.may_manage(Role::Member));
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("api.example.com:8080"), "api.example.com");
        assert_eq!(strip_port("api.example.com"), "api.example.com");
        assert_eq!(strip_port("[::1]:80"), "::1");
    }

    #[test]
    fn slugs() {
        for ok in ["acme", "a-1", "abc"] {
            assert!(validate_slug(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "-abc", "abc-", "ABC", "a_b", &"a".repeat(41)] {
            assert!(validate_slug(bad).is_err(), "{bad}");
        }
    }
}
