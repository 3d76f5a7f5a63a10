//! `gems`: the Trove gem simulator, evaluator, level-cost planner and gem-build
//! optimizer (`/v1/gems/*`), ported from the original KiwiAPI service
//! (calculators.md §2). The simulator is stateless: clients hold the gem object
//! and post it back with a stat position.
//!
//! This module owns the manifest and the thin HTTP layer: request validation
//! (pydantic-style 422s via [`pyval`]), seeding, and serialization. The logic
//! lives in [`gem`], [`evaluate`], [`levels`] and [`builds`].

pub mod builds;
pub mod evaluate;
pub mod gem;
pub mod levels;
pub mod py;
pub mod pyval;
pub mod rng;
pub mod tables;

use kiwi_sdk::Response;
use kiwi_sdk::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::gem::{CostRow, Gem, GemOut, GenerateParams};
use crate::py::OrderedMap;
use crate::pyval::{Loc, V, at, body_object, detail, query_map};
use crate::rng::Rng;
use crate::tables as t;

const SCOPE: &str = "gems:read";
/// Response header carrying the seed a randomised request used.
pub const SEED_HEADER: &str = "x-gems-seed";

fn json_with_seed<T: Serialize>(value: &T, seed: u64) -> Result<Response> {
    let body = serde_json::to_vec(value).map_err(|e| Error::internal(e.to_string()))?;
    Ok(Response {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into()), (SEED_HEADER.into(), seed.to_string())],
        body,
    })
}

fn body_loc() -> Loc {
    vec![Value::from("body")]
}

