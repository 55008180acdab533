//! The error type of the keys crate. Messages never contain key material.

use thiserror::Error;

/// A master key operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key type is recorded in the file but rsops cannot use it yet
    /// (cloud KMS, Vault, ...).
    #[error("{0} master keys are not supported by rsops yet")]
    Unsupported(&'static str),
    /// A recipient, fingerprint or key string could not be parsed.
    #[error("invalid {kind} key {key:?}: {reason}")]
    InvalidKey {
        /// Key type.
        kind: &'static str,
        /// The public key string (recipients are public).
        key: String,
        /// Why.
        reason: String,
    },
    /// No identity/secret key that could decrypt was available.
    #[error("{0}")]
    NoIdentity(String),
    /// Encryption failed.
    #[error("failed to encrypt the data key: {0}")]
    Encrypt(String),
    /// Decryption failed.
    #[error("failed to decrypt the data key: {0}")]
    Decrypt(String),
    /// An identity source (file, command, environment) could not be read.
    #[error("{0}")]
    Source(String),
}
