//! Game data and the numbers derived from it: the gem enums, the embedded
//! `gem_upgrades` records (stat rolls, level schedule, odds, costs), boosters,
//! build data files and classes (`data/gems.json`, a subset of the reference
//! `calculator-tables.json`), and the lookups of calculators.md §2.1–2.2.

use std::collections::HashMap;
use std::sync::OnceLock;

use kiwi_sdk::Error;
use serde::Deserialize;
use serde_json::Value;

use crate::py::{OrderedMap, round_to};

/// Tier ids 1..=4.
pub const TIERS: [i64; 4] = [1, 2, 3, 4];
pub const TIER_NAMES: [&str; 4] = ["Radiant", "Stellar", "Crystal", "Mystic"];
pub const TYPES: [i64; 2] = [1, 2];
pub const TYPE_NAMES: [&str; 2] = ["Lesser", "Empowered"];
pub const ELEMENTS: [i64; 4] = [1, 2, 3, 4];
pub const ELEMENT_NAMES: [&str; 4] = ["Water", "Fire", "Air", "Cosmic"];
pub const RESTRICTIONS: [i64; 2] = [1, 2];
pub const RESTRICTION_NAMES: [&str; 2] = ["Fierce", "Arcane"];
pub const STAT_TYPES: [i64; 9] = [1, 2, 3, 4, 5, 6, 7, 8, 9];
pub const STAT_NAMES: [&str; 9] = [
    "Physical Damage",
    "Magic Damage",
    "Critical Damage",
    "Critical Hit",
    "Max Health",
    "Max Health %",
    "Light",
    "Movement Speed",
    "Jump",
];
pub const AUGMENT_TYPES: [i64; 3] = [1, 2, 3];
pub const AUGMENT_NAMES: [&str; 3] = ["Rough Focus", "Precise Focus", "Superior Focus"];
pub const ABILITIES: [i64; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
pub const ABILITY_NAMES: [&str; 12] = [
    "Stinging Curse",
    "Volatile Velocity",
    "Spirit Surge",
    "Mired Mojo",
    "Stunburst",
    "Pyrodisc",
    "Explosive Epilogue",
    "Cubic Curtain",
    "Berserk Battler",
    "Empyrean Barrier",
    "Flower Power",
    "Vampirian Vanquisher",
];

pub const WATER: i64 = 1;
pub const COSMIC: i64 = 4;
pub const LESSER: i64 = 1;
pub const EMPOWERED: i64 = 2;
pub const FIERCE: i64 = 1;
pub const PHYSICAL: i64 = 1;
pub const MAGIC: i64 = 2;
pub const LIGHT: i64 = 7;

pub const KARMA_MAX: i64 = 125;
pub const TIER_PR_BASE: [i64; 4] = [3, 5, 7, 9];
pub const LESSER_PR_THRESHOLD: [[i64; 2]; 4] = [[85, 113], [150, 200], [175, 250], [200, 260]];
pub const EMPOWERED_PR_THRESHOLD: [[i64; 2]; 4] = [[113, 150], [200, 266], [220, 280], [240, 300]];
const FILE_TIER: [i64; 4] = [9, 10, 11, 12];
const ELEMENT_COLOR: [&str; 4] = ["blue", "red", "yellow", "opal"];
/// Gem stat type → (gem_upgrades stat, percent); stats 8 and 9 have none.
const STAT_KEY: [Option<(&str, bool)>; 9] = [
    Some(("PhysicalDamage", false)),
    Some(("SpellDamage", false)),
    Some(("CriticalHitDamage", false)),
    Some(("CriticalHitChance", false)),
    Some(("MaxHealth", false)),
    Some(("MaxHealth", true)),
    Some(("Light", false)),
    None,
    None,
];
const FOCUS_ITEM: [&str; 3] = ["item/gem/booster/augment1", "item/gem/booster/augment2", "item/gem/booster/augment3"];

pub const PHYSICAL_POOL: [i64; 5] = [1, 3, 4, 5, 6];
pub const MAGIC_POOL: [i64; 5] = [2, 3, 4, 5, 6];
/// Spark pool when the gem has no restriction.
pub fn spark_pool(element: i64) -> &'static [i64] {
    if element == COSMIC { &[1, 2, 3, 4, 5, 6, 7] } else { &[1, 2, 3, 4, 5, 6] }
}

