//! Fuzzes the `.tmod` reader: it must never panic, in either mode, and every
//! content slice and the HTTP response body must be producible.
#![no_main]

use kiwi_plugin_mods::reader::read_tmod;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for metadata_only in [false, true] {
        if let Ok(t) = read_tmod(data, metadata_only) {
            for i in 0..t.files.len() {
                let _ = t.content(i);
            }
            let _ = kiwi_plugin_mods::read_response_json(&t, metadata_only);
        }
    }
});
