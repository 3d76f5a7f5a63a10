//! `--suite mods` and `--suite ocr`: single heavy requests through the host, timed one
//! at a time on a keep-alive connection (wall time at the client: loopback transfer,
//! host dispatch and the plugin's work).
//!
//! Besides the client's wall time, each row gives the host-side mean from `/metrics`
//! (dispatch start to response built: body read, plugin call, response — without the
//! response transfer).
//!
//! - `mods` (issue 8; target ≤ 100 ms each): `POST /v1/mods/read` of a 20 MB `.tmod`
//!   (20 files of 1 MB of pseudo-random bytes, built natively with the plugin's own
//!   builder, as `plugins/mods/tests/bench.rs` does) and `POST /v1/mods/build` of the
//!   largest such mod whose JSON request fits the routes' 20 MiB body cap (the
//!   original's `mods_max_request_body_bytes`): base64 makes a 20 MB mod's build
//!   request ≈ 26.7 MB, so the build is timed with 15 files (a 15 MB mod, ≈ 20.0 MB
//!   request). The built bytes are checked against the native builder's.
//! - `ocr` (issue 10; target p50 ≤ 300 ms): `POST /v1/ocr/character` with each
//!   reference screenshot (`tests/reference/vectors/ocr/img-*.png`), the first call
//!   (engine load) timed separately; then the throughput with as many connections as
//!   the plugin's `max_concurrency` (`--connections`, default 2 here).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use kiwi_plugin_mods::builder::{KIWI_MOD_LOADER, build_tmod};
use kiwi_plugin_mods::{synthetic_build_request, synthetic_files};
use serde_json::{Value, json};

use crate::{
    Args, Conn, Report, Scenario, create_token, load_average, measure, probe, raw_request, timed, timed_with_host_mean,
};

const MODS_TARGET_MS: f64 = 100.0;
const OCR_TARGET_MS: f64 = 300.0;
/// Files (1 MB each) of the mod that is read; of the mod that is built (see the module docs).
const READ_FILES: usize = 20;
const BUILD_FILES: usize = 15;
/// The OCR plugin's `max_concurrency` in plugins.toml: the load connections of the throughput run.
const OCR_CONCURRENCY: usize = 2;

pub(crate) async fn mods(args: &Args, addr: SocketAddr, jwt: &str) -> Result<Report, String> {
    let token = create_token(addr, jwt, "bench-mods").await?;
    let props = vec![("title".to_owned(), "Big".to_owned())];
    let files = synthetic_files(READ_FILES, 1_000_000);
    let tmod = build_tmod(1, &props, &files, KIWI_MOD_LOADER, true).map_err(|e| format!("native build: {e:?}"))?;
    let build_files = &files[..BUILD_FILES];
    let expected =
        build_tmod(1, &props, build_files, KIWI_MOD_LOADER, true).map_err(|e| format!("native build: {e:?}"))?;
    let build_body = synthetic_build_request(build_files);
    let mut conn = Conn::connect(addr).await?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    println!("\nmods through the host: {} sequential requests each (after 1 untimed), one connection", args.runs);
    println!(
        "{:<44} {:>8} {:>9} {:>8} {:>8} {:>9}  target",
        "request", "body MB", "answer MB", "p50 ms", "max ms", "host ms"
    );
    let read_req =
        raw_request(addr, "POST", "/v1/mods/read", Some(&token), Some(("application/octet-stream", &tmod)), true);
    let build_req =
        raw_request(addr, "POST", "/v1/mods/build", Some(&token), Some(("application/json", &build_body)), true);
    for (what, route, req, body_len, check) in [
        (format!("POST /v1/mods/read ({READ_FILES} MB .tmod)"), "/v1/mods/read", &read_req, tmod.len(), None),
        (
            format!("POST /v1/mods/build ({BUILD_FILES} MB .tmod)"),
            "/v1/mods/build",
            &build_req,
            build_body.len(),
            Some(&expected),
        ),
    ] {
        let (t, host_ms) = timed_with_host_mean(&mut conn, addr, req, ("POST", route), 1, args.runs)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        match check {
            Some(expected) if &t.last_body != expected => {
                errors.push(format!("{what}: the built bytes differ from the native builder's"));
            }
            None => {
                let answer: Value = serde_json::from_slice(&t.last_body).unwrap_or(Value::Null);
                if answer["file_count"].as_u64() != Some(READ_FILES as u64) {
                    errors.push(format!("{what}: unexpected answer (file_count {})", answer["file_count"]));
                }
            }
            Some(_) => {}
        }
        let (p50, max) = (t.p50(), t.max());
        let met = p50 <= MODS_TARGET_MS;
        println!(
            "{what:<44} {:>8.1} {:>9.1} {p50:>8.1} {max:>8.1} {host_ms:>9.1}  p50 ≤ {MODS_TARGET_MS} ms: {}  (load {:.2})",
            body_len as f64 / 1e6,
            t.last_body.len() as f64 / 1e6,
            if met { "met" } else { "NOT met" },
            load_average().unwrap_or(0.0)
        );
        rows.push(json!({"request": what, "body_bytes": body_len, "answer_bytes": t.last_body.len(),
            "p50_ms": p50, "max_ms": max, "host_mean_ms": host_ms, "runs": args.runs, "target_ms": MODS_TARGET_MS,
            "met": met}));
    }
    Ok(Report { doc: json!({"suite": "mods", "requests": rows}), errors })
}

