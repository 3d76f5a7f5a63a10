//! Configuration: defaults, then an optional `kiwi.toml`, then `KIWI_*` environment.
//!
//! Secrets are [`SecretString`]s: exposed only where used, never logged
//! (`Debug` prints `[REDACTED]`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// Who may read `GET /metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Anyone who can reach the bind address (the default: loopback only by default bind).
    Open,
    /// Only with `Authorization: Bearer <token>`.
    Token(String),
    /// Disabled.
    Off,
}

/// SMTP settings for outgoing mail (verification, password reset).
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub from: String,
}

/// The host's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub redis_url: Option<String>,
    pub secret_key: SecretString,
    /// True when the secret was generated and stored in the data dir.
    pub secret_generated: bool,
    pub log_format: LogFormat,
    pub plugins_file: PathBuf,
    pub cors_origins: Vec<String>,
    /// Public base URL (used in mails and to decide `Secure` cookies).
    pub public_url: Option<String>,
    /// Host name → tenant slug.
    pub tenant_hosts: BTreeMap<String, String>,
    pub admin_email: Option<String>,
    pub admin_password: Option<SecretString>,
    pub smtp: Option<SmtpConfig>,
    pub metrics: MetricsAccess,
    /// Default body cap, bytes.
    pub body_limit: usize,
    /// Where the GitHub secret-scanning public keys are fetched from.
    pub github_keys_url: String,
    /// Trust `X-Forwarded-For` for the client IP (behind a reverse proxy).
    pub trust_forwarded_for: bool,
    /// Serve the developer portal from this directory.
    pub site_dir: PathBuf,
}

/// The optional `kiwi.toml` (strict: unknown keys are errors).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    redis_url: Option<String>,
    secret_key: Option<String>,
    log_format: Option<LogFormat>,
    plugins_file: Option<PathBuf>,
    cors_origins: Option<Vec<String>>,
    public_url: Option<String>,
    tenant_hosts: Option<BTreeMap<String, String>>,
    metrics_token: Option<String>,
    metrics: Option<String>,
    body_limit: Option<usize>,
    github_keys_url: Option<String>,
    trust_forwarded_for: Option<bool>,
    site_dir: Option<PathBuf>,
}

const DEFAULT_GITHUB_KEYS_URL: &str = "https://api.github.com/meta/public_keys/secret_scanning";

impl Config {
    /// Loads from `kiwi.toml` (path from `KIWI_CONFIG`, default `./kiwi.toml`, optional)
    /// and the process environment.
    pub fn load() -> anyhow::Result<Self> {
        let env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("KIWI_")).collect();
        let path = env.get("KIWI_CONFIG").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("kiwi.toml"));
        let file = if path.exists() {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            Some((path, text))
        } else {
            None
        };
        Self::from_sources(file.as_ref().map(|(p, t)| (p.as_path(), t.as_str())), &env)
    }

    /// Builds a config from an optional file (path, contents) and an environment map.
    pub fn from_sources(file: Option<(&Path, &str)>, env: &BTreeMap<String, String>) -> anyhow::Result<Self> {
        let f: FileConfig = match file {
            Some((path, text)) => toml::from_str(text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            None => FileConfig::default(),
        };
        let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();

        let bind_s = get("KIWI_BIND").or(f.bind).unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind: SocketAddr = bind_s.parse().with_context(|| format!("KIWI_BIND: not an address: {bind_s:?}"))?;
        let data_dir =
            get("KIWI_DATA_DIR").map(PathBuf::from).or(f.data_dir).unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = get("KIWI_DATABASE_URL")
            .or(f.database_url)
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("kiwi.db").display()));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            bail!("KIWI_DATABASE_URL: only sqlite: and postgres:// URLs are supported");
        }
        let redis_url = get("KIWI_REDIS_URL").or(f.redis_url);
        let log_format = match get("KIWI_LOG_FORMAT") {
            Some(s) if s == "json" => LogFormat::Json,
            Some(s) if s == "pretty" => LogFormat::Pretty,
            Some(s) => bail!("KIWI_LOG_FORMAT: expected json or pretty, got {s:?}"),
            None => f.log_format.unwrap_or_default(),
        };
        let (secret_key, secret_generated) = match get("KIWI_SECRET_KEY").or(f.secret_key) {
            Some(s) if s.len() < 32 => bail!("KIWI_SECRET_KEY: must be at least 32 characters"),
            Some(s) => (SecretString::from(s), false),
            None => (load_or_create_secret(&data_dir)?, true),
        };
        let metrics_token = get("KIWI_METRICS_TOKEN").or(f.metrics_token);
        let metrics = match (get("KIWI_METRICS").or(f.metrics).as_deref(), metrics_token) {
            (Some("off"), _) => MetricsAccess::Off,
            (_, Some(t)) => MetricsAccess::Token(t),
            (Some("open") | None, None) => MetricsAccess::Open,
            (Some(other), None) => bail!("KIWI_METRICS: expected open or off, got {other:?}"),
        };
        let smtp = match get("KIWI_SMTP_HOST") {
            Some(host) => Some(SmtpConfig {
                host,
                port: get("KIWI_SMTP_PORT").map(|p| p.parse()).transpose().context("KIWI_SMTP_PORT")?.unwrap_or(25),
                from: get("KIWI_SMTP_FROM").unwrap_or_else(|| "kiwi@localhost".into()),
            }),
            None => None,
        };
        let cors_origins = match get("KIWI_CORS_ORIGINS") {
            Some(s) => s.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect(),
            None => f.cors_origins.unwrap_or_default(),
        };
        let mut tenant_hosts = f.tenant_hosts.unwrap_or_default();
        if let Some(s) = get("KIWI_TENANT_HOSTS") {
            for pair in s.split(',') {
                let (h, t) = pair.split_once('=').context("KIWI_TENANT_HOSTS: expected host=slug,...")?;
                tenant_hosts.insert(h.trim().to_ascii_lowercase(), t.trim().to_owned());
            }
        }
        let body_limit = match get("KIWI_BODY_LIMIT") {
            Some(s) => s.parse().context("KIWI_BODY_LIMIT")?,
            None => f.body_limit.unwrap_or(8 * 1024 * 1024),
        };
        let trust_forwarded_for = match get("KIWI_TRUST_FORWARDED_FOR") {
            Some(s) => matches!(s.as_str(), "1" | "true" | "yes"),
            None => f.trust_forwarded_for.unwrap_or(false),
        };
        Ok(Config {
            bind,
            plugins_file: get("KIWI_PLUGINS_FILE")
                .map(PathBuf::from)
                .or(f.plugins_file)
                .unwrap_or_else(|| PathBuf::from("plugins.toml")),
            site_dir: get("KIWI_SITE_DIR").map(PathBuf::from).or(f.site_dir).unwrap_or_else(|| PathBuf::from("site")),
            data_dir,
            database_url,
            redis_url,
            secret_key,
            secret_generated,
            log_format,
            cors_origins,
            public_url: get("KIWI_PUBLIC_URL").or(f.public_url),
            tenant_hosts,
            admin_email: get("KIWI_ADMIN_EMAIL"),
            admin_password: get("KIWI_ADMIN_PASSWORD").map(SecretString::from),
            smtp,
            metrics,
            body_limit,
            github_keys_url: get("KIWI_GITHUB_KEYS_URL")
                .or(f.github_keys_url)
                .unwrap_or_else(|| DEFAULT_GITHUB_KEYS_URL.into()),
            trust_forwarded_for,
        })
    }

    /// The secret as bytes (signing and hashing key).
    pub fn secret_bytes(&self) -> &[u8] {
        self.secret_key.expose_secret().as_bytes()
    }

    /// True when the database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }
}

