//! Email addresses: normalisation (trimmed, lowercased), a conservative
//! syntax check, and the embedded disposable-domain blocklist.

use std::collections::HashSet;
use std::sync::OnceLock;

/// The embedded blocklist (`disposable_domains.txt`, one domain per line).
const DISPOSABLE: &str = include_str!("disposable_domains.txt");

fn disposable_set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| DISPOSABLE.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect())
}

/// True when the address's domain (after the last `@`) is on the blocklist.
/// Exact match: subdomains are not matched.
pub fn is_disposable(email: &str) -> bool {
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or(email);
    disposable_set().contains(domain.to_ascii_lowercase().as_str())
}

/// Trims and lowercases an address and checks its shape; the error is the
/// validation message.
pub fn normalise(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    if email.len() > 254 {
        return Err("must be at most 254 characters");
    }
    let (local, domain) = email.rsplit_once('@').ok_or("must be an email address")?;
    if local.is_empty() || local.len() > 64 || domain.len() < 3 {
        return Err("must be an email address");
    }
    let local_ok = local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if !local_ok || !domain_ok {
        return Err("must be an email address");
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_validates() {
        assert_eq!(normalise("  Alice.Smith+x@Example.COM ").unwrap(), "alice.smith+x@example.com");
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a@.com",
            "a@example",
            "a b@example.com",
            "a..b@example.com",
            "a@ex_ample.com",
            "a@example.com\r\nBcc: x@y.z",
        ] {
            assert!(normalise(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn blocklist_is_exact_and_sizeable() {
        assert!(disposable_set().len() > 300);
        assert!(is_disposable("x@mailinator.com"));
        assert!(is_disposable("x@YOPMAIL.fr"));
        assert!(!is_disposable("x@sub.mailinator.com"));
        assert!(!is_disposable("x@example.com"));
        assert!(!is_disposable("x@gmail.com"));
    }
}
