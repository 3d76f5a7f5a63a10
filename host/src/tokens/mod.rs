//! API tokens (`/tokens/*`): format and checksum ([`format`]), HMAC storage
//! ([`store`]), the scope registry ([`scopes`]), the verification hot path and
//! its cache ([`cache`]), rotation, revocation, the inactivity sweep
//! ([`sweep`]) and GitHub secret scanning ([`scanning`]). Routes: [`routes`].

pub mod cache;
pub mod format;
pub mod routes;
pub mod scanning;
pub mod scopes;
pub mod store;
pub mod sweep;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dashmap::DashMap;
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use sha2::Sha256;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::principal::{Principal, ScopeSet, Via};

use cache::{CachedToken, Key, TokenCache, UsageBuffer};
pub use routes::routes;
use scopes::ScopeRegistry;
use store::{Store, TokenRow};

/// Days of inactivity after which the sweep revokes a token.
pub const INACTIVITY_DAYS: i64 = 182;
/// Longest rotation grace period, seconds.
pub const MAX_GRACE_SECONDS: i64 = 86_400;
const DAY_MS: i64 = 86_400_000;

/// The API-token service.
pub struct Tokens {
    store: Store,
    clock: Clock,
    /// HMAC-SHA256 keyed by the server secret; cloned per use.
    mac: Hmac<Sha256>,
    scopes: ScopeRegistry,
    cache: TokenCache,
    usage: UsageBuffer,
    lookups: AtomicU64,
    db_lookups: AtomicU64,
    scanning: scanning::KeyCache,
    github_keys_url: String,
    /// The periodic usage flusher runs while this is set (tests turn it off).
    auto_flush: AtomicBool,
    /// Invalidations for the other instances (drained by `crate::bus`).
    pub outbox: crate::bus::Outbox,
    /// Serialises "count today's creations, then insert" on this instance.
    creation: tokio::sync::Mutex<()>,
    /// Token rows by id for read-mostly views of the presenting token (`/v1/whoami`):
    /// (loaded at, row). Same staleness bound and invalidation as the verification cache.
    rows: DashMap<String, (i64, Arc<TokenRow>)>,
}

/// A token just created or rotated: the secret is in here once.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub row: TokenRow,
    pub secret: String,
}

enum Probe {
    Done(ApiResult<Principal>),
    Miss(Key),
}

fn invalid() -> ApiError {
    ApiError::new(ErrorCode::InvalidToken, "invalid API token")
}

/// Parses an allowlist entry (exact IP or CIDR) to its network.
pub fn parse_ip_entry(s: &str) -> Option<IpNet> {
    let s = s.trim();
    if s.contains('/') {
        s.parse::<IpNet>().ok().map(|n| canonical_net(n.trunc()))
    } else {
        s.parse::<IpAddr>().ok().map(|ip| canonical_net(IpNet::from(ip.to_canonical())))
    }
}

/// IPv4-mapped IPv6 networks are stored as IPv4.
fn canonical_net(n: IpNet) -> IpNet {
    match n {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map(IpNet::V4).unwrap_or(n),
            None => n,
        },
        other => other,
    }
}

/// The canonical text of an entry: a bare address for a single host.
pub fn entry_text(n: &IpNet) -> String {
    if n.prefix_len() == n.max_prefix_len() { n.addr().to_string() } else { n.to_string() }
}

impl Tokens {
    /// Builds the service and loads the scope registry.
    pub async fn new(config: &Config, db: &Db, clock: &Clock) -> anyhow::Result<Self> {
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(config.secret_bytes())
            .map_err(|_| anyhow::anyhow!("the server secret cannot key HMAC-SHA256"))?;
        Ok(Self {
            store: Store { db: db.clone() },
            clock: clock.clone(),
            mac,
            scopes: ScopeRegistry::load(db, clock).await?,
            cache: TokenCache::new(cache::DEFAULT_CAPACITY),
            usage: UsageBuffer::default(),
            lookups: AtomicU64::new(0),
            db_lookups: AtomicU64::new(0),
            scanning: scanning::KeyCache::default(),
            github_keys_url: config.github_keys_url.clone(),
            auto_flush: AtomicBool::new(true),
            outbox: crate::bus::Outbox::default(),
            creation: tokio::sync::Mutex::new(()),
            rows: DashMap::new(),
        })
    }

