//! The in-process verification cache (keyed by the token's HMAC, bounded) and
//! the in-memory usage counters (`request_count`, `last_used_at`) that are
//! flushed to the database in batches instead of on every request.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use dashmap::DashMap;
use ipnet::IpNet;
use parking_lot::Mutex;

use crate::principal::ScopeSet;

/// Entries are re-read from the database after this long (bounds staleness
/// of changes made by other instances, e.g. a deleted owner).
pub const ENTRY_TTL_MS: i64 = 60_000;

/// True while an entry loaded at `loaded_at` may still be served at `now`
/// (a clock that went backwards counts as stale).
#[inline]
pub fn is_fresh(loaded_at: i64, now: i64) -> bool {
    now >= loaded_at && now - loaded_at <= ENTRY_TTL_MS
}
/// Default bound on cached tokens.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// A token's HMAC: already uniformly random and keyed by the server secret,
/// so its first 8 bytes are a good hash on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key(pub [u8; 32]);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

/// Passes a `write_u64` through unchanged.
#[derive(Debug, Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Pending usage of one token since the last flush.
#[derive(Debug, Default)]
pub struct UsageCell {
    pub count: AtomicU64,
    pub last_ms: AtomicI64,
}

impl UsageCell {
    #[inline]
    pub fn record(&self, now_ms: i64) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.last_ms.fetch_max(now_ms, Ordering::Relaxed);
    }
}

/// Everything verification needs, pre-parsed.
#[derive(Debug)]
pub struct CachedToken {
    pub token_id: String,
    pub user_id: String,
    pub tenant_id: String,
    pub is_master: bool,
    /// The owner exists and is active.
    pub owner_ok: bool,
    pub scopes: ScopeSet,
    pub expires_at: Option<i64>,
    pub revoked: bool,
    /// Set when this key is the previous secret of a rotated token: it works until then.
    pub grace_until: Option<i64>,
    pub networks: Box<[IpNet]>,
    /// Clock time of the database read.
    pub loaded_at: i64,
    pub usage: Arc<UsageCell>,
}

/// The bounded verification cache.
pub struct TokenCache {
    map: DashMap<Key, Arc<CachedToken>, BuildHasherDefault<PassThrough>>,
    /// Bumped by every invalidation; a loader inserts only if it did not move.
    epoch: AtomicU64,
    capacity: usize,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            map: DashMap::with_hasher(BuildHasherDefault::default()),
            epoch: AtomicU64::new(0),
            capacity: capacity.max(16),
        }
    }

    #[inline]
    pub fn get(&self, key: &Key) -> Option<Arc<CachedToken>> {
        self.map.get(key).map(|e| e.value().clone())
    }

    /// The invalidation epoch (read before a database load).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Inserts unless an invalidation happened since `epoch` was read.
    pub fn insert(&self, key: Key, entry: Arc<CachedToken>, epoch: u64) {
        if self.map.len() >= self.capacity {
            self.evict_some();
        }
        self.map.insert(key, entry);
        // An invalidation that raced with the load may have missed this entry: drop it.
        if self.epoch() != epoch {
            self.map.remove(&key);
        }
    }

    /// Drops about an eighth of the entries (arbitrary ones).
    fn evict_some(&self) {
        let n = (self.capacity / 8).max(1);
        let victims: Vec<Key> = self.map.iter().take(n).map(|e| *e.key()).collect();
        for k in victims {
            self.map.remove(&k);
        }
    }

    /// Removes every entry of a token (current and previous secret).
    pub fn invalidate_token(&self, token_id: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.map.retain(|_, v| v.token_id != token_id);
    }

    /// Removes every entry of a user's tokens.
    pub fn invalidate_user(&self, user_id: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.map.retain(|_, v| v.user_id != user_id);
    }

    /// Removes everything.
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.map.clear();
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Usage counters of all tokens seen since the last flush.
#[derive(Default)]
pub struct UsageBuffer {
    cells: Mutex<HashMap<String, Arc<UsageCell>>>,
}

