//! A port of CPython's `datetime.fromisoformat` (the C implementation, 3.11–3.13
//! grammar) including its exact `ValueError` messages, plus the Python `repr`
//! helpers those messages need.
//!
//! The C parser reads its UTF-8 buffer byte by byte and relies on the trailing
//! NUL; [`at`] reproduces that (any index past the end reads as 0), so odd
//! inputs fail or succeed exactly as they do in CPython.

use crate::civil;

/// A parsed `datetime`: wall-clock fields and, for aware strings, the UTC
/// offset in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDateTime {
    pub year: i32,
    pub month: i32,
    pub day: i32,
    pub hour: i32,
    pub minute: i32,
    pub second: i32,
    pub microsecond: i32,
    /// `None` for a naive datetime.
    pub offset_us: Option<i64>,
}

fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn is_digit(c: u8) -> bool {
    c.is_ascii_digit()
}

/// Reads `n` digits at `*p` into `var` (accumulating, like the C helper).
fn parse_digits(b: &[u8], p: &mut usize, var: &mut i32, n: usize) -> bool {
    for _ in 0..n {
        let c = at(b, *p);
        *p += 1;
        if !is_digit(c) {
            return false;
        }
        *var = *var * 10 + i32::from(c - b'0');
    }
    true
}

/// `_find_isoformat_datetime_separator`; `None` stands for C's `-1`.
fn find_separator(b: &[u8]) -> Option<usize> {
    let len = b.len();
    if len == 7 {
        return Some(7);
    }
    if at(b, 4) == b'-' {
        if at(b, 5) == b'W' {
            if len < 8 {
                return None;
            }
            if len > 8 && at(b, 8) == b'-' {
                if len == 9 {
                    return None;
                }
                if len > 10 && is_digit(at(b, 10)) {
                    return Some(8);
                }
                return Some(10);
            }
            return Some(8);
        }
        return Some(10);
    }
    if at(b, 4) == b'W' {
        let mut idx = 7;
        while idx < len && is_digit(at(b, idx)) {
            idx += 1;
        }
        if idx < 9 {
            return Some(idx);
        }
        return Some(if idx % 2 == 0 { 7 } else { 8 });
    }
    Some(8)
}

/// `iso_to_ymd`: ISO year/week/weekday to a calendar date, C's error codes.
fn iso_to_ymd(iso_year: i32, week: i32, day: i32) -> Result<(i32, i32, i32), i32> {
    if !(1..=9999).contains(&iso_year) {
        return Err(-4);
    }
    if week <= 0 || week >= 53 {
        let mut out_of_range = true;
        if week == 53 {
            let first_weekday = (civil::ymd_to_ord(iso_year, 1, 1) + 6).rem_euclid(7);
            if first_weekday == 3 || (first_weekday == 2 && civil::is_leap(iso_year)) {
                out_of_range = false;
            }
        }
        if out_of_range {
            return Err(-2);
        }
    }
    if day <= 0 || day >= 8 {
        return Err(-3);
    }
    let first_day = civil::ymd_to_ord(iso_year, 1, 1);
    let first_weekday = (first_day + 6).rem_euclid(7);
    let mut week1_monday = first_day - first_weekday;
    if first_weekday > 3 {
        week1_monday += 7;
    }
    let ordinal = week1_monday + i64::from((week - 1) * 7 + day - 1);
    Ok(civil::ord_to_ymd(ordinal))
}

