//! The sops file model.
//!
//! Walks the document tree of the format crate and encrypts exactly the
//! values the selection rule picks (AES-256-GCM `ENC[...]` strings with the
//! key path as AAD), computes and checks the MAC, reads and writes the `sops`
//! metadata block, wraps the data key for key groups (with Shamir sharing),
//! and interprets `.sops.yaml` creation rules. No I/O, no command line: the
//! caller hands in bytes, key services and the current time.
//!
//! The format is described in `docs/format.md`.
#![forbid(unsafe_code)]

pub mod cipher;
pub mod config;
pub mod datakey;
pub mod error;
pub mod file;
pub mod keyspec;
pub mod mac;
pub mod metadata;
mod pipeline;
pub mod selection;
pub mod shamir;
pub mod treepath;
pub mod walk;

pub use error::CoreError;
/// The keys crate: the [`KeyService`](rsops_keys::KeyService)s that the
/// functions of [`file`] take. `LocalKeyService` uses this process's keys;
/// with this crate's `keyservice` feature,
/// `keys::keyservice::RemoteKeyService` sends the key operations to a
/// `sops keyservice` or `rsops keyservice`, and `KeyServices` tries several
/// in order (`examples/keyservice.rs`).
pub use rsops_keys as keys;
pub use rsops_keys::env;

/// The sops version rsops writes into `version` and prints for `--version`:
/// the files it writes are those sops 3.13.2 writes (metadata keys sorted),
/// and sops 3.11 reads them unchanged.
pub const SOPS_VERSION: &str = "3.13.2";
