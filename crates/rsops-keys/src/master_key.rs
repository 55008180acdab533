//! The one trait every key backend implements.

use zeroize::Zeroizing;

use crate::error::KeyError;
use crate::kinds::MasterKey;

/// Wraps and unwraps data keys with master keys.
///
/// This is the one seam between the core crate and key material: the core
/// asks a `KeyService` to encrypt the data key (or a Shamir share) for a
/// [`MasterKey`], and to decrypt an `enc` string. The local implementation
/// talks to age and OpenPGP; a remote sops key service client or a cloud KMS
/// backend is another implementation.
pub trait KeyService: Send + Sync {
    /// Encrypts `plaintext` for `key`; returns the text stored as `enc`.
    fn encrypt(&self, key: &MasterKey, plaintext: &[u8]) -> Result<String, KeyError>;

    /// Decrypts the `enc` text stored for `key`.
    fn decrypt(&self, key: &MasterKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError>;

    /// The concrete key to record for `key` before it wraps a data key for
    /// the first time, or `None` to record `key` as given.
    ///
    /// A key may name something that only the key's service can pin down:
    /// an Azure Key Vault key given without version stands for the latest
    /// version, which sops looks up and writes to the file. The core calls
    /// this for every key it is about to wrap for; the default keeps every
    /// key as it is.
    fn resolve(&self, key: &MasterKey) -> Result<Option<MasterKey>, KeyError> {
        let _ = key;
        Ok(None)
    }
}
