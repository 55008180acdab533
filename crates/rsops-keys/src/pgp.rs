//! OpenPGP master keys (KEYS.md §3) through sequoia-openpgp.

use zeroize::Zeroizing;

use crate::error::KeyError;

/// Encrypts to OpenPGP keys from the user's GnuPG keyring and decrypts with
/// secret keys held by gpg-agent or in key files.
pub struct PgpBackend {
    _private: (),
}

impl PgpBackend {
    /// A backend using `$GNUPGHOME` (else `~/.gnupg`).
    pub fn from_env() -> Self {
        PgpBackend { _private: () }
    }

    /// Encrypts `plaintext` to the key with `fingerprint`; returns the armored
    /// OpenPGP message.
    pub fn encrypt(&self, fingerprint: &str, plaintext: &[u8]) -> Result<String, KeyError> {
        let _ = (fingerprint, plaintext);
        Err(KeyError::Unsupported("pgp"))
    }

    /// Decrypts an armored OpenPGP message stored for `fingerprint`.
    pub fn decrypt(&self, fingerprint: &str, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let _ = (fingerprint, enc);
        Err(KeyError::Unsupported("pgp"))
    }
}
