//! `loadgen`: the loopback benchmarks behind `cargo xtask bench`.
//!
//! Starts a baseline server (one axum route returning a small JSON: by default
//! this binary again, as its own process, `loadgen --serve-bare ADDR`, so that it
//! pays the same process boundary as kiwi; `--baseline in-process` runs it on a
//! second runtime inside the load generator instead) and the release `kiwi` binary (temp data dir,
//! SQLite unless `--database-url` names another database, the given
//! plugins.toml, a superuser from `KIWI_ADMIN_EMAIL` / `KIWI_ADMIN_PASSWORD`),
//! logs in, raises the default tenant's plan limit (master-only
//! `PATCH /tenants/default`) so the per-token limit never answers 429 during a
//! run, and runs one suite (`--suite`):
//!
//! - `load` (default): creates one API token per token scenario, then drives
//!   each scenario with N keep-alive HTTP/1.1 connections (one request in
//!   flight per connection, raw requests over `TcpStream`) for a warm-up and a
//!   measured period. The baseline runs first and last; ratios are against
//!   their mean. Scenarios: bare, health, whoami, hello, rotations
//!   (server-time), gems (`POST builds/calculate`), bare-again.
//! - `recorder`: the cost of the usage recorder on the plugin route: `hello`
//!   measured `--pairs` times with `usage_recording_enabled` on and off
//!   (alternated, the order swapped every pair, one server); reports each pair's
//!   cost (throughput and server CPU per request) and their medians. `--calibrate`
//!   keeps recording on in both halves (an A/A run): its spread is the noise floor.
//! - `market`: ingest and read latencies of the market plugin at 1 000 000
//!   stored listings ([`market`]).
//! - `mods`: read and build of a large mod through the mods plugin ([`heavy`]).
//! - `ocr`: OCR latency per reference screenshot and throughput at the plugin's
//!   concurrency limit ([`heavy`]; needs `--ocr-assets`).
//!
//! Prints a table per suite and writes the figures as JSON (`--out`). Exits
//! non-zero if a request saw a non-2xx answer or a transport error (the figures
//! would be meaningless).

mod heavy;
mod market;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const USAGE: &str = "usage: loadgen --kiwi PATH --plugins PATH [--suite load|recorder|market|mods|ocr] [--out PATH] \
[--duration SECS] [--warmup SECS] [--connections N] [--only NAME,...] [--set KEY=JSON]... \
[--baseline process|in-process] [--pairs N] [--calibrate] \
[--database-url URL] [--ocr-assets DIR] [--runs N] [--listings N] [--settle SECS]
       loadgen --serve-bare ADDR   (the baseline server alone)";
/// Targets from the issue: requests/s relative to the bare route at the same concurrency.
const PLUGIN_TARGET: f64 = 0.50;
const HOST_NATIVE_TARGET: f64 = 0.85;
/// Load connections of the `load` suite.
const LOAD_CONNECTIONS: usize = 32;
const ADMIN_EMAIL: &str = "bench@example.com";
const ADMIN_PASSWORD: &str = "bench password 12345";

/// Which benchmark to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suite {
    Load,
    Recorder,
    Market,
    Mods,
    Ocr,
}

#[derive(Debug)]
struct Args {
    suite: Suite,
    kiwi: PathBuf,
    plugins: PathBuf,
    out: Option<PathBuf>,
    duration: Duration,
    warmup: Duration,
    /// Load connections (default: 32 for `load`, the OCR plugin's concurrency limit for `ocr`).
    connections: Option<usize>,
    /// Run only these scenarios (profiling); the baseline always runs.
    only: Vec<String>,
    /// Runtime-config overrides (`PUT /admin/config/{key}`) applied before the scenarios.
    set: Vec<(String, Value)>,
    /// `KIWI_DATABASE_URL` for the server (default: SQLite in its temp data dir).
    database_url: Option<String>,
    /// A data dir holding `ocr/` (as `cargo xtask ocr-setup --data-dir DIR` leaves it).
    ocr_assets: Option<PathBuf>,
    /// Sequential samples per measured request in the latency suites.
    runs: usize,
    /// Stored listings the market suite ingests (in dumps of 100 000).
    listings: usize,
    /// Market suite: pause between the ingests and the reads (e.g. for a manual
    /// `VACUUM ANALYZE` on a PostgreSQL server without autovacuum).
    settle: Duration,
    /// Where the bare baseline runs.
    baseline: Baseline,
    /// Recorder suite: on/off pairs.
    pairs: usize,
    /// Recorder suite: an A/A run (recording on in both halves) that shows the noise floor.
    calibrate: bool,
}

/// Where the bare axum baseline runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Baseline {
    /// Its own process (this binary with `--serve-bare`), like kiwi.
    Process,
    /// A second runtime inside the load generator.
    InProcess,
}

