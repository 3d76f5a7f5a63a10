//! The `GrainusMod.cfg` listing grammar (formats.md §8.2): an exact emulation of the
//! original's unanchored `finditer` scan, UUID validation, de-duplication, the
//! stack/price limits, `price_each` rounding and the UUID v1 `created_at` decoding.

use std::collections::HashSet;

use serde::Serialize;

/// Prices above this are treated as typos and dropped (exactly this value is kept).
pub const MAX_REASONABLE_PRICE: i64 = 50_000_000;

/// Seconds from 1582-10-15T00:00Z (the UUID epoch) to 1970-01-01T00:00Z.
const UUID_EPOCH_OFFSET_SECS: i64 = 12_219_292_800;

/// One parsed listing, as the original's `parse_dump` yields it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listing {
    /// Canonical lowercase 8-4-4-4-12 UUID.
    pub id: String,
    /// Item name, Python-`strip()`ped (may be empty).
    pub name: String,
    /// Free-form type, `None` when empty after stripping.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Stack size, 1..=9999.
    pub stack: i64,
    /// Total price of the stack, 1..=50 000 000.
    pub price: i64,
    /// `round(price / stack, 3)` with Python's rounding.
    pub price_each: f64,
    /// Unix seconds decoded from the UUID timestamp bits.
    pub created_at: i64,
}

/// First code point of every Unicode `Nd` block (each is ten consecutive digits 0..9).
/// Unicode 15 (Python 3.12's `\d`), which is what the original's regex and `int()` accept.
const ND_BLOCK_STARTS: &[u32] = &[
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6, 0xE50, 0xED0,
    0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620,
    0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0,
    0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x11F50,
    0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E950,
    0x1FBF0,
];

/// The decimal value of a Unicode decimal digit (`Nd`), like Python's `\d` + `int()`.
pub fn decimal_value(c: char) -> Option<u32> {
    let cp = u32::from(c);
    if c.is_ascii_digit() {
        return Some(cp - 0x30);
    }
    if cp < 0x660 {
        return None;
    }
    let idx = ND_BLOCK_STARTS.partition_point(|&s| s <= cp);
    let start = *ND_BLOCK_STARTS.get(idx.checked_sub(1)?)?;
    let v = cp - start;
    (v < 10).then_some(v)
}

/// Python's `str.isspace()`: Unicode `White_Space` plus the four C0 separators 0x1C..0x1F.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` with no argument.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Python's `round(x, 3)`: correctly rounded from the exact binary value (ties to even).
pub fn round3(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    // Rust's fixed-precision formatting is exact and rounds ties to even, like CPython's
    // `round()`, and parsing the decimal back gives the nearest double, as Python does.
    format!("{x:.3}").parse::<f64>().unwrap_or(x)
}

fn is_uuid_class(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b'-'
}

/// Validates a 36-char `[0-9a-fA-F-]` candidate like Python's `UUID(text)`: the dashes are
/// removed and exactly 32 hex digits must remain. Returns the 16 bytes.
pub fn parse_uuid(candidate: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let mut n = 0usize;
    for b in candidate.bytes() {
        if b == b'-' {
            continue;
        }
        let v = u8::try_from(char::from(b).to_digit(16)?).ok()?;
        let slot = out.get_mut(n / 2)?;
        *slot = if n.is_multiple_of(2) { v << 4 } else { *slot | v };
        n += 1;
    }
    (n == 32).then_some(out)
}

/// The canonical lowercase hyphenated form.
pub fn format_uuid(b: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(char::from(HEX[usize::from(byte >> 4)]));
        s.push(char::from(HEX[usize::from(byte & 0x0F)]));
    }
    s
}

/// Rounds `num / den` (exact rational, `den > 0`) to the nearest integer, ties to even.
fn div_round_half_even(num: u128, den: u128) -> u128 {
    let q = num / den;
    let r = num % den;
    let twice = r.saturating_mul(2);
    if twice > den || (twice == den && q % 2 == 1) { q + 1 } else { q }
}

/// Microseconds since the UUID epoch the way Python gets them from
/// `timedelta(microseconds = t / 10)`: `t / 10` correctly rounded to a double, then
/// rounded half-to-even to a whole microsecond.
fn python_micros(t: u64) -> u128 {
    let t = u128::from(t);
    if t < 10 {
        // 0.1 .. 0.9: only > 0.5 rounds up (0.5 is a tie, to even 0).
        return u128::from(t * 2 > 10);
    }
    let int_part = t / 10;
    let bits = 128 - int_part.leading_zeros(); // >= 1
    if bits >= 53 {
        // The double's spacing is 2^(bits-53) >= 1: round t/10 to a multiple of it.
        let shift = bits - 53;
        let unit = 10u128 << shift;
        div_round_half_even(t, unit) << shift
    } else {
        // Spacing 2^-f: the double is m / 2^f, then round that to an integer, ties to even.
        let f = 53 - bits;
        let m = div_round_half_even(t << f, 10);
        div_round_half_even(m, 1u128 << f)
    }
}

