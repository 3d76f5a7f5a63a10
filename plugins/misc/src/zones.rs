//! The supported zones (from the embedded `misc_time.json`) and UTC-offset
//! lookups: `trove` is a fixed UTC−11:00, `UTC` is UTC, anything else is an
//! IANA zone from the tz database compiled in by `chrono-tz`.
//!
//! Local (naive) times resolve like Python's `zoneinfo` with `fold=0`: in a
//! repeated hour the earlier instant, in a skipped hour the offset in force
//! before the transition (PEP 495). From 2100 on, zones that observe DST
//! follow their POSIX rule ([`posix`]), as `zoneinfo` does.

use std::str::FromStr;
use std::sync::OnceLock;

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::{civil, posix};

const MISC_TIME_JSON: &str = include_str!("../data/misc_time.json");

/// The `misc_time` table: zones and Discord styles, in display order.
#[derive(Debug, Clone, Deserialize)]
pub struct MiscTime {
    #[serde(rename = "TROVE_UTC_OFFSET_HOURS")]
    pub trove_utc_offset_hours: i64,
    #[serde(rename = "TIMEZONES")]
    pub timezones: Vec<(String, String)>,
    #[serde(rename = "DISCORD_STYLES")]
    pub discord_styles: Vec<(String, String)>,
}

/// The embedded table, parsed once.
pub fn table() -> Result<&'static MiscTime, kiwi_sdk::Error> {
    static TABLE: OnceLock<Result<MiscTime, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| serde_json::from_str(MISC_TIME_JSON).map_err(|e| format!("misc_time.json: {e}")))
        .as_ref()
        .map_err(|e| kiwi_sdk::Error::internal(format!("embedded data: {e}")))
}

/// A resolved zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// A fixed offset in seconds east of UTC.
    Fixed(i64),
    Iana(Tz),
}

/// Unix seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range
/// Python's `datetime` can represent.
pub const MIN_UNIX: i64 = -62_135_596_800;
pub const MAX_UNIX: i64 = 253_402_300_799;

impl Zone {
    /// `"trove"`, `"UTC"` (both exact, case-sensitive) or an IANA name.
    pub fn resolve(id: &str, trove_offset_hours: i64) -> Option<Zone> {
        match id {
            "trove" => Some(Zone::Fixed(trove_offset_hours * 3600)),
            "UTC" => Some(Zone::Fixed(0)),
            _ => Tz::from_str(id).ok().map(Zone::Iana),
        }
    }

    /// The offset (seconds east of UTC) in force at `unix` seconds.
    pub fn offset_at_utc(self, unix: i64) -> i64 {
        match self {
            Zone::Fixed(off) => off,
            Zone::Iana(tz)
                if unix >= posix::RULES_FROM
                    && let Some(rule) = posix::rule_for(tz.name()) =>
            {
                rule.offset_at_utc(unix, civil::civil_from_days(unix.div_euclid(86_400)).0)
            }
            Zone::Iana(tz) => DateTime::from_timestamp(unix, 0)
                .map_or(0, |dt| i64::from(tz.offset_from_utc_datetime(&dt.naive_utc()).fix().local_minus_utc())),
        }
    }

    /// The offset for a wall-clock time given as seconds since 1970-01-01
    /// (local), resolved with `fold=0`.
    pub fn offset_for_local(self, local: i64) -> i64 {
        let tz = match self {
            Zone::Fixed(off) => return off,
            Zone::Iana(tz) => tz,
        };
        if local >= posix::RULES_FROM
            && let Some(rule) = posix::rule_for(tz.name())
        {
            let year = civil::civil_from_days(local.div_euclid(86_400)).0;
            return rule.offset_for_local(local, year);
        }
        let naive = |secs: i64| DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc());
        let Some(wall) = naive(local) else {
            return 0;
        };
        match local_offsets(tz, &wall) {
            LocalResult::Single(off) => off,
            // Repeated wall time: fold=0 is the earlier instant, i.e. the larger offset.
            LocalResult::Ambiguous(a, b) => a.max(b),
            // Skipped wall time: the offset before the transition, found by
            // stepping back to the last wall time that exists.
            LocalResult::None => {
                for step in 1..=200 {
                    let Some(probe) = naive(local - step * 900) else {
                        break;
                    };
                    match local_offsets(tz, &probe) {
                        LocalResult::Single(off) => return off,
                        LocalResult::Ambiguous(a, b) => return a.min(b),
                        LocalResult::None => {}
                    }
                }
                self.offset_at_utc(local)
            }
        }
    }
}

fn local_offsets(tz: Tz, wall: &NaiveDateTime) -> LocalResult<i64> {
    tz.offset_from_local_datetime(wall).map(|o| i64::from(o.fix().local_minus_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_zones() {
        assert_eq!(Zone::resolve("trove", -11), Some(Zone::Fixed(-39_600)));
        assert_eq!(Zone::resolve("UTC", -11), Some(Zone::Fixed(0)));
        assert!(Zone::resolve("Europe/Lisbon", -11).is_some());
        assert!(Zone::resolve("US/Eastern", -11).is_some());
        assert!(Zone::resolve("Not/AZone", -11).is_none());
        assert!(Zone::resolve("utc/x", -11).is_none());
        assert!(Zone::resolve("", -11).is_none());
    }

    #[test]
    fn fold_zero_semantics() {
        let ny = Zone::resolve("America/New_York", -11).unwrap();
        // 2026-03-08T02:30 does not exist in New York: EST (-5) applies.
        let gap = crate::civil::days_from_civil(2026, 3, 8) * 86_400 + 2 * 3600 + 1800;
        assert_eq!(ny.offset_for_local(gap), -5 * 3600);
        // 2026-11-01T01:30 happens twice: the first (EDT, -4) is taken.
        let overlap = crate::civil::days_from_civil(2026, 11, 1) * 86_400 + 3600 + 1800;
        assert_eq!(ny.offset_for_local(overlap), -4 * 3600);
        assert_eq!(ny.offset_at_utc(0), -5 * 3600);
    }

    #[test]
    fn table_has_eleven_zones_and_seven_styles() {
        let t = table().unwrap();
        assert_eq!(t.timezones.len(), 11);
        assert_eq!(t.discord_styles.len(), 7);
        for (id, _) in &t.timezones {
            assert!(Zone::resolve(id, t.trove_utc_offset_hours).is_some(), "{id}");
        }
    }
}
