//! A criterion-free timing of a 20 MB mod, read and build, core and through the
//! handlers (JSON, base64). Ignored by default; run natively with
//! `cargo test --release -p kiwi-plugin-mods --test bench -- --ignored --nocapture`.

#![allow(clippy::unwrap_used)] // test code

use std::time::{Duration, Instant};

use kiwi_plugin_mods::builder::{KIWI_MOD_LOADER, build_tmod};
use kiwi_plugin_mods::reader::read_tmod;
use kiwi_plugin_mods::{b64, plugin, synthetic_files};
use kiwi_sdk::testing::TestClient;

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn cpu_now() -> Option<Duration> {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.sec as u64, ts.nsec as u32))
}

/// This thread's CPU time where available (so a loaded machine does not
/// inflate the figures), wall time elsewhere.
#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn cpu_now() -> Option<Duration> {
    None
}

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let (t, c) = (Instant::now(), cpu_now());
            std::hint::black_box(f());
            match (c, cpu_now()) {
                (Some(a), Some(b)) => b.saturating_sub(a),
                _ => t.elapsed(),
            }
        })
        .min()
        .unwrap_or_default()
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn twenty_megabyte_mod() {
    // 20 files of 1 MB each (pseudo-random bytes, so nothing compresses).
    let files = synthetic_files(20, 1_000_000);
    let props = vec![("title".to_owned(), "Big".to_owned())];
    let tmod = build_tmod(1, &props, &files, KIWI_MOD_LOADER, true).unwrap();
    eprintln!("mod size: {} bytes", tmod.len());

    let build = best(5, || build_tmod(1, &props, &files, KIWI_MOD_LOADER, true).unwrap());
    let read = best(5, || read_tmod(&tmod, false).unwrap());
    let read_md = best(5, || read_tmod(&tmod, true).unwrap());

    let client = TestClient::new(plugin());
    let http_read = best(3, || {
        let res = client.post("/read").body(tmod.clone()).send();
        assert_eq!(res.status, 200);
        res.body.len()
    });
    let body = {
        let mut s = String::from(r#"{"version":1,"properties":{"title":"Big"},"files":["#);
        for (i, (p, c)) in files.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&format!(r#"{{"path":"{p}","content_base64":"{}"}}"#, b64::encode(c)));
        }
        s.push_str("]}");
        s.into_bytes()
    };
    let http_build = best(3, || {
        let res = client.post("/build").body(body.clone()).send();
        assert_eq!(res.status, 200);
        assert!(res.body == tmod);
    });
    let parse = best(3, || {
        let v = kiwi_plugin_mods::request::parse_body(&body).unwrap();
        std::hint::black_box(&v);
    });
    let one = b64::encode(&files[0].1);
    let decode = best(3, || b64::decode_strict(&one).unwrap());
    let encode = best(3, || b64::encode(&files[0].1));
    let t = read_tmod(&tmod, false).unwrap();
    let to_json = best(3, || kiwi_plugin_mods::read_response_json(&t, false));
    eprintln!("parse JSON body:         {parse:?}");
    eprintln!("b64 decode 1 MB:         {decode:?}");
    eprintln!("b64 encode 1 MB:         {encode:?}");
    eprintln!("read response to JSON:   {to_json:?}");
    eprintln!("build (core):            {build:?}");
    eprintln!("read (core):             {read:?}");
    eprintln!("read metadata_only:      {read_md:?}");
    eprintln!("POST /read (+JSON/b64):  {http_read:?}");
    eprintln!("POST /build (+JSON/b64): {http_build:?} ({} byte JSON body)", body.len());
}
