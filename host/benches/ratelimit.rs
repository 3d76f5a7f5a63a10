//! Rate-limiter decision cost: the in-process sliding log (target ≤ 1 µs median)
//! and the Redis backend (one round trip; skipped when Redis is not reachable).
//!
//! Run: `cargo bench -p kiwi-host --bench ratelimit`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use kiwi_host::clock::Clock;
use kiwi_host::db::Db;
use kiwi_host::ratelimit::{Bucket, Limiter};
use kiwi_host::runtime_config::RuntimeConfig;

fn setup(rt: &tokio::runtime::Runtime, redis: bool) -> Option<(Limiter, Clock)> {
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("kiwi-bench-{:016x}", rand::random::<u64>()));
        let db = Db::connect(&format!("sqlite://{}?mode=rwc", dir.join("b.db").display())).await.ok()?;
        db.migrate().await.ok()?;
        let clock = Clock::pinned(1_893_456_000_000);
        let rc = Arc::new(RuntimeConfig::new(&db, &clock).await.ok()?);
        let conn = if redis {
            let client = redis::Client::open("redis://127.0.0.1:6379").ok()?;
            let cm = tokio::time::timeout(Duration::from_secs(2), redis::aio::ConnectionManager::new(client))
                .await
                .ok()?
                .ok()?;
            Some((cm, format!("kiwi:bench{:08x}:rl:", rand::random::<u32>()), "ins_bench".to_owned()))
        } else {
            None
        };
        Some((Limiter::new(conn, &clock, rc, &db), clock))
    })
}

fn in_process(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let Some((limiter, clock)) = setup(&rt, false) else { return };
    // 1000 keys round-robin, the clock advancing 1 ms per decision: each key sees a
    // request per second, 60 in its 60 s window under a limit of 120 — always admitted,
    // with a realistic log length.
    let buckets: Vec<Bucket> =
        (0..1000).map(|i| Bucket { key: format!("token:tok_{i:016x}"), limit: 120, window_secs: 60 }).collect();
    let mut now = 1_893_456_000_000i64;
    let mut i = 0usize;
    c.bench_function("ratelimit/in_process/admitted", |b| {
        b.iter(|| {
            now += 1;
            clock.pin(Some(now));
            i = (i + 1) % buckets.len();
            let d = limiter.check_local(&buckets[i]);
            std::hint::black_box(d)
        })
    });
    // A saturated key: every decision is a rejection.
    let hot = Bucket { key: "token:hot".into(), limit: 120, window_secs: 60 };
    c.bench_function("ratelimit/in_process/rejected", |b| b.iter(|| std::hint::black_box(limiter.check_local(&hot))));
}

fn redis_round_trip(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let Some((limiter, clock)) = setup(&rt, true) else {
        eprintln!("Redis at 127.0.0.1:6379 not reachable: skipping the Redis benchmark");
        return;
    };
    let buckets: Vec<Bucket> =
        (0..1000).map(|i| Bucket { key: format!("token:tok_{i:016x}"), limit: 120, window_secs: 60 }).collect();
    let mut now = 1_893_456_000_000i64;
    let mut i = 0usize;
    c.bench_function("ratelimit/redis/admitted", |b| {
        b.iter(|| {
            now += 1;
            clock.pin(Some(now));
            i = (i + 1) % buckets.len();
            std::hint::black_box(rt.block_on(limiter.check(&buckets[i])))
        })
    });
}

criterion_group!(benches, in_process, redis_round_trip);
criterion_main!(benches);
