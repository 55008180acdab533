//! The tree walk of the YAML emitter.
//!
//! sops 3.11 turns its tree into `yaml.Node`s (comment items become head
//! comments of the next key/element, the comments before the first item the
//! head comment of the collection, the comments after the last item the foot
//! comment of the last key/element) and go-yaml's event emitter writes them.
//! Each function here is one step of that emitter: it first records the
//! comments of the event it handles ([`Writer::analyze`]), then writes what
//! that step writes. Pending comments are flushed at the same points as in
//! go-yaml, which is what places them in the output.
//!
//! sops 3.13 keeps a comment read at the end of a value's line (an `inline`
//! [`Comment`]) as the line comment of the next scalar value or element,
//! written after it on its line (`a: 1 # c`); before a map or list value
//! such a comment is placed like any other (see `docs/compatibility.md`).

use super::scalar::{scalar_of, string_scalar, Scalar};
use super::writer::Writer;
use crate::error::FormatError;
use crate::tree::{Comment, Entry, Key, List, ListItem, Map, MapItem, Value};

/// Maximum nesting depth written (deeper trees are refused, not overflowed).
const MAX_DEPTH: usize = 512;

/// Longest key (in bytes, tag included) written as a simple `key:`.
const MAX_SIMPLE_KEY: usize = 128;

/// A node of the tree as the walk sees it.
#[derive(Clone, Copy)]
pub(super) enum Node<'a> {
    /// A mapping.
    Map(&'a Map),
    /// A sequence.
    List(&'a List),
    /// Any other value (a scalar).
    Scalar(&'a Value),
}

impl<'a> Node<'a> {
    /// The node of a value.
    pub(super) fn of(value: &'a Value) -> Self {
        match value {
            Value::Map(m) => Node::Map(m),
            Value::List(l) => Node::List(l),
            other => Node::Scalar(other),
        }
    }
}

/// The emitter: the writer plus the current nesting depth.
pub(super) struct Walk {
    /// Output and layout state.
    pub(super) w: Writer,
    /// Nesting depth of the collection being written.
    depth: usize,
}

/// Appends the comment lines of `comments` to `out` as `#text` lines
/// separated by `\n` (go-yaml's multi-line comment form).
pub(super) fn push_comments<'c>(out: &mut String, comments: impl IntoIterator<Item = &'c Comment>) {
    for c in comments {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push('#');
        out.push_str(&c.text);
    }
}

/// Splits the comments before an item whose value is `next` into its head
/// comment and its line comment: inline comments are the line comment of
/// a scalar value; everything else is the head.
pub(super) fn split_comments(comments: &[&Comment], next: Option<&Value>) -> (String, String) {
    let mut head = String::new();
    let mut line = String::new();
    let scalar = next.is_some_and(|v| !matches!(v, Value::Map(_) | Value::List(_)));
    for c in comments {
        let out = if scalar && c.inline {
            &mut line
        } else {
            &mut head
        };
        push_comments(out, std::iter::once(*c));
    }
    (head, line)
}

/// The head comment a collection carries itself: its comments before the
/// first item (all of them when it has no item), but for the line comment
/// of a first scalar value. Scalars carry none.
fn own_head(node: Node<'_>) -> String {
    let mut leading: Vec<&Comment> = Vec::new();
    let first = match node {
        Node::Map(m) => m.items.iter().find_map(|i| match i {
            MapItem::Comment(c) => {
                leading.push(c);
                None
            }
            MapItem::Entry(e) => Some(&e.value),
        }),
        Node::List(l) => l.items.iter().find_map(|i| match i {
            ListItem::Comment(c) => {
                leading.push(c);
                None
            }
            ListItem::Value(v) => Some(v),
        }),
        Node::Scalar(_) => return String::new(),
    };
    split_comments(&leading, first).0
}

/// Whether the node is written in flow style (`{}` / `[]`).
fn is_empty_collection(node: Node<'_>) -> bool {
    match node {
        Node::Map(m) => m.entries().next().is_none(),
        Node::List(l) => l.values().next().is_none(),
        Node::Scalar(_) => false,
    }
}

/// The scalar written for a key.
fn key_scalar(key: &Key) -> Result<Scalar<'_>, FormatError> {
    match key {
        Key::Str(s) => Ok(string_scalar(s)),
        Key::Other(v) => scalar_of(v)?.ok_or_else(|| {
            FormatError::Emit(format!(
                "yaml: cannot write a {} as a map key",
                v.type_name()
            ))
        }),
    }
}

/// go-yaml refuses to write an empty node that carries comments (sops then
/// fails with `cannot encode node with unknown kind 0`).
fn check_commented_zero_node(scalar: &Scalar<'_>, commented: bool) -> Result<(), FormatError> {
    if scalar.zero_node && commented {
        return Err(FormatError::Emit(
            "yaml: cannot encode node with unknown kind 0 (a multi-line string starting with a tab next to a comment)".into(),
        ));
    }
    Ok(())
}