/// The optional `seed` body field (any JSON integer; strings as for ints).
fn parse_seed(v: &mut V, obj: &Map<String, Value>) -> Option<Option<u64>> {
    match obj.get("seed") {
        None | Some(Value::Null) => Some(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Some(n.as_u64()),
        Some(x) => v.int_value(x, &at(&body_loc(), "seed")).map(|i| Some(i as u64)),
    }
}

fn seed_or_entropy(seed: Option<u64>, ctx: &Ctx) -> u64 {
    seed.unwrap_or_else(|| Rng::entropy_seed(ctx.now_millis(), ctx.request_id()))
}

// ---------------------------------------------------------------- lookups

#[derive(Serialize)]
struct IdName {
    id: i64,
    name: &'static str,
}

#[derive(Serialize)]
struct TierLookup {
    id: i64,
    name: &'static str,
    max_level: i64,
}

#[derive(Serialize)]
struct AugmentLookup {
    id: i64,
    name: &'static str,
    increase_percent: f64,
}

#[derive(Serialize)]
struct BoosterLookup {
    id: String,
    name: String,
    chance_multiplier: f64,
    double_multiplier: f64,
}

#[derive(Serialize)]
struct GemLookups {
    tiers: Vec<TierLookup>,
    types: Vec<IdName>,
    elements: Vec<IdName>,
    restrictions: Vec<IdName>,
    stat_types: Vec<IdName>,
    augment_types: Vec<AugmentLookup>,
    abilities: Vec<IdName>,
    abilities_by_element: OrderedMap<&'static [i64]>,
    karma_max: i64,
    boosters: Vec<BoosterLookup>,
    empowered_gems: Vec<Value>,
}

fn id_names(ids: &[i64], names: &[&'static str]) -> Vec<IdName> {
    ids.iter().zip(names).map(|(id, name)| IdName { id: *id, name }).collect()
}

fn lookups() -> Result<Json<GemLookups>> {
    t::tables()?;
    Ok(Json(GemLookups {
        tiers: t::TIERS
            .iter()
            .map(|id| TierLookup { id: *id, name: t::tier_name(*id), max_level: t::max_level(*id, t::LESSER) })
            .collect(),
        types: id_names(&t::TYPES, &t::TYPE_NAMES),
        elements: id_names(&t::ELEMENTS, &t::ELEMENT_NAMES),
        restrictions: id_names(&t::RESTRICTIONS, &t::RESTRICTION_NAMES),
        stat_types: id_names(&t::STAT_TYPES, &t::STAT_NAMES),
        augment_types: t::AUGMENT_TYPES
            .iter()
            .zip(t::AUGMENT_NAMES)
            .map(|(id, name)| AugmentLookup { id: *id, name, increase_percent: t::augment_percent(*id) })
            .collect(),
        abilities: id_names(&t::ABILITIES, &t::ABILITY_NAMES),
        abilities_by_element: OrderedMap(
            t::ELEMENTS.iter().map(|e| (t::element_name(*e).to_owned(), t::abilities_for(*e))).collect(),
        ),
        karma_max: t::KARMA_MAX,
        boosters: t::boosters()
            .iter()
            .map(|b| BoosterLookup {
                id: b.id.clone(),
                name: b.name.clone(),
                chance_multiplier: b.chance_multiplier,
                double_multiplier: b.double_multiplier,
            })
            .collect(),
        empowered_gems: Vec::new(),
    }))
}

// ---------------------------------------------------------------- generate

fn generate(Body(body): Body, ctx: Ctx) -> Result<Response> {
    t::tables()?;
    let obj = body_object(&body)?;
    let loc = body_loc();
    let mut v = V::new();
    let tier = v.opt_int(&obj, "tier", &loc);
    let kind = v.opt_int(&obj, "type", &loc);
    let element = v.opt_int(&obj, "element", &loc);
    let restriction = v.opt_int(&obj, "restriction", &loc);
    let level = v.int(&obj, "level", &loc, Some(1));
    let augmentation = v.opt_float(&obj, "augmentation", &loc);
    let seed = parse_seed(&mut v, &obj);
    let errs = std::mem::take(&mut v.errs);
    let (Some(tier), Some(kind), Some(element), Some(restriction), Some(level), Some(augmentation), Some(seed)) =
        (tier, kind, element, restriction, level, augmentation, seed)
    else {
        return Err(Error::validation(errs));
    };
    let params = GenerateParams { tier, kind, element, restriction, level, augmentation };
    let seed = seed_or_entropy(seed, &ctx);
    let mut rng = Rng::seeded(seed);
    let gem = gem::generate(&params, &mut rng, gem::default_id(ctx.now_millis()))
        .map_err(|m| Error::bad_request(format!("Invalid gem parameters: {m}")))?;
    json_with_seed(&gem.to_out()?, seed)
}

// ---------------------------------------------------------------- actions

#[derive(Serialize)]
struct GemActionResult {
    applied: bool,
    gem: GemOut,
}

/// A parsed action request: the gem, its extra fields and the generator.
struct ActionRequest {
    gem: Gem,
    obj: Map<String, Value>,
    rng: Rng,
    seed: u64,
}

/// Parses `{gem, <extra fields>, seed}`; `extra` validates the action's own
/// fields (in declaration order, after `gem`) and returns false on error.
fn action_request<F>(body: &[u8], ctx: &Ctx, extra: F) -> Result<ActionRequest>
where
    F: FnOnce(&mut V, &Map<String, Value>) -> bool,
{
    t::tables()?;
    let obj = body_object(body)?;
    let loc = body_loc();
    let mut v = V::new();
    // The seed is read first so that default container bases are reproducible too.
    let mut seed_check = V::new();
    let seed = parse_seed(&mut seed_check, &obj).flatten();
    let seed = seed_or_entropy(seed, ctx);
    let mut rng = Rng::seeded(seed);
    let gem = match obj.get("gem") {
        Some(g) => gem::parse_gem(&mut v, g, &at(&loc, "gem"), &mut rng, ctx.now_millis()),
        None => {
            v.push(detail("missing", &at(&loc, "gem"), "Field required", &Value::Object(obj.clone()), None));
            None
        }
    };
    let extra_ok = extra(&mut v, &obj);
    v.errs.extend(seed_check.errs);
    match gem {
        Some(gem) if extra_ok && v.errs.is_empty() => Ok(ActionRequest { gem, obj, rng, seed }),
        _ => Err(Error::validation(v.errs)),
    }
}

fn stat_position(v: &mut V, obj: &Map<String, Value>) -> bool {
    v.int_bounded(obj, "stat_position", &body_loc(), None, Some(0), None).is_some()
}

fn int_of(obj: &Map<String, Value>, key: &str, default: i64) -> i64 {
    obj.get(key).and_then(|x| pyval::coerce_int(x).ok()).unwrap_or(default)
}

fn action_response(applied: bool, gem: &Gem, seed: u64) -> Result<Response> {
    json_with_seed(&GemActionResult { applied, gem: gem.to_out()? }, seed)
}

fn augment(Body(body): Body, ctx: Ctx) -> Result<Response> {
    let mut req = action_request(&body, &ctx, |v, obj| {
        let a = stat_position(v, obj);
        let b = v.int(obj, "augment_type", &body_loc(), Some(1)).is_some();
        a && b
    })?;
    let pos = int_of(&req.obj, "stat_position", 0);
    let aug = int_of(&req.obj, "augment_type", 1);
    let applied = req.gem.augment(pos, aug)?;
    action_response(applied, &req.gem, req.seed)
}

fn spark(Body(body): Body, ctx: Ctx) -> Result<Response> {
    let mut req = action_request(&body, &ctx, stat_position)?;
    let pos = int_of(&req.obj, "stat_position", 0);
    let applied = req.gem.spark(pos, &mut req.rng)?;
    action_response(applied, &req.gem, req.seed)
}

fn flare(Body(body): Body, ctx: Ctx) -> Result<Response> {
    let mut req = action_request(&body, &ctx, stat_position)?;
    let pos = int_of(&req.obj, "stat_position", 0);
    let applied = req.gem.flare(pos, &mut req.rng)?;
    action_response(applied, &req.gem, req.seed)
}

fn set_level(Body(body): Body, ctx: Ctx) -> Result<Response> {
    let mut req =
        action_request(&body, &ctx, |v, obj| v.int_bounded(obj, "level", &body_loc(), None, Some(1), None).is_some())?;
    let level = int_of(&req.obj, "level", 1);
    let applied = req.gem.set_level(level, &mut req.rng)?;
    action_response(applied, &req.gem, req.seed)
}

#[derive(Serialize)]
struct LevelUpResult {
    applied: bool,
    outcome: &'static str,
    chance: f64,
    double_chance: f64,
    cost: Vec<CostRow>,
    guaranteed: bool,
    karma_gained: i64,
    gem: GemOut,
}

fn level_up(Body(body): Body, ctx: Ctx) -> Result<Response> {
    let mut booster = None;
    let mut req = action_request(&body, &ctx, |v, obj| match v.opt_string(obj, "booster", &body_loc()) {
        Some(b) => {
            booster = b;
            true
        }
        None => false,
    })?;
    let before = req.gem.level;
    let out = req.gem.level_up(booster.as_deref(), &mut req.rng)?;
    json_with_seed(
        &LevelUpResult {
            applied: req.gem.level > before,
            outcome: out.outcome,
            chance: out.chance,
            double_chance: out.double_chance,
            cost: out.cost,
            guaranteed: out.guaranteed,
            karma_gained: out.karma_gained,
            gem: req.gem.to_out()?,
        },
        req.seed,
    )
}

// ---------------------------------------------------------------- evaluator

fn evaluate_gem(Body(body): Body) -> Result<Json<evaluate::EvaluationResult>> {
    t::tables()?;
    let obj = body_object(&body)?;
    let loc = body_loc();
    let mut v = V::new();
    let tier = v.int(&obj, "tier", &loc, Some(4));
    let kind = v.int(&obj, "type", &loc, Some(1));
    let level = v.int(&obj, "level", &loc, Some(1));
    let stats = match obj.get("stats") {
        None => {
            v.push(detail("missing", &at(&loc, "stats"), "Field required", &Value::Object(obj.clone()), None));
            None
        }
        Some(list) => {
            let sloc = at(&loc, "stats");
            v.list(list, &sloc).and_then(|items| {
                let parsed: Vec<Option<evaluate::EvalStatIn>> = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let iloc = at(&sloc, i);
                        let o = v.model(item, &iloc)?;
                        let kind = v.int(o, "type", &iloc, None);
                        let value = v.float(o, "value", &iloc, None);
                        let extra = v.int(o, "extra_containers", &iloc, Some(0));
                        Some(evaluate::EvalStatIn { kind: kind?, value: value?, extra_containers: extra? })
                    })
                    .collect();
                parsed.into_iter().collect::<Option<Vec<_>>>()
            })
        }
    };
    let auto = v.boolean(&obj, "auto_guess_procs", &loc, false);
    let errs = std::mem::take(&mut v.errs);
    let (Some(tier), Some(kind), Some(level), Some(stats), Some(auto)) = (tier, kind, level, stats, auto) else {
        return Err(Error::validation(errs));
    };
    evaluate::evaluate(tier, kind, level, &stats, auto).map(Json).map_err(|e| Error::bad_request(e.message()))
}

