//! Builds the fixture plugins from source (once per test run) and writes
//! plugins.toml files pointing at them. Never uses committed `.wasm`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

/// Where fixture builds go (a separate target dir: no lock fight with the outer cargo).
pub fn fixture_target() -> PathBuf {
    std::env::var("KIWI_FIXTURE_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join("target").join("fixtures"))
}

/// Built artifacts.
#[derive(Debug, Clone)]
pub struct Artifacts {
    pub hello: PathBuf,
    pub probe: PathBuf,
    pub bad_abi: PathBuf,
    pub native_echo: PathBuf,
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("running cargo to build fixtures");
    assert!(out.status.success(), "fixture build failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

/// Builds (incrementally) every fixture plugin and returns their paths.
pub fn artifacts() -> &'static Artifacts {
    static A: OnceLock<Artifacts> = OnceLock::new();
    A.get_or_init(|| {
        let target = fixture_target();
        run(Command::new(cargo())
            .current_dir(workspace())
            .env("CARGO_TARGET_DIR", &target)
            .args(["build", "--quiet", "--target", "wasm32-wasip2", "--profile", "wasm"])
            .args(["-p", "kiwi-plugin-hello", "-p", "kiwi-fixture-probe", "-p", "kiwi-fixture-bad-abi"]));
        run(Command::new(cargo()).current_dir(workspace()).env("CARGO_TARGET_DIR", &target).args([
            "build",
            "--quiet",
            "-p",
            "kiwi-fixture-native-echo",
        ]));
        let wasm = target.join("wasm32-wasip2").join("wasm");
        Artifacts {
            hello: wasm.join("kiwi_plugin_hello.wasm"),
            probe: wasm.join("kiwi_fixture_probe.wasm"),
            bad_abi: wasm.join("kiwi_fixture_bad_abi.wasm"),
            native_echo: target.join("debug").join(format!(
                "{}kiwi_fixture_native_echo{}",
                std::env::consts::DLL_PREFIX,
                std::env::consts::DLL_SUFFIX
            )),
        }
    })
}

/// A plugins.toml with hello, probe (tight limits) and native-echo.
pub fn standard_toml(extra: &str) -> String {
    let a = artifacts();
    format!(
        r#"[plugins.hello]
path = "{hello}"

[plugins.probe]
path = "{probe}"
allowed_hosts = ["127.0.0.1", "localhost"]
[plugins.probe.limits]
memory_mib = 32
timeout_ms = 400
max_concurrency = 4
max_response_mib = 1

[plugins.native-echo]
path = "{native}"
tier = "native"
{extra}
"#,
        hello = a.hello.display(),
        probe = a.probe.display(),
        native = a.native_echo.display(),
    )
}