/// The reference screenshots, sorted by name.
fn screenshots() -> Result<Vec<PathBuf>, String> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/reference/vectors/ocr"));
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(format!("no screenshots in {}", dir.display()));
    }
    Ok(out)
}

pub(crate) async fn ocr(args: &Args, addr: SocketAddr, jwt: &str) -> Result<Report, String> {
    let token = create_token(addr, jwt, "bench-ocr").await?;
    let shots = screenshots()?;
    let mut conn = Conn::connect(addr).await?;
    let mut rows = Vec::new();
    let mut all_ms = Vec::new();
    println!("\nocr through the host: POST /v1/ocr/character, raw PNG bodies, {} CPUs", crate::cpus());
    for (i, path) in shots.iter().enumerate() {
        let png = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let req = raw_request(addr, "POST", "/v1/ocr/character", Some(&token), Some(("image/png", &png)), true);
        if i == 0 {
            // The engine (ONNX Runtime + models) loads on the first call.
            let started = Instant::now();
            let first = timed(&mut conn, &req, 0, 1).await.map_err(|e| format!("{name}: {e}"))?;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let answer: Value = serde_json::from_slice(&first.last_body).unwrap_or(Value::Null);
            println!("first call ({name}, engine load included): {ms:.0} ms, matched {}", answer["matched"]);
            rows.push(json!({"image": name, "first_call_ms": ms}));
        }
        let (t, host_ms) = timed_with_host_mean(&mut conn, addr, &req, ("POST", "/v1/ocr/character"), 1, args.runs)
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        let answer: Value = serde_json::from_slice(&t.last_body).unwrap_or(Value::Null);
        println!(
            "{name:<12} {:>7.0} KB  p50 {:>7.1} ms  max {:>7.1} ms  host mean {host_ms:>7.1} ms  matched {}  (load {:.2})",
            png.len() as f64 / 1e3,
            t.p50(),
            t.max(),
            answer["matched"],
            load_average().unwrap_or(0.0)
        );
        rows.push(json!({"image": name, "bytes": png.len(), "p50_ms": t.p50(), "max_ms": t.max(),
            "host_mean_ms": host_ms, "runs": args.runs, "matched": answer["matched"]}));
        all_ms.extend(t.ms);
    }
    all_ms.sort_by(f64::total_cmp);
    let median = all_ms.get(all_ms.len() / 2).copied().unwrap_or(0.0);
    let met = median <= OCR_TARGET_MS;
    println!(
        "median over every screenshot run: {median:.1} ms — target ≤ {OCR_TARGET_MS} ms: {}",
        if met { "met" } else { "NOT met" }
    );

    // Throughput at the concurrency limit (more connections would be answered 503 plugin_busy).
    let png = std::fs::read(&shots[0]).map_err(|e| format!("{}: {e}", shots[0].display()))?;
    let connections = args.connections.unwrap_or(OCR_CONCURRENCY);
    let s = Scenario::get("ocr", "kiwi POST /v1/ocr/character", addr, "/v1/ocr/character", Some(token))
        .post("image/png", png);
    probe(&s).await?;
    let m = measure(&s, connections, args.warmup, args.duration).await;
    println!(
        "throughput ({connections} connections, {:.0?}): {:.2} req/s, p50 {:.0} ms, p99 {:.0} ms, errors {}  (load {:.2})",
        args.duration,
        m.rps,
        m.p50_us / 1000.0,
        m.p99_us / 1000.0,
        m.errors,
        load_average().unwrap_or(0.0)
    );
    let errors = if m.errors > 0 {
        vec![format!("ocr throughput: {} errors, first: {}", m.errors, m.first_error.as_deref().unwrap_or("?"))]
    } else {
        Vec::new()
    };
    let doc = json!({
        "suite": "ocr",
        "images": rows,
        "median_ms": median, "target_ms": OCR_TARGET_MS, "met": met,
        "throughput": {"connections": connections, "duration_secs": args.duration.as_secs_f64(), "rps": m.rps,
            "p50_ms": m.p50_us / 1000.0, "p99_ms": m.p99_us / 1000.0, "requests": m.requests, "errors": m.errors},
    });
    Ok(Report { doc, errors })
}
