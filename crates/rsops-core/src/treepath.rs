//! Tree paths such as `["db"]["hosts"][0]` (CLI.md §4), used by
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
                "component [{piece} doesn't end with ]"
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

/// The value at `path` in `doc`.
pub fn get<'t>(doc: &'t Map, path: &[Component]) -> Result<&'t Value, PathError> {
    let mut cur: Option<&Value> = None;
    for (i, c) in path.iter().enumerate() {
        let next = match (cur, c) {
            (None, Component::Key(k)) => doc.get(k),
            (Some(Value::Map(m)), Component::Key(k)) => m.get(k),
            (Some(Value::List(l)), Component::Index(idx)) => {
                let n = usize::try_from(*idx).ok();
                match n.and_then(|n| l.values().nth(n)) {
                    Some(v) => Some(v),
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
}
