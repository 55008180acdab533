//! Tree paths such as `["db"]["hosts"][0]`, used by
//! `--extract`, `set` and `unset`.

use rsops_format::tree::{List, ListItem, Map, MapItem, Value};

/// One component: a map key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Component {
    /// `["key"]` or `['key']`.
    Key(String),
    /// `[3]`.
    Index(i64),
}

/// A path could not be parsed or resolved.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    /// Syntax error.
    #[error("{0}")]
    Syntax(String),
    /// The path does not exist in the tree.
    #[error("{0}")]
    NotFound(String),
}

/// Parses `["a"][0]['b']`.
pub fn parse(path: &str) -> Result<Vec<Component>, PathError> {
    let mut out = Vec::new();
    for piece in path.split('[').filter(|p| !p.is_empty()) {
        let Some(inner) = piece.strip_suffix(']') else {
            return Err(PathError::Syntax(format!(
                "component {piece} doesn't end with ]"
            )));
        };
        let quoted = inner.starts_with('"') || inner.starts_with('\'');
        if quoted {
            if inner.len() < 2 {
                return Err(PathError::Syntax(format!("invalid component [{inner}]")));
            }
            out.push(Component::Key(inner[1..inner.len() - 1].to_owned()));
        } else {
            let idx = inner
                .parse::<i64>()
                .map_err(|_| PathError::Syntax(format!("invalid array index [{inner}]")))?;
            out.push(Component::Index(idx));
        }
    }
    Ok(out)
}

fn describe(c: &Component) -> String {
    match c {
        Component::Key(k) => format!("['{k}']"),
        Component::Index(i) => format!("[{i}]"),
    }
}

/// The value at `path` in `doc`. List indices count comment items too (as
/// in sops); an index that lands on a comment is an error.
pub fn get<'t>(doc: &'t Map, path: &[Component]) -> Result<&'t Value, PathError> {
    let mut cur: Option<&Value> = None;
    for (i, c) in path.iter().enumerate() {
        let next = match (cur, c) {
            (None, Component::Key(k)) => doc.get(k),
            (Some(Value::Map(m)), Component::Key(k)) => m.get(k),
            (Some(Value::List(l)), Component::Index(idx)) => {
                // Like sops, indices count the comment items of a list.
                let n = usize::try_from(*idx).ok();
                match n.and_then(|n| l.items.get(n)) {
                    Some(ListItem::Value(v)) => Some(v),
                    Some(ListItem::Comment(_)) => {
                        return Err(PathError::NotFound(format!(
                            "component {} designates a comment, not a value",
                            describe(c)
                        )))
                    }
                    None => {
                        return Err(PathError::NotFound(format!(
                            "component {} accesses out of bounds",
                            describe(c)
                        )))
                    }
                }
            }
            (_, Component::Index(_)) => {
                return Err(PathError::NotFound(format!(
                    "component {} is integer, but tree part is not a slice",
                    describe(c)
                )))
            }
            (Some(_), Component::Key(_)) => None,
        };
        match next {
            Some(v) => cur = Some(v),
            None => {
                let _ = i;
                return Err(PathError::NotFound(format!(
                    "component {} not found",
                    describe(c)
                )));
            }
        }
    }
    cur.ok_or_else(|| PathError::NotFound("empty path".into()))
}

/// Why a [`set`] or [`unset`] could not change the tree.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    /// The path has no component.
    #[error("the path is empty: give at least one component, e.g. [\"key\"]")]
    EmptyPath,
    /// `unset`: no entry with this key (sops: `Key not found: …`).
    #[error("Key not found: {0}")]
    KeyNotFound(String),
    /// `unset`: the list is too short (sops: `Index 9 out of bounds`).
    #[error("Index {0} out of bounds")]
    IndexOutOfBounds(i64),
    /// `unset` through a scalar (sops: `Unsupported type: … for item '…'`).
    #[error("Unsupported type: {type_name} for item '{component}'")]
    UnsupportedType {
        /// The type of the value met (`str`, `int`, ...).
        type_name: &'static str,
        /// The component that could not be applied to it.
        component: String,
    },
    /// A key component met a list, or a negative index was given (sops
    /// crashes on both).
    #[error("component {0} cannot address this part of the tree: {1}")]
    Mismatch(String, &'static str),
}