fn evaluate_simple(Body(body): Body) -> Result<Json<evaluate::SimpleEvaluationResult>> {
    t::tables()?;
    let obj = body_object(&body)?;
    let loc = body_loc();
    let mut v = V::new();
    let tier = v.int(&obj, "tier", &loc, Some(4));
    let kind = v.int(&obj, "type", &loc, Some(1));
    let pr = v.int(&obj, "power_rank", &loc, Some(0));
    let level = v.int(&obj, "level", &loc, Some(1));
    let errs = std::mem::take(&mut v.errs);
    let (Some(tier), Some(kind), Some(pr), Some(level)) = (tier, kind, pr, level) else {
        return Err(Error::validation(errs));
    };
    evaluate::evaluate_simple(tier, kind, pr, level).map(Json).map_err(|e| Error::bad_request(e.message()))
}

// ---------------------------------------------------------------- query endpoints

/// Reads a query int the way FastAPI does (missing required → `missing`, input null).
fn q_int(v: &mut V, q: &Map<String, Value>, key: &str, default: Option<i64>, ge: Option<i64>) -> Option<i64> {
    let loc = vec![Value::from("query"), Value::from(key)];
    let Some(raw) = q.get(key) else {
        if default.is_none() {
            v.push(detail("missing", &loc, "Field required", &Value::Null, None));
        }
        return default;
    };
    let i = v.int_value(raw, &loc)?;
    match ge {
        Some(min) => v.check_ge(i, min, &loc, raw),
        None => Some(i),
    }
}

