//! The error type of the core crate. No variant carries a secret value:
//! paths are key names, MACs are digests sops itself prints.

use rsops_keys::KeyError;
use thiserror::Error;

use crate::cipher::CipherError;
use crate::datakey::DataKeyReport;
use crate::selection::SelectionError;
use crate::shamir::ShamirError;

/// A core operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A map key is not a string (YAML `1:`, `true:`).
    #[error("Tree contains a non-string key (type {type_name})")]
    NonStringKey {
        /// The key's type.
        type_name: &'static str,
    },
    /// A value that the rules say is encrypted is not a string.
    #[error("Expected encrypted value as string at {path}, but got a {type_name}")]
    NotEncrypted {
        /// Path of the value (`a:b:`).
        path: String,
        /// Its type.
        type_name: &'static str,
    },
    /// A value could not be encrypted.
    #[error("Could not encrypt value at {path}: {source}")]
    Encrypt {
        /// Path of the value (`a:b:`).
        path: String,
        /// Why.
        source: CipherError,
    },
    /// An encrypted value could not be decrypted.
    #[error("Could not decrypt value at {path}: {source}")]
    Decrypt {
        /// Path of the value (`a:b:`).
        path: String,
        /// Why.
        source: CipherError,
    },
    /// An encrypted comment happens to match `unencrypted_comment_regex`.
    #[error("Encrypted comment matches UnencryptedCommentRegex!")]
    EncryptedCommentMatchesRule,
    /// The stored MAC differs from the computed one. Neither is carried:
    /// the MAC is an unsalted hash of the plaintext values, and an error
    /// message (in a CI log) must not hold one.
    #[error(
        "MAC mismatch: the MAC stored in the file does not match the one computed from its values"
    )]
    MacMismatch {},
    /// The file has no MAC.
    #[error("MAC mismatch: the file has no MAC")]
    MacMissing {},
    /// The MAC could not be encrypted.
    #[error("Cannot encrypt MAC: {0}")]
    MacEncrypt(CipherError),
    /// The stored MAC could not be decrypted.
    #[error("Cannot decrypt MAC: {0}")]
    MacDecrypt(CipherError),
    /// The input has no `sops` metadata.
    #[error("sops metadata not found")]
    MetadataNotFound,
    /// The metadata is malformed.
    #[error("invalid sops metadata: {0}")]
    Metadata(#[source] MetadataError),
    /// More than one selection rule.
    #[error("cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex")]
    SelectionConflict,
    /// A selection regex does not compile.
    #[error(transparent)]
    Selection(#[from] SelectionError),
    /// The data key could not be recovered from any key group.
    #[error("{0}")]
    DataKey(DataKeyReport),
    /// The data key recovered from the master keys is not 32 bytes long
    /// (sops 3.0 wrote 31-byte keys): no value can be decrypted with it.
    #[error("Error decrypting tree: the recovered data key is {len} bytes long, AES-256-GCM needs 32 (crypto/aes: invalid key size {len})")]
    DataKeySize {
        /// The length of the recovered key.
        len: usize,
    },
    /// A master key could not wrap the data key.
    #[error("Could not generate data key: failed to encrypt new data key with master key {key:?}: {source}")]
    KeyWrap {
        /// The master key's key string (public).
        key: String,
        /// Why (boxed: key errors are large).
        #[source]
        source: Box<KeyError>,
    },
    /// No key groups / an empty key group / a bad threshold.
    #[error("{0}")]
    KeyGroups(#[source] KeyGroupsError),
    /// Shamir splitting or combining failed.
    #[error(transparent)]
    Shamir(#[from] ShamirError),
}

/// What is wrong with a file's `sops` metadata.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// No master key in any list or group.
    #[error("No keys found in file")]
    NoKeys,
    /// An item of `key_groups` is not a map.
    #[error("key_groups entries must be maps")]
    GroupNotMap,
    /// An item of a key list (`age`, `pgp`, …) is not a map.
    #[error("{list} entries must be maps")]
    EntryNotMap {
        /// The list's name.
        list: &'static str,
    },
    /// A timestamp is not RFC 3339.
    #[error("parsing time: {field} is not an RFC 3339 timestamp")]
    BadTimestamp {
        /// `lastmodified` or `created_at`.
        field: &'static str,
    },
    /// `shamir_threshold` is not a number.
    #[error("shamir_threshold is not an integer")]
    ThresholdNotInteger,
    /// `shamir_threshold` is fractional or out of range.
    #[error("shamir_threshold is not an integer between 0 and 255")]
    ThresholdOutOfRange,
}

/// Why key groups cannot wrap a data key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyGroupsError {
    /// No group at all.
    #[error("no key groups provided")]
    NoGroups,
    /// A group without master keys.
    #[error("empty key group provided")]
    EmptyGroup,
    /// Several groups with a threshold of 1.
    #[error("threshold must be at least 2 when there are several key groups")]
    ThresholdTooSmall,
    /// A threshold above the number of groups.
    #[error("the Shamir threshold {threshold} is larger than the number of key groups ({groups})")]
    ThresholdTooLarge {
        /// The threshold asked for.
        threshold: usize,
        /// The number of groups.
        groups: usize,
    },
}
