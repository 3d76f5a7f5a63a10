//! `market`: the Trove market surface (formats.md §8) as a Kiwi plugin. Master ingest
//! of `GrainusMod.cfg` dumps, the allow-list ("interest items"), and the reads
//! (`listings`, `items`, per-item `summary`), stored through the host's `sql`
//! capability so the same code runs on SQLite and PostgreSQL.
//!
//! Modules: [`parser`] (the dump grammar), [`upload`] (multipart and input checks),
//! [`store`] (schema and statements), [`reads`] (query validation and reads),
//! [`synth`] (a dump generator for benchmarks). This file holds the thin handlers and
//! the manifest.

pub mod parser;
pub mod reads;
pub mod store;
pub mod synth;
pub mod upload;

use kiwi_sdk::prelude::*;
use kiwi_sdk::validate::{self, Loc};
use kiwi_sdk::{RawQuery, query_pairs};
use serde::Serialize;
use serde_json::{Value, json};

pub use parser::{Listing, parse_dump};
pub use synth::{synthetic_dump, synthetic_dump_at, synthetic_item_names};

/// Longest accepted allow-list entry (characters, after stripping).
const MAX_INTEREST_NAME_CHARS: usize = 256;
/// Most entries in the allow-list.
const MAX_INTEREST_ITEMS: usize = 10_000;

/// `POST /insert` response (`MarketInsertResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InsertResponse {
    /// Listings after de-duplication and the price/stack filters.
    pub parsed: usize,
    /// Allow-listed listings sent to the upsert (re-sightings included).
    pub imported: usize,
    /// Listings whose name is not in the allow-list.
    pub ignored_not_in_list: usize,
    /// The `last_seen` written, or `null` when nothing was parsed.
    pub last_seen: Option<i64>,
}

/// `{items, count}` for name lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameList {
    pub items: Vec<String>,
    pub count: usize,
}

impl NameList {
    fn new(items: Vec<String>) -> Self {
        Self { count: items.len(), items }
    }
}

/// Parses the optional `timestamp` query parameter (an integer; `<= 0` means now).
fn parse_timestamp(raw_query: &str) -> Result<Option<i64>> {
    let pairs = query_pairs(raw_query);
    match pairs.iter().rev().find(|(k, _)| k == "timestamp") {
        None => Ok(None),
        Some((_, v)) => {
            validate::parse_int(&Loc::query("timestamp"), v).map(Some).map_err(|d| Error::validation(vec![d]))
        }
    }
}

/// The ingest, after the upload is decoded: parse, filter, upsert in one transaction.
pub fn ingest_text(ctx: &Ctx, text: &str, timestamp: Option<i64>, now: i64) -> Result<InsertResponse> {
    let rows = parse_dump(text);
    if rows.is_empty() {
        return Ok(InsertResponse { parsed: 0, imported: 0, ignored_not_in_list: 0, last_seen: None });
    }
    let last_seen = match timestamp {
        Some(t) if t > 0 => t,
        _ => now,
    };
    let allow = store::interest_items(ctx)?;
    let kept: Vec<&Listing> = if allow.is_empty() {
        rows.iter().collect()
    } else {
        let set: std::collections::HashSet<&str> = allow.iter().map(String::as_str).collect();
        rows.iter().filter(|r| set.contains(r.name.as_str())).collect()
    };
    if !kept.is_empty() {
        ctx.sql().batch(&store::ingest_statements(&kept, last_seen))?;
    }
    Ok(InsertResponse {
        parsed: rows.len(),
        imported: kept.len(),
        ignored_not_in_list: rows.len() - kept.len(),
        last_seen: Some(last_seen),
    })
}

fn insert(RawQuery(q): RawQuery, headers: Headers, Body(body): Body, ctx: Ctx) -> Result<Json<InsertResponse>> {
    let timestamp = parse_timestamp(&q)?;
    let file = upload::extract_file(headers.get("content-type"), &body)?;
    let text = upload::check_and_decode(file)?;
    let now = ctx.now_secs();
    ingest_text(&ctx, &text, timestamp, now).map(Json)
}

fn get_interest_items(ctx: Ctx) -> Result<Json<NameList>> {
    Ok(Json(NameList::new(store::interest_items(&ctx)?)))
}

