//! `--suite market`: the market plugin at scale through the host (issue 7).
//!
//! Ingests `--listings` distinct synthetic listings (default 1 000 000) in dumps of
//! 100 000 (`kiwi_plugin_market::synthetic_dump_at`, creation times in the 6 days
//! before now) through the master ingest route `POST /v1/market/insert` — as the
//! superuser's session, which the per-token ingest cooldown does not apply to — with
//! `last_seen` 10 minutes apart inside the 3-hour "active" window, times each ingest
//! and one re-scrape (a failed ingest is reported and ends the ingest phase; the reads
//! then run on what is stored), then times a set of `listings` queries, an item `summary` and
//! `items` with sequential requests on one keep-alive connection (API token with
//! every scope). Run it on SQLite (default) and on PostgreSQL (`--database-url`);
//! `--settle SECS` pauses between the ingests and the reads.
//!
//! Targets: ingest of a 100 000-listing dump ≤ 2 s; at 1 000 000 stored listings,
//! `listings` p50 ≤ 5 ms and `summary` p50 ≤ 10 ms.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::{Args, Conn, Report, create_token, http, raw_request, timed};

/// Listings per ingested dump.
const DUMP_LISTINGS: usize = 100_000;
const INGEST_TARGET_MS: f64 = 2000.0;
const LISTINGS_TARGET_MS: f64 = 5.0;
const SUMMARY_TARGET_MS: f64 = 10.0;

