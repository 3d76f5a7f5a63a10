//! `plugins.toml`: which plugins load, from where, with which limits, config
//! and permissions. Strict: unknown keys are errors naming the file, line and key.
//!
//! ```toml
//! [plugins.rotations]
//! path = "target/wasm32-wasip2/wasm/kiwi_plugin_rotations.wasm"
//! enabled = true                 # default true
//! tier = "wasm"                  # "wasm" (sandboxed, default) | "native" (trusted, opt-in)
//! default_for_new_tenants = true # default true
//! allowed_hosts = ["api.example.com:443"]
//! [plugins.rotations.limits]
//! memory_mib = 64                # default 64
//! timeout_ms = 2000              # default 2000
//! max_concurrency = 64           # default 64
//! max_response_mib = 16          # default 16
//! sql_statement_ms = 5000        # default 5000: time limit of one `sql` statement
//! [plugins.rotations.config]
//! anything = "the plugin reads this with ctx.config()"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Which runtime a plugin uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// A WebAssembly component, sandboxed.
    #[default]
    Wasm,
    /// A trusted native library (abi_stable), in-process.
    Native,
}

/// Per-plugin resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub memory_mib: u32,
    pub timeout_ms: u32,
    pub max_concurrency: u32,
    pub max_response_mib: u32,
    /// Host calls (kv, sql, http, log…) allowed per request.
    pub max_host_calls: u32,
    /// Time limit of one statement through the `sql` capability (SQLite progress
    /// handler; PostgreSQL `statement_timeout` of the plugin's role).
    pub sql_statement_ms: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mib: 64,
            timeout_ms: 2000,
            max_concurrency: 64,
            max_response_mib: 16,
            max_host_calls: 10_000,
            sql_statement_ms: 5000,
        }
    }
}

/// One `[plugins.<name>]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    pub path: PathBuf,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub tier: Tier,
    #[serde(default = "yes")]
    pub default_for_new_tenants: bool,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Let outbound HTTP reach private/loopback addresses (off by default; tests only).
    #[serde(default)]
    pub allow_private_network: bool,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub config: toml::Table,
}

fn yes() -> bool {
    true
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsFile {
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginEntry>,
}

/// Upper bounds on what plugins.toml may ask for.
pub const MAX_MEMORY_MIB: u32 = 1024;
pub const MAX_TIMEOUT_MS: u32 = 60_000;
pub const MAX_CONCURRENCY: u32 = 256;

impl PluginsFile {
    /// Parses `text` read from `path`; relative plugin paths resolve against the file's directory.
    pub fn parse(path: &Path, text: &str) -> anyhow::Result<PluginsFile> {
        let mut file: PluginsFile = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            anyhow::anyhow!("{}:{line}:{col}: {}", path.display(), e.message())
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for (name, entry) in file.plugins.iter_mut() {
            validate_name(name).map_err(|m| anyhow::anyhow!("{}: plugin {name:?}: {m}", path.display()))?;
            let l = &entry.limits;
            let bad = |what: &str| anyhow::anyhow!("{}: plugins.{name}.limits.{what} out of range", path.display());
            if l.memory_mib == 0 || l.memory_mib > MAX_MEMORY_MIB {
                return Err(bad("memory_mib"));
            }
            if l.timeout_ms == 0 || l.timeout_ms > MAX_TIMEOUT_MS {
                return Err(bad("timeout_ms"));
            }
            if l.sql_statement_ms == 0 || l.sql_statement_ms > MAX_TIMEOUT_MS {
                return Err(bad("sql_statement_ms"));
            }
            if l.max_concurrency == 0 || l.max_concurrency > MAX_CONCURRENCY {
                return Err(bad("max_concurrency"));
            }
            if l.max_response_mib == 0 || l.max_response_mib > 256 {
                return Err(bad("max_response_mib"));
            }
            if entry.path.is_relative() {
                entry.path = base.join(&entry.path);
            }
        }
        Ok(file)
    }

    /// Reads and parses a file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> anyhow::Result<PluginsFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(path = %path.display(), "no plugins file: no plugins loaded");
                Ok(PluginsFile::default())
            }
            Err(e) => Err(anyhow::anyhow!("reading {}: {e}", path.display())),
        }
    }
}

/// Plugin names are URL segments: `[a-z][a-z0-9-]{0,31}`.
pub fn validate_name(name: &str) -> Result<(), &'static str> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.as_bytes()[0].is_ascii_lowercase()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(()) } else { Err("names are 1-32 chars of a-z, 0-9 and '-', starting with a letter") }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count() + 1).unwrap_or(1);
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_file_with_defaults() {
        let f = PluginsFile::parse(
            Path::new("/etc/kiwi/plugins.toml"),
            "[plugins.hello]\npath = \"hello.wasm\"\n[plugins.hello.config]\ngreeting = \"hi\"\n",
        )
        .unwrap();
        let h = &f.plugins["hello"];
        assert_eq!(h.path, PathBuf::from("/etc/kiwi/hello.wasm"));
        assert!(h.enabled && h.default_for_new_tenants);
        assert_eq!(h.tier, Tier::Wasm);
        assert_eq!(h.limits, Limits::default());
        assert_eq!(h.config["greeting"].as_str(), Some("hi"));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = PluginsFile::parse(Path::new("plugins.toml"), "[plugins.hello]\npath = \"h.wasm\"\nenabeld = true\n")
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("plugins.toml:3:"), "{msg}");
        assert!(msg.contains("enabeld"), "{msg}");
    }

    #[test]
    fn unknown_limit_key_and_bad_values() {
        let err =
            PluginsFile::parse(Path::new("p.toml"), "[plugins.a]\npath = \"a\"\n[plugins.a.limits]\nmemroy_mib = 3\n")
                .unwrap_err();
        assert!(err.to_string().contains("memroy_mib"));
        let err =
            PluginsFile::parse(Path::new("p.toml"), "[plugins.a]\npath = \"a\"\n[plugins.a.limits]\ntimeout_ms = 0\n")
                .unwrap_err();
        assert!(err.to_string().contains("timeout_ms"));
        let err = PluginsFile::parse(
            Path::new("p.toml"),
            "[plugins.a]\npath = \"a\"\n[plugins.a.limits]\nsql_statement_ms = 60001\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("sql_statement_ms"));
        let err = PluginsFile::parse(Path::new("p.toml"), "[plugins.Bad]\npath = \"a\"\n").unwrap_err();
        assert!(err.to_string().contains("Bad"));
        let err = PluginsFile::parse(Path::new("p.toml"), "[plugins.a]\npath = \"a\"\ntier = \"jit\"\n").unwrap_err();
        assert!(err.to_string().contains("p.toml:3"), "{err}");
    }
}
