//! `rotations`: Trove's timers and rotations under `/v1/rotations` — server
//! time, daily/weekly buffs, the Corruxion/Fluxion/Luxion merchants,
//! gardening, the Chaos Chest, the hourly challenge, the d15 biome, Wild Mana
//! and Stampy rotations and a ±365-day calendar.
//!
//! Everything is computed from the host's pinned clock (`ctx.now_millis()`),
//! except the bot captures (Chaos Chest item, challenge name, Luxion
//! sightings), which master-only insert routes store in the plugin's kv and
//! the reads merge in. This file is the thin HTTP layer: routes, docs and
//! handlers; the rules live in the modules below.

pub mod biomes;
pub mod calendar;
pub mod captures;
mod examples;
pub mod luxion;
pub mod params;
pub mod schedule;
pub mod store;
pub mod tables;
pub mod time;

use kiwi_sdk::prelude::*;

use crate::time::Now;

/// The read scope of every GET route.
pub const SCOPE: &str = "rotations:read";

fn now(ctx: &Ctx) -> Result<Now> {
    Now::from_millis(ctx.now_millis())
}

fn require_master(ctx: &Ctx) -> Result<()> {
    // The host enforces `.master()`; this keeps the rule if a route is ever mounted differently.
    if ctx.is_master() { Ok(()) } else { Err(Error::forbidden("Master account required for ingest endpoints.")) }
}

// --- Clock-only reads -----------------------------------------------------------

fn get_server_time(ctx: Ctx) -> Result<Json<schedule::ServerTime>> {
    Ok(Json(schedule::server_time(now(&ctx)?)))
}

fn get_daily_buffs(ctx: Ctx) -> Result<Json<schedule::DailyBuffs<'static>>> {
    Ok(Json(schedule::daily_buffs(tables::require()?, now(&ctx)?)))
}

fn get_weekly_buffs(ctx: Ctx) -> Result<Json<schedule::WeeklyBuffs<'static>>> {
    Ok(Json(schedule::weekly_buffs(tables::require()?, now(&ctx)?)))
}

fn get_corruxion(ctx: Ctx) -> Result<Json<schedule::Corruxion>> {
    Ok(Json(schedule::corruxion(now(&ctx)?)))
}

fn get_fluxion(ctx: Ctx) -> Result<Json<schedule::Fluxion>> {
    Ok(Json(schedule::fluxion(now(&ctx)?)))
}

fn get_gardening(ctx: Ctx) -> Result<Json<schedule::Gardening>> {
    Ok(Json(schedule::gardening(now(&ctx)?)))
}

fn get_biomes(ctx: Ctx) -> Result<Json<biomes::BiomeRotationFeed>> {
    Ok(Json(biomes::biome_rotation(tables::require()?, now(&ctx)?)))
}

fn get_wild_mana(ctx: Ctx) -> Result<Json<biomes::BiomeRotationFeed>> {
    Ok(Json(biomes::wild_mana(tables::require()?, now(&ctx)?)))
}

fn get_stampy(ctx: Ctx) -> Result<Json<biomes::BiomeRotationFeed>> {
    Ok(Json(biomes::stampy(tables::require()?, now(&ctx)?)))
}

fn get_calendar(ctx: Ctx) -> Result<Json<calendar::YearlyCalendar>> {
    let now = now(&ctx)?;
    let runs = captures::luxion_starts(ctx.kv())?;
    Ok(Json(calendar::yearly_calendar(tables::require()?, now, &runs)))
}

// --- Capture-backed reads and inserts -----------------------------------------

fn get_chaos_chest(ctx: Ctx) -> Result<Json<captures::ChaosChest>> {
    Ok(Json(captures::current_chaos_chest(ctx.kv(), now(&ctx)?)?))
}

fn get_chaos_history(
    ctx: Ctx,
    RawQuery(q): RawQuery,
) -> Result<Json<captures::HistoryPage<captures::ChaosChestCaptureOut>>> {
    let p = params::page_params(&q, 200)?;
    Ok(Json(captures::chaos_history(ctx.kv(), p.limit, p.offset)?))
}

fn post_chaos_insert(ctx: Ctx, Body(body): Body) -> Result<Json<captures::CaptureInsertResponse>> {
    require_master(&ctx)?;
    let name = params::insert_name(&body)?;
    Ok(Json(captures::insert_chaos(ctx.kv(), &name, now(&ctx)?)?))
}

fn get_challenge_current(ctx: Ctx) -> Result<Json<captures::ChallengeCurrent>> {
    Ok(Json(captures::current_challenge(ctx.kv(), now(&ctx)?)?))
}

fn get_challenge_history(
    ctx: Ctx,
    RawQuery(q): RawQuery,
) -> Result<Json<captures::HistoryPage<captures::ChallengeCaptureOut>>> {
    let p = params::page_params(&q, 500)?;
    Ok(Json(captures::challenge_history(ctx.kv(), p.limit, p.offset)?))
}

