//! Database access for `api_tokens` (portable SQL over the `AnyPool`): rows,
//! inserts, lookups by HMAC, ownership-scoped reads and updates, usage flushes
//! and the inactivity sweep.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::Db;
use crate::principal::ScopeSet;

/// One `api_tokens` row.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub user_id: String,
    pub tenant_id: String,
    pub name: String,
    pub prefix: String,
    pub token_hash: String,
    pub prev_hash: Option<String>,
    pub prev_expires_at: Option<i64>,
    pub scopes: ScopeSet,
    pub allowed_ips: Vec<String>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
    pub request_count: i64,
}

const COLUMNS: &str = "id, user_id, tenant_id, name, prefix, token_hash, prev_hash, prev_expires_at, all_scopes, scopes, \
     allowed_ips, expires_at, created_at, last_used_at, rotated_at, revoked_at, revoke_reason, request_count";

fn from_row(row: &AnyRow) -> Result<TokenRow, sqlx::Error> {
    let all: i64 = row.try_get("all_scopes")?;
    let mask: i64 = row.try_get("scopes")?;
    let ips: String = row.try_get("allowed_ips")?;
    Ok(TokenRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        token_hash: row.try_get("token_hash")?,
        prev_hash: row.try_get("prev_hash")?,
        prev_expires_at: row.try_get("prev_expires_at")?,
        // The mask is stored as the two's-complement i64 of the u64.
        scopes: if all != 0 { ScopeSet::All } else { ScopeSet::Mask(mask as u64) },
        allowed_ips: serde_json::from_str(&ips).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        rotated_at: row.try_get("rotated_at")?,
        revoked_at: row.try_get("revoked_at")?,
        revoke_reason: row.try_get("revoke_reason")?,
        request_count: row.try_get("request_count")?,
    })
}

fn scope_columns(s: ScopeSet) -> (i64, i64) {
    match s {
        ScopeSet::All => (1, 0),
        ScopeSet::Mask(m) => (0, m as i64),
    }
}

/// Table access.
#[derive(Debug, Clone)]
pub struct Store {
    pub db: Db,
}

/// The owner of a token, as verification needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub active: bool,
    pub is_master: bool,
}

