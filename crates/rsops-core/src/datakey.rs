//! The data key: generated, wrapped for every master key of every key group
//! (whole, or as Shamir shares when there are several groups), and recovered
//! from the metadata.

use std::fmt;
use std::sync::Arc;

use rand::RngCore;
use rsops_keys::{KeyError, KeyKind, KeyService, MasterKey};
use zeroize::Zeroizing;

use crate::error::{CoreError, KeyGroupsError};
use crate::metadata::{KeyEntry, KeyGroup, Metadata};
use crate::shamir;

/// The 32-byte AES-256 data key of a file; zeroized on drop.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A fresh random data key.
    pub fn generate() -> DataKey {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(k.as_mut());
        DataKey(k)
    }

    /// A data key from its 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<DataKey> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(DataKey(Zeroizing::new(arr)))
    }

    /// The key bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Wraps `key` for every master key of `groups`: one group gets the whole
/// key; several groups get one Shamir share each (threshold 0 → number of
/// groups). Each key is first passed through [`KeyService::resolve`], and
/// the key it returns is the one wrapped for and recorded. `created_at` is the RFC 3339 time recorded for new entries.
pub fn wrap(
    groups: &[Vec<MasterKey>],
    threshold: usize,
    key: &DataKey,
    service: &dyn KeyService,
    created_at: &str,
) -> Result<(Vec<KeyGroup>, usize), CoreError> {
    if groups.is_empty() {
        return Err(CoreError::KeyGroups(KeyGroupsError::NoGroups));
    }
    if groups.iter().any(|g| g.is_empty()) {
        return Err(CoreError::KeyGroups(KeyGroupsError::EmptyGroup));
    }
    let mut threshold = threshold;
    let parts: Vec<Zeroizing<Vec<u8>>> = if groups.len() > 1 {
        if threshold == 0 {
            threshold = groups.len();
        }
        if threshold < 2 {
            return Err(CoreError::KeyGroups(KeyGroupsError::ThresholdTooSmall));
        }
        if threshold > groups.len() {
            return Err(CoreError::KeyGroups(KeyGroupsError::ThresholdTooLarge {
                threshold,
                groups: groups.len(),
            }));
        }
        shamir::split(key.bytes(), groups.len(), threshold)?
    } else {
        vec![Zeroizing::new(key.bytes().to_vec())]
    };
    let mut out = Vec::with_capacity(groups.len());
    for (group, part) in groups.iter().zip(parts.iter()) {
        let mut entries = Vec::with_capacity(group.len());
        for given in group {
            // A key the service pins down first (an Azure key without
            // version) is recorded in its concrete form.
            let wrap_err = |source| CoreError::KeyWrap {
                key: given.key_string(),
                source: Box::new(source),
            };
            let resolved = service.resolve(given).map_err(wrap_err)?;
            let mk = resolved.as_ref().unwrap_or(given);
            let enc = service.encrypt(mk, part).map_err(wrap_err)?;
            entries.push(KeyEntry {
                key: mk.clone(),
                enc,
                created_at: if mk.kind() == KeyKind::Age {
                    String::new()
                } else {
                    created_at.to_owned()
                },
            });
        }
        out.push(KeyGroup { keys: entries });
    }
    Ok((out, threshold))
}

/// `groups` with every key replaced by what [`KeyService::resolve`] pins it
/// to, as [`wrap`] would record it: for comparing keys named in a
/// configuration with the keys of a file.
pub fn resolve_groups(
    groups: &[Vec<MasterKey>],
    service: &dyn KeyService,
) -> Result<Vec<Vec<MasterKey>>, CoreError> {
    groups
        .iter()
        .map(|group| {
            group
                .iter()
                .map(|given| match service.resolve(given) {
                    Ok(resolved) => Ok(resolved.unwrap_or_else(|| given.clone())),
                    Err(source) => Err(CoreError::KeyWrap {
                        key: given.key_string(),
                        source: Box::new(source),
                    }),
                })
                .collect()
        })
        .collect()
}

