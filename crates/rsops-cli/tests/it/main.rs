//! Integration tests of the `rsops` binary: one test binary, a module per
//! area (keeps link time down).

mod age_keys;
mod ansible;
mod cli;
mod common;
mod differential;
mod docs_examples;
mod dotenv;
mod ecosystem;
mod edit;
mod errors;
mod exec;
mod faults;
mod git_check;
mod keygroups;
mod keyservice;
mod kms_aws;
mod kms_azure;
mod kms_gcp;
mod kms_hckms;
mod kms_vault;
mod leaks;
mod legacy;
mod many_files_kms;
mod many_stdout;
mod multi;
mod pgp;
mod safe_writes;
mod safety;
mod servers;
mod set_unset;
mod sops_interop;
mod transcripts;
