//! Request ids (`req_` + 16 hex): kept from a well-formed `X-Request-ID`, else
//! generated; available to any code on the request's task via [`current`].

use rand::Rng;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Header carrying the id both ways.
pub const HEADER: &str = "x-request-id";

/// True for `req_` followed by exactly 16 lower-case hex digits.
pub fn is_well_formed(s: &str) -> bool {
    s.len() == 20
        && s.starts_with("req_")
        && s.as_bytes()[4..].iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// A fresh id.
pub fn generate() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n: u64 = rand::rng().random();
    let mut s = String::with_capacity(20);
    s.push_str("req_");
    for shift in (0..16).rev() {
        s.push(char::from(HEX[((n >> (shift * 4)) & 0xf) as usize]));
    }
    s
}

/// The id of the request being served on this task (a fresh one outside a request).
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| generate())
}

/// Runs `f` with `id` as the current request id.
pub async fn scope<F: std::future::Future>(id: String, f: F) -> F::Output {
    REQUEST_ID.scope(id, f).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(is_well_formed("req_0123456789abcdef"));
        assert!(!is_well_formed("req_0123456789ABCDEF"));
        assert!(!is_well_formed("req_0123456789abcde"));
        assert!(!is_well_formed("abc_0123456789abcdef"));
        assert!(is_well_formed(&generate()));
    }
}