/// Abilities an Empowered gem of `element` can have.
pub fn abilities_for(element: i64) -> &'static [i64] {
    if element == COSMIC { &[9, 10, 11, 12] } else { &[1, 2, 3, 4, 5, 6, 7, 8] }
}

fn name_of(names: &'static [&'static str], id: i64) -> &'static str {
    usize::try_from(id - 1).ok().and_then(|i| names.get(i)).copied().unwrap_or("")
}

pub fn tier_name(id: i64) -> &'static str {
    name_of(&TIER_NAMES, id)
}
pub fn type_name(id: i64) -> &'static str {
    name_of(&TYPE_NAMES, id)
}
pub fn element_name(id: i64) -> &'static str {
    name_of(&ELEMENT_NAMES, id)
}
pub fn restriction_name(id: i64) -> &'static str {
    name_of(&RESTRICTION_NAMES, id)
}
pub fn stat_name(id: i64) -> &'static str {
    name_of(&STAT_NAMES, id)
}
pub fn ability_name(id: i64) -> &'static str {
    name_of(&ABILITY_NAMES, id)
}

fn idx(id: i64) -> usize {
    usize::try_from(id - 1).unwrap_or(0)
}

/// Python `Enum(value)` conversion: Ok, or `"<v> is not a valid <Enum>"`.
pub fn enum_check(value: i64, members: &[i64], enum_name: &str) -> Result<i64, String> {
    if members.contains(&value) { Ok(value) } else { Err(format!("{value} is not a valid {enum_name}")) }
}

#[derive(Debug, Deserialize)]
pub struct Item {
    pub size: String,
    pub color: String,
    pub tier: i64,
}

#[derive(Debug, Deserialize)]
pub struct StatRow {
    pub stat: String,
    pub percent: bool,
    pub min: f64,
    pub max: f64,
    pub step: f64,
}

#[derive(Debug, Deserialize)]
pub struct PoolRow {
    pub stat: String,
    pub percent: bool,
    pub weight: f64,
}

#[derive(Debug, Deserialize)]
pub struct CostItem {
    pub item: String,
    pub count: i64,
}

#[derive(Debug, Deserialize)]
pub struct LevelRow {
    pub level: i64,
    pub chance: f64,
    pub double_chance: f64,
    pub stat_steps: i64,
    pub boost: bool,
    pub cost: Vec<CostItem>,
    pub dust: i64,
    pub amber: i64,
}

#[derive(Debug, Deserialize)]
pub struct Record {
    pub items: Vec<Item>,
    pub max_level: i64,
    pub stats: Vec<StatRow>,
    pub pool: Vec<PoolRow>,
    pub levels: Vec<LevelRow>,
}

#[derive(Debug, Deserialize)]
pub struct Material {
    pub dust: String,
    pub amber: String,
}

#[derive(Debug, Deserialize)]
pub struct Focus {
    pub item: String,
    pub amount: f64,
}

