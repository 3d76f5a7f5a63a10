//! The market reads (formats.md §8.5–8.7): query-parameter validation with
//! pydantic-shaped errors, the `listings` filters/sort/paging and its total, and the
//! per-item summary (median by `ORDER BY … LIMIT/OFFSET`, never pulling all rows).

use kiwi_sdk::validate::{self, Loc};
use kiwi_sdk::{Ctx, Error, Result, query_pairs};
use serde::Serialize;
use serde_json::{Value, json};

use crate::parser::{py_strip, round3};
use crate::store::{
    self, LISTING_LIFETIME_SECONDS, LISTING_STALE_SECONDS, SqlBuilder, Stmt, created_hour, float_at, int_at,
    opt_float_at, opt_text_at, text_at,
};

/// Above this many matching rows, a price window is read in sort order (see
/// [`ListingsQuery::rows_statement`]).
const WIDE_PRICE_WINDOW: i64 = 5_000;

/// Sortable columns (anything else falls back to `last_seen DESC`).
const SORT_FIELDS: &[&str] = &["last_seen", "price_each", "created_at", "price", "stack", "name"];

/// Validated `GET /listings` parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingsQuery {
    pub name: Option<String>,
    pub price_min: Option<f64>,
    pub price_max: Option<f64>,
    pub last_seen_after: Option<i64>,
    pub hide_expired: bool,
    /// Column name, from [`SORT_FIELDS`].
    pub sort_field: &'static str,
    pub sort_desc: bool,
    pub limit: i64,
    pub offset: i64,
}

/// The last value of each named query parameter (Starlette's `QueryParams.get`).
fn last_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Parses a float like pydantic (surrounding whitespace allowed; `inf`/`nan` parse).
fn parse_float(loc: &Loc, raw: &str) -> std::result::Result<f64, Value> {
    raw.trim().parse::<f64>().map_err(|_| validate::float_parsing(loc, Value::from(raw)))
}

/// `value >= 0` for a float field declared `ge=0`.
fn float_ge0(loc: &Loc, raw: &str, value: f64) -> std::result::Result<f64, Value> {
    if value >= 0.0 {
        Ok(value)
    } else {
        Err(validate::detail(
            "greater_than_equal",
            loc,
            "Input should be greater than or equal to 0",
            Value::from(raw),
            Some(json!({"ge": 0})),
        ))
    }
}

/// Resolves `sort` (§8.5): strip; DESC if it starts with `-`; the field is the rest
/// without leading `+`/`-`; unknown fields fall back to `last_seen DESC`.
pub fn resolve_sort(sort: &str) -> (&'static str, bool) {
    let s = py_strip(sort);
    let desc = s.starts_with('-');
    let field = s.trim_start_matches(['+', '-']);
    match SORT_FIELDS.iter().find(|f| **f == field) {
        Some(f) => (f, desc),
        None => ("last_seen", true),
    }
}