fn parse_args() -> Result<Args, String> {
    let mut kiwi = None;
    let mut plugins = None;
    let mut out = None;
    let (mut duration, mut warmup, mut connections) = (5.0_f64, 1.0_f64, None::<usize>);
    let mut only = Vec::new();
    let mut set = Vec::new();
    let mut suite = Suite::Load;
    let (mut database_url, mut ocr_assets) = (None, None);
    let (mut runs, mut listings, mut settle) = (21_usize, 1_000_000_usize, 0.0_f64);
    let (mut baseline, mut pairs, mut calibrate) = (Baseline::Process, 5_usize, false);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--kiwi" => kiwi = Some(PathBuf::from(value()?)),
            "--plugins" => plugins = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--duration" => duration = value()?.parse().map_err(|e| format!("--duration: {e}"))?,
            "--warmup" => warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--only" => only = value()?.split(',').map(str::to_owned).collect(),
            "--set" => {
                let kv = value()?;
                let (k, v) = kv.split_once('=').ok_or(format!("--set {kv:?}: expected KEY=JSON"))?;
                let v: Value = serde_json::from_str(v).map_err(|e| format!("--set {kv:?}: {e}"))?;
                set.push((k.to_owned(), v));
            }
            "--connections" => connections = Some(value()?.parse().map_err(|e| format!("--connections: {e}"))?),
            "--suite" => {
                suite = match value()?.as_str() {
                    "load" => Suite::Load,
                    "recorder" => Suite::Recorder,
                    "market" => Suite::Market,
                    "mods" => Suite::Mods,
                    "ocr" => Suite::Ocr,
                    other => return Err(format!("--suite {other:?}: expected load, recorder, market, mods or ocr")),
                }
            }
            "--database-url" => database_url = Some(value()?),
            "--ocr-assets" => ocr_assets = Some(PathBuf::from(value()?)),
            "--runs" => runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--listings" => listings = value()?.parse().map_err(|e| format!("--listings: {e}"))?,
            "--settle" => settle = value()?.parse().map_err(|e| format!("--settle: {e}"))?,
            "--pairs" => pairs = value()?.parse().map_err(|e| format!("--pairs: {e}"))?,
            "--calibrate" => calibrate = true,
            "--baseline" => {
                baseline = match value()?.as_str() {
                    "process" => Baseline::Process,
                    "in-process" => Baseline::InProcess,
                    other => return Err(format!("--baseline {other:?}: expected process or in-process")),
                }
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unexpected argument {other:?}\n{USAGE}")),
        }
    }
    if !(duration > 0.0 && warmup >= 0.0 && settle >= 0.0 && connections != Some(0) && runs > 0 && pairs > 0) {
        return Err("--duration, --connections, --runs and --pairs must be positive".into());
    }
    if suite == Suite::Ocr && ocr_assets.is_none() {
        return Err(format!("--suite ocr needs --ocr-assets DIR (a data dir with ocr/)\n{USAGE}"));
    }
    Ok(Args {
        suite,
        kiwi: kiwi.ok_or(USAGE)?,
        plugins: plugins.ok_or(USAGE)?,
        out,
        duration: Duration::from_secs_f64(duration),
        warmup: Duration::from_secs_f64(warmup),
        connections,
        only,
        set,
        database_url,
        ocr_assets,
        runs,
        listings,
        settle: Duration::from_secs_f64(settle),
        baseline,
        pairs,
        calibrate,
    })
}