fn post_challenge_insert(ctx: Ctx, Body(body): Body) -> Result<Json<captures::CaptureInsertResponse>> {
    require_master(&ctx)?;
    let name = params::insert_name(&body)?;
    Ok(Json(captures::insert_challenge(ctx.kv(), &name, now(&ctx)?)?))
}

fn get_luxion(ctx: Ctx) -> Result<Json<luxion::Luxion>> {
    Ok(Json(captures::current_luxion(ctx.kv(), now(&ctx)?)?))
}

fn get_luxion_history(ctx: Ctx, RawQuery(q): RawQuery) -> Result<Json<captures::HistoryPage<luxion::AppearanceOut>>> {
    let p = params::page_params(&q, 200)?;
    Ok(Json(captures::luxion_history(ctx.kv(), p.limit, p.offset)?))
}

fn post_luxion_insert(ctx: Ctx) -> Result<Json<captures::CaptureInsertResponse>> {
    require_master(&ctx)?;
    Ok(Json(captures::insert_luxion(ctx.kv(), now(&ctx)?)?))
}

// --- Manifest -------------------------------------------------------------------

const PAGING: &[&str] = &["limit", "offset"];

/// JSON Schema of the `{name}` insert body.
const NAME_BODY_SCHEMA: &str = r#"{"type":"object","required":["name"],"properties":{"name":{"type":"string","minLength":1,"maxLength":256,"description":"The captured display name, verbatim from the game (trimmed by the server)"}}}"#;

