//! Token hot-path benchmarks: the offline parse + checksum check, and
//! `Tokens::verify` on a cache hit (a temp SQLite database, one user, one token).
//!
//! Run: `cargo bench -p kiwi-host --bench tokens`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::IpAddr;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use kiwi_host::clock::Clock;
use kiwi_host::config::Config;
use kiwi_host::db::Db;
use kiwi_host::principal::ScopeSet;
use kiwi_host::tokens::{Tokens, format};

/// Polls a future once: a cache hit never awaits, so it must be ready.
fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("verify awaited on a cache hit"),
    }
}

fn setup() -> (Tokens, String, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = std::env::temp_dir().join(format!("kiwi-bench-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let env: BTreeMap<String, String> = [
        ("KIWI_DATA_DIR".to_owned(), dir.display().to_string()),
        ("KIWI_DATABASE_URL".to_owned(), format!("sqlite://{}?mode=rwc", dir.join("kiwi.db").display())),
        ("KIWI_SECRET_KEY".to_owned(), "bench-secret-key-0123456789abcdef-0123456789".to_owned()),
    ]
    .into_iter()
    .collect();
    let config = Config::from_sources(None, &env).unwrap();
    let clock = Clock::default();
    let (tokens, raw) = rt.block_on(async {
        let db = Db::connect(&config.database_url).await.unwrap();
        db.migrate().await.unwrap();
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, is_active, is_verified, is_master, token_version, created_at, updated_at) \
             VALUES ('usr_bench', 'bench@example.com', 'x', 1, 1, 0, 0, 0, 0)",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        let tokens = Tokens::new(&config, &db, &clock).await.unwrap();
        let issued = tokens
            .create("usr_bench", "ten_default", "bench", ScopeSet::Mask(0b101), vec!["127.0.0.0/8".into(), "::1".into()], None)
            .await
            .unwrap();
        tokens.verify(&issued.secret, IpAddr::from([127, 0, 0, 1])).await.unwrap();
        (tokens, issued.secret)
    });
    (tokens, raw, rt)
}

fn bench(c: &mut Criterion) {
    let (tokens, raw, _rt) = setup();
    let ip = IpAddr::from([127, 0, 0, 1]);
    c.bench_function("token parse + checksum", |b| b.iter(|| format::check(black_box(&raw))));
    c.bench_function("verify (cache hit)", |b| {
        b.iter(|| ready(tokens.verify(black_box(&raw), black_box(ip))).unwrap());
    });
    assert_eq!(tokens.db_lookup_count(), 1, "every iteration was a cache hit");
}

criterion_group!(benches, bench);
criterion_main!(benches);