impl Walk {
    /// A walk writing with indentation step `best_indent`.
    pub(super) fn new(best_indent: isize, capacity: usize) -> Self {
        Walk {
            w: Writer::new(best_indent, capacity),
            depth: 0,
        }
    }

    /// Writes one document whose root is `root`; `first` documents have no
    /// `---` marker.
    pub(super) fn document(&mut self, root: Node<'_>, first: bool) -> Result<(), FormatError> {
        if !first {
            self.w.write_indent();
            self.w.write_indicator("---", true, false, false);
            self.w.write_indent();
        }
        let head = own_head(root);
        self.w.analyze(&head, "", "");
        self.w.process_head_comment();
        self.start_node(root, false, false)?;
        self.w.process_foot_comment();
        self.body(root, false, "")?;
        self.document_end();
        Ok(())
    }

    /// The end of a document: a pending foot comment is separated by a
    /// blank line, and the last line is ended.
    pub(super) fn document_end(&mut self) {
        self.w.foot_indent = 0;
        self.w.process_foot_comment();
        self.w.foot_indent = -1;
        self.w.write_indent();
    }

    /// Opens the root mapping of a document written entry by entry
    /// ([`super::RootWriter`]): `head` is its head comment (the comments
    /// before its first entry). The mapping must get at least one entry.
    pub(super) fn open_root_mapping(&mut self, head: &str) -> Result<(), FormatError> {
        self.w.analyze(head, "", "");
        self.w.process_head_comment();
        self.w.process_foot_comment();
        self.enter_collection()
    }

    /// Closes the root mapping opened by [`Walk::open_root_mapping`];
    /// `tail` holds the comments after its last entry.
    pub(super) fn close_root_mapping(&mut self, tail: &str) {
        self.mapping_end(tail, "");
        self.depth = self.depth.saturating_sub(1);
    }

