//! Fuzzes `read(build(x)) == x`: arbitrary properties and files are built,
//! read back, and must come back unchanged (after the builder's stamping and
//! path normalisation).
#![no_main]

use kiwi_plugin_mods::builder::{self, KIWI_MOD_LOADER};
use kiwi_plugin_mods::reader::read_tmod;
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    |input: (u16, Vec<(String, String)>, Vec<(String, Vec<u8>)>, bool)| {
        let (version, raw_props, files, lowercase) = input;
        let mut props: Vec<(String, String)> = Vec::new();
        for (k, v) in raw_props {
            match props.iter_mut().find(|(ok, _)| *ok == k) {
                Some(slot) => slot.1 = v,
                None => props.push((k, v)),
            }
        }
        let Ok(bytes) =
            builder::build_tmod(version.into(), &props, &files, KIWI_MOD_LOADER, lowercase)
        else {
            return;
        };
        let t = read_tmod(&bytes, false).expect("a build must read back");
        assert_eq!(t.version, version);
        assert_eq!(
            t.properties,
            builder::stamp_properties(&props, KIWI_MOD_LOADER)
        );
        assert_eq!(t.files.len(), files.len());
        for (i, (path, content)) in files.iter().enumerate() {
            assert_eq!(t.files[i].path, builder::normalize_path(path, lowercase));
            assert_eq!(t.content(i), Some(content.as_slice()));
        }
    }
);