impl EditError {
    /// Whether this is the "missing key or index" case that `unset
    /// --idempotent` accepts silently.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            EditError::KeyNotFound(_) | EditError::IndexOutOfBounds(_)
        )
    }
}

/// The plain text of a component for messages: the key, or the index.
fn bare(c: &Component) -> String {
    match c {
        Component::Key(k) => k.clone(),
        Component::Index(i) => i.to_string(),
    }
}

/// The value a missing `path` is created as: nested single-entry maps for
/// keys and single-element lists for indices, ending in `leaf`.
fn build(path: &[Component], leaf: Value) -> Value {
    path.iter().rev().fold(leaf, |inner, c| match c {
        Component::Key(k) => {
            let mut m = Map::new();
            m.push(k.clone(), inner);
            Value::Map(m)
        }
        Component::Index(_) => Value::List(List {
            items: vec![ListItem::Value(inner)],
        }),
    })
}

/// Sets the value at `path` in `doc` (sops's `TreeBranch.Set`) and returns
/// whether the tree changed (sops's notion, used by `set --idempotent`).
///
/// * an existing key is replaced in place; a missing key is appended at the
///   end of its map, with any missing intermediate components created (a key
///   as a map, an index as a list);
/// * an index at or past the end of a list appends; list indices count the
///   comment items too, like sops;
/// * a scalar on the way is replaced by the new structure;
/// * like sops, an index component applied to a map changes nothing but
///   still reports a change.
pub fn set(doc: &mut Map, path: &[Component], value: Value) -> Result<bool, EditError> {
    let Some((first, rest)) = path.split_first() else {
        return Err(EditError::EmptyPath);
    };
    set_in_map(doc, first, rest, value)
}

fn set_in_map(
    map: &mut Map,
    first: &Component,
    rest: &[Component],
    value: Value,
) -> Result<bool, EditError> {
    let Component::Key(key) = first else {
        // sops: the new structure would be a list, which a map cannot take.
        return Ok(true);
    };
    match map.get_mut(key) {
        Some(slot) => set_in_value(slot, rest, value),
        None => {
            map.push(key.clone(), build(rest, value));
            Ok(true)
        }
    }
}

/// Sets `rest` below `slot` (the value reached so far); an empty `rest`
/// replaces `slot` itself.
fn set_in_value(slot: &mut Value, rest: &[Component], value: Value) -> Result<bool, EditError> {
    let Some((first, tail)) = rest.split_first() else {
        let changed = *slot != value;
        *slot = value;
        return Ok(changed);
    };
    match slot {
        Value::Map(m) => set_in_map(m, first, tail, value),
        Value::List(l) => set_in_list(l, first, tail, value),
        scalar => {
            let new = build(rest, value);
            let changed = *scalar != new;
            *scalar = new;
            Ok(changed)
        }
    }
}

fn set_in_list(
    list: &mut List,
    first: &Component,
    rest: &[Component],
    value: Value,
) -> Result<bool, EditError> {
    let pos = list_position(first)?;
    match list.items.get_mut(pos) {
        None => {
            list.items.push(ListItem::Value(build(rest, value)));
            Ok(true)
        }
        // sops treats a comment item like a scalar: it is replaced.
        Some(item @ ListItem::Comment(_)) => {
            *item = ListItem::Value(build(rest, value));
            Ok(true)
        }
        Some(ListItem::Value(v)) => set_in_value(v, rest, value),
    }
}

/// The position an index component designates in a list's items.
fn list_position(c: &Component) -> Result<usize, EditError> {
    match c {
        Component::Key(_) => Err(EditError::Mismatch(
            describe(c),
            "it is a key, but the tree part is a list",
        )),
        Component::Index(i) => usize::try_from(*i)
            .map_err(|_| EditError::Mismatch(describe(c), "negative indices are not supported")),
    }
}