fn level_costs(RawQuery(raw): RawQuery) -> Result<Json<levels::LevelPlan>> {
    t::tables()?;
    let q = query_map(&raw);
    let mut v = V::new();
    let tier = q_int(&mut v, &q, "tier", None, None);
    let kind = q_int(&mut v, &q, "type", None, None);
    let element = q_int(&mut v, &q, "element", Some(1), None);
    let booster = q.get("booster").and_then(Value::as_str).map(str::to_owned);
    let from_level = q_int(&mut v, &q, "from_level", Some(1), Some(1));
    let errs = std::mem::take(&mut v.errs);
    let (Some(tier), Some(kind), Some(element), Some(from_level)) = (tier, kind, element, from_level) else {
        return Err(Error::validation(errs));
    };
    levels::level_plan(tier, kind, element, booster.as_deref(), from_level)
        .map(Json)
        .map_err(|m| Error::bad_request(format!("Invalid level-cost parameters: {m}")))
}

fn stat_range(RawQuery(raw): RawQuery) -> Result<Json<levels::GemStatRange>> {
    t::tables()?;
    let q = query_map(&raw);
    let mut v = V::new();
    let tier = q_int(&mut v, &q, "tier", None, None);
    let kind = q_int(&mut v, &q, "type", None, None);
    let stat_type = q_int(&mut v, &q, "stat_type", None, None);
    let level = q_int(&mut v, &q, "level", Some(1), Some(1));
    let extra = q_int(&mut v, &q, "extra_containers", Some(0), Some(0));
    let element = match q.get("element") {
        None => Some(None),
        Some(_) => q_int(&mut v, &q, "element", Some(0), None).map(Some),
    };
    let errs = std::mem::take(&mut v.errs);
    let (Some(tier), Some(kind), Some(stat_type), Some(level), Some(extra), Some(element)) =
        (tier, kind, stat_type, level, extra, element)
    else {
        return Err(Error::validation(errs));
    };
    levels::stat_range(tier, kind, stat_type, level, extra, element)
        .map(Json)
        .map_err(|m| Error::bad_request(format!("Invalid stat-range parameters: {m}")))
}

