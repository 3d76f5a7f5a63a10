//! The in-process sliding-log backend (used when `KIWI_REDIS_URL` is unset, and as
//! the fallback while Redis is unreachable).
//!
//! Each key holds the timestamps (unix ms) of its admitted requests in a ring
//! buffer; a decision drops timestamps that left the window, then admits the
//! request only if fewer than `limit` remain. Rejected requests are not stored,
//! so they do not consume budget. Keys live in a sharded [`DashMap`], so
//! unrelated keys never contend; [`MemoryBackend::sweep`] drops idle keys.

use std::collections::VecDeque;

use dashmap::DashMap;

use super::Decision;

struct Log {
    /// Admitted request times, oldest first.
    times: VecDeque<i64>,
    window_ms: i64,
}

/// In-process sliding-log limiter state.
#[derive(Default)]
pub struct MemoryBackend {
    keys: DashMap<String, Log>,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend").field("keys", &self.keys.len()).finish()
    }
}

impl MemoryBackend {
    /// Decides one request on `key` at `now_ms`.
    pub fn check(&self, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> Decision {
        if let Some(mut log) = self.keys.get_mut(key) {
            return decide(&mut log, limit, window_ms, now_ms);
        }
        let mut log = self.keys.entry(key.to_owned()).or_insert_with(|| Log { times: VecDeque::new(), window_ms });
        decide(&mut log, limit, window_ms, now_ms)
    }

    /// Drops keys with no request inside their window (bounded memory).
    pub fn sweep(&self, now_ms: i64) {
        self.keys.retain(|_, log| log.times.back().is_some_and(|&t| t > now_ms - log.window_ms));
    }

    /// Number of live keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn decide(log: &mut Log, limit: u32, window_ms: i64, now_ms: i64) -> Decision {
    log.window_ms = window_ms;
    let cutoff = now_ms - window_ms;
    while log.times.front().is_some_and(|&t| t <= cutoff) {
        log.times.pop_front();
    }
    let count = log.times.len();
    if count < limit as usize {
        log.times.push_back(now_ms);
        let oldest = log.times.front().copied().unwrap_or(now_ms);
        Decision::allowed(limit, (limit as usize - count - 1) as u32, oldest + window_ms)
    } else {
        let oldest = log.times.front().copied().unwrap_or(now_ms);
        Decision::rejected(limit, oldest + window_ms, now_ms)
    }
}
