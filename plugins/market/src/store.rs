//! Storage: the schema (one migration per SQL dialect) and every statement the plugin
//! runs, written once in the portable subset of SQLite and PostgreSQL.
//!
//! Tables:
//! * `market_listing`: one row per listing UUID (upserted; only `last_seen` changes on
//!   a re-sighting; rows are never deleted), plus `created_hour = floor(created_at/3600)`.
//! * `market_hist`: listing counts per `(last_seen, created_hour)`, maintained inside
//!   the ingest transaction, so the unfiltered `listings` total is a sum over a few
//!   hundred histogram rows instead of a `COUNT(*)` over every active listing.
//! * `market_item`: every distinct stored name (for `GET /items` without a full scan).
//! * `market_interest_item`: the ingest allow-list.
//! * `market_stage`: empty outside an ingest. An ingest appends its rows here (cheap,
//!   unindexed), then moves them into `market_listing` with ONE `INSERT … SELECT … ON
//!   CONFLICT` and empties it, all inside the same transaction. One big statement
//!   instead of hundreds of multi-row upserts matters on SQLite, which copies every
//!   page a multi-row statement touches into a statement journal.
//!
//! Placeholders are `$1, $2, …` and always first appear in increasing order within a
//! statement, so SQLite (which numbers `$N` names by first appearance) and PostgreSQL
//! bind them identically. NULLs are written as SQL literals, never bound, so no
//! untyped parameter reaches PostgreSQL.

use std::fmt::Write as _;

use kiwi_sdk::host::{Rows, SqlValue};
use kiwi_sdk::{Ctx, Error, Result};

use crate::parser::Listing;

/// Rows per multi-row staging `INSERT`. Only the text columns and `price_each` are
/// bound (≤ 300 parameters per statement): SQLite resolves each `$N` name by a linear
/// scan of the names seen so far, so statements with thousands of parameters cost O(P²).
pub const UPSERT_CHUNK: usize = 100;

/// Seconds a listing may go unseen before it is hidden (3 h).
pub const LISTING_STALE_SECONDS: i64 = 10_800;
/// Seconds after `created_at` a listing expires (7 days).
pub const LISTING_LIFETIME_SECONDS: i64 = 604_800;

