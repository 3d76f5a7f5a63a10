//! Python numeric semantics the original service relies on: `round()` (half to
//! even, on the exact binary value, at whole numbers and at n digits), `min`/`max`
//! argument order, and an insertion-ordered JSON map for dicts.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Python `round(x)` for a float: nearest integer, ties to even. Returns the
/// integral value as f64 (callers convert to an integer type as needed).
pub fn round0(x: f64) -> f64 {
    x.round_ties_even()
}

/// Python `round(x)` as an integer (saturating at the i64 range; NaN gives 0).
pub fn round_int(x: f64) -> i64 {
    let r = round0(x);
    if r.is_nan() {
        0
    } else {
        // `as` saturates for out-of-range floats.
        r as i64
    }
}

/// Python `round(x, ndigits)` for a float with `ndigits >= 0`: the exact binary
/// value rounded to `ndigits` decimals (ties to even), read back as the nearest
/// double. A fast path handles the common, clearly non-tied case; otherwise the
/// decimal expansion is formatted exactly (Rust formats with ties-to-even on the
/// exact value, like CPython's dtoa mode 3) and parsed back.
pub fn round_to(x: f64, ndigits: u32) -> f64 {
    if !x.is_finite() || ndigits > 300 {
        return x;
    }
    if ndigits <= 15 {
        let p = 10f64.powi(ndigits as i32);
        let y = x * p;
        let ay = y.abs();
        if ay < 4.0e15 {
            let frac = ay - ay.floor();
            // y carries at most half an ulp of error from the multiplication; stay
            // well away from the .5 boundary before trusting it.
            let margin = ay * 8.0 * f64::EPSILON + 1e-300;
            if (frac - 0.5).abs() > margin {
                let k = y.round();
                // k and p are exact doubles, so the division is correctly rounded:
                // it equals parsing the decimal string "k e-ndigits".
                let r = k / p;
                return if r == 0.0 { 0.0f64.copysign(x) } else { r };
            }
        }
    }
    let s = format!("{:.*}", ndigits as usize, x);
    s.parse::<f64>().unwrap_or(x)
}

/// Python `min(a, b)` where `b` is the second argument: returns `a` unless `b < a`.
pub fn py_min(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

/// Python `max(a, b)`: returns `a` unless `b > a`.
pub fn py_max(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}

/// `max(0.0, min(1.0, x))` exactly as Python evaluates it.
pub fn clamp01(x: f64) -> f64 {
    py_max(0.0, py_min(1.0, x))
}

/// A JSON object that keeps insertion order (Python dicts do) without needing
/// serde_json's `preserve_order` feature.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> OrderedMap<V> {
    pub fn new() -> Self {
        Self(Vec::new())
    }
    /// Mutable access to the value of `key`, inserting `default` at the end if absent.
    pub fn entry_or(&mut self, key: &str, default: V) -> &mut V {
        let idx = match self.0.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.0.push((key.to_owned(), default));
                self.0.len() - 1
            }
        };
        &mut self.0[idx].1
    }
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Vis<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Vis<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = access.next_entry::<String, V>()? {
                    out.push((k, v));
                }
                Ok(OrderedMap(out))
            }
        }
        deserializer.deserialize_map(Vis(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_matches_python() {
        assert_eq!(round_to(0.125, 2), 0.12);
        assert_eq!(round_to(0.375, 2), 0.38);
        assert_eq!(round_to(2.675, 2), 2.67); // binary value is below the tie
        assert_eq!(round_to(1.005, 2), 1.0);
        assert_eq!(round_to(5040.000000000001, 6), 5040.0);
        assert_eq!(round_to(-0.5, 0), -0.0);
        assert_eq!(round_to(10235.845, 2), 10235.84);
        assert_eq!(round_to(0.28125, 4), 0.2812);
        assert_eq!(round_to(1e300, 2), 1e300);
        assert_eq!(round0(2.5), 2.0);
        assert_eq!(round0(3.5), 4.0);
        assert_eq!(round_int(-2.5), -2);
        // slow and fast paths agree
        for i in 0..20000 {
            let x = (i as f64) * 0.0137 - 50.0;
            for nd in [0u32, 1, 2, 4, 6, 8] {
                let slow: f64 = format!("{:.*}", nd as usize, x).parse().unwrap();
                assert_eq!(round_to(x, nd), slow, "x={x} nd={nd}");
            }
        }
    }

    #[test]
    fn min_max_follow_argument_order() {
        assert_eq!(clamp01(-0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(clamp01(1.5), 1.0);
        assert_eq!(clamp01(0.25), 0.25);
    }
}
