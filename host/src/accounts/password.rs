//! Password policy and hashing: Argon2id (PHC strings), run off the async
//! runtime, plus a dummy hash so an unknown email costs as much as a wrong
//! password.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{ApiError, ApiResult};

/// Shortest accepted password, in characters.
pub const MIN_LEN: usize = 8;
/// Longest accepted password, in characters.
pub const MAX_LEN: usize = 256;

/// Production cost: Argon2id v19, 64 MiB, 3 passes, 4 lanes, 32-byte output
/// (the reference service's argon2-cffi defaults; RFC 9106's second
/// recommended option). Tests use the same parameters.
pub const M_COST_KIB: u32 = 65536;
pub const T_COST: u32 = 3;
pub const P_COST: u32 = 4;
pub const OUTPUT_LEN: usize = 32;

/// A PHC string with the production parameters and a random output that no
/// password produces. Verifying against it costs the same as a real hash.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$MnM36zvUSOhL9emvPjwRkcyfxW0bi5n3Y8ihrJ+NO+c";

/// Checks the length policy (8–256 characters); `field` names the body field in the error.
pub fn check_policy(field: &str, password: &str) -> ApiResult<()> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(ApiError::validation(field, format!("must be at least {MIN_LEN} characters")));
    }
    if n > MAX_LEN {
        return Err(ApiError::validation(field, format!("must be at most {MAX_LEN} characters")));
    }
    Ok(())
}

fn hasher() -> anyhow::Result<Argon2<'static>> {
    let params =
        Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN)).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password (blocking; call through [`hash`] from async code).
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = hasher()?.hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(hash.to_string())
}

/// True when `password` matches the PHC string `phc` (blocking). Any error is `false`.
pub fn verify_blocking(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Hashes on the blocking pool.
pub async fn hash(password: &str) -> ApiResult<String> {
    let pw = password.to_owned();
    tokio::task::spawn_blocking(move || hash_blocking(&pw))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Verifies on the blocking pool; `None` verifies against the dummy hash and
/// returns `false` (same cost as a wrong password).
pub async fn verify(password: &str, phc: Option<&str>) -> ApiResult<bool> {
    let pw = password.to_owned();
    let (phc, real) = match phc {
        Some(p) => (p.to_owned(), true),
        None => (DUMMY_HASH.to_owned(), false),
    };
    let ok = tokio::task::spawn_blocking(move || verify_blocking(&pw, &phc)).await.map_err(ApiError::internal)?;
    Ok(ok && real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify_round_trip_with_production_params() {
        let t = std::time::Instant::now();
        let h = hash_blocking("correct horse battery").unwrap();
        eprintln!("argon2 hash took {:?}", t.elapsed());
        assert!(h.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"), "{h}");
        assert!(verify_blocking("correct horse battery", &h));
        assert!(!verify_blocking("wrong horse battery", &h));
        assert!(!verify_blocking("x", "not a phc string"));
    }

    #[test]
    fn dummy_hash_has_production_cost() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        let p = Params::try_from(&parsed).unwrap();
        assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (M_COST_KIB, T_COST, P_COST));
        assert_eq!(parsed.hash.unwrap().len(), OUTPUT_LEN);
        assert!(!verify_blocking("anything", DUMMY_HASH));
    }

    #[test]
    fn policy_bounds() {
        assert!(check_policy("password", "1234567").is_err());
        assert!(check_policy("password", "12345678").is_ok());
        assert!(check_policy("password", &"é".repeat(256)).is_ok());
        assert!(check_policy("password", &"a".repeat(257)).is_err());
    }
}
