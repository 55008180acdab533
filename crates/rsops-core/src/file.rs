//! Whole-file operations: encrypt plaintext documents, open an encrypted
//! file, and re-encrypt edited plaintext with the file's own data key.

use rsops_format::tree::Map;
use rsops_keys::{KeyKind, KeyService, MasterKey};
use time::OffsetDateTime;

use crate::cipher::ValueCipher;
use crate::datakey::{self, DataKey};
use crate::error::CoreError;
use crate::mac;
use crate::metadata::Metadata;
use crate::selection::Selection;
use crate::walk::{self, IvStash};

/// How to encrypt a new file.
#[derive(Debug, Clone)]
pub struct EncryptOptions {
    /// Master keys, one list per key group.
    pub key_groups: Vec<Vec<MasterKey>>,
    /// Shamir threshold (0: number of groups when there are several).
    pub shamir_threshold: usize,
    /// The selection rule to apply and record; `None` (binary files) applies
    /// the default rule and records nothing.
    pub selection: Option<Selection>,
    /// Hash only encrypted values into the MAC.
    pub mac_only_encrypted: bool,
}

/// `lastmodified` / `created_at` text for `now`: RFC 3339 UTC, seconds.
pub fn timestamp(now: OffsetDateTime) -> String {
    let t = now.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Encrypts plaintext documents in place with a new data key and returns
/// the metadata to store with them.
pub fn encrypt(
    docs: &mut [Map],
    opts: &EncryptOptions,
    service: &dyn KeyService,
    now: OffsetDateTime,
) -> Result<Metadata, CoreError> {
    let key = DataKey::generate();
    let stamp = timestamp(now);
    let (key_groups, threshold) = datakey::wrap(
        &opts.key_groups,
        opts.shamir_threshold,
        &key,
        service,
        &stamp,
    )?;
    let shamir_threshold = if key_groups.len() > 1 {
        threshold
    } else {
        opts.shamir_threshold
    };
    let mut md = Metadata {
        key_groups,
        shamir_threshold,
        last_modified: stamp,
        mac: String::new(),
        selection: opts.selection.clone(),
        mac_only_encrypted: opts.mac_only_encrypted,
        version: crate::SOPS_VERSION.to_owned(),
    };
    let opened = Opened {
        key,
        stash: IvStash::default(),
        mac: String::new(),
    };
    seal(docs, &mut md, &opened, None, now)?;
    Ok(md)
}

/// An opened file: its data key and the IVs of its values.
#[derive(Debug)]
pub struct Opened {
    /// The data key.
    pub key: DataKey,
    /// IVs of the values as they were in the file.
    pub stash: IvStash,
    /// The MAC of the plaintext as it was in the file (uppercase hex).
    pub mac: String,
}

/// Decrypts `docs` in place: recovers the data key through `service`
/// (keys tried in `order`), decrypts the selected values and checks the MAC
/// unless `ignore_mac`.
pub fn decrypt(
    docs: &mut [Map],
    md: &Metadata,
    service: &dyn KeyService,
    order: &[KeyKind],
    ignore_mac: bool,
) -> Result<Opened, CoreError> {
    let key = datakey::unwrap(md, service, order)?;
    let cipher = ValueCipher::new(key.bytes());
    let (computed, stash) = walk::decrypt_documents(
        docs,
        &cipher,
        &md.effective_selection(),
        md.mac_only_encrypted,
    )?;
    if !ignore_mac {
        mac::verify_mac(&cipher, &md.mac, &md.last_modified, &computed)?;
    }
    Ok(Opened {
        key,
        stash,
        mac: computed,
    })
}

/// Re-encrypts edited plaintext with the file's data key: values whose path
/// and plaintext did not change keep their exact ciphertext. `lastmodified`
/// and the MAC are renewed only when the values changed, so rewriting an
/// unchanged file gives back the same bytes.
pub fn reencrypt(
    docs: &mut [Map],
    md: &mut Metadata,
    opened: &Opened,
    now: OffsetDateTime,
) -> Result<(), CoreError> {
    seal(docs, md, opened, Some(&opened.stash), now)
}

fn seal(
    docs: &mut [Map],
    md: &mut Metadata,
    opened: &Opened,
    stash: Option<&IvStash>,
    now: OffsetDateTime,
) -> Result<(), CoreError> {
    let cipher = ValueCipher::new(opened.key.bytes());
    let computed = walk::encrypt_documents(
        docs,
        &cipher,
        &md.effective_selection(),
        md.mac_only_encrypted,
        stash,
    )?;
    if stash.is_some() && computed == opened.mac && !md.mac.is_empty() {
        return Ok(());
    }
    md.last_modified = timestamp(now);
    md.mac = mac::encrypt_mac(&cipher, &computed, &md.last_modified);
    Ok(())
}