/// Reads `<data_dir>/secret.key`, creating it (owner-only) with 64 random hex chars if absent.
fn load_or_create_secret(data_dir: &Path) -> anyhow::Result<SecretString> {
    use rand::Rng;
    let path = data_dir.join("secret.key");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim().to_owned();
        if s.len() >= 32 {
            return Ok(SecretString::from(s));
        }
        bail!("{}: secret too short; delete it to regenerate", path.display());
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let bytes: [u8; 32] = rand::rng().random();
    let secret = hex::encode(bytes);
    write_owner_only(&path, secret.as_bytes())?;
    tracing::warn!(path = %path.display(), "KIWI_SECRET_KEY is not set: generated a secret and stored it (owner-only); set KIWI_SECRET_KEY in production");
    Ok(SecretString::from(secret))
}

fn write_owner_only(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(data)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn layering_env_over_file_over_defaults() {
        let dir = std::env::temp_dir().join(format!("kiwi-cfg-{}", rand::random::<u32>()));
        let secret = "s".repeat(40);
        let file = format!("bind = \"127.0.0.1:9000\"\ndata_dir = \"{}\"\nsecret_key = \"{secret}\"\n", dir.display());
        let c = Config::from_sources(Some((Path::new("kiwi.toml"), &file)), &env(&[])).unwrap();
        assert_eq!(c.bind.port(), 9000);
        let c = Config::from_sources(Some((Path::new("kiwi.toml"), &file)), &env(&[("KIWI_BIND", "127.0.0.1:9001")]))
            .unwrap();
        assert_eq!(c.bind.port(), 9001);
        assert!(c.database_url.starts_with("sqlite://"));
        assert!(!format!("{c:?}").contains(&secret), "secret leaked into Debug");
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_file() {
        let err = Config::from_sources(Some((Path::new("my.toml"), "bnd = \"x\"")), &env(&[])).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("my.toml") && msg.contains("bnd"), "{msg}");
    }

    #[test]
    fn generated_secret_is_owner_only_and_stable() {
        let dir = std::env::temp_dir().join(format!("kiwi-sec-{}", rand::random::<u32>()));
        let e = env(&[("KIWI_DATA_DIR", dir.to_str().unwrap())]);
        let a = Config::from_sources(None, &e).unwrap();
        let b = Config::from_sources(None, &e).unwrap();
        assert!(a.secret_generated);
        assert_eq!(a.secret_bytes(), b.secret_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("secret.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn bad_values_are_named() {
        let e = env(&[("KIWI_BIND", "nope"), ("KIWI_SECRET_KEY", &"k".repeat(40))]);
        assert!(format!("{:#}", Config::from_sources(None, &e).unwrap_err()).contains("KIWI_BIND"));
        let e = env(&[("KIWI_SECRET_KEY", "short")]);
        assert!(format!("{:#}", Config::from_sources(None, &e).unwrap_err()).contains("KIWI_SECRET_KEY"));
    }
}
