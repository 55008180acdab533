//! What every key kind describes about itself.
//!
//! A key kind (age, OpenPGP, AWS KMS, ...) is one module of this crate with a
//! key type that implements [`Kind`]. The trait's constants say how the kind
//! appears on the command line ([`CliSpec`]), in `.sops.yaml`
//! ([`ConfigSpec`]) and in a file's `sops` metadata ([`MetadataSpec`]); its
//! functions parse key strings and read and write metadata entries. The
//! registry ([`crate::kinds`]) lists the kinds once, and everything else
//! (metadata, configuration, the command line) iterates over it, so no other
//! part of rsops names a key kind.
//!
//! The descriptions are plain data: this crate has no command-line parser
//! and no YAML tree. Metadata entries and `.sops.yaml` structs are exchanged
//! as [`Fields`], ordered string-keyed values.

use std::fmt::Debug;

/// How a key kind appears on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CliSpec {
    /// Long flag that takes a comma-separated list of keys (`age` for
    /// `--age`); `--add-<flag>` and `--rm-<flag>` add and remove keys.
    pub flag: &'static str,
    /// Short flag, if any (`-a` for `--age`).
    pub short: Option<char>,
    /// Environment variable read when the flag is absent.
    pub env: &'static str,
    /// What the keys are, for help texts (`age recipients`).
    pub noun: &'static str,
}

/// How a key kind appears in `.sops.yaml` creation rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigSpec {
    /// The rule-level field (`age: age1…,age1…` or a list of strings).
    pub flat: FlatField,
    /// The field inside a `key_groups` entry.
    pub group: GroupField,
}

/// A rule-level key field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlatField {
    /// The YAML field name.
    pub name: &'static str,
    /// How the value is typed in sops's configuration struct.
    pub shape: FlatShape,
}

/// The type sops decodes a rule-level key field into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlatShape {
    /// Any YAML value: a comma-separated string or a list of strings; the
    /// name is the one sops's messages use for the field
    /// (`invalid <outer> key configuration`).
    StringOrList {
        /// The name in sops's messages.
        outer: &'static str,
    },
    /// A list of strings (`[]string`).
    StringList,
}

/// A key-group field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupField {
    /// The YAML field name inside a key group.
    pub name: &'static str,
    /// How its elements are typed.
    pub shape: GroupShape,
}

/// The type sops decodes a key-group field's elements into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupShape {
    /// A list of strings.
    Strings,
    /// A list of structs with string fields (and string maps).
    Structs {
        /// The Go struct type name, for decoding messages (`config.gcpKmsKey`).
        go_type: &'static str,
        /// The struct's fields.
        fields: &'static [(&'static str, FieldType)],
    },
}

/// The type of one field of a key-group struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A string.
    Str,
    /// A map of strings to strings (`map[string]*string`).
    StrMap,
}

/// Where a kind's list sits in the `sops` metadata block, relative to sops's
/// struct order (the registry order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetadataSpec {
    /// Written after `lastmodified` and `mac` in flat metadata.
    pub flat_after_mac: bool,
    /// Written first inside a key group.
    pub group_first: bool,
    /// Written inside a key group even when empty.
    pub group_always: bool,
    /// Read after every other kind (the order of recovery attempts).
    pub read_last: bool,
}

impl MetadataSpec {
    /// Sops's struct order, no exception: what most kinds use.
    pub const IN_ORDER: MetadataSpec = MetadataSpec {
        flat_after_mac: false,
        group_first: false,
        group_always: false,
        read_last: false,
    };
}

/// One value of a metadata entry or a configuration struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// A string.
    Str(String),
    /// A map of strings, in file order.
    Map(Vec<(String, String)>),
}

/// Ordered, string-keyed values: a metadata entry or a `.sops.yaml` struct.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fields(pub Vec<(String, FieldValue)>);

impl Fields {
    /// No fields.
    pub fn new() -> Fields {
        Fields(Vec::new())
    }

    /// Appends a string field.
    pub fn push_str(&mut self, name: &str, value: impl Into<String>) {
        self.0
            .push((name.to_owned(), FieldValue::Str(value.into())));
    }

    /// Appends a map field.
    pub fn push_map(&mut self, name: &str, value: Vec<(String, String)>) {
        self.0.push((name.to_owned(), FieldValue::Map(value)));
    }

    /// The string field `name` (empty when absent or not a string).
    pub fn str(&self, name: &str) -> String {
        self.0
            .iter()
            .find_map(|(n, v)| match v {
                FieldValue::Str(s) if *n == name => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The map field `name` (empty when absent or not a map).
    pub fn map(&self, name: &str) -> Vec<(String, String)> {
        self.0
            .iter()
            .find_map(|(n, v)| match v {
                FieldValue::Map(m) if *n == name => Some(m.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }
}

/// One element of a key-group field.
#[derive(Debug, Clone, Copy)]
pub enum GroupEntry<'a> {
    /// A string element ([`GroupShape::Strings`]).
    Str(&'a str),
    /// A struct element ([`GroupShape::Structs`]).
    Struct(&'a Fields),
}

/// Options that qualify the keys of a spec: given on the command line
/// (`--encryption-context`, `--aws-profile`) or in a creation rule
/// (`aws_profile`). Kinds that have no use for them ignore them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyOptions {
    /// AWS KMS encryption context, in the order given.
    pub encryption_context: Vec<(String, String)>,
    /// AWS profile.
    pub aws_profile: String,
}

/// A key kind: its key type, and everything about how it is named.
pub trait Kind: Debug + Clone + PartialEq + Eq + Send + Sync + Sized + 'static {
    /// The kind's identifier: its metadata list name and its name in
    /// `--decryption-order` (`age`, `pgp`, `kms`, ...).
    const ID: &'static str;
    /// Command-line flags and environment variable.
    const CLI: CliSpec;
    /// `.sops.yaml` fields.
    const CONFIG: ConfigSpec;
    /// Placement in the metadata block.
    const METADATA: MetadataSpec;

    /// Why a key string of this kind is refused.
    type SpecError: std::error::Error + Clone + PartialEq + Eq + Send + Sync + 'static;

    /// Keys from a comma-separated list (a flag, an environment variable,
    /// a rule-level field's strings joined with commas).
    fn parse_spec(spec: &str, options: &KeyOptions) -> Result<Vec<Self>, Self::SpecError>;

    /// Keys from one element of the kind's key-group field.
    fn from_group_entry(entry: GroupEntry<'_>) -> Result<Vec<Self>, Self::SpecError>;

    /// The string sops identifies the key by (compared by `rotate --rm-*`,
    /// `updatekeys`, shown in messages).
    fn key_string(&self) -> String;

    /// The key of a metadata entry.
    fn from_metadata(entry: &Fields) -> Self;

    /// The metadata entry for this key, in sops's field order, with the
    /// wrapped data key `enc` and its creation time `created_at` placed
    /// where the kind writes them.
    fn to_metadata(&self, enc: &str, created_at: &str) -> Fields;
}

/// The parts of a comma-separated spec; none at all for an empty spec.
pub(crate) fn split_non_empty_spec(spec: &str) -> impl Iterator<Item = &str> {
    let parts = if spec.is_empty() {
        None
    } else {
        Some(spec.split(','))
    };
    parts.into_iter().flatten()
}

/// `s` without any ASCII space.
pub(crate) fn remove_spaces(s: &str) -> String {
    s.replace(' ', "")
}