// ---------------------------------------------------------------- builds

fn build_options() -> Result<Json<builds::BuildOptions>> {
    Ok(Json(builds::options(t::tables()?)))
}

fn build_calculate(Body(body): Body) -> Result<Json<builds::BuildResponse>> {
    let tables = t::tables()?;
    let obj = body_object(&body)?;
    let loc = body_loc();
    let mut v = V::new();
    let d = builds::BuildConfig::default();
    let build_type = v.string(&obj, "build_type", &loc, &d.build_type);
    let character = v.string(&obj, "character", &loc, &d.character);
    let subclass = v.string(&obj, "subclass", &loc, &d.subclass);
    let food = v.string(&obj, "food", &loc, &d.food);
    let ally = v.string(&obj, "ally", &loc, &d.ally);
    let ally_buff = v.boolean(&obj, "ally_buff", &loc, d.ally_buff);
    let berserker = v.boolean(&obj, "berserker_battler", &loc, d.berserker_battler);
    let cdc = v.int_bounded(&obj, "critical_damage_count", &loc, Some(3), Some(0), Some(3));
    let no_face = v.boolean(&obj, "no_face", &loc, d.no_face);
    let light = v.int(&obj, "light", &loc, Some(0));
    let subclass_active = v.boolean(&obj, "subclass_active", &loc, false);
    let litany = v.boolean(&obj, "litany", &loc, false);
    let bounty_hunt = v.boolean(&obj, "bounty_hunt", &loc, false);
    let star_chart = v.opt_string(&obj, "star_chart", &loc);
    let high_precision = v.boolean(&obj, "high_precision", &loc, false);
    let errs = std::mem::take(&mut v.errs);
    let (
        Some(build_type),
        Some(character),
        Some(subclass),
        Some(food),
        Some(ally),
        Some(ally_buff),
        Some(berserker_battler),
        Some(critical_damage_count),
        Some(no_face),
        Some(light),
        Some(subclass_active),
        Some(litany),
        Some(bounty_hunt),
        Some(star_chart),
        Some(high_precision),
    ) = (
        build_type,
        character,
        subclass,
        food,
        ally,
        ally_buff,
        berserker,
        cdc,
        no_face,
        light,
        subclass_active,
        litany,
        bounty_hunt,
        star_chart,
        high_precision,
    )
    else {
        return Err(Error::validation(errs));
    };
    let cfg = builds::BuildConfig {
        build_type,
        character,
        subclass,
        food,
        ally,
        ally_buff,
        berserker_battler,
        critical_damage_count,
        no_face,
        light,
        subclass_active,
        litany,
        bounty_hunt,
        star_chart,
        high_precision,
    };
    builds::calculate(tables, &cfg).map(Json).map_err(Error::bad_request)
}

fn health_optimizer(Body(body): Body) -> Result<Json<builds::HealthResponse>> {
    let tables = t::tables()?;
    let obj = body_object(&body)?;
    let loc = body_loc();
    let mut v = V::new();
    let character = v.string(&obj, "character", &loc, "Bard");
    let star_chart = v.opt_string(&obj, "star_chart", &loc);
    let weapon_ch = v.boolean(&obj, "weapon_ch", &loc, false);
    let ring_ch = v.boolean(&obj, "ring_ch", &loc, false);
    let hat_health = v.boolean(&obj, "hat_health", &loc, false);
    let face_health = v.boolean(&obj, "face_health", &loc, false);
    let high_precision = v.boolean(&obj, "high_precision", &loc, false);
    let errs = std::mem::take(&mut v.errs);
    let (
        Some(character),
        Some(star_chart),
        Some(weapon_ch),
        Some(ring_ch),
        Some(hat_health),
        Some(face_health),
        Some(high_precision),
    ) = (character, star_chart, weapon_ch, ring_ch, hat_health, face_health, high_precision)
    else {
        return Err(Error::validation(errs));
    };
    let cfg =
        builds::HealthConfig { character, star_chart, weapon_ch, ring_ch, hat_health, face_health, high_precision };
    builds::health_optimizer(tables, &cfg).map(Json).map_err(Error::bad_request)
}

