//! Runtime config: live tunables (rate limits, feature flags, sweep periods)
//! stored in the database, changed without a restart, every change audited.
//!
//! API summary:
//! - [`RuntimeConfig::int`] / [`RuntimeConfig::flag`] / [`RuntimeConfig::rate_limit`]:
//!   lock-free reads of the current value (override, else the registry default).
//! - [`RuntimeConfig::set`] / [`RuntimeConfig::reset`]: validated writes (unknown key →
//!   404, bad value → 422 `validation_error`), recorded in `runtime_config_audit`
//!   with the user who made them. Callers (the admin routes) publish
//!   [`crate::bus::BusMessage::RuntimeConfigChanged`] so other instances reload at once.
//! - [`RuntimeConfig::reload`]: re-reads the overrides; a background task calls it
//!   every second ([`RuntimeConfig::spawn_refresher`]), so a value is never more than
//!   1 s stale even if a bus message is lost.
//!
//! The registry ([`REGISTRY`]) is the only list of keys; values are stored as JSON text.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::clock::Clock;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};

/// A tunable's type and bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int { min: i64, max: i64 },
    Bool,
}

/// One registry entry.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub key: &'static str,
    pub category: &'static str,
    pub kind: Kind,
    /// Default (ints) or 0/1 (bools).
    pub default: i64,
    pub description: &'static str,
}

const fn int(
    key: &'static str,
    category: &'static str,
    default: i64,
    min: i64,
    max: i64,
    description: &'static str,
) -> Entry {
    Entry { key, category, kind: Kind::Int { min, max }, default, description }
}
const fn flag(key: &'static str, category: &'static str, default: bool, description: &'static str) -> Entry {
    Entry { key, category, kind: Kind::Bool, default: default as i64, description }
}

/// Every tunable. Rate limits come in `<prefix>_max` / `<prefix>_window_seconds` pairs.
pub const REGISTRY: &[Entry] = &[
    int(
        "api_rate_limit_max",
        "api_rate_limits",
        120,
        1,
        100_000,
        "Requests per window per API token (tenant plans may override).",
    ),
    int("api_rate_limit_window_seconds", "api_rate_limits", 60, 10, 86_400, "Window of the per-token API limit."),
    int(
        "public_anon_rate_limit_max",
        "api_rate_limits",
        30,
        1,
        100_000,
        "Requests per window per IP for anonymous callers of public routes.",
    ),
    int(
        "public_anon_rate_limit_window_seconds",
        "api_rate_limits",
        60,
        10,
        86_400,
        "Window of the anonymous public limit.",
    ),
    int("signup_rate_limit_max", "auth_rate_limits", 5, 1, 1000, "Signups per window per IP."),
    int("signup_rate_limit_window_seconds", "auth_rate_limits", 3600, 60, 86_400, "Window of the signup limit."),
    int("login_rate_limit_max", "auth_rate_limits", 10, 1, 1000, "Login attempts per window per IP."),
    int("login_rate_limit_window_seconds", "auth_rate_limits", 300, 60, 86_400, "Window of the login limit."),
    int("forgot_password_rate_limit_max", "auth_rate_limits", 5, 1, 1000, "Password-reset requests per window per IP."),
    int(
        "forgot_password_rate_limit_window_seconds",
        "auth_rate_limits",
        3600,
        60,
        86_400,
        "Window of the password-reset limit.",
    ),
    int("token_create_rate_limit_max", "auth_rate_limits", 3, 1, 1000, "API tokens a user may create per window."),
    int(
        "token_create_rate_limit_window_seconds",
        "auth_rate_limits",
        86_400,
        60,
        604_800,
        "Window of the token-creation limit.",
    ),
    int(
        "archive_rate_limit_max",
        "archive_rate_limits",
        10,
        1,
        10_000,
        "Default secondary (\"archive\") bucket: requests per window per token.",
    ),
    int(
        "archive_rate_limit_window_seconds",
        "archive_rate_limits",
        60,
        10,
        86_400,
        "Window of the default secondary bucket.",
    ),
    int("ingest_cooldown_max", "ingest_cooldown", 1, 1, 1000, "Submissions per window per token per ingest endpoint."),
    int("ingest_cooldown_window_seconds", "ingest_cooldown", 300, 10, 86_400, "Window of the ingest cooldown."),
    int("usage_retention_days", "usage", 30, 1, 3650, "Usage events older than this are deleted."),
    int(
        "usage_sweep_interval_seconds",
        "sweeps",
        3600,
        10,
        86_400,
        "How often expired usage events and idempotency records are swept.",
    ),
    int(
        "idempotency_ttl_seconds",
        "idempotency",
        86_400,
        60,
        604_800,
        "How long an idempotent response is kept for replay.",
    ),
    flag(
        "usage_recording_enabled",
        "features",
        true,
        "Record plugin requests as usage events (metrics are kept either way).",
    ),
    flag("feature_signup_enabled", "features", true, "Allow new account signups."),
];

