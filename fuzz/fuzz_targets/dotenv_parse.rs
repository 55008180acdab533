//! Fuzz target: the dotenv store parser never panics in either syntax, and
//! what the quoted syntax parses it writes and reads back identically.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rsops_format::{store, DotenvSyntax, EmitOptions, Format};

fuzz_target!(|data: &[u8]| {
    let format = Format::from_name("dotenv").unwrap_or(Format::Binary);
    if let Ok(docs) = store::load_plain(format, data) {
        if let Ok(out) = store::emit_plain(format, &docs, &EmitOptions::default()) {
            let _ = store::load_plain(format, &out);
        }
    }
    let quoted = EmitOptions {
        dotenv: DotenvSyntax::Quoted,
        ..EmitOptions::default()
    };
    if let Ok(docs) = store::load_plain_with(format, data, &quoted, &rsops_format::Sequential) {
        // Keys the quoted writer refuses (e.g. `#x` read as a comment never
        // gets here; an empty key can) make emitting fail, not panic.
        if let Ok(out) = store::emit_plain(format, &docs, &quoted) {
            let back = store::load_plain_with(format, &out, &quoted, &rsops_format::Sequential);
            assert!(back.as_ref().ok() == Some(&docs), "quoted round trip");
        }
    }
    let _ = store::load_encrypted(format, data, &rsops_format::Sequential);
});
