//! The host clock. Plugins and token expiry read time from here, so it can be
//! pinned (`kiwi call --now`, tests) without touching the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A cheaply clonable clock; `i64::MIN` in the cell means "system time".
#[derive(Debug, Clone)]
pub struct Clock {
    pinned_ms: Arc<AtomicI64>,
}

impl Default for Clock {
    fn default() -> Self {
        Self { pinned_ms: Arc::new(AtomicI64::new(i64::MIN)) }
    }
}

impl Clock {
    /// A clock pinned at `ms` (unix milliseconds).
    pub fn pinned(ms: i64) -> Self {
        let c = Self::default();
        c.pin(Some(ms));
        c
    }
    /// Pins (or with `None` unpins) the clock.
    pub fn pin(&self, ms: Option<i64>) {
        self.pinned_ms.store(ms.unwrap_or(i64::MIN), Ordering::Relaxed);
    }
    /// Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        let p = self.pinned_ms.load(Ordering::Relaxed);
        if p != i64::MIN {
            return p;
        }
        system_ms()
    }
    /// Unix seconds.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The system clock, unix milliseconds.
pub fn system_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
