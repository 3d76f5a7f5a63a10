//! The `sql` capability: each plugin's own namespace, and nothing else.
//!
//! - **SQLite**: the plugin's own database file `<data>/plugins/<name>.db`, opened
//!   with `SQLITE_LIMIT_ATTACHED = 0` and an authorizer that denies `ATTACH`,
//!   `DETACH`, every `PRAGMA`, transaction control (the host's `batch` does it),
//!   and `load_extension`; `VACUUM` is refused; a progress handler enforces the
//!   time limit; results are capped.
//! - **PostgreSQL**: a dedicated **login** role per plugin (its own small pool —
//!   never `SET ROLE` on a host connection, which `RESET ROLE` undoes) owning only
//!   the schema `plugin_<name>`, with `search_path`, `statement_timeout` and
//!   no membership in any other role.
//!
//! Statements are single (several in one call are refused) and use `$1…` placeholders.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Column, Row, TypeInfo, ValueRef};

use super::wasm::generated::kiwi::plugin::sql::{Rows, SqlError, Value};
use crate::clock::system_ms;
use crate::db::{Backend, Db};
use kiwi_plugin_api::manifest::Migration;

/// Max rows returned by one query.
pub const MAX_ROWS: usize = 50_000;
/// Max bytes returned by one query (approximate).
pub const MAX_BYTES: usize = 32 * 1024 * 1024;

/// A plugin's SQL namespace.
#[derive(Clone)]
pub enum SqlNamespace {
    Sqlite(Arc<SqliteNs>),
    Postgres(sqlx::PgPool),
}

impl std::fmt::Debug for SqlNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlNamespace::Sqlite(_) => f.write_str("SqlNamespace::Sqlite"),
            SqlNamespace::Postgres(_) => f.write_str("SqlNamespace::Postgres"),
        }
    }
}

/// The SQLite side: one connection guarded by a mutex (SQLite serializes writes anyway).
pub struct SqliteNs {
    conn: std::sync::Mutex<rusqlite::Connection>,
    host_mode: Arc<AtomicBool>,
    deadline_ms: Arc<AtomicI64>,
    /// The plugin's per-statement time limit (`limits.sql_statement_ms`).
    statement_timeout: Duration,
}

fn lock(ns: &SqliteNs) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
    ns.conn.lock().unwrap_or_else(|p| p.into_inner())
}

fn first_keyword(stmt: &str) -> String {
    let mut s = stmt.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map(|x| x.1).unwrap_or("").trim_start();
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map(|x| x.1).unwrap_or("").trim_start();
        } else {
            break;
        }
    }
    s.chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>().to_ascii_uppercase()
}