/// Looks a key up in the registry.
pub fn entry(key: &str) -> Option<&'static Entry> {
    REGISTRY.iter().find(|e| e.key == key)
}

/// One tunable as shown by `GET /admin/config`.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub key: &'static str,
    pub category: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub description: &'static str,
    pub default: Value,
    pub value: Value,
    pub is_default: bool,
    pub min_value: Option<i64>,
    pub max_value: Option<i64>,
    pub updated_at: Option<i64>,
    pub updated_by: Option<String>,
}

#[derive(Debug, Clone)]
struct Override {
    value: i64,
    updated_at: i64,
    updated_by: Option<String>,
}

/// The runtime-config service.
pub struct RuntimeConfig {
    db: Db,
    clock: Clock,
    overrides: RwLock<Arc<HashMap<&'static str, Override>>>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeConfig").finish_non_exhaustive()
    }
}

fn to_json(kind: Kind, v: i64) -> Value {
    match kind {
        Kind::Int { .. } => json!(v),
        Kind::Bool => json!(v != 0),
    }
}

/// Validates a JSON value for an entry (strict types: an int is not a bool and vice versa).
fn validate(e: &Entry, value: &Value) -> Result<i64, String> {
    match e.kind {
        Kind::Bool => value.as_bool().map(i64::from).ok_or_else(|| "expected a boolean".to_owned()),
        Kind::Int { min, max } => {
            let v = value.as_i64().ok_or_else(|| "expected an integer".to_owned())?;
            if v < min || v > max {
                return Err(format!("must be between {min} and {max}"));
            }
            Ok(v)
        }
    }
}

impl RuntimeConfig {
    /// Builds the service and loads the current overrides.
    pub async fn new(db: &Db, clock: &Clock) -> anyhow::Result<Self> {
        let rc = Self {
            db: db.clone(),
            clock: clock.clone(),
            overrides: RwLock::new(Arc::new(HashMap::new())),
            stop: Arc::default(),
        };
        rc.reload().await?;
        Ok(rc)
    }

