//! Fuzz target: the simple block YAML reader (taken by `parse_data` when
//! it accepts a document) and the event parser (always taken by `parse`)
//! give the same documents, or the same error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rsops_format::yaml;

fuzz_target!(|data: &[u8]| {
    let lean = yaml::parse_data(data, &rsops_format::Sequential);
    let full = yaml::parse(data);
    match (lean, full) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!("parse_data ok: {}, parse ok: {}", a.is_ok(), b.is_ok()),
    }
});