impl SqliteNs {
    /// Opens (creating) the plugin's database file with the sandbox installed.
    pub fn open(path: &Path, statement_timeout: Duration) -> anyhow::Result<SqliteNs> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let conn = rusqlite::Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-131072; PRAGMA temp_store=MEMORY; \
             PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;",
        )?;
        conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_ATTACHED, 0);
        conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_LENGTH, 64 * 1024 * 1024);
        let host_mode = Arc::new(AtomicBool::new(false));
        let hm = host_mode.clone();
        conn.authorizer(Some(move |ctx: AuthContext<'_>| -> Authorization {
            match ctx.action {
                AuthAction::Attach { .. } | AuthAction::Detach { .. } | AuthAction::Pragma { .. } => {
                    Authorization::Deny
                }
                AuthAction::Function { function_name } if function_name.eq_ignore_ascii_case("load_extension") => {
                    Authorization::Deny
                }
                AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } if !hm.load(Ordering::Relaxed) => {
                    Authorization::Deny
                }
                _ => Authorization::Allow,
            }
        }));
        let deadline_ms = Arc::new(AtomicI64::new(i64::MAX));
        let dl = deadline_ms.clone();
        conn.progress_handler(10_000, Some(move || system_ms() > dl.load(Ordering::Relaxed)));
        Ok(SqliteNs { conn: std::sync::Mutex::new(conn), host_mode, deadline_ms, statement_timeout })
    }

    fn check(stmt: &str) -> Result<(), SqlError> {
        let kw = first_keyword(stmt);
        if matches!(kw.as_str(), "VACUUM" | "ATTACH" | "DETACH" | "PRAGMA") {
            return Err(SqlError::Denied(format!("{kw} is not allowed in the plugin sandbox")));
        }
        Ok(())
    }

    fn run<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> Result<T, SqlError>) -> Result<T, SqlError> {
        let conn = lock(self);
        self.deadline_ms.store(system_ms() + self.statement_timeout.as_millis() as i64, Ordering::Relaxed);
        let r = f(&conn);
        self.deadline_ms.store(i64::MAX, Ordering::Relaxed);
        r.map_err(|e| match e {
            SqlError::LimitExceeded(m) if m == INTERRUPTED => timed_out(self.statement_timeout),
            other => other,
        })
    }

    fn query_sync(&self, stmt: &str, params: &[Value]) -> Result<Rows, SqlError> {
        Self::check(stmt)?;
        self.run(|conn| {
            let mut st = prepare_one(conn, stmt)?;
            bind_sqlite(&mut st, params)?;
            let columns: Vec<String> = st.column_names().iter().map(|c| (*c).to_owned()).collect();
            let n = columns.len();
            let mut rows_out = Vec::new();
            let mut bytes = 0usize;
            let mut rows = st.raw_query();
            while let Some(row) = rows.next().map_err(sqlite_err)? {
                if rows_out.len() >= MAX_ROWS {
                    return Err(SqlError::LimitExceeded(format!("more than {MAX_ROWS} rows; add LIMIT")));
                }
                let mut r = Vec::with_capacity(n);
                for i in 0..n {
                    let v = match row.get_ref(i).map_err(sqlite_err)? {
                        rusqlite::types::ValueRef::Null => Value::Null,
                        rusqlite::types::ValueRef::Integer(x) => Value::Integer(x),
                        rusqlite::types::ValueRef::Real(x) => Value::Real(x),
                        rusqlite::types::ValueRef::Text(t) => {
                            bytes += t.len();
                            Value::Text(String::from_utf8_lossy(t).into_owned())
                        }
                        rusqlite::types::ValueRef::Blob(b) => {
                            bytes += b.len();
                            Value::Blob(b.to_vec())
                        }
                    };
                    r.push(v);
                }
                bytes += 8 * n;
                if bytes > MAX_BYTES {
                    return Err(SqlError::LimitExceeded(format!("result larger than {MAX_BYTES} bytes")));
                }
                rows_out.push(r);
            }
            Ok(Rows { columns, rows: rows_out })
        })
    }

    fn execute_sync(&self, stmt: &str, params: &[Value]) -> Result<u64, SqlError> {
        Self::check(stmt)?;
        self.run(|conn| {
            let mut st = prepare_one(conn, stmt)?;
            bind_sqlite(&mut st, params)?;
            st.raw_execute().map(|n| n as u64).map_err(sqlite_err)
        })
    }

    fn batch_sync(&self, stmts: &[(String, Vec<Value>)]) -> Result<u64, SqlError> {
        for (s, _) in stmts {
            Self::check(s)?;
        }
        self.run(|conn| {
            self.host_mode.store(true, Ordering::Relaxed);
            let begun = conn.execute_batch("BEGIN IMMEDIATE");
            self.host_mode.store(false, Ordering::Relaxed);
            begun.map_err(sqlite_err)?;
            let mut total = 0u64;
            let mut result = Ok(());
            for (s, p) in stmts {
                let r = prepare_one(conn, s).and_then(|mut st| {
                    bind_sqlite(&mut st, p)?;
                    st.raw_execute().map_err(sqlite_err)
                });
                match r {
                    Ok(n) => total += n as u64,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            self.host_mode.store(true, Ordering::Relaxed);
            let end = if result.is_ok() { conn.execute_batch("COMMIT") } else { conn.execute_batch("ROLLBACK") };
            self.host_mode.store(false, Ordering::Relaxed);
            result?;
            end.map_err(sqlite_err)?;
            Ok(total)
        })
    }

    fn migrate_sync(&self, sql: &str) -> Result<(), SqlError> {
        let conn = lock(self);
        self.host_mode.store(true, Ordering::Relaxed);
        let r = conn.execute_batch(&format!("BEGIN; {sql}\n; COMMIT;")).map_err(sqlite_err);
        if r.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        self.host_mode.store(false, Ordering::Relaxed);
        r
    }
}

/// Prepares exactly one statement: a second statement after the first (`…; DROP TABLE t`)
/// is refused rather than silently ignored. The trailing text is only prepared (which runs
/// the authorizer), never executed.
fn prepare_one<'c>(conn: &'c rusqlite::Connection, sql: &str) -> Result<rusqlite::Statement<'c>, SqlError> {
    let mut batch = rusqlite::Batch::new(conn, sql);
    let first = batch.next().map_err(sqlite_err)?.ok_or_else(|| SqlError::Query("empty statement".into()))?;
    match batch.next() {
        Ok(None) => Ok(first),
        Ok(Some(_)) | Err(_) => Err(SqlError::Denied("one statement per call".into())),
    }
}