// ---------------------------------------------------------------- manifest

const GEM_EXAMPLE: &str = r#"{"applied":true,"gem":{"id":1001,"tier":4,"type":1,"element":1,"restriction":1,"ability":null,"level":1,"stats":[{"type":1,"containers":[{"base":0.5,"augments":[{"type":1,"count":0},{"type":2,"count":0},{"type":3,"count":1}],"increase":0.125,"value":0.625,"real_value":0.625}],"locked":false,"augmentation_progress":0.625}],"augmentation":null,"attempts":0,"karma":0,"spent":{},"ability_name":null,"gem_name":"Fierce Mystic Gem","is_max_level":false,"quality":0.625,"power_rank":238,"stat_values":[{"Physical Damage":5880.0}]}}"#;

const CALCULATE_DESCRIPTION: &str = "Ranks gem proc layouts by damage coefficient (top 200). \
Deviation from the original: at the reference version the original answers 500 for practically every \
valid config, because its response model declares `light` as an integer while the logic returns \
round(x, 2). This port returns what the original's logic computes (fractional `light`). A `star_chart` \
code (and so `bounty_hunt`) has no effect: the star-chart data was not available to the port.";

const RANDOM_NOTE: &str = " Randomised: pass an integer `seed` in the body for a reproducible \
outcome; without one the outcome is random. The seed used is echoed in the `x-gems-seed` header.";

