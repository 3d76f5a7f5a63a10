//! Per-plugin call statistics for `/admin/plugins`: calls, errors, timeouts,
//! busy rejections and a latency histogram (p50/p99) — lock-free atomics.

use std::sync::atomic::{AtomicU64, Ordering};

/// Histogram bucket upper bounds, microseconds (roughly ×2 per bucket).
pub const BUCKETS_US: [u64; 20] = [
    50,
    100,
    200,
    400,
    800,
    1_600,
    3_200,
    6_400,
    12_800,
    25_600,
    51_200,
    102_400,
    204_800,
    409_600,
    819_200,
    1_638_400,
    3_276_800,
    6_553_600,
    13_107_200,
    u64::MAX,
];

/// Counters for one plugin version.
#[derive(Debug, Default)]
pub struct PluginStats {
    pub calls: AtomicU64,
    pub errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub busy: AtomicU64,
    hist: [AtomicU64; 20],
}

impl PluginStats {
    /// Records one completed call.
    pub fn record(&self, micros: u64, error: bool) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let i = BUCKETS_US.iter().position(|b| micros <= *b).unwrap_or(BUCKETS_US.len() - 1);
        self.hist[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The bucket upper bound (µs) at quantile `q` (0..1), or `None` with no calls.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        let counts: Vec<u64> = self.hist.iter().map(|h| h.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let target = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Some(BUCKETS_US[i]);
            }
        }
        BUCKETS_US.last().copied()
    }

    /// Histogram counts (for Prometheus).
    pub fn histogram(&self) -> Vec<(u64, u64)> {
        BUCKETS_US.iter().zip(self.hist.iter()).map(|(b, h)| (*b, h.load(Ordering::Relaxed))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let s = PluginStats::default();
        assert_eq!(s.quantile_us(0.5), None);
        for _ in 0..99 {
            s.record(90, false);
        }
        s.record(5_000, true);
        assert_eq!(s.quantile_us(0.5), Some(100));
        assert_eq!(s.quantile_us(0.999), Some(6_400));
        assert_eq!(s.errors.load(Ordering::Relaxed), 1);
    }
}