/// `parse_isoformat_date` over the first `len` bytes (C's `size_t` length).
fn parse_date(b: &[u8], len: usize) -> Result<(i32, i32, i32), i32> {
    let mut p = 0;
    let mut year = 0;
    if !parse_digits(b, &mut p, &mut year, 4) {
        return Err(-1);
    }
    let uses_separator = at(b, p) == b'-';
    if uses_separator {
        p += 1;
    }
    if at(b, p) == b'W' {
        p += 1;
        let (mut week, mut day) = (0, 0);
        if !parse_digits(b, &mut p, &mut week, 2) {
            return Err(-3);
        }
        if p < len {
            if uses_separator {
                let c = at(b, p);
                p += 1;
                if c != b'-' {
                    return Err(-2);
                }
            }
            if !parse_digits(b, &mut p, &mut day, 1) {
                return Err(-4);
            }
        } else {
            day = 1;
        }
        return iso_to_ymd(year, week, day).map_err(|rv| -3 + rv);
    }
    let (mut month, mut day) = (0, 0);
    if !parse_digits(b, &mut p, &mut month, 2) {
        return Err(-1);
    }
    if uses_separator {
        let c = at(b, p);
        p += 1;
        if c != b'-' {
            return Err(-2);
        }
    }
    if !parse_digits(b, &mut p, &mut day, 2) {
        return Err(-1);
    }
    Ok((year, month, day))
}

/// `parse_hh_mm_ss_ff` on `[start, end)`: 0 = parsed to the end, 1 = stopped
/// before the end, negative = failure. Returns (rv, [h, m, s, us]).
fn parse_hh_mm_ss_ff(b: &[u8], start: usize, end: usize) -> (i32, [i32; 4]) {
    let mut vals = [0i32; 4];
    let mut p = start;
    let mut has_separator = true;
    for (i, slot) in vals.iter_mut().take(3).enumerate() {
        if !parse_digits(b, &mut p, slot, 2) {
            return (-3, [0; 4]);
        }
        let c = at(b, p);
        p += 1;
        if i == 0 {
            has_separator = c == b':';
        }
        if p >= end {
            return (i32::from(c != 0), vals);
        } else if has_separator && c == b':' {
            continue;
        } else if c == b'.' || c == b',' {
            break;
        } else if !has_separator {
            p -= 1;
        } else {
            return (-4, [0; 4]);
        }
    }
    // Fractional part: up to 6 digits, then any further digits are skipped.
    let len_remains = end.saturating_sub(p);
    let to_parse = len_remains.min(6);
    let mut us = 0;
    if !parse_digits(b, &mut p, &mut us, to_parse) {
        return (-3, [0; 4]);
    }
    const CORRECTION: [i32; 5] = [100_000, 10_000, 1_000, 100, 10];
    if (1..6).contains(&to_parse) {
        us *= CORRECTION[to_parse - 1];
    }
    vals[3] = us;
    while is_digit(at(b, p)) {
        p += 1;
    }
    (i32::from(at(b, p) != 0), vals)
}

/// The time part of `parse_isoformat_time`: (rv, [h, m, s, us], tz offset
/// seconds, tz microseconds). rv 0 = naive, 1 = with offset, negative = bad.
fn parse_time(b: &[u8], start: usize, end: usize) -> (i32, [i32; 4], i64, i64) {
    let mut tz = start;
    loop {
        let c = at(b, tz);
        if c == b'Z' || c == b'+' || c == b'-' {
            break;
        }
        tz += 1;
        if tz >= end {
            break;
        }
    }
    let (rv, vals) = parse_hh_mm_ss_ff(b, start, tz);
    if rv < 0 {
        return (rv, vals, 0, 0);
    }
    if tz == end {
        return (if rv == 1 { -5 } else { 0 }, vals, 0, 0);
    }
    if at(b, tz) == b'Z' {
        let rv = if at(b, tz + 1) != 0 { -5 } else { 1 };
        return (rv, vals, 0, 0);
    }
    let sign: i64 = if at(b, tz) == b'-' { -1 } else { 1 };
    let (rv, tzv) = parse_hh_mm_ss_ff(b, tz + 1, end);
    let offset = sign * (i64::from(tzv[0]) * 3600 + i64::from(tzv[1]) * 60 + i64::from(tzv[2]));
    let tz_us = sign * i64::from(tzv[3]);
    (if rv != 0 { -5 } else { 1 }, vals, offset, tz_us)
}

