//! Aggregations over `usage_events`: the activity summary (per day, per route,
//! per status class, latency percentiles) and the raw event feed. Rows are
//! coalesced by the recorder (`n` identical requests per row), so counts are
//! `SUM(n)` and latency/bytes columns are sums.
//!
//! Percentiles are computed from a latency histogram built in SQL (portable
//! `CASE` buckets), interpolated linearly inside the bucket: exact to within one
//! bucket (≤ 2.5× apart), with memory independent of the number of events.

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::Db;
use crate::error::ApiResult;

/// Which events an aggregation covers (all `None`: every event).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tenant_id: Option<String>,
    pub user_id: Option<String>,
    pub token_id: Option<String>,
    pub plugin: Option<String>,
    pub status: Option<i64>,
}

#[derive(Debug, Clone)]
enum Bind {
    I(i64),
    S(String),
}

/// `WHERE …` for the filter and `created_at >= since`, with its binds (placeholders from `$1`).
fn where_sql(f: &Filter, since: Option<i64>) -> (String, Vec<Bind>) {
    let mut conds: Vec<String> = Vec::new();
    let mut binds: Vec<Bind> = Vec::new();
    if let Some(s) = since {
        binds.push(Bind::I(s));
        conds.push(format!("created_at >= ${}", binds.len()));
    }
    for (col, v) in
        [("tenant_id", &f.tenant_id), ("user_id", &f.user_id), ("token_id", &f.token_id), ("plugin", &f.plugin)]
    {
        if let Some(v) = v {
            binds.push(Bind::S(v.clone()));
            conds.push(format!("{col} = ${}", binds.len()));
        }
    }
    if let Some(s) = f.status {
        binds.push(Bind::I(s));
        conds.push(format!("status = ${}", binds.len()));
    }
    let sql = if conds.is_empty() { String::from(" WHERE 1 = 1") } else { format!(" WHERE {}", conds.join(" AND ")) };
    (sql, binds)
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &[Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::I(i) => q.bind(*i),
            Bind::S(s) => q.bind(s.clone()),
        };
    }
    q
}

/// Histogram bounds (µs) for percentile estimation.
const HIST_US: [i64; 17] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000, 30_000_000,
];

/// The histogram bucket of one request's latency (µs): the index of the first bound it
/// does not exceed, `HIST_US.len()` above the last. Stored per row (`lat_bucket`).
pub fn latency_bucket(latency_us: i64) -> i64 {
    HIST_US.iter().position(|&b| latency_us <= b).unwrap_or(HIST_US.len()) as i64
}

/// Percentile `p` (0..1) in ms from bucket counts (last bucket = overflow).
fn percentile_ms(counts: &[i64], p: f64) -> f64 {
    let total: i64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let target = (p * total as f64).max(1.0);
    let mut cum = 0.0;
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let before = cum;
        cum += c as f64;
        if cum >= target {
            let lower = if i == 0 { 0 } else { HIST_US[i - 1] } as f64;
            let Some(&upper) = HIST_US.get(i) else { return round2(lower / 1000.0) };
            let frac = (target - before) / c as f64;
            return round2((lower + (upper as f64 - lower) * frac) / 1000.0);
        }
    }
    0.0
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn avg_ms(sum_us: i64, n: i64) -> f64 {
    if n == 0 { 0.0 } else { round2(sum_us as f64 / n as f64 / 1000.0) }
}

fn geti(r: &AnyRow, c: &str) -> ApiResult<i64> {
    Ok(r.try_get::<Option<i64>, _>(c)?.unwrap_or(0))
}