impl ListingsQuery {
    /// Validates the raw query string; every bad field is reported (422), then the
    /// `price_min > price_max` rule (400).
    pub fn parse(raw: &str) -> Result<Self> {
        let pairs = query_pairs(raw);
        let mut errors = Vec::new();
        let mut q = ListingsQuery {
            name: None,
            price_min: None,
            price_max: None,
            last_seen_after: None,
            hide_expired: true,
            sort_field: "last_seen",
            sort_desc: true,
            limit: 100,
            offset: 0,
        };
        // An empty `name=` is no filter (the original tests `if name:`).
        q.name = last_value(&pairs, "name").filter(|n| !n.is_empty()).map(str::to_owned);
        for (field, slot) in [("price_min", &mut q.price_min), ("price_max", &mut q.price_max)] {
            if let Some(raw) = last_value(&pairs, field) {
                let loc = Loc::query(field);
                match parse_float(&loc, raw).and_then(|v| float_ge0(&loc, raw, v)) {
                    Ok(v) => *slot = Some(v),
                    Err(e) => errors.push(e),
                }
            }
        }
        if let Some(raw) = last_value(&pairs, "last_seen_after") {
            let loc = Loc::query("last_seen_after");
            match validate::parse_int(&loc, raw).and_then(|v| validate::ge(loc, raw, v, 0)) {
                Ok(v) => q.last_seen_after = Some(v),
                Err(e) => errors.push(e),
            }
        }
        if let Some(raw) = last_value(&pairs, "hide_expired") {
            match validate::parse_bool(&Loc::query("hide_expired"), raw) {
                Ok(v) => q.hide_expired = v,
                Err(e) => errors.push(e),
            }
        }
        if let Some(raw) = last_value(&pairs, "sort") {
            (q.sort_field, q.sort_desc) = resolve_sort(raw);
        }
        if let Some(raw) = last_value(&pairs, "limit") {
            let loc = Loc::query("limit");
            match validate::parse_int(&loc, raw)
                .and_then(|v| validate::ge(loc.clone(), raw, v, 1))
                .and_then(|v| validate::le(loc, raw, v, 1000))
            {
                Ok(v) => q.limit = v,
                Err(e) => errors.push(e),
            }
        }
        if let Some(raw) = last_value(&pairs, "offset") {
            let loc = Loc::query("offset");
            match validate::parse_int(&loc, raw).and_then(|v| validate::ge(loc, raw, v, 0)) {
                Ok(v) => q.offset = v,
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        if let (Some(lo), Some(hi)) = (q.price_min, q.price_max)
            && lo > hi
        {
            return Err(Error::bad_request("price_min cannot be greater than price_max"));
        }
        Ok(q)
    }

    /// `(last_seen floor, created_at floor)` at `now`.
    pub fn floors(&self, now: i64) -> (Option<i64>, Option<i64>) {
        if self.hide_expired {
            let stale = now.saturating_sub(LISTING_STALE_SECONDS);
            let ls = self.last_seen_after.map_or(stale, |a| a.max(stale));
            (Some(ls), Some(now.saturating_sub(LISTING_LIFETIME_SECONDS)))
        } else {
            (self.last_seen_after, None)
        }
    }

    /// Appends ` WHERE …` for the filters at `now`. With `walk`, the price terms are
    /// written `+price_each`, which keeps SQLite from choosing the price index for them
    /// (the page is then read by walking the sort column's index).
    fn push_where(&self, b: &mut SqlBuilder, now: i64, walk: bool) {
        let price_col = if walk { "+price_each" } else { "price_each" };
        let (ls, ca) = self.floors(now);
        let mut first = true;
        let mut and = |b: &mut SqlBuilder| {
            b.push(if first { " WHERE " } else { " AND " });
            first = false;
        };
        if let Some(name) = &self.name {
            and(b);
            b.push("name = ").bind(name.as_str());
        }
        if let Some(v) = self.price_min {
            and(b);
            b.push(price_col).push(" >= ").bind(finite(v));
        }
        if let Some(v) = self.price_max {
            and(b);
            b.push(price_col).push(" <= ").bind(finite(v));
        }
        if let Some(v) = ls {
            and(b);
            b.push("last_seen >= ").bind(v);
        }
        if let Some(v) = ca {
            and(b);
            b.push("created_at >= ").bind(v);
        }
    }

    /// The page query. `total` (the number of matching rows) picks the plan for a price
    /// window without a name: a wide window is read by walking the sort column's index
    /// and filtering, a narrow one through the price index (then sorted).
    pub fn rows_statement(&self, now: i64, total: i64) -> Stmt {
        let mut b = SqlBuilder::new(
            "SELECT id, name, type, stack, price, price_each, last_seen, created_at \
             FROM market_listing",
        );
        let walk = self.name.is_none() && self.sort_field != "price_each" && total > WIDE_PRICE_WINDOW;
        self.push_where(&mut b, now, walk);
        b.push(" ORDER BY ").push(self.sort_field).push(if self.sort_desc { " DESC" } else { " ASC" });
        b.push(" LIMIT ").bind(self.limit);
        b.push(" OFFSET ").bind(self.offset);
        b.finish()
    }

    /// The total: `COUNT(*)` with the same WHERE, or, without name/price filters, the
    /// histogram sum plus an exact count of the one partially-covered creation hour.
    pub fn total_statement(&self, now: i64) -> Stmt {
        let (ls, ca) = self.floors(now);
        if self.name.is_some() || self.price_min.is_some() || self.price_max.is_some() {
            let mut b = SqlBuilder::new("SELECT COUNT(*) AS total FROM market_listing");
            self.push_where(&mut b, now, false);
            return b.finish();
        }
        let mut b = SqlBuilder::new("SELECT CAST(COALESCE((SELECT SUM(n) FROM market_hist WHERE 1 = 1");
        if let Some(v) = ls {
            b.push(" AND last_seen >= ").bind(v);
        }
        match ca {
            None => {
                b.push("), 0) AS BIGINT) AS total");
            }
            Some(c) => {
                let hour = created_hour(c);
                b.push(" AND created_hour > ").bind(hour);
                b.push("), 0) + (SELECT COUNT(*) FROM market_listing WHERE created_at >= ").bind(c);
                b.push(" AND created_at < ").bind(hour.saturating_add(1).saturating_mul(3600));
                if let Some(v) = ls {
                    b.push(" AND last_seen >= ").bind(v);
                }
                b.push(") AS BIGINT) AS total");
            }
        }
        b.finish()
    }
}

/// Infinite bounds are clamped to the largest double (same filter, portable binding).
fn finite(v: f64) -> f64 {
    if v.is_infinite() { f64::MAX } else { v }
}

/// One listing as returned by `GET /listings`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListingOut {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub stack: i64,
    pub price: i64,
    pub price_each: f64,
    pub last_seen: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub expired: bool,
}

/// `GET /listings` response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListingsPage {
    pub items: Vec<ListingOut>,
    pub count: usize,
    pub total: i64,
}

