//! A reader for GnuPG's keybox format (`pubring.kbx`, GnuPG ≥ 2.1).
//!
//! A keybox is a sequence of blobs. Every blob starts with its total length
//! (big-endian `u32`, the four length bytes included), a type byte and a
//! version byte. The first blob is a header (type 1, magic `KBXf` at offset
//! 8); OpenPGP blobs (type 2) carry, at a blob-relative offset and length
//! stored at bytes 8..16, the transferable public key exactly as an OpenPGP
//! keyblock, which sequoia parses. Empty blobs (type 0, deleted keys) and
//! X.509 blobs (type 3) are skipped by the callers. Nothing here interprets
//! the key-info index that follows: the keyblock is the source of truth.

use std::fmt;

/// Blob type of a deleted/free blob.
pub const BLOB_TYPE_EMPTY: u8 = 0;
/// Blob type of the header blob that starts every keybox.
pub const BLOB_TYPE_HEADER: u8 = 1;
/// Blob type of an OpenPGP keyblock.
pub const BLOB_TYPE_OPENPGP: u8 = 2;
/// Blob type of an X.509 certificate (gpgsm).
pub const BLOB_TYPE_X509: u8 = 3;
/// Blob flag: the key was imported only temporarily (GnuPG hides it).
pub const BLOB_FLAG_EPHEMERAL: u16 = 0x0002;

/// Magic bytes of the header blob, at offset 8.
const MAGIC: &[u8; 4] = b"KBXf";
/// Smallest blob that holds the common prefix (length, type, version).
const MIN_BLOB_LEN: usize = 6;
/// Smallest OpenPGP/X.509 blob: prefix, flags and keyblock offset/length.
const MIN_KEY_BLOB_LEN: usize = 16;

/// A keybox could not be read past some blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyboxError {
    /// The data ends inside a blob header or blob.
    Truncated {
        /// Byte offset of the blob in the file.
        offset: usize,
    },
    /// A blob declares a length too small to be a blob.
    BadLength {
        /// Byte offset of the blob in the file.
        offset: usize,
        /// The declared length.
        length: u32,
    },
    /// An OpenPGP blob's keyblock lies outside the blob.
    BadKeyblock {
        /// Byte offset of the blob in the file.
        offset: usize,
    },
}

impl fmt::Display for KeyboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyboxError::Truncated { offset } => {
                write!(f, "keybox truncated in the blob at byte {offset}")
            }
            KeyboxError::BadLength { offset, length } => {
                write!(
                    f,
                    "keybox blob at byte {offset} has invalid length {length}"
                )
            }
            KeyboxError::BadKeyblock { offset } => write!(
                f,
                "keybox blob at byte {offset} points outside itself for its keyblock"
            ),
        }
    }
}

/// One blob of a keybox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blob<'a> {
    /// Byte offset of the blob in the file.
    pub offset: usize,
    /// Blob type (`BLOB_TYPE_*`).
    pub blob_type: u8,
    /// Blob flags (OpenPGP and X.509 blobs only, else 0).
    pub flags: u16,
    /// The keyblock (OpenPGP) or DER certificate (X.509), if the blob has one.
    pub keyblock: Option<&'a [u8]>,
}

/// Whether `data` starts with a keybox header blob.
pub fn is_keybox(data: &[u8]) -> bool {
    data.get(4) == Some(&BLOB_TYPE_HEADER) && data.get(8..12) == Some(&MAGIC[..])
}

/// Iterates over the blobs of a keybox; stops after the first error.
pub fn blobs(data: &[u8]) -> Blobs<'_> {
    Blobs {
        data,
        offset: 0,
        failed: false,
    }
}

/// The OpenPGP keyblocks of a keybox, skipping ephemeral keys, plus the error
/// that stopped reading, if any (the keyblocks before it are still returned).
pub fn openpgp_keyblocks(data: &[u8]) -> (Vec<&[u8]>, Option<KeyboxError>) {
    let mut blocks = Vec::new();
    for blob in blobs(data) {
        match blob {
            Ok(Blob {
                blob_type: BLOB_TYPE_OPENPGP,
                flags,
                keyblock: Some(block),
                ..
            }) if flags & BLOB_FLAG_EPHEMERAL == 0 => blocks.push(block),
            Ok(_) => {}
            Err(e) => return (blocks, Some(e)),
        }
    }
    (blocks, None)
}

/// Iterator over keybox blobs (see [`blobs`]).
#[derive(Debug, Clone)]
pub struct Blobs<'a> {
    data: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> Iterator for Blobs<'a> {
    type Item = Result<Blob<'a>, KeyboxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.data.len() {
            return None;
        }
        let result = read_blob(self.data, self.offset);
        match &result {
            Ok((_, next)) => self.offset = *next,
            Err(_) => self.failed = true,
        }
        Some(result.map(|(blob, _)| blob))
    }
}

/// Reads the blob at `offset`; returns it and the offset of the next blob.
fn read_blob(data: &[u8], offset: usize) -> Result<(Blob<'_>, usize), KeyboxError> {
    let truncated = KeyboxError::Truncated { offset };
    let length = read_u32(data, offset).ok_or(truncated.clone())?;
    let len = usize::try_from(length).map_err(|_| truncated.clone())?;
    if len < MIN_BLOB_LEN {
        return Err(KeyboxError::BadLength { offset, length });
    }
    let end = offset.checked_add(len).ok_or(truncated.clone())?;
    let blob = data.get(offset..end).ok_or(truncated)?;
    let blob_type = blob.get(4).copied().unwrap_or(BLOB_TYPE_EMPTY);
    let (flags, keyblock) = match blob_type {
        BLOB_TYPE_OPENPGP | BLOB_TYPE_X509 => {
            if len < MIN_KEY_BLOB_LEN {
                return Err(KeyboxError::BadLength { offset, length });
            }
            let flags = read_u16(blob, 6).unwrap_or(0);
            (flags, Some(keyblock_of(blob, offset)?))
        }
        _ => (0, None),
    };
    Ok((
        Blob {
            offset,
            blob_type,
            flags,
            keyblock,
        },
        end,
    ))
}

