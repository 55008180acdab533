//! Fuzz target: parsing arbitrary `.sops.yaml` content never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cfg) = rsops_core::config::Config::parse(data) {
        let _ = cfg.creation_rule("a/b.yaml");
    }
});