impl Store {
    pub async fn insert(&self, t: &TokenRow) -> Result<(), sqlx::Error> {
        let (all, mask) = scope_columns(t.scopes);
        let ips = serde_json::to_string(&t.allowed_ips).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, tenant_id, name, prefix, token_hash, all_scopes, scopes, allowed_ips, \
             expires_at, created_at, request_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0)",
        )
        .bind(&t.id)
        .bind(&t.user_id)
        .bind(&t.tenant_id)
        .bind(&t.name)
        .bind(&t.prefix)
        .bind(&t.token_hash)
        .bind(all)
        .bind(mask)
        .bind(ips)
        .bind(t.expires_at)
        .bind(t.created_at)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// The token whose current or previous secret has this HMAC.
    pub async fn find_by_hash(&self, hash_hex: &str) -> Result<Option<TokenRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1 OR prev_hash = $1");
        let row = sqlx::query(&sql).bind(hash_hex).fetch_optional(&self.db.pool).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A user's token by id (`None` if missing or someone else's).
    pub async fn get_for_user(&self, id: &str, user_id: &str) -> Result<Option<TokenRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1 AND user_id = $2");
        let row = sqlx::query(&sql).bind(id).bind(user_id).fetch_optional(&self.db.pool).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A token by id.
    pub async fn get(&self, id: &str) -> Result<Option<TokenRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.db.pool).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A user's tokens in a tenant, newest first (revoked ones included).
    pub async fn list_for_user(&self, user_id: &str, tenant_id: &str) -> Result<Vec<TokenRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE user_id = $1 AND tenant_id = $2 ORDER BY created_at DESC, id DESC"
        );
        let rows = sqlx::query(&sql).bind(user_id).bind(tenant_id).fetch_all(&self.db.pool).await?;
        rows.iter().map(from_row).collect()
    }

    /// How many tokens a user created since `since_ms`, and the oldest such creation.
    pub async fn created_since(&self, user_id: &str, since_ms: i64) -> Result<(i64, Option<i64>), sqlx::Error> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM api_tokens WHERE user_id = $1 AND created_at > $2",
        )
        .bind(user_id)
        .bind(since_ms)
        .fetch_one(&self.db.pool)
        .await?;
        Ok((row.try_get("n")?, row.try_get("oldest")?))
    }

    pub async fn update_meta(&self, id: &str, name: &str, allowed_ips: &[String]) -> Result<(), sqlx::Error> {
        let ips = serde_json::to_string(allowed_ips).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query("UPDATE api_tokens SET name = $1, allowed_ips = $2 WHERE id = $3")
            .bind(name)
            .bind(ips)
            .bind(id)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Installs a new secret; the old one stays valid until `prev_expires_at` when given.
    pub async fn rotate(
        &self,
        id: &str,
        new_hash: &str,
        new_prefix: &str,
        keep_old_until: Option<i64>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let sql = if keep_old_until.is_some() {
            "UPDATE api_tokens SET prev_hash = token_hash, prev_expires_at = $1, token_hash = $2, prefix = $3, rotated_at = $4 WHERE id = $5"
        } else {
            "UPDATE api_tokens SET prev_hash = NULL, prev_expires_at = $1, token_hash = $2, prefix = $3, rotated_at = $4 WHERE id = $5"
        };
        sqlx::query(sql)
            .bind(keep_old_until)
            .bind(new_hash)
            .bind(new_prefix)
            .bind(now)
            .bind(id)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Revokes unless already revoked (the first reason is kept). True if this call revoked it.
    pub async fn revoke(&self, id: &str, reason: &str, now: i64) -> Result<bool, sqlx::Error> {
        let res = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1, revoke_reason = $2, prev_hash = NULL, prev_expires_at = NULL \
             WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(&self.db.pool)
        .await?;
        Ok(res.rows_affected() > 0)
    }

    /// Adds flushed usage.
    pub async fn add_usage(&self, id: &str, count: u64, last_ms: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE api_tokens SET request_count = request_count + $1, \
             last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < $2 THEN $2 ELSE last_used_at END WHERE id = $3",
        )
        .bind(i64::try_from(count).unwrap_or(i64::MAX))
        .bind(last_ms)
        .bind(id)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Revokes live tokens with no activity (use, creation or rotation) since
    /// `cutoff`; returns their ids.
    pub async fn sweep_inactive(&self, cutoff: i64, now: i64, reason: &str) -> Result<Vec<String>, sqlx::Error> {
        let cond = "revoked_at IS NULL AND COALESCE(last_used_at, created_at) < $1 AND created_at < $1 \
                    AND (rotated_at IS NULL OR rotated_at < $1)";
        let ids: Vec<String> = sqlx::query(&format!("SELECT id FROM api_tokens WHERE {cond}"))
            .bind(cutoff)
            .fetch_all(&self.db.pool)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let mut revoked = Vec::with_capacity(ids.len());
        for id in ids {
            let res = sqlx::query(&format!(
                "UPDATE api_tokens SET revoked_at = $2, revoke_reason = $3, prev_hash = NULL, prev_expires_at = NULL \
                 WHERE id = $4 AND {cond}"
            ))
            .bind(cutoff)
            .bind(now)
            .bind(reason)
            .bind(&id)
            .execute(&self.db.pool)
            .await?;
            if res.rows_affected() > 0 {
                revoked.push(id);
            }
        }
        Ok(revoked)
    }

    /// Ends a rotation grace period now (the previous secret stops working).
    pub async fn end_grace(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE api_tokens SET prev_hash = NULL, prev_expires_at = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Clears previous secrets whose grace period has ended.
    pub async fn clear_expired_grace(&self, now: i64) -> Result<u64, sqlx::Error> {
        let res = sqlx::query("UPDATE api_tokens SET prev_hash = NULL, prev_expires_at = NULL WHERE prev_hash IS NOT NULL AND prev_expires_at <= $1")
            .bind(now)
            .execute(&self.db.pool)
            .await?;
        Ok(res.rows_affected())
    }

    /// The owner of a token (`None`: the user no longer exists).
    pub async fn owner(&self, user_id: &str) -> Result<Option<Owner>, sqlx::Error> {
        // users table: see migrations/*/0002 (accounts).
        let row = sqlx::query("SELECT is_active, is_master FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.db.pool)
            .await?;
        match row {
            Some(r) => Ok(Some(Owner {
                active: r.try_get::<i64, _>("is_active")? != 0,
                is_master: r.try_get::<i64, _>("is_master")? != 0,
            })),
            None => Ok(None),
        }
    }
}
