//! The biome rotations: the 3-hour d15 adventure rotation, the weekly Wild
//! Mana rotation and the fortnightly Stampy event, all served as a
//! `BiomeRotationFeed` (`current` + `upcoming`).

use serde::Serialize;

use crate::tables::{Biome, Tables, cyclic};
use crate::time::{D15_EPOCH, DAY, MANA_BASE, Now, STAMPY_BASE, WEEK, fl};

/// d15 slot length (3 h).
pub const D15_INTERVAL: i64 = 10_800;
/// Entries the d15 feed lists after the current one (the handler's `count=16`).
const D15_COUNT: i64 = 16;
/// Wild Mana entries (current + 7).
const MANA_COUNT: i64 = 8;
/// Stampy period (14 days).
pub const STAMPY_PERIOD: i64 = 14 * DAY;
/// Stampy event length (48 h).
pub const STAMPY_DURATION: i64 = 2 * DAY;
/// Stampy entries at most (current + 7).
const STAMPY_COUNT: usize = 8;

/// `BiomeRotation`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BiomeRotation {
    pub starts_at: i64,
    pub ends_at: i64,
    pub biomes: Vec<Biome>,
}

/// `BiomeRotationFeed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BiomeRotationFeed {
    pub current: Option<BiomeRotation>,
    pub upcoming: Vec<BiomeRotation>,
}

impl BiomeRotationFeed {
    fn from_entries(mut entries: Vec<BiomeRotation>) -> Self {
        if entries.is_empty() {
            return Self { current: None, upcoming: entries };
        }
        let upcoming = entries.split_off(1);
        Self { current: entries.pop(), upcoming }
    }
}

/// `GET /biomes`: slot `k` since the d15 epoch shows `B1[k mod 12]`,
/// `B2[k mod 11]`, `B3[k mod 14]`; current slot plus the next 16.
pub fn biome_rotation(t: &Tables, now: Now) -> BiomeRotationFeed {
    let k = fl(now.secs() - D15_EPOCH, D15_INTERVAL);
    let start = D15_EPOCH + k * D15_INTERVAL;
    let entries = (0..=D15_COUNT)
        .map(|i| {
            let offset = k + i;
            let s = start + i * D15_INTERVAL;
            BiomeRotation {
                starts_at: s,
                ends_at: s + D15_INTERVAL,
                biomes: [&t.d15_biome1, &t.d15_biome2, &t.d15_biome3]
                    .into_iter()
                    .filter_map(|list| cyclic(list, offset))
                    .map(|key| t.sub_biome(key))
                    .collect(),
            }
        })
        .collect();
    BiomeRotationFeed::from_entries(entries)
}

/// The three Wild Mana biomes of week `w`: this week's and the two before.
pub fn mana_biomes(t: &Tables, w: i64) -> Vec<Biome> {
    (0..3).filter_map(|i| cyclic(&t.wild_mana_biomes, w - i)).map(|name| t.parent_biome(name)).collect()
}

/// The Stampy biome of fortnight `w`.
pub fn stampy_biome(t: &Tables, w: i64) -> Vec<Biome> {
    cyclic(&t.stampy_biomes, w).map(|name| vec![t.parent_biome(name)]).unwrap_or_default()
}

/// `GET /wild-mana`: weekly from Monday 2023-11-20 11:00 UTC; 8 weeks.
pub fn wild_mana(t: &Tables, now: Now) -> BiomeRotationFeed {
    let w0 = fl(now.secs() - MANA_BASE, WEEK);
    let entries = (w0..w0 + MANA_COUNT)
        .map(|w| {
            let s = MANA_BASE + w * WEEK;
            BiomeRotation { starts_at: s, ends_at: s + WEEK, biomes: mana_biomes(t, w) }
        })
        .collect();
    BiomeRotationFeed::from_entries(entries)
}

/// `GET /stampy`: 48 h every 14 days from Monday 2023-09-25 11:00 UTC. The
/// current entry is the event in progress, or the next one.
pub fn stampy(t: &Tables, now: Now) -> BiomeRotationFeed {
    let n = now.secs();
    let k = fl(n - STAMPY_BASE, STAMPY_PERIOD);
    let mut entries = Vec::with_capacity(STAMPY_COUNT);
    for w in k - 1..=k + 9 {
        let s = STAMPY_BASE + w * STAMPY_PERIOD;
        let e = s + STAMPY_DURATION;
        if e > n {
            entries.push(BiomeRotation { starts_at: s, ends_at: e, biomes: stampy_biome(t, w) });
            if entries.len() == STAMPY_COUNT {
                break;
            }
        }
    }
    BiomeRotationFeed::from_entries(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::tables;

    #[test]
    fn stampy_current_can_be_in_progress_or_next() {
        let t = tables().unwrap();
        let during = stampy(t, Now::from_secs(STAMPY_BASE + 3600).unwrap());
        assert_eq!(during.current.as_ref().map(|c| c.starts_at), Some(STAMPY_BASE));
        assert_eq!(during.upcoming.len(), 7);
        let after = stampy(t, Now::from_secs(STAMPY_BASE + STAMPY_DURATION).unwrap());
        assert_eq!(after.current.as_ref().map(|c| c.starts_at), Some(STAMPY_BASE + STAMPY_PERIOD));
        assert_eq!(after.current.unwrap().biomes[0].name, "The Lost Isles");
    }

    #[test]
    fn d15_has_17_entries_on_3h_slots() {
        let t = tables().unwrap();
        let feed = biome_rotation(t, Now::from_secs(1_749_813_600).unwrap());
        let cur = feed.current.unwrap();
        assert_eq!(feed.upcoming.len(), 16);
        assert_eq!(cur.starts_at.rem_euclid(D15_INTERVAL), D15_EPOCH.rem_euclid(D15_INTERVAL));
        assert!(cur.starts_at <= 1_749_813_600 && 1_749_813_600 < cur.ends_at);
        assert_eq!(cur.biomes.len(), 3);
    }
}
