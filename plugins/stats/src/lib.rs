//! `stats`: Trove calculator stat tables (power rank, magic find, light), the
//! 18 class definitions and the coefficient calculator, served under
//! `/v1/stats`. Stateless; all data is embedded. The handlers are thin wrappers
//! over [`tables`] and [`coefficient`].

pub mod coefficient;
pub mod lax;
pub mod tables;

use kiwi_sdk::prelude::*;
use kiwi_sdk::{Request, Response};

use crate::coefficient::FORMULA;
use crate::tables::{StatTable, TroveClass};

const SCOPE: &str = "stats:read";

fn stat_table(pick: fn(&tables::Data) -> &StatTable) -> Result<Json<&'static StatTable>> {
    Ok(Json(pick(tables::data()?)))
}

fn power_rank() -> Result<Json<&'static StatTable>> {
    stat_table(|d| &d.power_rank)
}

fn magic_find() -> Result<Json<&'static StatTable>> {
    stat_table(|d| &d.magic_find)
}

fn light() -> Result<Json<&'static StatTable>> {
    stat_table(|d| &d.light)
}

fn classes() -> Result<Json<&'static tables::ClassList>> {
    Ok(Json(&tables::data()?.classes))
}

fn class_by_tech_name(Path(tech_name): Path<String>) -> Result<Json<&'static TroveClass>> {
    tables::class_by_tech_name(tables::data()?, &tech_name)
        .map(Json)
        .ok_or_else(|| Error::not_found(format!("No class with tech_name '{tech_name}'")))
}

/// The coefficient answer as JSON text: the coefficient is a Python int that
/// can exceed 64 bits, so its digits are written verbatim.
fn coefficient_json(c: &coefficient::Coefficient) -> String {
    format!(
        "{{\"coefficient\":{},\"damage_used\":\"{}\",\"formula\":\"{}\"}}",
        c.digits,
        c.damage_used.as_str(),
        FORMULA
    )
}

fn coefficient(req: Request) -> Result<Response> {
    let body = lax::parse_body(&req.body)?;
    let parsed = coefficient::validate(&body)?;
    let result = coefficient::compute(&parsed)?;
    Ok(Response {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: coefficient_json(&result).into_bytes(),
    })
}

/// Example bodies for OpenAPI, rendered from the real data.
fn example<T: serde::Serialize>(pick: impl Fn(&tables::Data) -> T) -> String {
    tables::data().ok().and_then(|d| serde_json::to_string(&pick(d)).ok()).unwrap_or_else(|| "{}".into())
}

pub fn plugin() -> Plugin {
    let class_list_example = example(
        |d| serde_json::json!({"items": d.classes.items.iter().take(1).collect::<Vec<_>>(), "count": d.classes.count}),
    );
    let knight_example = example(|d| tables::class_by_tech_name(d, "knight").cloned());
    let coefficient_example = coefficient_json(&coefficient::Coefficient {
        digits: "3538300".into(),
        damage_used: coefficient::DamageUsed::Physical,
    });
    Plugin::new("stats", env!("CARGO_PKG_VERSION"))
        .description(
            "Trove calculator stat tables, class definitions and the coefficient calculator.",
        )
        .scope(SCOPE, "Read stat tables and classes; compute coefficients")
        .route(
            get("/power-rank", power_rank)
                .public(SCOPE)
                .summary("Power Rank sources and their contributions")
                .description("Rows in the game's calculator order; `type` is the input kind (slider or switch).")
                .example(&example(|d| d.power_rank.clone())),
        )
        .route(
            get("/magic-find", magic_find)
                .public(SCOPE)
                .summary("Magic Find sources and their contributions")
                .example(&example(|d| d.magic_find.clone())),
        )
        .route(
            get("/light", light)
                .public(SCOPE)
                .summary("Light sources and their contributions")
                .description("`permanent` tells permanent from temporary light; sliders carry a `step`.")
                .example(&example(|d| d.light.clone())),
        )
        .route(
            get("/classes", classes)
                .public(SCOPE)
                .summary("Every class, with base stats, bonuses and subclass levels")
                .description("Items are in the game data's order; reference a class by its `tech_name`. The example shows the first item only.")
                .example(&class_list_example),
        )
        .route(
            get("/classes/{tech_name}", class_by_tech_name)
                .public(SCOPE)
                .summary("One class by its tech_name (exact, case-sensitive)")
                .description("Unknown names answer 404 `not_found`.")
                .example(&knight_example),
        )
        .route(
            post("/coefficient", coefficient)
                .public(SCOPE)
                .summary("Compute the in-game Coefficient from damage and critical damage")
                .description(
                    "Body `{physical_damage?: float>=0, magic_damage?: float>=0, critical_damage: float>=0}`. \
                     coefficient = int(round(max(damage) * (1 + critical_damage / 100), 6)); physical wins ties. \
                     400 when neither damage is given; 422 on invalid fields.",
                )
                .request_schema(
                    r#"{"type":"object","required":["critical_damage"],"properties":{"physical_damage":{"type":["number","null"],"minimum":0},"magic_damage":{"type":["number","null"],"minimum":0},"critical_damage":{"type":"number","minimum":0}}}"#,
                )
                .example(&coefficient_example),
        )
}

kiwi_sdk::export!(plugin);
