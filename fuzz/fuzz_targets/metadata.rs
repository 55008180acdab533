//! Fuzz target: reading the `sops` metadata of arbitrary YAML never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rsops_format::{store, Format};

fuzz_target!(|data: &[u8]| {
    if let Ok((_, Some(meta))) =
        store::load_encrypted(Format::Yaml, data, &rsops_format::Sequential)
    {
        if let Ok(md) = rsops_core::metadata::Metadata::from_tree(&meta) {
            let _ = rsops_core::metadata::Metadata::from_tree(&md.to_tree());
        }
    }
});
