//! The `sops` metadata block: read from any version's files,
//! written as sops 3.13 writes it (every map's keys sorted by name).

use rsops_format::tree::{List, ListItem, Map, MapItem, Value};
use rsops_keys::{FieldValue, Fields, KeyKind, MasterKey};

use crate::error::{CoreError, MetadataError};
use crate::selection::{Selection, SelectionKind};

/// One master key's entry: which key, and the data key (or share) it wraps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The master key.
    pub key: MasterKey,
    /// The wrapped data key as stored (`enc`).
    pub enc: String,
    /// When the entry was made (RFC 3339); age entries have none.
    pub created_at: String,
}

/// A key group: any of its keys can recover the group's part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyGroup {
    /// Keys in file order.
    pub keys: Vec<KeyEntry>,
}

/// The parsed `sops` block.
#[derive(Debug, Clone)]
pub struct Metadata {
    /// Key groups (one for flat metadata).
    pub key_groups: Vec<KeyGroup>,
    /// Shamir threshold (0 = unset).
    pub shamir_threshold: usize,
    /// `lastmodified` as written.
    pub last_modified: String,
    /// The encrypted MAC (`ENC[...]`), empty when absent.
    pub mac: String,
    /// The selection rule recorded in the file (`None`: binary files, and
    /// files that record none — read with the default rule).
    pub selection: Option<Selection>,
    /// `mac_only_encrypted`.
    pub mac_only_encrypted: bool,
    /// The sops version that wrote the file.
    pub version: String,
}

impl Metadata {
    /// The rule that decides which leaves are encrypted (the default
    /// `_unencrypted` suffix when the file records none).
    pub fn effective_selection(&self) -> Selection {
        self.selection
            .clone()
            .unwrap_or_else(Selection::default_rule)
    }