/// Runs `GET /listings`.
pub fn listings(ctx: &Ctx, q: &ListingsQuery, now: i64) -> Result<ListingsPage> {
    let total = store::query_scalar_i64(ctx, &q.total_statement(now))?;
    let rows = store::query(ctx, &q.rows_statement(now, total))?;
    let mut items = Vec::with_capacity(rows.rows.len());
    for r in &rows.rows {
        let created_at = int_at(r, 7)?;
        let last_seen = int_at(r, 6)?;
        items.push(ListingOut {
            id: text_at(r, 0)?,
            name: text_at(r, 1)?,
            kind: opt_text_at(r, 2)?,
            stack: int_at(r, 3)?,
            price: int_at(r, 4)?,
            price_each: float_at(r, 5)?,
            last_seen,
            created_at,
            expires_at: created_at.saturating_add(LISTING_LIFETIME_SECONDS),
            expired: now.saturating_sub(created_at) > LISTING_LIFETIME_SECONDS
                || now.saturating_sub(last_seen) > LISTING_STALE_SECONDS,
        });
    }
    Ok(ListingsPage { count: items.len(), items, total })
}

/// `GET /items/{name}/summary` response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub name: String,
    pub count: i64,
    pub total_price: i64,
    pub total_stack: i64,
    pub min_each: f64,
    pub max_each: f64,
    pub avg_each: f64,
    pub median_each: f64,
}

/// PostgreSQL's `percentile_cont(0.5)` from the two middle values (`lo == hi` for odd n).
pub fn percentile_cont_half(lo: f64, hi: f64) -> f64 {
    if lo == hi { lo } else { lo + 0.5 * (hi - lo) }
}

