//! The simulator's random source: a small xoshiro256** generator seeded through
//! splitmix64, with the handful of Python `random` helpers the original uses
//! (`random()`, `randint`, `choice`, weighted `choices`).
//!
//! The original drew from Python's unseeded global Mersenne Twister, which cannot
//! be reproduced; here a request may pass `seed` for a deterministic outcome, and
//! otherwise the seed comes from the host clock mixed with the request id.

/// xoshiro256** state.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over bytes, used to fold a request id into an entropy seed.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

impl Rng {
    /// A generator fully determined by `seed`.
    pub fn seeded(seed: u64) -> Self {
        let mut st = seed;
        let s = [splitmix64(&mut st), splitmix64(&mut st), splitmix64(&mut st), splitmix64(&mut st)];
        Self { s }
    }

    /// A seed for requests without one: the host clock mixed with the request id.
    pub fn entropy_seed(now_millis: i64, request_id: &str) -> u64 {
        let mut st = (now_millis as u64) ^ fnv1a(request_id.as_bytes()).rotate_left(17);
        splitmix64(&mut st)
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Python `random()`: uniform in [0, 1) with 53 random bits.
    pub fn random(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (`n > 0`), unbiased; 0 when `n == 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// Python `randint(a, b)`: uniform in `a..=b` (`a <= b`).
    pub fn randint(&mut self, a: i64, b: i64) -> i64 {
        let span = b.wrapping_sub(a) as u64;
        if span == u64::MAX {
            return self.next_u64() as i64;
        }
        a.wrapping_add(self.below(span + 1) as i64)
    }

    /// Python `choice(seq)` as an index (`None` for an empty sequence).
    pub fn choice_index(&mut self, len: usize) -> Option<usize> {
        if len == 0 { None } else { Some(self.below(len as u64) as usize) }
    }

    /// Python `choices(population, weights)[0]` as an index: cumulative weights,
    /// `random() * total`, bisect right. `None` when empty or the total is not
    /// positive.
    pub fn weighted_index(&mut self, weights: &[f64]) -> Option<usize> {
        if weights.is_empty() {
            return None;
        }
        let mut cum = Vec::with_capacity(weights.len());
        let mut acc = 0.0;
        for w in weights {
            acc += w;
            cum.push(acc);
        }
        let total = acc;
        if total.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !total.is_finite() {
            return None;
        }
        let r = self.random() * total;
        let hi = weights.len() - 1;
        let idx = cum[..hi].partition_point(|c| *c <= r);
        Some(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_in_range() {
        let mut a = Rng::seeded(42);
        let mut b = Rng::seeded(42);
        for _ in 0..1000 {
            let x = a.random();
            assert_eq!(x, b.random());
            assert!((0.0..1.0).contains(&x));
            let r = a.randint(0, 2);
            assert_eq!(r, b.randint(0, 2));
            assert!((0..=2).contains(&r));
        }
        assert_eq!(a.choice_index(0), None);
        assert_eq!(a.weighted_index(&[0.0, 0.0]), None);
        for _ in 0..100 {
            assert_eq!(a.weighted_index(&[0.0, 1.0, 0.0]), Some(1));
        }
        assert_ne!(Rng::entropy_seed(1, "a"), Rng::entropy_seed(1, "b"));
    }
}
