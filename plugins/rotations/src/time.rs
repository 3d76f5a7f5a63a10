//! Calendar arithmetic on unix time: the rotation anchors, the pinned instant
//! ([`Now`]), floor division helpers and ISO-8601 formatting. No system clock
//! is read here; every instant comes from the host (`ctx.now_millis()`).
//!
//! All rotation instants are integer unix seconds in real UTC. "Trove time" is
//! real UTC minus 11 h, so the in-game day (and week) rolls over at 11:00 UTC.

use kiwi_sdk::Error;

/// One day, seconds.
pub const DAY: i64 = 86_400;
/// One week, seconds.
pub const WEEK: i64 = 7 * DAY;
/// Trove time = real UTC − this offset (11 h).
pub const TROVE_OFFSET: i64 = 11 * 3600;

/// Weekly reset / weekly buffs anchor: Monday 2020-03-23 11:00 UTC.
pub const FIRST_WEEK_BUFF: i64 = 1_584_961_200;
/// Corruxion anchor: Friday 2024-03-08 11:00 UTC.
pub const FIRST_CORRUXION: i64 = 1_709_895_600;
/// Fluxion anchor (also the Chaos Chest week grid): Tuesday 2023-07-18 11:00 UTC.
pub const FIRST_FLUXION: i64 = 1_689_678_000;
/// Gardening anchor: Friday 2025-05-23 11:00 UTC.
pub const FIRST_GARDENING: i64 = 1_747_998_000;
/// The d15 biome rotation epoch: Tuesday 2024-06-18 11:00 UTC.
pub const D15_EPOCH: i64 = 1_718_708_400;
/// Wild Mana base: Monday 2023-11-20 11:00 UTC.
pub const MANA_BASE: i64 = 1_700_478_000;
/// Stampy base: Monday 2023-09-25 11:00 UTC.
pub const STAMPY_BASE: i64 = 1_695_639_600;
/// Luxion 27-hour window grid epoch: Friday 2025-10-10 11:00 UTC.
pub const LUXION_EPOCH: i64 = 1_760_094_000;

/// Earliest supported host clock (1970-01-01T00:00:00Z), unix ms.
const MIN_MILLIS: i64 = 0;
/// Latest supported host clock, unix ms: 9998-12-31T23:59:59.999Z, so that
/// the calendar's +365-day window still formats as a four-digit year.
const MAX_MILLIS: i64 = 253_370_764_799_999;

/// The pinned request instant: the host clock in milliseconds, with the
/// whole-second floor most rotation rules use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    millis: i64,
}

impl Now {
    /// Validates a host clock reading (unix ms). Instants before 1970 or past
    /// the year 9998 are refused instead of risking overflow.
    pub fn from_millis(millis: i64) -> Result<Self, Error> {
        if (MIN_MILLIS..=MAX_MILLIS).contains(&millis) {
            Ok(Self { millis })
        } else {
            Err(Error::internal(format!("host clock {millis} ms is outside the supported range (1970..=9998)")))
        }
    }

    /// A whole-second instant (tests and examples).
    pub fn from_secs(secs: i64) -> Result<Self, Error> {
        Self::from_millis(secs.checked_mul(1000).unwrap_or(i64::MIN))
    }

    /// Unix milliseconds.
    pub fn millis(self) -> i64 {
        self.millis
    }

    /// Unix seconds, floored.
    pub fn secs(self) -> i64 {
        self.millis.div_euclid(1000)
    }

    /// Whole seconds from now until `target`, the way Python's
    /// `int(target - now_exact)` truncates, and never below 0.
    pub fn secs_until_exact(self, target: i64) -> i64 {
        ((target * 1000 - self.millis) / 1000).max(0)
    }
}

