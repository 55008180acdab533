//! Flattening of the metadata map for dotenv and INI.
//!
//! dotenv and INI files hold only one level of keys, so the nested `sops`
//! metadata map is written as single-level keys: a map entry `k` below `p`
//! becomes `p__map_k`, list element *i* below `p` becomes `p__list_i`
//! (`age__list_0__map_recipient`). [`flatten`] produces the pairs in walk
//! order; the callers choose the final order (3.11 dotenv sorts them) and
//! render the values. [`unflatten`] rebuilds the nested map from the pairs
//! read back.

use std::collections::{BTreeMap, HashMap};

use crate::error::FormatError;
use crate::tree::{List, ListItem, Map, Value};

/// The marker of a map level in a flattened key.
pub const MAP_SEPARATOR: &str = "__map_";
/// The marker of a list level in a flattened key.
pub const LIST_SEPARATOR: &str = "__list_";

/// Most levels one flattened key may describe. Metadata nests at most five
/// levels (`key_groups__list_0__map_kms__list_0__map_context__map_k`).
pub const MAX_LEVELS: usize = 64;

/// Name used in errors.
const FORMAT: &str = "metadata";

/// Flattens a metadata map into `(key, value)` pairs in walk order
/// (`age__list_0__map_recipient`, ...); strings keep their newlines.
///
/// Like sops, nulls, empty lists and empty maps produce no pair; comments
/// and non-string keys are skipped. Scalars keep their type: the store
/// renders them.
pub fn flatten(map: &Map) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in map.entries() {
        if let Some(key) = entry.key.as_str() {
            flatten_value(key.to_owned(), &entry.value, &mut out);
        }
    }
    out
}

fn flatten_value(prefix: String, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Map(m) => {
            for entry in m.entries() {
                if let Some(key) = entry.key.as_str() {
                    flatten_value(format!("{prefix}{MAP_SEPARATOR}{key}"), &entry.value, out);
                }
            }
        }
        Value::List(l) => {
            for (i, v) in l.values().enumerate() {
                flatten_value(format!("{prefix}{LIST_SEPARATOR}{i}"), v, out);
            }
        }
        Value::Null => {}
        scalar => out.push((prefix, scalar.clone())),
    }
}

/// Rebuilds the metadata map from flattened pairs (values as read: strings).
///
/// Keys are split on `__map_` / `__list_` like sops does; list elements are
/// ordered by index, maps keep the order in which their keys first appear.
/// In string values every two-character `\n` becomes a newline (INI keeps
/// them escaped; dotenv already converted them). A key given twice keeps its
/// last value. Errors (never naming values): a list index that is not a
/// number, a list with a gap, a key that is both a value and a container.
pub fn unflatten(pairs: Vec<(String, Value)>) -> Result<Map, FormatError> {
    let mut root = MapNode::default();
    for (key, value) in pairs {
        let tokens = tokenize(&key)?;
        insert(&mut root, &key, &tokens, unescape_newlines(value))?;
    }
    root.into_map("")
}

/// One level of a flattened key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    /// A map key.
    Key(&'a str),
    /// A list index.
    Index(usize),
}

/// Splits a flattened key at its markers. The first token is always a map
/// key (possibly empty), like in sops.
fn tokenize(path: &str) -> Result<Vec<Token<'_>>, FormatError> {
    let mut tokens = Vec::new();
    // (start of the token's text, whether it is a list index)
    let mut current = (0usize, false);
    let mut i = 0;
    let bytes = path.as_bytes();
    while i < bytes.len() {
        let rest = path.get(i..).unwrap_or_default();
        let marker = if rest.starts_with(MAP_SEPARATOR) {
            Some((MAP_SEPARATOR.len(), false))
        } else if rest.starts_with(LIST_SEPARATOR) {
            Some((LIST_SEPARATOR.len(), true))
        } else {
            None
        };
        match marker {
            Some((len, is_list)) => {
                tokens.push(finish_token(path, current, i)?);
                i += len;
                current = (i, is_list);
                if tokens.len() >= MAX_LEVELS {
                    return Err(FormatError::parse(
                        FORMAT,
                        format!("flattened key {path:?} has too many levels"),
                    ));
                }
            }
            None => i += 1,
        }
    }
    tokens.push(finish_token(path, current, bytes.len())?);
    Ok(tokens)
}

fn finish_token(
    path: &str,
    (start, is_list): (usize, bool),
    end: usize,
) -> Result<Token<'_>, FormatError> {
    let text = path.get(start..end).unwrap_or_default();
    if !is_list {
        return Ok(Token::Key(text));
    }
    text.parse::<usize>().map(Token::Index).map_err(|_| {
        FormatError::parse(
            FORMAT,
            format!("flattened key {path:?} has a list index that is not a number"),
        )
    })
}

