//! age master keys (KEYS.md §2): X25519, SSH and plugin recipients, armored
//! `enc`, identities from the sops environment variables and default file.

use zeroize::Zeroizing;

use crate::error::KeyError;

/// Encrypts to age recipients and decrypts with the identities found as sops
/// finds them (loaded once, on first decryption).
pub struct AgeBackend {
    _private: (),
}

impl AgeBackend {
    /// A backend reading identities from the process environment.
    pub fn from_env() -> Self {
        AgeBackend { _private: () }
    }

    /// Encrypts `plaintext` to `recipient`; returns the armored age file.
    pub fn encrypt(&self, recipient: &str, plaintext: &[u8]) -> Result<String, KeyError> {
        let _ = (recipient, plaintext);
        Err(KeyError::Unsupported("age"))
    }

    /// Decrypts an armored age file with the available identities.
    pub fn decrypt(&self, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let _ = enc;
        Err(KeyError::Unsupported("age"))
    }
}