/// Runs the summary over the active listings of `name`; 404 when there are none.
pub fn summary(ctx: &Ctx, name: &str, now: i64) -> Result<Summary> {
    let ls = now.saturating_sub(LISTING_STALE_SECONDS);
    let ca = now.saturating_sub(LISTING_LIFETIME_SECONDS);
    let filter = |b: &mut SqlBuilder| {
        b.push(" FROM market_listing WHERE name = ").bind(name);
        b.push(" AND last_seen >= ").bind(ls);
        b.push(" AND created_at >= ").bind(ca);
    };
    let mut agg = SqlBuilder::new(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(price), 0) AS BIGINT) AS total_price, \
         CAST(COALESCE(SUM(stack), 0) AS BIGINT) AS total_stack, MIN(price_each) AS min_each, \
         MAX(price_each) AS max_each, AVG(price_each) AS avg_each",
    );
    filter(&mut agg);
    let rows = store::query(ctx, &agg.finish())?;
    let row = rows.rows.first().ok_or_else(|| Error::internal("database returned no row"))?;
    let count = int_at(row, 0)?;
    let not_found = || Error::not_found(format!("No active market listings for '{name}'"));
    if count <= 0 {
        return Err(not_found());
    }
    let (min_each, max_each, avg) = match (opt_float_at(row, 3)?, opt_float_at(row, 4)?, opt_float_at(row, 5)?) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => return Err(not_found()),
    };
    // Median: the one or two middle values only.
    let (limit, offset) = if count % 2 == 1 { (1, (count - 1) / 2) } else { (2, count / 2 - 1) };
    let mut med = SqlBuilder::new("SELECT price_each");
    filter(&mut med);
    med.push(" ORDER BY price_each ASC LIMIT ").bind(limit);
    med.push(" OFFSET ").bind(offset);
    let mid = store::query(ctx, &med.finish())?;
    let vals = mid.rows.iter().map(|r| float_at(r, 0)).collect::<Result<Vec<_>>>()?;
    let median_each = match vals.as_slice() {
        [v] => *v,
        [lo, hi] => percentile_cont_half(*lo, *hi),
        // Rows vanished between the two reads (a concurrent write): fall back to bounds.
        _ => percentile_cont_half(min_each, max_each),
    };
    Ok(Summary {
        name: name.to_owned(),
        count,
        total_price: int_at(row, 1)?,
        total_stack: int_at(row, 2)?,
        min_each,
        max_each,
        avg_each: round3(avg),
        median_each,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_rules() {
        assert_eq!(resolve_sort("-price"), ("price", true));
        assert_eq!(resolve_sort(" price_each"), ("price_each", false));
        assert_eq!(resolve_sort("+-name"), ("name", false));
        assert_eq!(resolve_sort("-+stack"), ("stack", true));
        assert_eq!(resolve_sort("bogus"), ("last_seen", true));
        assert_eq!(resolve_sort("+bogus"), ("last_seen", true));
        assert_eq!(resolve_sort(""), ("last_seen", true));
        assert_eq!(resolve_sort("Name"), ("last_seen", true));
    }

    #[test]
    fn query_validation() {
        let q = ListingsQuery::parse("").unwrap();
        assert_eq!((q.limit, q.offset, q.hide_expired), (100, 0, true));
        let e = ListingsQuery::parse("limit=0&offset=-1&price_min=x&hide_expired=maybe").unwrap_err();
        assert_eq!(e.status, 422);
        let d = e.details.unwrap();
        let locs: Vec<&Value> = d.as_array().unwrap().iter().map(|x| &x["loc"][1]).collect();
        assert_eq!(locs, ["price_min", "hide_expired", "limit", "offset"]);
        let e = ListingsQuery::parse("price_min=5&price_max=4").unwrap_err();
        assert_eq!((e.status, e.message.as_str()), (400, "price_min cannot be greater than price_max"));
        let e = ListingsQuery::parse("limit=1001").unwrap_err();
        assert_eq!(e.details.unwrap()[0]["type"], "less_than_equal");
        let e = ListingsQuery::parse("last_seen_after=-5").unwrap_err();
        assert_eq!(e.details.unwrap()[0]["ctx"], json!({"ge": 0}));
        let e = ListingsQuery::parse("price_max=-1").unwrap_err();
        assert_eq!(e.details.unwrap()[0]["ctx"], json!({"ge": 0}));
        assert!(ListingsQuery::parse("price_max=nan").is_err());
        assert_eq!(ListingsQuery::parse("name=").unwrap().name, None, "empty name is no filter");
    }

    #[test]
    fn median_formula() {
        assert_eq!(percentile_cont_half(12000.0, 12345.67), 12172.835);
        assert_eq!(percentile_cont_half(50000.0, 50049.049), 50024.5245);
        assert_eq!(percentile_cont_half(26000.0, 26000.0), 26000.0);
    }
}
