//! The mod-category bitmask (spec §6): the 19 append-only categories, tags →
//! flags for the builder, and flags → names for the reader (including Python
//! `int()`'s string grammar, which the reader applies to the `flags` property).

use serde::Serialize;

/// Category names in bit order: index `i` owns bit `1 << i`. Append-only.
pub const CATEGORY_NAMES: [&str; 19] = [
    "Allies",
    "Banners",
    "Boats and Sails",
    "Cosmetics",
    "Costumes",
    "Dragons",
    "Fishing",
    "GUI",
    "Helmets",
    "Language",
    "Mag Riders",
    "Mounts",
    "NPCs",
    "Wings",
    "Automation",
    "Optimization",
    "Reskin",
    "Waypoint",
    "Radar",
];

/// `(1 << 19) - 1`.
pub const ALL_CATEGORIES_MASK: u32 = (1 << CATEGORY_NAMES.len()) - 1;

/// One entry of `GET /v1/mods/categories`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Category {
    pub name: &'static str,
    pub bit: u32,
}

/// `[{name, bit}]` in bit order.
pub fn categories() -> Vec<Category> {
    CATEGORY_NAMES.iter().enumerate().map(|(i, name)| Category { name, bit: 1 << i }).collect()
}

/// Python `str.isspace()` (Unicode White_Space plus the ASCII separators 0x1C–0x1F).
pub fn py_is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python `str.strip()` with no argument.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_is_space)
}

/// Is `tag` (after strip, case-insensitively) a category? Returns its bit.
pub fn category_bit(tag: &str) -> Option<u32> {
    let norm = py_strip(tag).to_lowercase();
    CATEGORY_NAMES.iter().position(|n| n.to_ascii_lowercase() == norm).map(|i| 1 << i)
}

/// OR of the bits of every recognised tag; unknown tags are ignored.
pub fn flags_from_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> u32 {
    tags.into_iter().filter_map(category_bit).fold(0, |acc, b| acc | b)
}

/// The canonical names of the bits set in `flags` (masked to 19 bits), in bit order.
pub fn tags_from_flags(flags: i64) -> Vec<&'static str> {
    let mask = (flags as u64 & u64::from(ALL_CATEGORIES_MASK)) as u32;
    CATEGORY_NAMES.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, n)| *n).collect()
}

/// First code points of the Unicode 14 `Nd` runs (each run is the digits 0–9),
/// the characters Python's `int()` accepts as decimal digits.
const ND_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6, 0xE50, 0xED0,
    0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620,
    0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0,
    0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60,
    0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

fn decimal_value(c: char) -> Option<u32> {
    let cp = c as u32;
    if c.is_ascii_digit() {
        return Some(cp - 0x30);
    }
    let i = ND_ZEROS.partition_point(|&z| z <= cp);
    let zero = ND_ZEROS.get(i.checked_sub(1)?)?;
    let d = cp - zero;
    (d < 10).then_some(d)
}

/// Python 3.11's `int()` digit limit for string conversion.
const PY_MAX_STR_DIGITS: usize = 4300;

/// A Python `int(s)` result: the exact value when it fits in `i64`, and always
/// the value modulo 2^64 (enough for any bitmask).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PyInt {
    pub exact: Option<i64>,
    pub wrapped: i64,
}

/// Python `int(s)` (base 10) for a `str`: surrounding whitespace, an optional
/// sign, Unicode decimal digits with single `_` between digits. `None` where
/// Python raises `ValueError`.
pub fn py_int(s: &str) -> Option<PyInt> {
    let t = py_strip(s);
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut wrapped: u64 = 0;
    let mut exact: Option<i128> = Some(0);
    let mut digits = 0usize;
    let mut prev_underscore = true; // a leading `_` is invalid
    for c in body.chars() {
        if c == '_' {
            if prev_underscore {
                return None;
            }
            prev_underscore = true;
            continue;
        }
        let d = decimal_value(c)?;
        prev_underscore = false;
        digits += 1;
        wrapped = wrapped.wrapping_mul(10).wrapping_add(u64::from(d));
        exact = exact
            .and_then(|v| v.checked_mul(10))
            .and_then(|v| v.checked_add(i128::from(d)))
            .filter(|v| *v <= i128::from(i64::MAX) + 1);
    }
    if digits == 0 || prev_underscore || digits > PY_MAX_STR_DIGITS {
        return None;
    }
    let (exact, wrapped) = if neg { (exact.map(|v| -v), wrapped.wrapping_neg()) } else { (exact, wrapped) };
    Some(PyInt { exact: exact.and_then(|v| i64::try_from(v).ok()), wrapped: wrapped as i64 })
}

/// The reader's `flags`: `int(properties.get("flags", 0) or 0)`, 0 when `int()` fails.
pub fn flags_of(value: Option<&str>) -> PyInt {
    let zero = PyInt { exact: Some(0), wrapped: 0 };
    match value {
        None | Some("") => zero,
        Some(s) => py_int(s).unwrap_or(zero),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_flags() {
        assert_eq!(flags_from_tags("Dragons, Mounts, Unknown Tag, gui".split(',')), 2208);
        assert_eq!(tags_from_flags(2208), ["Dragons", "GUI", "Mounts"]);
        assert_eq!(tags_from_flags(-1).len(), 19);
        assert_eq!(ALL_CATEGORIES_MASK, 524287);
        assert_eq!(categories()[18].bit, 262144);
    }

    #[test]
    fn python_int() {
        let v = |s: &str| py_int(s).map(|p| (p.exact, p.wrapped));
        assert_eq!(v(" 1_000 "), Some((Some(1000), 1000)));
        assert_eq!(v("-1"), Some((Some(-1), -1)));
        assert_eq!(v("+7"), Some((Some(7), 7)));
        assert_eq!(v("\u{ff11}\u{ff12}"), Some((Some(12), 12)));
        assert_eq!(v("007"), Some((Some(7), 7)));
        for bad in ["", "_1", "1_", "1__0", "0x10", "+ 1", "1.0", "--1", "-"] {
            assert_eq!(v(bad), None, "{bad:?}");
        }
        let big = "1".repeat(40);
        let p = py_int(&big).unwrap();
        assert_eq!(p.exact, None);
        assert!(py_int(&"1".repeat(4301)).is_none());
        assert!(py_int(&"1".repeat(4300)).is_some());
        assert_eq!(flags_of(Some("abc")).exact, Some(0));
        assert_eq!(v("-9223372036854775808"), Some((Some(i64::MIN), i64::MIN)));
    }
}