/// `YYYY-MM-DD` of a day number since the epoch.
pub fn date_of_day(day: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Aggregates over coalesced rows (each stands for `n` requests; latency and bytes are sums).
const AGG: &str = "CAST(SUM(n) AS BIGINT) AS n, \
    CAST(SUM(CASE WHEN status >= 400 THEN n ELSE 0 END) AS BIGINT) AS errors, \
    CAST(SUM(CASE WHEN status = 429 THEN n ELSE 0 END) AS BIGINT) AS limited, \
    CAST(SUM(latency_us) AS BIGINT) AS lat";

/// The activity summary of the events matching `f` in the last `days` days.
pub async fn summary(db: &Db, f: &Filter, days: u32, now_ms: i64) -> ApiResult<Value> {
    let since = now_ms - i64::from(days) * 86_400_000;
    let (w, binds) = where_sql(f, Some(since));

    let sql = format!(
        "SELECT {AGG}, CAST(SUM(bytes_in) AS BIGINT) AS bin, CAST(SUM(bytes_out) AS BIGINT) AS bout FROM usage_events{w}"
    );
    let row = bind_all(sqlx::query(&sql), &binds).fetch_one(&db.pool).await?;
    let (total, errors, limited, lat) =
        (geti(&row, "n")?, geti(&row, "errors")?, geti(&row, "limited")?, geti(&row, "lat")?);
    let (bytes_in, bytes_out) = (geti(&row, "bin")?, geti(&row, "bout")?);

    let sql = format!(
        "SELECT CAST(created_at / 86400000 AS BIGINT) AS day, {AGG} FROM usage_events{w} GROUP BY CAST(created_at / 86400000 AS BIGINT) ORDER BY day"
    );
    let mut by_day = Vec::new();
    for r in bind_all(sqlx::query(&sql), &binds).fetch_all(&db.pool).await? {
        let n = geti(&r, "n")?;
        by_day.push(json!({
            "date": date_of_day(geti(&r, "day")?), "count": n, "error_count": geti(&r, "errors")?,
            "rate_limited": geti(&r, "limited")?, "avg_latency_ms": avg_ms(geti(&r, "lat")?, n),
        }));
    }

    let sql = format!(
        "SELECT plugin, method, route, {AGG} FROM usage_events{w} GROUP BY plugin, method, route ORDER BY n DESC, route LIMIT 100"
    );
    let mut by_route = Vec::new();
    for r in bind_all(sqlx::query(&sql), &binds).fetch_all(&db.pool).await? {
        let n = geti(&r, "n")?;
        by_route.push(json!({
            "plugin": r.try_get::<String, _>("plugin")?, "method": r.try_get::<String, _>("method")?,
            "route": r.try_get::<String, _>("route")?, "count": n, "error_count": geti(&r, "errors")?,
            "rate_limited": geti(&r, "limited")?, "avg_latency_ms": avg_ms(geti(&r, "lat")?, n),
        }));
    }

    let sql = format!("SELECT plugin, {AGG} FROM usage_events{w} GROUP BY plugin ORDER BY n DESC, plugin LIMIT 100");
    let mut by_plugin = Vec::new();
    for r in bind_all(sqlx::query(&sql), &binds).fetch_all(&db.pool).await? {
        let n = geti(&r, "n")?;
        by_plugin.push(json!({
            "plugin": r.try_get::<String, _>("plugin")?, "count": n, "error_count": geti(&r, "errors")?,
            "avg_latency_ms": avg_ms(geti(&r, "lat")?, n),
        }));
    }

    let sql = format!(
        "SELECT CAST(status / 100 AS BIGINT) AS class, CAST(SUM(n) AS BIGINT) AS n FROM usage_events{w} GROUP BY CAST(status / 100 AS BIGINT)"
    );
    let mut by_status = serde_json::Map::new();
    for c in 1..=5 {
        by_status.insert(format!("{c}xx"), json!(0));
    }
    for r in bind_all(sqlx::query(&sql), &binds).fetch_all(&db.pool).await? {
        let class = geti(&r, "class")?.clamp(1, 5);
        by_status.insert(format!("{class}xx"), json!(geti(&r, "n")?));
    }

    let sql = format!(
        "SELECT CAST(lat_bucket AS BIGINT) AS b, CAST(SUM(n) AS BIGINT) AS n FROM usage_events{w} GROUP BY lat_bucket"
    );
    let mut counts = vec![0i64; HIST_US.len() + 1];
    for r in bind_all(sqlx::query(&sql), &binds).fetch_all(&db.pool).await? {
        if let Some(slot) = usize::try_from(geti(&r, "b")?).ok().and_then(|i| counts.get_mut(i)) {
            *slot += geti(&r, "n")?;
        }
    }

    Ok(json!({
        "window_days": days,
        "since": since,
        "total_requests": total,
        "error_count": errors,
        "rate_limited": limited,
        "avg_latency_ms": avg_ms(lat, total),
        "latency_ms": {"p50": percentile_ms(&counts, 0.50), "p90": percentile_ms(&counts, 0.90), "p99": percentile_ms(&counts, 0.99)},
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "by_day": by_day,
        "by_route": by_route,
        "by_plugin": by_plugin,
        "by_status_class": by_status,
    }))
}

/// One raw usage event as the admin feed shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub id: String,
    pub created_at: i64,
    pub tenant_id: Option<String>,
    pub user_id: Option<String>,
    pub token_id: Option<String>,
    pub plugin: String,
    pub method: String,
    pub route: String,
    pub status: i64,
    /// Identical requests this row stands for (same second, dimensions, IP hash and
    /// latency bucket); latency is their mean, bytes their sums.
    pub count: i64,
    pub latency_ms: f64,
    pub bytes_in: i64,
    pub bytes_out: i64,
    pub ip_hash: Option<String>,
}