/// Validates a replacement allow-list: `{"items": [..]}` or a bare `[..]` of strings;
/// names are stripped, de-duplicated and sorted; an empty list means "accept every item".
pub fn normalise_interest_items(body: &[u8]) -> Result<Vec<String>> {
    if body.is_empty() {
        return Err(Error::validation(vec![validate::missing(&Loc::body(&[]), Value::Null)]));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Error::bad_request(format!("Malformed JSON body: {e}")))?;
    let (list, loc) = match &value {
        Value::Array(a) => (a, Loc::body(&[])),
        Value::Object(o) => match o.get("items") {
            Some(Value::Array(a)) => (a, Loc::body(&["items"])),
            Some(other) => {
                return Err(Error::validation(vec![validate::detail(
                    "list_type",
                    &Loc::body(&["items"]),
                    "Input should be a valid list",
                    other.clone(),
                    None,
                )]));
            }
            None => {
                return Err(Error::validation(vec![validate::missing(&Loc::body(&["items"]), value.clone())]));
            }
        },
        other => {
            return Err(Error::validation(vec![validate::detail(
                "list_type",
                &Loc::body(&["items"]),
                "Input should be a valid list",
                other.clone(),
                None,
            )]));
        }
    };
    if list.len() > MAX_INTEREST_ITEMS {
        return Err(Error::validation(vec![validate::detail(
            "too_long",
            &loc,
            &format!("List should have at most {MAX_INTEREST_ITEMS} items"),
            Value::Null,
            Some(json!({"max_length": MAX_INTEREST_ITEMS})),
        )]));
    }
    let mut errors = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, v) in list.iter().enumerate() {
        let l = loc.clone().push(i);
        match v.as_str() {
            None => errors.push(validate::detail("string_type", &l, "Input should be a valid string", v.clone(), None)),
            Some(s) => {
                let s = parser::py_strip(s);
                if s.is_empty() {
                    errors.push(validate::detail(
                        "string_too_short",
                        &l,
                        "String should have at least 1 character",
                        v.clone(),
                        Some(json!({"min_length": 1})),
                    ));
                } else if s.chars().count() > MAX_INTEREST_NAME_CHARS {
                    errors.push(validate::detail(
                        "string_too_long",
                        &l,
                        &format!("String should have at most {MAX_INTEREST_NAME_CHARS} characters"),
                        v.clone(),
                        Some(json!({"max_length": MAX_INTEREST_NAME_CHARS})),
                    ));
                } else {
                    names.insert(s.to_owned());
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    Ok(names.into_iter().collect())
}

fn put_interest_items(Body(body): Body, ctx: Ctx) -> Result<Json<NameList>> {
    let names = normalise_interest_items(&body)?;
    ctx.sql().batch(&store::replace_interest_items(&names, ctx.now_secs()))?;
    Ok(Json(NameList::new(names)))
}

fn listings(RawQuery(q): RawQuery, ctx: Ctx) -> Result<Json<reads::ListingsPage>> {
    let query = reads::ListingsQuery::parse(&q)?;
    reads::listings(&ctx, &query, ctx.now_secs()).map(Json)
}

fn items(ctx: Ctx) -> Result<Json<NameList>> {
    Ok(Json(NameList::new(store::item_names(&ctx)?)))
}

fn summary(Path(name): Path<String>, ctx: Ctx) -> Result<Json<reads::Summary>> {
    reads::summary(&ctx, &name, ctx.now_secs()).map(Json)
}

const INSERT_DESCRIPTION: &str = "Master-only ingest of a raw `GrainusMod.cfg` dump. Send \
multipart/form-data with the file in a part named `file` (like the original), or, for \
convenience, the raw text as the body with `Content-Type: text/plain` or \
`application/octet-stream`. Listings are parsed with the original grammar (UUID rules, \
stack 1-4 digits, price 1-9 digits, 0 < price <= 50,000,000, first sighting of a UUID wins), \
filtered by the allow-list (empty list = accept every item) and upserted by UUID in ONE \
transaction: a re-scrape only moves `last_seen`. `timestamp` (unix seconds) sets \
`last_seen`; absent or <= 0 means now. Empty, binary or over-long-line (> 1 MiB) uploads \
are refused with 400 and nothing is stored.";

const LISTINGS_DESCRIPTION: &str = "Stored listings. With `hide_expired=true` (default) only \
active listings: seen in the last 3 h (`last_seen >= max(last_seen_after, now-10800)`) and \
created in the last 7 days. `hide_expired=false` returns everything (with `expired` flags) \
and also pays the `archive` bucket. `sort` is a field among last_seen, price_each, \
created_at, price, stack, name; a leading `-` means descending; unknown values fall back to \
`-last_seen`. Ties have no secondary order. `total` counts every row matching the filters.";

const LISTING_EXAMPLE: &str = r#"{"items":[{"id":"ae389687-497b-11f0-aa51-5e1f00000b27","name":"Sunlight Bulb","type":"Consumable","stack":10,"price":15000,"price_each":1500.0,"last_seen":1749988800,"created_at":1749945600,"expires_at":1750550400,"expired":false}],"count":1,"total":19}"#;

const SUMMARY_EXAMPLE: &str = r#"{"name":"Crystal Spark","count":4,"total_price":1389567,"total_stack":119,"min_each":1428.571,"max_each":12500.0,"avg_each":9568.56,"median_each":12172.835}"#;

/// The plugin manifest.
pub fn plugin() -> Plugin {
    Plugin::new("market", env!("CARGO_PKG_VERSION"))
        .description(
            "Trove market: GrainusMod.cfg ingest, active listings, item names and price \
             summaries.",
        )
        .scope("market:read", "Read market listings, items and summaries")
        .migration(
            1,
            "market listings, histogram, items, allow-list",
            store::MIGRATION_1_SQLITE,
            store::MIGRATION_1_POSTGRES,
        )
        .migration(2, "unlogged staging table", store::MIGRATION_2_SQLITE, store::MIGRATION_2_POSTGRES)
        .route(
            post("/insert", insert)
                .master()
                .ingest_cooldown()
                .body_limit(20 * 1024 * 1024)
                .summary("Ingest a GrainusMod.cfg market dump")
                .description(INSERT_DESCRIPTION)
                .query_params(&["timestamp"])
                .example(
                    r#"{"parsed":22,"imported":21,"ignored_not_in_list":1,"last_seen":1749985200}"#,
                ),
        )
        .route(
            get("/interest-items", get_interest_items)
                .public("market:read")
                .summary("The ingest allow-list")
                .description(
                    "Item names the ingest keeps, sorted. An empty list means every item is \
                     accepted (the original's seed list is not available).",
                )
                .example(r#"{"items":["Chaos Core","Sunlight Bulb"],"count":2}"#),
        )
        .route(
            put("/interest-items", put_interest_items)
                .master()
                .summary("Replace the ingest allow-list")
                .description(
                    "Body: `{\"items\": [\"name\", ...]}` (or a bare JSON array). Names are \
                     stripped, de-duplicated and sorted. An empty list restores \"accept \
                     every item\". Only future ingests are affected.",
                )
                .request_schema(
                    r#"{"type":"object","required":["items"],"properties":{"items":{"type":"array","items":{"type":"string","minLength":1,"maxLength":256},"maxItems":10000}}}"#,
                )
                .example(r#"{"items":["Chaos Core","Sunlight Bulb"],"count":2}"#),
        )
        .route(
            get("/listings", listings)
                .token("market:read")
                .secondary_when_query("archive", "hide_expired", "false")
                .summary("Search market listings")
                .description(LISTINGS_DESCRIPTION)
                .query_params(&[
                    "name",
                    "price_min",
                    "price_max",
                    "last_seen_after",
                    "hide_expired",
                    "sort",
                    "limit",
                    "offset",
                ])
                .example(LISTING_EXAMPLE),
        )
        .route(
            get("/items", items)
                .token("market:read")
                .summary("Every stored item name")
                .description(
                    "Distinct names over all stored listings (expired and stale included), \
                     in byte order.",
                )
                .example(r#"{"items":["Bound Brilliance","Chaos Core"],"count":2}"#),
        )
        .route(
            get("/items/{name}/summary", summary)
                .token("market:read")
                .summary("Price summary of an item's active listings")
                .description(
                    "Count, total price and stack, min/max/average (rounded to 3 decimals) \
                     and median (the mean of the two middle values for an even count) of \
                     `price_each` over the item's active listings (seen in the last 3 h, \
                     created in the last 7 days). 404 when there are none.",
                )
                .example(SUMMARY_EXAMPLE),
        )
}

kiwi_sdk::export!(plugin);
