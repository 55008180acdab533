//! A fast reader for simple block YAML: the layout sops writes and most
//! configuration files use, read line by line without an event parser.
//!
//! It accepts only documents whose every line is blank, `key: value`,
//! `key:`, `- value`, `-` or `- key: value` (block mappings with plain
//! string keys, block sequences, indentless sequences under a key, and
//! mappings that start on a `- ` line), with values that are one-line plain
//! scalars, single-quoted scalars, or double-quoted scalars without escapes,
//! in printable ASCII. Anything else — a comment, a flow collection, a block
//! or multi-line scalar, an anchor, alias, tag, directive or document
//! marker, a quoted, complex or non-string key, a duplicate key, a tab, a
//! carriage return, a non-ASCII byte, deep nesting — makes [`parse`] answer
//! `None`, and the caller reads the document with the full parser, which
//! also reports any error.
//!
//! What it returns for a document it accepts is exactly the map the full
//! parser gives without source spellings (`parse_data_single`), byte spans
//! included; the tests compare both on generated and corpus documents.

use std::ops::Not;

use super::resolve::{resolve_scalar, resolved_into_value, Resolved};
use crate::tree::{Entry, Key, List, ListItem, Map, MapItem, Source, Value};

/// Deepest nesting read here; deeper documents go to the full parser.
const MAX_DEPTH: usize = 64;

/// Longest key read here (YAML limits implicit keys to 1024 characters).
const MAX_KEY_LEN: usize = 1024;

/// The `end` of an empty value given to [`Reader::attach`]: its node lies
/// at the key's `:`.
const NULL_END: usize = usize::MAX;

/// Number of keys from which a map's duplicate check uses a hash set.
const DUP_SET_MIN: usize = 16;

/// Reads a one-document YAML stream in the simple layout described in the
/// module documentation; `None` when the input is anything else.
pub(super) fn parse(input: &[u8]) -> Option<Map> {
    if !printable_ascii(input) {
        return None;
    }
    let src = std::str::from_utf8(input).ok()?;
    let mut reader = Reader {
        src,
        stack: Vec::new(),
        map_items: Vec::new(),
        list_items: Vec::new(),
        scalar_col: None,
    };
    let mut pos = 0;
    while pos < src.len() {
        let end = memchr::memchr(b'\n', src.as_bytes().get(pos..)?).map_or(src.len(), |i| pos + i);
        reader.line(pos, end)?;
        pos = end + 1;
    }
    reader.finish()
}

/// The contents of an open collection. Its items so far are the ones of
/// the reader's item stack of its kind from `start` on (the items of the
/// open collections are stacked in one vector per kind, so that a closed
/// collection gets one allocation of its exact size).
enum Body {
    /// A block mapping; `key` is the key whose value is being read (on
    /// later lines, or as the collection open above this one).
    Map { start: usize, key: Option<OpenKey> },
    /// A block sequence; `open` is set while the value of its last `-` is
    /// being read.
    List { start: usize, open: bool },
}

/// A key whose value is being read.
struct OpenKey {
    key: Key,
    /// Where the key starts.
    start: usize,
    /// Where its `:` is (an empty value's node lies there).
    colon: usize,
}

/// An open collection and the column of its keys or dashes.
struct Frame {
    col: usize,
    body: Body,
}

impl Frame {
    /// Whether the value of its last key or dash is still to be read.
    fn awaits_value(&self) -> bool {
        match &self.body {
            Body::Map { key, .. } => key.is_some(),
            Body::List { open, .. } => *open,
        }
    }
}

/// The state of a read.
struct Reader<'s> {
    src: &'s str,
    stack: Vec<Frame>,
    /// The items of the open mappings, innermost last.
    map_items: Vec<MapItem>,
    /// The items of the open sequences, innermost last.
    list_items: Vec<ListItem>,
    /// After a line that ended with a scalar value: the column of the
    /// collection it went into (a deeper line would continue the scalar).
    scalar_col: Option<usize>,
}

impl<'s> Reader<'s> {
    /// Reads the line `src[start..end]`.
    fn line(&mut self, start: usize, end: usize) -> Option<()> {
        let line = self.src.get(start..end)?;
        let Some(indent) = line.bytes().position(|b| b != b' ') else {
            return Some(());
        };
        let at = start + indent;
        let rest = line.get(indent..)?;
        let bytes = rest.as_bytes();
        if bytes.first() == Some(&b'#') {
            return None;
        }
        let dash = bytes.first() == Some(&b'-') && matches!(bytes.get(1), None | Some(b' '));
        if let Some(col) = self.scalar_col.take() {
            if indent > col {
                return None;
            }
        }
        if let Some(top) = self.stack.last() {
            if top.awaits_value() {
                let col = top.col;
                let is_map = matches!(top.body, Body::Map { .. });
                if indent > col || (is_map && indent == col && dash) {
                    return self.nested(indent, at, rest, dash);
                }
                self.attach(Value::Null, NULL_END)?;
            }
        } else {
            if indent != 0 || dash {
                return None;
            }
            self.stack.push(Frame {
                col: 0,
                body: Body::Map {
                    start: self.map_items.len(),
                    key: None,
                },
            });
        }
        loop {
            let top = self.stack.last()?;
            let ends = top.col > indent
                || (matches!(top.body, Body::List { .. }) && top.col == indent && !dash);
            if !ends {
                break;
            }
            self.pop(at)?;
        }
        let top = self.stack.last()?;
        if top.col != indent {
            return None;
        }
        if dash {
            self.item(indent, at, rest)
        } else {
            self.key_line(at, rest)
        }
    }

