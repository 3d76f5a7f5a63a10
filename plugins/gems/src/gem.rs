//! The Gem object that round-trips between client and API (calculators.md §2.3),
//! its validation from JSON, its computed output (values, quality, power rank,
//! stat values) and the simulator: `generate` and the actions `augment`, `spark`,
//! `flare`, `set-level` and `level-up` (§2.5–2.6).

use kiwi_sdk::Error;
use serde::Serialize;
use serde_json::Value;

use crate::py::{OrderedMap, py_min, round_int, round_to};
use crate::pyval::{Loc, V, at, detail};
use crate::rng::Rng;
use crate::tables::{self as t, COSMIC, EMPOWERED, FIERCE, KARMA_MAX, LESSER, LIGHT, MAGIC, PHYSICAL};

/// The original's unhandled-exception answer (an IndexError inside the model).
pub fn internal_error() -> Error {
    Error::new(500, "internal_error", "Internal server error")
}

#[derive(Debug, Clone, PartialEq)]
pub struct Augment {
    pub kind: i64,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub base: f64,
    pub augments: Vec<Augment>,
}

impl Container {
    /// A fresh container: `base` = the gem's `augmentation` if set, else `random()`;
    /// one augment entry of each type with count 0.
    pub fn fresh(augmentation: Option<f64>, rng: &mut Rng) -> Self {
        let base = augmentation.unwrap_or_else(|| rng.random());
        Self { base, augments: default_augments() }
    }

    /// Σ increase_percent / 100 × count.
    pub fn increase(&self) -> f64 {
        let mut s = 0.0;
        for a in &self.augments {
            s += t::augment_percent(a.kind) / 100.0 * a.count as f64;
        }
        s
    }
    pub fn real_value(&self) -> f64 {
        self.base + self.increase()
    }
    /// min(base + increase, 1).
    pub fn value(&self) -> f64 {
        py_min(self.real_value(), 1.0)
    }
}

fn default_augments() -> Vec<Augment> {
    t::AUGMENT_TYPES.iter().map(|k| Augment { kind: *k, count: 0 }).collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub kind: i64,
    pub containers: Vec<Container>,
    pub locked: bool,
}

