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
}
