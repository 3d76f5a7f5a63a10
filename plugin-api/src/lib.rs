//! The stable contract between the Kiwi host and its plugins.
//!
//! This crate is the `axum-core` of the workspace: small, boring, and reviewed on
//! every change. It owns
//! - the WIT world `kiwi:plugin@1.0.0` (under `wit/`), which WebAssembly plugins
//!   implement and the host links against;
//! - [`manifest`]: the plain-Rust mirror of the WIT manifest and request types,
//!   shared by the SDK and the host;
//! - [`native`] (feature `native`): the `abi_stable` root module that trusted
//!   native plugins export.
//!
//! **Architecture invariant:** this crate depends on nothing in `host` and on no
//! runtime (`wasmtime`, `sqlx`, `tokio`).

pub mod manifest;
#[cfg(feature = "native")]
pub mod native;

/// The ABI version this crate describes. Hosts accept plugins whose major
/// version matches and whose minor version is not newer than theirs.
pub const ABI_VERSION: &str = "1.0.0";

/// Major version of [`ABI_VERSION`].
pub const ABI_MAJOR: u32 = 1;
/// Minor version of [`ABI_VERSION`].
pub const ABI_MINOR: u32 = 0;

/// Path of the WIT package directory for this ABI version, relative to this crate.
pub const WIT_DIR: &str = "wit/kiwi-plugin@1.0.0";

/// Returns true when a plugin built against `plugin_abi` ("major.minor.patch")
/// can be served by this host.
// `m <= ABI_MINOR` is trivially `m == 0` while the minor version is 0.
#[allow(clippy::absurd_extreme_comparisons)]
pub fn abi_compatible(plugin_abi: &str) -> bool {
    let mut parts = plugin_abi.split('.');
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
    matches!((major, minor), (Some(ABI_MAJOR), Some(m)) if m <= ABI_MINOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_compatibility() {
        assert!(abi_compatible("1.0.0"));
        assert!(abi_compatible("1.0.7"));
        assert!(!abi_compatible("1.1.0"));
        assert!(!abi_compatible("2.0.0"));
        assert!(!abi_compatible("0.9.0"));
        assert!(!abi_compatible("garbage"));
    }
}