    /// Parses the metadata map of a file (any store; values may be weakly
    /// typed as in dotenv/INI).
    pub fn from_tree(map: &Map) -> Result<Metadata, CoreError> {
        let flat = read_group(map)?;
        let key_groups = if !flat.keys.is_empty() {
            vec![flat]
        } else {
            match map.get("key_groups") {
                Some(Value::List(groups)) => groups
                    .values()
                    .map(|g| match g {
                        Value::Map(m) => read_group(m),
                        _ => Err(bad(MetadataError::GroupNotMap)),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                _ => Vec::new(),
            }
        };
        if key_groups.is_empty() || key_groups.iter().all(|g| g.keys.is_empty()) {
            return Err(bad(MetadataError::NoKeys));
        }
        let mut selection = None;
        for kind in SelectionKind::ALL {
            if let Some(v) = map.get(kind.field_name()) {
                let pattern = text(v).unwrap_or_default();
                if pattern.is_empty() {
                    continue;
                }
                if selection.is_some() {
                    return Err(CoreError::SelectionConflict);
                }
                selection = Some(Selection::new(kind, &pattern)?);
            }
        }
        let last_modified = map.get("lastmodified").and_then(text).unwrap_or_default();
        if time::OffsetDateTime::parse(
            &last_modified,
            &time::format_description::well_known::Rfc3339,
        )
        .is_err()
        {
            return Err(bad(MetadataError::BadTimestamp {
                field: "lastmodified",
            }));
        }
        Ok(Metadata {
            key_groups,
            shamir_threshold: map.get("shamir_threshold").map_or(Ok(0), integer)?,
            last_modified,
            mac: map.get("mac").and_then(text).unwrap_or_default(),
            selection,
            mac_only_encrypted: map.get("mac_only_encrypted").is_some_and(truthy),
            version: map.get("version").and_then(text).unwrap_or_default(),
        })
    }

    /// The metadata map as sops 3.13 writes it: the keys of every map (the
    /// block, each key group, each entry, a KMS context) sorted bytewise by
    /// name. sops 3.13 turns its metadata structs into maps and sorts their
    /// keys (`stores/metadata.go`); 3.11 wrote the structs' field order.
    /// Which lists are present does not change: empty lists are left out,
    /// except `age` and `hc_vault` inside `key_groups`.
    pub fn to_tree(&self) -> Map {
        let mut m = self.to_tree_unsorted();
        sort_keys(&mut m);
        m
    }

    /// The metadata map with its keys in sops 3.11's (struct) order.
    fn to_tree_unsorted(&self) -> Map {
        let mut m = Map::new();
        if self.shamir_threshold != 0 {
            m.push("shamir_threshold", Value::Int(self.shamir_threshold as i64));
        }
        let grouped = self.key_groups.len() > 1;
        if grouped {
            let groups = self
                .key_groups
                .iter()
                .map(|g| ListItem::Value(Value::Map(write_group(g, true))))
                .collect();
            m.push("key_groups", Value::List(List { items: groups }));
        }
        let flat = if grouped {
            None
        } else {
            self.key_groups.first()
        };
        let lists = flat.map(|g| write_lists(g, false)).unwrap_or_default();
        let (after_mac, before_mac): (Vec<_>, Vec<_>) = lists
            .into_iter()
            .partition(|(kind, _)| kind.metadata().flat_after_mac);
        for (kind, list) in before_mac {
            m.push(kind.identifier(), list);
        }
        m.push("lastmodified", Value::Str(self.last_modified.clone()));
        m.push("mac", Value::Str(self.mac.clone()));
        for (kind, list) in after_mac {
            m.push(kind.identifier(), list);
        }
        if let Some(sel) = &self.selection {
            m.push(
                sel.kind().field_name(),
                Value::Str(sel.pattern().to_owned()),
            );
        }
        if self.mac_only_encrypted {
            m.push("mac_only_encrypted", Value::Bool(true));
        }
        m.push("version", Value::Str(self.version.clone()));
        m
    }
}

/// Sorts the entries of `map`, and of every map inside it, by key (bytewise,
/// as Go's `sort` on strings). The sort is stable; metadata maps hold no
/// comments.
fn sort_keys(map: &mut Map) {
    map.items.sort_by(|a, b| match (a, b) {
        (MapItem::Entry(a), MapItem::Entry(b)) => a
            .key
            .as_str()
            .unwrap_or_default()
            .as_bytes()
            .cmp(b.key.as_str().unwrap_or_default().as_bytes()),
        _ => std::cmp::Ordering::Equal,
    });
    for item in &mut map.items {
        if let MapItem::Entry(entry) = item {
            sort_value(&mut entry.value);
        }
    }
}

/// [`sort_keys`] for the maps inside a value.
fn sort_value(value: &mut Value) {
    match value {
        Value::Map(m) => sort_keys(m),
        Value::List(list) => {
            for item in &mut list.items {
                if let ListItem::Value(v) = item {
                    sort_value(v);
                }
            }
        }
        _ => {}
    }
}

fn bad(problem: MetadataError) -> CoreError {
    CoreError::Metadata(problem)
}

/// A scalar as text (metadata is weakly typed in dotenv/INI).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) | Value::Time(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(rsops_format::go::format_float_plain(*f)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Str(s) => s == "true",
        _ => false,
    }
}

fn integer(v: &Value) -> Result<usize, CoreError> {
    let n = match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Str(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| bad(MetadataError::ThresholdNotInteger))?,
        Value::Null => 0.0,
        _ => return Err(bad(MetadataError::ThresholdNotInteger)),
    };
    if n.fract() != 0.0 || !(0.0..=255.0).contains(&n) {
        return Err(bad(MetadataError::ThresholdOutOfRange));
    }
    Ok(n as usize)
}

/// The key lists of a group (or of the flat metadata), in the order sops
/// reads them ([`KeyKind::read_order`]).
fn read_group(map: &Map) -> Result<KeyGroup, CoreError> {
    let mut keys = Vec::new();
    for kind in KeyKind::read_order() {
        let name = kind.identifier();
        let Some(Value::List(list)) = map.get(name) else {
            continue;
        };
        for entry in list.values() {
            let Value::Map(e) = entry else {
                return Err(bad(MetadataError::EntryNotMap { list: name }));
            };
            keys.push(read_entry(kind, e)?);
        }
    }
    Ok(KeyGroup { keys })
}

