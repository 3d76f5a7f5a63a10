//! The API-token wire format (platform.md §1.1): `kiwi_<43 base62>_<checksum>`,
//! where the checksum is the CRC-32 of the body in base 62 (alphabet `a–z A–Z 0–9`,
//! most significant digit first, unpadded). Parsing, the offline checksum
//! check, generation and the display prefix. Nothing here touches a database.

use rand::Rng;

/// Token prefix (without the separator).
pub const PREFIX: &str = "kiwi";
/// Length of the random body.
pub const BODY_LEN: usize = 43;
/// The base-62 alphabet; its order is also the checksum digit order.
pub const ALPHABET: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Body characters shown in listings after `kiwi_`.
pub const DISPLAY_BODY_CHARS: usize = 8;

/// Longest checksum (2^32−1 is `eQPpmd`).
const MAX_CHECKSUM_LEN: usize = 6;
/// `kiwi_` + body + `_`.
const HEAD_LEN: usize = PREFIX.len() + 1 + BODY_LEN + 1;

/// The outcome of the offline check of a presented string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check<'a> {
    /// Not of the token shape at all.
    Malformed,
    /// The right shape, but the checksum does not match the body.
    BadChecksum,
    /// Well-formed with a matching checksum; carries the body.
    Valid { body: &'a str },
}