#[derive(Debug, Deserialize)]
pub struct Upgrades {
    pub gems: Vec<Record>,
    pub materials: HashMap<String, Material>,
    pub focuses: Vec<Focus>,
    pub names: HashMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Booster {
    pub id: String,
    pub name: String,
    pub item: String,
    pub chance_multiplier: f64,
    pub double_multiplier: f64,
}

/// A `{name, value, percentage}` row (class stats, food, ally).
#[derive(Debug, Deserialize)]
pub struct NamedStat {
    pub name: String,
    pub value: Value,
    #[serde(default)]
    pub percentage: bool,
}

#[derive(Debug, Deserialize)]
pub struct Consumable {
    pub qualified_name: String,
    pub stats: Vec<NamedStat>,
}

#[derive(Debug, Deserialize)]
pub struct GearLine {
    pub stat: String,
    pub value: f64,
}

#[derive(Debug, Deserialize)]
pub struct HealthOptimizerData {
    #[serde(rename = "Critical Hit")]
    pub critical_hit: OrderedMap<f64>,
    #[serde(rename = "Maximum Health")]
    pub maximum_health: OrderedMap<f64>,
    #[serde(rename = "Maximum Health %")]
    pub maximum_health_per: OrderedMap<f64>,
    pub gear_lines: OrderedMap<GearLine>,
}

#[derive(Debug, Deserialize)]
pub struct GemStatsTable {
    #[serde(rename = "Lesser")]
    pub lesser: HashMap<String, [f64; 2]>,
    #[serde(rename = "Empowered")]
    pub empowered: HashMap<String, [f64; 2]>,
}

#[derive(Debug, Deserialize)]
pub struct BuildTables {
    #[serde(rename = "BUILD_TYPES")]
    pub build_types: Vec<String>,
    pub build_gem_stats: GemStatsTable,
    #[serde(rename = "builds/ally.json")]
    pub ally: OrderedMap<Consumable>,
    #[serde(rename = "builds/food.json")]
    pub food: OrderedMap<Consumable>,
    #[serde(rename = "builds/damage.json")]
    pub damage: OrderedMap<Value>,
    #[serde(rename = "builds/critical_damage.json")]
    pub critical_damage: OrderedMap<Value>,
    #[serde(rename = "builds/light.json")]
    pub light: OrderedMap<Value>,
    #[serde(rename = "builds/bonus_damage.json")]
    pub bonus_damage: OrderedMap<Value>,
    #[serde(rename = "builds/dragons_critical_damage.json")]
    pub dragons_critical_damage: OrderedMap<Value>,
    #[serde(rename = "builds/health.json")]
    pub health: OrderedMap<Value>,
    #[serde(rename = "builds/health_per.json")]
    pub health_per: OrderedMap<Value>,
    #[serde(rename = "builds/health_optimizer.json")]
    pub health_optimizer: HealthOptimizerData,
}

#[derive(Debug, Deserialize)]
pub struct ClassDef {
    pub name: String,
    pub damage_type: String,
    pub stats: Vec<NamedStat>,
    pub bonuses: Vec<NamedStat>,
}

#[derive(Debug, Deserialize)]
pub struct Tables {
    pub gem_upgrades: Upgrades,
    pub boosters: Vec<Booster>,
    pub builds: BuildTables,
    pub classes: Vec<ClassDef>,
}

static DATA: &str = include_str!("../data/gems.json");

/// The parsed game data (parsed once per instance).
pub fn tables() -> Result<&'static Tables, Error> {
    static TABLES: OnceLock<Result<Tables, String>> = OnceLock::new();
    TABLES
        .get_or_init(|| serde_json::from_str(DATA).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::internal(format!("embedded gem data: {e}")))
}

/// The upgrade record of a (tier, type, element) kind.
pub fn record(tier: i64, kind: i64, element: i64) -> Result<&'static Record, String> {
    let t = tables().map_err(|e| e.message)?;
    let size = if kind == EMPOWERED { "large" } else { "small" };
    let color = ELEMENT_COLOR.get(idx(element)).copied().unwrap_or("");
    let file_tier = FILE_TIER.get(idx(tier)).copied().unwrap_or(0) + if kind == EMPOWERED { 100 } else { 0 };
    t.gem_upgrades
        .gems
        .iter()
        .find(|r| r.items.iter().any(|i| i.size == size && i.color == color && i.tier == file_tier))
        .ok_or_else(|| format!("no game data for {} {} gems", type_name(kind), tier_name(tier)))
}