/// `created_at` (unix seconds) decoded from the UUID's 60-bit timestamp (§8.2.1). The
/// version nibble is masked off, so any UUID version "works".
pub fn created_at_from_uuid(b: &[u8; 16]) -> i64 {
    let time_low = u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let time_mid = u64::from(u16::from_be_bytes([b[4], b[5]]));
    let time_hi = u64::from(u16::from_be_bytes([b[6], b[7]]) & 0x0FFF);
    let t = (time_hi << 48) | (time_mid << 32) | time_low;
    let micros = python_micros(t);
    // t < 2^60, so micros / 10^6 < 2^37: always fits.
    let secs = i64::try_from(micros / 1_000_000).unwrap_or(i64::MAX);
    secs - UUID_EPOCH_OFFSET_SECS
}

/// Reads up to `max` Unicode decimal digits starting at byte `pos`; returns the value
/// and the byte position after the last digit (`count == 0` when there are none).
fn read_digits(text: &str, pos: usize, max: usize) -> (u64, usize, usize) {
    let mut value: u64 = 0;
    let mut end = pos;
    let mut count = 0;
    if let Some(rest) = text.get(pos..) {
        for c in rest.chars() {
            if count == max {
                break;
            }
            let Some(d) = decimal_value(c) else { break };
            // At most 9 digits: cannot overflow u64.
            value = value * 10 + u64::from(d);
            end += c.len_utf8();
            count += 1;
        }
    }
    (value, end, count)
}

/// Scans a `[^;\r\n]` run starting at byte `pos`; returns its end (the byte position of
/// the terminator or of the end of text).
fn field_end(bytes: &[u8], pos: usize) -> usize {
    let mut i = pos;
    while let Some(&b) = bytes.get(i) {
        if b == b';' || b == b'\r' || b == b'\n' {
            break;
        }
        i += 1;
    }
    i
}

/// A raw regex match: the five captured fields and where the match ends.
struct RawMatch<'a> {
    uuid: &'a str,
    name: &'a str,
    kind: &'a str,
    stack: u64,
    price: u64,
    end: usize,
}

/// Tries `uuid36 ";" name ";" type ";" \d{1,4} ";" \d{1,9}` at byte `start`, where
/// `start + 36` is known to be a `;` preceded by 36 class bytes.
fn match_at(text: &str, start: usize) -> Option<RawMatch<'_>> {
    let bytes = text.as_bytes();
    let uuid = text.get(start..start + 36)?;
    let name_start = start + 37;
    let name_end = field_end(bytes, name_start);
    if name_end == name_start || bytes.get(name_end) != Some(&b';') {
        return None;
    }
    let kind_start = name_end + 1;
    let kind_end = field_end(bytes, kind_start);
    if bytes.get(kind_end) != Some(&b';') {
        return None;
    }
    let (stack, stack_end, n) = read_digits(text, kind_end + 1, 4);
    if n == 0 || bytes.get(stack_end) != Some(&b';') {
        return None;
    }
    let (price, end, n) = read_digits(text, stack_end + 1, 9);
    if n == 0 {
        return None;
    }
    Some(RawMatch {
        uuid,
        name: text.get(name_start..name_end)?,
        kind: text.get(kind_start..kind_end)?,
        stack,
        price,
        end,
    })
}

/// Parses a whole dump: every listing the original's `parse_dump` returns, in match order.
pub fn parse_dump(text: &str) -> Vec<Listing> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut seen: HashSet<[u8; 16]> = HashSet::new();
    // A match can only start 36 bytes before a ';' that ends a run of >= 36 class bytes;
    // the candidates in text order are exactly the regex's left-to-right attempts.
    let mut run = 0usize;
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        if b == b';'
            && run >= 36
            && let Some(m) = match_at(text, i - 36)
        {
            if let Some(listing) = accept(&m, &mut seen) {
                out.push(listing);
            }
            // Non-overlapping: the scan resumes after the match.
            i = m.end;
            run = 0;
            continue;
        }
        run = if is_uuid_class(b) { run + 1 } else { 0 };
        i += 1;
    }
    out
}

