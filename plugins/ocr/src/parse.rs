//! The character-sheet parser (`parse.extract_character_stats` of the
//! original): per-line label/number elements, same-line pairing, the
//! cross-line pass, the confidence formula, duplicate resolution and the
//! Coefficient reconciliation against the game formula.
//!
//! The parser sees only the OCR'd text lines, never boxes or scores.

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};

use crate::numbers::{self, Number};
use crate::pymath::{int_text, round_half_even, round_to};
use crate::vocab::{Vocabulary, vocabulary};

/// Lines above/below a label searched for an orphan number.
pub const CROSS_LINE_WINDOW: usize = 4;
/// Confidence factor of a cross-line claim.
pub const CROSS_LINE_PENALTY: f64 = 0.85;
/// Confidence factor of an out-of-range value.
pub const OUT_OF_RANGE_FACTOR: f64 = 0.4;
/// Confidence factor of a type-mismatched value.
pub const TYPE_MISMATCH_FACTOR: f64 = 0.6;
/// Upper bound of a derived coefficient's `in_range`.
pub const COEFFICIENT_MAX: f64 = 1e11;
/// Confidence of a value recovered by re-reading its row.
pub const RECOVERED_CONFIDENCE: f64 = 0.7;

/// A stat value as the API shows it: a JSON integer for `int` stats, a float
/// for `percent` stats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StatValue {
    /// `int(round(x))`, kept as an integral `f64` (exact for any finite value).
    Int(f64),
    /// The parsed float, never rounded.
    Float(f64),
}

impl StatValue {
    /// The numeric value.
    pub fn as_f64(self) -> f64 {
        match self {
            StatValue::Int(v) | StatValue::Float(v) => v,
        }
    }
}

impl Serialize for StatValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            StatValue::Float(v) => s.serialize_f64(v),
            StatValue::Int(v) if v.abs() < 9.0e18 => s.serialize_i64(v as i64),
            StatValue::Int(v) => {
                // Python ints are unbounded: write the exact digits as a raw number.
                let raw = serde_json::value::RawValue::from_string(int_text(v)).map_err(serde::ser::Error::custom)?;
                raw.serialize(s)
            }
        }
    }
}

/// `OcrStatValue`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatRead {
    pub value: StatValue,
    /// `"percent"` or `"count"` (from the stat's type, never the token's).
    pub unit: &'static str,
    pub raw: String,
    pub confidence: f64,
    pub in_range: bool,
    pub type_match: bool,
    pub derived: bool,
}

impl Serialize for StatRead {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("OcrStatValue", 7)?;
        st.serialize_field("value", &self.value)?;
        st.serialize_field("unit", self.unit)?;
        st.serialize_field("raw", &self.raw)?;
        st.serialize_field("confidence", &self.confidence)?;
        st.serialize_field("in_range", &self.in_range)?;
        st.serialize_field("type_match", &self.type_match)?;
        st.serialize_field("derived", &self.derived)?;
        st.end()
    }
}

/// The stats found, in Python dict insertion order (a replacement keeps the
/// original position).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    entries: Vec<(String, StatRead)>,
}

impl Stats {
    /// A stat by key.
    pub fn get(&self, key: &str) -> Option<&StatRead> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    fn get_mut(&mut self, key: &str) -> Option<&mut StatRead> {
        self.entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    /// True when `key` was found.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    /// Number of stats found.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// `(key, read)` pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &StatRead)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }
    /// Plain assignment `stats[key] = read` (replaces in place or appends).
    pub fn set(&mut self, key: &str, read: StatRead) {
        match self.get_mut(key) {
            Some(slot) => *slot = read,
            None => self.entries.push((key.to_owned(), read)),
        }
    }
    /// `_insert`: a new key is appended; an existing one is replaced only by a
    /// strictly greater (rounded) confidence.
    fn insert(&mut self, key: &str, read: StatRead) {
        match self.get_mut(key) {
            Some(slot) => {
                if read.confidence > slot.confidence {
                    *slot = read;
                }
            }
            None => self.entries.push((key.to_owned(), read)),
        }
    }
    /// True when every value can be written as JSON (Python would fail with a
    /// 500 on an infinite float).
    pub fn all_finite(&self) -> bool {
        self.entries.iter().all(|(_, r)| r.value.as_f64().is_finite() && r.confidence.is_finite())
    }
}

impl Serialize for Stats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// `extract_character_stats` output (`CharacterStatsOcr` without `lines`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Extraction {
    pub stats: Stats,
    pub matched: usize,
    pub total_known: usize,
}

/// A failure the original raises as an exception (→ HTTP 500): converting an
/// infinite float to an int (`OverflowError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cannot convert float infinity to integer")
    }
}

impl std::error::Error for Overflow {}

/// Python `int(round(x))` for an int stat.
fn to_int(x: f64) -> Result<f64, Overflow> {
    if x.is_finite() { Ok(round_half_even(x)) } else { Err(Overflow) }
}