    /// The scope registry.
    pub fn scopes(&self) -> &ScopeRegistry {
        &self.scopes
    }

    /// Registers a plugin's scopes (see [`ScopeRegistry::ensure_scopes`]).
    pub async fn ensure_scopes(&self, plugin: &str, scopes: &[(String, String)]) -> anyhow::Result<()> {
        self.scopes.ensure_scopes(plugin, scopes).await
    }

    /// The permanent bit of a live scope (in memory; used on every plugin request).
    pub fn bit_of(&self, name: &str) -> Option<u32> {
        self.scopes.bit_of(name)
    }

    /// Cache/database lookups performed by verification (a bad checksum never gets one).
    pub fn lookup_count(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    /// Database lookups performed by verification (cache misses).
    pub fn db_lookup_count(&self) -> u64 {
        self.db_lookups.load(Ordering::Relaxed)
    }

    /// Drops the cached verification of a token on this instance (revocation,
    /// rotation, edits) and tells the other instances through the bus.
    pub fn invalidate(&self, token_id: &str) {
        self.invalidate_local(token_id);
        self.outbox.send(crate::bus::BusMessage::TokenInvalidated { token_id: token_id.to_owned() });
    }

    /// [`Tokens::invalidate`] on this instance only (applying a bus message).
    pub fn invalidate_local(&self, token_id: &str) {
        self.cache.invalidate_token(token_id);
        self.rows.remove(token_id);
    }

    /// Drops the cached verification of every token of a user (deletion,
    /// deactivation, master change).
    pub fn invalidate_user(&self, user_id: &str) {
        self.invalidate_user_local(user_id);
        self.outbox.send(crate::bus::BusMessage::UserInvalidated { user_id: user_id.to_owned() });
    }

    /// [`Tokens::invalidate_user`] on this instance only (applying a bus message).
    pub fn invalidate_user_local(&self, user_id: &str) {
        self.cache.invalidate_user(user_id);
        self.rows.retain(|_, (_, row)| row.user_id != user_id);
    }

    /// Drops the whole verification cache on this instance (bus resync: messages
    /// may have been missed).
    pub fn clear_local(&self) {
        self.cache.clear();
        self.rows.clear();
    }

    /// A token's row, from memory when loaded less than [`cache::ENTRY_TTL_MS`] ago
    /// (every change to a token invalidates it here and on the other instances).
    pub async fn row_cached(&self, token_id: &str) -> ApiResult<Option<Arc<TokenRow>>> {
        let now = self.clock.now_ms();
        if let Some(e) = self.rows.get(token_id)
            && cache::is_fresh(e.0, now)
        {
            return Ok(Some(e.1.clone()));
        }
        let Some(row) = self.store.get(token_id).await? else {
            return Ok(None);
        };
        let row = Arc::new(row);
        if self.rows.len() >= cache::DEFAULT_CAPACITY {
            self.rows.clear();
        }
        self.rows.insert(token_id.to_owned(), (now, row.clone()));
        Ok(Some(row))
    }

    /// HMAC of the full presented string.
    #[inline]
    fn hmac(&self, raw: &str) -> Key {
        let mut m = self.mac.clone();
        m.update(raw.as_bytes());
        Key(m.finalize().into_bytes().into())
    }

    /// Hex HMAC, as stored.
    pub fn hash_hex(&self, raw: &str) -> String {
        hex::encode(self.hmac(raw).0)
    }

    /// The cache-hit fast path: `None` when the token must be loaded from the
    /// database (not cached, or the entry is stale). Rejects a malformed string or
    /// a bad checksum before any lookup.
    pub fn verify_cached(&self, raw: &str, ip: IpAddr) -> Option<ApiResult<Principal>> {
        match self.probe(raw, ip) {
            Probe::Done(r) => Some(r),
            Probe::Miss(_) => None,
        }
    }

    #[inline]
    fn probe(&self, raw: &str, ip: IpAddr) -> Probe {
        if !matches!(format::check(raw), format::Check::Valid { .. }) {
            return Probe::Done(Err(invalid()));
        }
        let key = self.hmac(raw);
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let now = self.clock.now_ms();
        match self.cache.get(&key) {
            Some(entry) if cache::is_fresh(entry.loaded_at, now) => Probe::Done(self.admit(&entry, ip, now)),
            _ => Probe::Miss(key),
        }
    }

    /// Verifies a presented API token for a client IP (the hot path): the
    /// offline checksum check, then the cache, then (on a miss) the database.
    pub async fn verify(&self, raw: &str, ip: IpAddr) -> ApiResult<Principal> {
        let key = match self.probe(raw, ip) {
            Probe::Done(r) => return r,
            Probe::Miss(key) => key,
        };
        let epoch = self.cache.epoch();
        let entry = self.load(key).await?.ok_or_else(invalid)?;
        let result = self.admit(&entry, ip, self.clock.now_ms());
        self.cache.insert(key, entry, epoch);
        result
    }

    /// Reads a token (and its owner) from the database into a cache entry.
    async fn load(&self, key: Key) -> ApiResult<Option<Arc<CachedToken>>> {
        self.db_lookups.fetch_add(1, Ordering::Relaxed);
        let hex_key = hex::encode(key.0);
        let Some(row) = self.store.find_by_hash(&hex_key).await? else {
            return Ok(None);
        };
        let owner = self.store.owner(&row.user_id).await?;
        let grace_until = if row.token_hash == hex_key { None } else { Some(row.prev_expires_at.unwrap_or(i64::MIN)) };
        let networks: Vec<IpNet> = row.allowed_ips.iter().filter_map(|s| parse_ip_entry(s)).collect();
        Ok(Some(Arc::new(CachedToken {
            usage: self.usage.cell(&row.id),
            token_id: row.id,
            user_id: row.user_id,
            tenant_id: row.tenant_id,
            is_master: owner.is_some_and(|o| o.is_master),
            owner_ok: owner.is_some_and(|o| o.active),
            scopes: row.scopes,
            expires_at: row.expires_at,
            revoked: row.revoked_at.is_some(),
            grace_until,
            networks: networks.into_boxed_slice(),
            loaded_at: self.clock.now_ms(),
        })))
    }

    /// The checks on a loaded token, in order: owner, revoked, rotated-out, expired, IP.
    #[inline]
    fn admit(&self, e: &CachedToken, ip: IpAddr, now: i64) -> ApiResult<Principal> {
        if !e.owner_ok {
            return Err(invalid());
        }
        if e.revoked {
            return Err(ApiError::new(ErrorCode::TokenRevoked, "this API token was revoked"));
        }
        if e.grace_until.is_some_and(|until| now >= until) {
            return Err(invalid());
        }
        if e.expires_at.is_some_and(|exp| now >= exp) {
            return Err(ApiError::new(ErrorCode::TokenExpired, "this API token has expired"));
        }
        if !e.networks.is_empty() {
            let ip = ip.to_canonical();
            if !e.networks.iter().any(|n| n.contains(&ip)) {
                return Err(ApiError::new(
                    ErrorCode::IpNotAllowed,
                    "requests from this IP are not allowed for this token",
                ));
            }
        }
        e.usage.record(now);
        Ok(Principal {
            user_id: e.user_id.clone(),
            is_master: e.is_master,
            via: Via::Token { token_id: e.token_id.clone(), tenant_id: e.tenant_id.clone(), scopes: e.scopes },
        })
    }

    /// Held while checking the daily creation cap and inserting, so concurrent
    /// requests on this instance cannot both pass the check.
    pub async fn creation_guard(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.creation.lock().await
    }

    /// Creates a token (validation is the caller's; see `routes`).
    pub async fn create(
        &self,
        user_id: &str,
        tenant_id: &str,
        name: &str,
        scopes: ScopeSet,
        allowed_ips: Vec<String>,
        expires_in_days: Option<i64>,
    ) -> anyhow::Result<IssuedToken> {
        let now = self.clock.now_ms();
        let secret = format::generate();
        let row = TokenRow {
            id: format!("tok_{}", hex::encode(rand::random::<[u8; 12]>())),
            user_id: user_id.to_owned(),
            tenant_id: tenant_id.to_owned(),
            name: name.to_owned(),
            prefix: format::display_prefix(&secret),
            token_hash: self.hash_hex(&secret),
            prev_hash: None,
            prev_expires_at: None,
            scopes,
            allowed_ips,
            expires_at: expires_in_days.map(|d| now + d * DAY_MS),
            created_at: now,
            last_used_at: None,
            rotated_at: None,
            revoked_at: None,
            revoke_reason: None,
            request_count: 0,
        };
        self.store.insert(&row).await?;
        Ok(IssuedToken { row, secret })
    }

    /// Issues a new secret for a token; the old one keeps working for
    /// `grace_seconds` when given (0 or `None`: it stops now).
    pub async fn rotate(&self, token_id: &str, grace_seconds: Option<i64>) -> anyhow::Result<IssuedToken> {
        let now = self.clock.now_ms();
        let secret = format::generate();
        let keep_until = grace_seconds.filter(|&g| g > 0).map(|g| now + g * 1000);
        self.store.rotate(token_id, &self.hash_hex(&secret), &format::display_prefix(&secret), keep_until, now).await?;
        self.invalidate(token_id);
        let row = self.store.get(token_id).await?.ok_or_else(|| anyhow::anyhow!("token vanished during rotation"))?;
        Ok(IssuedToken { row, secret })
    }

    /// Revokes a token (idempotent: the first reason is kept). True if this call revoked it.
    pub async fn revoke(&self, token_id: &str, reason: &str) -> anyhow::Result<bool> {
        let done = self.store.revoke(token_id, reason, self.clock.now_ms()).await?;
        self.invalidate(token_id);
        Ok(done)
    }

    /// Table access (routes and scanning).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A row with the usage not yet flushed added in.
    pub fn with_pending_usage(&self, mut row: TokenRow) -> TokenRow {
        let (n, last) = self.usage.pending(&row.id);
        row.request_count = row.request_count.saturating_add(i64::try_from(n).unwrap_or(i64::MAX));
        if let Some(last) = last {
            row.last_used_at = Some(row.last_used_at.map_or(last, |l| l.max(last)));
        }
        row
    }

    /// Turns the periodic usage flush on or off (shutdown and the sweep still flush).
    pub fn set_auto_flush(&self, on: bool) {
        self.auto_flush.store(on, Ordering::Relaxed);
    }

    /// Whether the periodic usage flush runs.
    pub fn auto_flush(&self) -> bool {
        self.auto_flush.load(Ordering::Relaxed)
    }

    /// Writes the buffered usage counters (`request_count`, `last_used_at`).
    pub async fn flush_usage(&self) -> anyhow::Result<usize> {
        let pending = self.usage.drain();
        let n = pending.len();
        let mut failed = None;
        for (id, count, last) in pending {
            if let Err(e) = self.store.add_usage(&id, count, last).await {
                self.usage.restore(&id, count, last);
                failed = Some(e);
            }
        }
        match failed {
            Some(e) => Err(anyhow::Error::from(e).context("flushing token usage")),
            None => Ok(n),
        }
    }

    /// Revokes tokens unused for [`INACTIVITY_DAYS`]; returns how many.
    pub async fn sweep_inactive(&self) -> anyhow::Result<u64> {
        self.flush_usage().await?;
        let now = self.clock.now_ms();
        let cutoff = now - INACTIVITY_DAYS * DAY_MS;
        let ids = self
            .store
            .sweep_inactive(cutoff, now, &format!("auto-revoked: inactive for {INACTIVITY_DAYS} days"))
            .await?;
        for id in &ids {
            self.invalidate(id);
        }
        self.store.clear_expired_grace(now).await?;
        Ok(ids.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_entries_are_canonical() {
        let text = |s: &str| parse_ip_entry(s).map(|n| entry_text(&n));
        assert_eq!(text("1.2.3.4").as_deref(), Some("1.2.3.4"));
        assert_eq!(text(" 10.1.2.3/8 ").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(text("0:0:0:0:0:0:0:1").as_deref(), Some("::1"));
        assert_eq!(text("2001:DB8::5/32").as_deref(), Some("2001:db8::/32"));
        assert_eq!(text("::ffff:1.2.3.4").as_deref(), Some("1.2.3.4"));
        assert_eq!(text("::ffff:10.0.0.0/104").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(text("1.2.3.4/32").as_deref(), Some("1.2.3.4"));
        for bad in ["", "1.2.3", "1.2.3.4/33", "::1/129", "example.com", "1.2.3.4/", "/8"] {
            assert_eq!(text(bad), None, "{bad:?}");
        }
    }
}