    /// A collection that starts on a deeper line (or an indentless sequence)
    /// as the value being read.
    fn nested(&mut self, indent: usize, at: usize, rest: &str, dash: bool) -> Option<()> {
        if self.stack.len() >= MAX_DEPTH {
            return None;
        }
        if dash {
            self.stack.push(Frame {
                col: indent,
                body: Body::List {
                    start: self.list_items.len(),
                    open: false,
                },
            });
            self.item(indent, at, rest)
        } else {
            self.stack.push(Frame {
                col: indent,
                body: Body::Map {
                    start: self.map_items.len(),
                    key: None,
                },
            });
            self.key_line(at, rest)
        }
    }

    /// A `-` line at the column of the open sequence.
    fn item(&mut self, col: usize, at: usize, rest: &str) -> Option<()> {
        let after = rest.get(1..)?;
        let spaces = after.bytes().take_while(|b| *b == b' ').count();
        let content = after.get(spaces..)?;
        match &mut self.stack.last_mut()?.body {
            Body::List { open, .. } if !*open => *open = true,
            _ => return None,
        }
        if content.is_empty() {
            return Some(());
        }
        let content_at = at + 1 + spaces;
        let bytes = content.as_bytes();
        if bytes.first() == Some(&b'-') && matches!(bytes.get(1), None | Some(b' ')) {
            return None;
        }
        if key_colon(content).is_some() {
            if self.stack.len() >= MAX_DEPTH {
                return None;
            }
            self.stack.push(Frame {
                col: col + 1 + spaces,
                body: Body::Map {
                    start: self.map_items.len(),
                    key: None,
                },
            });
            return self.key_line(content_at, content);
        }
        let (value, end) = scalar(content, content_at)?;
        self.attach(value, end)?;
        self.scalar_col = Some(col);
        Some(())
    }

    /// A `key: value` or `key:` line at the column of the open mapping.
    fn key_line(&mut self, at: usize, rest: &str) -> Option<()> {
        let colon = key_colon(rest)?;
        let key = rest.get(..colon)?;
        if !plain_key(key) {
            return None;
        }
        let col = self.stack.last()?.col;
        match &mut self.stack.last_mut()?.body {
            Body::Map { key: open, .. } if open.is_none() => {
                *open = Some(OpenKey {
                    key: Key::Str(key.to_owned()),
                    start: at,
                    colon: at + colon,
                });
            }
            _ => return None,
        }
        let after = rest.get(colon + 1..)?;
        let spaces = after.bytes().take_while(|b| *b == b' ').count();
        let value = after.get(spaces..)?;
        if value.is_empty() {
            return Some(());
        }
        let (value, end) = scalar(value, at + colon + 1 + spaces)?;
        self.attach(value, end)?;
        self.scalar_col = Some(col);
        Some(())
    }

    /// Gives the value being read to the open collection; `end` is where
    /// the value's node ends (the entry's span ends there).
    fn attach(&mut self, value: Value, end: usize) -> Option<()> {
        match &mut self.stack.last_mut()?.body {
            Body::Map { key, .. } => {
                let open = key.take()?;
                let end = if matches!(value, Value::Null) && end == NULL_END {
                    open.colon
                } else {
                    end
                };
                self.map_items.push(MapItem::Entry(Entry {
                    key: open.key,
                    value,
                    source: Some(Source {
                        start: open.start,
                        end,
                        raw: None,
                        blank_before: 0,
                    }),
                }));
            }
            Body::List { open, .. } => {
                if !*open {
                    return None;
                }
                *open = false;
                self.list_items.push(ListItem::Value(value));
            }
        }
        Some(())
    }

    /// Closes the innermost collection at `end` (where the full parser's
    /// end event lies: the next content, or the end of the input) and gives
    /// it to its parent.
    fn pop(&mut self, end: usize) -> Option<()> {
        let frame = self.stack.pop()?;
        let value = self.close(frame)?;
        self.attach(value, end)
    }

