//! POSIX TZ rules (the footer of a TZif file, e.g. `EST5EDT,M3.2.0,M11.1.0`)
//! evaluated the way Python's `zoneinfo` does for instants after a zone's last
//! listed transition.
//!
//! `chrono-tz` lists transitions only up to 2099 and then keeps the last
//! offset forever; Python keeps applying the zone's DST rule up to year 9999.
//! The rules of every zone that still observes DST (tzdata 2025b, the version
//! `chrono-tz` 0.10.4 compiles in) are embedded in `data/tz_rules.json`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::civil::{days_from_civil, days_in_month};

const TZ_RULES_JSON: &str = include_str!("../data/tz_rules.json");

/// From 2100-01-01T00:00 on, offsets come from the rule instead of `chrono-tz`.
pub const RULES_FROM: i64 = 4_102_444_800;

/// `Mm.w.d[/time]`: weekday `d` (0 = Sunday) of week `w` (5 = last) of month
/// `m`, at `time` seconds of local time (may be negative or past 24h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    month: i32,
    week: i32,
    weekday: i32,
    time: i64,
}

impl Transition {
    /// Local seconds since 1970-01-01 of this transition in `year`.
    fn local_epoch(&self, year: i32) -> i64 {
        let first = days_from_civil(year, self.month, 1);
        // Python's calendar weekday of the 1st (0 = Monday); 1970-01-01 was a Thursday.
        let first_weekday = (first + 3).rem_euclid(7);
        let mut month_day = (i64::from(self.weekday) - (first_weekday + 1)).rem_euclid(7) + 1;
        month_day += i64::from(self.week - 1) * 7;
        if month_day > i64::from(days_in_month(year, self.month)) {
            month_day -= 7;
        }
        (first + month_day - 1) * 86_400 + self.time
    }
}

/// A zone's DST rule: standard and daylight UTC offsets (seconds east) and
/// the yearly transitions into and out of daylight time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    std: i64,
    dst: i64,
    start: Transition,
    end: Transition,
}

fn in_dst(start: i64, end: i64, ts: i64) -> bool {
    if start < end { start <= ts && ts < end } else { !(end <= ts && ts < start) }
}

impl Rule {
    /// The offset at UTC seconds `ts` (in UTC year `year`).
    pub fn offset_at_utc(&self, ts: i64, year: i32) -> i64 {
        let start = self.start.local_epoch(year) - self.std;
        let end = self.end.local_epoch(year) - self.dst;
        if in_dst(start, end, ts) { self.dst } else { self.std }
    }

    /// The offset for local seconds `ts` (in local year `year`) with fold=0.
    pub fn offset_for_local(&self, ts: i64, year: i32) -> i64 {
        let diff = self.dst - self.std;
        let mut start = self.start.local_epoch(year);
        let mut end = self.end.local_epoch(year);
        if diff < 0 {
            end -= diff;
        } else {
            start += diff;
        }
        if in_dst(start, end, ts) { self.dst } else { self.std }
    }
}

/// Reads a `[+-]hh[:mm[:ss]]` quantity at the start of `s`.
fn take_hms(s: &str) -> Option<(i64, &str)> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    let mut total = 0i64;
    let mut rest = rest;
    for (i, unit) in [3600i64, 60, 1].into_iter().enumerate() {
        if i > 0 {
            match rest.strip_prefix(':') {
                Some(r) => rest = r,
                None => break,
            }
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        total += rest[..digits].parse::<i64>().ok()? * unit;
        rest = &rest[digits..];
    }
    Some((sign * total, rest))
}

/// Skips a zone abbreviation: letters, or `<...>`.
fn take_name(s: &str) -> Option<&str> {
    if let Some(r) = s.strip_prefix('<') {
        let close = r.find('>')?;
        return Some(&r[close + 1..]);
    }
    let n = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    (n >= 3).then(|| &s[n..])
}

fn parse_transition(s: &str) -> Option<Transition> {
    let s = s.strip_prefix('M')?;
    let (date, time) = match s.split_once('/') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut parts = date.split('.').map(|p| p.parse::<i32>().ok());
    let (month, week, weekday) = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=5).contains(&week) || !(0..=6).contains(&weekday) {
        return None;
    }
    let time = match time {
        None => 7200,
        Some(t) => match take_hms(t)? {
            (secs, "") => secs,
            _ => return None,
        },
    };
    Some(Transition { month, week, weekday, time })
}

/// Parses `STDoff[DST[off],start,end]`; `None` for forms without DST rules.
pub fn parse(tz: &str) -> Option<Rule> {
    let mut fields = tz.split(',');
    let head = fields.next()?;
    let (start, end) = (parse_transition(fields.next()?)?, parse_transition(fields.next()?)?);
    if fields.next().is_some() {
        return None;
    }
    let rest = take_name(head)?;
    let (std_west, rest) = take_hms(rest)?;
    let rest = take_name(rest)?;
    let std = -std_west;
    let dst = if rest.is_empty() {
        std + 3600
    } else {
        match take_hms(rest)? {
            (west, "") => -west,
            _ => return None,
        }
    };
    Some(Rule { std, dst, start, end })
}

/// The DST rule of IANA zone `name`, if it still observes DST.
pub fn rule_for(name: &str) -> Option<Rule> {
    static RULES: OnceLock<BTreeMap<String, Rule>> = OnceLock::new();
    RULES
        .get_or_init(|| {
            serde_json::from_str::<BTreeMap<String, String>>(TZ_RULES_JSON)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(zone, tz)| parse(&tz).map(|r| (zone, r)))
                .collect()
        })
        .get(name)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_embedded_rule() {
        let all: BTreeMap<String, String> = serde_json::from_str(TZ_RULES_JSON).unwrap();
        assert!(all.len() > 150);
        for (zone, tz) in &all {
            assert!(parse(tz).is_some(), "{zone}: {tz}");
        }
        let r = parse("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0").unwrap();
        assert_eq!((r.std, r.dst), (37_800, 39_600));
        let r = parse("IST-1GMT0,M10.5.0,M3.5.0/1").unwrap();
        assert_eq!((r.std, r.dst), (3600, 0));
        let r = parse("<-02>2<-01>,M3.5.0/-1,M10.5.0/0").unwrap();
        assert_eq!(r.start.time, -3600);
        assert!(parse("<-03>3").is_none());
    }

    #[test]
    fn new_york_in_2200() {
        let r = rule_for("America/New_York").unwrap();
        let july = days_from_civil(2200, 7, 1) * 86_400;
        assert_eq!(r.offset_at_utc(july, 2200), -4 * 3600);
        let jan = days_from_civil(2200, 1, 1) * 86_400;
        assert_eq!(r.offset_at_utc(jan, 2200), -5 * 3600);
        // 2200-03-09 is the second Sunday of March: 02:30 is skipped (EST applies).
        let gap = days_from_civil(2200, 3, 9) * 86_400 + 9000;
        assert_eq!(r.offset_for_local(gap, 2200), -5 * 3600);
        // 2200-11-02 01:30 happens twice; fold=0 is EDT.
        let fold = days_from_civil(2200, 11, 2) * 86_400 + 5400;
        assert_eq!(r.offset_for_local(fold, 2200), -4 * 3600);
    }
}