/// Floor division (Python `//`). `b` must be positive (all callers pass constants).
pub fn fl(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

/// Ceiling division for a positive divisor.
pub fn ceil_div(a: i64, b: i64) -> i64 {
    -(-a).div_euclid(b)
}

/// Weekday of a unix second, Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday).
pub fn weekday(secs: i64) -> i64 {
    (fl(secs, DAY) + 3).rem_euclid(7)
}

/// Trove weekday of a real-UTC instant (Monday = 0), i.e. the weekday of `n − 11 h`.
pub fn trove_weekday(secs: i64) -> i64 {
    weekday(secs - TROVE_OFFSET)
}

/// English weekday names, Monday first.
pub const WEEKDAY_NAMES: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// The most recent daily reset (11:00 UTC) at or before `secs`.
pub fn current_daily_reset(secs: i64) -> i64 {
    TROVE_OFFSET + DAY * fl(secs - TROVE_OFFSET, DAY)
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // `day` is in 1..=31 and `month` in 1..=12 by construction.
    (year, month as u32, day as u32)
}

/// `YYYY-MM-DDTHH:MM:SS` of a unix millisecond, plus `.ffffff` when the
/// sub-second part is not zero (the way Python's `isoformat` writes it).
fn iso_body(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let frac = millis.rem_euclid(1000);
    let (y, mo, d) = civil_from_days(fl(secs, DAY));
    let sod = secs.rem_euclid(DAY);
    let mut out = format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, (sod % 3600) / 60, sod % 60);
    if frac != 0 {
        out.push_str(&format!(".{:06}", frac * 1000));
    }
    out
}

/// Python `datetime.isoformat()` of an aware UTC instant: `…+00:00`.
pub fn isoformat_utc(millis: i64) -> String {
    let mut s = iso_body(millis);
    s.push_str("+00:00");
    s
}

/// The JSON form of stored capture timestamps: ISO-8601 UTC with a `Z` suffix
/// (pydantic's form for aware UTC datetimes).
pub fn datetime_z(millis: i64) -> String {
    let mut s = iso_body(millis);
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_11_utc_on_the_documented_weekdays() {
        for (anchor, wd) in [
            (FIRST_WEEK_BUFF, 0),
            (FIRST_CORRUXION, 4),
            (FIRST_FLUXION, 1),
            (FIRST_GARDENING, 4),
            (D15_EPOCH, 1),
            (MANA_BASE, 0),
            (STAMPY_BASE, 0),
            (LUXION_EPOCH, 4),
        ] {
            assert_eq!(anchor.rem_euclid(DAY), 11 * 3600, "{anchor}");
            assert_eq!(weekday(anchor), wd, "{anchor}");
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(fl(1_749_813_600, DAY)), (2025, 6, 13));
        assert_eq!(civil_from_days(fl(MAX_MILLIS / 1000, DAY)), (9998, 12, 31));
    }

    #[test]
    fn iso_formats() {
        assert_eq!(isoformat_utc(1_749_813_600_000), "2025-06-13T11:20:00+00:00");
        assert_eq!(isoformat_utc(1_749_813_600_250), "2025-06-13T11:20:00.250000+00:00");
        assert_eq!(datetime_z(0), "1970-01-01T00:00:00Z");
        assert_eq!(datetime_z(1_784_646_360_007), "2026-07-21T15:06:00.007000Z");
    }

    #[test]
    fn clock_range_is_enforced() {
        assert!(Now::from_millis(-1).is_err());
        assert!(Now::from_millis(MAX_MILLIS + 1).is_err());
        assert!(Now::from_millis(i64::MAX).is_err());
        assert!(Now::from_secs(i64::MAX).is_err());
        assert_eq!(Now::from_millis(1500).map(Now::secs), Ok(1));
    }

    #[test]
    fn exact_countdowns_truncate() {
        let now = Now::from_millis(1_000_500).unwrap();
        assert_eq!(now.secs_until_exact(1_010), 9);
        assert_eq!(now.secs_until_exact(1_000), 0);
        assert_eq!(now.secs_until_exact(900), 0);
        assert_eq!(ceil_div(-5, 3), -1);
        assert_eq!(ceil_div(5, 3), 2);
        assert_eq!(ceil_div(6, 3), 2);
    }
}
