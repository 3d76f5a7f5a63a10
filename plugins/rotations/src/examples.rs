//! Example response bodies for the OpenAPI docs, embedded from
//! `data/examples/*.json`. Each is a real output of this plugin at 2025-06-13T11:20:00Z
//! (captures inserted at that instant; Luxion at the 2026-07-21 sighting); the
//! `examples_are_real_outputs` test re-computes them.

/// `server-time` example.
pub const SERVER_TIME: &str = include_str!("../data/examples/server-time.json");
/// `daily-buffs` example.
pub const DAILY_BUFFS: &str = include_str!("../data/examples/daily-buffs.json");
/// `weekly-buffs` example.
pub const WEEKLY_BUFFS: &str = include_str!("../data/examples/weekly-buffs.json");
/// `corruxion` example.
pub const CORRUXION: &str = include_str!("../data/examples/corruxion.json");
/// `fluxion` example.
pub const FLUXION: &str = include_str!("../data/examples/fluxion.json");
/// `luxion` example.
pub const LUXION: &str = include_str!("../data/examples/luxion.json");
/// `luxion-insert` example.
pub const LUXION_INSERT: &str = include_str!("../data/examples/luxion-insert.json");
/// `luxion-history` example.
pub const LUXION_HISTORY: &str = include_str!("../data/examples/luxion-history.json");
/// `gardening` example.
pub const GARDENING: &str = include_str!("../data/examples/gardening.json");
/// `chaos-chest` example.
pub const CHAOS_CHEST: &str = include_str!("../data/examples/chaos-chest.json");
/// `chaos-insert` example.
pub const CHAOS_INSERT: &str = include_str!("../data/examples/chaos-insert.json");
/// `chaos-history` example.
pub const CHAOS_HISTORY: &str = include_str!("../data/examples/chaos-history.json");
/// `challenge-current` example.
pub const CHALLENGE_CURRENT: &str = include_str!("../data/examples/challenge-current.json");
/// `challenge-insert` example.
pub const CHALLENGE_INSERT: &str = include_str!("../data/examples/challenge-insert.json");
/// `challenge-history` example.
pub const CHALLENGE_HISTORY: &str = include_str!("../data/examples/challenge-history.json");
/// `calendar` example.
pub const CALENDAR: &str = include_str!("../data/examples/calendar.json");
/// `biomes` example.
pub const BIOMES: &str = include_str!("../data/examples/biomes.json");
/// `wild-mana` example.
pub const WILD_MANA: &str = include_str!("../data/examples/wild-mana.json");
/// `stampy` example.
pub const STAMPY: &str = include_str!("../data/examples/stampy.json");
