//! The coefficient calculator (`POST /v1/stats/coefficient`): request
//! validation and the arithmetic, reproducing Python's
//! `int(round(D * (1 + critical_damage / 100), 6))` exactly, big results included.

use kiwi_sdk::Error;
use kiwi_sdk::validate::Loc;
use serde_json::{Map, Value};

use crate::lax;

/// The formula string echoed in every answer.
pub const FORMULA: &str = "floor(max(physical_damage, magic_damage) * (1 + critical_damage / 100))";

/// A validated request body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoefficientRequest {
    pub physical_damage: Option<f64>,
    pub magic_damage: Option<f64>,
    pub critical_damage: f64,
}

/// Which damage stat was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DamageUsed {
    Physical,
    Magic,
}

impl DamageUsed {
    pub fn as_str(self) -> &'static str {
        match self {
            DamageUsed::Physical => "physical",
            DamageUsed::Magic => "magic",
        }
    }
}

/// A computed coefficient: the exact decimal digits of a Python int (which
/// may exceed `i64`) and the damage stat it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coefficient {
    pub digits: String,
    pub damage_used: DamageUsed,
}

/// Validates the body like pydantic's `CoefficientRequest`: every field is
/// checked in declaration order and all failures are reported together.
pub fn validate(body: &Map<String, Value>) -> Result<CoefficientRequest, Error> {
    let mut errors = Vec::new();
    let mut optional = |name: &str| -> Option<f64> {
        let value = body.get(name)?;
        let loc = Loc::body(&[name]);
        match lax::float_field(&loc, value, true) {
            Ok(None) => None,
            Ok(Some(f)) => match lax::ge_zero(&loc, value, f) {
                Ok(f) => Some(f),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
            Err(e) => {
                errors.push(e);
                None
            }
        }
    };
    let physical_damage = optional("physical_damage");
    let magic_damage = optional("magic_damage");
    let loc = Loc::body(&["critical_damage"]);
    let critical_damage = match body.get("critical_damage") {
        None => {
            errors.push(kiwi_sdk::validate::missing(&loc, Value::Object(body.clone())));
            None
        }
        Some(value) => match lax::float_field(&loc, value, false) {
            Ok(Some(f)) => match lax::ge_zero(&loc, value, f) {
                Ok(f) => Some(f),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                errors.push(e);
                None
            }
        },
    };
    match critical_damage {
        Some(critical_damage) if errors.is_empty() => {
            Ok(CoefficientRequest { physical_damage, magic_damage, critical_damage })
        }
        _ => Err(Error::validation(errors)),
    }
}

/// The coefficient: the larger damage (physical wins ties) times the crit
/// multiplier, rounded to 6 decimals then truncated.
pub fn compute(req: &CoefficientRequest) -> Result<Coefficient, Error> {
    let (base, damage_used) = match (req.physical_damage, req.magic_damage) {
        (None, None) => {
            return Err(Error::bad_request(
                "Provide critical_damage and at least one of physical_damage / magic_damage.",
            ));
        }
        (Some(p), None) => (p, DamageUsed::Physical),
        (None, Some(m)) => (m, DamageUsed::Magic),
        // Python's max() keeps the first of equal keys.
        (Some(p), Some(m)) => {
            if m > p {
                (m, DamageUsed::Magic)
            } else {
                (p, DamageUsed::Physical)
            }
        }
    };
    let product = base * (1.0 + req.critical_damage / 100.0);
    let digits = int_round6(product).ok_or_else(internal_error)?;
    Ok(Coefficient { digits, damage_used })
}

/// What an unhandled exception becomes in the original (`int(inf)`, `int(nan)`).
pub fn internal_error() -> Error {
    Error::new(500, "internal_error", "Internal server error")
}

/// `int(round(x, 6))` for a finite `x`, as decimal digits; `None` for inf/NaN
/// (Python raises there).
///
/// `round(x, 6)` rounds the exact binary value to 6 decimals, so the integer
/// part only changes when the fraction is above 0.9999995. No double equals
/// 0.9999995 exactly, and the nearest one lies just above it, so `frac >= c`
/// with `c = 0.9999995_f64` is the exact test. Doubles from 2^52 up have no
/// fraction finer than 0.5, so the test is right at every magnitude.
pub fn int_round6(x: f64) -> Option<String> {
    if !x.is_finite() {
        return None;
    }
    let t = x.trunc();
    let frac = (x - t).abs();
    let carry = frac >= 0.999_999_5_f64;
    let whole = if carry { if x < 0.0 { t - 1.0 } else { t + 1.0 } } else { t };
    Some(integral_f64_to_decimal(whole))
}

/// The exact decimal expansion of an integral, finite `f64`.
pub fn integral_f64_to_decimal(v: f64) -> String {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if v.abs() < TWO_63 {
        return format!("{}", v as i64);
    }
    let negative = v < 0.0;
    let bits = v.abs().to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1075;
    let mantissa = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    // Big number in base 1e9, little-endian limbs.
    let mut limbs: Vec<u64> = vec![mantissa % 1_000_000_000, mantissa / 1_000_000_000];
    for _ in 0..exponent.max(0) {
        let mut carry = 0u64;
        for limb in limbs.iter_mut() {
            let n = *limb * 2 + carry;
            *limb = n % 1_000_000_000;
            carry = n / 1_000_000_000;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    let mut iter = limbs.iter().rev();
    if let Some(first) = iter.next() {
        out.push_str(&first.to_string());
    }
    for limb in iter {
        out.push_str(&format!("{limb:09}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(p: Option<f64>, m: Option<f64>, c: f64) -> CoefficientRequest {
        CoefficientRequest { physical_damage: p, magic_damage: m, critical_damage: c }
    }

    #[test]
    fn rounding_matches_python() {
        assert_eq!(int_round6(0.9999995000000001).unwrap(), "1");
        assert_eq!(int_round6(0.999_999_4).unwrap(), "0");
        assert_eq!(int_round6(37432.958999).unwrap(), "37432");
        assert_eq!(int_round6(12.9999996).unwrap(), "13");
        assert_eq!(int_round6(1e20).unwrap(), "100000000000000000000");
        assert_eq!(int_round6(2f64.powi(70)).unwrap(), "1180591620717411303424");
        assert_eq!(
            int_round6(1e300).unwrap(),
            "1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160"
        );
        assert!(int_round6(f64::INFINITY).is_none());
        assert!(int_round6(f64::NAN).is_none());
    }

    #[test]
    fn picks_the_larger_damage_physical_on_ties() {
        let c = compute(&req(Some(5.0), Some(5.0), 0.0)).unwrap();
        assert_eq!(c.damage_used, DamageUsed::Physical);
        let c = compute(&req(Some(4.0), Some(5.0), 100.0)).unwrap();
        assert_eq!((c.digits.as_str(), c.damage_used), ("10", DamageUsed::Magic));
        let e = compute(&req(None, None, 1.0)).unwrap_err();
        assert_eq!(e.status, 400);
        let e = compute(&req(Some(0.0), None, f64::INFINITY)).unwrap_err();
        assert_eq!(e.status, 500);
        assert_eq!(e.code, "internal_error");
    }

    #[test]
    fn validation_collects_every_error_in_order() {
        let body = json!({"physical_damage": "x", "magic_damage": -2});
        let e = validate(body.as_object().unwrap()).unwrap_err();
        let d = e.details.unwrap();
        assert_eq!(d[0]["loc"], json!(["body", "physical_damage"]));
        assert_eq!(d[0]["type"], "float_parsing");
        assert_eq!(d[1]["type"], "greater_than_equal");
        assert_eq!(d[2]["type"], "missing");
        assert_eq!(d[2]["input"], body);
    }
}