impl UsageBuffer {
    /// The (shared) cell of a token.
    pub fn cell(&self, token_id: &str) -> Arc<UsageCell> {
        let mut cells = self.cells.lock();
        if let Some(c) = cells.get(token_id) {
            return c.clone();
        }
        let c = Arc::new(UsageCell::default());
        cells.insert(token_id.to_owned(), c.clone());
        c
    }

    /// Pending `(count, last_used_ms)` of a token (not yet in the database).
    pub fn pending(&self, token_id: &str) -> (u64, Option<i64>) {
        match self.cells.lock().get(token_id) {
            Some(c) => {
                let n = c.count.load(Ordering::Relaxed);
                let last = c.last_ms.load(Ordering::Relaxed);
                (n, (n > 0 && last > 0).then_some(last))
            }
            None => (0, None),
        }
    }

    /// Takes every non-zero counter `(token_id, count, last_used_ms)`, and
    /// forgets cells no cache entry refers to any more.
    pub fn drain(&self) -> Vec<(String, u64, i64)> {
        let mut out = Vec::new();
        let mut cells = self.cells.lock();
        cells.retain(|id, c| {
            let n = c.count.swap(0, Ordering::AcqRel);
            if n > 0 {
                out.push((id.clone(), n, c.last_ms.load(Ordering::Relaxed)));
            }
            n > 0 || Arc::strong_count(c) > 1
        });
        out
    }

    /// Puts back counts whose write failed.
    pub fn restore(&self, token_id: &str, count: u64, last_ms: i64) {
        let c = self.cell(token_id);
        c.count.fetch_add(count, Ordering::Relaxed);
        c.last_ms.fetch_max(last_ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(token_id: &str, user_id: &str) -> Arc<CachedToken> {
        Arc::new(CachedToken {
            token_id: token_id.into(),
            user_id: user_id.into(),
            tenant_id: "ten_default".into(),
            is_master: false,
            owner_ok: true,
            scopes: ScopeSet::All,
            expires_at: None,
            revoked: false,
            grace_until: None,
            networks: Box::new([]),
            loaded_at: 0,
            usage: Arc::new(UsageCell::default()),
        })
    }

    fn key(b: u8) -> Key {
        Key([b; 32])
    }

    #[test]
    fn invalidation_by_token_and_user() {
        let c = TokenCache::new(100);
        c.insert(key(1), entry("tok_a", "usr_1"), c.epoch());
        c.insert(key(2), entry("tok_a", "usr_1"), c.epoch());
        c.insert(key(3), entry("tok_b", "usr_2"), c.epoch());
        assert_eq!(c.len(), 3);
        c.invalidate_token("tok_a");
        assert!(c.get(&key(1)).is_none() && c.get(&key(2)).is_none());
        assert!(c.get(&key(3)).is_some());
        c.invalidate_user("usr_2");
        assert!(c.is_empty());
    }

    #[test]
    fn a_load_that_raced_an_invalidation_is_not_cached() {
        let c = TokenCache::new(100);
        let epoch = c.epoch();
        c.invalidate_token("tok_a");
        c.insert(key(1), entry("tok_a", "usr_1"), epoch);
        assert!(c.get(&key(1)).is_none());
    }

    #[test]
    fn the_cache_is_bounded() {
        let c = TokenCache::new(64);
        for i in 0..200u8 {
            c.insert(key(i), entry(&format!("tok_{i}"), "usr"), c.epoch());
        }
        assert!(c.len() <= 64, "{}", c.len());
    }

    #[test]
    fn usage_drains_and_forgets_idle_cells() {
        let u = UsageBuffer::default();
        let cell = u.cell("tok_a");
        cell.record(10);
        cell.record(5);
        assert_eq!(u.pending("tok_a"), (2, Some(10)));
        assert_eq!(u.drain(), vec![("tok_a".to_owned(), 2, 10)]);
        assert_eq!(u.pending("tok_a"), (0, None));
        drop(cell);
        assert!(u.drain().is_empty());
        assert_eq!(u.cells.lock().len(), 0, "idle cell without a cache entry is dropped");
        u.restore("tok_b", 3, 7);
        assert_eq!(u.pending("tok_b"), (3, Some(7)));
    }
}
