//! Storing and checking the MAC. The MAC itself is
//! computed by the tree walk ([`crate::walk`]).

use crate::cipher::{self, ValueCipher, ValueType};
use crate::error::CoreError;

/// Encrypts the hex MAC with a fresh IV and AAD = `last_modified`.
pub fn encrypt_mac(
    cipher: &ValueCipher,
    mac_hex: &str,
    last_modified: &str,
) -> Result<String, CoreError> {
    cipher
        .encrypt(
            &cipher::random_iv(),
            mac_hex.as_bytes(),
            last_modified.as_bytes(),
            ValueType::Str,
        )
        .map_err(CoreError::MacEncrypt)
}

/// Checks the stored (encrypted) MAC against the computed one. The AAD is
/// `last_modified` re-formatted as RFC 3339 with seconds precision.
pub fn verify_mac(
    cipher: &ValueCipher,
    stored: &str,
    last_modified: &str,
    computed: &str,
) -> Result<(), CoreError> {
    if stored.is_empty() {
        return Err(CoreError::MacMissing {});
    }
    let aad = rsops_format::go::normalize_time_seconds(last_modified)
        .unwrap_or_else(|| last_modified.to_owned());
    let d = cipher
        .decrypt(stored, aad.as_bytes())
        .map_err(CoreError::MacDecrypt)?;
    if d.plaintext.as_slice() != computed.as_bytes() {
        return Err(CoreError::MacMismatch {});
    }
    Ok(())
}
