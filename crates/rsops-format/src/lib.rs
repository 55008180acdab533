//! File stores for rsops.
//!
//! Every supported file type (YAML with comments, JSON, dotenv, INI and opaque
//! binary files) is read into one ordered tree ([`tree`]) and written back from
//! it. The tree is what the core crate walks to encrypt and decrypt values; the
//! `sops` metadata travels next to it as a plain [`tree::Map`] so that this crate
//! knows nothing about cryptography.
//!
//! Byte-level behaviour follows sops 3.11's output (`docs/format.md`).

pub mod binary;
pub mod chunk;
#[cfg(test)]
mod corpus;
pub mod dotenv;
pub mod error;
pub mod flatten;
pub mod go;
pub mod ini;
pub mod json;
pub mod parallel;
pub mod secret;
pub mod store;
pub mod tree;
pub mod yaml;

pub use error::FormatError;
pub use parallel::{Parallelism, Sequential};
pub use secret::SecretBytes;
pub use store::{DotenvSyntax, EmitOptions, Format};
pub use tree::{Comment, Entry, Key, List, ListItem, Map, MapItem, Source, Value};
