//! Tree paths such as `["db"]["hosts"][0]` (CLI.md §4), used by
//! `--extract`, `set` and `unset`.

use rsops_format::tree::{Map, Value};

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

#[cfg(test)]
mod tests {
    use super::*;
    use rsops_format::tree::{List, ListItem};

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
