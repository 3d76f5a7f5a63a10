//! Proleptic Gregorian calendar arithmetic (days since the Unix epoch and
//! Python's date ordinals) and the text formats the converter prints.

/// Python `date(1, 1, 1).toordinal()` is 1; this is the ordinal of 1970-01-01.
const EPOCH_ORDINAL: i64 = 719_163;

pub fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub fn days_in_month(year: i32, month: i32) -> i32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (any year).
pub fn days_from_civil(year: i32, month: i32, day: i32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01. Years are clamped into
/// `i32` (callers only pass days within a few thousand years of 1970).
pub fn civil_from_days(days: i64) -> (i32, i32, i32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let y = i32::try_from(y).unwrap_or(if y < 0 { i32::MIN } else { i32::MAX });
    (y, m as i32, d as i32)
}

/// Python's `date.toordinal()`.
pub fn ymd_to_ord(year: i32, month: i32, day: i32) -> i64 {
    days_from_civil(year, month, day) + EPOCH_ORDINAL
}

/// Python's `date.fromordinal()` (without its range check).
pub fn ord_to_ymd(ordinal: i64) -> (i32, i32, i32) {
    civil_from_days(ordinal - EPOCH_ORDINAL)
}

/// A broken-down wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    pub year: i32,
    pub month: i32,
    pub day: i32,
    pub hour: i32,
    pub minute: i32,
    pub second: i32,
}

impl WallClock {
    /// The wall clock `secs` seconds after 1970-01-01T00:00:00.
    pub fn from_epoch_seconds(secs: i64) -> Self {
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let s = secs.rem_euclid(86_400);
        WallClock { year, month, day, hour: (s / 3600) as i32, minute: (s % 3600 / 60) as i32, second: (s % 60) as i32 }
    }
}

/// A UTC offset as `isoformat()` prints it: `+HH:MM`, `:SS` when needed.
pub fn format_offset(offset_secs: i64) -> String {
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let a = offset_secs.unsigned_abs();
    let (h, m, s) = (a / 3600, a % 3600 / 60, a % 60);
    if s == 0 { format!("{sign}{h:02}:{m:02}") } else { format!("{sign}{h:02}:{m:02}:{s:02}") }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

impl WallClock {
    /// `isoformat()` with the given offset: `2026-06-05T00:00:00-11:00`.
    pub fn isoformat(&self, offset_secs: i64) -> String {
        format!("{:04}-{:02}-{:02}T{}{}", self.year, self.month, self.day, self.time(), format_offset(offset_secs))
    }

    /// `strftime("%b %d, %Y")`: `Jun 05, 2026`.
    pub fn date_label(&self) -> String {
        let month = usize::try_from(self.month - 1).ok().and_then(|i| MONTHS.get(i)).copied().unwrap_or("???");
        format!("{month} {:02}, {:04}", self.day, self.year)
    }

    /// `strftime("%H:%M:%S")`.
    pub fn time(&self) -> String {
        format!("{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ordinals() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(ymd_to_ord(1, 1, 1), 1);
        assert_eq!(ord_to_ymd(1), (1, 1, 1));
        assert_eq!(ymd_to_ord(9999, 12, 31), 3_652_059);
        for d in [-719_162, -1, 0, 59, 365, 11_016, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
    }

    #[test]
    fn formats() {
        let w = WallClock::from_epoch_seconds(1_780_657_200 - 11 * 3600);
        assert_eq!(w.isoformat(-11 * 3600), "2026-06-05T00:00:00-11:00");
        assert_eq!(w.date_label(), "Jun 05, 2026");
        assert_eq!(format_offset(-(4 * 3600 + 56 * 60 + 2)), "-04:56:02");
        assert_eq!(format_offset(0), "+00:00");
        let w = WallClock::from_epoch_seconds(-86_400);
        assert_eq!(w.time(), "00:00:00");
        assert_eq!(w.date_label(), "Dec 31, 1969");
    }
}
