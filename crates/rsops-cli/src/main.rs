//! The `rsops` binary.
fn main() {}