/// The plugin manifest and routes.
pub fn plugin() -> Plugin {
    Plugin::new("gems", env!("CARGO_PKG_VERSION"))
        .description(
            "Trove gems: a stateless gem simulator (generate, augment, spark, flare, level up), \
             an evaluator, level-up cost plans, stat ranges and gem-build optimizers.",
        )
        .scope("gems:read", "Use the gem simulator and calculators")
        .route(
            get("/lookups", lookups)
                .public(SCOPE)
                .summary("Valid values for gem fields (tiers, stats, augments, boosters...)")
                .description("`empowered_gems` is returned empty: the decoded gem_abilities data was not available to the port.")
                .example(r#"{"tiers":[{"id":1,"name":"Radiant","max_level":23}],"karma_max":125}"#),
        )
        .route(
            post("/generate", generate)
                .public(SCOPE)
                .summary("Generate a random gem")
                .description(&format!(
                    "Body: {{tier?, type?, element?, restriction?, level=1, augmentation?, seed?}}; a missing or 0 tier/type/element is drawn at random.{RANDOM_NOTE}"
                ))
                .example(GEM_EXAMPLE),
        )
        .route(
            post("/augment", augment)
                .public(SCOPE)
                .summary("Apply one focus augment to a stat")
                .description("Body: {gem, stat_position, augment_type=1 (1 Rough, 2 Precise, 3 Superior)}.")
                .example(GEM_EXAMPLE),
        )
        .route(
            post("/spark", spark)
                .public(SCOPE)
                .summary("Reroll a stat's type")
                .description(&format!("Body: {{gem, stat_position, seed?}}.{RANDOM_NOTE}"))
                .example(GEM_EXAMPLE),
        )
        .route(
            post("/flare", flare)
                .public(SCOPE)
                .summary("Move a stat's last container to another stat")
                .description(&format!("Body: {{gem, stat_position, seed?}}.{RANDOM_NOTE}"))
                .example(GEM_EXAMPLE),
        )
        .route(
            post("/level-up", level_up)
                .public(SCOPE)
                .summary("One level-up attempt at the game's odds")
                .description(&format!("Body: {{gem, booster?, seed?}}. Costs are spent whether or not the attempt lands; failures fill the karma bar.{RANDOM_NOTE}"))
                .example(r#"{"applied":true,"outcome":"success","chance":1.0,"double_chance":0.0,"cost":[{"item":"item/crafting/flux","name":"Flux","count":210}],"guaranteed":false,"karma_gained":0,"gem":{}}"#),
        )
        .route(
            post("/set-level", set_level)
                .public(SCOPE)
                .summary("Set a gem's level (adds or removes boost containers)")
                .description(&format!("Body: {{gem, level>=1, seed?}}.{RANDOM_NOTE}"))
                .example(GEM_EXAMPLE),
        )
        .route(
            post("/evaluate", evaluate_gem)
                .public(SCOPE)
                .summary("Score a typed-in gem and cost out perfecting it")
                .description("Body: {tier=4, type=1, level=1, stats: [{type, value, extra_containers=0}] x3, auto_guess_procs=false}.")
                .example(r#"{"tier":4,"type":1,"quality":0.3208,"quality_percent":32.08,"calculated_power_rank":658}"#),
        )
        .route(
            post("/evaluate-simple", evaluate_simple)
                .public(SCOPE)
                .summary("Estimate a gem's quality from its Power Rank")
                .description("Body: {tier=4, type=1, power_rank=0, level=1}.")
                .example(r#"{"tier":4,"tier_name":"Mystic","min_power_rank":600,"max_power_rank":780,"quality":0.5556}"#),
        )
        .route(
            get("/level-costs", level_costs)
                .public(SCOPE)
                .summary("Level-up plan: odds, karma, expected attempts and materials")
                .query_params(&["tier", "type", "element", "booster", "from_level"])
                .example(r#"{"tier":4,"type":1,"element":1,"booster":null,"from_level":30,"levels":[],"expected_total":[]}"#),
        )
        .route(
            get("/stat-range", stat_range)
                .public(SCOPE)
                .summary("The min/max value a stat can show at a level and proc count")
                .query_params(&["tier", "type", "stat_type", "level", "extra_containers", "element"])
                .example(r#"{"stat_type":1,"stat_display_name":"Physical Damage","element":1,"containers":1,"min_value":5040.0,"max_value":6720.0,"stat_base":18.666666666666668,"thresholds":[270.0,360.0]}"#),
        )
        .route(
            get("/builds/options", build_options)
                .public(SCOPE)
                .summary("Valid values for a build config")
                .example(r#"{"build_type":["Light","Farm","Health"]}"#),
        )
        .route(
            post("/builds/calculate", build_calculate)
                .public(SCOPE)
                .summary("Top gem proc layouts by damage coefficient")
                .description(CALCULATE_DESCRIPTION)
                .example(r#"{"results":[{"rank":1,"layout":"9/0/3/15","base_dmg":414377.6,"crit_dmg":4992.5,"light":12944.5,"bonus_dmg":150.999994,"crit_bonus":0,"total_dmg":1040087.75,"class_bonus":0,"coefficient":52966988.71}],"count":1}"#),
        )
        .route(
            post("/builds/health-optimizer", health_optimizer)
                .public(SCOPE)
                .summary("Gem health-line layouts that keep Critical Hit at the cap")
                .description("Body: {character=\"Bard\", star_chart?, weapon_ch, ring_ch, hat_health, face_health, high_precision}. A star_chart code has no effect (data not available to the port).")
                .example(r#"{"base":{"critical_hit":45.4,"maximum_health":131250.0,"maximum_health_per":1171.0},"results":[],"count":0}"#),
        )
}

kiwi_sdk::export!(plugin);

#[cfg(test)]
mod tests {
    use kiwi_sdk::Access;

    #[test]
    fn manifest_documents_every_route() {
        let p = super::plugin();
        let m = p.manifest();
        assert_eq!(m.name, "gems");
        assert_eq!(m.routes.len(), 14);
        for r in &m.routes {
            assert!(matches!(r.access, Access::Public), "{} is not public", r.path);
            assert_eq!(r.scope.as_deref(), Some(super::SCOPE));
            assert!(!r.summary.is_empty(), "{} has no summary", r.path);
            let example = r.example.as_deref().expect("example");
            serde_json::from_str::<serde_json::Value>(example)
                .unwrap_or_else(|e| panic!("{} example is not JSON: {e}", r.path));
            if r.method == "GET" && (r.path == "/level-costs" || r.path == "/stat-range") {
                assert!(!r.query_params.is_empty());
            }
        }
        let calc = m.routes.iter().find(|r| r.path == "/builds/calculate").expect("calculate");
        assert!(calc.description.contains("Deviation"));
    }
}