/// Builds a stat's value representation from a parsed float.
pub fn stat_value(vocab: &Vocabulary, stat: usize, value: f64) -> Result<StatValue, Overflow> {
    match vocab.stat(stat) {
        Some(def) if def.is_percent() => Ok(StatValue::Float(value)),
        _ => to_int(value).map(StatValue::Int),
    }
}

/// `_record`: the read of `stat` from a number with base confidence `base`.
pub fn record(vocab: &Vocabulary, stat: usize, number: Number, raw: &str, base: f64) -> Result<StatRead, Overflow> {
    let (is_percent, min, max) = vocab.stat(stat).map_or((false, 0.0, 1e12), |d| (d.is_percent(), d.min, d.max));
    let type_match = number.is_percent == is_percent;
    let in_range = min <= number.value && number.value <= max;
    let mut conf = base;
    if !in_range {
        conf *= OUT_OF_RANGE_FACTOR;
    }
    if !type_match {
        conf *= TYPE_MISMATCH_FACTOR;
    }
    Ok(StatRead {
        value: stat_value(vocab, stat, number.value)?,
        unit: if is_percent { "percent" } else { "count" },
        raw: raw.to_owned(),
        confidence: round_to(conf, 3),
        in_range,
        type_match,
        derived: false,
    })
}

/// One element of a line: a label or a number, at a byte offset.
#[derive(Debug, Clone, PartialEq)]
enum Element {
    Label { stat: usize, score: f64 },
    Number { number: Number, raw: String },
}

/// `_line_elements`: labels and numbers of one line, in text order.
fn line_elements(vocab: &Vocabulary, line: &str) -> Vec<Element> {
    let mut out = Vec::new();
    let mut last = 0usize;
    for tok in numbers::tokens(line) {
        let Some(number) = numbers::parse_number(tok.text) else {
            continue;
        };
        let chunk = line.get(last..tok.start).unwrap_or("");
        if !numbers::py_strip(chunk).is_empty()
            && let Some(m) = vocab.match_label(chunk)
        {
            out.push(Element::Label { stat: m.stat, score: m.score });
        }
        out.push(Element::Number { number, raw: numbers::py_strip(tok.text).to_owned() });
        last = tok.end;
    }
    let tail = line.get(last..).unwrap_or("");
    if !numbers::py_strip(tail).is_empty()
        && let Some(m) = vocab.match_label(tail)
    {
        out.push(Element::Label { stat: m.stat, score: m.score });
    }
    out
}

struct Orphan {
    line: usize,
    number: Number,
    raw: String,
    used: bool,
}

struct Unpaired {
    line: usize,
    stat: usize,
    score: f64,
}

/// `extract_character_stats(lines)` with the embedded vocabulary.
pub fn extract_character_stats<S: AsRef<str>>(lines: &[S]) -> Result<Extraction, Overflow> {
    extract_with(vocabulary(), lines)
}

/// `extract_character_stats(lines)` with an explicit vocabulary.
pub fn extract_with<S: AsRef<str>>(vocab: &Vocabulary, lines: &[S]) -> Result<Extraction, Overflow> {
    let mut stats = Stats::default();
    let mut unpaired: Vec<Unpaired> = Vec::new();
    let mut orphans: Vec<Orphan> = Vec::new();

    for (li, line) in lines.iter().enumerate() {
        let elements = line_elements(vocab, line.as_ref());
        let mut consumed = vec![false; elements.len()];
        for (i, el) in elements.iter().enumerate() {
            let Element::Label { stat, score } = *el else {
                continue;
            };
            let want_percent = vocab.stat(stat).is_some_and(|d| d.is_percent());
            // Candidates in order [i-1, i+1]; `max` keeps the first maximum.
            let mut best: Option<(usize, bool)> = None;
            for j in [i.checked_sub(1), i.checked_add(1)].into_iter().flatten() {
                let Some(Element::Number { number, .. }) = elements.get(j) else {
                    continue;
                };
                if consumed.get(j).copied().unwrap_or(true) {
                    continue;
                }
                let type_ok = number.is_percent == want_percent;
                if best.is_none_or(|(_, b_ok)| type_ok && !b_ok) {
                    best = Some((j, type_ok));
                }
            }
            match best {
                None => unpaired.push(Unpaired { line: li, stat, score }),
                Some((j, _)) => {
                    if let (Some(Element::Number { number, raw }), Some(slot)) = (elements.get(j), consumed.get_mut(j))
                    {
                        *slot = true;
                        let rec = record(vocab, stat, *number, raw, score)?;
                        stats.insert(key_of(vocab, stat), rec);
                    }
                }
            }
        }
        for (j, el) in elements.iter().enumerate() {
            if let Element::Number { number, raw } = el
                && !consumed.get(j).copied().unwrap_or(true)
            {
                orphans.push(Orphan { line: li, number: *number, raw: raw.clone(), used: false });
            }
        }
    }

    // Cross-line pass: strict type match, nearest line, first in list order on ties.
    for label in &unpaired {
        let key = key_of(vocab, label.stat);
        if stats.contains(key) {
            continue;
        }
        let want_percent = vocab.stat(label.stat).is_some_and(|d| d.is_percent());
        let mut best: Option<(usize, usize)> = None;
        for (oi, o) in orphans.iter().enumerate() {
            if o.used || o.number.is_percent != want_percent {
                continue;
            }
            let dist = o.line.abs_diff(label.line);
            if dist > CROSS_LINE_WINDOW {
                continue;
            }
            if best.is_none_or(|(_, d)| dist < d) {
                best = Some((oi, dist));
            }
        }
        if let Some((oi, _)) = best
            && let Some(o) = orphans.get_mut(oi)
        {
            o.used = true;
            let rec = record(vocab, label.stat, o.number, &o.raw, label.score * CROSS_LINE_PENALTY)?;
            stats.insert(key, rec);
        }
    }

    reconcile_coefficient(&mut stats)?;
    let matched = stats.len();
    Ok(Extraction { stats, matched, total_known: vocab.stats().len() })
}

