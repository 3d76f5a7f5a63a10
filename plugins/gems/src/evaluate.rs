//! The gem evaluator (calculators.md §2.7–2.8): score a typed-in gem from its
//! three stat values (with proc-spread guessing), or from its Power Rank alone,
//! and cost out the focus materials needed to perfect it.

use serde::Serialize;

use crate::py::{OrderedMap, clamp01, py_max, round_int, round_to};
use crate::tables::{self as t, COSMIC, EMPOWERED, LIGHT, MAGIC, PHYSICAL, WATER};

const PROGRESS_TOLERANCE: f64 = 0.05;

/// (key, label, [(focus key, focus size in 2.5% units)]).
type FocusOption = (&'static str, &'static str, &'static [(&'static str, i64)]);
const FOCUS_OPTIONS: [FocusOption; 3] = [
    ("optimized_all", "Superior + Precise + Rough", &[("superior", 5), ("precise", 2), ("rough", 1)]),
    ("optimized_precise_rough", "Precise + Rough", &[("precise", 2), ("rough", 1)]),
    ("rough_only", "Rough Only", &[("rough", 1)]),
];

const RECIPE_SUPERIOR: [(&str, i64); 4] =
    [("bound_brilliance", 1), ("diamond_dragonite", 30), ("titan_soul", 3), ("flux", 50000)];
const RECIPE_PRECISE: [(&str, i64); 5] = [
    ("bound_brilliance", 1),
    ("water_gem_dust", 3000),
    ("air_gem_dust", 3000),
    ("fire_gem_dust", 3000),
    ("flux", 2000),
];
const RECIPE_ROUGH: [(&str, i64); 3] = [("bound_brilliance", 1), ("heart_of_darkness", 4), ("flux", 1200)];

/// Focus counts and materials of one strategy.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FocusStrategyCost {
    pub key: &'static str,
    pub label: &'static str,
    pub superior: i64,
    pub precise: i64,
    pub rough: i64,
    pub total: i64,
    pub recipe_totals: OrderedMap<i64>,
}

/// Why an evaluation failed: a plain evaluator message, or a ValueError that
/// the original prefixed with "Could not evaluate gem: ".
#[derive(Debug, Clone, PartialEq)]
pub enum EvalError {
    Plain(String),
    Value(String),
}

impl EvalError {
    pub fn message(&self) -> String {
        match self {
            EvalError::Plain(m) => m.clone(),
            EvalError::Value(m) => format!("Could not evaluate gem: {m}"),
        }
    }
}

/// Focus plan of one stat: per-strategy totals over its containers.
fn focus_plan(display_progress: f64, containers: i64) -> Vec<FocusStrategyCost> {
    let current = round_to(display_progress * 100.0, 2);
    let remaining = py_max(0.0, 100.0 - current);
    let units_needed = py_max(0.0, ((remaining - 1e-9) / 2.5).ceil());
    let units_needed = if units_needed.is_finite() { units_needed as i64 } else { 0 };
    FOCUS_OPTIONS
        .iter()
        .map(|(key, label, sizes)| {
            let mut left = units_needed;
            let (mut sup, mut pre, mut rou) = (0i64, 0i64, 0i64);
            for (focus, size) in sizes.iter() {
                let n = left / size;
                left %= size;
                match *focus {
                    "superior" => sup = n,
                    "precise" => pre = n,
                    _ => rou = n,
                }
            }
            let c = containers;
            let (sup, pre, rou) = (sup.saturating_mul(c), pre.saturating_mul(c), rou.saturating_mul(c));
            let total = (sup + pre + rou).max(0);
            let mut recipe = OrderedMap::new();
            for (count, mats) in [(sup, &RECIPE_SUPERIOR[..]), (pre, &RECIPE_PRECISE[..]), (rou, &RECIPE_ROUGH[..])] {
                if count <= 0 {
                    continue;
                }
                for (m, amount) in mats {
                    let e: &mut i64 = recipe.entry_or(m, 0);
                    *e = e.saturating_add(amount.saturating_mul(count));
                }
            }
            FocusStrategyCost { key, label, superior: sup, precise: pre, rough: rou, total, recipe_totals: recipe }
        })
        .collect()
}