/// Removes the value at `path` from `doc` (sops's `TreeBranch.Unset`). Only
/// the first entry with a duplicated key is removed; list indices count the
/// comment items too, like sops.
pub fn unset(doc: &mut Map, path: &[Component]) -> Result<(), EditError> {
    let Some((first, rest)) = path.split_first() else {
        return Err(EditError::EmptyPath);
    };
    unset_in_map(doc, first, rest)
}

fn unset_in_map(map: &mut Map, first: &Component, rest: &[Component]) -> Result<(), EditError> {
    let found = match first {
        Component::Key(k) => map
            .items
            .iter()
            .position(|i| matches!(i, MapItem::Entry(e) if e.key.as_str() == Some(k.as_str()))),
        Component::Index(_) => None,
    };
    let Some(at) = found else {
        return Err(EditError::KeyNotFound(bare(first)));
    };
    if rest.is_empty() {
        map.items.remove(at);
        return Ok(());
    }
    match map.items.get_mut(at) {
        Some(MapItem::Entry(e)) => unset_in_value(&mut e.value, rest),
        _ => Err(EditError::KeyNotFound(bare(first))),
    }
}

fn unset_in_value(value: &mut Value, rest: &[Component]) -> Result<(), EditError> {
    let Some((first, tail)) = rest.split_first() else {
        return Ok(());
    };
    match value {
        Value::Map(m) => unset_in_map(m, first, tail),
        Value::List(l) => unset_in_list(l, first, tail),
        other => Err(EditError::UnsupportedType {
            type_name: other.type_name(),
            component: bare(first),
        }),
    }
}

