//! Fuzz target: parsing and decrypting arbitrary `ENC[...]` strings never
//! panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let key = [7u8; 32];
        let _ = rsops_core::cipher::decrypt(&key, s, b"a:");
    }
});