/// What SQLite's interrupt maps to before [`SqliteNs::run`] names the limit.
const INTERRUPTED: &str = "statement exceeded its time limit";

/// The error for a statement stopped at its limit.
fn timed_out(limit: Duration) -> SqlError {
    SqlError::LimitExceeded(format!(
        "statement exceeded its {} ms time limit (limits.sql_statement_ms in plugins.toml)",
        limit.as_millis()
    ))
}

fn sqlite_err(e: rusqlite::Error) -> SqlError {
    match e {
        rusqlite::Error::SqliteFailure(f, msg) if f.code == rusqlite::ErrorCode::AuthorizationForStatementDenied => {
            SqlError::Denied(msg.unwrap_or_else(|| "not authorized".into()))
        }
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::OperationInterrupted => {
            SqlError::LimitExceeded(INTERRUPTED.into())
        }
        rusqlite::Error::MultipleStatement => SqlError::Denied("one statement per call".into()),
        other => SqlError::Query(other.to_string()),
    }
}

fn bind_sqlite(st: &mut rusqlite::Statement<'_>, params: &[Value]) -> Result<(), SqlError> {
    let expected = st.parameter_count();
    if expected != params.len() {
        return Err(SqlError::Query(format!("statement has {expected} parameters, {} given", params.len())));
    }
    for (i, p) in params.iter().enumerate() {
        let n = i + 1;
        let idx = st
            .parameter_index(&format!("${n}"))
            .map_err(sqlite_err)?
            .or(st.parameter_index(&format!("?{n}")).map_err(sqlite_err)?)
            .unwrap_or(n);
        let r = match p {
            Value::Null => st.raw_bind_parameter(idx, rusqlite::types::Null),
            Value::Integer(v) => st.raw_bind_parameter(idx, v),
            Value::Real(v) => st.raw_bind_parameter(idx, v),
            Value::Text(v) => st.raw_bind_parameter(idx, v),
            Value::Blob(v) => st.raw_bind_parameter(idx, v),
        };
        r.map_err(sqlite_err)?;
    }
    Ok(())
}

impl SqlNamespace {
    /// Creates (or opens) the namespace for `plugin` and applies its pending migrations.
    pub async fn provision(
        db: &Db,
        data_dir: &Path,
        plugin: &str,
        migrations: &[Migration],
        statement_timeout: Duration,
    ) -> anyhow::Result<SqlNamespace> {
        let ns = match db.backend {
            Backend::Sqlite => {
                let path = data_dir.join("plugins").join(format!("{plugin}.db"));
                let ns = tokio::task::spawn_blocking(move || SqliteNs::open(&path, statement_timeout)).await??;
                SqlNamespace::Sqlite(Arc::new(ns))
            }
            Backend::Postgres => SqlNamespace::Postgres(provision_pg(db, plugin, statement_timeout).await?),
        };
        ns.migrate(db, plugin, migrations).await?;
        Ok(ns)
    }

