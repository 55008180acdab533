//! The `sops` metadata block (FORMAT.md §9): read from any version's files,
//! written as sops 3.11 writes it.

use rsops_format::tree::{List, ListItem, Map, Value};
use rsops_keys::MasterKey;

use crate::error::CoreError;
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
                        _ => Err(bad("key_groups entries must be maps")),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                _ => Vec::new(),
            }
        };
        if key_groups.is_empty() || key_groups.iter().all(|g| g.keys.is_empty()) {
            return Err(bad("No keys found in file"));
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
            return Err(bad(
                "parsing time: lastmodified is not an RFC 3339 timestamp",
            ));
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

    /// The metadata map in sops 3.11's field order.
    pub fn to_tree(&self) -> Map {
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
        for (name, list) in &lists {
            if *name != "pgp" {
                m.push(*name, list.clone());
            }
        }
        m.push("lastmodified", Value::Str(self.last_modified.clone()));
        m.push("mac", Value::Str(self.mac.clone()));
        for (name, list) in lists {
            if name == "pgp" {
                m.push(name, list);
            }
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

fn bad(msg: &str) -> CoreError {
    CoreError::Metadata(msg.to_owned())
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
            .map_err(|_| bad("shamir_threshold is not an integer"))?,
        Value::Null => 0.0,
        _ => return Err(bad("shamir_threshold is not an integer")),
    };
    if n.fract() != 0.0 || !(0.0..=255.0).contains(&n) {
        return Err(bad("shamir_threshold is not an integer between 0 and 255"));
    }
    Ok(n as usize)
}

/// The key lists of a group (or of the flat metadata), in sops's load
/// order: kms, gcp_kms, hckms, azure_kv, hc_vault, pgp, age.
fn read_group(map: &Map) -> Result<KeyGroup, CoreError> {
    let mut keys = Vec::new();
    for kind in [
        "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp", "age",
    ] {
        let Some(Value::List(list)) = map.get(kind) else {
            continue;
        };
        for entry in list.values() {
            let Value::Map(e) = entry else {
                return Err(CoreError::Metadata(format!("{kind} entries must be maps")));
            };
            keys.push(read_entry(kind, e)?);
        }
    }
    Ok(KeyGroup { keys })
}

fn field(e: &Map, name: &str) -> String {
    e.get(name).and_then(text).unwrap_or_default()
}

fn read_entry(kind: &str, e: &Map) -> Result<KeyEntry, CoreError> {
    let key = match kind {
        "age" => MasterKey::Age {
            recipient: field(e, "recipient"),
        },
        "pgp" => MasterKey::Pgp {
            fingerprint: field(e, "fp"),
        },
        "kms" => MasterKey::Kms {
            arn: field(e, "arn"),
            role: field(e, "role"),
            context: match e.get("context") {
                Some(Value::Map(c)) => c
                    .entries()
                    .filter_map(|x| Some((x.key.as_str()?.to_owned(), text(&x.value)?)))
                    .collect(),
                _ => Vec::new(),
            },
            aws_profile: field(e, "aws_profile"),
        },
        "gcp_kms" => MasterKey::GcpKms {
            resource_id: field(e, "resource_id"),
        },
        "hckms" => MasterKey::Hckms {
            key_id: field(e, "key_id"),
        },
        "azure_kv" => MasterKey::AzureKv {
            vault_url: field(e, "vault_url"),
            name: field(e, "name"),
            version: field(e, "version"),
        },
        _ => MasterKey::HcVault {
            vault_address: field(e, "vault_address"),
            engine_path: field(e, "engine_path"),
            key_name: field(e, "key_name"),
        },
    };
    let created_at = field(e, "created_at");
    if !created_at.is_empty()
        && time::OffsetDateTime::parse(&created_at, &time::format_description::well_known::Rfc3339)
            .is_err()
    {
        return Err(bad("parsing time: created_at is not an RFC 3339 timestamp"));
    }
    Ok(KeyEntry {
        key,
        enc: field(e, "enc"),
        created_at,
    })
}

/// The entry map in sops 3.11's field order.
fn write_entry(entry: &KeyEntry) -> Map {
    let mut m = Map::new();
    let s = |v: &str| Value::Str(v.to_owned());
    let created = s(&entry.created_at);
    let enc = s(&entry.enc);
    match &entry.key {
        MasterKey::Age { recipient } => {
            m.push("recipient", s(recipient));
            m.push("enc", enc);
        }
        MasterKey::Pgp { fingerprint } => {
            m.push("created_at", created);
            m.push("enc", enc);
            m.push("fp", s(fingerprint));
        }
        MasterKey::Kms {
            arn,
            role,
            context,
            aws_profile,
        } => {
            m.push("arn", s(arn));
            if !role.is_empty() {
                m.push("role", s(role));
            }
            if !context.is_empty() {
                let mut c = Map::new();
                for (k, v) in context {
                    c.push(k.as_str(), s(v));
                }
                m.push("context", Value::Map(c));
            }
            m.push("created_at", created);
            m.push("enc", enc);
            m.push("aws_profile", s(aws_profile));
        }
        MasterKey::GcpKms { resource_id } => {
            m.push("resource_id", s(resource_id));
            m.push("created_at", created);
            m.push("enc", enc);
        }
        MasterKey::Hckms { key_id } => {
            m.push("key_id", s(key_id));
            m.push("created_at", created);
            m.push("enc", enc);
        }
        MasterKey::AzureKv {
            vault_url,
            name,
            version,
        } => {
            m.push("vault_url", s(vault_url));
            m.push("name", s(name));
            m.push("version", s(version));
            m.push("created_at", created);
            m.push("enc", enc);
        }
        MasterKey::HcVault {
            vault_address,
            engine_path,
            key_name,
        } => {
            m.push("vault_address", s(vault_address));
            m.push("engine_path", s(engine_path));
            m.push("key_name", s(key_name));
            m.push("created_at", created);
            m.push("enc", enc);
        }
    }
    m
}

/// The lists of a group by metadata name, in 3.11 struct order
/// (kms, gcp_kms, hckms, azure_kv, hc_vault, age, pgp), non-empty only
/// unless `in_group` (groups always carry `hc_vault` and `age`).
fn write_lists(group: &KeyGroup, in_group: bool) -> Vec<(&'static str, Value)> {
    let names = [
        "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age", "pgp",
    ];
    let mut out = Vec::new();
    for name in names {
        let items: Vec<ListItem> = group
            .keys
            .iter()
            .filter(|e| e.key.kind().identifier() == name)
            .map(|e| ListItem::Value(Value::Map(write_entry(e))))
            .collect();
        if !items.is_empty() || (in_group && (name == "hc_vault" || name == "age")) {
            out.push((name, Value::List(List { items })));
        }
    }
    out
}

/// A key group map: `pgp, kms, gcp_kms, hckms, azure_kv, hc_vault, age`.
fn write_group(group: &KeyGroup, in_group: bool) -> Map {
    let mut lists = write_lists(group, in_group);
    let mut m = Map::new();
    if let Some(pos) = lists.iter().position(|(n, _)| *n == "pgp") {
        let (n, v) = lists.remove(pos);
        m.push(n, v);
    }
    for (n, v) in lists {
        m.push(n, v);
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
                        key: MasterKey::Age {
                            recipient: "age1xyz".into(),
                        },
                        enc: "-----BEGIN AGE ENCRYPTED FILE-----\nabc\n-----END AGE ENCRYPTED FILE-----\n".into(),
                        created_at: String::new(),
                    },
                    KeyEntry {
                        key: MasterKey::Pgp {
                            fingerprint: "ABCD".into(),
                        },
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
    fn flat_metadata_is_written_in_3_11_order() {
        let tree = sample().to_tree();
        assert_eq!(
            keys(&tree),
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
        assert_eq!(keys(&tree)[..2], ["shamir_threshold", "key_groups"]);
        let Some(Value::List(groups)) = tree.get("key_groups") else {
            panic!("no key_groups")
        };
        let Some(Value::Map(g0)) = groups.values().next() else {
            panic!("no group")
        };
        assert_eq!(keys(g0), ["pgp", "hc_vault", "age"]);
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
        assert!(Metadata::from_tree(&tree).is_err());
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
                    entry(MasterKey::Kms {
                        arn: "arn:aws:kms:us-east-1:1:key/x".into(),
                        role: "arn:aws:iam::1:role/r".into(),
                        context: vec![("app".into(), "x".into())],
                        aws_profile: String::new(),
                    }),
                    entry(MasterKey::GcpKms {
                        resource_id: "projects/p/locations/l/keyRings/r/cryptoKeys/k".into(),
                    }),
                    entry(MasterKey::Hckms {
                        key_id: "cn-north-4:abc".into(),
                    }),
                    entry(MasterKey::AzureKv {
                        vault_url: "https://v.vault.azure.net".into(),
                        name: "k".into(),
                        version: "1".into(),
                    }),
                    entry(MasterKey::HcVault {
                        vault_address: "https://vault:8200".into(),
                        engine_path: "transit".into(),
                        key_name: "k".into(),
                    }),
                    entry(MasterKey::Pgp {
                        fingerprint: "ABCD".into(),
                    }),
                ],
            }],
            ..sample()
        };
        let tree = md.to_tree();
        assert_eq!(
            keys(&tree),
            [
                "kms",
                "gcp_kms",
                "hckms",
                "azure_kv",
                "hc_vault",
                "lastmodified",
                "mac",
                "pgp",
                "encrypted_regex",
                "mac_only_encrypted",
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
            ["arn", "role", "context", "created_at", "enc", "aws_profile"]
        );
        let back = Metadata::from_tree(&tree).unwrap();
        assert_eq!(back.key_groups, md.key_groups);
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
                "age1[a-z0-9]{10}".prop_map(|recipient| MasterKey::Age { recipient }),
                "[0-9A-F]{40}".prop_map(|fingerprint| MasterKey::Pgp { fingerprint }),
                "projects/p/locations/l/keyRings/r/cryptoKeys/[a-z]{3}"
                    .prop_map(|resource_id| MasterKey::GcpKms { resource_id }),
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
