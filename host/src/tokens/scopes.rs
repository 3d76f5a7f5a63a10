//! The scope registry: the `scopes` table (permanent bits, never renumbered or
//! reused) mirrored in memory for the per-request `bit_of` lookup, and
//! registration of a plugin's new scopes at the next free bit.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use parking_lot::RwLock;
use sqlx::Row;

use crate::clock::Clock;
use crate::db::Db;
use crate::principal::ScopeSet;

/// Highest usable bit: masks are `u64`.
pub const MAX_BIT: u32 = 63;

/// One registry row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScopeInfo {
    pub name: String,
    pub bit: u32,
    pub resource: String,
    pub description: String,
    /// The plugin that registered it (`None`: the original registry).
    pub plugin: Option<String>,
    #[serde(skip)]
    pub retired: bool,
}

#[derive(Debug, Default)]
struct Snapshot {
    /// Every row, ordered by bit.
    all: Vec<ScopeInfo>,
    /// Live (non-retired) names → bit.
    by_name: HashMap<String, u32>,
}

/// The in-memory registry over the `scopes` table.
pub struct ScopeRegistry {
    db: Db,
    clock: Clock,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Serialises registrations within this process.
    register_lock: tokio::sync::Mutex<()>,
}

/// True for a well-formed scope name: `<resource>:<action>`, each `[a-z0-9_-]+`
/// (a dot is allowed in the resource for nested plugins).
pub fn is_valid_name(name: &str) -> bool {
    let Some((resource, action)) = name.split_once(':') else {
        return false;
    };
    let ok = |s: &str, dots: bool| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-' || (dots && b == b'.'))
    };
    ok(resource, true) && ok(action, false)
}

impl ScopeRegistry {
    /// Loads the registry from the database.
    pub async fn load(db: &Db, clock: &Clock) -> anyhow::Result<Self> {
        let reg = Self {
            db: db.clone(),
            clock: clock.clone(),
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            register_lock: tokio::sync::Mutex::new(()),
        };
        reg.reload().await?;
        Ok(reg)
    }