/// `repr(timedelta(microseconds=us))` as Python prints it.
pub fn timedelta_repr(us: i64) -> String {
    let days = us.div_euclid(86_400_000_000);
    let rest = us.rem_euclid(86_400_000_000);
    let (seconds, micros) = (rest / 1_000_000, rest % 1_000_000);
    let mut parts = Vec::new();
    if days != 0 {
        parts.push(format!("days={days}"));
    }
    if seconds != 0 {
        parts.push(format!("seconds={seconds}"));
    }
    if micros != 0 {
        parts.push(format!("microseconds={micros}"));
    }
    if parts.is_empty() { "datetime.timedelta(0)".into() } else { format!("datetime.timedelta({})", parts.join(", ")) }
}

fn is_printable(c: char) -> bool {
    let u = u32::from(c);
    if c.is_control() {
        return false;
    }
    // Separators other than the ASCII space (Zs/Zl/Zp).
    if c != ' '
        && (matches!(u, 0xA0 | 0x1680 | 0x202F | 0x205F | 0x3000 | 0x2028 | 0x2029) || (0x2000..=0x200A).contains(&u))
    {
        return false;
    }
    // Format characters (Cf), surrogates and private use (Co).
    let format = matches!(u, 0xAD | 0x61C | 0x6DD | 0x70F | 0x8E2 | 0x180E | 0xFEFF | 0x110BD | 0x110CD | 0xE0001)
        || (0x600..=0x605).contains(&u)
        || (0x890..=0x891).contains(&u)
        || (0x200B..=0x200F).contains(&u)
        || (0x202A..=0x202E).contains(&u)
        || (0x2060..=0x2064).contains(&u)
        || (0x2066..=0x206F).contains(&u)
        || (0xFFF9..=0xFFFB).contains(&u)
        || (0x13430..=0x1343F).contains(&u)
        || (0x1BCA0..=0x1BCA3).contains(&u)
        || (0x1D173..=0x1D17A).contains(&u)
        || (0xE0020..=0xE007F).contains(&u);
    let private = (0xE000..=0xF8FF).contains(&u) || u >= 0xF0000;
    let noncharacter = (0xFDD0..=0xFDEF).contains(&u) || (u & 0xFFFE) == 0xFFFE;
    !(format || private || noncharacter)
}

/// Python's `repr(str)`: single quotes unless the text has a `'` and no `"`,
/// backslash escapes for quotes, `\\`, `\t`, `\n`, `\r` and non-printables.
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let u = u32::from(c);
                if u < 0x100 {
                    out.push_str(&format!("\\x{u:02x}"));
                } else if u < 0x10000 {
                    out.push_str(&format!("\\u{u:04x}"));
                } else {
                    out.push_str(&format!("\\U{u:08x}"));
                }
            }
        }
    }
    out.push(quote);
    out
}

/// `datetime.fromisoformat(s)`; the error is the `ValueError` message.
pub fn fromisoformat(s: &str) -> Result<ParsedDateTime, String> {
    let invalid = || format!("Invalid isoformat string: {}", py_repr(s));
    if s.chars().count() < 7 {
        return Err(invalid());
    }
    let b = s.as_bytes();
    let len = b.len();
    let separator = find_separator(b);
    let date_len = separator.unwrap_or(usize::MAX);
    let (year, month, day) = parse_date(b, date_len).map_err(|_| invalid())?;
    let (mut rv, mut time, mut tz_offset, mut tz_us) = (0, [0i32; 4], 0i64, 0i64);
    if let Some(sep) = separator.filter(|&sep| len > sep) {
        let lead = at(b, sep);
        let width = if lead & 0x80 == 0 {
            1
        } else {
            match lead & 0xf0 {
                0xe0 => 3,
                0xf0 => 4,
                _ => 2,
            }
        };
        let start = sep + width;
        if start > len {
            return Err(invalid());
        }
        (rv, time, tz_offset, tz_us) = parse_time(b, start, len);
    }
    if rv < 0 {
        return Err(invalid());
    }
    let offset_us = if rv == 1 {
        if tz_offset == 0 {
            Some(0)
        } else {
            let total = tz_offset * 1_000_000 + tz_us;
            if total <= -86_400_000_000 || total >= 86_400_000_000 {
                return Err(format!(
                    "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not {}.",
                    timedelta_repr(total)
                ));
            }
            Some(total)
        }
    } else {
        None
    };
    let [hour, minute, second, microsecond] = time;
    check_date(year, month, day)?;
    check_time(hour, minute, second, microsecond)?;
    Ok(ParsedDateTime { year, month, day, hour, minute, second, microsecond, offset_us })
}