/// An entry's fields as text (maps of text for map values).
fn entry_fields(e: &Map) -> Fields {
    let mut fields = Fields::new();
    for x in e.entries() {
        let Some(name) = x.key.as_str() else {
            continue;
        };
        match &x.value {
            Value::Map(m) => fields.push_map(
                name,
                m.entries()
                    .filter_map(|y| Some((y.key.as_str()?.to_owned(), text(&y.value)?)))
                    .collect(),
            ),
            other => {
                if let Some(t) = text(other) {
                    fields.push_str(name, t);
                }
            }
        }
    }
    fields
}

fn read_entry(kind: KeyKind, e: &Map) -> Result<KeyEntry, CoreError> {
    let fields = entry_fields(e);
    let key = kind.from_metadata(&fields);
    let created_at = fields.str("created_at");
    if !created_at.is_empty()
        && time::OffsetDateTime::parse(&created_at, &time::format_description::well_known::Rfc3339)
            .is_err()
    {
        return Err(bad(MetadataError::BadTimestamp {
            field: "created_at",
        }));
    }
    Ok(KeyEntry {
        key,
        enc: fields.str("enc"),
        created_at,
    })
}

/// The entry map, in the kind's field order.
fn write_entry(entry: &KeyEntry) -> Map {
    let mut m = Map::new();
    for (name, value) in entry.key.to_metadata(&entry.enc, &entry.created_at).0 {
        let value = match value {
            FieldValue::Str(s) => Value::Str(s),
            FieldValue::Map(pairs) => {
                let mut c = Map::new();
                for (k, v) in pairs {
                    c.push(k.as_str(), Value::Str(v));
                }
                Value::Map(c)
            }
        };
        m.push(name.as_str(), value);
    }
    m
}

/// The lists of a group, in registry order, non-empty only unless
/// `in_group` and the kind is always written in groups.
fn write_lists(group: &KeyGroup, in_group: bool) -> Vec<(KeyKind, Value)> {
    let mut out = Vec::new();
    for &kind in KeyKind::ALL {
        let items: Vec<ListItem> = group
            .keys
            .iter()
            .filter(|e| e.key.kind() == kind)
            .map(|e| ListItem::Value(Value::Map(write_entry(e))))
            .collect();
        if !items.is_empty() || (in_group && kind.metadata().group_always) {
            out.push((kind, Value::List(List { items })));
        }
    }
    out
}