/// Max level of a tier (from the Lesser/Water record; Empowered is equal).
pub fn max_level(tier: i64, _kind: i64) -> i64 {
    record(tier, LESSER, WATER).map_or(0, |r| r.max_level)
}

/// Levels whose record entry carries a boost (an extra container).
pub fn boost_levels(tier: i64, kind: i64) -> Vec<i64> {
    record(tier, kind, WATER)
        .map(|r| r.levels.iter().filter(|l| l.boost).map(|l| l.level).collect())
        .unwrap_or_default()
}

/// Number of boost levels ≤ `level`.
pub fn boosts_at(tier: i64, kind: i64, level: i64) -> i64 {
    boost_levels(tier, kind).iter().filter(|l| **l <= level).count() as i64
}

/// PR increment gained at `level` (0 for level 1 and past max).
pub fn pr_inc(tier: i64, level: i64) -> i64 {
    let base = TIER_PR_BASE.get(idx(tier)).copied().unwrap_or(0);
    record(tier, LESSER, WATER)
        .ok()
        .and_then(|r| r.levels.iter().find(|l| l.level == level))
        .map_or(0, |l| base * l.stat_steps)
}

/// Σ PR increments over levels 1..=level.
pub fn pr_inc_total(tier: i64, level: i64) -> i64 {
    let top = level.min(max_level(tier, LESSER));
    (1..=top).map(|l| pr_inc(tier, l)).sum()
}

/// PR thresholds per container for the kind.
pub fn pr_thresholds(tier: i64, kind: i64) -> [i64; 2] {
    let table = if kind == EMPOWERED { &EMPOWERED_PR_THRESHOLD } else { &LESSER_PR_THRESHOLD };
    table.get(idx(tier)).copied().unwrap_or([0, 0])
}

fn stat_row(tier: i64, kind: i64, element: i64, stat: i64) -> Result<&'static StatRow, String> {
    let missing = || format!("no stat base for {} at {}", stat_name(stat), tier_name(tier));
    let (key, percent) = STAT_KEY.get(idx(stat)).copied().flatten().ok_or_else(missing)?;
    let rec = record(tier, kind, element)?;
    rec.stats.iter().find(|r| r.stat == key && r.percent == percent).ok_or_else(missing)
}

/// stat_base = row.step / TIER_PR_BASE[tier].
pub fn stat_base(tier: i64, kind: i64, element: i64, stat: i64) -> Result<f64, String> {
    let row = stat_row(tier, kind, element, stat)?;
    Ok(row.step / TIER_PR_BASE.get(idx(tier)).copied().unwrap_or(1) as f64)
}

/// thresholds = [round(min / base, 9), round(max / base, 9)].
pub fn stat_thresholds(tier: i64, kind: i64, element: i64, stat: i64) -> Result<[f64; 2], String> {
    let row = stat_row(tier, kind, element, stat)?;
    let base = stat_base(tier, kind, element, stat)?;
    Ok([round_to(row.min / base, 9), round_to(row.max / base, 9)])
}

/// Roll weights of the kind's record (the Water record when the element's pool is empty).
pub fn stat_weights(tier: i64, kind: i64, element: i64) -> Vec<(i64, f64)> {
    let pick = |r: &'static Record| -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        for (i, key) in STAT_KEY.iter().enumerate() {
            if let Some((k, p)) = key
                && let Some(row) = r.pool.iter().find(|row| row.stat == *k && row.percent == *p)
            {
                out.push((i as i64 + 1, row.weight));
            }
        }
        out
    };
    match record(tier, kind, element) {
        Ok(r) if !r.pool.is_empty() => pick(r),
        _ => record(tier, kind, WATER).map(pick).unwrap_or_default(),
    }
}

