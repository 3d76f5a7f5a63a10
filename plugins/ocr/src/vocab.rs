//! The closed stat vocabulary (`data/character_stats.json`), label
//! normalization and fuzzy label matching (`vocabulary.py` of the original).
//!
//! Any list-valued field of a stat's `labels` object is a language's synonym
//! list, so a new language needs no code change. Synonyms are normalized,
//! empty ones dropped, and stable-sorted by descending normalized length: that
//! is the scan order of [`Vocabulary::match_label`].

use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::canonical_combining_class;

use crate::difflib;

/// The embedded vocabulary file.
const VOCABULARY_JSON: &str = include_str!("../data/character_stats.json");

/// Score of an exact (normalized) match.
pub const EXACT_SCORE: f64 = 1.0;
/// Score when a synonym is a plain substring of the text.
pub const CONTAINED_SCORE: f64 = 0.97;
/// Minimum score for a label match.
pub const MATCH_THRESHOLD: f64 = 0.82;

/// How a stat's value is read and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatType {
    /// A count, shown as a JSON integer.
    Int,
    /// A percentage, shown as a JSON float.
    Percent,
}

/// One stat of the vocabulary.
#[derive(Debug, Clone)]
pub struct StatDef {
    pub key: String,
    pub kind: StatType,
    pub min: f64,
    pub max: f64,
}

impl StatDef {
    /// True for percent-typed stats.
    pub fn is_percent(&self) -> bool {
        self.kind == StatType::Percent
    }
}

/// One normalized synonym and the index of its stat.
#[derive(Debug, Clone)]
pub struct Synonym {
    pub stat: usize,
    pub norm: String,
    norm_chars: Vec<char>,
}

/// The loaded vocabulary.
#[derive(Debug)]
pub struct Vocabulary {
    stats: Vec<StatDef>,
    synonyms: Vec<Synonym>,
}

/// A label match: the stat index and its unrounded score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelMatch {
    pub stat: usize,
    pub score: f64,
}

#[derive(Deserialize)]
struct RawFile {
    stats: Vec<RawStat>,
}

#[derive(Deserialize)]
struct RawStat {
    key: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    labels: OrderedLabels,
}

/// `labels` as `(language, synonyms)` pairs in file order (serde_json's `Value`
/// map would sort the keys; the scan order depends on file order).
struct OrderedLabels(Vec<(String, Vec<String>)>);

impl<'de> Deserialize<'de> for OrderedLabels {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedLabels;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of language to label list")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((lang, value)) = map.next_entry::<String, serde_json::Value>()? {
                    // Only list-valued fields are label lists.
                    if let serde_json::Value::Array(items) = value {
                        let labels = items.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
                        out.push((lang, labels));
                    }
                }
                Ok(OrderedLabels(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// `vocabulary.normalize`: NFKD, drop combining marks, lower-case, collapse
/// every run of characters outside `[a-z0-9]` into one space, trim.
pub fn normalize(text: &str) -> String {
    let lowered: String = text.nfkd().filter(|&c| canonical_combining_class(c) == 0).collect::<String>().to_lowercase();
    let mut out = String::with_capacity(lowered.len());
    let mut pending_space = false;
    for c in lowered.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        } else {
            pending_space = true;
        }
    }
    out
}

impl Vocabulary {
    /// Parses a vocabulary file (the `character_stats.json` shape).
    pub fn from_json(text: &str) -> Result<Self, String> {
        let raw: RawFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut stats = Vec::with_capacity(raw.stats.len());
        let mut synonyms = Vec::new();
        for (idx, s) in raw.stats.into_iter().enumerate() {
            let kind = match s.kind.as_deref() {
                None | Some("int") => StatType::Int,
                Some("percent") => StatType::Percent,
                Some(other) => return Err(format!("stat {}: unknown type {other:?}", s.key)),
            };
            stats.push(StatDef { key: s.key, kind, min: s.min.unwrap_or(0.0), max: s.max.unwrap_or(1e12) });
            for (_, labels) in s.labels.0 {
                for label in labels {
                    let norm = normalize(&label);
                    if !norm.is_empty() {
                        let norm_chars = norm.chars().collect();
                        synonyms.push(Synonym { stat: idx, norm, norm_chars });
                    }
                }
            }
        }
        // Stable sort by descending normalized length (in code points).
        synonyms.sort_by_key(|s| std::cmp::Reverse(s.norm_chars.len()));
        Ok(Self { stats, synonyms })
    }

    /// The stats, in file order.
    pub fn stats(&self) -> &[StatDef] {
        &self.stats
    }

    /// A stat by index.
    pub fn stat(&self, idx: usize) -> Option<&StatDef> {
        self.stats.get(idx)
    }

    /// Index of a stat by key.
    pub fn index_of(&self, key: &str) -> Option<usize> {
        self.stats.iter().position(|s| s.key == key)
    }

    /// The synonyms in scan order.
    pub fn synonyms(&self) -> &[Synonym] {
        &self.synonyms
    }

    /// `match_label(text, threshold=0.82)`: exact → 1.0, contained → 0.97, else
    /// the difflib ratio; scores below the threshold are ignored and a later
    /// synonym replaces the best only with a strictly greater score.
    pub fn match_label(&self, text: &str) -> Option<LabelMatch> {
        let n = normalize(text);
        if n.is_empty() {
            return None;
        }
        let n_chars: Vec<char> = n.chars().collect();
        let mut best: Option<LabelMatch> = None;
        for syn in &self.synonyms {
            let score = if syn.norm == n {
                EXACT_SCORE
            } else if n.contains(syn.norm.as_str()) {
                CONTAINED_SCORE
            } else {
                difflib::SequenceMatcher::new(&n_chars, &syn.norm_chars).ratio()
            };
            if score >= MATCH_THRESHOLD && best.is_none_or(|b| score > b.score) {
                best = Some(LabelMatch { stat: syn.stat, score });
            }
        }
        best
    }
}

/// The embedded vocabulary, parsed once.
pub fn vocabulary() -> &'static Vocabulary {
    static VOCAB: OnceLock<Vocabulary> = OnceLock::new();
    VOCAB.get_or_init(|| {
        // The file is embedded at compile time and checked by the unit tests;
        // an empty vocabulary is the non-panicking fallback.
        Vocabulary::from_json(VOCABULARY_JSON).unwrap_or(Vocabulary { stats: Vec::new(), synonyms: Vec::new() })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_vocabulary_loads() {
        let v = Vocabulary::from_json(VOCABULARY_JSON).unwrap();
        assert_eq!(v.stats().len(), 22);
        assert_eq!(v.synonyms().len(), 60);
    }

    #[test]
    fn normalize_examples() {
        assert_eq!(normalize("Dégâts physiques"), "degats physiques");
        assert_eq!(normalize("Critical Hit:"), "critical hit");
        assert_eq!(normalize("  Vit. d'attaque  "), "vit d attaque");
        assert_eq!(normalize("ＰＯＷＥＲ"), "power");
        assert_eq!(normalize("日本"), "");
    }
}