fn unset_in_list(list: &mut List, first: &Component, rest: &[Component]) -> Result<(), EditError> {
    let pos = list_position(first)?;
    if pos >= list.items.len() {
        let index = match first {
            Component::Index(i) => *i,
            Component::Key(_) => 0,
        };
        return Err(EditError::IndexOutOfBounds(index));
    }
    let Some(next) = rest.first() else {
        list.items.remove(pos);
        return Ok(());
    };
    match list.items.get_mut(pos) {
        Some(ListItem::Value(v)) => unset_in_value(v, rest),
        _ => Err(EditError::UnsupportedType {
            type_name: "comment",
            component: bare(next),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_indices() {
        assert_eq!(
            parse(r#"["a"]['b'][0]"#).unwrap(),
            vec![
                Component::Key("a".into()),
                Component::Key("b".into()),
                Component::Index(0)
            ]
        );
        assert!(parse(r#"["a""#).is_err());
        assert!(parse("[x]").is_err());
    }

    #[test]
    fn resolves_paths() {
        let mut inner = Map::new();
        inner.push(
            "l",
            Value::List(List {
                items: vec![ListItem::Value(Value::Int(1))],
            }),
        );
        let mut doc = Map::new();
        doc.push("a", Value::Map(inner));
        assert_eq!(
            get(&doc, &parse(r#"["a"]["l"][0]"#).unwrap()).unwrap(),
            &Value::Int(1)
        );
        assert_eq!(
            get(&doc, &parse(r#"["nope"]"#).unwrap()).unwrap_err(),
            PathError::NotFound("component ['nope'] not found".into())
        );
        assert!(get(&doc, &parse(r#"["a"]["l"][5]"#).unwrap()).is_err());
        assert!(get(&doc, &parse(r#"["a"][0]"#).unwrap()).is_err());
    }

    fn list(values: Vec<Value>) -> Value {
        Value::List(List {
            items: values.into_iter().map(ListItem::Value).collect(),
        })
    }

    fn sample() -> Map {
        let mut m = Map::new();
        m.push("k", Value::Str("v".into()));
        let mut doc = Map::new();
        doc.push("a", Value::Int(1));
        doc.push(
            "l",
            list(vec![Value::Str("x".into()), Value::Str("y".into())]),
        );
        doc.push("m", Value::Map(m));
        doc.push("s", Value::Str("str".into()));
        doc
    }

    fn p(text: &str) -> Vec<Component> {
        parse(text).unwrap()
    }

    fn keys(m: &Map) -> Vec<&str> {
        m.entries().filter_map(|e| e.key.as_str()).collect()
    }

    #[test]
    fn set_replaces_existing_keys_in_place() {
        let mut doc = sample();
        assert!(set(&mut doc, &p(r#"["a"]"#), Value::Float(2.0)).unwrap());
        assert_eq!(keys(&doc), ["a", "l", "m", "s"]);
        assert_eq!(doc.get("a"), Some(&Value::Float(2.0)));
    }

    #[test]
    fn set_reports_no_change_for_an_equal_value() {
        let mut doc = sample();
        assert!(!set(&mut doc, &p(r#"["m"]["k"]"#), Value::Str("v".into())).unwrap());
        assert_eq!(doc, sample());
        // An int and a float are different values (as in sops).
        assert!(set(&mut doc, &p(r#"["a"]"#), Value::Float(1.0)).unwrap());
    }

    #[test]
    fn set_appends_missing_keys_and_creates_intermediates() {
        let mut doc = sample();
        set(&mut doc, &p(r#"["n"]["b"][2]["c"]"#), Value::Bool(true)).unwrap();
        assert_eq!(keys(&doc), ["a", "l", "m", "s", "n"]);
        let mut c = Map::new();
        c.push("c", Value::Bool(true));
        let mut b = Map::new();
        b.push("b", list(vec![Value::Map(c)]));
        assert_eq!(doc.get("n"), Some(&Value::Map(b)));
    }

    #[test]
    fn set_past_the_end_of_a_list_appends() {
        let mut doc = sample();
        set(&mut doc, &p(r#"["l"][7]"#), Value::Null).unwrap();
        set(&mut doc, &p(r#"["l"][0]"#), Value::Str("z".into())).unwrap();
        assert_eq!(
            doc.get("l"),
            Some(&list(vec![
                Value::Str("z".into()),
                Value::Str("y".into()),
                Value::Null
            ]))
        );
    }

    #[test]
    fn set_through_a_scalar_replaces_it() {
        let mut doc = sample();
        set(&mut doc, &p(r#"["s"][0]"#), Value::Int(3)).unwrap();
        assert_eq!(doc.get("s"), Some(&list(vec![Value::Int(3)])));
    }

    #[test]
    fn set_index_on_a_map_is_a_reported_no_op() {
        let mut doc = sample();
        assert!(set(&mut doc, &p("[0]"), Value::Int(3)).unwrap());
        assert_eq!(doc, sample());
    }

    #[test]
    fn set_rejects_what_sops_crashes_on() {
        let mut doc = sample();
        assert!(matches!(
            set(&mut doc, &p(r#"["l"]["x"]"#), Value::Null),
            Err(EditError::Mismatch(..))
        ));
        assert!(matches!(
            set(&mut doc, &p(r#"["l"][-1]"#), Value::Null),
            Err(EditError::Mismatch(..))
        ));
        assert_eq!(set(&mut doc, &[], Value::Null), Err(EditError::EmptyPath));
    }

    #[test]
    fn list_indices_count_comments_like_sops() {
        let mut doc = Map::new();
        doc.push(
            "l",
            Value::List(List {
                items: vec![
                    ListItem::Comment(rsops_format::tree::Comment::new(" c")),
                    ListItem::Value(Value::Str("x".into())),
                ],
            }),
        );
        assert_eq!(get(&doc, &p(r#"["l"][1]"#)), Ok(&Value::Str("x".into())));
        assert!(get(&doc, &p(r#"["l"][0]"#)).is_err());
        let mut replaced = doc.clone();
        set(&mut replaced, &p(r#"["l"][0]"#), Value::Int(1)).unwrap();
        assert_eq!(
            replaced.get("l"),
            Some(&list(vec![Value::Int(1), Value::Str("x".into())]))
        );
        unset(&mut doc, &p(r#"["l"][0]"#)).unwrap();
        assert_eq!(doc.get("l"), Some(&list(vec![Value::Str("x".into())])));
    }

    #[test]
    fn unset_removes_entries_and_elements() {
        let mut doc = sample();
        unset(&mut doc, &p(r#"["l"][0]"#)).unwrap();
        unset(&mut doc, &p(r#"["m"]["k"]"#)).unwrap();
        unset(&mut doc, &p(r#"["a"]"#)).unwrap();
        assert_eq!(keys(&doc), ["l", "m", "s"]);
        assert_eq!(doc.get("l"), Some(&list(vec![Value::Str("y".into())])));
        assert_eq!(doc.get("m"), Some(&Value::Map(Map::new())));
    }

    #[test]
    fn unset_errors_match_sops() {
        let mut doc = sample();
        let e = unset(&mut doc, &p(r#"["nope"]"#)).unwrap_err();
        assert_eq!(e.to_string(), "Key not found: nope");
        assert!(e.is_not_found());
        let e = unset(&mut doc, &p(r#"["l"][9]"#)).unwrap_err();
        assert_eq!(e.to_string(), "Index 9 out of bounds");
        assert!(e.is_not_found());
        let e = unset(&mut doc, &p(r#"["s"]["q"]"#)).unwrap_err();
        assert_eq!(e.to_string(), "Unsupported type: str for item 'q'");
        assert!(!e.is_not_found());
        assert!(!unset(&mut doc, &p(r#"["l"]["q"]"#))
            .unwrap_err()
            .is_not_found());
        assert_eq!(doc, sample());
    }

    #[test]
    fn unset_removes_only_the_first_duplicate() {
        let mut doc = Map::new();
        doc.push("d", Value::Int(1));
        doc.push("d", Value::Int(2));
        unset(&mut doc, &p(r#"["d"]"#)).unwrap();
        assert_eq!(doc.get("d"), Some(&Value::Int(2)));
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn leaf() -> impl Strategy<Value = Value> {
            prop_oneof![
                any::<i64>().prop_map(Value::Int),
                "[a-z]{0,4}".prop_map(Value::Str),
                any::<bool>().prop_map(Value::Bool),
                Just(Value::Null),
                (-1e6f64..1e6).prop_map(Value::Float),
            ]
        }

        fn map_of(pairs: std::collections::BTreeMap<String, Value>) -> Map {
            let mut m = Map::new();
            for (k, v) in pairs {
                m.push(k, v);
            }
            m
        }

        fn value() -> impl Strategy<Value = Value> {
            leaf().prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(|v| {
                        Value::List(List {
                            items: v.into_iter().map(ListItem::Value).collect(),
                        })
                    }),
                    prop::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                        .prop_map(|m| Value::Map(map_of(m))),
                ]
            })
        }

        fn doc() -> impl Strategy<Value = Map> {
            prop::collection::btree_map("[a-c]{1,2}", value(), 0..5).prop_map(map_of)
        }

        /// A key of `m` picked by `seed`, or a new key.
        fn pick_key(m: &Map, seed: u32) -> (Component, Option<&Value>) {
            let entries: Vec<_> = m.entries().collect();
            let n = u32::try_from(entries.len()).unwrap_or(0);
            if n > 0 && !seed.is_multiple_of(3) {
                let e = entries[(seed % n) as usize];
                let k = e.key.as_str().unwrap_or_default().to_owned();
                (Component::Key(k), Some(&e.value))
            } else {
                (Component::Key(format!("n{seed}")), None)
            }
        }

        /// A path that set can create and get can then find: existing
        /// components, then new keys.
        fn settable_path(doc: &Map, seeds: &[u32]) -> Vec<Component> {
            let mut path = Vec::new();
            let (c, mut cur) = pick_key(doc, seeds[0]);
            path.push(c);
            for &s in &seeds[1..] {
                let (c, next) = match cur {
                    Some(Value::Map(m)) => pick_key(m, s),
                    Some(Value::List(l)) if !l.items.is_empty() => {
                        let i = s as usize % l.items.len();
                        (Component::Index(i as i64), l.values().nth(i))
                    }
                    Some(Value::List(_)) => (Component::Index(0), None),
                    _ => (Component::Key(format!("n{s}")), None),
                };
                path.push(c);
                cur = next;
            }
            path
        }

        /// A path that exists in `doc` (`None` for an empty document).
        fn existing_path(doc: &Map, seeds: &[u32]) -> Option<Vec<Component>> {
            let entries: Vec<_> = doc.entries().collect();
            let first = entries.get(seeds[0] as usize % entries.len().max(1))?;
            let mut path = vec![Component::Key(first.key.as_str()?.to_owned())];
            let mut cur = &first.value;
            for &s in &seeds[1..] {
                match cur {
                    Value::Map(m) if !m.is_empty() => {
                        let es: Vec<_> = m.entries().collect();
                        let e = es[s as usize % es.len()];
                        path.push(Component::Key(e.key.as_str()?.to_owned()));
                        cur = &e.value;
                    }
                    Value::List(l) if !l.items.is_empty() => {
                        let i = s as usize % l.items.len();
                        path.push(Component::Index(i as i64));
                        cur = l.values().nth(i)?;
                    }
                    _ => break,
                }
            }
            Some(path)
        }

        /// Every leaf path of `doc` with its value.
        fn leaves(doc: &Map) -> Vec<(Vec<Component>, Value)> {
            fn walk(v: &Value, at: &mut Vec<Component>, out: &mut Vec<(Vec<Component>, Value)>) {
                match v {
                    Value::Map(m) => walk_map(m, at, out),
                    Value::List(l) => {
                        for (i, x) in l.values().enumerate() {
                            at.push(Component::Index(i as i64));
                            walk(x, at, out);
                            at.pop();
                        }
                    }
                    other => out.push((at.clone(), other.clone())),
                }
            }
            fn walk_map(m: &Map, at: &mut Vec<Component>, out: &mut Vec<(Vec<Component>, Value)>) {
                for e in m.entries() {
                    at.push(Component::Key(
                        e.key.as_str().unwrap_or_default().to_owned(),
                    ));
                    walk(&e.value, at, out);
                    at.pop();
                }
            }
            let mut out = Vec::new();
            walk_map(doc, &mut Vec::new(), &mut out);
            out
        }

        /// Whether `leaf` is away from `path` and not shifted by removing
        /// `path` (a later element of the same list is shifted).
        fn untouched(leaf: &[Component], path: &[Component], removal: bool) -> bool {
            for (a, b) in leaf.iter().zip(path) {
                if a != b {
                    return match (a, b) {
                        (Component::Index(x), Component::Index(y)) => !removal || x < y,
                        _ => true,
                    };
                }
            }
            false
        }

        proptest! {
            #[test]
            fn set_then_get_returns_the_value(
                doc in doc(),
                seeds in prop::collection::vec(any::<u32>(), 1..5),
                v in value(),
            ) {
                let path = settable_path(&doc, &seeds);
                let mut changed = doc.clone();
                set(&mut changed, &path, v.clone()).unwrap();
                prop_assert_eq!(get(&changed, &path), Ok(&v));
                for (leaf, old) in leaves(&doc) {
                    if untouched(&leaf, &path, false) {
                        prop_assert_eq!(get(&changed, &leaf), Ok(&old));
                    }
                }
            }

            #[test]
            fn setting_the_current_value_changes_nothing(
                doc in doc(),
                seeds in prop::collection::vec(any::<u32>(), 1..5),
            ) {
                if let Some(path) = existing_path(&doc, &seeds) {
                    let current = get(&doc, &path).unwrap().clone();
                    let mut same = doc.clone();
                    prop_assert!(!set(&mut same, &path, current).unwrap());
                    prop_assert_eq!(same, doc);
                }
            }

            #[test]
            fn unset_then_get_fails(
                doc in doc(),
                seeds in prop::collection::vec(any::<u32>(), 1..5),
            ) {
                if let Some(path) = existing_path(&doc, &seeds) {
                    let mut changed = doc.clone();
                    unset(&mut changed, &path).unwrap();
                    let last_is_key = matches!(path.last(), Some(Component::Key(_)));
                    if last_is_key {
                        prop_assert!(get(&changed, &path).is_err());
                    }
                    for (leaf, old) in leaves(&doc) {
                        if untouched(&leaf, &path, true) {
                            prop_assert_eq!(get(&changed, &leaf), Ok(&old));
                        }
                    }
                    // Removing again is "not found" unless a list shifted.
                    if last_is_key {
                        prop_assert!(unset(&mut changed, &path).unwrap_err().is_not_found());
                    }
                }
            }
        }
    }
}