fn key_of(vocab: &Vocabulary, stat: usize) -> &str {
    vocab.stat(stat).map_or("", |d| d.key.as_str())
}

/// Which damage the coefficient was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DamageUsed {
    Physical,
    Magic,
}

/// `compute_coefficient(physical, magic, crit)`: the larger damage (a tie
/// picks physical) times `1 + crit/100`, rounded to 6 decimals then
/// truncated. `None` without any damage or without crit.
pub fn compute_coefficient(
    physical: Option<f64>,
    magic: Option<f64>,
    critical_damage: Option<f64>,
) -> Result<Option<(f64, DamageUsed)>, Overflow> {
    let Some(crit) = critical_damage else {
        return Ok(None);
    };
    let (damage, used) = match (physical, magic) {
        (None, None) => return Ok(None),
        (Some(p), None) => (p, DamageUsed::Physical),
        (None, Some(m)) => (m, DamageUsed::Magic),
        (Some(p), Some(m)) => {
            if p >= m {
                (p, DamageUsed::Physical)
            } else {
                (m, DamageUsed::Magic)
            }
        }
    };
    let product = damage * (1.0 + crit / 100.0);
    let rounded = round_to(product, 6);
    if !rounded.is_finite() {
        return Err(Overflow);
    }
    Ok(Some((rounded.trunc(), used)))
}

/// Coefficient reconciliation: derive it when not read; confirm (and fix a
/// slip within tolerance) or flag (confidence halved) a read one.
fn reconcile_coefficient(stats: &mut Stats) -> Result<(), Overflow> {
    let value = |k: &str| stats.get(k).map(|r| r.value.as_f64());
    let Some((derived, _)) =
        compute_coefficient(value("physical_damage"), value("magic_damage"), value("critical_damage"))?
    else {
        return Ok(());
    };
    let input_conf = ["physical_damage", "magic_damage", "critical_damage"]
        .iter()
        .filter_map(|k| stats.get(k).map(|r| r.confidence))
        .fold(f64::INFINITY, f64::min);
    match stats.get_mut("coefficient") {
        None => stats.set(
            "coefficient",
            StatRead {
                value: StatValue::Int(derived),
                unit: "count",
                raw: String::new(),
                confidence: round_to(input_conf, 3),
                in_range: (0.0..=COEFFICIENT_MAX).contains(&derived),
                type_match: true,
                derived: true,
            },
        ),
        Some(read) => {
            let tol = round_half_even(derived * 0.005).max(5.0);
            if (read.value.as_f64() - derived).abs() <= tol {
                read.value = StatValue::Int(derived);
                read.confidence = round_to(read.confidence.max(input_conf), 3);
            } else {
                read.confidence = round_to(read.confidence * 0.5, 3);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_confidences() {
        let out = extract_character_stats(&["Critlcal Hit 5000"]).unwrap();
        let r = out.stats.get("critical_hit").unwrap();
        assert_eq!(r.confidence, 0.22);
        assert!(!r.in_range && !r.type_match);
        assert_eq!(r.value, StatValue::Float(5000.0));
    }

    #[test]
    fn huge_int_serializes_exactly() {
        let out = extract_character_stats(&["Light 123456789012345678901234567890"]).unwrap();
        let text = serde_json::to_string(&out).unwrap();
        assert!(text.contains("\"value\":123456789012345677877719597056"), "{text}");
    }

    #[test]
    fn infinite_int_is_an_overflow() {
        let line = format!("Light {}", "9".repeat(400));
        assert_eq!(extract_character_stats(&[line]), Err(Overflow));
    }
}