/// The plugin: scope, routes and their OpenAPI docs.
pub fn plugin() -> Plugin {
    use examples as ex;
    Plugin::new("rotations", env!("CARGO_PKG_VERSION"))
        .description(
            "Trove timers and rotations: server time (UTC-11), daily/weekly buffs, merchants, \
             gardening, Chaos Chest, hourly challenge, biome rotations and a yearly calendar.",
        )
        .scope(SCOPE, "Read Trove rotations and timers")
        .route(
            get("/server-time", get_server_time)
                .public(SCOPE)
                .summary("Trove server time and the next resets")
                .description(
                    "Trove time is real UTC minus 11 h: the in-game day (and the daily buff) \
                     rolls over at 11:00 UTC and the week on Monday 11:00 UTC. `daily_reset_at` \
                     and `weekly_reset_at` are the first resets strictly after now (unix seconds).",
                )
                .query_params(&[])
                .example(ex::SERVER_TIME),
        )
        .route(
            get("/daily-buffs", get_daily_buffs)
                .public(SCOPE)
                .summary("Today's daily buff and the Monday→Sunday rotation")
                .description("`current` follows the Trove weekday, so it changes at 11:00 UTC.")
                .query_params(&[])
                .example(ex::DAILY_BUFFS),
        )
        .route(
            get("/weekly-buffs", get_weekly_buffs)
                .public(SCOPE)
                .summary("This week's weekly buff and the 4-week rotation")
                .description("Rolls over every Monday 11:00 UTC.")
                .query_params(&[])
                .example(ex::WEEKLY_BUFFS),
        )
        .route(
            get("/corruxion", get_corruxion)
                .public(SCOPE)
                .summary("Corruxion merchant: live timer and the next 8 visits")
                .description(
                    "Present 3 days (Friday 11:00 → Monday 11:00 UTC) every 14 days. When away, \
                     `starts_at`/`ends_at` describe the next visit and `seconds_remaining` counts \
                     down to its arrival.",
                )
                .query_params(&[])
                .example(ex::CORRUXION),
        )
        .route(
            get("/fluxion", get_fluxion)
                .public(SCOPE)
                .summary("Fluxion merchant: voting/selling timer and the next 8 windows")
                .description(
                    "A 3-day window opens every Tuesday 11:00 UTC, alternating voting and \
                     selling. `state` is `away` between windows; each schedule entry carries \
                     its own state.",
                )
                .query_params(&[])
                .example(ex::FLUXION),
        )
        .route(
            get("/luxion", get_luxion)
                .public(SCOPE)
                .summary("Luxion merchant: the captured run and its 3-hour windows")
                .description(
                    "Luxion runs are captured from the game (see `POST /luxion/insert`), not \
                     computed. A run is `active` from its first sighting to the daily reset 6 \
                     trove days after the day it was seen on; the merchant is open in 3-hour \
                     windows on a global 27-hour grid (`merchant_open`). Until a sighting is \
                     stored, the body is the constant inactive one with an empty schedule.",
                )
                .query_params(&[])
                .example(ex::LUXION),
        )
        .route(
            post("/luxion/insert", post_luxion_insert)
                .master()
                .body_limit(4096)
                .summary("Record a Luxion sighting (master only)")
                .description(
                    "No body. A sighting inside the live run refreshes its `last_seen_at` \
                     (`refreshed: true`); otherwise a new run starts now, anchored to the \
                     current trove day (`anchor` = that day's 11:00 UTC reset).",
                )
                .query_params(&[])
                .example(ex::LUXION_INSERT),
        )
        .route(
            get("/luxion/history", get_luxion_history)
                .public(SCOPE)
                .summary("Past Luxion runs, newest first")
                .description("`limit` 1..=200 (default 50), `offset` ≥ 0 (default 0).")
                .query_params(PAGING)
                .example(ex::LUXION_HISTORY),
        )
        .route(
            get("/gardening", get_gardening)
                .public(SCOPE)
                .summary("Gardening harvest windows")
                .description(
                    "2-day plants ripen on the second day of their cycle, 3-day plants on the \
                     third (both cycles from Friday 2025-05-23 11:00 UTC). `upcoming` lists the \
                     next 10 harvest windows.",
                )
                .query_params(&[])
                .example(ex::GARDENING),
        )
        .route(
            get("/chaos-chest", get_chaos_chest)
                .public(SCOPE)
                .summary("The weekly Chaos Chest: window, countdown and captured item")
                .description(
                    "The week runs Tuesday 11:00 UTC → Tuesday 11:00 UTC. `item` and \
                     `fetched_at` come from this week's bot capture and are null until one is \
                     stored.",
                )
                .query_params(&[])
                .example(ex::CHAOS_CHEST),
        )
        .route(
            post("/chaos-chest/insert", post_chaos_insert)
                .master()
                .request_schema(NAME_BODY_SCHEMA)
                .body_limit(4096)
                .summary("Insert this week's Chaos Chest item (master only)")
                .description(
                    "Body `{\"name\": str}` (trimmed, not blank, at most 256 characters). The \
                     server anchors it to the current Tuesday-11:00-UTC week. One capture per \
                     week: re-submitting (even a different name) replaces the stored name and \
                     `captured_at` and answers `refreshed: true`.",
                )
                .query_params(&[])
                .example(ex::CHAOS_INSERT),
        )
        .route(
            get("/chaos-chest/history", get_chaos_history)
                .public(SCOPE)
                .summary("Past Chaos Chest captures, newest week first")
                .description("`limit` 1..=200 (default 50), `offset` ≥ 0 (default 0).")
                .query_params(PAGING)
                .example(ex::CHAOS_HISTORY),
        )
        .route(
            get("/challenge/current", get_challenge_current)
                .public(SCOPE)
                .summary("The hourly challenge window and its captured name")
                .description(
                    "Windows last 20 minutes and open at :00 — and at :30 on a Trove Friday \
                     (Friday 11:00 → Saturday 11:00 UTC, `is_friday_window`). Between windows \
                     the most recent one is described with `active: false`. `name`, `type` and \
                     `captured_at` come from the window's capture, null without one.",
                )
                .query_params(&[])
                .example(ex::CHALLENGE_CURRENT),
        )
        .route(
            post("/challenge/insert", post_challenge_insert)
                .master()
                .request_schema(NAME_BODY_SCHEMA)
                .body_limit(4096)
                .summary("Insert the current challenge's name (master only)")
                .description(
                    "Body `{\"name\": str}` (trimmed; blank or \"none\" is a 400). Anchored to \
                     the current 20-minute window, or in the gap after it, the window that just \
                     closed. One capture per window: re-submitting (even a different name) \
                     replaces the stored name and `captured_at` and answers `refreshed: true`.",
                )
                .query_params(&[])
                .example(ex::CHALLENGE_INSERT),
        )
        .route(
            get("/challenge/history", get_challenge_history)
                .public(SCOPE)
                .summary("Past challenge captures, newest window first")
                .description("`limit` 1..=500 (default 50), `offset` ≥ 0 (default 0).")
                .query_params(PAGING)
                .example(ex::CHALLENGE_HISTORY),
        )
        .route(
            get("/calendar", get_calendar)
                .public(SCOPE)
                .summary("Every recurring rotation over ±365 days")
                .description(
                    "Weekly buffs, Corruxion, Fluxion voting/selling, gardening harvests, \
                     Stampy, Wild Mana and the windows of captured Luxion runs, sorted by \
                     `(starts_at, type)`. About 1 030 events; the example shows the first three.",
                )
                .query_params(&[])
                .example(ex::CALENDAR),
        )
        .route(
            get("/biomes", get_biomes)
                .public(SCOPE)
                .summary("The 3-hour adventure-world (d15) biome rotation")
                .description("The current 3-hour slot and the next 16.")
                .query_params(&[])
                .example(ex::BIOMES),
        )
        .route(
            get("/wild-mana", get_wild_mana)
                .public(SCOPE)
                .summary("The weekly Wild Mana biome rotation")
                .description(
                    "Weeks start Monday 11:00 UTC; each shows this week's biome and the two \
                     before. The current week and the next 7.",
                )
                .query_params(&[])
                .example(ex::WILD_MANA),
        )
        .route(
            get("/stampy", get_stampy)
                .public(SCOPE)
                .summary("The fortnightly Stampy event biome")
                .description(
                    "48 hours every 14 days from Monday 11:00 UTC. `current` is the event in \
                     progress or, between events, the next one.",
                )
                .query_params(&[])
                .example(ex::STAMPY),
        )
}

kiwi_sdk::export!(plugin);