/// The record entry for reaching `level` (None past max / below 2).
pub fn level_attempt(tier: i64, kind: i64, element: i64, level: i64) -> Option<&'static LevelRow> {
    record(tier, kind, element).ok()?.levels.iter().find(|l| l.level == level)
}

/// Display name of an item (last path segment when unnamed).
pub fn item_name(item: &str) -> String {
    tables()
        .ok()
        .and_then(|t| t.gem_upgrades.names.get(item).cloned())
        .unwrap_or_else(|| item.rsplit('/').next().unwrap_or(item).to_owned())
}

/// Focus increase percent of an augment type (2.5 / 5.0 / 12.5).
pub fn augment_percent(aug: i64) -> f64 {
    let item = FOCUS_ITEM.get(idx(aug)).copied().unwrap_or("");
    tables().ok().and_then(|t| t.gem_upgrades.focuses.iter().find(|f| f.item == item)).map_or(0.0, |f| f.amount)
}

/// Element dust / amber items.
pub fn element_materials(element: i64) -> Option<&'static Material> {
    let color = ELEMENT_COLOR.get(idx(element))?;
    tables().ok()?.gem_upgrades.materials.get(*color)
}

/// The boosters, in lookup order.
pub fn boosters() -> &'static [Booster] {
    tables().map_or(&[], |t| t.boosters.as_slice())
}

/// A booster by id; `unknown booster 'x'` otherwise.
pub fn booster(id: &str) -> Result<&'static Booster, String> {
    boosters().iter().find(|b| b.id == id).ok_or_else(|| format!("unknown booster '{id}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_parses_and_matches_derived_table() {
        assert!(tables().is_ok());
        let raw: Value = serde_json::from_str(include_str!("../../../tests/reference/vectors/calculator-tables.json"))
            .expect("tables json");
        for kind in raw["gem_kinds_derived"].as_array().expect("kinds") {
            let tier = kind["tier"].as_i64().expect("tier");
            let ty = kind["type"].as_i64().expect("type");
            let el = kind["element"].as_i64().expect("element");
            assert_eq!(max_level(tier, ty), kind["max_level"].as_i64().expect("max"));
            let bl: Vec<i64> =
                kind["boost_levels"].as_array().expect("boosts").iter().filter_map(Value::as_i64).collect();
            assert_eq!(boost_levels(tier, ty), bl);
            for (sid, s) in kind["stats"].as_object().expect("stats") {
                let sid: i64 = sid.parse().expect("id");
                assert_eq!(
                    stat_base(tier, ty, el, sid).expect("base"),
                    s["stat_base"].as_f64().expect("base"),
                    "stat base of tier {tier} type {ty} element {el} stat {sid}"
                );
                let th = stat_thresholds(tier, ty, el, sid).expect("th");
                assert_eq!(th[0], s["thresholds"][0].as_f64().expect("th0"));
                assert_eq!(th[1], s["thresholds"][1].as_f64().expect("th1"));
            }
            let weights: HashMap<i64, f64> = stat_weights(tier, ty, el).into_iter().collect();
            for (sid, w) in kind["stat_weights"].as_object().expect("w") {
                let sid: i64 = sid.parse().expect("id");
                assert_eq!(weights.get(&sid).copied(), w.as_f64(), "weight {sid}");
            }
        }
        for (tname, cum) in raw["pr_increment_cumulative"].as_object().expect("cum") {
            let tier = TIER_NAMES.iter().position(|n| n == tname).expect("tier") as i64 + 1;
            for (lvl, v) in cum.as_object().expect("levels") {
                let lvl: i64 = lvl.parse().expect("lvl");
                assert_eq!(pr_inc_total(tier, lvl), v.as_i64().expect("v"));
            }
        }
        assert_eq!(augment_percent(3), 12.5);
        assert_eq!(item_name("item/x/unnamed_thing"), "unnamed_thing");
        assert!(booster("nope").is_err());
    }
}