    /// Re-reads every override from the database.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let rows = sqlx::query("SELECT key, value, updated_at, updated_by FROM runtime_config")
            .fetch_all(&self.db.pool)
            .await?;
        let mut map = HashMap::new();
        for row in rows {
            let key: String = row.try_get("key")?;
            let raw: String = row.try_get("value")?;
            let Some(e) = entry(&key) else { continue };
            // A corrupt or out-of-range row falls back to the default.
            let Ok(value) =
                serde_json::from_str::<Value>(&raw).map_err(|e| e.to_string()).and_then(|v| validate(e, &v))
            else {
                tracing::warn!(key = %key, "ignoring an invalid runtime_config row");
                continue;
            };
            map.insert(
                e.key,
                Override { value, updated_at: row.try_get("updated_at")?, updated_by: row.try_get("updated_by")? },
            );
        }
        *self.overrides.write() = Arc::new(map);
        Ok(())
    }

    /// Reloads every second until [`RuntimeConfig::stop`].
    pub fn spawn_refresher(self: &Arc<Self>) {
        let this = Arc::downgrade(self);
        let stop = self.stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1000));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Some(rc) = this.upgrade() else { break };
                if let Err(e) = rc.reload().await {
                    tracing::debug!(error = %format!("{e:#}"), "runtime config reload failed");
                }
            }
        });
    }

    /// Stops the refresher task.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    fn raw(&self, key: &str) -> i64 {
        let Some(e) = entry(key) else {
            tracing::error!(key, "unknown runtime config key");
            return 0;
        };
        self.overrides.read().get(e.key).map(|o| o.value).unwrap_or(e.default)
    }

    /// An integer tunable (0 for an unknown key, which is logged).
    pub fn int(&self, key: &str) -> i64 {
        self.raw(key)
    }

    /// A boolean tunable (false for an unknown key).
    pub fn flag(&self, key: &str) -> bool {
        self.raw(key) != 0
    }

    /// `(max, window_seconds)` of the `<prefix>_max` / `<prefix>_window_seconds` pair.
    pub fn rate_limit(&self, prefix: &str) -> (u32, u32) {
        let snap = self.overrides.read().clone();
        let get = |suffix: &str| -> i64 {
            let key = format!("{prefix}_{suffix}");
            match entry(&key) {
                Some(e) => snap.get(e.key).map(|o| o.value).unwrap_or(e.default),
                None => 0,
            }
        };
        (clamp_u32(get("max")), clamp_u32(get("window_seconds")))
    }

    /// Every tunable with its current value.
    pub fn items(&self) -> Vec<Item> {
        let snap = self.overrides.read().clone();
        REGISTRY.iter().map(|e| item(e, snap.get(e.key))).collect()
    }

    /// One tunable (404 for an unknown key).
    pub fn item(&self, key: &str) -> ApiResult<Item> {
        let e = entry(key).ok_or_else(|| ApiError::not_found(format!("unknown config key {key:?}")))?;
        Ok(item(e, self.overrides.read().get(e.key)))
    }

    /// Sets a tunable (validated), audits the change and reloads this instance.
    pub async fn set(&self, key: &str, value: &Value, by_user: &str) -> ApiResult<Item> {
        let e = entry(key).ok_or_else(|| ApiError::not_found(format!("unknown config key {key:?}")))?;
        let v = validate(e, value).map_err(|m| ApiError::validation("value", m))?;
        let old = self.current_json(e).await?;
        let now = self.clock.now_ms();
        let text = to_json(e.kind, v).to_string();
        let mut tx = self.db.pool.begin().await?;
        sqlx::query(
            "INSERT INTO runtime_config (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(e.key)
        .bind(&text)
        .bind(now)
        .bind(by_user)
        .execute(&mut *tx)
        .await?;
        audit(&mut tx, e.key, old.as_deref(), Some(&text), by_user, now).await?;
        tx.commit().await?;
        self.reload().await?;
        self.item(key)
    }

    /// Removes an override (back to the default); idempotent, audited when it changes anything.
    pub async fn reset(&self, key: &str, by_user: &str) -> ApiResult<Item> {
        let e = entry(key).ok_or_else(|| ApiError::not_found(format!("unknown config key {key:?}")))?;
        let old = self.current_json(e).await?;
        if old.is_some() {
            let now = self.clock.now_ms();
            let mut tx = self.db.pool.begin().await?;
            sqlx::query("DELETE FROM runtime_config WHERE key = $1").bind(e.key).execute(&mut *tx).await?;
            audit(&mut tx, e.key, old.as_deref(), None, by_user, now).await?;
            tx.commit().await?;
        }
        self.reload().await?;
        self.item(key)
    }

    async fn current_json(&self, e: &Entry) -> ApiResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM runtime_config WHERE key = $1")
            .bind(e.key)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<String, _>("value")?),
            None => None,
        })
    }

    /// The audit log, newest first (`changed_at DESC, id DESC`), optionally for one key,
    /// strictly after the keyset position `after` = `(changed_at, id)`; at most `limit` rows.
    pub async fn audit_log(
        &self,
        key: Option<&str>,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> ApiResult<Vec<AuditEntry>> {
        let mut sql = "SELECT id, key, old_value, new_value, changed_by, changed_at FROM runtime_config_audit WHERE ($1 = '' OR key = $1)".to_owned();
        if after.is_some() {
            sql.push_str(" AND ");
            sql.push_str(&crate::pagination::keyset_desc("changed_at", "id", 3));
        }
        sql.push_str(" ORDER BY changed_at DESC, id DESC LIMIT $2");
        let mut q = sqlx::query(&sql).bind(key.unwrap_or("").to_owned()).bind(i64::from(limit));
        if let Some((at, id)) = after {
            q = q.bind(at).bind(id);
        }
        let rows = q.fetch_all(&self.db.pool).await?;
        let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str::<Value>(&s).ok());
        rows.into_iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    key: r.try_get("key")?,
                    old_value: parse(r.try_get("old_value")?),
                    new_value: parse(r.try_get("new_value")?),
                    changed_by: r.try_get("changed_by")?,
                    changed_at: r.try_get("changed_at")?,
                })
            })
            .collect()
    }
}