impl Stat {
    /// min(mean(real_value), 1), or 0.0 without containers.
    pub fn augmentation_progress(&self) -> f64 {
        if self.containers.is_empty() {
            return 0.0;
        }
        let mut s = 0.0;
        for c in &self.containers {
            s += c.real_value();
        }
        py_min(s / self.containers.len() as f64, 1.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gem {
    pub id: i64,
    pub tier: i64,
    pub kind: i64,
    pub element: i64,
    pub restriction: Option<i64>,
    pub ability: Option<i64>,
    pub level: i64,
    pub stats: Vec<Stat>,
    pub augmentation: Option<f64>,
    pub attempts: i64,
    pub karma: i64,
    pub spent: OrderedMap<i64>,
}

/// Default gem id: `int(now_seconds * 100)`.
pub fn default_id(now_millis: i64) -> i64 {
    now_millis.div_euclid(10)
}

fn parse_augment(v: &mut V, val: &Value, loc: &Loc) -> Option<Augment> {
    let obj = v.model(val, loc)?;
    let kind = match obj.get("type") {
        Some(x) => v.enum_value(x, &at(loc, "type"), &t::AUGMENT_TYPES),
        None => {
            v.push(detail("missing", &at(loc, "type"), "Field required", val, None));
            None
        }
    };
    let count = v.int(obj, "count", loc, Some(0));
    Some(Augment { kind: kind?, count: count? })
}

fn parse_container(v: &mut V, val: &Value, loc: &Loc, rng: &mut Rng) -> Option<Container> {
    let obj = v.model(val, loc)?;
    let base = match obj.get("base") {
        Some(x) => v.float_value(x, &at(loc, "base")),
        None => Some(rng.random()),
    };
    let augments = match obj.get("augments") {
        None => Some(default_augments()),
        Some(list) => {
            let aloc = at(loc, "augments");
            v.list(list, &aloc).and_then(|items| {
                let parsed: Vec<Option<Augment>> =
                    items.iter().enumerate().map(|(i, a)| parse_augment(v, a, &at(&aloc, i))).collect();
                parsed.into_iter().collect()
            })
        }
    };
    Some(Container { base: base?, augments: augments? })
}

fn parse_stat(v: &mut V, val: &Value, loc: &Loc, rng: &mut Rng) -> Option<Stat> {
    let obj = v.model(val, loc)?;
    let kind = match obj.get("type") {
        Some(x) => v.enum_value(x, &at(loc, "type"), &t::STAT_TYPES),
        None => {
            v.push(detail("missing", &at(loc, "type"), "Field required", val, None));
            None
        }
    };
    let containers = match obj.get("containers") {
        None => Some(Vec::new()),
        Some(list) => {
            let cloc = at(loc, "containers");
            v.list(list, &cloc).and_then(|items| {
                let parsed: Vec<Option<Container>> =
                    items.iter().enumerate().map(|(i, c)| parse_container(v, c, &at(&cloc, i), rng)).collect();
                parsed.into_iter().collect()
            })
        }
    };
    let locked = v.boolean(obj, "locked", loc, false);
    Some(Stat { kind: kind?, containers: containers?, locked: locked? })
}

fn opt_enum(
    v: &mut V,
    obj: &serde_json::Map<String, Value>,
    key: &str,
    loc: &Loc,
    members: &[i64],
) -> Option<Option<i64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(x) => v.enum_value(x, &at(loc, key), members).map(Some),
    }
}

fn req_enum(v: &mut V, obj: &serde_json::Map<String, Value>, key: &str, loc: &Loc, members: &[i64]) -> Option<i64> {
    match obj.get(key) {
        Some(x) => v.enum_value(x, &at(loc, key), members),
        None => {
            v.push(detail("missing", &at(loc, key), "Field required", &Value::Object(obj.clone()), None));
            None
        }
    }
}

/// Validates a posted gem (pydantic `Gem`), drawing default container bases
/// from `rng`. Errors are recorded in `v`.
pub fn parse_gem(v: &mut V, val: &Value, loc: &Loc, rng: &mut Rng, now_millis: i64) -> Option<Gem> {
    let obj = v.model(val, loc)?;
    let id = v.int(obj, "id", loc, Some(default_id(now_millis)));
    let tier = req_enum(v, obj, "tier", loc, &t::TIERS);
    let kind = req_enum(v, obj, "type", loc, &t::TYPES);
    let element = req_enum(v, obj, "element", loc, &t::ELEMENTS);
    let restriction = opt_enum(v, obj, "restriction", loc, &t::RESTRICTIONS);
    let ability = opt_enum(v, obj, "ability", loc, &t::ABILITIES);
    let level = v.int(obj, "level", loc, None);
    let stats = match obj.get("stats") {
        None => {
            v.push(detail("missing", &at(loc, "stats"), "Field required", val, None));
            None
        }
        Some(list) => {
            let sloc = at(loc, "stats");
            v.list(list, &sloc).and_then(|items| {
                let parsed: Vec<Option<Stat>> =
                    items.iter().enumerate().map(|(i, s)| parse_stat(v, s, &at(&sloc, i), rng)).collect();
                parsed.into_iter().collect()
            })
        }
    };
    let augmentation = v.opt_float(obj, "augmentation", loc);
    let attempts = v.int(obj, "attempts", loc, Some(0));
    let karma = v.int(obj, "karma", loc, Some(0));
    let spent = match obj.get("spent") {
        None => Some(OrderedMap::new()),
        Some(Value::Object(m)) => {
            let sloc = at(loc, "spent");
            let mut out = OrderedMap::new();
            let mut ok = true;
            for (k, x) in m {
                match v.int_value(x, &at(&sloc, k.as_str())) {
                    Some(n) => out.0.push((k.clone(), n)),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        }
        Some(other) => {
            v.push(detail("dict_type", &at(loc, "spent"), "Input should be a valid dictionary", other, None));
            None
        }
    };
    Some(Gem {
        id: id?,
        tier: tier?,
        kind: kind?,
        element: element?,
        restriction: restriction?,
        ability: ability?,
        level: level?,
        stats: stats?,
        augmentation: augmentation?,
        attempts: attempts?,
        karma: karma?,
        spent: spent?,
    })
}

// ---------------------------------------------------------------- output

#[derive(Debug, Serialize)]
pub struct AugmentOut {
    #[serde(rename = "type")]
    pub kind: i64,
    pub count: i64,
}

#[derive(Debug, Serialize)]
pub struct ContainerOut {
    pub base: f64,
    pub augments: Vec<AugmentOut>,
    pub increase: f64,
    pub value: f64,
    pub real_value: f64,
}

#[derive(Debug, Serialize)]
pub struct StatOut {
    #[serde(rename = "type")]
    pub kind: i64,
    pub containers: Vec<ContainerOut>,
    pub locked: bool,
    pub augmentation_progress: f64,
}

/// The serialized gem: stored fields then computed ones.
#[derive(Debug, Serialize)]
pub struct GemOut {
    pub id: i64,
    pub tier: i64,
    #[serde(rename = "type")]
    pub kind: i64,
    pub element: i64,
    pub restriction: Option<i64>,
    pub ability: Option<i64>,
    pub level: i64,
    pub stats: Vec<StatOut>,
    pub augmentation: Option<f64>,
    pub attempts: i64,
    pub karma: i64,
    pub spent: OrderedMap<i64>,
    pub ability_name: Option<&'static str>,
    pub gem_name: Option<String>,
    pub is_max_level: bool,
    pub quality: f64,
    pub power_rank: i64,
    pub stat_values: Vec<OrderedMap<f64>>,
}

impl Gem {
    pub fn container_count(&self) -> usize {
        self.stats.iter().map(|s| s.containers.len()).sum()
    }

    pub fn max_level(&self) -> i64 {
        t::max_level(self.tier, self.kind)
    }

    /// round(mean(container value) × 100, 1) / 100.
    pub fn quality(&self) -> f64 {
        let mut sum = 0.0;
        let mut n = 0usize;
        for s in &self.stats {
            for c in &s.containers {
                sum += c.value();
                n += 1;
            }
        }
        if n == 0 {
            return 0.0;
        }
        round_to(sum / n as f64 * 100.0, 1) / 100.0
    }

    /// Power rank, accumulated in the original's order, then `round()`.
    pub fn power_rank(&self) -> i64 {
        let mut pr = if self.kind == EMPOWERED { 100.0 } else { 0.0 };
        let th = t::pr_thresholds(self.tier, self.kind);
        let (th0, th1) = (th[0] as f64, th[1] as f64);
        for s in &self.stats {
            let progress = th0 + (th1 - th0) * s.augmentation_progress();
            pr += progress * s.containers.len() as f64;
        }
        let top = self.level.min(self.max_level());
        for _ in &self.stats {
            for lvl in 1..=top {
                pr += t::pr_inc(self.tier, lvl) as f64;
            }
        }
        round_int(pr)
    }

    /// `{display_name: value}` per stat; fails for stats without game data.
    pub fn stat_values(&self) -> Result<Vec<OrderedMap<f64>>, String> {
        let inc = t::pr_inc_total(self.tier, self.level) as f64;
        let mut out = Vec::with_capacity(self.stats.len());
        for s in &self.stats {
            let base = t::stat_base(self.tier, self.kind, self.element, s.kind)?;
            let th = t::stat_thresholds(self.tier, self.kind, self.element, s.kind)?;
            let progress = th[0] + (th[1] - th[0]) * s.augmentation_progress();
            let value = base * progress * s.containers.len() as f64 + base * inc;
            out.push(OrderedMap(vec![(t::stat_name(s.kind).to_owned(), value)]));
        }
        Ok(out)
    }

    /// The response shape. Stats without game data make the original's
    /// serializer raise, which it answered with a 500.
    pub fn to_out(&self) -> Result<GemOut, Error> {
        let stat_values = self.stat_values().map_err(|_| internal_error())?;
        let ability_name = self.ability.map(t::ability_name);
        let gem_name = if self.kind == LESSER {
            Some(match self.restriction {
                None => format!("{} Gem", t::tier_name(self.tier)),
                Some(r) => format!("{} {} Gem", t::restriction_name(r), t::tier_name(self.tier)),
            })
        } else {
            ability_name.map(str::to_owned)
        };
        Ok(GemOut {
            id: self.id,
            tier: self.tier,
            kind: self.kind,
            element: self.element,
            restriction: self.restriction,
            ability: self.ability,
            level: self.level,
            stats: self
                .stats
                .iter()
                .map(|s| StatOut {
                    kind: s.kind,
                    containers: s
                        .containers
                        .iter()
                        .map(|c| ContainerOut {
                            base: c.base,
                            augments: c.augments.iter().map(|a| AugmentOut { kind: a.kind, count: a.count }).collect(),
                            increase: c.increase(),
                            value: c.value(),
                            real_value: c.real_value(),
                        })
                        .collect(),
                    locked: s.locked,
                    augmentation_progress: s.augmentation_progress(),
                })
                .collect(),
            augmentation: self.augmentation,
            attempts: self.attempts,
            karma: self.karma,
            spent: self.spent.clone(),
            ability_name,
            gem_name,
            is_max_level: self.level == self.max_level(),
            quality: self.quality(),
            power_rank: self.power_rank(),
            stat_values,
        })
    }
}

// ---------------------------------------------------------------- actions

/// Why an action could not run: a 400 message, or the original's 500.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionError {
    BadRequest(String),
    Internal,
}

impl From<ActionError> for Error {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::BadRequest(m) => Error::bad_request(m),
            ActionError::Internal => internal_error(),
        }
    }
}