/// Adds per-stat plans into gem totals (keyed by strategy, in strategy order).
fn sum_plans(plans: &[Vec<FocusStrategyCost>]) -> OrderedMap<FocusStrategyCost> {
    let mut out = OrderedMap::new();
    for (i, (key, label, _)) in FOCUS_OPTIONS.iter().enumerate() {
        let mut acc = FocusStrategyCost {
            key,
            label,
            superior: 0,
            precise: 0,
            rough: 0,
            total: 0,
            recipe_totals: OrderedMap::new(),
        };
        for p in plans {
            let s = &p[i];
            acc.superior = acc.superior.saturating_add(s.superior);
            acc.precise = acc.precise.saturating_add(s.precise);
            acc.rough = acc.rough.saturating_add(s.rough);
            for (m, n) in &s.recipe_totals.0 {
                let e: &mut i64 = acc.recipe_totals.entry_or(m, 0);
                *e = e.saturating_add(*n);
            }
        }
        acc.total = acc.superior.saturating_add(acc.precise).saturating_add(acc.rough);
        out.0.push((key.to_string(), acc));
    }
    out
}

/// One entered stat.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalStatIn {
    pub kind: i64,
    pub value: f64,
    pub extra_containers: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalStat {
    #[serde(rename = "type")]
    pub kind: i64,
    pub display_name: &'static str,
    pub entered_value: f64,
    pub extra_containers: i64,
    pub containers: i64,
    pub progress: f64,
    pub quality_percent: f64,
    pub estimated_pr_contribution: f64,
    pub is_within_range: bool,
    pub raw_progress: f64,
    pub threshold_progress: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvaluationResult {
    pub tier: i64,
    #[serde(rename = "type")]
    pub kind: i64,
    pub type_name: &'static str,
    pub element: i64,
    pub element_name: &'static str,
    pub restriction: Option<i64>,
    pub restriction_name: &'static str,
    pub level: i64,
    pub quality: f64,
    pub quality_percent: f64,
    pub calculated_power_rank: i64,
    pub has_issues: bool,
    pub issues: Vec<String>,
    pub stats: Vec<EvalStat>,
    pub focus_totals: OrderedMap<FocusStrategyCost>,
    pub headline_cost: FocusStrategyCost,
    pub available_extra_containers: i64,
    pub guessed_distribution: Vec<i64>,
}

/// Scores one candidate proc spread (`stats[i].extra_containers` already set).
fn evaluate_candidate(tier: i64, kind: i64, level: i64, stats: &[EvalStatIn]) -> Result<EvaluationResult, EvalError> {
    let types: Vec<i64> = stats.iter().map(|s| s.kind).collect();
    let element = if types.contains(&LIGHT) { COSMIC } else { WATER };
    let restriction = if types.contains(&PHYSICAL) {
        Some(1)
    } else if types.contains(&MAGIC) {
        Some(2)
    } else {
        None
    };
    let inc = t::pr_inc_total(tier, level);
    let mut pr = if kind == EMPOWERED { 100.0 } else { 0.0 } + (inc * 3) as f64;
    let prth = t::pr_thresholds(tier, kind);
    let mut total_progress = 0.0;
    let mut total_containers: i64 = 0;
    let mut out = Vec::with_capacity(stats.len());
    let mut plans = Vec::with_capacity(stats.len());
    let mut issues = Vec::new();
    for s in stats {
        let containers = s.extra_containers.saturating_add(1);
        let base = t::stat_base(tier, kind, element, s.kind).map_err(EvalError::Value)?;
        let th = t::stat_thresholds(tier, kind, element, s.kind).map_err(EvalError::Value)?;
        let tp = (s.value / base - inc as f64) / containers as f64;
        let raw = (tp - th[0]) / (th[1] - th[0]);
        let disp = clamp01(raw);
        let pr_c = (prth[0] as f64 + (prth[1] - prth[0]) as f64 * disp) * containers as f64;
        pr += pr_c;
        total_progress += disp * containers as f64;
        total_containers = total_containers.saturating_add(containers);
        let name = t::stat_name(s.kind);
        out.push(EvalStat {
            kind: s.kind,
            display_name: name,
            entered_value: s.value,
            extra_containers: s.extra_containers,
            containers,
            progress: round_to(disp, 4),
            quality_percent: round_to(disp * 100.0, 2),
            estimated_pr_contribution: round_to(pr_c, 2),
            is_within_range: (-PROGRESS_TOLERANCE..=1.0 + PROGRESS_TOLERANCE).contains(&raw),
            raw_progress: round_to(raw, 4),
            threshold_progress: round_to(tp, 4),
        });
        plans.push(focus_plan(disp, containers));
        if raw < -PROGRESS_TOLERANCE {
            issues.push(format!("{name} is below the minimum possible value for this level and proc spread."));
        } else if raw > 1.0 + PROGRESS_TOLERANCE {
            issues.push(format!("{name} is above the maximum possible value for this level and proc spread."));
        }
    }
    let q = if total_containers != 0 { total_progress / total_containers as f64 } else { 0.0 };
    let focus_totals = sum_plans(&plans);
    let headline_cost =
        focus_totals.get("optimized_precise_rough").cloned().ok_or_else(|| EvalError::Value("focus plan".into()))?;
    Ok(EvaluationResult {
        tier,
        kind,
        type_name: t::type_name(kind),
        element,
        element_name: t::element_name(element),
        restriction,
        restriction_name: restriction.map_or("Any", t::restriction_name),
        level,
        quality: round_to(q, 4),
        quality_percent: round_to(q * 100.0, 2),
        calculated_power_rank: round_int(pr),
        has_issues: !issues.is_empty(),
        issues,
        stats: out,
        focus_totals,
        headline_cost,
        available_extra_containers: 0,
        guessed_distribution: Vec::new(),
    })
}

fn with_spread(stats: &[EvalStatIn], spread: &[i64]) -> Vec<EvalStatIn> {
    stats.iter().zip(spread).map(|(s, e)| EvalStatIn { extra_containers: *e, ..s.clone() }).collect()
}

/// The guess score: (round(Σ(raw − clamp(raw))², 9), −total, round(spread², 9)).
fn spread_score(c: &EvaluationResult, total: i64) -> (f64, i64, f64) {
    let mut out_of_range = 0.0;
    for s in &c.stats {
        let d = s.raw_progress - clamp01(s.raw_progress);
        out_of_range += d * d;
    }
    let mut hi = f64::NEG_INFINITY;
    let mut lo = f64::INFINITY;
    for s in &c.stats {
        hi = if s.progress > hi { s.progress } else { hi };
        lo = if s.progress < lo { s.progress } else { lo };
    }
    let spread = if c.stats.is_empty() { 0.0 } else { hi - lo };
    (round_to(out_of_range, 9), -total, round_to(spread * spread * 0.25, 9))
}

fn less(a: &(f64, i64, f64), b: &(f64, i64, f64)) -> bool {
    if a.0 != b.0 {
        return a.0 < b.0;
    }
    if a.1 != b.1 {
        return a.1 < b.1;
    }
    a.2 < b.2
}

/// `POST /evaluate` logic.
pub fn evaluate(
    tier: i64,
    kind: i64,
    level: i64,
    stats: &[EvalStatIn],
    auto_guess_procs: bool,
) -> Result<EvaluationResult, EvalError> {
    let tier = t::enum_check(tier, &t::TIERS, "GemTier").map_err(EvalError::Value)?;
    let kind = t::enum_check(kind, &t::TYPES, "GemType").map_err(EvalError::Value)?;
    if stats.len() != 3 {
        return Err(EvalError::Plain("Exactly 3 stats are required.".into()));
    }
    let mut selected = Vec::with_capacity(3);
    let mut extra_total: i64 = 0;
    for s in stats {
        let st = t::enum_check(s.kind, &t::STAT_TYPES, "GemStatType").map_err(EvalError::Value)?;
        if selected.contains(&st) {
            return Err(EvalError::Plain("Gem stats must be unique.".into()));
        }
        selected.push(st);
        if s.extra_containers < 0 {
            return Err(EvalError::Plain("Extra containers cannot be negative.".into()));
        }
        extra_total = extra_total.saturating_add(s.extra_containers);
    }
    if selected.contains(&PHYSICAL) && selected.contains(&MAGIC) {
        return Err(EvalError::Plain("Physical Damage and Magic Damage cannot be on the same gem.".into()));
    }
    let available = t::boosts_at(tier, kind, level);
    let spread: Vec<i64> = if auto_guess_procs || extra_total > available {
        let mut best: Option<((f64, i64, f64), Vec<i64>)> = None;
        for a in 0..4 {
            for b in 0..4 {
                for c in 0..4 {
                    let total = a + b + c;
                    if total > available {
                        continue;
                    }
                    let d = [a, b, c];
                    let cand = evaluate_candidate(tier, kind, level, &with_spread(stats, &d))?;
                    let score = spread_score(&cand, total);
                    if best.as_ref().is_none_or(|(s, _)| less(&score, s)) {
                        best = Some((score, d.to_vec()));
                    }
                }
            }
        }
        best.map_or_else(|| vec![0, 0, 0], |(_, d)| d)
    } else {
        stats.iter().map(|s| s.extra_containers).collect()
    };
    let mut result = evaluate_candidate(tier, kind, level, &with_spread(stats, &spread))?;
    result.available_extra_containers = available;
    result.guessed_distribution = spread;
    Ok(result)
}

#[derive(Debug, Clone, Serialize)]
pub struct SimpleEvaluationResult {
    pub tier: i64,
    pub tier_name: &'static str,
    #[serde(rename = "type")]
    pub kind: i64,
    pub type_name: &'static str,
    pub level: i64,
    pub power_rank: i64,
    pub min_power_rank: i64,
    pub max_power_rank: i64,
    pub quality: f64,
    pub quality_percent: f64,
    pub is_within_range: bool,
    pub distance: i64,
    pub containers: i64,
    pub boosts: i64,
    pub focus_totals: OrderedMap<FocusStrategyCost>,
    pub headline_cost: FocusStrategyCost,
}

/// `POST /evaluate-simple` logic: quality from the Power Rank alone.
pub fn evaluate_simple(tier: i64, kind: i64, power_rank: i64, level: i64) -> Result<SimpleEvaluationResult, EvalError> {
    let tier = t::enum_check(tier, &t::TIERS, "GemTier").map_err(EvalError::Value)?;
    let kind = t::enum_check(kind, &t::TYPES, "GemType").map_err(EvalError::Value)?;
    let level = level.max(1);
    let max = t::max_level(tier, kind);
    if level > max {
        return Err(EvalError::Plain(format!("Level {level} is above the max ({max}) for this gem.")));
    }
    let base = 3 * t::pr_inc_total(tier, level) + if kind == EMPOWERED { 100 } else { 0 };
    let prth = t::pr_thresholds(tier, kind);
    let band = |c: i64| -> (i64, i64) {
        (round_int(prth[0] as f64 * c as f64 + base as f64), round_int(prth[1] as f64 * c as f64 + base as f64))
    };
    let default_c = 3 + t::boosts_at(tier, kind, level);
    let mut containers = default_c;
    let mut c = default_c;
    while c >= 3 {
        let (lo, hi) = band(c);
        if lo <= power_rank && power_rank <= hi {
            containers = c;
            break;
        }
        c -= 1;
    }
    let (lo, hi) = band(containers);
    let (raw, distance, within) = if power_rank < lo {
        (-1.0, lo.saturating_sub(power_rank), false)
    } else if power_rank > hi {
        (1.0, power_rank.saturating_sub(hi), false)
    } else if hi == lo {
        (0.0, 0, true)
    } else {
        ((power_rank - lo) as f64 / (hi - lo) as f64, 0, true)
    };
    let progress = clamp01(raw);
    let focus_totals = sum_plans(&[focus_plan(progress, containers)]);
    let headline_cost =
        focus_totals.get("optimized_precise_rough").cloned().ok_or_else(|| EvalError::Value("focus plan".into()))?;
    Ok(SimpleEvaluationResult {
        tier,
        tier_name: t::tier_name(tier),
        kind,
        type_name: t::type_name(kind),
        level,
        power_rank,
        min_power_rank: lo,
        max_power_rank: hi,
        quality: round_to(progress, 4),
        quality_percent: round_to(progress * 100.0, 2),
        is_within_range: within,
        distance,
        containers,
        boosts: containers - 3,
        focus_totals,
        headline_cost,
    })
}
