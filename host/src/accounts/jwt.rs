//! HS256 JSON Web Tokens for session access tokens, implemented on `hmac` +
//! `sha2` + `base64`: one fixed header, claims `sub`, `sid`, `ver`, `iat`,
//! `exp`, `typ`, and a constant-time signature check.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Access-token lifetime: 15 minutes.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;

/// The `typ` claim of an access token.
pub const TYP_ACCESS: &str = "access";

/// `base64url({"alg":"HS256","typ":"JWT"})`: the only header issued or accepted.
const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// Access-token claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Session id.
    pub sid: String,
    /// The user's token version when issued (`logout-all` bumps it).
    pub ver: i64,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expires at, unix seconds.
    pub exp: i64,
    /// Token type; always `access` here.
    pub typ: String,
}

/// Why a JWT was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts, an unexpected header, or undecodable claims.
    Malformed,
    /// The signature does not match.
    BadSignature,
    /// `exp` is not in the future.
    Expired,
    /// The `typ` claim is not `access`.
    WrongType,
}

/// An HS256 signing/verifying key (the keyed HMAC state is cloned per use).
#[derive(Clone)]
pub struct JwtKey {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKey([REDACTED])")
    }
}

impl JwtKey {
    /// A key from raw bytes (any length).
    pub fn new(key: &[u8]) -> Self {
        // HMAC accepts keys of any length, so the fallback is never taken.
        let mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| Hmac::<Sha256>::new(&Default::default()));
        Self { mac }
    }

    /// Signs claims into a compact JWT.
    pub fn sign(&self, claims: &Claims) -> String {
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let mut out = String::with_capacity(HEADER_B64.len() + payload.len() * 4 / 3 + 48);
        out.push_str(HEADER_B64);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
        let mut mac = self.mac.clone();
        mac.update(out.as_bytes());
        let sig = mac.finalize().into_bytes();
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut out);
        out
    }

    /// Verifies signature, type and expiry (against `now_secs`), returning the claims.
    pub fn verify(&self, token: &str, now_secs: i64) -> Result<Claims, JwtError> {
        let (signed, sig_b64) = token.rsplit_once('.').ok_or(JwtError::Malformed)?;
        let (header, payload_b64) = signed.split_once('.').ok_or(JwtError::Malformed)?;
        if header != HEADER_B64 || payload_b64.contains('.') {
            return Err(JwtError::Malformed);
        }
        let mut sig = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(sig_b64, &mut sig) {
            Ok(32) => {}
            _ => return Err(JwtError::Malformed),
        }
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        // `verify_slice` compares in constant time.
        mac.verify_slice(&sig).map_err(|_| JwtError::BadSignature)?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| JwtError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| JwtError::Malformed)?;
        if claims.typ != TYP_ACCESS {
            return Err(JwtError::WrongType);
        }
        if claims.exp <= now_secs {
            return Err(JwtError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> Claims {
        Claims {
            sub: "usr_1".into(),
            sid: "ses_1".into(),
            ver: 3,
            iat: now,
            exp: now + ACCESS_TTL_SECS,
            typ: TYP_ACCESS.into(),
        }
    }

    #[test]
    fn header_constant_is_the_expected_json() {
        let h = URL_SAFE_NO_PAD.decode(HEADER_B64).unwrap();
        assert_eq!(h, br#"{"alg":"HS256","typ":"JWT"}"#);
    }

    #[test]
    fn round_trip_and_expiry() {
        let k = JwtKey::new(b"k");
        let t = k.sign(&claims(1000));
        assert_eq!(k.verify(&t, 1000).unwrap(), claims(1000));
        assert_eq!(k.verify(&t, 1000 + ACCESS_TTL_SECS - 1).unwrap().ver, 3);
        assert_eq!(k.verify(&t, 1000 + ACCESS_TTL_SECS), Err(JwtError::Expired));
    }

    #[test]
    fn matches_an_independent_hs256_vector() {
        // RFC 7515 style check: HMAC-SHA256 over "header.payload" with key "secret".
        let k = JwtKey::new(b"secret");
        let t = k.sign(&claims(0));
        let (signed, sig) = t.rsplit_once('.').unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(signed.as_bytes());
        assert_eq!(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()), sig);
    }

    #[test]
    fn tampering_and_wrong_keys_fail() {
        let k = JwtKey::new(b"k");
        let t = k.sign(&claims(0));
        assert_eq!(JwtKey::new(b"other").verify(&t, 0), Err(JwtError::BadSignature));
        let mut c = claims(0);
        c.sub = "usr_2".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(k.verify(&forged, 0), Err(JwtError::BadSignature));
        let none_alg = format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#), parts[1]);
        assert_eq!(k.verify(&none_alg, 0), Err(JwtError::Malformed));
        for bad in ["", "a.b", "a.b.c.d", &format!("{}.{}.xx", parts[0], parts[1])] {
            assert_eq!(k.verify(bad, 0), Err(JwtError::Malformed), "{bad}");
        }
        let mut c = claims(0);
        c.typ = "refresh".into();
        assert_eq!(k.verify(&k.sign(&c), 0), Err(JwtError::WrongType));
    }
}
