//! Python rounding and integer formatting semantics used by the parser and
//! the engine: `round(x)` (half to even), `round(x, n)` (correctly rounded
//! from the exact binary value) and exact decimal text of integral floats.

/// Python `round(x, ndigits)` for a float: correctly rounded from the exact
/// binary value (Rust's fixed-precision formatting is exact and ties to even,
/// like CPython's `_Py_dg_dtoa` mode 3). Non-finite values are returned as is.
pub fn round_to(x: f64, ndigits: usize) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{x:.ndigits$}").parse::<f64>().unwrap_or(x)
}

/// Python `round(x)` to an integer, half to even (kept as an integral `f64`).
pub fn round_half_even(x: f64) -> f64 {
    x.round_ties_even()
}

/// Exact decimal text of an integral, finite float (Python `str(int(x))`).
pub fn int_text(x: f64) -> String {
    if x == 0.0 {
        return "0".to_owned();
    }
    format!("{x:.0}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_rounding() {
        assert_eq!(round_to(0.0625, 3), 0.062);
        assert_eq!(round_to(0.9995, 3), 1.0);
        assert_eq!(round_to(1_000_999.999_999_999_9, 6), 1_001_000.0);
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(3.5), 4.0);
        assert_eq!(round_half_even(0.5), 0.0);
        assert_eq!(int_text(1.234_567_890_123_456_8e29), "123456789012345677877719597056");
        assert_eq!(int_text(-0.0), "0");
    }
}
