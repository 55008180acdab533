//! The ordered document tree shared by every store.
//!
//! This is the model of a sops file (`docs/format.md`): a file is a list of
//! documents (only YAML has more than one); a document is an ordered [`Map`]
//! whose items are key/value entries or comment lines. Lists may hold comment
//! items too (YAML only). Order is kept end to end because the MAC depends on it.
//!
//! Items carry an optional [`Source`] (byte span in the input and the original
//! spelling of a scalar) so that a lossless writer can reproduce unchanged
//! input bytes. Stores that do not track it leave it `None`; equality of trees
//! ignores it.

use crate::secret::SecretBytes;

/// A byte range of the input a node was read from, and how a scalar was spelt.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// Offset of the first byte of the node (for an entry: of its key).
    pub start: usize,
    /// Offset one past the last byte of the node (for an entry: of its value).
    pub end: usize,
    /// The scalar value exactly as written in the input (quotes included), if
    /// the value is a scalar.
    pub raw: Option<String>,
    /// How many blank lines stood right before the item (kept by the dotenv
    /// store's `quoted` syntax; the other stores leave it 0).
    pub blank_before: u32,
}

/// A comment line.
#[derive(Debug, Clone, Default)]
pub struct Comment {
    /// The text after the comment marker: `# hi` has the text ` hi`. An
    /// encrypted comment holds its `ENC[...]` string here.
    pub text: String,
    /// Whether the comment stood on the same line as a value (`a: 1 # c`).
    /// sops 3.11 writes such comments on their own line above the key.
    pub inline: bool,
    /// Where it was read from.
    pub source: Option<Source>,
}

impl Comment {
    /// A stand-alone comment with this text.
    pub fn new(text: impl Into<String>) -> Self {
        Comment {
            text: text.into(),
            inline: false,
            source: None,
        }
    }
}

impl PartialEq for Comment {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// A map key.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// The normal case: a string key.
    Str(String),
    /// A key that is not a string (YAML `1:`, `true:`, `null:`). Kept so the
    /// file can be reported on; the tree walk refuses it like sops does.
    Other(Box<Value>),
}

impl Key {
    /// The key as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Key::Str(s) => Some(s),
            Key::Other(_) => None,
        }
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::Str(s.to_owned())
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        Key::Str(s)
    }
}

/// One key/value pair of a map.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The key (never encrypted).
    pub key: Key,
    /// The value.
    pub value: Value,
    /// Where the entry was read from.
    pub source: Option<Source>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.value == other.value
    }
}

/// An item of a map: an entry or a comment line.
#[derive(Debug, Clone, PartialEq)]
pub enum MapItem {
    /// `key: value`.
    Entry(Entry),
    /// A comment line between entries.
    Comment(Comment),
}

/// An ordered map (a YAML mapping, a JSON object, an INI section, a whole
/// dotenv file). Duplicate keys are possible (JSON keeps them).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map {
    /// Entries and comments in file order.
    pub items: Vec<MapItem>,
}

impl Map {
    /// An empty map.
    pub fn new() -> Self {
        Map::default()
    }

    /// Appends `key: value`.
    pub fn push(&mut self, key: impl Into<Key>, value: Value) {
        self.items.push(MapItem::Entry(Entry {
            key: key.into(),
            value,
            source: None,
        }));
    }

    /// Appends a comment line.
    pub fn push_comment(&mut self, text: impl Into<String>) {
        self.items.push(MapItem::Comment(Comment::new(text)));
    }

    /// The entries, without the comments.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.items.iter().filter_map(|i| match i {
            MapItem::Entry(e) => Some(e),
            MapItem::Comment(_) => None,
        })
    }

    /// The value of the first entry whose key is the string `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries()
            .find(|e| e.key.as_str() == Some(key))
            .map(|e| &e.value)
    }

    /// Mutable access to the value of the first entry with string key `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.items.iter_mut().find_map(|i| match i {
            MapItem::Entry(e) if e.key.as_str() == Some(key) => Some(&mut e.value),
            _ => None,
        })
    }

    /// Removes every entry with string key `key`, returning the first value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let mut found = None;
        let mut kept = Vec::with_capacity(self.items.len());
        for item in self.items.drain(..) {
            match item {
                MapItem::Entry(e) if e.key.as_str() == Some(key) => {
                    if found.is_none() {
                        found = Some(e.value);
                    }
                }
                other => kept.push(other),
            }
        }
        self.items = kept;
        found
    }

    /// Whether the map has no items at all (entries or comments).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// An element of a list: a value or a comment line (YAML only).
#[derive(Debug, Clone, PartialEq)]
pub enum ListItem {
    /// A list element.
    Value(Value),
    /// A comment line between elements.
    Comment(Comment),
}

