//! A deterministic generator of valid `GrainusMod.cfg` dumps, for benchmarks and tests.

use std::fmt::Write as _;

/// The creation-time anchor of [`synthetic_dump`]: the reference vectors' clock,
/// 2025-06-15T12:00Z.
pub const SYNTHETIC_ANCHOR: i64 = 1_749_988_800;

const ADJECTIVES: &[&str] = &[
    "Chaos",
    "Crystal",
    "Sunlight",
    "Bound",
    "Empowered",
    "Dragon",
    "Shadow",
    "Radiant",
    "Ancient",
    "Molten",
    "Frozen",
    "Verdant",
    "Cursed",
    "Blessed",
    "Glittering",
    "Obsidian",
];
const NOUNS: &[&str] = &[
    "Core",
    "Spark",
    "Bulb",
    "Brilliance",
    "Gem Box",
    "Souls Pack",
    "Shard",
    "Flux Cache",
    "Egg",
    "Token",
    "Essence",
    "Scroll",
    "Relic",
    "Charm",
    "Lantern",
    "Seed",
];
const TYPES: &[&str] = &["Material", "Consumable", "", "Cosmetic"];

/// splitmix64: tiny, fast, deterministic.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform-ish in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The item names the generator uses (256 of them).
pub fn synthetic_item_names() -> Vec<String> {
    let mut out = Vec::with_capacity(ADJECTIVES.len() * NOUNS.len());
    for a in ADJECTIVES {
        for n in NOUNS {
            out.push(format!("{a} {n}"));
        }
    }
    out
}

/// A valid dump of `n` listings with unique v1 UUIDs whose creation times fall in the
/// 6 days before [`SYNTHETIC_ANCHOR`]. Same `(n, seed)`, same text.
pub fn synthetic_dump(n: usize, seed: u64) -> String {
    synthetic_dump_at(n, seed, SYNTHETIC_ANCHOR)
}

/// Like [`synthetic_dump`], with creation times in the 6 days before `now` (unix
/// seconds), so that listings ingested at `now` are active at `now`.
pub fn synthetic_dump_at(n: usize, seed: u64, now: i64) -> String {
    let names = synthetic_item_names();
    let mut rng = Rng(seed ^ 0x6D61_726B_6574);
    let mut out = String::with_capacity(n.saturating_mul(90).saturating_add(128));
    out.push_str("# GrainusMod market scan (synthetic)\n[GrainusMod]\n");
    let _ = writeln!(out, "item_count = {n}");
    // 100-ns ticks since 1582-10-15 of the window start; each listing gets a distinct
    // clock sequence/node, so UUIDs never collide even with equal timestamps.
    let window = 6 * 86_400u64;
    let start_secs = now.saturating_sub(6 * 86_400).saturating_add(12_219_292_800);
    let start_ticks = u64::try_from(start_secs.max(0)).unwrap_or(0).saturating_mul(10_000_000);
    let node_base = rng.next() & 0xFFFF_FFFF_0000;
    for i in 0..n {
        let offset_ticks = rng.below(window * 10_000_000);
        let t = start_ticks.saturating_add(offset_ticks) & 0x0FFF_FFFF_FFFF_FFFF;
        let time_low = t & 0xFFFF_FFFF;
        let time_mid = (t >> 32) & 0xFFFF;
        let time_hi = ((t >> 48) & 0x0FFF) | 0x1000;
        let index = i as u64;
        let clock_seq = 0x8000 | ((index >> 32) & 0x3FFF);
        let node = (node_base | (index & 0xFFFF_FFFF)) & 0xFFFF_FFFF_FFFF;
        let name = names.get(rng.below(names.len() as u64) as usize).map_or("Chaos Core", String::as_str);
        let kind = TYPES.get(rng.below(TYPES.len() as u64) as usize).copied().unwrap_or("");
        let stack = 1 + rng.below(999);
        let each = 100 + rng.below(50_000);
        let price = (stack * each).min(50_000_000);
        let _ = writeln!(
            out,
            "{time_low:08x}-{time_mid:04x}-{time_hi:04x}-{clock_seq:04x}-{node:012x};{name};{kind};{stack};{price},"
        );
    }
    out.push_str("done = true\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_dump;

    #[test]
    fn dumps_are_valid_and_deterministic() {
        let a = synthetic_dump(2000, 7);
        assert_eq!(a, synthetic_dump(2000, 7));
        assert_ne!(a, synthetic_dump(2000, 8));
        let rows = parse_dump(&a);
        assert_eq!(rows.len(), 2000);
        for r in &rows {
            assert!(r.created_at >= SYNTHETIC_ANCHOR - 6 * 86_400 - 1);
            assert!(r.created_at <= SYNTHETIC_ANCHOR);
            assert!(r.price >= 1 && r.price <= 50_000_000);
        }
        assert!(synthetic_dump(0, 1).contains("done = true"));
    }
}