/// Turns two-character `\n` sequences of a string value into newlines.
fn unescape_newlines(value: Value) -> Value {
    match value {
        Value::Str(s) if s.contains("\\n") => Value::Str(s.replace("\\n", "\n")),
        Value::Bytes(b) => Value::from_bytes(replace_bytes(&b, b"\\n", b"\n")),
        other => other,
    }
}

/// Replaces every non-overlapping `from` (left to right) by `to`.
pub(crate) fn replace_bytes(input: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if !from.is_empty() && input.get(i..i + from.len()) == Some(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else if let Some(b) = input.get(i) {
            out.push(*b);
            i += 1;
        }
    }
    out
}

/// A node of the tree being rebuilt.
enum Node {
    Leaf(Value),
    Map(MapNode),
    List(BTreeMap<usize, Node>),
}

/// A map being rebuilt: entries in first-seen order plus an index.
#[derive(Default)]
struct MapNode {
    entries: Vec<(String, Node)>,
    index: HashMap<String, usize>,
}

impl MapNode {
    fn slot(&mut self, key: &str, make: impl FnOnce() -> Node) -> Option<&mut Node> {
        let i = match self.index.get(key) {
            Some(i) => *i,
            None => {
                self.entries.push((key.to_owned(), make()));
                let i = self.entries.len() - 1;
                self.index.insert(key.to_owned(), i);
                i
            }
        };
        self.entries.get_mut(i).map(|(_, node)| node)
    }

    fn into_map(self, path: &str) -> Result<Map, FormatError> {
        let mut map = Map::new();
        for (key, node) in self.entries {
            let value = node.into_value(&format!("{path}{key}"))?;
            map.push(key, value);
        }
        Ok(map)
    }
}

impl Node {
    fn container_for(next: &Token<'_>) -> Node {
        match next {
            Token::Key(_) => Node::Map(MapNode::default()),
            Token::Index(_) => Node::List(BTreeMap::new()),
        }
    }

    fn into_value(self, path: &str) -> Result<Value, FormatError> {
        match self {
            Node::Leaf(v) => Ok(v),
            Node::Map(m) => Ok(Value::Map(m.into_map(&format!("{path}{MAP_SEPARATOR}"))?)),
            Node::List(elements) => {
                let mut list = List::default();
                for (expected, (index, node)) in elements.into_iter().enumerate() {
                    if index != expected {
                        return Err(FormatError::parse(
                            FORMAT,
                            format!("list {path:?} has no element {expected}"),
                        ));
                    }
                    let value = node.into_value(&format!("{path}{LIST_SEPARATOR}{index}"))?;
                    list.items.push(ListItem::Value(value));
                }
                Ok(Value::List(list))
            }
        }
    }
}