/// What happened to one master key while recovering the data key.
#[derive(Debug, Clone)]
pub struct KeyAttempt {
    /// The key string (public).
    pub key: String,
    /// `None` on success, else why it failed (shared, so that reports can
    /// be cloned).
    pub error: Option<Arc<KeyError>>,
}

/// What happened to one key group.
#[derive(Debug, Clone)]
pub struct GroupAttempt {
    /// Whether the group's part was recovered.
    pub ok: bool,
    /// The keys tried, in order.
    pub keys: Vec<KeyAttempt>,
}

/// Why the data key could not be recovered, group by group (printed like
/// sops's report; exit 128).
#[derive(Debug, Clone)]
pub struct DataKeyReport {
    /// Every group, in file order.
    pub groups: Vec<GroupAttempt>,
    /// The Shamir threshold, when there are several groups.
    pub threshold: usize,
    /// How many parts were recovered.
    pub recovered: usize,
}

impl fmt::Display for DataKeyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Failed to get the data key required to decrypt the SOPS file."
        )?;
        for (i, g) in self.groups.iter().enumerate() {
            writeln!(f)?;
            writeln!(f, "Group {i}: {}", if g.ok { "SUCCESS" } else { "FAILED" })?;
            for k in &g.keys {
                match &k.error {
                    None => writeln!(f, "  {}: SUCCESS", k.key)?,
                    Some(e) => {
                        writeln!(f, "  {}: FAILED", k.key)?;
                        writeln!(f, "    - {e}")?;
                    }
                }
            }
        }
        writeln!(f)?;
        if self.groups.len() > 1 {
            write!(
                f,
                "Recovery failed because the file was encrypted with a Shamir threshold of {}, but only {} part(s) were successfully recovered, one for each successful key group. In order for SOPS to recover the file, at least {} groups have to be successful. In order for a group to be successful, decryption has to succeed with any of the keys in that key group.",
                self.threshold, self.recovered, self.threshold
            )
        } else {
            write!(
                f,
                "Recovery failed because no master key was able to decrypt the file. In order for SOPS to recover the file, at least one key has to be successful, but none were."
            )
        }
    }
}

/// Sorts a group's keys by the decryption order: listed kinds first, in list
/// order; the others after them in file order (stable).
fn ordered<'m>(group: &'m KeyGroup, order: &[KeyKind]) -> Vec<&'m KeyEntry> {
    let rank = |e: &KeyEntry| {
        order
            .iter()
            .position(|k| *k == e.key.kind())
            .unwrap_or(order.len())
    };
    let mut keys: Vec<&KeyEntry> = group.keys.iter().collect();
    keys.sort_by_key(|e| rank(e));
    keys
}

/// Recovers the data key from the metadata with `service`, trying keys in
/// `order` within each group and stopping once enough groups succeeded.
pub fn unwrap(
    metadata: &Metadata,
    service: &dyn KeyService,
    order: &[KeyKind],
) -> Result<DataKey, CoreError> {
    let groups = &metadata.key_groups;
    let needed = if groups.len() > 1 {
        if metadata.shamir_threshold == 0 {
            groups.len()
        } else {
            metadata.shamir_threshold
        }
    } else {
        1
    };
    let mut parts: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    let mut report = DataKeyReport {
        groups: Vec::new(),
        threshold: needed,
        recovered: 0,
    };
    for group in groups {
        let mut attempt = GroupAttempt {
            ok: false,
            keys: Vec::new(),
        };
        if parts.len() < needed {
            for entry in ordered(group, order) {
                match service.decrypt(&entry.key, &entry.enc) {
                    Ok(part) => {
                        attempt.ok = true;
                        attempt.keys.push(KeyAttempt {
                            key: entry.key.key_string(),
                            error: None,
                        });
                        parts.push(part);
                        break;
                    }
                    Err(e) => attempt.keys.push(KeyAttempt {
                        key: entry.key.key_string(),
                        error: Some(Arc::new(e)),
                    }),
                }
            }
        }
        report.groups.push(attempt);
    }
    report.recovered = parts.len();
    if parts.len() < needed {
        return Err(CoreError::DataKey(report));
    }
    let bytes = if groups.len() > 1 {
        let shares: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        shamir::combine(&shares)?
    } else {
        parts.swap_remove(0)
    };
    DataKey::from_slice(&bytes).ok_or(CoreError::DataKeySize { len: bytes.len() })
}

