//! Property tests: `read(build(x)) == x` for arbitrary mods and packs, and a
//! bounded fuzz run of the reader over arbitrary and mutated bytes (it must
//! never panic, and must be deterministic). `cargo fuzz` covers the same target
//! unbounded (`fuzz/`).

#![allow(clippy::unwrap_used)] // test code

use kiwi_plugin_mods::builder::{self, KIWI_MOD_LOADER};
use kiwi_plugin_mods::categories;
use kiwi_plugin_mods::reader::read_tmod;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ._-]{0,12}",
        "[\\\\/a-zA-ZÄÉΣß☃日𝄞 ]{0,16}",
        any::<String>().prop_map(|s| s.chars().take(20).collect()),
    ]
}

fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..64),
        1 => proptest::collection::vec(any::<u8>(), 32760..32780),
        1 => (0usize..70_000).prop_map(|n| (0..n).map(|i| (i * 31 % 251) as u8).collect()),
    ]
}

fn properties() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop_oneof![
        Just("title".to_owned()),
        Just("tags".to_owned()),
        Just("flags".to_owned()),
        Just("modLoader".to_owned()),
        text(),
    ];
    let value = prop_oneof![text(), Just("Dragons, gui, nope".to_owned()), Just(" -1 ".to_owned()),];
    proptest::collection::vec((key, value), 0..8).prop_map(|pairs| {
        // A map: unique keys, first position, last value.
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in pairs {
            match out.iter_mut().find(|(ok, _)| *ok == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        out
    })
}

fn files() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    proptest::collection::vec((text(), content()), 1..5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn read_of_build_is_identity(
        version in any::<u16>(),
        props in properties(),
        files in files(),
        lowercase in any::<bool>(),
    ) {
        let bytes = builder::build_tmod(version.into(), &props, &files, KIWI_MOD_LOADER, lowercase)
            .expect("valid input builds");
        for metadata_only in [false, true] {
            let t = read_tmod(&bytes, metadata_only).expect("a build reads back");
            prop_assert_eq!(t.version, version);
            let hs = t.header_size as usize;
            prop_assert_eq!(&bytes[hs..hs + 2], &[0x78u8, 0x01][..]);
            prop_assert!(!t.header_repaired);
            prop_assert_eq!(&t.properties, &builder::stamp_properties(&props, KIWI_MOD_LOADER));
            prop_assert_eq!(t.property("modLoader"), Some(KIWI_MOD_LOADER));
            let flags = categories::flags_of(t.property("flags"));
            prop_assert_eq!(&t.categories, &categories::tags_from_flags(flags.wrapped));
            prop_assert_eq!(t.files.len(), files.len());
            for (i, (path, data)) in files.iter().enumerate() {
                prop_assert_eq!(&t.files[i].path, &builder::normalize_path(path, lowercase));
                prop_assert_eq!(t.files[i].size as usize, data.len());
                prop_assert_eq!(t.files[i].index, 0);
                if metadata_only {
                    prop_assert_eq!(t.content(i), None);
                } else {
                    prop_assert_eq!(t.content(i), Some(data.as_slice()));
                }
            }
        }
    }

    #[test]
    fn read_of_pack_is_identity(props in properties(), names in proptest::collection::vec(text(), 1..4)) {
        let inner: Vec<(String, Vec<u8>)> = names
            .iter()
            .map(|n| {
                let title = vec![("title".to_owned(), n.clone())];
                let tmod = builder::build_tmod(1, &title, &[("a.txt", b"hi")].map(|(p, c)| (p.to_owned(), c.to_vec())), KIWI_MOD_LOADER, true).unwrap();
                (format!("{n}.tmod"), tmod)
            })
            .collect();
        let pack = builder::build_tpack(1, &props, &inner).unwrap();
        let t = read_tmod(&pack, false).unwrap();
        for (i, (name, tmod)) in inner.iter().enumerate() {
            prop_assert_eq!(&t.files[i].path, &builder::normalize_path(name, false));
            prop_assert_eq!(t.content(i), Some(tmod.as_slice()));
            // And the inner mod reads too.
            let m = read_tmod(t.content(i).unwrap(), false).unwrap();
            prop_assert_eq!(m.content(0), Some(&b"hi"[..]));
        }
    }
}

fn seed_file() -> Vec<u8> {
    let props = vec![("title".to_owned(), "Café".to_owned()), ("tags".to_owned(), "Dragons".to_owned())];
    let files = vec![
        ("a/ü.txt".to_owned(), b"hello world".to_vec()),
        ("b".to_owned(), vec![]),
        ("c.bin".to_owned(), (0..200u8).collect()),
    ];
    builder::build_tmod(1, &props, &files, KIWI_MOD_LOADER, true).unwrap()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

fn apply(mut data: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let len = data.len().max(1);
        match m {
            Mutation::Flip(i, b) => {
                if let Some(x) = data.get_mut(i % len) {
                    *x ^= b;
                }
            }
            Mutation::Set(i, b) => {
                if let Some(x) = data.get_mut(i % len) {
                    *x = *b;
                }
            }
            Mutation::Truncate(i) => data.truncate(i % len),
            Mutation::Insert(i, v) => {
                let at = i % (data.len() + 1);
                data.splice(at..at, v.iter().copied());
            }
            Mutation::Remove(i, n) => {
                let at = i % len;
                let end = (at + n).min(data.len());
                if at < end {
                    data.drain(at..end);
                }
            }
        }
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn reader_survives_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300), md in any::<bool>()) {
        let a = read_tmod(&data, md);
        prop_assert_eq!(a, read_tmod(&data, md));
    }

    #[test]
    fn reader_survives_mutated_files(muts in proptest::collection::vec(mutation(), 1..5), md in any::<bool>()) {
        let data = apply(seed_file(), &muts);
        let a = read_tmod(&data, md);
        if let Ok(t) = &a {
            for i in 0..t.files.len() {
                let _ = t.content(i);
            }
        }
        prop_assert_eq!(a, read_tmod(&data, md));
    }
}