impl Gem {
    fn check_position(&self, position: i64) -> Result<usize, ActionError> {
        match usize::try_from(position) {
            Ok(p) if p < self.stats.len() => Ok(p),
            _ => Err(ActionError::BadRequest(format!(
                "stat position {position} out of range (0..{})",
                self.stats.len() as i64 - 1
            ))),
        }
    }

    /// One focus augment on the stat at `position`; false if already maxed.
    pub fn augment(&mut self, position: i64, augment_type: i64) -> Result<bool, ActionError> {
        let p = self.check_position(position)?;
        let aug = t::enum_check(augment_type, &t::AUGMENT_TYPES, "AugmentType").map_err(ActionError::BadRequest)?;
        let stat = &mut self.stats[p];
        if stat.augmentation_progress() == 1.0 {
            return Ok(false);
        }
        for c in &mut stat.containers {
            if c.real_value() >= 1.0 {
                continue;
            }
            for a in &mut c.augments {
                if a.kind == aug {
                    a.count = a.count.saturating_add(1);
                }
            }
            return Ok(true);
        }
        Ok(false)
    }

    /// The types a spark could turn the stat at `position` into (pool order).
    pub fn spark_candidates(&self) -> Vec<i64> {
        let in_use: Vec<i64> = self.stats.iter().map(|s| s.kind).collect();
        let pool: &[i64] = match self.restriction {
            Some(r) if r == FIERCE => &t::PHYSICAL_POOL,
            Some(_) => &t::MAGIC_POOL,
            None => t::spark_pool(self.element),
        };
        let mut unused: Vec<i64> = pool.iter().copied().filter(|s| !in_use.contains(s)).collect();
        if in_use.contains(&PHYSICAL) {
            unused.retain(|s| *s != MAGIC);
        }
        if in_use.contains(&MAGIC) {
            unused.retain(|s| *s != PHYSICAL);
        }
        unused
    }

