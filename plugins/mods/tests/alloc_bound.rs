//! The reader's memory stays within a fixed multiple of its input, whatever the
//! bytes: a counting global allocator measures the peak live heap of
//! `read_tmod` over adversarial files (deflate bomb, millions of empty entries,
//! overlapping entries, huge declared lengths) and thousands of random and
//! mutated inputs. One test only, so no other test thread allocates meanwhile.

#![allow(clippy::unwrap_used)] // test code

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use kiwi_plugin_mods::builder::{KIWI_MOD_LOADER, build_tmod};
use kiwi_plugin_mods::primitives::write_leb128;
use kiwi_plugin_mods::reader::read_tmod;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = CURRENT.fetch_add(n, Ordering::SeqCst) + n;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

// SAFETY: forwards to the system allocator, only counting sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Count the old and new blocks as both live (a moving realloc's worst case).
        grew(new_size);
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allowed peak: this multiple of the input plus a constant (decoder state,
/// 32 KiB window, small tables).
const RATIO: usize = 40;
const SLACK: usize = 1 << 20;

/// Runs the reader (both modes, touching every content slice) and returns the
/// peak heap it used.
fn peak_of(data: &[u8]) -> usize {
    let mut worst = 0;
    for md in [false, true] {
        let base = CURRENT.load(Ordering::SeqCst);
        PEAK.store(base, Ordering::SeqCst);
        let r = read_tmod(data, md);
        if let Ok(t) = &r {
            let total: usize = (0..t.files.len()).map(|i| t.content(i).map_or(0, <[u8]>::len)).sum();
            std::hint::black_box(total);
        }
        drop(r);
        worst = worst.max(PEAK.load(Ordering::SeqCst).saturating_sub(base));
    }
    worst
}

fn check(name: &str, data: &[u8]) -> usize {
    let peak = peak_of(data);
    let bound = RATIO * data.len() + SLACK;
    assert!(peak <= bound, "{name}: peak {peak} bytes for a {}-byte input (bound {bound})", data.len());
    peak
}

fn header(props: &[(&str, &str)], table: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 8];
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&(props.len() as u16).to_le_bytes());
    for (k, v) in props {
        write_leb128(&mut h, k.len() as u64);
        h.extend_from_slice(k.as_bytes());
        write_leb128(&mut h, v.len() as u64);
        h.extend_from_slice(v.as_bytes());
    }
    h.extend_from_slice(table);
    let hs = h.len() as u64;
    h[..8].copy_from_slice(&hs.to_le_bytes());
    h
}

fn entry(table: &mut Vec<u8>, path: &str, offset: u64, size: u64, checksum: u64) {
    table.push(path.len() as u8);
    table.extend_from_slice(path.as_bytes());
    for v in [0, offset, size, checksum] {
        write_leb128(table, v);
    }
}

fn adversarial() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();

    // A deflate bomb: 16 MiB of zeros in ~16 KiB, referenced by one huge entry.
    let mut table = Vec::new();
    entry(&mut table, "bomb", 0, u64::from(u32::MAX), 1);
    let mut bomb = header(&[("title", "bomb")], &table);
    bomb.extend(miniz_oxide::deflate::compress_to_vec_zlib(&vec![0u8; 16 << 20], 10));
    let err = read_tmod(&bomb, false).unwrap_err();
    assert!(err.0.contains("inflates to more than"), "{err}");
    out.push(("deflate bomb", bomb));

    // The same bomb, but the table references only a small prefix: decoded and
    // discarded in a 32 KiB window, still refused past the inflate bound.
    let mut table = Vec::new();
    entry(&mut table, "small", 0, 16, 1);
    let mut bomb2 = header(&[], &table);
    bomb2.extend(miniz_oxide::deflate::compress_to_vec_zlib(&vec![0u8; 16 << 20], 10));
    out.push(("bomb, small entry", bomb2));

    // A 1 MiB stored stream referenced 100 000 times.
    let content: Vec<u8> = (0..1 << 20).map(|i| (i % 253) as u8).collect();
    let built = build_tmod(1, &[], &[("x".to_owned(), content)], KIWI_MOD_LOADER, true).unwrap();
    let hs = u64::from_le_bytes(built[..8].try_into().unwrap()) as usize;
    let mut table = Vec::new();
    for _ in 0..100_000 {
        entry(&mut table, "", 0, 1 << 20, 1);
    }
    let mut overlap = header(&[], &table);
    overlap.extend_from_slice(&built[hs..]);
    let err = read_tmod(&overlap, false).unwrap_err();
    assert!(err.0.contains("overlap"), "{err}");
    out.push(("overlapping entries", overlap));

    // Two million minimal (5-byte) entries.
    let mut table = Vec::with_capacity(10 << 20);
    for _ in 0..2_000_000 {
        table.extend_from_slice(&[0, 0, 0, 0, 0]);
    }
    let empties = header(&[], &table);
    assert_eq!(read_tmod(&empties, true).unwrap().files.len(), 2_000_000);
    out.push(("two million empty entries", empties));

    // Huge declared lengths and counts on tiny inputs.
    let mut h = vec![0u8; 12];
    h[0] = 40;
    h[10] = 0xFF;
    h[11] = 0xFF;
    h.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
    h.resize(40, b'a');
    out.push(("65535 properties, 4 GiB name", h));
    let mut table = Vec::new();
    entry(&mut table, "p", u64::from(u32::MAX), u64::from(u32::MAX), 7);
    let mut far = header(&[], &table);
    far.extend_from_slice(&[0x78, 0x01, 0, 4, 0, 0xFB, 0xFF, 1, 2, 3, 4, 0, 0, 0, 0xFF, 0xFF]);
    out.push(("entry at 4 GiB", far));
    out
}

#[test]
fn reader_memory_is_bounded() {
    let mut report = Vec::new();
    for (name, data) in adversarial() {
        let peak = check(name, &data);
        report.push(format!(
            "{name}: {} bytes in, peak {peak} bytes ({:.1}x)",
            data.len(),
            peak as f64 / data.len() as f64
        ));
    }

    // Random and mutated inputs (a few thousand).
    let seed = build_tmod(
        1,
        &[("title".to_owned(), "Seed".to_owned())],
        &[("a.txt".to_owned(), b"hello".to_vec()), ("b.bin".to_owned(), (0..=255u8).collect())],
        KIWI_MOD_LOADER,
        true,
    )
    .unwrap();
    let mut runner = TestRunner::new(Config { cases: 3000, failure_persistence: None, ..Config::default() });
    let strategy = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        (proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6), any::<usize>()).prop_map(
            move |(flips, cut)| {
                let mut d = seed.clone();
                for (i, b) in flips {
                    let n = d.len();
                    d[i % n] = b;
                }
                d.truncate(cut % (seed.len() + 1));
                d
            }
        ),
    ];
    runner
        .run(&strategy, |data| {
            check("random", &data);
            Ok(())
        })
        .unwrap();
    eprintln!("{}", report.join("\n"));
}