    async fn migrate(&self, db: &Db, plugin: &str, migrations: &[Migration]) -> anyhow::Result<()> {
        let mut ms: Vec<&Migration> = migrations.iter().collect();
        ms.sort_by_key(|m| m.version);
        for m in ms {
            let done = sqlx::query("SELECT 1 FROM plugin_migrations WHERE plugin = $1 AND version = $2")
                .bind(plugin)
                .bind(m.version as i64)
                .fetch_optional(&db.pool)
                .await?
                .is_some();
            if done {
                continue;
            }
            match self {
                SqlNamespace::Sqlite(ns) => {
                    let ns = ns.clone();
                    let sql = m.sqlite.clone();
                    tokio::task::spawn_blocking(move || ns.migrate_sync(&sql))
                        .await?
                        .map_err(|e| anyhow::anyhow!("plugin {plugin} migration {} ({}): {e:?}", m.version, m.name))?;
                }
                SqlNamespace::Postgres(pool) => {
                    // One simple-protocol message runs as one implicit transaction: all or nothing.
                    let (pool, sql) = (pool.clone(), m.postgres.clone());
                    tokio::spawn(async move { sqlx::raw_sql(&sql).execute(&pool).await.map(|_| ()) })
                        .await?
                        .map_err(|e| anyhow::anyhow!("plugin {plugin} migration {} ({}): {e}", m.version, m.name))?;
                }
            }
            sqlx::query("INSERT INTO plugin_migrations (plugin, version, name, applied_at) VALUES ($1, $2, $3, $4)")
                .bind(plugin)
                .bind(m.version as i64)
                .bind(&m.name)
                .bind(system_ms())
                .execute(&db.pool)
                .await?;
            tracing::info!(plugin, version = m.version, name = %m.name, "plugin migration applied");
        }
        Ok(())
    }

    pub async fn query(&self, stmt: String, params: Vec<Value>) -> Result<Rows, SqlError> {
        match self {
            SqlNamespace::Sqlite(ns) => {
                let ns = ns.clone();
                tokio::task::spawn_blocking(move || ns.query_sync(&stmt, &params))
                    .await
                    .map_err(|e| SqlError::Unavailable(e.to_string()))?
            }
            SqlNamespace::Postgres(pool) => pg_query(pool, &stmt, &params).await,
        }
    }

    pub async fn execute(&self, stmt: String, params: Vec<Value>) -> Result<u64, SqlError> {
        match self {
            SqlNamespace::Sqlite(ns) => {
                let ns = ns.clone();
                tokio::task::spawn_blocking(move || ns.execute_sync(&stmt, &params))
                    .await
                    .map_err(|e| SqlError::Unavailable(e.to_string()))?
            }
            SqlNamespace::Postgres(pool) => {
                let q = bind_pg(sqlx::query(&stmt), &params);
                q.execute(pool).await.map(|r| r.rows_affected()).map_err(pg_err)
            }
        }
    }

    pub async fn batch(&self, stmts: Vec<(String, Vec<Value>)>) -> Result<u64, SqlError> {
        match self {
            SqlNamespace::Sqlite(ns) => {
                let ns = ns.clone();
                tokio::task::spawn_blocking(move || ns.batch_sync(&stmts))
                    .await
                    .map_err(|e| SqlError::Unavailable(e.to_string()))?
            }
            SqlNamespace::Postgres(pool) => {
                // Owned and spawned: keeps sqlx's transaction future out of this one's Send proof.
                let pool = pool.clone();
                tokio::spawn(pg_batch(pool, stmts)).await.map_err(|e| SqlError::Unavailable(e.to_string()))?
            }
        }
    }
}

async fn pg_batch(pool: sqlx::PgPool, stmts: Vec<(String, Vec<Value>)>) -> Result<u64, SqlError> {
    let mut tx = pool.begin().await.map_err(pg_err)?;
    let mut total = 0;
    for (s, p) in &stmts {
        total += bind_pg(sqlx::query(s), p).execute(&mut *tx).await.map_err(pg_err)?.rows_affected();
    }
    tx.commit().await.map_err(pg_err)?;
    Ok(total)
}

/// The plugin's PostgreSQL role name for this database (roles are cluster-wide).
pub fn pg_role(db_name: &str, plugin: &str) -> String {
    use sha2::Digest;
    let h = hex::encode(&sha2::Sha256::digest(db_name.as_bytes())[..4]);
    format!("kiwi_{h}_{}", plugin.replace('-', "_"))
}

/// The plugin's schema name.
pub fn pg_schema(plugin: &str) -> String {
    format!("plugin_{}", plugin.replace('-', "_"))
}