    /// Rerolls the stat type at `position` (false if locked or nothing is left).
    pub fn spark(&mut self, position: i64, rng: &mut Rng) -> Result<bool, ActionError> {
        let p = self.check_position(position)?;
        if self.stats[p].locked {
            return Ok(false);
        }
        let unused = self.spark_candidates();
        match rng.choice_index(unused.len()) {
            None => Ok(false),
            Some(i) => {
                self.stats[p].kind = unused[i];
                Ok(true)
            }
        }
    }

    /// Moves the last container of the stat at `position` to another stat.
    pub fn flare(&mut self, position: i64, rng: &mut Rng) -> Result<bool, ActionError> {
        let p = self.check_position(position)?;
        if self.stats[p].containers.len() <= 1 {
            return Ok(false);
        }
        let others: Vec<usize> = (0..self.stats.len()).filter(|i| *i != p).collect();
        let moved = self.stats[p].containers.pop().ok_or(ActionError::Internal)?;
        // The original's router maps the IndexError of `choice([])` to a 400.
        let target = rng
            .choice_index(others.len())
            .ok_or_else(|| ActionError::BadRequest("Cannot choose from an empty sequence".into()))?;
        self.stats[others[target]].containers.push(moved);
        Ok(true)
    }

    fn gain_level(&mut self, rng: &mut Rng) -> Result<(), ActionError> {
        self.level = self.level.saturating_add(1);
        if t::boost_levels(self.tier, self.kind).contains(&self.level) {
            let i = rng.randint(0, 2) as usize;
            let c = Container::fresh(self.augmentation, rng);
            self.stats.get_mut(i).ok_or(ActionError::Internal)?.containers.push(c);
        }
        Ok(())
    }