fn main() -> std::process::ExitCode {
    let mut argv = std::env::args().skip(1);
    if argv.next().as_deref() == Some("--serve-bare") {
        return match argv.next().map(|a| serve_bare(&a)) {
            Some(Ok(())) => std::process::ExitCode::SUCCESS,
            Some(Err(e)) => {
                eprintln!("loadgen --serve-bare: {e}");
                std::process::ExitCode::FAILURE
            }
            None => {
                eprintln!("{USAGE}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// One measured scenario.
#[derive(Debug, Clone)]
struct Scenario {
    name: &'static str,
    what: &'static str,
    addr: SocketAddr,
    method: &'static str,
    path: &'static str,
    token: Option<String>,
    /// Request body and its content type.
    body: Option<(&'static str, Arc<[u8]>)>,
}

impl Scenario {
    fn get(
        name: &'static str,
        what: &'static str,
        addr: SocketAddr,
        path: &'static str,
        token: Option<String>,
    ) -> Self {
        Scenario { name, what, addr, method: "GET", path, token, body: None }
    }

    fn post(self, content_type: &'static str, body: impl Into<Arc<[u8]>>) -> Self {
        Scenario { method: "POST", body: Some((content_type, body.into())), ..self }
    }

    fn request(&self) -> Vec<u8> {
        let body = self.body.as_ref().map(|(ct, b)| (*ct, &b[..]));
        raw_request(self.addr, self.method, self.path, self.token.as_deref(), body, true)
    }
}

#[derive(Debug, Clone, Default)]
struct Measured {
    requests: u64,
    errors: u64,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    first_error: Option<String>,
}

/// What a suite measured: its JSON document (written with `--out`) and the failures that
/// invalidate it.
struct Report {
    doc: Value,
    errors: Vec<String>,
}

fn run(args: &Args) -> Result<(), String> {
    let client_rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("client runtime: {e}"))?;
    let mut kiwi = Kiwi::start(args)?;
    let result = client_rt.block_on(async {
        let kiwi_addr = kiwi.addr;
        kiwi.wait_ready().await?;
        let jwt = setup(kiwi_addr, &args.set).await?;
        match args.suite {
            Suite::Load => load_suite(args, kiwi_addr, &jwt).await,
            Suite::Recorder => recorder_suite(args, kiwi_addr, kiwi.child.id(), &jwt).await,
            Suite::Market => market::run(args, kiwi_addr, &jwt).await,
            Suite::Mods => heavy::mods(args, kiwi_addr, &jwt).await,
            Suite::Ocr => heavy::ocr(args, kiwi_addr, &jwt).await,
        }
    });
    kiwi.stop();
    let report = result?;
    if let Some(out) = &args.out {
        let mut doc = report.doc;
        doc["cpus"] = json!(cpus());
        doc["load_average"] = json!(load_average());
        doc["runtime_config"] =
            Value::Object(args.set.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<serde_json::Map<_, _>>());
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        std::fs::write(out, text + "\n").map_err(|e| format!("{}: {e}", out.display()))?;
        println!("wrote {}", out.display());
    }
    if report.errors.is_empty() {
        Ok(())
    } else {
        Err(format!("requests with errors (figures invalid):\n  {}", report.errors.join("\n  ")))
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

/// The 1-minute load average (Linux), to record how busy the machine was.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// A `builds/calculate` body from the reference vectors (`calculators.jsonl`).
const GEMS_BUILD_BODY: &str = r#"{"build_type": "Light", "character": "Knight", "subclass": "Lunar Lancer", "food": "fishing_phys_3_base", "subclass_active": true}"#;

/// The `load` suite: throughput and latency at N connections, ratios against the baseline.
async fn load_suite(args: &Args, kiwi_addr: SocketAddr, jwt: &str) -> Result<Report, String> {
    let bare = start_baseline(args.baseline)?;
    let bare_addr = bare.addr;
    bare.wait_ready().await?;
    let connections = args.connections.unwrap_or(LOAD_CONNECTIONS);
    let mut tokens = Vec::new();
    for name in ["bench-whoami", "bench-hello", "bench-rotations", "bench-gems"] {
        tokens.push(create_token(kiwi_addr, jwt, name).await?);
    }
    let token = |i: usize| tokens.get(i).cloned();
    let mut scenarios = vec![
        Scenario::get("bare", "bare axum route (baseline)", bare_addr, "/bare", None),
        Scenario::get("health", "kiwi GET /health (host middleware only)", kiwi_addr, "/health", None),
        Scenario::get(
            "whoami",
            "kiwi GET /v1/whoami (token auth, scope, rate limit, metrics)",
            kiwi_addr,
            "/v1/whoami",
            token(0),
        ),
        Scenario::get(
            "hello",
            "kiwi GET /v1/hello/greet/bench (full plugin path)",
            kiwi_addr,
            "/v1/hello/greet/bench",
            token(1),
        ),
        Scenario::get(
            "rotations",
            "kiwi GET /v1/rotations/server-time (plugin)",
            kiwi_addr,
            "/v1/rotations/server-time",
            token(2),
        ),
        Scenario::get(
            "gems",
            "kiwi POST /v1/gems/builds/calculate (plugin, JSON body)",
            kiwi_addr,
            "/v1/gems/builds/calculate",
            token(3),
        )
        .post("application/json", GEMS_BUILD_BODY.as_bytes()),
    ];
    scenarios.push(Scenario {
        name: "bare-again",
        what: "bare axum route (baseline, repeated last)",
        ..scenarios[0].clone()
    });
    let mut results = Vec::new();
    let wanted =
        |s: &Scenario| args.only.is_empty() || s.name.starts_with("bare") || args.only.iter().any(|o| o == s.name);
    for s in scenarios.iter().filter(|s| wanted(s)) {
        let sample = probe(s).await?;
        eprintln!("{:<11} {} {} → {sample}", s.name, s.method, s.path);
        let m = measure(s, connections, args.warmup, args.duration).await;
        eprintln!(
            "{:<11} {:>9.0} req/s  p50 {:>7.0} µs  p99 {:>7.0} µs  errors {}  (load {:.2})",
            s.name,
            m.rps,
            m.p50_us,
            m.p99_us,
            m.errors,
            load_average().unwrap_or(0.0)
        );
        results.push((s.clone(), m));
    }
    Ok(report(args, connections, &results))
}

/// The `recorder` suite: `hello` with the usage recorder on and off, alternated.
async fn recorder_suite(args: &Args, kiwi_addr: SocketAddr, kiwi_pid: u32, jwt: &str) -> Result<Report, String> {
    let connections = args.connections.unwrap_or(LOAD_CONNECTIONS);
    let token = create_token(kiwi_addr, jwt, "bench-recorder").await?;
    let s = Scenario::get(
        "hello",
        "kiwi GET /v1/hello/greet/bench (full plugin path)",
        kiwi_addr,
        "/v1/hello/greet/bench",
        Some(token),
    );
    eprintln!("{:<11} {} {} → {}", s.name, s.method, s.path, probe(&s).await?);
    let set = |on: bool| async move {
        let path = "/admin/config/usage_recording_enabled";
        let (status, body) =
            http(kiwi_addr, "PUT", path, Some(jwt), Some(json!({"value": on || args.calibrate}))).await?;
        if status != 200 {
            return Err(format!("PUT {path}: {status} {body}"));
        }
        // Applied on this instance at once; the pause lets the flusher drain the other half's rows.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok::<(), String>(())
    };
    let (mut pairs, mut errors) = (Vec::new(), Vec::new());
    for i in 0..args.pairs {
        let order = if i % 2 == 0 { [true, false] } else { [false, true] };
        let (mut on, mut off) = (Phase::default(), Phase::default());
        for recording in order {
            set(recording).await?;
            // Warm up, then measure with the server's CPU time read around the measured part.
            measure(&s, connections, Duration::ZERO, args.warmup.max(Duration::from_millis(200))).await;
            let cpu0 = process_cpu_secs(kiwi_pid)?;
            let m = measure(&s, connections, Duration::ZERO, args.duration).await;
            let cpu = process_cpu_secs(kiwi_pid)? - cpu0;
            if m.errors > 0 {
                errors.push(format!(
                    "pair {i}: {} errors, first: {}",
                    m.errors,
                    m.first_error.as_deref().unwrap_or("?")
                ));
            }
            let phase = Phase { cpu_us_per_request: cpu * 1e6 / (m.requests.max(1) as f64), m };
            if recording { on = phase } else { off = phase }
        }
        let pair = Pair::new(on, off);
        eprintln!(
            "pair {i}: on {:>8.0} req/s {:>6.1} µs CPU/req, off {:>8.0} req/s {:>6.1} µs CPU/req: \
             throughput cost {:>5.1}%, CPU cost {:>5.1}%  (load {:.2})",
            pair.on.m.rps,
            pair.on.cpu_us_per_request,
            pair.off.m.rps,
            pair.off.cpu_us_per_request,
            pair.throughput_cost * 100.0,
            pair.cpu_cost * 100.0,
            load_average().unwrap_or(0.0)
        );
        pairs.push(pair);
    }
    set(true).await?;
    let throughput = median(pairs.iter().map(|p| p.throughput_cost).collect());
    let cpu = median(pairs.iter().map(|p| p.cpu_cost).collect());
    let total = |f: fn(&Pair) -> f64| pairs.iter().map(f).sum::<f64>();
    let pooled = 1.0 - total(|p| p.on.m.rps) / total(|p| p.off.m.rps).max(1.0);
    println!(
        "\nusage recorder on `hello`, {connections} connections, {} pairs of {:.0?}:\n  \
         server CPU per request: median cost {:.2}% (target ≤ 2%: {})\n  \
         throughput: median cost {:.1}%, pooled {:.1}%",
        pairs.len(),
        args.duration,
        cpu * 100.0,
        if cpu <= 0.02 { "met" } else { "NOT met" },
        throughput * 100.0,
        pooled * 100.0,
    );
    if args.calibrate {
        println!("  (--calibrate: recording was on in both halves; these costs are noise)");
    }
    let doc = json!({
        "suite": "recorder",
        "calibration_a_a": args.calibrate,
        "connections": connections,
        "duration_secs": args.duration.as_secs_f64(),
        "pairs": pairs.iter().map(|p| json!({
            "on_rps": p.on.m.rps.round(), "off_rps": p.off.m.rps.round(),
            "on_cpu_us_per_request": p.on.cpu_us_per_request, "off_cpu_us_per_request": p.off.cpu_us_per_request,
            "throughput_cost": p.throughput_cost, "cpu_cost": p.cpu_cost,
            "on_p50_us": p.on.m.p50_us, "off_p50_us": p.off.m.p50_us,
        })).collect::<Vec<_>>(),
        "median_cpu_cost": cpu,
        "median_throughput_cost": throughput,
        "pooled_throughput_cost": pooled,
        "target_max_cost": 0.02,
    });
    Ok(Report { doc, errors })
}

/// One half of a recorder pair.
#[derive(Debug, Default)]
struct Phase {
    m: Measured,
    /// The server process's CPU time (user + system) per request served.
    cpu_us_per_request: f64,
}

/// Recording on and off, back to back.
struct Pair {
    on: Phase,
    off: Phase,
    /// `1 - on/off` requests per second.
    throughput_cost: f64,
    /// `on/off - 1` server CPU per request.
    cpu_cost: f64,
}

impl Pair {
    fn new(on: Phase, off: Phase) -> Pair {
        let throughput_cost = if off.m.rps > 0.0 { 1.0 - on.m.rps / off.m.rps } else { 0.0 };
        let cpu_cost =
            if off.cpu_us_per_request > 0.0 { on.cpu_us_per_request / off.cpu_us_per_request - 1.0 } else { 0.0 };
        Pair { on, off, throughput_cost, cpu_cost }
    }
}

/// The median (mean of the middle two for an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// CPU seconds (user + system, all threads) a process has used (Linux `/proc/PID/stat`).
fn process_cpu_secs(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or("unexpected /proc stat format")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).ok_or("unexpected /proc stat format");
    // `rest` starts at field 3 (state): utime is index 11, stime index 12.
    Ok((ticks(11)? + ticks(12)?) / CLOCK_TICKS_PER_SECOND)
}

/// `sysconf(_SC_CLK_TCK)`, the unit of `/proc/PID/stat` times: 100 on every Linux this
/// runs on (USER_HZ is fixed by the ABI).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// The baseline's one route: a small JSON, as `/health` answers.
fn bare_router() -> axum::Router {
    axum::Router::new().route("/bare", axum::routing::get(|| async { axum::Json(json!({"status": "ok"})) }))
}

/// `--serve-bare ADDR`: the baseline server alone (default multi-thread runtime, as kiwi).
fn serve_bare(addr: &str) -> Result<(), String> {
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("binding {addr}: {e}"))?;
        axum::serve(listener, bare_router()).await.map_err(|e| e.to_string())
    })
}

/// The running baseline; a child process is killed when this is dropped.
struct Bare {
    addr: SocketAddr,
    child: Option<Child>,
}

impl Bare {
    async fn wait_ready(&self) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(format!("the baseline server did not listen on {} within 10 s", self.addr))
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the baseline where `--baseline` says.
fn start_baseline(kind: Baseline) -> Result<Bare, String> {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("baseline bind: {e}"))?;
    let addr = std_listener.local_addr().map_err(|e| e.to_string())?;
    if kind == Baseline::Process {
        drop(std_listener);
        let exe = std::env::current_exe().map_err(|e| format!("loadgen's own path: {e}"))?;
        let child = Command::new(exe)
            .arg("--serve-bare")
            .arg(addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting the baseline process: {e}"))?;
        eprintln!("baseline: pid {} on {addr}", child.id());
        return Ok(Bare { addr, child: Some(child) });
    }
    std_listener.set_nonblocking(true).map_err(|e| format!("baseline listener: {e}"))?;
    std::thread::Builder::new()
        .name("baseline".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("baseline runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("baseline listener");
                axum::serve(listener, bare_router()).await.expect("baseline server");
            });
        })
        .map_err(|e| format!("baseline thread: {e}"))?;
    Ok(Bare { addr, child: None })
}

/// The kiwi child process (killed, by its pid, when the run ends).
struct Kiwi {
    child: Child,
    addr: SocketAddr,
    data_dir: PathBuf,
}

impl Kiwi {
    fn start(args: &Args) -> Result<Kiwi, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("free port: {e}"))?
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let data_dir = std::env::temp_dir().join(format!("kiwi-bench-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        if let Some(assets) = &args.ocr_assets {
            // The OCR plugin finds its runtime and models under `$KIWI_DATA_DIR/ocr`.
            let ocr =
                std::fs::canonicalize(assets.join("ocr")).map_err(|e| format!("{}/ocr: {e}", assets.display()))?;
            std::os::unix::fs::symlink(&ocr, data_dir.join("ocr"))
                .map_err(|e| format!("linking {}: {e}", ocr.display()))?;
        }
        let log = std::fs::File::create(data_dir.join("kiwi.log")).map_err(|e| format!("kiwi.log: {e}"))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let plugins = std::fs::canonicalize(&args.plugins).map_err(|e| format!("{}: {e}", args.plugins.display()))?;
        let mut cmd = Command::new(&args.kiwi);
        cmd.arg("serve")
            .env("KIWI_BIND", addr.to_string())
            .env("KIWI_DATA_DIR", &data_dir)
            .env("KIWI_PLUGINS_FILE", &plugins)
            .env("KIWI_SECRET_KEY", "bench-secret-key-0123456789abcdef-0123456789")
            .env("KIWI_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("KIWI_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("KIWI_LOG_FORMAT", "json")
            .env_remove("KIWI_DATABASE_URL")
            .env_remove("KIWI_REDIS_URL")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        if let Some(url) = &args.database_url {
            cmd.env("KIWI_DATABASE_URL", url);
        }
        let child = cmd.spawn().map_err(|e| format!("starting {}: {e}", args.kiwi.display()))?;
        eprintln!("kiwi: pid {} on {addr}, data in {} (log: kiwi.log)", child.id(), data_dir.display());
        Ok(Kiwi { child, addr, data_dir })
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(120) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("kiwi exited ({status}); see {}", self.data_dir.join("kiwi.log").display()));
            }
            if let Ok((200, _)) = http(self.addr, "GET", "/health", None, None).await {
                eprintln!("kiwi: ready after {:.1?}", started.elapsed());
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err("kiwi did not answer /health within 120 s".into())
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Logs in the superuser, lifts the default tenant's per-token limit to the maximum
/// (1 000 000/min; every token created here belongs to that tenant), raises the per-user
/// token-creation limit (one token per scenario, so each has its own bucket), applies the
/// `--set` overrides and returns the superuser's access token.
async fn setup(addr: SocketAddr, set: &[(String, Value)]) -> Result<String, String> {
    let (status, body) =
        http(addr, "POST", "/auth/login", None, Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})))
            .await?;
    if status != 200 {
        return Err(format!("login: {status} {body}"));
    }
    let jwt = body["access_token"].as_str().ok_or("login: no access_token")?.to_owned();
    let (status, body) =
        http(addr, "PATCH", "/tenants/default", Some(&jwt), Some(json!({"rate_limit_per_min": 1_000_000}))).await?;
    if status != 200 {
        return Err(format!("PATCH /tenants/default: {status} {body}"));
    }
    let defaults = [("token_create_rate_limit_max".to_owned(), json!(100))];
    for (key, value) in defaults.iter().chain(set) {
        let (status, body) =
            http(addr, "PUT", &format!("/admin/config/{key}"), Some(&jwt), Some(json!({"value": value}))).await?;
        if status != 200 {
            return Err(format!("PUT /admin/config/{key}: {status} {body}"));
        }
        eprintln!("runtime config: {key} = {value}");
    }
    Ok(jwt)
}