/// One audited change.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: String,
    pub key: String,
    /// `null`: the default was in effect.
    pub old_value: Option<Value>,
    /// `null`: reset to the default.
    pub new_value: Option<Value>,
    pub changed_by: Option<String>,
    pub changed_at: i64,
}

async fn audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key: &str,
    old: Option<&str>,
    new: Option<&str>,
    by: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO runtime_config_audit (id, key, old_value, new_value, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(new_id("rca"))
        .bind(key)
        .bind(old)
        .bind(new)
        .bind(by)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn item(e: &'static Entry, o: Option<&Override>) -> Item {
    let (min_value, max_value) = match e.kind {
        Kind::Int { min, max } => (Some(min), Some(max)),
        Kind::Bool => (None, None),
    };
    Item {
        key: e.key,
        category: e.category,
        kind: match e.kind {
            Kind::Int { .. } => "int",
            Kind::Bool => "bool",
        },
        description: e.description,
        default: to_json(e.kind, e.default),
        value: to_json(e.kind, o.map(|o| o.value).unwrap_or(e.default)),
        is_default: o.is_none(),
        min_value,
        max_value,
        updated_at: o.map(|o| o.updated_at),
        updated_by: o.and_then(|o| o.updated_by.clone()),
    }
}

fn clamp_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// A new random id: `<prefix>_` + 16 hex chars (time-ordered: 12 hex ms + 4 random would
/// leak nothing but is not needed; ids are only unique keys).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for e in REGISTRY {
            assert!(seen.insert(e.key), "duplicate {}", e.key);
            if let Kind::Int { min, max } = e.kind {
                assert!(min <= e.default && e.default <= max, "{} default out of range", e.key);
            }
            if e.key.ends_with("_max") {
                let w = e.key.trim_end_matches("_max").to_owned() + "_window_seconds";
                assert!(entry(&w).is_some(), "{} has no window", e.key);
            }
        }
    }

    #[test]
    fn validation_is_strict() {
        let e = entry("api_rate_limit_max").unwrap();
        assert_eq!(validate(e, &json!(5)), Ok(5));
        assert!(validate(e, &json!(true)).is_err());
        assert!(validate(e, &json!(0)).is_err());
        assert!(validate(e, &json!("5")).is_err());
        assert!(validate(e, &json!(5.5)).is_err());
        let f = entry("feature_signup_enabled").unwrap();
        assert_eq!(validate(f, &json!(false)), Ok(0));
        assert!(validate(f, &json!(1)).is_err());
    }
}
