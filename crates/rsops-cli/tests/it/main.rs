//! Integration tests of the `rsops` binary: one test binary, a module per
//! area (keeps link time down).

mod common;
mod errors;
mod sops_interop;
