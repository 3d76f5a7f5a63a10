//! `misc`: the Trove time converter and world clocks, served under
//! `/v1/misc`. Tokenless (`misc:read`, public). The IANA tz database is
//! compiled in (`chrono-tz`), and `time/now` reads the host clock
//! (`ctx.now_millis()`), never the system clock. Handlers are thin wrappers
//! over [`convert`].

pub mod civil;
pub mod convert;
pub mod isoformat;
pub mod lax;
pub mod posix;
pub mod zones;

use kiwi_sdk::Request;
use kiwi_sdk::prelude::*;
use serde::Serialize;

const SCOPE: &str = "misc:read";

#[derive(Debug, Serialize)]
struct TimezoneInfo {
    id: String,
    name: String,
}

#[derive(Debug, Serialize)]
struct TimezoneList {
    items: Vec<TimezoneInfo>,
    count: usize,
}

fn timezone_list() -> Result<TimezoneList> {
    let items: Vec<TimezoneInfo> = zones::table()?
        .timezones
        .iter()
        .map(|(id, name)| TimezoneInfo { id: id.clone(), name: name.clone() })
        .collect();
    Ok(TimezoneList { count: items.len(), items })
}

fn timezones() -> Result<Json<TimezoneList>> {
    timezone_list().map(Json)
}

fn time_now(ctx: Ctx) -> Result<Json<convert::TimeNow>> {
    convert::now(ctx.now_millis()).map(Json)
}

fn time_convert(req: Request) -> Result<Json<convert::ConvertResponse>> {
    convert::convert(&req.body).map(Json)
}

/// A JSON example rendered from real output (`{}` if rendering fails).
fn example<T: Serialize>(value: Result<T>) -> String {
    value.ok().and_then(|v| serde_json::to_string(&v).ok()).unwrap_or_else(|| "{}".into())
}

const CONVERT_SCHEMA: &str = r#"{"type":"object","properties":{"datetime":{"type":["string","null"],"description":"ISO 8601 (Python fromisoformat); naive = wall clock in `timezone`"},"timezone":{"type":"string","default":"UTC","description":"trove | UTC | any IANA zone"},"unix":{"type":["integer","null"],"description":"Absolute unix seconds; wins over datetime"}}}"#;

pub fn plugin() -> Plugin {
    Plugin::new("misc", env!("CARGO_PKG_VERSION"))
        .description("The Trove time converter and world clocks (Trove server time is UTC-11).")
        .scope(SCOPE, "Use the time converter and clocks")
        .route(
            get("/timezones", timezones)
                .public(SCOPE)
                .summary("The zones supported by the converter and the clocks")
                .description("`trove` is Trove server (reset) time, a fixed UTC-11:00 without DST.")
                .example(&example(timezone_list())),
        )
        .route(
            get("/time/now", time_now)
                .public(SCOPE)
                .summary("The current time in every supported zone")
                .description("Reads the platform clock; `unix` is whole seconds.")
                .example(&example(convert::now(1_780_657_200_000))),
        )
        .route(
            post("/time/convert", time_convert)
                .public(SCOPE)
                .summary("Convert a wall-clock time or a unix time to every zone plus Discord codes")
                .description(
                    "Body `{datetime?, timezone = \"UTC\", unix?}`. `unix` wins (timezone ignored); \
                     otherwise `datetime` is parsed like Python's `datetime.fromisoformat`; with an \
                     offset it is absolute, naive it is read in `timezone` (PEP 495 fold=0 for \
                     skipped or repeated hours). 400 for a missing/invalid datetime or unknown zone, \
                     422 for wrong JSON types.",
                )
                .request_schema(CONVERT_SCHEMA)
                .example(&example(convert::render(1_780_657_200))),
        )
}

kiwi_sdk::export!(plugin);
