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
//! Each key kind is one module that owns everything about it (its key
//! syntax, flags, `.sops.yaml` fields, metadata entry and operations):
//! [`age`], [`pgp`], [`kms`], [`gcp_kms`], [`azure_kv`], [`hc_vault`],
//! [`hckms`]. [`registry`] lists them once; [`kind`] says what a kind
//! describes.

pub mod age;
pub mod azure_kv;
pub mod env;
pub mod error;
pub mod gcp_kms;
pub mod hc_vault;
pub mod hckms;
pub mod kind;
pub mod kms;
pub mod local;
pub mod master_key;
pub mod pgp;
pub mod registry;

pub use error::KeyError;
pub use kind::{FieldValue, Fields, GroupEntry, KeyOptions};
pub use local::LocalKeyService;
pub use master_key::KeyService;
pub use registry::{KeyKind, KeySpecError, MasterKey};
