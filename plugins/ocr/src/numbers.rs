//! Number tokens and their parsing, with Python `re`/`str`/`float` semantics.
//!
//! Owns: the token scanner equivalent to the regex
//! `\d[\d.,]*\d\s*%?|\d\s*%?` (Unicode `\d` = category Nd, Unicode `\s` =
//! `str.isspace`), `_parse_number` (thousands separators, decimal comma,
//! percent, the NBSP quirk) and a port of Python's `float(str)`.

/// First code point (digit zero) of every run of ten Unicode `Nd` characters
/// (Unicode 14.0, as in CPython 3.11 which produced the reference vectors).
const ND_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66, 0xde6, 0xe50, 0xed0,
    0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620,
    0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10, 0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0,
    0x112f0, 0x11450, 0x114d0, 0x11650, 0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60,
    0x16ac0, 0x16b50, 0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

/// The decimal value of a Unicode decimal digit (`unicodedata.decimal`), if `c` is one.
pub fn decimal_value(c: char) -> Option<u32> {
    let cp = c as u32;
    let idx = ND_ZEROS.partition_point(|&z| z <= cp);
    let zero = *ND_ZEROS.get(idx.checked_sub(1)?)?;
    let d = cp - zero;
    (d < 10).then_some(d)
}

/// Python `\d` (Unicode) / `str.isdecimal()` for one character.
pub fn is_decimal(c: char) -> bool {
    decimal_value(c).is_some()
}

/// Python `str.isspace()` / `\s` for one character.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python `str.strip()` with no argument.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// One regex match: byte offsets into the scanned text and the matched text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token<'a> {
    pub start: usize,
    pub end: usize,
    pub text: &'a str,
}

/// Tries the pattern `\d[\d.,]*\d\s*%?|\d\s*%?` anchored at byte `pos`;
/// returns the end of the match.
fn match_at(s: &str, pos: usize) -> Option<usize> {
    let rest = s.get(pos..)?;
    let mut it = rest.char_indices();
    let (_, first) = it.next()?;
    if !is_decimal(first) {
        return None;
    }
    let after_first = pos + first.len_utf8();
    // Alternative 1: the greedy `[\d.,]*` run, backtracked to its last digit.
    let mut last_digit_end = None;
    for (off, c) in s.get(after_first..)?.char_indices() {
        if is_decimal(c) {
            last_digit_end = Some(after_first + off + c.len_utf8());
        } else if c != '.' && c != ',' {
            break;
        }
    }
    let mut end = last_digit_end.unwrap_or(after_first);
    // `\s*%?` (always succeeds; greedy whitespace is kept even without `%`).
    for (off, c) in s.get(end..)?.char_indices() {
        if !is_py_space(c) {
            end += off;
            return Some(if c == '%' { end + 1 } else { end });
        }
    }
    Some(s.len())
}

/// All non-overlapping matches, left to right (Python `re.finditer`).
pub fn tokens(s: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < s.len() {
        match match_at(s, pos) {
            Some(end) => {
                out.push(Token { start: pos, end, text: s.get(pos..end).unwrap_or("") });
                pos = end;
            }
            None => {
                pos += s.get(pos..).and_then(|r| r.chars().next()).map_or(1, char::len_utf8);
            }
        }
    }
    out
}