/// Migration 1, SQLite dialect.
pub const MIGRATION_1_SQLITE: &str = "
CREATE TABLE market_listing (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    type TEXT,
    stack INTEGER NOT NULL,
    price INTEGER NOT NULL,
    price_each REAL NOT NULL,
    last_seen INTEGER NOT NULL,
    created_at INTEGER NOT NULL DEFAULT 0,
    created_hour INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX market_listing_name_seen
    ON market_listing (name, last_seen, created_at, price_each, price, stack);
CREATE INDEX market_listing_seen ON market_listing (last_seen, created_at, price_each);
CREATE INDEX market_listing_created ON market_listing (created_at, last_seen);
CREATE INDEX market_listing_price_each ON market_listing (price_each, last_seen, created_at);
CREATE INDEX market_listing_price ON market_listing (price);
CREATE INDEX market_listing_stack ON market_listing (stack);
CREATE TABLE market_hist (
    last_seen INTEGER NOT NULL,
    created_hour INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (last_seen, created_hour)
);
CREATE TABLE market_item (
    name TEXT NOT NULL PRIMARY KEY
);
CREATE TABLE market_interest_item (
    name TEXT NOT NULL PRIMARY KEY,
    added_at INTEGER NOT NULL
);
CREATE TABLE market_stage (
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT,
    stack INTEGER NOT NULL,
    price INTEGER NOT NULL,
    price_each REAL NOT NULL,
    created_at INTEGER NOT NULL,
    created_hour INTEGER NOT NULL
);
";

/// Migration 1, PostgreSQL dialect. Names use the `C` collation so `ORDER BY name` is
/// byte order, as in the reference run (and as SQLite's default `BINARY`).
pub const MIGRATION_1_POSTGRES: &str = r#"
CREATE TABLE market_listing (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    type TEXT,
    stack BIGINT NOT NULL,
    price BIGINT NOT NULL,
    price_each DOUBLE PRECISION NOT NULL,
    last_seen BIGINT NOT NULL,
    created_at BIGINT NOT NULL DEFAULT 0,
    created_hour BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX market_listing_name_seen
    ON market_listing (name, last_seen, created_at, price_each, price, stack);
CREATE INDEX market_listing_seen ON market_listing (last_seen, created_at, price_each);
CREATE INDEX market_listing_created ON market_listing (created_at, last_seen);
CREATE INDEX market_listing_price_each ON market_listing (price_each, last_seen, created_at);
CREATE INDEX market_listing_price ON market_listing (price);
CREATE INDEX market_listing_stack ON market_listing (stack);
CREATE TABLE market_hist (
    last_seen BIGINT NOT NULL,
    created_hour BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (last_seen, created_hour)
);
CREATE TABLE market_item (
    name TEXT COLLATE "C" NOT NULL PRIMARY KEY
);
CREATE TABLE market_interest_item (
    name TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    added_at BIGINT NOT NULL
);
CREATE TABLE market_stage (
    id TEXT NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    type TEXT,
    stack BIGINT NOT NULL,
    price BIGINT NOT NULL,
    price_each DOUBLE PRECISION NOT NULL,
    created_at BIGINT NOT NULL,
    created_hour BIGINT NOT NULL
);
"#;

/// Migration 2, SQLite dialect: nothing to change (the staging rows share the
/// database's one WAL with the listings, and never outlive their transaction).
pub const MIGRATION_2_SQLITE: &str = "-- market_stage: no change on SQLite";

/// Migration 2, PostgreSQL dialect: the staging table is write-ahead-log free. It is
/// empty outside an ingest transaction, so a crash (which truncates unlogged tables)
/// loses nothing, and an ingest no longer writes every listing to the WAL twice.
pub const MIGRATION_2_POSTGRES: &str = "ALTER TABLE market_stage SET UNLOGGED;";

/// A statement and its parameters, as `Ctx::sql().batch` takes them.
pub type Stmt = (String, Vec<SqlValue>);

/// Builds a statement's text and parameters together, numbering placeholders in order.
#[derive(Debug, Default)]
pub struct SqlBuilder {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

impl SqlBuilder {
    pub fn new(sql: &str) -> Self {
        Self { sql: sql.to_owned(), params: Vec::new() }
    }
    /// Appends text.
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }
    /// Appends an integer literal (integers are never an injection risk).
    pub fn int(&mut self, v: i64) -> &mut Self {
        let _ = write!(self.sql, "{v}");
        self
    }
    /// Appends a canonical UUID (`[0-9a-f-]` only, as the parser emits them) as a string
    /// literal; anything else is bound as a parameter instead.
    pub fn uuid(&mut self, id: &str) -> &mut Self {
        if id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            self.sql.push('\'');
            self.sql.push_str(id);
            self.sql.push('\'');
            self
        } else {
            self.bind(id)
        }
    }
    /// Appends the next placeholder, bound to `v`.
    pub fn bind(&mut self, v: impl Into<SqlValue>) -> &mut Self {
        self.params.push(v.into());
        let _ = write!(self.sql, "${}", self.params.len());
        self
    }
    pub fn finish(self) -> Stmt {
        (self.sql, self.params)
    }
}

/// The hour bucket of a creation time (floor division, also for pre-1970 times).
pub fn created_hour(created_at: i64) -> i64 {
    created_at.div_euclid(3600)
}

/// The statements of one ingest: stage the rows, histogram bookkeeping, the upsert,
/// the names. Run them with one `batch` so the whole ingest is atomic.
pub fn ingest_statements(rows: &[&Listing], last_seen: i64) -> Vec<Stmt> {
    let mut out = vec![("DELETE FROM market_stage".to_owned(), Vec::new())];
    // 1. Stage the rows. Integers and UUIDs are literals; names, types and price_each
    //    (its exact binary value) are bound.
    for chunk in rows.chunks(UPSERT_CHUNK) {
        let mut st = SqlBuilder::new(
            "INSERT INTO market_stage \
             (id, name, type, stack, price, price_each, created_at, created_hour) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            st.push(if i == 0 { "(" } else { ", (" });
            st.uuid(&r.id);
            st.push(", ").bind(r.name.as_str());
            match &r.kind {
                Some(k) => st.push(", ").bind(k.as_str()),
                None => st.push(", NULL"),
            };
            st.push(", ").int(r.stack).push(", ").int(r.price);
            st.push(", ").bind(r.price_each);
            st.push(", ").int(r.created_at);
            st.push(", ").int(created_hour(r.created_at)).push(")");
        }
        out.push(st.finish());
    }
    let ls = last_seen.to_string();
    for sql in [
        // 2. Take the already-stored listings out of their old histogram cells.
        "INSERT INTO market_hist (last_seen, created_hour, n) \
         SELECT l.last_seen, l.created_hour, 0 - COUNT(*) \
         FROM market_stage s, market_listing l WHERE l.id = s.id \
         GROUP BY l.last_seen, l.created_hour \
         ON CONFLICT (last_seen, created_hour) DO UPDATE SET n = market_hist.n + excluded.n"
            .to_owned(),
        // 3. Upsert: a re-sighting only moves last_seen.
        format!(
            "INSERT INTO market_listing \
             (last_seen, id, name, type, stack, price, price_each, created_at, created_hour) \
             SELECT {ls}, id, name, type, stack, price, price_each, created_at, created_hour \
             FROM market_stage WHERE 1 = 1 ORDER BY id \
             ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen"
        ),
        // 4. Every ingested listing now sits in (last_seen, its hour).
        format!(
            "INSERT INTO market_hist (last_seen, created_hour, n) \
             SELECT {ls}, created_hour, COUNT(*) FROM market_stage WHERE 1 = 1 \
             GROUP BY created_hour \
             ON CONFLICT (last_seen, created_hour) DO UPDATE SET n = market_hist.n + excluded.n"
        ),
        "DELETE FROM market_hist WHERE n = 0".to_owned(),
        // 5. Remember the names (rows are never deleted, so neither are names).
        "INSERT INTO market_item (name) SELECT DISTINCT name FROM market_stage WHERE 1 = 1 \
         ON CONFLICT (name) DO NOTHING"
            .to_owned(),
        "DELETE FROM market_stage".to_owned(),
    ] {
        out.push((sql, Vec::new()));
    }
    out
}

/// Column `i` of a row as an integer.
pub fn int_at(row: &[SqlValue], i: usize) -> Result<i64> {
    match row.get(i) {
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| Error::internal(format!("database returned a non-integer: {v:?}"))),
        None => Err(Error::internal("database returned too few columns")),
    }
}

/// Column `i` of a row as a float (NULL → `None`).
pub fn opt_float_at(row: &[SqlValue], i: usize) -> Result<Option<f64>> {
    match row.get(i) {
        Some(SqlValue::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .map(Some)
            .ok_or_else(|| Error::internal(format!("database returned a non-number: {v:?}"))),
        None => Err(Error::internal("database returned too few columns")),
    }
}

/// Column `i` of a row as a float.
pub fn float_at(row: &[SqlValue], i: usize) -> Result<f64> {
    opt_float_at(row, i)?.ok_or_else(|| Error::internal("database returned NULL for a number"))
}

/// Column `i` of a row as optional text.
pub fn opt_text_at(row: &[SqlValue], i: usize) -> Result<Option<String>> {
    match row.get(i) {
        Some(SqlValue::Null) => Ok(None),
        Some(SqlValue::Text(s)) => Ok(Some(s.clone())),
        Some(SqlValue::Blob(b)) => Ok(Some(String::from_utf8_lossy(b).into_owned())),
        Some(v) => Err(Error::internal(format!("database returned a non-text: {v:?}"))),
        None => Err(Error::internal("database returned too few columns")),
    }
}

/// Column `i` of a row as text.
pub fn text_at(row: &[SqlValue], i: usize) -> Result<String> {
    opt_text_at(row, i)?.ok_or_else(|| Error::internal("database returned NULL for a text"))
}

/// Runs a query.
pub fn query(ctx: &Ctx, stmt: &Stmt) -> Result<Rows> {
    Ok(ctx.sql().query(&stmt.0, &stmt.1)?)
}

/// The first column of the first row as an integer.
pub fn query_scalar_i64(ctx: &Ctx, stmt: &Stmt) -> Result<i64> {
    let rows = query(ctx, stmt)?;
    let row = rows.rows.first().ok_or_else(|| Error::internal("database returned no row"))?;
    int_at(row, 0)
}

/// The allow-list, sorted by code point.
pub fn interest_items(ctx: &Ctx) -> Result<Vec<String>> {
    let rows = query(ctx, &("SELECT name FROM market_interest_item".to_owned(), Vec::new()))?;
    let mut names = rows.rows.iter().map(|r| text_at(r, 0)).collect::<Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

/// Statements replacing the allow-list with `names` (already normalised).
pub fn replace_interest_items(names: &[String], now: i64) -> Vec<Stmt> {
    let mut out = vec![("DELETE FROM market_interest_item".to_owned(), Vec::<SqlValue>::new())];
    for chunk in names.chunks(UPSERT_CHUNK) {
        let mut ins = SqlBuilder::new("INSERT INTO market_interest_item (added_at, name) VALUES ");
        for (i, name) in chunk.iter().enumerate() {
            if i == 0 {
                ins.push("(").bind(now);
            } else {
                ins.push(", ($1");
            }
            ins.push(", ").bind(name.as_str()).push(")");
        }
        out.push(ins.finish());
    }
    out
}

/// Every stored item name, in byte order.
pub fn item_names(ctx: &Ctx) -> Result<Vec<String>> {
    let rows = query(ctx, &("SELECT name FROM market_item ORDER BY name".to_owned(), Vec::new()))?;
    let mut names = rows.rows.iter().map(|r| text_at(r, 0)).collect::<Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the placeholder discipline: `$N` first appear as 1, 2, 3… and match the
    /// parameter count.
    pub(crate) fn assert_placeholders(stmt: &Stmt) {
        let bytes = stmt.0.as_bytes();
        let mut max_seen = 0usize;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'$' {
                let mut j = i + 1;
                while j < bytes.len() && bytes[j].is_ascii_digit() {
                    j += 1;
                }
                let n: usize = stmt.0[i + 1..j].parse().unwrap();
                assert!(n <= max_seen + 1, "${n} appears before ${}", max_seen + 1);
                max_seen = max_seen.max(n);
                i = j;
            } else {
                i += 1;
            }
        }
        assert_eq!(max_seen, stmt.1.len(), "{}", stmt.0);
    }

    #[test]
    fn ingest_statements_are_well_formed() {
        let rows: Vec<Listing> = (0..1203)
            .map(|i| Listing {
                id: format!("{i:08x}-0000-1000-8000-000000000000"),
                name: format!("Item {}", i % 7),
                kind: (i % 2 == 0).then(|| "T".to_owned()),
                stack: 1,
                price: 10,
                price_each: 10.0,
                created_at: 1_700_000_000 + i * 600,
            })
            .collect();
        let refs: Vec<&Listing> = rows.iter().collect();
        let stmts = ingest_statements(&refs, 1_700_100_000);
        // clear + 13 stage inserts + subtract, upsert, add, cleanup, names, clear.
        assert_eq!(stmts.len(), 1 + 13 + 6);
        for s in &stmts {
            assert_placeholders(s);
        }
        for s in replace_interest_items(&["a".into(), "b".into()], 5) {
            assert_placeholders(&s);
        }
    }

    #[test]
    fn hours_floor() {
        assert_eq!(created_hour(3599), 0);
        assert_eq!(created_hour(3600), 1);
        assert_eq!(created_hour(-1), -1);
        assert_eq!(created_hour(-12_219_292_800), -3_394_248);
    }
}