    /// Sets the level (clamped to max) and brings the container count to
    /// 3 + boosts; false (nothing changed) when the level is already `level`.
    pub fn set_level(&mut self, level: i64, rng: &mut Rng) -> Result<bool, ActionError> {
        if self.level == level {
            return Ok(false);
        }
        self.level = level.min(self.max_level());
        self.karma = 0;
        let target = 3 + t::boosts_at(self.tier, self.kind, self.level);
        let diff = target - self.container_count() as i64;
        if diff > 0 {
            for _ in 0..diff {
                let i = rng.choice_index(self.stats.len()).ok_or(ActionError::Internal)?;
                let c = Container::fresh(self.augmentation, rng);
                self.stats[i].containers.push(c);
            }
        } else if diff < 0 {
            for _ in 0..(-diff) {
                let candidates: Vec<usize> =
                    (0..self.stats.len()).filter(|i| self.stats[*i].containers.len() > 1).collect();
                let i = rng.choice_index(candidates.len()).ok_or(ActionError::Internal)?;
                self.stats[candidates[i]].containers.pop();
            }
        }
        Ok(true)
    }
}

/// One cost row of a level-up attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostRow {
    pub item: String,
    pub name: String,
    pub count: i64,
}

/// Chance and double chance of an attempt with an optional booster.
pub fn attempt_odds(attempt: &t::LevelRow, boost: Option<&t::Booster>) -> (f64, f64) {
    let (cm, dm) = boost.map_or((1.0, 1.0), |b| (b.chance_multiplier, b.double_multiplier));
    (py_min(1.0, attempt.chance * cm), py_min(1.0, attempt.double_chance * dm))
}

/// Cost rows: the level's items, element dust, element amber, then the booster.
pub fn attempt_cost(element: i64, attempt: &t::LevelRow, boost: Option<&t::Booster>) -> Vec<CostRow> {
    let mut rows: Vec<CostRow> = attempt
        .cost
        .iter()
        .map(|c| CostRow { item: c.item.clone(), name: t::item_name(&c.item), count: c.count })
        .collect();
    if let Some(m) = t::element_materials(element) {
        if attempt.dust > 0 {
            rows.push(CostRow { item: m.dust.clone(), name: t::item_name(&m.dust), count: attempt.dust });
        }
        if attempt.amber > 0 {
            rows.push(CostRow { item: m.amber.clone(), name: t::item_name(&m.amber), count: attempt.amber });
        }
    }
    if let Some(b) = boost {
        rows.push(CostRow { item: b.item.clone(), name: t::item_name(&b.item), count: 1 });
    }
    rows
}

/// Karma a failed attempt adds: floor(round((chance + double) × 100, 6)).
pub fn karma_gain(chance: f64, double: f64) -> i64 {
    let k = round_to((chance + double) * 100.0, 6).floor();
    if k.is_nan() { 0 } else { k as i64 }
}

/// What a level-up attempt did.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelUpOutcome {
    pub outcome: &'static str,
    pub chance: f64,
    pub double_chance: f64,
    pub cost: Vec<CostRow>,
    pub guaranteed: bool,
    pub karma_gained: i64,
}

impl Gem {
    /// One level-up attempt at the game's odds (calculators.md §2.6).
    pub fn level_up(&mut self, booster_id: Option<&str>, rng: &mut Rng) -> Result<LevelUpOutcome, ActionError> {
        let Some(attempt) = t::level_attempt(self.tier, self.kind, self.element, self.level.saturating_add(1)) else {
            return Ok(LevelUpOutcome {
                outcome: "max_level",
                chance: 0.0,
                double_chance: 0.0,
                cost: Vec::new(),
                guaranteed: false,
                karma_gained: 0,
            });
        };
        let boost = match booster_id {
            Some(id) if !id.is_empty() => Some(t::booster(id).map_err(ActionError::BadRequest)?),
            _ => None,
        };
        let (chance, double) = attempt_odds(attempt, boost);
        let cost = attempt_cost(self.element, attempt, boost);
        self.attempts = self.attempts.saturating_add(1);
        for row in &cost {
            let e = self.spent.entry_or(&row.name, 0);
            *e = e.saturating_add(row.count);
        }
        let mut guaranteed = false;
        let mut karma_gained = 0;
        let outcome;
        if rng.random() < chance {
            let double_roll = rng.random() < double;
            let gained = if double_roll && self.level.saturating_add(2) <= self.max_level() { 2 } else { 1 };
            for _ in 0..gained {
                self.gain_level(rng)?;
            }
            outcome = if gained == 2 { "double" } else { "success" };
            self.karma = 0;
        } else {
            karma_gained = karma_gain(chance, double);
            if self.karma.saturating_add(karma_gained) >= KARMA_MAX {
                self.gain_level(rng)?;
                outcome = "success";
                guaranteed = true;
                self.karma = 0;
            } else {
                self.karma = self.karma.saturating_add(karma_gained);
                outcome = "failed";
            }
        }
        Ok(LevelUpOutcome { outcome, chance, double_chance: double, cost, guaranteed, karma_gained })
    }
}