    /// The document once every line is read.
    fn finish(mut self) -> Option<Map> {
        let end = self.src.len();
        if self.stack.last()?.awaits_value() {
            self.attach(Value::Null, NULL_END)?;
        }
        while self.stack.len() > 1 {
            self.pop(end)?;
        }
        let root = self.stack.pop()?;
        match self.close(root)? {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value of a closed collection (its items taken off the item
    /// stack); `None` for a map with duplicate keys (the full parser
    /// reports them).
    fn close(&mut self, frame: Frame) -> Option<Value> {
        match frame.body {
            Body::Map { start, key } => {
                let items = self.map_items.get(start..)?;
                if key.is_some() || has_duplicate_keys(items) {
                    return None;
                }
                Some(Value::Map(Map {
                    items: self.map_items.drain(start..).collect(),
                }))
            }
            Body::List { start, open } => {
                if open {
                    return None;
                }
                Some(Value::List(List {
                    items: self.list_items.drain(start..).collect(),
                }))
            }
        }
    }
}

/// Whether two entries of a map have the same key.
fn has_duplicate_keys(items: &[MapItem]) -> bool {
    fn key(item: &MapItem) -> Option<&str> {
        match item {
            MapItem::Entry(Entry {
                key: Key::Str(k), ..
            }) => Some(k.as_str()),
            _ => None,
        }
    }
    if items.len() < DUP_SET_MIN {
        items.iter().enumerate().any(|(i, a)| {
            items
                .get(i + 1..)
                .unwrap_or_default()
                .iter()
                .any(|b| key(a).is_some() && key(a) == key(b))
        })
    } else {
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        !items.iter().filter_map(key).all(|k| seen.insert(k))
    }
}

/// Where the key of a `key: value` or `key:` line ends: the first `:`
/// followed by a space or the end of the line.
fn key_colon(rest: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    memchr::memchr_iter(b':', bytes).find(|&i| matches!(bytes.get(i + 1), None | Some(b' ')))
}

/// Whether `key` is a plain scalar key that reads as a string: it starts
/// with a letter, digit, `_`, `/` or `$`, ends without a space, holds no
/// comment, and go-yaml does not type it as anything but a string.
fn plain_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    let starts_well = bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'/' | b'$'));
    starts_well
        && key.len() <= MAX_KEY_LEN
        && bytes.last() != Some(&b' ')
        && memchr::memmem::find(bytes, b" #").is_none()
        && resolve_scalar(key, true) == Resolved::Str
}

/// Reads the scalar value `text` (the rest of a line, starting at byte
/// `at` of the input): its value and where it ends; `None` for anything but
/// a one-line plain, single-quoted or escape-free double-quoted scalar.
fn scalar(text: &str, at: usize) -> Option<(Value, usize)> {
    let bytes = text.as_bytes();
    let first = *bytes.first()?;
    match first {
        b'\'' => single_quoted(text, at),
        b'"' => {
            let close = memchr::memchr2(b'"', b'\\', bytes.get(1..)?)? + 1;
            if bytes.get(close) != Some(&b'"') || !only_spaces(bytes.get(close + 1..)?) {
                return None;
            }
            Some((Value::Str(text.get(1..close)?.to_owned()), at + close + 1))
        }
        b'[' | b']' | b'{' | b'}' | b',' | b'&' | b'*' | b'!' | b'|' | b'>' | b'%' | b'@'
        | b'`' | b'#' => None,
        b'-' | b'?' | b':' if matches!(bytes.get(1), None | Some(b' ')) => None,
        _ => {
            let len = bytes.iter().rposition(|b| *b != b' ')? + 1;
            let plain = text.get(..len)?;
            let pb = plain.as_bytes();
            if pb.last() == Some(&b':') || has_indicator_pair(pb) {
                return None;
            }
            let value = resolved_into_value(resolve_scalar(plain, true), plain)?;
            Some((value, at + len))
        }
    }
}

/// Whether `bytes` holds `": "` (a mapping value) or `" #"` (a comment);
/// checked without an early exit, so that the compiler can vectorise it
/// (values such as `ENC[...]` hold many colons, none of them before a
/// space).
fn has_indicator_pair(bytes: &[u8]) -> bool {
    let next = bytes.get(1..).unwrap_or_default();
    bytes.iter().zip(next).fold(false, |hit, (&a, &b)| {
        hit | ((a == b':') & (b == b' ')) | ((a == b' ') & (b == b'#'))
    })
}

/// A single-quoted scalar on one line (`''` is a quote).
fn single_quoted(text: &str, at: usize) -> Option<(Value, usize)> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut from = 1;
    loop {
        let q = from + memchr::memchr(b'\'', bytes.get(from..)?)?;
        out.push_str(text.get(from..q)?);
        if bytes.get(q + 1) == Some(&b'\'') {
            out.push('\'');
            from = q + 2;
        } else {
            if !only_spaces(bytes.get(q + 1..)?) {
                return None;
            }
            return Some((Value::Str(out), at + q + 1));
        }
    }
}

/// Whether every byte is printable ASCII or a line feed; checked in blocks
/// without an early exit, so that the compiler can vectorise it.
fn printable_ascii(input: &[u8]) -> bool {
    input.chunks(256).all(|block| {
        block
            .iter()
            .fold(false, |bad, &b| {
                bad | (b.wrapping_sub(b' ') > b'~' - b' ' && b != b'\n')
            })
            .not()
    })
}

/// Whether `bytes` are all spaces.
fn only_spaces(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| *b == b' ')
}

#[cfg(test)]
mod tests;