/// Creates an API token with every scope.
async fn create_token(addr: SocketAddr, jwt: &str, name: &str) -> Result<String, String> {
    let (status, body) = http(addr, "POST", "/tokens", Some(jwt), Some(json!({"name": name, "scopes": ["*"]}))).await?;
    if status != 201 {
        return Err(format!("POST /tokens: {status} {body}"));
    }
    Ok(body["token"].as_str().ok_or("POST /tokens: no token")?.to_owned())
}

/// One request on a fresh connection: (status, JSON body or the text as a string).
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let mut conn = Conn::connect(addr).await?;
    let body = body.map(|b| b.to_string());
    let req =
        raw_request(addr, method, path, bearer, body.as_deref().map(|b| ("application/json", b.as_bytes())), false);
    let (status, bytes) = conn.roundtrip(&req).await?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

/// An HTTP/1.1 request: `bearer` as `Authorization`, `body` as (content type, bytes).
fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<(&str, &[u8])>,
    keep_alive: bool,
) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    if let Some(t) = bearer {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some((ct, b)) = body {
        head.push_str(&format!("Content-Type: {ct}\r\nContent-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    let mut req = head.into_bytes();
    if let Some((_, b)) = body {
        req.extend_from_slice(b);
    }
    req
}

/// One request before the load, to show what the scenario answers and fail early on errors.
async fn probe(s: &Scenario) -> Result<String, String> {
    let mut conn = Conn::connect(s.addr).await?;
    let (status, body) = conn.roundtrip(&s.request()).await?;
    let text = String::from_utf8_lossy(&body);
    if !(200..300).contains(&status) {
        return Err(format!("{} {}: status {status}: {text}", s.name, s.path));
    }
    let shown: String = text.chars().take(160).collect();
    Ok(format!("{status} {shown}"))
}

/// Drives `connections` keep-alive connections for `warmup + duration`; counts and times the
/// requests that start after the warm-up and end before the deadline.
async fn measure(s: &Scenario, connections: usize, warmup: Duration, duration: Duration) -> Measured {
    let req: Arc<[u8]> = s.request().into();
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let req = req.clone();
        let addr = s.addr;
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u32> = Vec::with_capacity(1 << 16);
            let (mut errors, mut first_error) = (0_u64, None::<String>);
            let mut conn = None;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                if conn.is_none() {
                    match Conn::connect(addr).await {
                        Ok(c) => conn = Some(c),
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    }
                }
                let Some(c) = conn.as_mut() else { continue };
                let outcome = c.roundtrip(&req).await;
                let t1 = Instant::now();
                let counted = t0 >= measure_from && t1 <= end;
                match outcome {
                    Ok((status, _)) if (200..300).contains(&status) => {
                        if counted {
                            lat.push(u32::try_from((t1 - t0).as_micros()).unwrap_or(u32::MAX));
                        }
                    }
                    Ok((status, body)) => {
                        if counted {
                            errors += 1;
                        }
                        first_error
                            .get_or_insert_with(|| format!("status {status}: {}", String::from_utf8_lossy(&body)));
                    }
                    Err(e) => {
                        if counted {
                            errors += 1;
                        }
                        first_error.get_or_insert(e);
                        conn = None;
                    }
                }
            }
            (lat, errors, first_error)
        }));
    }
    let mut all: Vec<u32> = Vec::new();
    let mut m = Measured::default();
    for t in tasks {
        match t.await {
            Ok((lat, errors, first_error)) => {
                all.extend(lat);
                m.errors += errors;
                if m.first_error.is_none() {
                    m.first_error = first_error;
                }
            }
            Err(e) => {
                m.errors += 1;
                m.first_error.get_or_insert(format!("client task: {e}"));
            }
        }
    }
    all.sort_unstable();
    m.requests = all.len() as u64;
    m.rps = m.requests as f64 / duration.as_secs_f64();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).map_or(0.0, |&v| f64::from(v))
    };
    m.p50_us = pct(0.50);
    m.p99_us = pct(0.99);
    m
}