/// An ordered list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct List {
    /// Elements and comments in file order.
    pub items: Vec<ListItem>,
}

impl List {
    /// The values, without the comments.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.items.iter().filter_map(|i| match i {
            ListItem::Value(v) => Some(v),
            ListItem::Comment(_) => None,
        })
    }
}

/// A value of the tree.
#[derive(Debug, Clone)]
pub enum Value {
    /// A nested map.
    Map(Map),
    /// A list.
    List(List),
    /// A text string (valid UTF-8).
    Str(String),
    /// A string of arbitrary bytes that is not valid UTF-8 (binary store,
    /// dotenv with raw bytes). Encrypted with type `str` like [`Value::Str`].
    Bytes(Vec<u8>),
    /// A 64-bit signed integer.
    Int(i64),
    /// An IEEE 754 double.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A YAML timestamp, held as its RFC 3339 text with nanoseconds and
    /// trailing fractional zeros removed (Go `RFC3339Nano`), e.g.
    /// `2024-01-02T00:00:00Z`.
    Time(String),
    /// Null: never encrypted, never hashed.
    Null,
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Map(a), Value::Map(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::Str(a), Value::Bytes(b)) | (Value::Bytes(b), Value::Str(a)) => {
                a.as_bytes() == b.as_slice()
            }
            (Value::Int(a), Value::Int(b)) => a == b,
            // Bitwise, so that NaN == NaN and -0 != 0 (both matter for round trips).
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Time(a), Value::Time(b)) => a == b,
            (Value::Null, Value::Null) => true,
            _ => false,
        }
    }
}

impl Value {
    /// The string content of a `Str` (or a UTF-8 `Bytes`).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// A short name of the value's type for messages (`str`, `int`, `map` ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Map(_) => "map",
            Value::List(_) => "list",
            Value::Str(_) | Value::Bytes(_) => "str",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bool(_) => "bool",
            Value::Time(_) => "time",
            Value::Null => "null",
        }
    }

    /// Builds a string value from bytes: `Str` when they are UTF-8, else `Bytes`.
    pub fn from_bytes(bytes: Vec<u8>) -> Value {
        match String::from_utf8(bytes) {
            Ok(s) => Value::Str(s),
            Err(e) => Value::Bytes(e.into_bytes()),
        }
    }
}

/// Wipes secret material from a tree: every string value, byte string and
/// comment text is overwritten with zeros before its memory is released.
/// Keys are freed without a wipe: sops never encrypts keys, they stand in
/// the clear in every encrypted file. Called on decrypted trees once they
/// have been written out.
pub trait Wipe {
    /// Overwrites the contents with zeros and empties them.
    fn wipe(&mut self);
}

/// Overwrites a string's allocation with zeros in bulk and frees it.
fn wipe_string(s: &mut String) {
    drop(SecretBytes::from(std::mem::take(s).into_bytes()));
}

impl Wipe for Map {
    fn wipe(&mut self) {
        for item in &mut self.items {
            match item {
                MapItem::Entry(e) => e.value.wipe(),
                MapItem::Comment(c) => wipe_string(&mut c.text),
            }
        }
        self.items.clear();
    }
}

impl Wipe for Value {
    fn wipe(&mut self) {
        use zeroize::Zeroize;
        match self {
            Value::Map(m) => m.wipe(),
            Value::List(l) => {
                for item in &mut l.items {
                    match item {
                        ListItem::Value(v) => v.wipe(),
                        ListItem::Comment(c) => wipe_string(&mut c.text),
                    }
                }
                l.items.clear();
            }
            Value::Str(s) | Value::Time(s) => wipe_string(s),
            Value::Bytes(b) => drop(SecretBytes::from(std::mem::take(b))),
            Value::Int(i) => i.zeroize(),
            Value::Float(f) => f.zeroize(),
            Value::Bool(b) => *b = false,
            Value::Null => {}
        }
    }
}

impl Wipe for Vec<Map> {
    fn wipe(&mut self) {
        for m in self.iter_mut() {
            m.wipe();
        }
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipe_empties_everything() {
        let mut inner = Map::new();
        inner.push("k", Value::Str("secret".into()));
        inner.push_comment(" note");
        let mut m = Map::new();
        m.push("a", Value::Map(inner));
        m.push("b", Value::Bytes(vec![1, 2, 3]));
        let mut docs = vec![m];
        docs.wipe();
        assert!(docs.is_empty());
    }

    #[test]
    fn equality_ignores_sources_and_treats_utf8_bytes_as_strings() {
        let a = Value::Str("x".into());
        let b = Value::Bytes(b"x".to_vec());
        assert_eq!(a, b);
        assert_eq!(Value::Float(f64::NAN), Value::Float(f64::NAN));
        assert_ne!(Value::Float(0.0), Value::Float(-0.0));
    }
}