/// Base-62 digits of `value` into a stack buffer; returns the used tail.
fn encode_base62(mut value: u32, buf: &mut [u8; MAX_CHECKSUM_LEN]) -> &[u8] {
    let mut i = MAX_CHECKSUM_LEN;
    loop {
        i -= 1;
        buf[i] = ALPHABET[(value % 62) as usize];
        value /= 62;
        if value == 0 || i == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Base-62 encoding of a `u32` (0 → `a`, 2^32−1 → `eQPpmd`).
pub fn base62(value: u32) -> String {
    let mut buf = [0u8; MAX_CHECKSUM_LEN];
    encode_base62(value, &mut buf).iter().map(|&b| b as char).collect()
}

/// The checksum string of a body.
pub fn checksum(body: &str) -> String {
    base62(crc32fast::hash(body.as_bytes()))
}

fn is_alnum(s: &[u8]) -> bool {
    s.iter().all(u8::is_ascii_alphanumeric)
}

/// Checks the shape and the checksum without allocating.
///
/// The shape is exactly `^kiwi_[A-Za-z0-9]{43}_[A-Za-z0-9]{1,6}$` (no trailing
/// newline is tolerated, unlike the Python original). A checksum with leading
/// zero digits (`a`) is a mismatch: the comparison is on the canonical string.
pub fn check(raw: &str) -> Check<'_> {
    let b = raw.as_bytes();
    if b.len() <= HEAD_LEN || b.len() > HEAD_LEN + MAX_CHECKSUM_LEN {
        return Check::Malformed;
    }
    if !b.starts_with(PREFIX.as_bytes()) || b[PREFIX.len()] != b'_' || b[HEAD_LEN - 1] != b'_' {
        return Check::Malformed;
    }
    let body = &b[PREFIX.len() + 1..HEAD_LEN - 1];
    let tail = &b[HEAD_LEN..];
    if !is_alnum(body) || !is_alnum(tail) {
        return Check::Malformed;
    }
    let mut buf = [0u8; MAX_CHECKSUM_LEN];
    if encode_base62(crc32fast::hash(body), &mut buf) != tail {
        return Check::BadChecksum;
    }
    // The body is ASCII alphanumeric, so this slice is on char boundaries.
    match raw.get(PREFIX.len() + 1..HEAD_LEN - 1) {
        Some(body) => Check::Valid { body },
        None => Check::Malformed,
    }
}

/// Assembles a token from a body.
pub fn assemble(body: &str) -> String {
    format!("{PREFIX}_{body}_{}", checksum(body))
}

/// A fresh token: 43 characters drawn uniformly from the alphabet by the
/// thread-local CSPRNG (about 256 bits), plus its checksum.
pub fn generate() -> String {
    let mut rng = rand::rng();
    let body: String = (0..BODY_LEN).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    assemble(&body)
}

/// The display prefix shown in listings: `kiwi_` + the first 8 body characters.
/// `raw` must be a well-formed token.
pub fn display_prefix(raw: &str) -> String {
    raw.chars().take(PREFIX.len() + 1 + DISPLAY_BODY_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_vectors() {
        assert_eq!(base62(0), "a");
        assert_eq!(base62(61), "9");
        assert_eq!(base62(62), "ba");
        assert_eq!(base62(u32::MAX), "eQPpmd");
    }

    #[test]
    fn checksum_vectors_from_platform_7_3() {
        let cases = [
            ("a".repeat(43), 0xF354_0F52u32, "eCrnIQ"),
            ("A".repeat(43), 0x0C2B_5986, "nYPti"),
            ("0".repeat(43), 0x7849_568F, "cmJMVT"),
            ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ".to_owned(), 0xE7F2_077C, "epv4Gu"),
            ("Kiwi0123456789abcdefghijklmnopqrstuvwxyzABC".to_owned(), 0x1E30_2BD1, "Irg2n"),
        ];
        for (body, crc, sum) in cases {
            assert_eq!(crc32fast::hash(body.as_bytes()), crc, "{body}");
            assert_eq!(checksum(&body), sum, "{body}");
            let token = assemble(&body);
            assert_eq!(token, format!("kiwi_{body}_{sum}"));
            assert_eq!(check(&token), Check::Valid { body: &body });
            assert_eq!(display_prefix(&token), format!("kiwi_{}", &body[..8]));
        }
        assert_eq!(
            check("kiwi_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ_epv4Gu"),
            Check::Valid { body: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ" }
        );
        assert_eq!(display_prefix("kiwi_Kiwi0123456789abcdefghijklmnopqrstuvwxyzABC_Irg2n"), "kiwi_Kiwi0123");
    }

    #[test]
    fn negative_vectors() {
        // Zero-padded checksum: right shape, wrong canonical string.
        assert_eq!(check(&format!("kiwi_{}_anYPti", "A".repeat(43))), Check::BadChecksum);
        // One body character changed.
        assert_eq!(check(&format!("kiwi_{}b_eCrnIQ", "a".repeat(42))), Check::BadChecksum);
        assert_eq!(check("kiwi_nope"), Check::Malformed);
        assert_eq!(check(""), Check::Malformed);
        let good = assemble(&"a".repeat(43));
        assert_eq!(check(&format!("{good}\n")), Check::Malformed, "no trailing newline quirk");
        assert_eq!(check(&format!(" {good}")), Check::Malformed);
        assert_eq!(check(&good.replace("kiwi_", "kiwx_")), Check::Malformed);
        assert_eq!(check(&format!("kiwi_{}_eCrnIQ", "a".repeat(42))), Check::Malformed, "short body");
        assert_eq!(check(&format!("kiwi_{}_eCrnIQ", "a".repeat(44))), Check::Malformed, "long body");
        assert_eq!(check(&format!("kiwi_{}-_eCrnIQ", "a".repeat(42))), Check::Malformed, "non-alphanumeric");
        assert_eq!(check(&format!("kiwi_{}_", "a".repeat(43))), Check::Malformed, "empty checksum");
        assert_eq!(check(&format!("kiwi_{}_eCrnIQa", "a".repeat(43))), Check::Malformed, "7-char checksum");
        assert_eq!(check(&format!("kiwi_{}_eCrnIé", "a".repeat(43))), Check::Malformed, "non-ASCII");
    }

    #[test]
    fn generated_tokens_are_valid_and_distinct() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        for t in [&a, &b] {
            assert!(matches!(check(t), Check::Valid { .. }), "{t}");
            assert!(t.len() > HEAD_LEN && t.len() <= HEAD_LEN + 6);
        }
    }
}
