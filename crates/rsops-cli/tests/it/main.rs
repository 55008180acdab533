//! Integration tests of the `rsops` binary: one test binary, a module per
//! area (keeps link time down).

mod cli;
mod common;
mod dotenv;
mod edit;
mod errors;
mod exec;
mod git_check;
mod keygroups;
mod kms_aws;
mod legacy;
mod multi;
mod pgp;
mod safe_writes;
mod servers;
mod set_unset;
mod sops_interop;
mod transcripts;