/// The keyblock slice of an OpenPGP/X.509 blob (offset and length at 8..16).
fn keyblock_of(blob: &[u8], offset: usize) -> Result<&[u8], KeyboxError> {
    let bad = KeyboxError::BadKeyblock { offset };
    let start = read_u32(blob, 8).ok_or(bad.clone())?;
    let size = read_u32(blob, 12).ok_or(bad.clone())?;
    let start = usize::try_from(start).map_err(|_| bad.clone())?;
    let size = usize::try_from(size).map_err(|_| bad.clone())?;
    let end = start.checked_add(size).ok_or(bad.clone())?;
    blob.get(start..end).ok_or(bad)
}

/// Big-endian `u32` at `at`, if the data is long enough.
fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// Big-endian `u16` at `at`, if the data is long enough.
fn read_u16(data: &[u8], at: usize) -> Option<u16> {
    let bytes: [u8; 2] = data.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_be_bytes(bytes))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A header blob as GnuPG writes it (32 bytes).
    pub(crate) fn header_blob() -> Vec<u8> {
        let mut b = vec![0, 0, 0, 32, BLOB_TYPE_HEADER, 1, 0, 2];
        b.extend_from_slice(MAGIC);
        b.resize(32, 0);
        b
    }

    /// An OpenPGP (or other) blob with `keyblock` after a 20-byte index and
    /// a 20-byte trailer standing in for GnuPG's checksum.
    pub(crate) fn key_blob(blob_type: u8, flags: u16, keyblock: &[u8]) -> Vec<u8> {
        let start: u32 = 36;
        let total = start as usize + keyblock.len() + 20;
        let mut b = Vec::with_capacity(total);
        b.extend_from_slice(&(total as u32).to_be_bytes());
        b.push(blob_type);
        b.push(1);
        b.extend_from_slice(&flags.to_be_bytes());
        b.extend_from_slice(&start.to_be_bytes());
        b.extend_from_slice(&(keyblock.len() as u32).to_be_bytes());
        b.resize(start as usize, 0xAA);
        b.extend_from_slice(keyblock);
        b.resize(total, 0x55);
        b
    }

    #[test]
    fn reads_openpgp_blobs_and_skips_others() {
        let mut data = header_blob();
        data.extend(key_blob(BLOB_TYPE_OPENPGP, 0, b"first"));
        data.extend(key_blob(BLOB_TYPE_EMPTY, 0, b"deleted"));
        data.extend(key_blob(BLOB_TYPE_X509, 0, b"x509"));
        data.extend(key_blob(BLOB_TYPE_OPENPGP, BLOB_FLAG_EPHEMERAL, b"temp"));
        data.extend(key_blob(BLOB_TYPE_OPENPGP, 0, b"second"));
        assert!(is_keybox(&data));
        let (blocks, err) = openpgp_keyblocks(&data);
        assert_eq!(blocks, vec![&b"first"[..], &b"second"[..]]);
        assert_eq!(err, None);
    }

    #[test]
    fn header_is_recognised_only_with_magic() {
        assert!(is_keybox(&header_blob()));
        let mut other = header_blob();
        other[8] = b'X';
        assert!(!is_keybox(&other));
        assert!(!is_keybox(b"\x99\x01\x8d\x04"));
        assert!(!is_keybox(b""));
    }

    #[test]
    fn truncated_blob_keeps_earlier_keyblocks() {
        let mut data = header_blob();
        data.extend(key_blob(BLOB_TYPE_OPENPGP, 0, b"ok"));
        let cut = data.len();
        data.extend(key_blob(BLOB_TYPE_OPENPGP, 0, b"cut off"));
        data.truncate(cut + 10);
        let (blocks, err) = openpgp_keyblocks(&data);
        assert_eq!(blocks, vec![&b"ok"[..]]);
        assert_eq!(err, Some(KeyboxError::Truncated { offset: cut }));
    }

    #[test]
    fn zero_length_blob_is_an_error_not_a_loop() {
        let mut data = header_blob();
        data.extend_from_slice(&[0, 0, 0, 0, 2, 1]);
        let (_, err) = openpgp_keyblocks(&data);
        assert_eq!(
            err,
            Some(KeyboxError::BadLength {
                offset: 32,
                length: 0
            })
        );
    }

    #[test]
    fn keyblock_outside_blob_is_an_error() {
        let mut blob = key_blob(BLOB_TYPE_OPENPGP, 0, b"abc");
        blob[12..16].copy_from_slice(&1000u32.to_be_bytes());
        let (_, err) = openpgp_keyblocks(&blob);
        assert_eq!(err, Some(KeyboxError::BadKeyblock { offset: 0 }));
        assert!(err.is_some_and(|e| e.to_string().contains("byte 0")));
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = is_keybox(&data);
            let _ = openpgp_keyblocks(&data);
            prop_assert!(blobs(&data).count() <= data.len());
        }

        #[test]
        fn written_keyblocks_read_back(
            blocks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)
        ) {
            let mut data = header_blob();
            for b in &blocks {
                data.extend(key_blob(BLOB_TYPE_OPENPGP, 0, b));
            }
            let (read, err) = openpgp_keyblocks(&data);
            prop_assert_eq!(err, None);
            let expected: Vec<&[u8]> = blocks.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(read, expected);
        }
    }
}
