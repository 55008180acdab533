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

/// Decrypts `docs` in place with an already recovered data key and checks
/// the MAC unless `ignore_mac`: [`decrypt`] for read-only uses, without the
/// IV stash that only re-encryption needs.
pub fn decrypt_with_key(
    docs: &mut [Map],
    md: &Metadata,
    key: &DataKey,
    ignore_mac: bool,
) -> Result<(), CoreError> {
    let cipher = ValueCipher::new(key.bytes());
    let computed = walk::decrypt_documents_mac(
        docs,
        &cipher,
        &md.effective_selection(),
        md.mac_only_encrypted,
    )?;
    if !ignore_mac {
        mac::verify_mac(&cipher, &md.mac, &md.last_modified, &computed)?;
    }
    Ok(())
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

/// Rotates the data key of an opened file: generates a new data key, wraps
/// it for `key_groups` (the metadata's Shamir threshold is kept; 0 with
/// several groups becomes the number of groups) and re-encrypts the
/// plaintext `docs` in place with it. Values keep their IVs (sops reuses
/// them with the new key), so every `ENC[...]` changes; `lastmodified` and
/// the MAC are renewed. Entries of keys that were already in the file keep
/// their `created_at`. `version` is left as it was.
pub fn rotate(
    docs: &mut [Map],
    md: &mut Metadata,
    opened: &Opened,
    key_groups: &[Vec<MasterKey>],
    service: &dyn KeyService,
    now: OffsetDateTime,
) -> Result<(), CoreError> {
    let key = DataKey::generate();
    let stamp = timestamp(now);
    let (mut groups, threshold) =
        datakey::wrap(key_groups, md.shamir_threshold, &key, service, &stamp)?;
    datakey::keep_created_at(&md.key_groups, &mut groups);
    if groups.len() > 1 {
        md.shamir_threshold = threshold;
    }
    md.key_groups = groups;
    let cipher = ValueCipher::new(key.bytes());
    let computed = walk::encrypt_documents(
        docs,
        &cipher,
        &md.effective_selection(),
        md.mac_only_encrypted,
        Some(&opened.stash),
    )?;
    md.last_modified = stamp;
    md.mac = mac::encrypt_mac(&cipher, &computed, &md.last_modified);
    Ok(())
}

#[cfg(test)]
mod rotate_tests {
    use super::*;
    use rsops_format::tree::Value;
    use rsops_keys::KeyError;
    use zeroize::Zeroizing;

    /// Wraps by hex-encoding behind the key string, so the wrong key fails.
    struct HexService;

    impl KeyService for HexService {
        fn encrypt(&self, key: &MasterKey, plaintext: &[u8]) -> Result<String, KeyError> {
            Ok(format!("{}:{}", key.key_string(), hex::encode(plaintext)))
        }
        fn decrypt(&self, key: &MasterKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
            let (who, data) = enc.split_once(':').ok_or(KeyError::Decrypt("bad".into()))?;
            if who != key.key_string() {
                return Err(KeyError::Decrypt("wrong key".into()));
            }
            hex::decode(data)
                .map(Zeroizing::new)
                .map_err(|_| KeyError::Decrypt("bad hex".into()))
        }
    }

    fn doc() -> Map {
        let mut m = Map::new();
        m.push("a", Value::Str("secret".into()));
        m.push("b", Value::Int(7));
        m
    }

    fn encrypted(groups: Vec<Vec<MasterKey>>, threshold: usize) -> (Vec<Map>, Metadata) {
        let mut docs = vec![doc()];
        let md = encrypt(
            &mut docs,
            &EncryptOptions {
                key_groups: groups,
                shamir_threshold: threshold,
                selection: Some(Selection::default_rule()),
                mac_only_encrypted: false,
            },
            &HexService,
            OffsetDateTime::UNIX_EPOCH,
        )
        .expect("encrypt");
        (docs, md)
    }

    #[test]
    fn rotate_changes_key_and_values_and_keeps_plaintext() {
        let groups = vec![
            vec![MasterKey::age("a1")],
            vec![MasterKey::age("a2"), MasterKey::pgp("P1")],
            vec![MasterKey::age("a3")],
        ];
        let (mut docs, mut md) = encrypted(groups.clone(), 2);
        let old_docs = docs.clone();
        let old_md = md.clone();
        let opened = decrypt(&mut docs, &md, &HexService, &[], false).expect("decrypt");
        let later = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        rotate(&mut docs, &mut md, &opened, &groups, &HexService, later).expect("rotate");
        assert_eq!(md.shamir_threshold, 2);
        assert_eq!(md.key_groups.len(), 3);
        assert_ne!(md.mac, old_md.mac);
        assert_eq!(md.last_modified, "1970-01-02T00:00:00Z");
        assert_ne!(docs, old_docs, "every value ciphertext changes");
        // The pgp entry existed before: its created_at is kept.
        let created = |m: &Metadata| {
            m.key_groups[1]
                .keys
                .iter()
                .find(|e| e.key == MasterKey::pgp("P1"))
                .map(|e| e.created_at.clone())
        };
        assert_eq!(created(&md), created(&old_md));
        let reopened = decrypt(&mut docs, &md, &HexService, &[], false).expect("decrypt new");
        assert_ne!(reopened.key.bytes(), opened.key.bytes());
        assert_eq!(docs, vec![doc()]);
    }

    #[test]
    fn rotate_with_empty_group_fails() {
        let (mut docs, mut md) = encrypted(vec![vec![MasterKey::age("a1")]], 0);
        let opened = decrypt(&mut docs, &md, &HexService, &[], false).expect("decrypt");
        let err = rotate(
            &mut docs,
            &mut md,
            &opened,
            &[vec![]],
            &HexService,
            OffsetDateTime::UNIX_EPOCH,
        );
        assert!(matches!(err, Err(CoreError::KeyGroups(_))));
    }
}
