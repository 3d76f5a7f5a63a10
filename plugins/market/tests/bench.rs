//! A rough native benchmark (ignored by default) of the performance targets, on the
//! test harness's in-memory SQLite: ingest of 100 000-listing dumps up to 1 000 000
//! stored listings, then `listings` and `summary` latencies (p50).
//!
//! Run: `cargo test --release -p kiwi-plugin-market --test bench -- --ignored --nocapture`

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::time::Instant;

use kiwi_plugin_market::{plugin, synthetic_dump_at, synthetic_item_names};
use kiwi_sdk::testing::TestClient;

/// CPU time of this thread, ms (the machine is shared: wall time overstates cost).
fn cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e6)
}

/// (p50 wall ms, p50 CPU ms).
fn p50(client: &TestClient, path: &str, runs: usize) -> (f64, f64) {
    let mut wall = Vec::with_capacity(runs);
    let mut cpu = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let c = cpu_ms();
        let res = client.get(path).send();
        cpu.push(cpu_ms() - c);
        wall.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(res.status, 200, "{path}: {}", res.text());
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (wall[runs / 2], cpu[runs / 2])
}

#[test]
#[ignore = "benchmark: run explicitly with --release"]
fn bench_million_listings() {
    let now = 1_749_988_800i64;
    let client = TestClient::new(plugin()).now(now).as_master();
    let dumps = 10;
    for k in 0..dumps {
        let dump = synthetic_dump_at(100_000, 1000 + k, now);
        let ts = now - 600 * (dumps as i64 - k as i64);
        let t = Instant::now();
        let c = cpu_ms();
        let res = client
            .post(&format!("/insert?timestamp={ts}"))
            .header("content-type", "text/plain")
            .body(dump.into_bytes())
            .send();
        assert_eq!(res.status, 200, "{}", res.text());
        eprintln!(
            "ingest {k}: wall {:.0} ms, cpu {:.0} ms: {}",
            t.elapsed().as_secs_f64() * 1000.0,
            cpu_ms() - c,
            res.text()
        );
    }
    // A re-scrape of already-stored listings.
    let dump = synthetic_dump_at(100_000, 1000 + dumps - 1, now);
    let t = Instant::now();
    let c = cpu_ms();
    let res = client.post("/insert").header("content-type", "text/plain").body(dump.into_bytes()).send();
    assert_eq!(res.status, 200);
    eprintln!("re-scrape ingest: wall {:.0} ms, cpu {:.0} ms", t.elapsed().as_secs_f64() * 1000.0, cpu_ms() - c);

    let names = synthetic_item_names();
    let name = names[17].replace(' ', "%20");
    for path in [
        "/listings".to_owned(),
        "/listings?sort=price_each".to_owned(),
        "/listings?sort=-price".to_owned(),
        "/listings?sort=name".to_owned(),
        "/listings?sort=created_at&limit=1000".to_owned(),
        format!("/listings?name={name}"),
        format!("/listings?name={name}&sort=-price_each"),
        "/listings?price_min=1000&price_max=1200".to_owned(),
        "/listings?price_min=1000&price_max=30000".to_owned(),
        "/listings?hide_expired=false".to_owned(),
        "/listings?last_seen_after=1749988000".to_owned(),
        format!("/items/{name}/summary"),
        "/items".to_owned(),
    ] {
        let (wall, cpu) = p50(&client, &path, 21);
        eprintln!("{path}: p50 wall {wall:.2} ms, cpu {cpu:.2} ms");
    }
}

#[test]
#[ignore = "diagnostic: prints SQLite query plans"]
fn print_query_plans() {
    use kiwi_plugin_market::reads::ListingsQuery;
    use kiwi_sdk::host::Host;
    let now = 1_749_988_800i64;
    let client = TestClient::new(plugin()).now(now).as_master();
    for q in [
        "",
        "sort=price_each",
        "sort=-price",
        "sort=created_at",
        "name=Chaos%20Core",
        "name=Chaos%20Core&sort=-price_each",
        "price_min=1000&price_max=30000",
        "price_min=1000&price_max=30000&sort=price_each",
    ] {
        let lq = ListingsQuery::parse(q).unwrap();
        for (label, st) in [
            ("rows", lq.rows_statement(now, 0)),
            ("rows*", lq.rows_statement(now, 1_000_000)),
            ("total", lq.total_statement(now)),
        ] {
            let plan = client.host().sql_query(&format!("EXPLAIN QUERY PLAN {}", st.0), &st.1).unwrap();
            let steps: Vec<String> =
                plan.rows.iter().map(|r| r.last().and_then(|v| v.as_str()).unwrap_or("").to_owned()).collect();
            eprintln!("{q:50} {label:5}: {}", steps.join(" | "));
        }
    }
}

#[test]
#[ignore = "benchmark: run explicitly with --release"]
fn bench_three_ingests() {
    let now = 1_749_988_800i64;
    let client = TestClient::new(plugin()).now(now).as_master();
    for k in 0..3 {
        let dump = synthetic_dump_at(100_000, 2000 + k, now);
        let c = cpu_ms();
        let res = client
            .post(&format!("/insert?timestamp={}", now - 100 + k as i64))
            .header("content-type", "text/plain")
            .body(dump.into_bytes())
            .send();
        assert_eq!(res.status, 200);
        eprintln!("ingest {k}: cpu {:.0} ms", cpu_ms() - c);
    }
}