/// A key group map: the kinds written first in groups, then the others in
/// registry order.
fn write_group(group: &KeyGroup, in_group: bool) -> Map {
    let (first, rest): (Vec<_>, Vec<_>) = write_lists(group, in_group)
        .into_iter()
        .partition(|(kind, _)| kind.metadata().group_first);
    let mut m = Map::new();
    for (kind, list) in first.into_iter().chain(rest) {
        m.push(kind.identifier(), list);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Metadata {
        Metadata {
            key_groups: vec![KeyGroup {
                keys: vec![
                    KeyEntry {
                        key: MasterKey::Age(rsops_keys::age::AgeKey {
                            recipient: "age1xyz".into(),
                        }),
                        enc: "-----BEGIN AGE ENCRYPTED FILE-----\nabc\n-----END AGE ENCRYPTED FILE-----\n".into(),
                        created_at: String::new(),
                    },
                    KeyEntry {
                        key: MasterKey::Pgp(rsops_keys::pgp::PgpKey {
                            fingerprint: "ABCD".into(),
                        }),
                        enc: "-----BEGIN PGP MESSAGE-----\nx\n-----END PGP MESSAGE-----".into(),
                        created_at: "2026-01-01T00:00:00Z".into(),
                    },
                ],
            }],
            shamir_threshold: 0,
            last_modified: "2026-01-02T03:04:05Z".into(),
            mac: "ENC[...]".into(),
            selection: Some(Selection::new(SelectionKind::EncryptedRegex, "^data$").unwrap()),
            mac_only_encrypted: true,
            version: "3.11.0".into(),
        }
    }

    fn keys(m: &Map) -> Vec<&str> {
        m.entries().filter_map(|e| e.key.as_str()).collect()
    }

    #[test]
    fn flat_metadata_is_written_in_3_13_order() {
        let md = sample();
        assert_eq!(
            keys(&md.to_tree_unsorted()),
            [
                "age",
                "lastmodified",
                "mac",
                "pgp",
                "encrypted_regex",
                "mac_only_encrypted",
                "version"
            ]
        );
        let tree = md.to_tree();
        assert_eq!(
            keys(&tree),
            [
                "age",
                "encrypted_regex",
                "lastmodified",
                "mac",
                "mac_only_encrypted",
                "pgp",
                "version"
            ]
        );
        let Some(Value::List(pgp)) = tree.get("pgp") else {
            panic!("pgp list")
        };
        let Some(Value::Map(p0)) = pgp.values().next() else {
            panic!("pgp entry")
        };
        assert_eq!(keys(p0), ["created_at", "enc", "fp"]);
        let back = Metadata::from_tree(&tree).unwrap();
        // Keys are loaded in sops's order: pgp before age.
        let mut expected = sample().key_groups;
        expected[0].keys.reverse();
        assert_eq!(back.key_groups, expected);
        assert!(back.mac_only_encrypted);
        assert_eq!(back.selection.unwrap().pattern(), "^data$");
    }

    #[test]
    fn key_groups_always_carry_hc_vault_and_age() {
        let mut md = sample();
        let g = md.key_groups[0].clone();
        md.key_groups.push(g);
        md.shamir_threshold = 2;
        let tree = md.to_tree();
        assert_eq!(
            keys(&tree),
            [
                "encrypted_regex",
                "key_groups",
                "lastmodified",
                "mac",
                "mac_only_encrypted",
                "shamir_threshold",
                "version"
            ]
        );
        let Some(Value::List(groups)) = tree.get("key_groups") else {
            panic!("no key_groups")
        };
        let Some(Value::Map(g0)) = groups.values().next() else {
            panic!("no group")
        };
        assert_eq!(keys(g0), ["age", "hc_vault", "pgp"]);
        let back = Metadata::from_tree(&tree).unwrap();
        assert_eq!(back.key_groups.len(), 2);
        assert_eq!(back.shamir_threshold, 2);
    }

    #[test]
    fn weakly_typed_values_are_accepted() {
        let mut tree = sample().to_tree();
        tree.push("shamir_threshold", Value::Str("2".into()));
        *tree.get_mut("mac_only_encrypted").unwrap() = Value::Str("true".into());
        let md = Metadata::from_tree(&tree).unwrap();
        assert_eq!(md.shamir_threshold, 2);
        assert!(md.mac_only_encrypted);
    }

    #[test]
    fn two_selection_rules_are_refused() {
        let mut tree = sample().to_tree();
        tree.push("unencrypted_suffix", Value::Str("_x".into()));
        assert!(matches!(
            Metadata::from_tree(&tree),
            Err(CoreError::SelectionConflict)
        ));
    }

    #[test]
    fn no_keys_is_an_error() {
        let mut tree = Map::new();
        tree.push("lastmodified", Value::Str("2026-01-02T03:04:05Z".into()));
        tree.push("age", Value::List(List::default()));
        let err = Metadata::from_tree(&tree).expect_err("no keys");
        assert!(matches!(err, CoreError::Metadata(MetadataError::NoKeys)));
        assert_eq!(
            err.to_string(),
            "invalid sops metadata: No keys found in file"
        );
    }

    #[test]
    fn metadata_problems_are_typed_and_keep_their_wording() {
        let with = |field: &str, value: Value| {
            let mut tree = sample().to_tree();
            tree.remove(field);
            tree.push(field, value);
            Metadata::from_tree(&tree).expect_err("refused")
        };
        let cases = [
            (
                with("lastmodified", Value::Str("yesterday".into())),
                MetadataError::BadTimestamp {
                    field: "lastmodified",
                },
                "parsing time: lastmodified is not an RFC 3339 timestamp",
            ),
            (
                with("shamir_threshold", Value::Str("two".into())),
                MetadataError::ThresholdNotInteger,
                "shamir_threshold is not an integer",
            ),
            (
                with("shamir_threshold", Value::Float(1.5)),
                MetadataError::ThresholdOutOfRange,
                "shamir_threshold is not an integer between 0 and 255",
            ),
            (
                with(
                    "age",
                    Value::List(List {
                        items: vec![ListItem::Value(Value::Int(1))],
                    }),
                ),
                MetadataError::EntryNotMap { list: "age" },
                "age entries must be maps",
            ),
        ];
        for (err, expected, text) in cases {
            match &err {
                CoreError::Metadata(problem) => assert_eq!(problem, &expected),
                other => panic!("unexpected {other:?}"),
            }
            assert_eq!(err.to_string(), format!("invalid sops metadata: {text}"));
        }
    }

    #[test]
    fn entries_of_every_key_type_survive_a_rewrite() {
        let entry = |key| KeyEntry {
            key,
            enc: "opaque-enc".into(),
            created_at: "2020-01-01T00:00:00Z".into(),
        };
        let md = Metadata {
            key_groups: vec![KeyGroup {
                keys: vec![
                    entry(MasterKey::Kms(rsops_keys::kinds::kms::KmsKey {
                        arn: "arn:aws:kms:us-east-1:1:key/x".into(),
                        role: "arn:aws:iam::1:role/r".into(),
                        context: vec![("app".into(), "x".into())],
                        aws_profile: String::new(),
                    })),
                    entry(MasterKey::GcpKms(rsops_keys::kinds::gcp_kms::GcpKmsKey {
                        resource_id: "projects/p/locations/l/keyRings/r/cryptoKeys/k".into(),
                    })),
                    entry(MasterKey::Hckms(rsops_keys::kinds::hckms::HckmsKey {
                        key_id: "cn-north-4:abc".into(),
                    })),
                    entry(MasterKey::AzureKv(
                        rsops_keys::kinds::azure_kv::AzureKvKey {
                            vault_url: "https://v.vault.azure.net".into(),
                            name: "k".into(),
                            version: "1".into(),
                        },
                    )),
                    entry(MasterKey::HcVault(
                        rsops_keys::kinds::hc_vault::HcVaultKey {
                            vault_address: "https://vault:8200".into(),
                            engine_path: "transit".into(),
                            key_name: "k".into(),
                        },
                    )),
                    entry(MasterKey::Pgp(rsops_keys::pgp::PgpKey {
                        fingerprint: "ABCD".into(),
                    })),
                ],
            }],
            ..sample()
        };
        let tree = md.to_tree();
        assert_eq!(
            keys(&tree),
            [
                "azure_kv",
                "encrypted_regex",
                "gcp_kms",
                "hc_vault",
                "hckms",
                "kms",
                "lastmodified",
                "mac",
                "mac_only_encrypted",
                "pgp",
                "version"
            ]
        );
        let Some(Value::List(kms)) = tree.get("kms") else {
            panic!("kms list")
        };
        let Some(Value::Map(k0)) = kms.values().next() else {
            panic!("kms entry")
        };
        assert_eq!(
            keys(k0),
            ["arn", "aws_profile", "context", "created_at", "enc", "role"]
        );
        let back = Metadata::from_tree(&tree).unwrap();
        assert_eq!(back.key_groups, md.key_groups);
    }

    #[test]
    fn a_kms_context_is_written_sorted_bytewise() {
        let md = Metadata {
            key_groups: vec![KeyGroup {
                keys: vec![KeyEntry {
                    key: MasterKey::Kms(rsops_keys::kinds::kms::KmsKey {
                        arn: "arn:aws:kms:us-east-1:1:key/x".into(),
                        role: String::new(),
                        context: vec![
                            ("zeta".into(), "1".into()),
                            ("alpha".into(), "2".into()),
                            ("Mid".into(), "3".into()),
                        ],
                        aws_profile: String::new(),
                    }),
                    enc: "opaque-enc".into(),
                    created_at: "2020-01-01T00:00:00Z".into(),
                }],
            }],
            ..sample()
        };
        let tree = md.to_tree();
        let Some(Value::List(kms)) = tree.get("kms") else {
            panic!("kms list")
        };
        let Some(Value::Map(k0)) = kms.values().next() else {
            panic!("kms entry")
        };
        let Some(Value::Map(context)) = k0.get("context") else {
            panic!("context")
        };
        assert_eq!(keys(context), ["Mid", "alpha", "zeta"]);
    }

    #[test]
    fn old_empty_lists_and_nulls_are_accepted() {
        let mut tree = sample().to_tree();
        tree.push("kms", Value::Null);
        tree.push("gcp_kms", Value::List(List::default()));
        tree.push("azure_kv", Value::Null);
        let md = Metadata::from_tree(&tree).unwrap();
        assert_eq!(md.key_groups[0].keys.len(), 2);
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn master_key() -> impl Strategy<Value = MasterKey> {
            prop_oneof![
                "age1[a-z0-9]{10}"
                    .prop_map(|recipient| MasterKey::Age(rsops_keys::age::AgeKey { recipient })),
                "[0-9A-F]{40}".prop_map(|fingerprint| MasterKey::Pgp(rsops_keys::pgp::PgpKey {
                    fingerprint
                })),
                "projects/p/locations/l/keyRings/r/cryptoKeys/[a-z]{3}".prop_map(|resource_id| {
                    MasterKey::GcpKms(rsops_keys::kinds::gcp_kms::GcpKmsKey { resource_id })
                }),
            ]
        }

        fn entry() -> impl Strategy<Value = KeyEntry> {
            (master_key(), "[A-Za-z0-9+/=\\n-]{1,40}").prop_map(|(key, enc)| KeyEntry {
                created_at: if key.kind() == rsops_keys::KeyKind::Age {
                    String::new()
                } else {
                    "2024-05-06T07:08:09Z".into()
                },
                key,
                enc,
            })
        }

        fn metadata() -> impl Strategy<Value = Metadata> {
            (
                prop::collection::vec(prop::collection::vec(entry(), 1..4), 1..4),
                0usize..4,
                prop::option::of((0usize..6, "[a-z_^$]{1,8}")),
                any::<bool>(),
            )
                .prop_map(|(groups, threshold, sel, mac_only)| Metadata {
                    key_groups: groups
                        .into_iter()
                        .map(|keys| {
                            // Reading orders keys by type as sops loads them.
                            let mut keys = keys;
                            keys.sort_by_key(|k| match k.key.kind() {
                                rsops_keys::KeyKind::GcpKms => 0,
                                rsops_keys::KeyKind::Pgp => 1,
                                _ => 2,
                            });
                            KeyGroup { keys }
                        })
                        .collect(),
                    shamir_threshold: threshold,
                    last_modified: "2026-01-02T03:04:05Z".into(),
                    mac: "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]".into(),
                    selection: sel.map(|(k, p)| {
                        Selection::new(SelectionKind::ALL[k % 6], &p)
                            .unwrap_or_else(|_| Selection::default_rule())
                    }),
                    mac_only_encrypted: mac_only,
                    version: "3.11.0".into(),
                })
        }

        proptest! {
            #[test]
            fn to_tree_then_from_tree_is_identity(md in metadata()) {
                let back = Metadata::from_tree(&md.to_tree()).unwrap();
                prop_assert_eq!(&back.key_groups, &md.key_groups);
                prop_assert_eq!(back.shamir_threshold, md.shamir_threshold);
                prop_assert_eq!(back.mac_only_encrypted, md.mac_only_encrypted);
                prop_assert_eq!(
                    back.selection.map(|s| (s.kind(), s.pattern().to_owned())),
                    md.selection.map(|s| (s.kind(), s.pattern().to_owned()))
                );
            }

            #[test]
            fn from_tree_never_panics(text in "[a-z_:\\n 0-9\\[\\]{}\\-\"]{0,200}") {
                if let Ok(docs) = rsops_format::yaml::parse(text.as_bytes()) {
                    if let Some(doc) = docs.first() {
                        let _ = Metadata::from_tree(doc);
                    }
                }
            }
        }
    }
}