/// Sequential wall times of one request (ms, sorted) and the last answer's body.
struct Timings {
    ms: Vec<f64>,
    last_body: Vec<u8>,
}

impl Timings {
    fn p50(&self) -> f64 {
        self.ms.get(self.ms.len() / 2).copied().unwrap_or(0.0)
    }

    fn max(&self) -> f64 {
        self.ms.last().copied().unwrap_or(0.0)
    }
}

/// Sends `req` `warmup` times untimed, then `runs` times timed, one at a time on `conn`.
/// Fails on the first non-2xx answer.
async fn timed(conn: &mut Conn, req: &[u8], warmup: usize, runs: usize) -> Result<Timings, String> {
    let mut ms = Vec::with_capacity(runs);
    let mut last_body = Vec::new();
    for i in 0..warmup + runs {
        let started = Instant::now();
        let (status, body) = conn.roundtrip(req).await?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        if !(200..300).contains(&status) {
            let text: String = String::from_utf8_lossy(&body).chars().take(300).collect();
            return Err(format!("status {status}: {text}"));
        }
        if i >= warmup {
            ms.push(elapsed);
        }
        last_body = body;
    }
    ms.sort_by(f64::total_cmp);
    Ok(Timings { ms, last_body })
}

/// The host's own (sum seconds, count) of a plugin route's `kiwi_http_request_duration_seconds`
/// from `/metrics`: dispatch start to response built (body read, plugin call, response), without
/// the response transfer. Two readings around a timed run give the host-side mean.
async fn route_totals(addr: SocketAddr, method: &str, route: &str) -> Result<(f64, u64), String> {
    let mut conn = Conn::connect(addr).await?;
    let (status, body) = conn.roundtrip(&raw_request(addr, "GET", "/metrics", None, None, false)).await?;
    if status != 200 {
        return Err(format!("GET /metrics: status {status}"));
    }
    let text = String::from_utf8_lossy(&body);
    let labels = format!("method=\"{method}\",route=\"{route}\"}}");
    let value = |metric: &str| {
        text.lines()
            .find(|l| l.starts_with(metric) && l.contains(&labels))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((value("kiwi_http_request_duration_seconds_sum{"), value("kiwi_http_request_duration_seconds_count{") as u64))
}

/// Times `runs` requests (after `warmup` untimed ones) and reads the host-side mean (ms) of
/// `route` over exactly those requests from `/metrics`.
async fn timed_with_host_mean(
    conn: &mut Conn,
    addr: SocketAddr,
    req: &[u8],
    (method, route): (&str, &str),
    warmup: usize,
    runs: usize,
) -> Result<(Timings, f64), String> {
    timed(conn, req, warmup, 0).await?;
    let (sum0, n0) = route_totals(addr, method, route).await?;
    let t = timed(conn, req, 0, runs).await?;
    let (sum1, n1) = route_totals(addr, method, route).await?;
    let mean = if n1 > n0 { (sum1 - sum0) * 1000.0 / (n1 - n0) as f64 } else { f64::NAN };
    Ok((t, mean))
}

/// A keep-alive HTTP/1.1 client connection.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn connect(addr: SocketAddr) -> Result<Conn, String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Conn { stream, buf: Vec::with_capacity(8192) })
    }

    /// Writes one request and reads its whole response: (status, body).
    async fn roundtrip(&mut self, req: &[u8]) -> Result<(u16, Vec<u8>), String> {
        self.stream.write_all(req).await.map_err(|e| format!("write: {e}"))?;
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| "non-UTF-8 response head".to_owned())?;
        let status: u16 =
            head.get(9..12).and_then(|s| s.parse().ok()).ok_or_else(|| format!("bad status line: {head:?}"))?;
        let mut length = None;
        let mut chunked = false;
        for line in head.split("\r\n").skip(1) {
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse::<usize>().ok();
                } else if k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked") {
                    chunked = true;
                }
            }
        }
        self.buf.drain(..head_end);
        let body = if chunked {
            self.read_chunked().await?
        } else {
            let n = length.ok_or("response without Content-Length or chunked encoding")?;
            while self.buf.len() < n {
                self.fill().await?;
            }
            self.buf.drain(..n).collect()
        };
        Ok((status, body))
    }

    async fn read_chunked(&mut self) -> Result<Vec<u8>, String> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.buf, b"\r\n") {
                    break i;
                }
                self.fill().await?;
            };
            let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("bad chunk size {size_text:?}"))?;
            self.buf.drain(..line_end + 2);
            while self.buf.len() < size + 2 {
                self.fill().await?;
            }
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
            if size == 0 {
                return Ok(body);
            }
        }
    }

    async fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0_u8; 64 * 1024];
        let n = self.stream.read(&mut chunk).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed by the server".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn report(args: &Args, connections: usize, results: &[(Scenario, Measured)]) -> Report {
    let get = |name: &str| results.iter().find(|(s, _)| s.name == name).map(|(_, m)| m.rps).unwrap_or(0.0);
    let baseline = (get("bare") + get("bare-again")) / 2.0;
    let ratio = |rps: f64| if baseline > 0.0 { rps / baseline } else { 0.0 };
    println!(
        "\nloopback, {} connections, {:.0?} measured after {:.0?} warm-up, {} CPUs; ratios vs the mean of the two baseline runs ({baseline:.0} req/s)",
        connections,
        args.duration,
        args.warmup,
        cpus()
    );
    println!(
        "{:<11} {:>10} {:>10} {:>10} {:>8} {:>7}  what",
        "scenario", "req/s", "p50 µs", "p99 µs", "ratio", "errors"
    );
    let mut rows = Vec::new();
    for (s, m) in results {
        println!(
            "{:<11} {:>10.0} {:>10.0} {:>10.0} {:>7.1}% {:>7}  {}",
            s.name,
            m.rps,
            m.p50_us,
            m.p99_us,
            ratio(m.rps) * 100.0,
            m.errors,
            s.what
        );
        rows.push(json!({
            "name": s.name, "what": s.what, "method": s.method, "path": s.path, "requests": m.requests, "errors": m.errors,
            "first_error": m.first_error, "rps": m.rps.round(), "p50_us": m.p50_us, "p99_us": m.p99_us,
            "ratio_vs_bare": (ratio(m.rps) * 1000.0).round() / 1000.0,
        }));
    }
    let host_native = ratio(get("whoami"));
    let plugin = ratio(get("hello"));
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "\ntargets: host-native (whoami) ≥ {:.0}% of bare: {:.1}% — {}",
        HOST_NATIVE_TARGET * 100.0,
        host_native * 100.0,
        verdict(host_native >= HOST_NATIVE_TARGET)
    );
    println!(
        "         plugin route (hello)  ≥ {:.0}% of bare: {:.1}% — {}",
        PLUGIN_TARGET * 100.0,
        plugin * 100.0,
        verdict(plugin >= PLUGIN_TARGET)
    );
    let doc = json!({
        "suite": "load",
        "connections": connections,
        "duration_secs": args.duration.as_secs_f64(),
        "warmup_secs": args.warmup.as_secs_f64(),
        "baseline_rps": baseline.round(),
        "scenarios": rows,
        "targets": {
            "host_native_min_ratio": HOST_NATIVE_TARGET, "host_native_ratio": host_native, "host_native_met": host_native >= HOST_NATIVE_TARGET,
            "plugin_min_ratio": PLUGIN_TARGET, "plugin_ratio": plugin, "plugin_met": plugin >= PLUGIN_TARGET,
        },
    });
    let errors = results
        .iter()
        .filter(|(_, m)| m.errors > 0)
        .map(|(s, m)| format!("{}: {} errors, first: {}", s.name, m.errors, m.first_error.as_deref().unwrap_or("?")))
        .collect();
    Report { doc, errors }
}
