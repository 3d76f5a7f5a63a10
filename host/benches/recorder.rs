//! Usage-recorder cost per plugin request, with the server's allocator (mimalloc):
//! - `event`: building the event as the dispatcher does (owned copies of its strings);
//! - `push`: the recorder proper, folding the event into the pending rows;
//! - `record`: what the dispatcher calls: the `/metrics` series (kept whether or not
//!   recording is on) plus `push`;
//! - `one_second_at_50k_rps_with_flush`: one second of traffic at 50 000 req/s from 4
//!   tokens (events built and pushed), then the flush that writes it to SQLite: the
//!   recorder's whole per-request cost is this time / 50 000.
//!
//! Run: `cargo bench -p kiwi-host --bench recorder`.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use kiwi_host::usage::UsageEvent;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn event(i: usize) -> UsageEvent {
    // What `dispatch::record_usage` builds: owned copies of the request's strings.
    let token = ["tok_aaaaaaaaaaaaaaaa", "tok_bbbbbbbbbbbbbbbb", "tok_cccccccccccccccc", "tok_dddddddddddddddd"][i % 4];
    UsageEvent {
        tenant_id: Some("ten_default".to_owned()),
        user_id: Some("usr_0123456789abcdef".to_owned()),
        token_id: Some(token.to_owned()),
        plugin: "hello".to_owned(),
        method: "GET".to_owned(),
        route: format!("/v1/{}{}", "hello", "/greet/{name}"),
        status: 200,
        latency: Duration::from_micros(300 + (i % 50) as u64),
        bytes_in: 0,
        bytes_out: 27,
        client_ip: IpAddr::from([127, 0, 0, 1]),
    }
}

fn recorder(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (app, dir) = common::app(&rt, "");
    let usage = app.state().usage.clone();
    let mut i = 0usize;
    c.bench_function("recorder/event", |b| {
        b.iter(|| {
            i += 1;
            std::hint::black_box(event(i))
        })
    });
    c.bench_function("recorder/push", |b| {
        b.iter(|| {
            i += 1;
            usage.push(event(i));
        })
    });
    rt.block_on(usage.flush());
    c.bench_function("recorder/record", |b| {
        b.iter(|| {
            i += 1;
            usage.record(event(i));
        })
    });
    rt.block_on(usage.flush());
    // One second of traffic at 50 000 req/s, then its flush: per-request cost = time / 50 000.
    let mut g = c.benchmark_group("recorder");
    g.sample_size(10);
    g.bench_function("one_second_at_50k_rps_with_flush", |b| {
        b.iter(|| {
            for j in 0..50_000 {
                usage.push(event(j));
            }
            rt.block_on(usage.flush())
        })
    });
    g.finish();
    drop(app);
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, recorder);
criterion_main!(benches);