/// Places `value` at the path `tokens` (from flattened key `key`).
fn insert(
    root: &mut MapNode,
    key: &str,
    tokens: &[Token<'_>],
    value: Value,
) -> Result<(), FormatError> {
    let conflict = || {
        FormatError::parse(
            FORMAT,
            format!("flattened key {key:?} is both a value and a container"),
        )
    };
    let Some((Token::Key(first), rest)) = tokens.split_first() else {
        return Err(conflict());
    };
    let mut value = Some(value);
    let mut make = |next: Option<&Token<'_>>| match next {
        Some(t) => Node::container_for(t),
        None => Node::Leaf(value.take().unwrap_or(Value::Null)),
    };
    let mut node = root
        .slot(first, || make(rest.first()))
        .ok_or_else(conflict)?;
    for (i, token) in rest.iter().enumerate() {
        let next = rest.get(i + 1);
        node = match (node, token) {
            (Node::Map(m), Token::Key(k)) => m.slot(k, || make(next)).ok_or_else(conflict)?,
            (Node::List(l), Token::Index(ix)) => l.entry(*ix).or_insert_with(|| make(next)),
            _ => return Err(conflict()),
        };
    }
    match (node, value) {
        // The leaf was created above with the value.
        (Node::Leaf(_), None) => Ok(()),
        // A repeated key: the last value wins.
        (Node::Leaf(old), Some(v)) => {
            *old = v;
            Ok(())
        }
        _ => Err(conflict()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::MapItem;
    use proptest::prelude::*;

    /// Whether `map` holds an item that is a comment (never in metadata).
    fn has_comment(map: &Map) -> bool {
        map.items.iter().any(|i| matches!(i, MapItem::Comment(_)))
    }

    fn s(v: &str) -> Value {
        Value::Str(v.to_owned())
    }

    fn entry_map(pairs: Vec<(&str, Value)>) -> Value {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.push(k, v);
        }
        Value::Map(m)
    }

    fn list(values: Vec<Value>) -> Value {
        Value::List(List {
            items: values.into_iter().map(ListItem::Value).collect(),
        })
    }

    const ENC: &str =
        "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\nabc\n-----END AGE ENCRYPTED FILE-----\n";

    /// A realistic metadata map with key groups, KMS context and flags.
    fn metadata() -> Map {
        let mut m = Map::new();
        m.push("shamir_threshold", Value::Int(2));
        m.push(
            "key_groups",
            list(vec![
                entry_map(vec![
                    (
                        "kms",
                        list(vec![entry_map(vec![
                            ("arn", s("arn:aws:kms:us-east-1:1:key/x")),
                            (
                                "context",
                                entry_map(vec![("tenant", s("a")), ("env", s("prod"))]),
                            ),
                            ("created_at", s("2026-01-01T00:00:00Z")),
                            ("enc", s("AQID")),
                            ("aws_profile", s("")),
                        ])]),
                    ),
                    ("hc_vault", list(vec![])),
                    (
                        "age",
                        list(vec![entry_map(vec![
                            ("recipient", s("age1x")),
                            ("enc", s(ENC)),
                        ])]),
                    ),
                ]),
                entry_map(vec![
                    ("hc_vault", Value::Null),
                    (
                        "age",
                        list(vec![
                            entry_map(vec![("recipient", s("age1y")), ("enc", s(ENC))]),
                            entry_map(vec![("recipient", s("age1z")), ("enc", s(ENC))]),
                        ]),
                    ),
                ]),
            ]),
        );
        m.push("lastmodified", s("2026-01-01T00:00:00Z"));
        m.push("mac", s("ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]"));
        m.push("unencrypted_suffix", s("_unencrypted"));
        m.push("mac_only_encrypted", Value::Bool(true));
        m.push("version", s("3.11.0"));
        m
    }

    #[test]
    fn flatten_names_levels_and_skips_empty() {
        let flat = flatten(&metadata());
        let keys: Vec<&str> = flat.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "shamir_threshold",
                "key_groups__list_0__map_kms__list_0__map_arn",
                "key_groups__list_0__map_kms__list_0__map_context__map_tenant",
                "key_groups__list_0__map_kms__list_0__map_context__map_env",
                "key_groups__list_0__map_kms__list_0__map_created_at",
                "key_groups__list_0__map_kms__list_0__map_enc",
                "key_groups__list_0__map_kms__list_0__map_aws_profile",
                "key_groups__list_0__map_age__list_0__map_recipient",
                "key_groups__list_0__map_age__list_0__map_enc",
                "key_groups__list_1__map_age__list_0__map_recipient",
                "key_groups__list_1__map_age__list_0__map_enc",
                "key_groups__list_1__map_age__list_1__map_recipient",
                "key_groups__list_1__map_age__list_1__map_enc",
                "lastmodified",
                "mac",
                "unencrypted_suffix",
                "mac_only_encrypted",
                "version",
            ]
        );
        assert_eq!(flat[0].1, Value::Int(2));
        assert_eq!(flat[8].1, s(ENC), "newlines are kept");
        assert_eq!(flat[6].1, s(""), "empty strings are kept");
        assert_eq!(flat[16].1, Value::Bool(true));
    }

    #[test]
    fn unflatten_rebuilds_nesting() {
        let m = unflatten(vec![
            ("age__list_1__map_recipient".into(), s("r1")),
            ("age__list_0__map_recipient".into(), s("r0")),
            ("age__list_0__map_enc".into(), s("a\\nb\\n")),
            ("kms__list_0__map_context__map_k".into(), s("v")),
            ("mac_only_encrypted".into(), s("true")),
            ("shamir_threshold".into(), s("2")),
        ])
        .unwrap();
        let expected = {
            let mut e = Map::new();
            e.push(
                "age",
                list(vec![
                    entry_map(vec![("recipient", s("r0")), ("enc", s("a\nb\n"))]),
                    entry_map(vec![("recipient", s("r1"))]),
                ]),
            );
            e.push(
                "kms",
                list(vec![entry_map(vec![(
                    "context",
                    entry_map(vec![("k", s("v"))]),
                )])]),
            );
            e.push("mac_only_encrypted", s("true"));
            e.push("shamir_threshold", s("2"));
            e
        };
        assert_eq!(m, expected);
        assert!(!has_comment(&m));
    }

    #[test]
    fn unflatten_keeps_real_newlines_and_bytes() {
        let m = unflatten(vec![
            ("a".into(), s("x\ny")),
            ("b".into(), Value::Bytes(b"\xff\\n".to_vec())),
        ])
        .unwrap();
        assert_eq!(m.get("a"), Some(&s("x\ny")));
        assert_eq!(m.get("b"), Some(&Value::Bytes(b"\xff\n".to_vec())));
    }

    #[test]
    fn unflatten_last_duplicate_wins() {
        let m = unflatten(vec![("mac".into(), s("1")), ("mac".into(), s("2"))]).unwrap();
        assert_eq!(m.get("mac"), Some(&s("2")));
        assert_eq!(m.items.len(), 1);
    }

    #[test]
    fn unflatten_rejects_malformed_keys_without_values() {
        for pairs in [
            vec![("age__list_x__map_enc", "secret")],
            vec![("age__list_-1__map_enc", "secret")],
            vec![("age__list_1__map_enc", "secret")],
            vec![("age", "secret"), ("age__list_0__map_enc", "secret")],
            vec![("age__list_0__map_enc", "secret"), ("age", "secret")],
            vec![("age__list_0__map_enc", "secret"), ("age__map_x", "secret")],
            vec![
                ("age__list_0__map_enc", "secret"),
                ("age__list_0", "secret"),
            ],
        ] {
            let pairs = pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), s(v)))
                .collect();
            let err = unflatten(pairs).unwrap_err().to_string();
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn tokenize_follows_sops() {
        assert_eq!(
            tokenize("a__map_b__list_2__map_").unwrap(),
            [
                Token::Key("a"),
                Token::Key("b"),
                Token::Index(2),
                Token::Key("")
            ]
        );
        assert_eq!(
            tokenize("__map_x").unwrap(),
            [Token::Key(""), Token::Key("x")]
        );
        assert_eq!(tokenize("plain_key").unwrap(), [Token::Key("plain_key")]);
        let deep = "a".to_owned() + &"__list_0".repeat(MAX_LEVELS + 1);
        assert!(tokenize(&deep).is_err());
    }

    #[test]
    fn round_trip_of_realistic_metadata() {
        let original = metadata();
        let flat: Vec<(String, Value)> = flatten(&original)
            .into_iter()
            .map(|(k, v)| match v {
                // What the stores write and read back: strings.
                Value::Str(t) => (k, Value::Str(t.replace('\n', "\\n"))),
                Value::Int(i) => (k, Value::Str(i.to_string())),
                Value::Bool(b) => (k, Value::Str(b.to_string())),
                other => (k, other),
            })
            .collect();
        let back = unflatten(flat).unwrap();
        // Null and empty lists vanish; scalars come back as strings.
        let mut expected = original;
        if let Some(Value::Int(_)) = expected.get("shamir_threshold") {
            *expected.get_mut("shamir_threshold").unwrap() = s("2");
        }
        *expected.get_mut("mac_only_encrypted").unwrap() = s("true");
        if let Some(Value::List(groups)) = expected.get_mut("key_groups") {
            for item in &mut groups.items {
                if let ListItem::Value(Value::Map(g)) = item {
                    g.remove("hc_vault");
                }
            }
        }
        assert_eq!(back, expected);
    }

    #[test]
    fn round_trip_in_any_order() {
        let mut flat = flatten(&metadata());
        flat.reverse();
        let back = unflatten(flat.clone()).unwrap();
        flat.reverse();
        let forward = unflatten(flat).unwrap();
        // Same content; map order follows first appearance.
        let mut a = flatten(&back);
        let mut b = flatten(&forward);
        a.sort_by(|x, y| x.0.cmp(&y.0));
        b.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(a, b);
    }

    fn meta_tree() -> impl Strategy<Value = Value> {
        let leaf = "[a-z0-9 \n-]{0,8}".prop_map(Value::Str);
        leaf.prop_recursive(4, 40, 4, |inner| {
            prop_oneof![
                prop::collection::btree_map("[a-z][a-z0-9]{0,5}", inner.clone(), 1..4).prop_map(
                    |kv| {
                        let mut m = Map::new();
                        for (k, v) in kv {
                            m.push(k, v);
                        }
                        Value::Map(m)
                    }
                ),
                prop::collection::vec(inner, 1..4).prop_map(list),
            ]
        })
    }

    proptest! {
        #[test]
        fn flatten_unflatten_round_trip(
            kv in prop::collection::btree_map("[a-z][a-z0-9]{0,5}", meta_tree(), 0..5)
        ) {
            let mut m = Map::new();
            for (k, v) in kv {
                m.push(k, v);
            }
            let back = unflatten(flatten(&m)).unwrap();
            prop_assert_eq!(back, m);
        }

        #[test]
        fn unflatten_never_panics(
            pairs in prop::collection::vec(("[a-z_0-9]{0,20}", "[a-z\\\\n]{0,5}"), 0..8)
        ) {
            let pairs = pairs.into_iter().map(|(k, v)| (k, Value::Str(v))).collect();
            let _ = unflatten(pairs);
        }
    }
}