    /// One level deeper, refused beyond [`MAX_DEPTH`].
    fn enter_collection(&mut self) -> Result<(), FormatError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FormatError::Emit(format!(
                "yaml: the tree is nested deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    /// Handles the start event of a node: writes it when it is a scalar.
    /// `commented`: sops attached comments to the node.
    fn start_node(
        &mut self,
        node: Node<'_>,
        in_seq_item: bool,
        commented: bool,
    ) -> Result<(), FormatError> {
        if let Node::Scalar(v) = node {
            if let Some(scalar) = scalar_of(v)? {
                check_commented_zero_node(&scalar, commented)?;
                self.w.emit_scalar(&scalar, in_seq_item, false);
            }
        }
        Ok(())
    }

    /// Handles the events after the start event of a collection: its items
    /// and its end event (which carries `end_foot`).
    fn body(
        &mut self,
        node: Node<'_>,
        in_seq_item: bool,
        end_foot: &str,
    ) -> Result<(), FormatError> {
        if matches!(node, Node::Scalar(_)) {
            return Ok(());
        }
        self.enter_collection()?;
        let result = if is_empty_collection(node) {
            self.flow_empty(matches!(node, Node::Map(_)), in_seq_item, end_foot);
            Ok(())
        } else {
            match node {
                Node::Map(m) => self.block_mapping(m, in_seq_item, end_foot),
                Node::List(l) => self.block_sequence(l, in_seq_item, end_foot),
                Node::Scalar(_) => Ok(()),
            }
        };
        self.depth -= 1;
        result
    }

    /// An empty collection (it may still carry comments): `{}` or `[]`.
    fn flow_empty(&mut self, is_map: bool, in_seq_item: bool, end_foot: &str) {
        self.w.analyze("", end_foot, "");
        self.w
            .write_indicator(if is_map { "{" } else { "[" }, true, true, false);
        self.w.increase_indent(true, in_seq_item);
        if is_map {
            self.w.process_head_comment();
            self.w.decrease_indent();
            self.w.write_indicator("}", false, false, false);
        } else {
            self.w.decrease_indent();
            if self.w.column == 0 {
                self.w.write_indent();
            }
            self.w.write_indicator("]", false, false, false);
        }
        self.w.process_foot_comment();
    }

    /// A block mapping with at least one entry.
    fn block_mapping(
        &mut self,
        map: &Map,
        in_seq_item: bool,
        end_foot: &str,
    ) -> Result<(), FormatError> {
        let mut first = true;
        let mut pending: Vec<&Comment> = Vec::new();
        for item in &map.items {
            let entry = match item {
                MapItem::Comment(c) => {
                    pending.push(c);
                    continue;
                }
                MapItem::Entry(e) => e,
            };
            // Comments before the first key are the mapping's head comment.
            let (mut key_head, line) = split_comments(&pending, Some(&entry.value));
            if first {
                key_head.clear();
            }
            pending.clear();
            self.mapping_entry(entry, &key_head, &line, first, in_seq_item)?;
            first = false;
        }
        // Mapping end: trailing comments are its tail comment.
        let mut tail = String::new();
        push_comments(&mut tail, pending);
        self.mapping_end(&tail, end_foot);
        Ok(())
    }

    /// One entry of a block mapping, preceded by the comments `key_head`;
    /// the `first` entry opens the mapping's indentation.
    pub(super) fn mapping_entry(
        &mut self,
        entry: &Entry,
        key_head: &str,
        line: &str,
        first: bool,
        in_seq_item: bool,
    ) -> Result<(), FormatError> {
        self.w.analyze(key_head, "", "");
        if first {
            self.w.increase_indent(false, in_seq_item);
        }
        self.w.process_head_comment();
        self.w.write_indent();
        let key = key_scalar(&entry.key)?;
        check_commented_zero_node(&key, !key_head.is_empty())?;
        let simple = !key.multiline && key.key_length() <= MAX_SIMPLE_KEY;
        if simple {
            self.w.emit_scalar(&key, false, true);
        } else {
            self.w.write_indicator("?", true, false, true);
            self.w.emit_scalar(&key, false, false);
        }
        self.mapping_value(&entry.value, line, simple)
    }

    /// The end event of a block mapping: `tail` holds the comments after
    /// its last entry, `end_foot` the foot comment its end event carries.
    fn mapping_end(&mut self, tail: &str, end_foot: &str) {
        self.w.analyze("", end_foot, tail);
        self.w.process_head_comment();
        self.w.decrease_indent();
    }

    /// The value of a mapping entry, after its key.
    fn mapping_value(
        &mut self,
        value: &Value,
        line: &str,
        simple_key: bool,
    ) -> Result<(), FormatError> {
        let node = Node::of(value);
        let head = own_head(node);
        self.w.analyze(&head, "", "");
        line.clone_into(&mut self.w.line_comment);
        if simple_key {
            self.w.write_indicator(":", false, false, false);
        } else {
            self.w.write_indent();
            self.w.write_indicator(":", true, false, true);
        }
        self.start_node(node, false, !line.is_empty())?;
        self.w.process_line_comment(false);
        self.w.process_foot_comment();
        self.body(node, false, "")
    }

    /// A block sequence with at least one element.
    fn block_sequence(
        &mut self,
        list: &List,
        in_seq_item: bool,
        end_foot: &str,
    ) -> Result<(), FormatError> {
        let last_value = list
            .items
            .iter()
            .rposition(|i| matches!(i, ListItem::Value(_)));
        let mut first = true;
        let mut pending: Vec<&Comment> = Vec::new();
        for (idx, item) in list.items.iter().enumerate() {
            let value = match item {
                ListItem::Comment(c) => {
                    pending.push(c);
                    continue;
                }
                ListItem::Value(v) => v,
            };
            let node = Node::of(value);
            // Comments before the first element are the sequence's head
            // comment; later ones go before the element's own head comment.
            let (mut head, line) = split_comments(&pending, Some(value));
            if first {
                head.clear();
            }
            pending.clear();
            let own = own_head(node);
            if !own.is_empty() {
                if !head.is_empty() {
                    head.push('\n');
                }
                head.push_str(&own);
            }
            // Comments after the last element: foot comment of that element
            // (of its end event when it is a collection).
            let mut trailing = String::new();
            if Some(idx) == last_value {
                push_comments(
                    &mut trailing,
                    list.items.iter().skip(idx + 1).filter_map(|i| match i {
                        ListItem::Comment(c) => Some(c),
                        ListItem::Value(_) => None,
                    }),
                );
            }
            let is_scalar = matches!(node, Node::Scalar(_));
            let scalar_foot = if is_scalar { trailing.as_str() } else { "" };
            self.w.analyze(&head, scalar_foot, "");
            if first {
                self.w.increase_indent(false, in_seq_item);
            }
            self.w.process_head_comment();
            self.w.write_indent();
            self.w.write_indicator("-", true, false, true);
            line.clone_into(&mut self.w.line_comment);
            self.start_node(
                node,
                true,
                !head.is_empty() || !scalar_foot.is_empty() || !line.is_empty(),
            )?;
            self.w.process_line_comment(false);
            self.w.process_foot_comment();
            let child_foot = if is_scalar { "" } else { trailing.as_str() };
            self.body(node, true, child_foot)?;
            first = false;
        }
        self.w.analyze("", end_foot, "");
        self.w.decrease_indent();
        Ok(())
    }
}
