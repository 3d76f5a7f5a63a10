//! Sessions: the in-process cache that makes access-JWT checks fast and
//! immediately revocable, refresh-token generation and hashing, and the
//! coarse device label shown in session lists.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dashmap::DashMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Absolute session lifetime (refreshes do not extend it): 30 days.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// Above this many cached sessions the cache is cleared (it refills on use).
const CACHE_MAX: usize = 200_000;

/// Entries are reloaded after this long even without an invalidation: a safety
/// net for changes made out of band (the `kiwi admin` CLI, another instance
/// without the bus, manual database edits).
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// What `verify_access` needs to know about a session, cached by session id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedSession {
    pub user_id: String,
    pub token_version: i64,
    pub is_master: bool,
    /// Revoked or deleted session, or a deactivated user: every JWT fails.
    pub revoked: bool,
    pub expires_at_ms: i64,
}

/// session id → [`CachedSession`], filled on first use and invalidated
/// synchronously by every change on this instance.
///
/// A generation counter closes the race between a loader that read the
/// database before an invalidation and inserts after it: the loader inserts
/// only if no invalidation happened since it started.
#[derive(Debug, Default)]
pub struct SessionCache {
    map: DashMap<String, (CachedSession, Instant)>,
    generation: AtomicU64,
}

impl SessionCache {
    /// The cached entry, if any and younger than [`CACHE_TTL`].
    pub fn get(&self, session_id: &str) -> Option<CachedSession> {
        self.map.get(session_id).filter(|e| e.value().1.elapsed() < CACHE_TTL).map(|e| e.value().0.clone())
    }

    /// Read before loading from the database; pass to [`SessionCache::insert_if_current`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Caches a freshly loaded entry unless an invalidation ran since `generation`.
    pub fn insert_if_current(&self, session_id: &str, entry: CachedSession, generation: u64) {
        if self.map.len() >= CACHE_MAX {
            self.map.clear();
        }
        // Holding the shard lock while checking: an invalidation either bumped the
        // generation before this check, or its removal waits for the lock and runs after.
        match self.map.entry(session_id.to_owned()) {
            dashmap::Entry::Occupied(mut o) => {
                if self.generation() == generation {
                    o.insert((entry, Instant::now()));
                }
            }
            dashmap::Entry::Vacant(v) => {
                if self.generation() == generation {
                    v.insert((entry, Instant::now()));
                }
            }
        }
    }

    /// Forgets one session (the next check reloads it).
    pub fn invalidate_session(&self, session_id: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.map.remove(session_id);
    }

    /// Forgets every session of a user.
    pub fn invalidate_user(&self, user_id: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.map.retain(|_, v| v.0.user_id != user_id);
    }

    /// Number of cached sessions.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A new opaque secret: 32 random bytes, base64url (43 characters).
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// HMAC-SHA256 of a secret under a server-derived key, lowercase hex: how
/// refresh and mail tokens are stored.
pub fn hash_secret(key: &Hmac<Sha256>, secret: &str) -> String {
    let mut mac = key.clone();
    mac.update(secret.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A coarse "Browser on OS" label from a User-Agent (the raw UA is never stored).
pub fn device_label(ua: Option<&str>) -> Option<String> {
    let ua = ua.map(str::trim).filter(|u| !u.is_empty())?;
    let has = |s: &str| ua.contains(s);
    let browser = if has("Edg") {
        "Edge"
    } else if has("OPR") || has("Opera") {
        "Opera"
    } else if has("Firefox") || has("FxiOS") {
        "Firefox"
    } else if has("Chrome") || has("CriOS") {
        "Chrome"
    } else if has("Safari") {
        "Safari"
    } else {
        "Browser"
    };
    let os = if has("Windows") {
        "Windows"
    } else if has("Android") {
        "Android"
    } else if has("iPhone") || has("iPad") || has("iOS") {
        "iOS"
    } else if has("Mac OS") || has("Macintosh") {
        "macOS"
    } else if has("Linux") {
        "Linux"
    } else {
        ""
    };
    Some(if os.is_empty() { browser.to_owned() } else { format!("{browser} on {os}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(user: &str) -> CachedSession {
        CachedSession {
            user_id: user.into(),
            token_version: 0,
            is_master: false,
            revoked: false,
            expires_at_ms: i64::MAX,
        }
    }

    #[test]
    fn stale_loads_are_not_cached_after_an_invalidation() {
        let c = SessionCache::default();
        let g = c.generation();
        c.invalidate_session("ses_a");
        c.insert_if_current("ses_a", entry("u"), g);
        assert!(c.get("ses_a").is_none());
        let g = c.generation();
        c.insert_if_current("ses_a", entry("u"), g);
        assert!(c.get("ses_a").is_some());
        c.insert_if_current("ses_b", entry("v"), c.generation());
        c.invalidate_user("u");
        assert!(c.get("ses_a").is_none());
        assert!(c.get("ses_b").is_some());
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn device_labels() {
        let chrome_win =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36";
        assert_eq!(device_label(Some(chrome_win)).as_deref(), Some("Chrome on Windows"));
        assert_eq!(device_label(Some("curl/8.0")).as_deref(), Some("Browser"));
        assert_eq!(
            device_label(Some("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1")).as_deref(),
            Some("Safari on iOS")
        );
        assert_eq!(device_label(Some("  ")), None);
        assert_eq!(device_label(None), None);
    }

    #[test]
    fn secrets_are_random_and_hashes_keyed() {
        let a = new_secret();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_secret());
        let k1 = Hmac::<Sha256>::new_from_slice(b"one").unwrap();
        let k2 = Hmac::<Sha256>::new_from_slice(b"two").unwrap();
        assert_eq!(hash_secret(&k1, &a), hash_secret(&k1, &a));
        assert_ne!(hash_secret(&k1, &a), hash_secret(&k2, &a));
        assert_eq!(hash_secret(&k1, &a).len(), 64);
    }
}