// ---------------------------------------------------------------- generate

/// `POST /generate` parameters (already type-validated).
#[derive(Debug, Clone, Default)]
pub struct GenerateParams {
    pub tier: Option<i64>,
    pub kind: Option<i64>,
    pub element: Option<i64>,
    pub restriction: Option<i64>,
    pub level: i64,
    pub augmentation: Option<f64>,
}

fn pick(rng: &mut Rng, values: &[i64]) -> i64 {
    rng.choice_index(values.len()).and_then(|i| values.get(i)).copied().unwrap_or_default()
}

/// k distinct stats, each draw weighted by the record's roll weights (uniform
/// when no weight is left).
fn weighted_sample(pool: &[i64], weights: &[(i64, f64)], k: usize, rng: &mut Rng) -> Vec<i64> {
    let mut left: Vec<i64> = pool.to_vec();
    let mut picked = Vec::with_capacity(k);
    for _ in 0..k.min(left.len()) {
        let mut w: Vec<f64> =
            left.iter().map(|s| weights.iter().find(|(id, _)| id == s).map_or(0.0, |(_, w)| *w)).collect();
        if !w.iter().any(|x| *x != 0.0) {
            w = vec![1.0; left.len()];
        }
        let i = rng.weighted_index(&w).unwrap_or(0);
        picked.push(left.remove(i));
    }
    picked
}

/// A random gem (calculators.md §2.5). Err = the ValueError message.
pub fn generate(p: &GenerateParams, rng: &mut Rng, id: i64) -> Result<Gem, String> {
    let tier = match p.tier {
        None | Some(0) => pick(rng, &t::TIERS),
        Some(v) => t::enum_check(v, &t::TIERS, "GemTier")?,
    };
    let kind = match p.kind {
        None | Some(0) => pick(rng, &t::TYPES),
        Some(v) => t::enum_check(v, &t::TYPES, "GemType")?,
    };
    let element = match p.element {
        None | Some(0) => pick(rng, &t::ELEMENTS),
        Some(v) => t::enum_check(v, &t::ELEMENTS, "GemElement")?,
    };
    let restriction = if kind == LESSER {
        Some(match p.restriction {
            None => pick(rng, &t::RESTRICTIONS),
            Some(v) => t::enum_check(v, &t::RESTRICTIONS, "GemRestriction")?,
        })
    } else {
        None
    };
    let extra = t::boosts_at(tier, kind, p.level);
    let pool: &[i64] = match restriction {
        None => {
            if rng.randint(0, 1) == 0 {
                &t::PHYSICAL_POOL
            } else {
                &t::MAGIC_POOL
            }
        }
        Some(r) if r == FIERCE => &t::PHYSICAL_POOL,
        Some(_) => &t::MAGIC_POOL,
    };
    let weights = t::stat_weights(tier, kind, element);
    let types = weighted_sample(pool, &weights, 3, rng);
    let mut stats: Vec<Stat> =
        types.into_iter().map(|kind| Stat { kind, containers: Vec::new(), locked: false }).collect();
    if element == COSMIC {
        let i = rng.randint(0, 2) as usize;
        if let Some(s) = stats.get_mut(i) {
            s.kind = LIGHT;
            s.locked = true;
        }
    }
    for s in &mut stats {
        s.containers.push(Container::fresh(p.augmentation, rng));
    }
    for _ in 0..extra {
        let i = rng.randint(0, 2) as usize;
        let c = Container::fresh(p.augmentation, rng);
        if let Some(s) = stats.get_mut(i) {
            s.containers.push(c);
        }
    }
    let level = p.level.min(t::max_level(tier, kind));
    let ability = (kind == EMPOWERED).then(|| pick(rng, t::abilities_for(element)));
    Ok(Gem {
        id,
        tier,
        kind,
        element,
        restriction,
        ability,
        level,
        stats,
        augmentation: p.augmentation,
        attempts: 0,
        karma: 0,
        spent: OrderedMap::new(),
    })
}