pub(crate) async fn run(args: &Args, addr: SocketAddr, jwt: &str) -> Result<Report, String> {
    let token = create_token(addr, jwt, "bench-market").await?;
    // `hide_expired=false` also pays the secondary ("archive") bucket: lift it for the run.
    let (status, body) =
        http(addr, "PUT", "/admin/config/archive_rate_limit_max", Some(jwt), Some(json!({"value": 10_000}))).await?;
    if status != 200 {
        return Err(format!("PUT /admin/config/archive_rate_limit_max: {status} {body}"));
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs() as i64;
    let dumps = args.listings.div_ceil(DUMP_LISTINGS);
    let mut conn = Conn::connect(addr).await?;
    let mut ingests = Vec::new();
    let mut errors = Vec::new();
    println!("\nmarket: ingest through POST /v1/market/insert (master session), {} CPUs", crate::cpus());
    let mut last_dump = String::new();
    let mut stored = 0;
    for k in 0..dumps {
        let n = DUMP_LISTINGS.min(args.listings - k * DUMP_LISTINGS);
        let dump = kiwi_plugin_market::synthetic_dump_at(n, 1000 + k as u64, now);
        // Ten minutes apart, the last ten minutes ago: every dump stays "active" (3 h).
        let ts = now - 600 * (dumps - k) as i64;
        let path = format!("/v1/market/insert?timestamp={ts}");
        let (status, ms, answer) = ingest(&mut conn, addr, &path, jwt, &dump).await?;
        if status != 200 {
            // Reported as a failure; the reads still run on what is stored.
            println!("ingest {k:>2}: {n} listings: status {status} after {ms:.0} ms: {answer}");
            errors.push(format!("ingest {k}: status {status} after {ms:.0} ms: {answer}"));
            break;
        }
        stored = k * DUMP_LISTINGS + n;
        let imported = answer["imported"].as_u64().unwrap_or(0);
        if imported != n as u64 {
            errors.push(format!("ingest {k}: imported {imported} of {n}: {answer}"));
        }
        println!(
            "ingest {k:>2}: {n} listings, {:.1} MB, {ms:>7.0} ms (stored after: {}; load {:.2})",
            dump.len() as f64 / 1e6,
            k * DUMP_LISTINGS + n,
            crate::load_average().unwrap_or(0.0)
        );
        ingests.push(json!({"listings": n, "bytes": dump.len(), "ms": ms, "stored_after": k * DUMP_LISTINGS + n}));
        last_dump = dump;
    }
    // A re-scrape: the same listings again (only `last_seen` moves).
    let mut rescrape_ms = None;
    if errors.is_empty() {
        let path = format!("/v1/market/insert?timestamp={}", now - 60);
        let (status, ms, answer) = ingest(&mut conn, addr, &path, jwt, &last_dump).await?;
        println!("re-scrape of the last dump: status {status}, {ms:.0} ms");
        if status != 200 {
            errors.push(format!("re-scrape: status {status} after {ms:.0} ms: {answer}"));
        }
        rescrape_ms = Some(ms);
    }
    drop(last_dump);
    if !args.settle.is_zero() {
        println!("settling for {:.0?} before the reads", args.settle);
        tokio::time::sleep(args.settle).await;
    }

    let names = kiwi_plugin_market::synthetic_item_names();
    let name = names.get(17).map_or("Chaos Core", String::as_str).replace(' ', "%20");
    let queries: Vec<(String, &str, f64)> = vec![
        ("/listings".into(), "listings", LISTINGS_TARGET_MS),
        ("/listings?sort=price_each".into(), "listings", LISTINGS_TARGET_MS),
        ("/listings?sort=-price".into(), "listings", LISTINGS_TARGET_MS),
        ("/listings?sort=name".into(), "listings", LISTINGS_TARGET_MS),
        ("/listings?sort=created_at&limit=1000".into(), "listings", LISTINGS_TARGET_MS),
        (format!("/listings?name={name}"), "listings", LISTINGS_TARGET_MS),
        (format!("/listings?name={name}&sort=-price_each"), "listings", LISTINGS_TARGET_MS),
        ("/listings?price_min=1000&price_max=1200".into(), "listings", LISTINGS_TARGET_MS),
        ("/listings?price_min=1000&price_max=30000".into(), "listings", LISTINGS_TARGET_MS),
        ("/listings?hide_expired=false".into(), "listings", LISTINGS_TARGET_MS),
        (format!("/listings?last_seen_after={}", now - 1200), "listings", LISTINGS_TARGET_MS),
        (format!("/items/{name}/summary"), "summary", SUMMARY_TARGET_MS),
        ("/items".into(), "items", f64::INFINITY),
    ];
    println!(
        "\nmarket reads at {stored} stored listings: {} sequential requests each (after 2 untimed), one connection",
        args.runs
    );
    println!("{:<58} {:>9} {:>9} {:>8}  target", "GET /v1/market…", "p50 ms", "max ms", "total");
    let mut reads = Vec::new();
    for (path, kind, target) in &queries {
        let full = format!("/v1/market{path}");
        let req = raw_request(addr, "GET", &full, Some(&token), None, true);
        let t = timed(&mut conn, &req, 2, args.runs).await.map_err(|e| format!("GET {full}: {e}"))?;
        let body: Value = serde_json::from_slice(&t.last_body).unwrap_or(Value::Null);
        let total = body.get("total").or_else(|| body.get("count")).cloned().unwrap_or(Value::Null);
        let (p50, max) = (t.p50(), t.max());
        let met = p50 <= *target;
        let target_text = if target.is_finite() {
            format!("p50 ≤ {target} ms: {}", if met { "met" } else { "NOT met" })
        } else {
            "—".to_owned()
        };
        println!("{path:<58} {p50:>9.2} {max:>9.2} {total:>8}  {target_text}");
        reads.push(json!({"path": full, "kind": kind, "p50_ms": p50, "max_ms": max, "runs": args.runs,
            "total": total, "target_p50_ms": target.is_finite().then_some(*target), "met": met}));
    }
    let worst_ingest = ingests.iter().filter_map(|i| i["ms"].as_f64()).fold(0.0, f64::max);
    println!(
        "\ntargets: ingest of 100 000 listings ≤ {INGEST_TARGET_MS:.0} ms: worst {worst_ingest:.0} ms — {}",
        if worst_ingest <= INGEST_TARGET_MS { "met" } else { "NOT met" }
    );
    let doc = json!({
        "suite": "market",
        "database": if args.database_url.as_deref().is_some_and(|u| u.starts_with("postgres")) { "postgresql" } else { "sqlite" },
        "stored_listings": stored,
        "ingests": ingests,
        "rescrape_ms": rescrape_ms,
        "settle_secs": args.settle.as_secs_f64(),
        "ingest_target_ms": INGEST_TARGET_MS,
        "worst_ingest_ms": worst_ingest,
        "reads": reads,
    });
    Ok(Report { doc, errors })
}

/// One timed ingest: (status, wall ms, the JSON answer).
async fn ingest(
    conn: &mut Conn,
    addr: SocketAddr,
    path: &str,
    jwt: &str,
    dump: &str,
) -> Result<(u16, f64, Value), String> {
    let req = raw_request(addr, "POST", path, Some(jwt), Some(("text/plain", dump.as_bytes())), true);
    let started = Instant::now();
    let (status, body) = conn.roundtrip(&req).await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let answer: Value = serde_json::from_slice(&body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&body)));
    Ok((status, ms, answer))
}
