//! Pure evaluation of a route's secondary-bucket condition
//! ([`kiwi_plugin_api::manifest::BucketCondition`]) against a raw query string.

use kiwi_plugin_api::manifest::BucketCondition;

/// True when a request with query `raw_query` (without the `?`) pays the
/// secondary bucket, at unix time `now_secs`.
///
/// - `QueryEquals { param, value }`: some occurrence of `param` equals `value`
///   (ASCII case-insensitive, after URL-decoding). Every occurrence is checked, so
///   repeating a parameter cannot dodge the bucket.
/// - `QueryOlderThanDays { param, days }`: some occurrence of `param` is a time older
///   than `now - days·86400`; accepted forms are unix seconds (integer or decimal) and a
///   `YYYY-MM-DD` date (optionally followed by a time, which is ignored: the day's start counts).
///   Unparseable values do not match (the plugin rejects them itself).
pub fn condition_matches(cond: &BucketCondition, raw_query: Option<&str>, now_secs: i64) -> bool {
    let Some(q) = raw_query else { return false };
    match cond {
        BucketCondition::QueryEquals { param, value } => {
            query_values(q, param).any(|v| v.trim().eq_ignore_ascii_case(value))
        }
        BucketCondition::QueryOlderThanDays { param, days } => {
            let threshold = now_secs.saturating_sub(i64::from(*days).saturating_mul(86_400));
            query_values(q, param).filter_map(|v| parse_time(v.trim())).any(|t| t < threshold)
        }
    }
}

/// URL-decoded values of `name` in a query string (`+` is a space).
fn query_values<'a>(q: &'a str, name: &'a str) -> impl Iterator<Item = String> + 'a {
    q.split('&').filter_map(move |pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == name).then(|| decode(v))
    })
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    urlencoding::decode(&s).map(|c| c.into_owned()).unwrap_or(s)
}

/// Unix seconds from `1700000000`, `1700000000.5` or `2024-01-31[...]`.
fn parse_time(v: &str) -> Option<i64> {
    if let Ok(i) = v.parse::<i64>() {
        return Some(i);
    }
    if let Ok(f) = v.parse::<f64>() {
        return f.is_finite().then_some(f.floor() as i64);
    }
    let d = v.get(..10)?;
    let b = d.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = d.get(0..4)?.parse().ok()?;
    let m: u32 = d.get(5..7)?.parse().ok()?;
    let day: u32 = d.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(y, m, day) * 86_400)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_893_456_000; // 2030-01-01T00:00:00Z

    fn eq(p: &str, v: &str) -> BucketCondition {
        BucketCondition::QueryEquals { param: p.into(), value: v.into() }
    }
    fn older(p: &str, days: u32) -> BucketCondition {
        BucketCondition::QueryOlderThanDays { param: p.into(), days }
    }

    #[test]
    fn query_equals() {
        let c = eq("hide_expired", "false");
        assert!(condition_matches(&c, Some("hide_expired=false"), NOW));
        assert!(condition_matches(&c, Some("a=1&hide_expired=FALSE"), NOW));
        assert!(condition_matches(&c, Some("hide_expired=true&hide_expired=false"), NOW));
        assert!(condition_matches(&c, Some("hide%5Fexpired=fals%65"), NOW));
        assert!(!condition_matches(&c, Some("hide_expired=true"), NOW));
        assert!(!condition_matches(&c, Some("hide_expired"), NOW));
        assert!(!condition_matches(&c, Some("xhide_expired=false"), NOW));
        assert!(!condition_matches(&c, Some(""), NOW));
        assert!(!condition_matches(&c, None, NOW));
        assert!(condition_matches(&eq("q", "a b"), Some("q=a+b"), NOW));
    }

    #[test]
    fn older_than_days() {
        let c = older("at", 3);
        let three_days = 3 * 86_400;
        assert!(condition_matches(&c, Some(&format!("at={}", NOW - three_days - 1)), NOW));
        assert!(!condition_matches(&c, Some(&format!("at={}", NOW - three_days)), NOW));
        assert!(!condition_matches(&c, Some(&format!("at={NOW}")), NOW));
        assert!(condition_matches(&c, Some("at=1000.5"), NOW));
        assert!(condition_matches(&c, Some("at=2029-12-28"), NOW));
        assert!(!condition_matches(&c, Some("at=2029-12-29T10:00:00Z"), NOW));
        assert!(!condition_matches(&c, Some("at=yesterday"), NOW));
        assert!(!condition_matches(&c, Some("at=2029-13-01"), NOW));
        assert!(!condition_matches(&c, Some("at=NaN"), NOW));
        assert!(!condition_matches(&c, Some("other=1"), NOW));
        assert!(!condition_matches(&c, None, NOW));
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2030, 1, 1) * 86_400, NOW);
    }
}
