//! Byte buffers that may hold plaintext.

use std::fmt;
use std::ops::{Deref, DerefMut};

use zeroize::Zeroize;

/// A byte buffer that may hold plaintext (decrypted output, MAC input):
/// when dropped or [wiped](SecretBytes::wipe), its whole allocation, the
/// bytes in use and the spare capacity, is overwritten with zeros in bulk
/// before it is freed.
///
/// `zeroize::Zeroizing<Vec<u8>>` wipes the bytes in use one volatile
/// store at a time; on the megabytes of a large file's output this type's
/// bulk wipe (a fill the optimiser must keep) is several times faster.
/// Like any `Vec`, a buffer that grows may leave its old allocation
/// unwiped: buffers that grow while holding plaintext should reserve
/// first, or move their bytes into a larger `SecretBytes` themselves.
#[derive(Default)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// An empty buffer.
    pub fn new() -> SecretBytes {
        SecretBytes(Vec::new())
    }

    /// An empty buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> SecretBytes {
        SecretBytes(Vec::with_capacity(capacity))
    }

    /// Overwrites the whole allocation with zeros and frees it, leaving an
    /// empty buffer.
    pub fn wipe(&mut self) {
        self.0.as_mut_slice().zeroize();
        self.0.spare_capacity_mut().zeroize();
        self.0 = Vec::new();
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> SecretBytes {
        SecretBytes(bytes)
    }
}

impl Deref for SecretBytes {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for SecretBytes {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// Shows the length only, never the bytes.
impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wiping_empties_and_frees_the_buffer() {
        let mut b = SecretBytes::with_capacity(64);
        b.extend_from_slice(b"secret");
        assert_eq!(b.as_slice(), b"secret");
        b.wipe();
        assert!(b.is_empty());
        assert_eq!(b.capacity(), 0);
    }

    #[test]
    fn debug_shows_the_length_not_the_bytes() {
        let b = SecretBytes::from(b"hunter2".to_vec());
        let shown = format!("{b:?}");
        assert_eq!(shown, "SecretBytes(7 bytes)");
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn a_moved_out_buffer_leaves_an_empty_one() {
        let mut b = SecretBytes::from(vec![1, 2, 3]);
        let taken = std::mem::take(&mut *b);
        assert_eq!(taken, vec![1, 2, 3]);
        assert!(b.is_empty());
    }
}
