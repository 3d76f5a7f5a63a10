//! The host database: one `sqlx::AnyPool` over SQLite (embedded default) or
//! PostgreSQL, with per-backend migrations from `migrations/{sqlite,postgres}`.
//!
//! Host SQL is written once with `$1` placeholders and portable types
//! (TEXT ids, BIGINT unix-millisecond times, INTEGER 0/1 flags), which both
//! backends accept; anything that differs lives in the per-backend migrations.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Which backend a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The host's connection pool.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// The connection URL (PostgreSQL plugin pools derive their own from it).
    pub url: String,
}

impl Db {
    /// Connects (creating the SQLite file and its directory if needed).
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        if backend == Backend::Sqlite
            && let Some(path) = sqlite_path(url)
            && let Some(parent) = std::path::Path::new(&path).parent()
        {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let opts = AnyConnectOptions::from_str(url).context("parsing the database URL")?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // temp_store=MEMORY keeps statement journals (multi-row INSERTs inside a transaction,
                        // e.g. the usage flusher) off the disk; a larger page cache keeps hot indexes in memory.
                        conn.execute(
                            "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; \
                             PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .context("connecting to the database")?;
        Ok(Db { pool, backend, url: url.to_owned() })
    }

    /// Applies the host migrations for this backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let m = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        m.run(&self.pool).await.context("applying migrations")?;
        Ok(())
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Is this PostgreSQL?
    pub fn is_postgres(&self) -> bool {
        self.backend == Backend::Postgres
    }
}

/// The file path inside a `sqlite://path?opts` URL.
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" { None } else { Some(path.to_owned()) }
}
