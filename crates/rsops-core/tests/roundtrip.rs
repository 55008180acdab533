//! Property tests: decrypt(encrypt(tree)) == tree for generated trees, with
//! every selection rule, one or several key groups, and the MAC checked.

use proptest::prelude::*;
use rsops_core::file::{self, EncryptOptions};
use rsops_core::selection::{Selection, SelectionKind};
use rsops_format::tree::{Comment, List, ListItem, Map, MapItem, Value};
use rsops_keys::error::{AgeDecryptError, DecryptFailure};
use rsops_keys::{KeyError, KeyService, MasterKey};
use zeroize::Zeroizing;

/// A key service for tests: "wraps" by hex-encoding with the recipient as a
/// prefix, so that the wrong key fails.
struct HexService;

impl KeyService for HexService {
    fn encrypt(&self, key: &MasterKey, plaintext: &[u8]) -> Result<String, KeyError> {
        Ok(format!("{}:{}", key.key_string(), hex::encode(plaintext)))
    }
    fn decrypt(&self, key: &MasterKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let (who, data) = enc.split_once(':').ok_or_else(malformed)?;
        if who != key.key_string() {
            return Err(KeyError::Decrypt(DecryptFailure::Age(
                AgeDecryptError::NoMatchingIdentity {
                    missing_plugins: Vec::new(),
                    sources: Default::default(),
                },
            )));
        }
        hex::decode(data)
            .map(Zeroizing::new)
            .map_err(|_| malformed())
    }
}

/// A `Decrypt` error for a value that is not one of this service's.
fn malformed() -> KeyError {
    KeyError::Decrypt(DecryptFailure::Age(AgeDecryptError::Malformed {
        source: age::DecryptError::InvalidHeader,
    }))
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::Str),
        any::<i64>().prop_map(Value::Int),
        (-1e300f64..1e300).prop_map(Value::Float),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        Just(Value::Str(String::new())),
        Just(Value::Time("2024-01-02T03:04:05.5Z".into())),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z]{1,8}", "[a-z]{1,5}_unencrypted", "data", "x_secret"]
}

fn comment() -> impl Strategy<Value = String> {
    prop_oneof![" [a-z ]{0,10}", Just(" sops:enc".to_owned())]
}

fn tree() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec((key(), inner.clone(), prop::option::of(comment())), 0..6)
                .prop_map(|items| {
                    let mut m = Map::new();
                    for (k, v, c) in items {
                        if let Some(c) = c {
                            m.items.push(MapItem::Comment(Comment::new(c)));
                        }
                        m.push(k, v);
                    }
                    Value::Map(m)
                }),
            prop::collection::vec((inner, prop::option::of(comment())), 0..6).prop_map(|items| {
                let mut l = List::default();
                for (v, c) in items {
                    if let Some(c) = c {
                        l.items.push(ListItem::Comment(Comment::new(c)));
                    }
                    l.items.push(ListItem::Value(v));
                }
                Value::List(l)
            }),
        ]
    })
}

fn documents() -> impl Strategy<Value = Vec<Map>> {
    prop::collection::vec(
        prop::collection::vec((key(), tree()), 0..6).prop_map(|items| {
            let mut m = Map::new();
            for (k, v) in items {
                m.push(k, v);
            }
            m
        }),
        1..3,
    )
}

fn selection() -> impl Strategy<Value = Option<Selection>> {
    prop_oneof![
        Just(None),
        Just(Some(Selection::default_rule())),
        Just(Some(
            Selection::new(SelectionKind::EncryptedSuffix, "_secret").unwrap()
        )),
        Just(Some(
            Selection::new(SelectionKind::UnencryptedRegex, "^a").unwrap()
        )),
        Just(Some(
            Selection::new(SelectionKind::EncryptedRegex, "^data$").unwrap()
        )),
        Just(Some(
            Selection::new(SelectionKind::EncryptedCommentRegex, "sops:enc").unwrap()
        )),
        Just(Some(
            Selection::new(SelectionKind::UnencryptedCommentRegex, "sops:enc").unwrap()
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn decrypt_inverts_encrypt(docs in documents(), sel in selection(), mac_only in any::<bool>(), groups in 1usize..4) {
        let key_groups: Vec<Vec<MasterKey>> = (0..groups).map(|g| vec![MasterKey::age(format!("age1group{g}"))]).collect();
        let opts = EncryptOptions { key_groups, shamir_threshold: 0, selection: sel, mac_only_encrypted: mac_only };
        let mut enc = docs.clone();
        let now = time::OffsetDateTime::now_utc();
        let md = file::encrypt(&mut enc, &opts, &HexService, now).unwrap();
        let mut dec = enc.clone();
        file::decrypt(&mut dec, &md, &HexService, &[], false, &rsops_format::Sequential).unwrap();
        prop_assert_eq!(dec, docs);
    }
}

#[test]
fn unchanged_values_keep_their_ciphertext_on_reencryption() {
    let mut doc = Map::new();
    doc.push("a", Value::Str("one".into()));
    doc.push("b", Value::Int(2));
    let opts = EncryptOptions {
        key_groups: vec![vec![MasterKey::age("age1x")]],
        shamir_threshold: 0,
        selection: Some(Selection::default_rule()),
        mac_only_encrypted: false,
    };
    let now = time::OffsetDateTime::now_utc();
    let mut enc = vec![doc];
    let mut md = file::encrypt(&mut enc, &opts, &HexService, now).unwrap();
    let mut plain = enc.clone();
    let opened = file::decrypt(
        &mut plain,
        &md,
        &HexService,
        &[],
        false,
        &rsops_format::Sequential,
    )
    .unwrap();
    *plain[0].get_mut("b").unwrap() = Value::Int(3);
    let mut again = plain.clone();
    file::reencrypt(&mut again, &mut md, &opened, now).unwrap();
    assert_eq!(again[0].get("a"), enc[0].get("a"));
    assert_ne!(again[0].get("b"), enc[0].get("b"));
    let mut check = again.clone();
    file::decrypt(
        &mut check,
        &md,
        &HexService,
        &[],
        false,
        &rsops_format::Sequential,
    )
    .unwrap();
    assert_eq!(check, plain);
}

#[test]
fn a_missing_group_key_fails_with_a_report() {
    let opts = EncryptOptions {
        key_groups: vec![vec![MasterKey::age("age1a")], vec![MasterKey::age("age1b")]],
        shamir_threshold: 2,
        selection: None,
        mac_only_encrypted: false,
    };
    let mut docs = vec![Map::new()];
    let mut md = file::encrypt(
        &mut docs,
        &opts,
        &HexService,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    md.key_groups[1].keys[0].enc = "age1other:00".into();
    let err = file::decrypt(
        &mut docs,
        &md,
        &HexService,
        &[],
        false,
        &rsops_format::Sequential,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Shamir threshold of 2"), "{text}");
    assert!(text.contains("Group 1: FAILED"), "{text}");
}