/// Applies the per-match rules (UUID, de-duplication, stack/price limits) to a raw match.
fn accept(m: &RawMatch<'_>, seen: &mut HashSet<[u8; 16]>) -> Option<Listing> {
    let uuid = parse_uuid(m.uuid)?;
    if seen.contains(&uuid) {
        return None;
    }
    let stack = i64::try_from(m.stack).ok()?;
    let price = i64::try_from(m.price).ok()?;
    if stack <= 0 || price <= 0 || price > MAX_REASONABLE_PRICE {
        return None;
    }
    seen.insert(uuid);
    let kind = py_strip(m.kind);
    Some(Listing {
        id: format_uuid(&uuid),
        name: py_strip(m.name).to_owned(),
        kind: (!kind.is_empty()).then(|| kind.to_owned()),
        stack,
        price,
        // Both operands are exact in f64 (< 2^53), so this is Python's true division.
        price_each: round3(price as f64 / stack as f64),
        created_at: created_at_from_uuid(&uuid),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_python() {
        assert_eq!(round3(10000.0 / 7.0), 1428.571);
        assert_eq!(round3(80000.0 / 3.0), 26666.667);
        // Exact binary ties round to even, like CPython.
        assert_eq!(round3(0.0625), 0.062);
        assert_eq!(round3(0.1875), 0.188);
        // 2.675 is really 2.67499999... in binary.
        assert_eq!(round3(1.0005), 1.0);
    }

    #[test]
    fn unicode_digits() {
        assert_eq!(decimal_value('7'), Some(7));
        assert_eq!(decimal_value('\u{FF11}'), Some(1));
        assert_eq!(decimal_value('\u{0663}'), Some(3));
        assert_eq!(decimal_value('\u{1D7D9}'), Some(1));
        assert_eq!(decimal_value('\u{00B2}'), None); // superscript two is No, not Nd
        assert_eq!(decimal_value('a'), None);
        let rows = parse_dump("00000000-0000-1000-8000-000000000001;X;;\u{FF12};\u{0661}\u{0660}\u{0660},");
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].stack, rows[0].price), (2, 100));
    }

    #[test]
    fn uuid_rules() {
        assert!(parse_uuid("------------------------------------").is_none());
        assert!(parse_uuid("0123456789abcdef0123456789abcdef----").is_some());
        let b = parse_uuid("16679687-49D5-11F0-AA51-5E1F00000B17").unwrap();
        assert_eq!(format_uuid(&b), "16679687-49d5-11f0-aa51-5e1f00000b17");
    }

    #[test]
    fn created_at_edges() {
        assert_eq!(created_at_from_uuid(&[0; 16]), -12_219_292_800);
        let b = parse_uuid("c4b5f676-4784-11f0-aa51-5e1f00000b25").unwrap();
        assert_eq!(created_at_from_uuid(&b), 1_749_729_601);
        let b = parse_uuid("c41d5fec-4784-11f0-aa51-5e1f00000b26").unwrap();
        assert_eq!(created_at_from_uuid(&b), 1_749_729_599);
        let b = parse_uuid("3f2b8c1e-9d4a-4f6b-8e2a-7c5d1b9e0f3a").unwrap();
        assert_eq!(created_at_from_uuid(&b), 98_896_174_728);
    }

    #[test]
    fn grammar_edges() {
        // 5-digit stack: no match at all; the next line still parses.
        let t = "aaaaaaaa-0000-1000-8000-000000000001;A;;12345;1,\n\
                 aaaaaaaa-0000-1000-8000-000000000002;B;;1;0000123456,";
        let rows = parse_dump(t);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].name.as_str(), rows[0].price), ("B", 12_345));
        // Skipped matches do not mark their UUID as seen.
        let t = "aaaaaaaa-0000-1000-8000-000000000001;A;;1;0,\
                 aaaaaaaa-0000-1000-8000-000000000001;A;;1;5,\
                 aaaaaaaa-0000-1000-8000-000000000001;A;;1;6,";
        let rows = parse_dump(t);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].price, 5);
        // A name cannot span lines; an empty name cannot match; empty type is None.
        assert!(parse_dump("aaaaaaaa-0000-1000-8000-000000000001;A\n;;1;5").is_empty());
        assert!(parse_dump("aaaaaaaa-0000-1000-8000-000000000001;;x;1;5").is_empty());
        let rows = parse_dump("aaaaaaaa-0000-1000-8000-000000000001;   ;  ;1;5");
        assert_eq!(rows[0].name, "");
        assert_eq!(rows[0].kind, None);
        // Longer hex runs: only the last 36 chars before ';' can be the UUID.
        let rows = parse_dump("ffaaaaaaaa-0000-1000-8000-000000000001;A;;1;5");
        assert_eq!(rows[0].id, "aaaaaaaa-0000-1000-8000-000000000001");
        assert!(parse_dump("").is_empty());
        assert!(parse_dump(";;;;").is_empty());
    }
}