    /// Re-reads the table (picks up scopes registered by other instances).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let rows = sqlx::query("SELECT bit, name, resource, description, plugin, retired FROM scopes ORDER BY bit")
            .fetch_all(&self.db.pool)
            .await
            .context("loading the scope registry")?;
        let mut snap = Snapshot::default();
        for row in rows {
            let bit: i64 = row.try_get("bit")?;
            let Ok(bit) = u32::try_from(bit) else {
                continue;
            };
            if bit > MAX_BIT {
                continue;
            }
            let info = ScopeInfo {
                name: row.try_get("name")?,
                bit,
                resource: row.try_get("resource")?,
                description: row.try_get("description")?,
                plugin: row.try_get("plugin")?,
                retired: row.try_get::<i64, _>("retired")? != 0,
            };
            if !info.retired {
                snap.by_name.insert(info.name.clone(), bit);
            }
            snap.all.push(info);
        }
        *self.snapshot.write() = Arc::new(snap);
        Ok(())
    }

    /// The permanent bit of a live scope (hot path: one read lock, no allocation).
    pub fn bit_of(&self, name: &str) -> Option<u32> {
        self.snapshot.read().by_name.get(name).copied()
    }

    /// Live scopes, by bit.
    pub fn list(&self) -> Vec<ScopeInfo> {
        let snap = self.snapshot.read().clone();
        snap.all.iter().filter(|s| !s.retired).cloned().collect()
    }

    /// Names of the scopes in a set (`["*"]` for all), by bit.
    pub fn names(&self, set: ScopeSet) -> Vec<String> {
        match set {
            ScopeSet::All => vec!["*".to_owned()],
            ScopeSet::Mask(m) => {
                let snap = self.snapshot.read().clone();
                snap.all.iter().filter(|s| m & (1u64 << s.bit) != 0).map(|s| s.name.clone()).collect()
            }
        }
    }

    /// Resolves requested scope names to a set. `["*"]` is every scope; an
    /// empty list or an unknown name is an error `(index, message)`.
    pub fn resolve(&self, names: &[String]) -> Result<ScopeSet, (Option<usize>, String)> {
        if names.is_empty() {
            return Err((None, "give at least one scope, or [\"*\"] for all scopes".into()));
        }
        if names.iter().any(|n| n == "*") {
            if names.len() == 1 {
                return Ok(ScopeSet::All);
            }
            let i = names.iter().position(|n| n == "*").unwrap_or(0);
            return Err((Some(i), "\"*\" (all scopes) must be the only entry".into()));
        }
        let snap = self.snapshot.read().clone();
        let mut mask = 0u64;
        for (i, n) in names.iter().enumerate() {
            match snap.by_name.get(n.as_str()) {
                Some(&bit) => mask |= 1u64 << bit,
                None => return Err((Some(i), format!("unknown scope {n:?}"))),
            }
        }
        Ok(ScopeSet::Mask(mask))
    }

    /// Registers a plugin's scopes `(name, description)`: a name already in
    /// the registry keeps its bit (a retired one is revived); a new name gets
    /// the next free bit (one above the highest ever used, so gaps are never
    /// reused). Safe against concurrent registration by other instances.
    pub async fn ensure_scopes(&self, plugin: &str, scopes: &[(String, String)]) -> anyhow::Result<()> {
        for (name, _) in scopes {
            if !is_valid_name(name) {
                bail!("plugin {plugin}: invalid scope name {name:?} (expected <resource>:<action>, lowercase)");
            }
        }
        let _guard = self.register_lock.lock().await;
        self.reload().await?;
        for (name, description) in scopes {
            self.ensure_one(plugin, name, description).await?;
        }
        self.reload().await
    }

    async fn ensure_one(&self, plugin: &str, name: &str, description: &str) -> anyhow::Result<()> {
        let resource = name.split(':').next().unwrap_or(name);
        for _attempt in 0..8 {
            let existing = sqlx::query("SELECT bit, retired, plugin FROM scopes WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.db.pool)
                .await?;
            if let Some(row) = existing {
                let retired: i64 = row.try_get("retired")?;
                let owner: Option<String> = row.try_get("plugin")?;
                if retired != 0 || (owner.as_deref() == Some(plugin) && !description.is_empty()) {
                    sqlx::query("UPDATE scopes SET retired = 0, description = $1 WHERE name = $2")
                        .bind(description)
                        .bind(name)
                        .execute(&self.db.pool)
                        .await?;
                }
                return Ok(());
            }
            let max: Option<i64> =
                sqlx::query("SELECT MAX(bit) AS m FROM scopes").fetch_one(&self.db.pool).await?.try_get("m")?;
            let next = max.map_or(0, |m| m + 1);
            if next > i64::from(MAX_BIT) {
                bail!("plugin {plugin}: the scope registry is full (64 bits); cannot register {name:?}");
            }
            let inserted = sqlx::query(
                "INSERT INTO scopes (bit, name, resource, description, plugin, retired, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6)",
            )
            .bind(next)
            .bind(name)
            .bind(resource)
            .bind(description)
            .bind(plugin)
            .bind(self.clock.now_ms())
            .execute(&self.db.pool)
            .await;
            match inserted {
                Ok(_) => {
                    tracing::info!(plugin, scope = name, bit = next, "registered scope");
                    return Ok(());
                }
                // Another instance took this bit or this name first: look again.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                Err(e) => return Err(e).context("registering a scope"),
            }
        }
        bail!("plugin {plugin}: could not register scope {name:?} (contention)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names() {
        for ok in ["rotations:read", "mods:write", "my-plugin:do_it", "a.b:c", "x1:y2"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "rotations", ":read", "rotations:", "Rotations:read", "a:b:c", "a b:c", "*", "a:b.c"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
