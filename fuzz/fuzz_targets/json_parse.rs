//! Fuzz target: the json store parser never panics, and what it parses it
//! can write and read back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rsops_format::{store, EmitOptions, Format};

fuzz_target!(|data: &[u8]| {
    let format = Format::from_name("json").unwrap_or(Format::Binary);
    if let Ok(docs) = store::load_plain(format, data) {
        if let Ok(out) = store::emit_plain(format, &docs, &EmitOptions::default()) {
            let _ = store::load_plain(format, &out);
        }
    }
    let _ = store::load_encrypted(format, data, &rsops_format::Sequential);
});
