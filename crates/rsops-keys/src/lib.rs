//! Master keys for rsops.
//!
//! A sops file's 32-byte data key (or a Shamir share of it) is stored once per
//! master key, encrypted by that key (`enc` in the metadata). This crate
//! describes master keys ([`MasterKey`]) and performs the wrap/unwrap through
//! one trait, [`KeyService`], which is also the shape of sops's gRPC key
//! service: the local implementation ([`LocalKeyService`]) dispatches to the
//! age and OpenPGP backends; cloud KMS and remote key services plug in as
//! further implementations or backends without touching the core crate.
//!
//! Each key kind is one module of [`kinds`] that owns everything about it
//! (its key syntax, flags, `.sops.yaml` fields, metadata entry and
//! operations); `kinds` itself is the registry that lists them once, and
//! [`kind`] says what a kind describes.

pub mod env;
pub mod error;
#[cfg(feature = "keyservice")]
pub mod keyservice;
pub mod kind;
pub mod kinds;
pub mod local;
pub mod master_key;
#[cfg(any(feature = "azure", feature = "gcp"))]
// With one of the two back ends, the other's policy is unused.
#[cfg_attr(not(all(feature = "azure", feature = "gcp")), allow(dead_code))]
mod retry;
#[cfg(feature = "cloud")]
pub mod runtime;
pub mod services;

pub use kinds::{age, pgp};

pub use error::KeyError;
pub use kind::{FieldValue, Fields, GroupEntry, KeyOptions};
pub use kinds::{KeyKind, KeySpecError, MasterKey};
pub use local::LocalKeyService;
pub use master_key::KeyService;
pub use services::KeyServices;