async fn provision_pg(db: &Db, plugin: &str, statement_timeout: Duration) -> anyhow::Result<sqlx::PgPool> {
    use rand::Rng;
    let host_opts = PgConnectOptions::from_str(&db.url).context("parsing the PostgreSQL URL")?;
    let admin = sqlx::PgPool::connect_with(host_opts.clone()).await.context("connecting to PostgreSQL")?;
    let db_name: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&admin).await?;
    let role = pg_role(&db_name, plugin);
    let schema = pg_schema(plugin);
    let password = hex::encode(rand::rng().random::<[u8; 24]>());
    // Identifiers are generated from validated plugin names ([a-z0-9_]) — safe to interpolate.
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
        .bind(&role)
        .fetch_one(&admin)
        .await?;
    if !exists {
        sqlx::raw_sql(&format!(
            "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 32"
        ))
        .execute(&admin)
        .await
        .with_context(|| format!("creating role {role} (the host's database role needs CREATEROLE)"))?;
    }
    sqlx::raw_sql(&format!(
        "ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS PASSWORD '{password}';
         CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role};
         ALTER SCHEMA {schema} OWNER TO {role};
         REVOKE ALL ON SCHEMA public FROM {role};
         REVOKE CREATE ON SCHEMA public FROM PUBLIC;
         REVOKE ALL ON DATABASE \"{db_name}\" FROM PUBLIC;
         GRANT CONNECT ON DATABASE \"{db_name}\" TO {role};
         ALTER ROLE {role} SET search_path = {schema};
         ALTER ROLE {role} SET statement_timeout = '{}ms';
         ALTER ROLE {role} SET idle_in_transaction_session_timeout = '30s';
         ALTER ROLE {role} SET temp_file_limit = '256MB';",
        statement_timeout.as_millis()
    ))
    .execute(&admin)
    .await
    .with_context(|| format!("provisioning schema {schema}"))?;
    admin.close().await;
    let opts = host_opts.username(&role).password(&password).options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(opts)
        .await
        .with_context(|| format!("connecting as the plugin role {role}"))?;
    Ok(pool)
}

fn bind_pg<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    params: &'q [Value],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    for p in params {
        q = match p {
            // An untyped-enough NULL: int8 has assignment casts to text and numeric types.
            Value::Null => q.bind(None::<i64>),
            Value::Integer(v) => q.bind(*v),
            Value::Real(v) => q.bind(*v),
            Value::Text(v) => q.bind(v.as_str()),
            Value::Blob(v) => q.bind(v.as_slice()),
        };
    }
    q
}

fn pg_err(e: sqlx::Error) -> SqlError {
    match &e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.to_string()).unwrap_or_default();
            match code.as_str() {
                "42501" => SqlError::Denied(d.message().to_owned()),
                "57014" => {
                    SqlError::LimitExceeded("statement exceeded its time limit (limits.sql_statement_ms)".into())
                }
                "42601" if d.message().contains("multiple commands") => {
                    SqlError::Denied("one statement per call".into())
                }
                _ => SqlError::Query(d.message().to_owned()),
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            SqlError::Unavailable(e.to_string())
        }
        _ => SqlError::Query(e.to_string()),
    }
}