/// `check_date_args`.
pub fn check_date(year: i32, month: i32, day: i32) -> Result<(), String> {
    if !(1..=9999).contains(&year) {
        return Err(format!("year {year} is out of range"));
    }
    if !(1..=12).contains(&month) {
        return Err("month must be in 1..12".into());
    }
    if day < 1 || day > civil::days_in_month(year, month) {
        return Err("day is out of range for month".into());
    }
    Ok(())
}

/// `check_time_args`.
fn check_time(hour: i32, minute: i32, second: i32, microsecond: i32) -> Result<(), String> {
    if !(0..=23).contains(&hour) {
        return Err("hour must be in 0..23".into());
    }
    if !(0..=59).contains(&minute) {
        return Err("minute must be in 0..59".into());
    }
    if !(0..=59).contains(&second) {
        return Err("second must be in 0..59".into());
    }
    if !(0..=999_999).contains(&microsecond) {
        return Err("microsecond must be in 0..999999".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (i32, i32, i32, i32, i32, i32, i32, Option<i64>) {
        let d = fromisoformat(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, d.offset_us)
    }

    #[test]
    fn accepts_the_311_grammar() {
        assert_eq!(ok("2026-06-05"), (2026, 6, 5, 0, 0, 0, 0, None));
        assert_eq!(ok("2026-06-05T14:30"), (2026, 6, 5, 14, 30, 0, 0, None));
        assert_eq!(ok("20260605T1230"), (2026, 6, 5, 12, 30, 0, 0, None));
        assert_eq!(ok("2026-W23-5"), (2026, 6, 5, 0, 0, 0, 0, None));
        assert_eq!(ok("2026-06-05 12:30:00.123456789"), (2026, 6, 5, 12, 30, 0, 123_456, None));
        assert_eq!(ok("2026-07-15T08:30:00+02:00"), (2026, 7, 15, 8, 30, 0, 0, Some(7_200_000_000)));
        assert_eq!(ok("2026-07-15T08:30Z"), (2026, 7, 15, 8, 30, 0, 0, Some(0)));
        assert_eq!(ok("2026-07-15T08:30:00,5"), (2026, 7, 15, 8, 30, 0, 500_000, None));
        assert_eq!(ok("2026-06-05é12:00"), (2026, 6, 5, 12, 0, 0, 0, None));
    }

    #[test]
    fn messages_match_python() {
        let err = |s: &str| fromisoformat(s).unwrap_err();
        assert_eq!(err("not-a-date"), "Invalid isoformat string: 'not-a-date'");
        assert_eq!(err("2026-13-01"), "month must be in 1..12");
        assert_eq!(err("2026-02-30T00:00"), "day is out of range for month");
        assert_eq!(err("2026-06-05T24:00"), "hour must be in 0..23");
        assert_eq!(err("2026-06-05T12:30:60"), "second must be in 0..59");
        assert_eq!(err("0000-01-01"), "year 0 is out of range");
        assert_eq!(
            err("2026-06-05T00:00+24:00"),
            "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not datetime.timedelta(days=1)."
        );
        assert_eq!(err("it's"), "Invalid isoformat string: \"it's\"");
        assert_eq!(err("a\tb\u{7f}c\u{200b}d"), "Invalid isoformat string: 'a\\tb\\x7fc\\u200bd'");
    }

    #[test]
    fn timedelta_reprs() {
        assert_eq!(timedelta_repr(0), "datetime.timedelta(0)");
        assert_eq!(timedelta_repr(-86_400_000_000), "datetime.timedelta(days=-1)");
        assert_eq!(timedelta_repr(-90_000_000_001), "datetime.timedelta(days=-2, seconds=82799, microseconds=999999)");
    }
}