/// Events matching `f`, newest first, strictly after the keyset `after = (created_at, id)`.
pub async fn events(db: &Db, f: &Filter, after: Option<(i64, String)>, limit: u32) -> ApiResult<Vec<EventView>> {
    let (mut w, mut binds) = where_sql(f, None);
    if let Some((at, id)) = after {
        w.push_str(" AND ");
        w.push_str(&crate::pagination::keyset_desc("created_at", "id", binds.len() + 1));
        binds.push(Bind::I(at));
        binds.push(Bind::S(id));
    }
    binds.push(Bind::I(i64::from(limit)));
    let sql = format!(
        "SELECT id, created_at, tenant_id, user_id, token_id, plugin, method, route, CAST(status AS BIGINT) AS status, latency_us, bytes_in, bytes_out, ip_hash, CAST(n AS BIGINT) AS n \
         FROM usage_events{w} ORDER BY created_at DESC, id DESC LIMIT ${}",
        binds.len()
    );
    let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&db.pool).await?;
    rows.into_iter()
        .map(|r| {
            Ok(EventView {
                id: r.try_get("id")?,
                created_at: r.try_get("created_at")?,
                tenant_id: r.try_get("tenant_id")?,
                user_id: r.try_get("user_id")?,
                token_id: r.try_get("token_id")?,
                plugin: r.try_get("plugin")?,
                method: r.try_get("method")?,
                route: r.try_get("route")?,
                status: r.try_get("status")?,
                count: r.try_get("n")?,
                latency_ms: avg_ms(r.try_get::<i64, _>("latency_us")?, r.try_get::<i64, _>("n")?),
                bytes_in: r.try_get("bytes_in")?,
                bytes_out: r.try_get("bytes_out")?,
                ip_hash: r.try_get("ip_hash")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date_of_day(0), "1970-01-01");
        assert_eq!(date_of_day(1_893_456_000 / 86_400), "2030-01-01");
        assert_eq!(date_of_day(19_782), "2024-02-29");
    }

    #[test]
    fn percentiles() {
        let mut counts = vec![0i64; HIST_US.len() + 1];
        assert_eq!(percentile_ms(&counts, 0.5), 0.0);
        counts[3] = 100; // (0.5 ms, 1 ms]
        let p50 = percentile_ms(&counts, 0.5);
        assert!((0.5..=1.0).contains(&p50), "{p50}");
        counts[HIST_US.len()] = 1000; // overflow
        assert_eq!(percentile_ms(&counts, 0.99), 30_000.0);
    }

    #[test]
    fn latency_buckets_follow_the_bounds() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(100), 0);
        assert_eq!(latency_bucket(101), 1);
        assert_eq!(latency_bucket(1_000), 3);
        assert_eq!(latency_bucket(30_000_000), HIST_US.len() as i64 - 1);
        assert_eq!(latency_bucket(i64::MAX), HIST_US.len() as i64);
    }

    #[test]
    fn where_clause_numbering() {
        let f =
            Filter { tenant_id: Some("t".into()), token_id: Some("k".into()), status: Some(429), ..Default::default() };
        let (w, b) = where_sql(&f, Some(5));
        assert_eq!(w, " WHERE created_at >= $1 AND tenant_id = $2 AND token_id = $3 AND status = $4");
        assert_eq!(b.len(), 4);
    }
}