/// Parses a decryption order (`age,pgp`): unknown identifiers are ignored,
/// a duplicate is an error (`Duplicate decryption key type: age`).
pub fn parse_decryption_order(spec: &str) -> Result<Vec<KeyKind>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(kind) = KeyKind::from_identifier(part) {
            if out.contains(&kind) {
                return Err(format!("Duplicate decryption key type: {part}"));
            }
            out.push(kind);
        }
    }
    Ok(out)
}

/// sops's default decryption order.
pub const DEFAULT_DECRYPTION_ORDER: [KeyKind; 2] = [KeyKind::Age, KeyKind::Pgp];

/// Copies `created_at` from the entries of `old` to the entries of `new`
/// with the same key string (in any group): sops keeps the creation date of
/// a master key that stays in the file when the data key is re-wrapped
/// (rotate, groups add/delete); only keys new to the file get a new date.
pub fn keep_created_at(old: &[KeyGroup], new: &mut [KeyGroup]) {
    let known: std::collections::HashMap<String, &str> = old
        .iter()
        .flat_map(|g| g.keys.iter())
        .map(|e| (e.key.key_string(), e.created_at.as_str()))
        .collect();
    for entry in new.iter_mut().flat_map(|g| g.keys.iter_mut()) {
        if let Some(created) = known.get(&entry.key.key_string()) {
            entry.created_at = (*created).to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rsops_keys::age::AgeBackend;
    use rsops_keys::error::{DecryptFailure, EncryptFailure, InvalidKeyReason};
    use rsops_keys::pgp::PgpBackend;
    use rsops_keys::LocalKeyService;

    use super::*;

    /// A key service with one age identity given as `SOPS_AGE_KEY`, and no
    /// gpg.
    fn service(age_key: &str) -> LocalKeyService {
        let vars = HashMap::from([("SOPS_AGE_KEY".to_string(), age_key.to_string())]);
        let home = std::env::temp_dir().join("rsops-datakey-tests-no-home");
        LocalKeyService::new(
            AgeBackend::with_env(vars, Some(home.clone())),
            PgpBackend::new(home, "/nonexistent/rsops-gpg"),
        )
    }

    #[test]
    fn key_group_problems_are_typed_and_keep_their_wording() {
        let key = DataKey::generate();
        let svc = service("");
        let age = || MasterKey::age("age1invalid");
        let cases: [(Vec<Vec<MasterKey>>, usize, KeyGroupsError, &str); 4] = [
            (
                vec![],
                0,
                KeyGroupsError::NoGroups,
                "no key groups provided",
            ),
            (
                vec![vec![]],
                0,
                KeyGroupsError::EmptyGroup,
                "empty key group provided",
            ),
            (
                vec![vec![age()], vec![age()]],
                1,
                KeyGroupsError::ThresholdTooSmall,
                "threshold must be at least 2 when there are several key groups",
            ),
            (
                vec![vec![age()], vec![age()]],
                3,
                KeyGroupsError::ThresholdTooLarge {
                    threshold: 3,
                    groups: 2,
                },
                "the Shamir threshold 3 is larger than the number of key groups (2)",
            ),
        ];
        for (groups, threshold, expected, text) in cases {
            let err = wrap(&groups, threshold, &key, &svc, "").expect_err("refused");
            match &err {
                CoreError::KeyGroups(problem) => assert_eq!(problem, &expected),
                other => panic!("unexpected {other:?}"),
            }
            assert_eq!(err.to_string(), text);
        }
    }

    #[test]
    fn key_wrap_error_keeps_the_key_error_as_source() {
        let err = wrap(
            &[vec![MasterKey::age("bogus")]],
            0,
            &DataKey::generate(),
            &service(""),
            "",
        )
        .expect_err("invalid recipient");
        let CoreError::KeyWrap { key, source } = &err else {
            panic!("unexpected {err:?}");
        };
        assert_eq!(key, "bogus");
        assert!(matches!(
            **source,
            KeyError::InvalidKey {
                reason: InvalidKeyReason::AgeUnknownType,
                ..
            }
        ));
        assert!(std::error::Error::source(&err).is_some());
        assert_eq!(
            err.to_string(),
            "Could not generate data key: failed to encrypt new data key with master key \
             \"bogus\": invalid age key \"bogus\": failed to parse input, unknown recipient type"
        );
        // An encryption failure (not a parse failure) is an Encrypt error.
        let pgp = MasterKey::pgp("0123456789ABCDEF0123456789ABCDEF01234567");
        let err = wrap(&[vec![pgp]], 0, &DataKey::generate(), &service(""), "")
            .expect_err("no key, no gpg");
        let CoreError::KeyWrap { source, .. } = &err else {
            panic!("unexpected {err:?}");
        };
        assert!(
            matches!(**source, KeyError::Encrypt(EncryptFailure::Pgp(_))),
            "{source:?}"
        );
    }

    /// Pins `age1given` to `age1pinned` and wraps by copying.
    struct Pinning;

    impl KeyService for Pinning {
        fn resolve(&self, key: &MasterKey) -> Result<Option<MasterKey>, KeyError> {
            Ok((key.key_string() == "age1given").then(|| MasterKey::age("age1pinned")))
        }

        fn encrypt(&self, key: &MasterKey, plaintext: &[u8]) -> Result<String, KeyError> {
            assert_eq!(key.key_string(), "age1pinned", "wraps for the resolved key");
            Ok(hex::encode(plaintext))
        }

        fn decrypt(&self, _: &MasterKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
            Ok(Zeroizing::new(hex::decode(enc).unwrap_or_default()))
        }
    }

    #[test]
    fn wrap_records_the_key_the_service_resolves() {
        let groups = vec![vec![MasterKey::age("age1given")]];
        let (wrapped, _) = wrap(&groups, 0, &DataKey::generate(), &Pinning, "t").expect("wrap");
        assert_eq!(wrapped[0].keys[0].key, MasterKey::age("age1pinned"));
        let resolved = resolve_groups(&groups, &Pinning).expect("resolve");
        assert_eq!(resolved, vec![vec![MasterKey::age("age1pinned")]]);
        let kept = resolve_groups(&[vec![MasterKey::age("age1other")]], &Pinning).expect("keep");
        assert_eq!(kept, vec![vec![MasterKey::age("age1other")]]);
    }

    #[test]
    fn data_key_report_never_shows_enc_or_identities() {
        let marker = "MARKERSECRETDATA";
        let identity = "AGE-SECRET-KEY-1MARKERIDENTITYQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
        let entry = |enc: String| KeyEntry {
            key: MasterKey::age("age1recipient"),
            enc,
            created_at: String::new(),
        };
        let metadata = Metadata {
            key_groups: vec![KeyGroup {
                keys: vec![
                    entry(format!(
                        "-----BEGIN AGE ENCRYPTED FILE-----\n{marker}\n-----END AGE ENCRYPTED FILE-----\n"
                    )),
                    entry(format!("{marker} as a binary age file")),
                ],
            }],
            shamir_threshold: 0,
            last_modified: String::new(),
            mac: String::new(),
            selection: None,
            mac_only_encrypted: false,
            version: String::new(),
        };
        let err = unwrap(&metadata, &service(identity), &DEFAULT_DECRYPTION_ORDER)
            .expect_err("nothing decrypts");
        let CoreError::DataKey(report) = &err else {
            panic!("unexpected {err:?}");
        };
        assert_eq!(report.groups[0].keys.len(), 2);
        for attempt in &report.groups[0].keys {
            let e = attempt.error.as_deref().expect("failed");
            assert!(
                matches!(
                    e,
                    KeyError::NoIdentity(_) | KeyError::Decrypt(DecryptFailure::Age(_))
                ),
                "{e:?}"
            );
        }
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(marker), "{shown}");
            assert!(!shown.contains("MARKERIDENTITY"), "{shown}");
        }
    }
}
