//! Deterministic per-kind numbers: the level-up cost plan (`GET /level-costs`,
//! calculators.md §2.6) and the plausible value range of a stat
//! (`GET /stat-range`, §2.9).

use serde::Serialize;

use crate::gem::{CostRow, attempt_cost, attempt_odds, karma_gain};
use crate::py::{OrderedMap, round_int, round_to};
use crate::tables::{self as t, COSMIC, KARMA_MAX, LIGHT, WATER};

#[derive(Debug, Clone, Serialize)]
pub struct LevelStep {
    pub level: i64,
    pub chance: f64,
    pub double_chance: f64,
    pub karma_per_fail: i64,
    pub expected_attempts: f64,
    pub max_attempts: Option<i64>,
    pub cost: Vec<CostRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NameCount {
    pub name: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LevelPlan {
    pub tier: i64,
    #[serde(rename = "type")]
    pub kind: i64,
    pub element: i64,
    pub booster: Option<String>,
    pub from_level: i64,
    pub levels: Vec<LevelStep>,
    pub expected_total: Vec<NameCount>,
}

/// Expected attempts and the karma-capped worst case for one level.
fn attempts_for(chance: f64, gain: i64) -> (f64, Option<i64>) {
    let fails = (gain > 0).then(|| (KARMA_MAX as f64 / gain as f64).ceil() as i64);
    if chance >= 1.0 {
        (1.0, Some(1))
    } else {
        match fails {
            None => (if chance != 0.0 { 1.0 / chance } else { 0.0 }, None),
            Some(f) => ((1.0 - (1.0 - chance).powf(f as f64)) / chance, Some(f)),
        }
    }
}

/// The level-by-level plan from `from_level`. Err = the ValueError message.
pub fn level_plan(
    tier: i64,
    kind: i64,
    element: i64,
    booster: Option<&str>,
    from_level: i64,
) -> Result<LevelPlan, String> {
    let tier = t::enum_check(tier, &t::TIERS, "GemTier")?;
    let kind = t::enum_check(kind, &t::TYPES, "GemType")?;
    let element = t::enum_check(element, &t::ELEMENTS, "GemElement")?;
    let boost = match booster {
        Some(id) if !id.is_empty() => Some(t::booster(id)?),
        _ => None,
    };
    let record = t::record(tier, kind, element)?;
    let mut levels = Vec::new();
    let mut totals: OrderedMap<f64> = OrderedMap::new();
    for attempt in record.levels.iter().filter(|l| l.level > from_level) {
        let (chance, double) = attempt_odds(attempt, boost);
        let cost = attempt_cost(element, attempt, boost);
        let gain = karma_gain(chance, double);
        let (attempts, max_attempts) = attempts_for(chance, gain);
        for row in &cost {
            *totals.entry_or(&row.name, 0.0) += row.count as f64 * attempts;
        }
        levels.push(LevelStep {
            level: attempt.level,
            chance,
            double_chance: double,
            karma_per_fail: gain,
            expected_attempts: round_to(attempts, 2),
            max_attempts,
            cost,
        });
    }
    Ok(LevelPlan {
        tier,
        kind,
        element,
        booster: booster.map(str::to_owned),
        from_level,
        levels,
        expected_total: totals.0.into_iter().map(|(name, v)| NameCount { name, count: round_int(v) }).collect(),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct GemStatRange {
    pub stat_type: i64,
    pub stat_display_name: &'static str,
    pub element: i64,
    pub containers: i64,
    pub min_value: f64,
    pub max_value: f64,
    pub stat_base: f64,
    pub thresholds: [f64; 2],
}

/// The (min, max) a stat can show at a level and proc count. Err = ValueError message.
pub fn stat_range(
    tier: i64,
    kind: i64,
    stat_type: i64,
    level: i64,
    extra_containers: i64,
    element: Option<i64>,
) -> Result<GemStatRange, String> {
    let tier = t::enum_check(tier, &t::TIERS, "GemTier")?;
    let kind = t::enum_check(kind, &t::TYPES, "GemType")?;
    let st = t::enum_check(stat_type, &t::STAT_TYPES, "GemStatType")?;
    let containers = extra_containers.max(0).saturating_add(1);
    let element = match element {
        Some(e) => t::enum_check(e, &t::ELEMENTS, "GemElement")?,
        None if st == LIGHT => COSMIC,
        None => WATER,
    };
    let inc = t::pr_inc_total(tier, level.max(1)) as f64;
    let base = t::stat_base(tier, kind, element, st)?;
    let th = t::stat_thresholds(tier, kind, element, st)?;
    let c = containers as f64;
    Ok(GemStatRange {
        stat_type: st,
        stat_display_name: t::stat_name(st),
        element,
        containers,
        min_value: round_to(base * (th[0] * c + inc), 6),
        max_value: round_to(base * (th[1] * c + inc), 6),
        stat_base: base,
        thresholds: th,
    })
}