/// Python `float(text)` for a `str`: surrounding Unicode whitespace is ignored,
/// Unicode decimal digits count as ASCII digits, `_` is allowed between digits,
/// `inf`/`nan` spellings are accepted. `None` stands for `ValueError`.
pub fn py_float(text: &str) -> Option<f64> {
    // `_PyUnicode_TransformDecimalAndSpaceToASCII`.
    let mut ascii = String::with_capacity(text.len());
    for c in text.chars() {
        if is_py_space(c) {
            ascii.push(' ');
        } else if let Some(d) = decimal_value(c) {
            ascii.push(char::from_digit(d, 10)?);
        } else if c.is_ascii() {
            ascii.push(c);
        } else {
            return None;
        }
    }
    let t = ascii.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{0b}');
    if t.is_empty() {
        return None;
    }
    // Underscores: only single ones, each between two digits.
    let cleaned: String = if t.contains('_') {
        let b = t.as_bytes();
        for (i, &ch) in b.iter().enumerate() {
            if ch == b'_' {
                let before = i.checked_sub(1).and_then(|p| b.get(p));
                let after = b.get(i + 1);
                if !matches!(before, Some(x) if x.is_ascii_digit()) || !matches!(after, Some(x) if x.is_ascii_digit()) {
                    return None;
                }
            }
        }
        t.replace('_', "")
    } else {
        t.to_owned()
    };
    // Python's grammar: [sign] (digits[.digits] | .digits) [e[sign]digits] | inf | infinity | nan.
    let body = cleaned.strip_prefix(['+', '-']).unwrap_or(&cleaned);
    let lower = body.to_ascii_lowercase();
    let special = matches!(lower.as_str(), "inf" | "infinity" | "nan");
    if !special {
        let valid = {
            let bytes = lower.as_bytes();
            let mut i = 0;
            let mut mantissa_digits = 0;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
                mantissa_digits += 1;
            }
            if i < bytes.len() && bytes[i] == b'.' {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                    mantissa_digits += 1;
                }
            }
            let mut ok = mantissa_digits > 0;
            if ok && i < bytes.len() && bytes[i] == b'e' {
                i += 1;
                if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
                    i += 1;
                }
                let exp_start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                ok = i > exp_start;
            }
            ok && i == bytes.len()
        };
        if !valid {
            return None;
        }
    }
    cleaned.parse::<f64>().ok()
}

/// A parsed number token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number {
    pub value: f64,
    pub is_percent: bool,
}

/// `_parse_number(token)`: strip, drop inner ASCII spaces, one trailing `%`,
/// then a last separator followed by 1–2 digits is the decimal point and every
/// other `.`/`,` is a thousands separator.
pub fn parse_number(token: &str) -> Option<Number> {
    let mut t: String = py_strip(token).chars().filter(|&c| c != ' ').collect();
    let is_percent = t.ends_with('%');
    if is_percent {
        t.pop();
    }
    if t.is_empty() {
        return None;
    }
    let candidate = match t.rfind(['.', ',']) {
        Some(last) => {
            let frac = t.get(last + 1..).unwrap_or("");
            let frac_len = frac.chars().count();
            if (1..=2).contains(&frac_len) && frac.chars().all(is_decimal) {
                let int_part: String = t.get(..last).unwrap_or("").chars().filter(|&c| c != '.' && c != ',').collect();
                format!("{int_part}.{frac}")
            } else {
                t.chars().filter(|&c| c != '.' && c != ',').collect()
            }
        }
        None => t,
    };
    py_float(&candidate).map(|value| Number { value, is_percent })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_and_spaces() {
        assert_eq!(decimal_value('7'), Some(7));
        assert_eq!(decimal_value('٣'), Some(3));
        assert_eq!(decimal_value('７'), Some(7));
        assert_eq!(decimal_value('a'), None);
        assert_eq!(decimal_value('²'), None);
        assert!(is_py_space('\u{a0}'));
        assert!(is_py_space('\u{1f}'));
        assert!(!is_py_space('\u{200b}'));
    }

    #[test]
    fn python_float() {
        assert_eq!(py_float(" 12 "), Some(12.0));
        assert_eq!(py_float("1_000"), Some(1000.0));
        assert_eq!(py_float("1__0"), None);
        assert_eq!(py_float("_1"), None);
        assert_eq!(py_float("1e5"), Some(100000.0));
        assert_eq!(py_float("1e"), None);
        assert_eq!(py_float(".5"), Some(0.5));
        assert_eq!(py_float("5."), Some(5.0));
        assert_eq!(py_float("."), None);
        assert_eq!(py_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(py_float("nan").is_some_and(f64::is_nan));
        assert_eq!(py_float("abc"), None);
        assert_eq!(py_float("12\u{a0}"), Some(12.0));
        assert_eq!(py_float("0x10"), None);
    }
}