async fn pg_query(pool: &sqlx::PgPool, stmt: &str, params: &[Value]) -> Result<Rows, SqlError> {
    use futures::TryStreamExt;
    let q = bind_pg(sqlx::query(stmt), params);
    let mut stream = q.fetch(pool);
    let mut columns: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = stream.try_next().await.map_err(pg_err)? {
        if columns.is_empty() {
            columns = row.columns().iter().map(|c| c.name().to_owned()).collect();
        }
        if rows.len() >= MAX_ROWS {
            return Err(SqlError::LimitExceeded(format!("more than {MAX_ROWS} rows; add LIMIT")));
        }
        let mut out = Vec::with_capacity(row.len());
        for (i, col) in row.columns().iter().enumerate() {
            let raw = row.try_get_raw(i).map_err(pg_err)?;
            if raw.is_null() {
                out.push(Value::Null);
                continue;
            }
            let ty = col.type_info().name().to_owned();
            let v = match ty.as_str() {
                "INT2" => Value::Integer(row.try_get::<i16, _>(i).map_err(pg_err)? as i64),
                "INT4" => Value::Integer(row.try_get::<i32, _>(i).map_err(pg_err)? as i64),
                "INT8" => Value::Integer(row.try_get::<i64, _>(i).map_err(pg_err)?),
                "FLOAT4" => Value::Real(row.try_get::<f32, _>(i).map_err(pg_err)? as f64),
                "FLOAT8" => Value::Real(row.try_get::<f64, _>(i).map_err(pg_err)?),
                "BOOL" => Value::Integer(row.try_get::<bool, _>(i).map_err(pg_err)? as i64),
                "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => {
                    let s: String = row.try_get(i).map_err(pg_err)?;
                    bytes += s.len();
                    Value::Text(s)
                }
                "BYTEA" => {
                    let b: Vec<u8> = row.try_get(i).map_err(pg_err)?;
                    bytes += b.len();
                    Value::Blob(b)
                }
                other => {
                    return Err(SqlError::Query(format!(
                        "column {:?} has type {other}, which the sql capability does not return; cast it (e.g. ::double precision or ::text)",
                        col.name()
                    )));
                }
            };
            out.push(v);
        }
        bytes += 8 * out.len();
        if bytes > MAX_BYTES {
            return Err(SqlError::LimitExceeded(format!("result larger than {MAX_BYTES} bytes")));
        }
        rows.push(out);
    }
    Ok(Rows { columns, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns() -> SqliteNs {
        ns_with(Duration::from_secs(5))
    }

    fn ns_with(limit: Duration) -> SqliteNs {
        let dir = std::env::temp_dir().join(format!("kiwi-sqlns-{}", rand::random::<u64>()));
        SqliteNs::open(&dir.join("p.db"), limit).unwrap()
    }

    #[test]
    fn sqlite_sandbox_denies_escapes() {
        let ns = ns();
        ns.migrate_sync("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);").unwrap();
        assert!(matches!(ns.execute_sync("ATTACH DATABASE '/tmp/x.db' AS x", &[]), Err(SqlError::Denied(_))));
        assert!(matches!(ns.execute_sync("  /* hi */ VACUUM INTO '/tmp/y.db'", &[]), Err(SqlError::Denied(_))));
        assert!(matches!(ns.query_sync("PRAGMA writable_schema = ON", &[]), Err(SqlError::Denied(_))));
        // Extension loading is not even compiled in; either way the call fails.
        assert!(matches!(
            ns.query_sync("SELECT load_extension('x')", &[]),
            Err(SqlError::Denied(_) | SqlError::Query(_))
        ));
        assert!(matches!(ns.execute_sync("BEGIN", &[]), Err(SqlError::Denied(_))));
        assert!(matches!(
            ns.execute_sync("INSERT INTO t (v) VALUES ('a'); DROP TABLE t", &[]),
            Err(SqlError::Denied(_))
        ));
        // Normal use still works, and $n placeholders bind by number, not by order of appearance.
        ns.execute_sync("INSERT INTO t (id, v) VALUES ($2, $1)", &[Value::Text("x".into()), Value::Integer(7)])
            .unwrap();
        let rows = ns.query_sync("SELECT v FROM t WHERE id = $1", &[Value::Integer(7)]).unwrap();
        assert_eq!(rows.rows.len(), 1);
    }

    #[test]
    fn sqlite_batch_is_atomic_and_slow_queries_stop() {
        let ns = ns_with(Duration::from_millis(150));
        ns.migrate_sync("CREATE TABLE t (id INTEGER PRIMARY KEY);").unwrap();
        let r = ns.batch_sync(&[
            ("INSERT INTO t (id) VALUES (1)".into(), vec![]),
            ("INSERT INTO t (id) VALUES (1)".into(), vec![]),
        ]);
        assert!(r.is_err());
        assert!(matches!(ns.query_sync("SELECT COUNT(*) FROM t", &[]).unwrap().rows[0][0], Value::Integer(0)));
        // The plugin's own limit (`limits.sql_statement_ms`) stops an endless query, and says so.
        let started = std::time::Instant::now();
        let slow = ns
            .query_sync("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c", &[]);
        assert!(matches!(&slow, Err(SqlError::LimitExceeded(m)) if m.contains("150 ms")), "{slow:?}");
        assert!(started.elapsed() < Duration::from_secs(3), "stopped at the plugin's limit, not a default");
        // Other limits keep their own message.
        let many = ns.query_sync(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 60000) SELECT x FROM c",
            &[],
        );
        assert!(matches!(&many, Err(SqlError::LimitExceeded(m)) if m.contains("rows")), "{many:?}");
    }
}
