//! `.sops.yaml`: creation rules and store settings.
//!
//! [`Config::parse`] reads the file like sops 3.11 does (go-yaml v3 into
//! typed structs): unknown keys are ignored (and listed in
//! [`Config::warnings`] with the nearest known key), a value of the wrong YAML type
//! is an `error loading config: Could not unmarshal config file: …` for the
//! whole file. Problems that sops only notices when a rule is *used* (an
//! invalid `path_regex`, conflicting selection fields, a malformed key) are
//! kept with the rule and reported by [`Config::creation_rule`] when the
//! lookup reaches that rule, so that e.g. `decrypt` (which only reads
//! `stores`) is not affected by them, exactly as with sops.

use std::path::{Component, Path, PathBuf};

use regex::Regex;
use rsops_format::tree::{Key, Map, Source, Value};
use rsops_format::{DotenvSyntax, FormatError};
use rsops_keys::kind::{FieldType, FlatShape, GroupShape};
use rsops_keys::{Fields, GroupEntry, KeyKind, KeyOptions, MasterKey};
use thiserror::Error;

use crate::keyspec::KeySpecError;

/// A `.sops.yaml` that sops would refuse, or a failed rule lookup.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// Invalid YAML, or a value of the wrong type (go-yaml's message).
    #[error("error loading config: Could not unmarshal config file: {0}")]
    Unmarshal(String),
    /// The file has creation rules but none matches the path.
    #[error("error loading config: no matching creation rules found")]
    NoMatchingRule,
    /// A rule sets more than one of the six selection fields.
    #[error("error loading config: cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex for the same rule")]
    ConflictingSelection,
    /// A `path_regex` that does not compile (regex error text).
    #[error("can not compile regexp: {0}")]
    Regex(String),
    /// A flat key field given as a list with a non-string element.
    #[error("invalid {outer} key configuration: invalid {field} key configuration: expected string in list, got {got}")]
    KeyListElement {
        /// The name sops uses in the outer message (`age`, `gcpkms`, `vault` …).
        outer: &'static str,
        /// The YAML field name.
        field: &'static str,
        /// The Go type name of the offending element (`int`, `bool` …).
        got: &'static str,
    },
    /// A flat key field that is neither a string nor a list.
    #[error("invalid {outer} key configuration: invalid {field} key configuration: expected string, []string, or nil, got {got}")]
    KeyFieldType {
        /// The name sops uses in the outer message.
        outer: &'static str,
        /// The YAML field name.
        field: &'static str,
        /// The Go type name of the value.
        got: &'static str,
    },
    /// A malformed key specification.
    #[error(transparent)]
    KeySpec(#[from] KeySpecError),
    /// `publish`: no destination rule matches the path.
    #[error("error loading config: no matching destination found in config")]
    NoMatchingDestination,
    /// `publish`: a destination rule names more than one destination.
    #[error("error loading config: more than one destinations were found in a single destination rule, you can only use one per rule")]
    MultipleDestinations,
}

/// A parsed `.sops.yaml`.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The creation rules, in file order.
    pub creation_rules: Vec<CreationRule>,
    /// The destination rules of `publish`, in file order.
    pub destination_rules: Vec<DestinationRule>,
    /// The `stores` section.
    pub stores: StoresConfig,
    /// Whether the file declares `creation_rules` at all (a non-null value,
    /// even `[]`). Without it, rule lookup behaves as if there were no config.
    pub has_creation_rules: bool,
    /// Keys sops would silently ignore, in file order (for the caller to
    /// report; parsing never prints).
    pub warnings: Vec<ConfigWarning>,
}

/// Where in `.sops.yaml` an unknown field was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSection {
    /// The top-level map.
    TopLevel,
    /// An entry of `creation_rules`.
    CreationRule,
    /// An entry of `destination_rules`.
    DestinationRule,
    /// The `recreation_rule` of a destination rule.
    RecreationRule,
    /// An entry of `key_groups` (or of a `merge` list).
    KeyGroup,
    /// An element of a key group's list of key structs (the field name,
    /// e.g. `kms`).
    KeyEntry(&'static str),
}

impl std::fmt::Display for ConfigSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSection::TopLevel => f.write_str("the top level"),
            ConfigSection::CreationRule => f.write_str("a creation rule"),
            ConfigSection::DestinationRule => f.write_str("a destination rule"),
            ConfigSection::RecreationRule => f.write_str("a recreation rule"),
            ConfigSection::KeyGroup => f.write_str("a key group"),
            ConfigSection::KeyEntry(name) => write!(f, "a key group's '{name}' entry"),
        }
    }
}

/// A key of `.sops.yaml` that sops accepts and ignores (most likely a typo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// 1-based line of the key.
    pub line: usize,
    /// The key as written.
    pub field: String,
    /// Where it was found.
    pub section: ConfigSection,
    /// The known field it most likely meant (a small edit away), if any.
    pub suggestion: Option<&'static str>,
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: unknown field '{}' in {}",
            self.line, self.field, self.section
        )?;
        match self.suggestion {
            Some(s) => write!(f, "; did you mean '{s}'?"),
            None => f.write_str(" (ignored)"),
        }
    }
}

/// The top-level fields of sops's `configFile`.
const TOP_LEVEL_FIELDS: &[&str] = &["creation_rules", "stores", "destination_rules"];

/// The creation-rule fields other than the key kinds' flat fields.
const RULE_FIELDS: &[&str] = &[
    "path_regex",
    "aws_profile",
    "key_groups",
    "shamir_threshold",
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
    "mac_only_encrypted",
];

/// The fields of a destination rule (sops's `destinationRule`).
const DESTINATION_FIELDS: &[&str] = &[
    "path_regex",
    "s3_bucket",
    "s3_prefix",
    "gcs_bucket",
    "gcs_prefix",
    "vault_path",
    "vault_address",
    "vault_kv_mount_name",
    "vault_kv_version",
    "recreation_rule",
    "omit_extensions",
];

/// The known field closest to `field`, when it is only a small edit away
/// (at most 1 for names of up to 4 characters, else at most 2; compared
/// without regard to case).
fn nearest_field<'k>(field: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    let lower = field.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| (edit_distance(&lower, k), k))
        .filter(|(d, k)| *d <= if k.len() <= 4 { 1 } else { 2 })
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The `stores` section: indentation settings (`None` when not given).
///
/// A `null` where sops expects the `json`/`json_binary` map (or the whole
/// `stores` map) resets sops's default `-1` to `0`; that case is `Some(0)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoresConfig {
    /// `stores.yaml.indent`.
    pub yaml_indent: Option<i64>,
    /// `stores.json.indent`.
    pub json_indent: Option<i64>,
    /// `stores.json_binary.indent`.
    pub json_binary_indent: Option<i64>,
    /// `stores.dotenv.syntax` (an rsops extension sops ignores): how
    /// plaintext dotenv files are read and written.
    pub dotenv_syntax: Option<DotenvSyntax>,
}

/// The six mutually exclusive encryption selection settings.
/// An empty string counts as not set and is held as `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectionFields {
    /// `unencrypted_suffix`.
    pub unencrypted_suffix: Option<String>,
    /// `encrypted_suffix`.
    pub encrypted_suffix: Option<String>,
    /// `unencrypted_regex`.
    pub unencrypted_regex: Option<String>,
    /// `encrypted_regex`.
    pub encrypted_regex: Option<String>,
    /// `unencrypted_comment_regex`.
    pub unencrypted_comment_regex: Option<String>,
    /// `encrypted_comment_regex`.
    pub encrypted_comment_regex: Option<String>,
}

impl SelectionFields {
    /// All six fields, in a fixed order.
    fn fields(&self) -> [&Option<String>; 6] {
        [
            &self.unencrypted_suffix,
            &self.encrypted_suffix,
            &self.unencrypted_regex,
            &self.encrypted_regex,
            &self.unencrypted_comment_regex,
            &self.encrypted_comment_regex,
        ]
    }

    /// How many of the six fields hold a non-empty value.
    pub fn count_set(&self) -> usize {
        self.fields()
            .iter()
            .filter(|f| f.as_deref().is_some_and(|s| !s.is_empty()))
            .count()
    }

    /// These settings (a rule's) with every non-empty field of `cli`
    /// replacing the same field.
    pub fn merged_over(&self, cli: &SelectionFields) -> SelectionFields {
        let pick = |rule: &Option<String>, flag: &Option<String>| match flag {
            Some(s) if !s.is_empty() => Some(s.clone()),
            _ => rule.clone(),
        };
        SelectionFields {
            unencrypted_suffix: pick(&self.unencrypted_suffix, &cli.unencrypted_suffix),
            encrypted_suffix: pick(&self.encrypted_suffix, &cli.encrypted_suffix),
            unencrypted_regex: pick(&self.unencrypted_regex, &cli.unencrypted_regex),
            encrypted_regex: pick(&self.encrypted_regex, &cli.encrypted_regex),
            unencrypted_comment_regex: pick(
                &self.unencrypted_comment_regex,
                &cli.unencrypted_comment_regex,
            ),
            encrypted_comment_regex: pick(
                &self.encrypted_comment_regex,
                &cli.encrypted_comment_regex,
            ),
        }
    }
}

/// One entry of `creation_rules`.
#[derive(Debug, Clone, Default)]
pub struct CreationRule {
    /// `path_regex` (`None` when absent or empty: the rule matches every path).
    pub path_regex: Option<String>,
    /// The key groups: those of `key_groups`, or exactly one group built from
    /// the flat key fields (possibly empty). Empty when the rule's keys are
    /// invalid (see [`CreationRule::problem`]).
    pub key_groups: Vec<Vec<MasterKey>>,
    /// `shamir_threshold` (0 when absent; a negative value is held as 0).
    pub shamir_threshold: usize,
    /// The encryption selection settings.
    pub selection: SelectionFields,
    /// `mac_only_encrypted`.
    pub mac_only_encrypted: bool,
    /// The compiled `path_regex`, or its compile error.
    regex: Option<Result<Regex, String>>,
    /// The error sops reports when this rule is selected.
    problem: Option<ConfigError>,
}

impl CreationRule {
    /// The error sops reports when this rule is selected (conflicting
    /// selection fields or invalid keys), if any.
    pub fn problem(&self) -> Option<&ConfigError> {
        self.problem.as_ref()
    }

    /// Whether the rule applies to `path` (the string of [`rule_match_path`]).
    fn matches(&self, path: &str) -> Result<bool, ConfigError> {
        match &self.regex {
            None => Ok(true),
            Some(Ok(re)) => Ok(re.is_match(path)),
            Some(Err(msg)) => Err(ConfigError::Regex(msg.clone())),
        }
    }
}

/// One entry of `destination_rules` (used by `publish` only).
#[derive(Debug, Clone, Default)]
pub struct DestinationRule {
    /// `path_regex` (`None` when absent or empty: the rule matches every path).
    pub path_regex: Option<String>,
    /// `s3_bucket`.
    pub s3_bucket: String,
    /// `s3_prefix`.
    pub s3_prefix: String,
    /// `gcs_bucket`.
    pub gcs_bucket: String,
    /// `gcs_prefix`.
    pub gcs_prefix: String,
    /// `vault_path`.
    pub vault_path: String,
    /// `vault_address`.
    pub vault_address: String,
    /// `vault_kv_mount_name`.
    pub vault_kv_mount_name: String,
    /// `vault_kv_version`.
    pub vault_kv_version: i64,
    /// `recreation_rule`: the keys (and suffix settings) to re-encrypt with
    /// before an S3 or GCS upload; its `path_regex` is not used.
    pub recreation_rule: CreationRule,
    /// `omit_extensions`.
    pub omit_extensions: bool,
    /// The compiled `path_regex` (`None` when it does not compile: sops
    /// ignores the error and the rule never matches).
    regex: Option<Regex>,
}

/// Where a destination rule publishes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An S3 bucket; objects are named `prefix + name`.
    S3 {
        /// The bucket.
        bucket: String,
        /// Prepended to the object name as is.
        prefix: String,
    },
    /// A Google Cloud Storage bucket; objects are named `prefix + name`.
    Gcs {
        /// The bucket.
        bucket: String,
        /// Prepended to the object name as is.
        prefix: String,
    },
    /// A Vault KV secrets engine; the decrypted values are written.
    Vault {
        /// The Vault address (empty: the client's default).
        address: String,
        /// The path inside the mount, ending with `/`.
        path: String,
        /// The mount, ending with `/` (default `secret/`).
        mount: String,
        /// KV version, 1 or 2 (anything else is 2).
        version: u8,
    },
}

impl DestinationRule {
    /// Whether the rule applies to `path` (unanchored; an invalid regex
    /// never matches, as in sops).
    fn matches(&self, path: &str) -> bool {
        match (&self.path_regex, &self.regex) {
            (None, _) => true,
            (Some(_), Some(re)) => re.is_match(path),
            (Some(_), None) => false,
        }
    }

    /// The rule's destination: `Ok(None)` when it names none, an error when
    /// it names several. Vault settings are normalised as sops does.
    pub fn destination(&self) -> Result<Option<Destination>, ConfigError> {
        let named = [&self.s3_bucket, &self.gcs_bucket, &self.vault_path]
            .iter()
            .filter(|s| !s.is_empty())
            .count();
        if named > 1 {
            return Err(ConfigError::MultipleDestinations);
        }
        let slash = |s: &str| {
            if s.ends_with('/') {
                s.to_owned()
            } else {
                format!("{s}/")
            }
        };
        Ok(if !self.s3_bucket.is_empty() {
            Some(Destination::S3 {
                bucket: self.s3_bucket.clone(),
                prefix: self.s3_prefix.clone(),
            })
        } else if !self.gcs_bucket.is_empty() {
            Some(Destination::Gcs {
                bucket: self.gcs_bucket.clone(),
                prefix: self.gcs_prefix.clone(),
            })
        } else if !self.vault_path.is_empty() {
            let mount = match self.vault_kv_mount_name.as_str() {
                "" => "secret/".to_owned(),
                m => slash(m),
            };
            Some(Destination::Vault {
                address: self.vault_address.clone(),
                path: slash(&self.vault_path),
                mount,
                version: if self.vault_kv_version == 1 { 1 } else { 2 },
            })
        } else {
            None
        })
    }
}

impl Config {
    /// Parses the bytes of a `.sops.yaml`.
    ///
    /// An empty file (or one without `creation_rules`) is a valid config
    /// without rules. Only the first YAML document is read.
    pub fn parse(bytes: &[u8]) -> Result<Config, ConfigError> {
        let docs = match rsops_format::yaml::parse(bytes) {
            Ok(docs) => docs,
            Err(e) if is_no_document(&e) => Vec::new(),
            Err(e) => return Err(ConfigError::Unmarshal(yaml_error_text(&e))),
        };
        let Some(doc) = docs.first() else {
            return Ok(Config::default());
        };
        let mut decoder = Decoder::new(bytes);
        let mut config = decoder.config_file(doc);
        config.warnings = std::mem::take(&mut decoder.warnings);
        decoder.finish()?;
        Ok(config)
    }

    /// The rule for `path` (see [`rule_match_path`]): the first rule whose
    /// `path_regex` is empty or matches (unanchored search).
    ///
    /// `Ok(None)` when the config declares no `creation_rules`;
    /// [`ConfigError::NoMatchingRule`] when it has rules but none matches.
    /// An invalid regex met on the way, or a problem of the selected rule,
    /// is returned as the error sops reports.
    pub fn creation_rule(&self, path: &str) -> Result<Option<&CreationRule>, ConfigError> {
        if !self.has_creation_rules {
            return Ok(None);
        }
        for rule in &self.creation_rules {
            if rule.matches(path)? {
                return match &rule.problem {
                    Some(problem) => Err(problem.clone()),
                    None => Ok(Some(rule)),
                };
            }
        }
        Err(ConfigError::NoMatchingRule)
    }

    /// The destination rule for `path` (as given to `publish`): the first
    /// whose `path_regex` is empty or matches. The rule's destination and
    /// recreation rule are checked as sops checks them, in its order.
    pub fn destination_rule(&self, path: &str) -> Result<&DestinationRule, ConfigError> {
        let rule = self
            .destination_rules
            .iter()
            .find(|r| r.matches(path))
            .ok_or(ConfigError::NoMatchingDestination)?;
        rule.destination()?;
        match rule.recreation_rule.problem() {
            Some(problem) => Err(problem.clone()),
            None => Ok(rule),
        }
    }
}

/// The string sops matches `path_regex` against: the absolute file path with
/// `"<config dir><sep>"` removed when it is a prefix.
///
/// Both paths are cleaned lexically first (`.` and empty segments dropped,
/// `..` resolved, trailing separator removed), like Go's `filepath.Abs`.
/// Pure string manipulation, no filesystem access.
pub fn rule_match_path(config_dir: &Path, file_abs: &Path) -> String {
    let dir = clean_path(config_dir).to_string_lossy().into_owned();
    let file = clean_path(file_abs).to_string_lossy().into_owned();
    let prefix = format!("{dir}{}", std::path::MAIN_SEPARATOR);
    match file.strip_prefix(&prefix) {
        Some(rest) => rest.to_owned(),
        None => file,
    }
}

/// Lexical cleaning of a path (no filesystem access).
fn clean_path(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for comp in path.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(comp),
            },
            other => out.push(other),
        }
    }
    out.iter().collect()
}

/// Whether the YAML parser refused the input only because it holds no
/// document (empty, or only comments): go-yaml then leaves the config empty.
fn is_no_document(e: &FormatError) -> bool {
    match e {
        FormatError::NoDocument => true,
        FormatError::Parse { message, .. } => message == "EOF",
        _ => false,
    }
}

/// The text of a YAML error as placed after `Could not unmarshal config
/// file: ` (go-yaml starts its messages with `yaml: `). The store parser
/// names the top-level type as a generic map; sops names its config struct.
fn yaml_error_text(e: &FormatError) -> String {
    let text = match e {
        FormatError::Parse { message, .. } => message.clone(),
        other => other.to_string(),
    };
    format!(
        "yaml: {}",
        text.replace(" into map[string]interface {}", " into config.configFile")
    )
}

// ---------------------------------------------------------------- decoding

/// A value of the tree with what go-yaml would know about its node.
#[derive(Clone, Copy)]
struct Node<'a> {
    /// The value.
    value: &'a Value,
    /// The scalar as written (quotes included), when known.
    raw: Option<&'a str>,
    /// 1-based line number (of the entry holding it, when known).
    line: usize,
}

/// Decodes the tree into the config structs, collecting go-yaml-style type
/// errors (`line N: cannot unmarshal !!tag `v` into T`).
struct Decoder {
    /// Byte offsets at which lines start.
    line_starts: Vec<usize>,
    /// The type errors found so far.
    errors: Vec<String>,
    /// The unknown fields found so far.
    warnings: Vec<ConfigWarning>,
}

impl Decoder {
    /// A decoder for a file with these bytes.
    fn new(input: &[u8]) -> Self {
        let line_starts = std::iter::once(0)
            .chain(
                input
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        Decoder {
            line_starts,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The collected errors as one `Unmarshal` error, if any.
    fn finish(self) -> Result<(), ConfigError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Unmarshal(format!(
                "yaml: unmarshal errors:\n  {}",
                self.errors.join("\n  ")
            )))
        }
    }

    /// The line of a source position, else `fallback`.
    fn line_of(&self, source: Option<&Source>, fallback: usize) -> usize {
        match source {
            Some(src) => self
                .line_starts
                .partition_point(|&start| start <= src.start),
            None => fallback,
        }
    }

    /// Records an unknown field of `section` (known fields: `known`).
    fn unknown(
        &mut self,
        key: &str,
        node: Node<'_>,
        section: ConfigSection,
        known: impl IntoIterator<Item = &'static str>,
    ) {
        self.warnings.push(ConfigWarning {
            line: node.line,
            field: key.to_owned(),
            section,
            suggestion: nearest_field(key, known),
        });
    }

    /// Records `cannot unmarshal` for `node` into Go type `target`.
    fn type_error(&mut self, node: Node<'_>, target: &str) {
        let (tag, text) = go_tag_and_text(node);
        let shown = match text {
            None => String::new(),
            Some(t) if t.len() > 10 => {
                let cut = (0..=7).rev().find(|&i| t.is_char_boundary(i)).unwrap_or(0);
                format!(" `{}...`", &t[..cut])
            }
            Some(t) => format!(" `{t}`"),
        };
        self.errors.push(format!(
            "line {}: cannot unmarshal {tag}{shown} into {target}",
            node.line
        ));
    }

    /// The string entries of a map decoded into a Go struct (or string map),
    /// reporting keys defined twice. Non-string keys are skipped.
    fn fields<'a>(&mut self, map: &'a Map, line: usize) -> Vec<(&'a str, Node<'a>)> {
        let mut out: Vec<(&'a str, Node<'a>)> = Vec::new();
        for entry in map.entries() {
            let entry_line = self.line_of(entry.source.as_ref(), line);
            let Key::Str(key) = &entry.key else { continue };
            if let Some((_, first)) = out.iter().find(|(k, _)| k == key) {
                let first_line = first.line;
                self.errors.push(format!(
                    "line {entry_line}: mapping key {key:?} already defined at line {first_line}"
                ));
                continue;
            }
            let raw = entry.source.as_ref().and_then(|s| s.raw.as_deref());
            out.push((
                key.as_str(),
                Node {
                    value: &entry.value,
                    raw,
                    line: entry_line,
                },
            ));
        }
        out
    }

    /// The map of a struct-typed node; `None` for null (zero value) or a
    /// type error.
    fn struct_map<'a>(&mut self, node: Node<'a>, target: &str) -> Option<&'a Map> {
        match node.value {
            Value::Map(m) => Some(m),
            Value::Null => None,
            _ => {
                self.type_error(node, target);
                None
            }
        }
    }

    /// The element nodes of a slice-typed node (empty for null or a type
    /// error; `None` only for null, so callers can tell "absent").
    fn seq<'a>(&mut self, node: Node<'a>, target: &str) -> Option<Vec<Node<'a>>> {
        match node.value {
            Value::List(list) => Some(
                list.values()
                    .map(|value| Node {
                        value,
                        raw: None,
                        line: node.line,
                    })
                    .collect(),
            ),
            Value::Null => None,
            _ => {
                self.type_error(node, target);
                Some(Vec::new())
            }
        }
    }

    /// A Go `string` field: any scalar's text; null is "".
    fn string(&mut self, node: Node<'_>) -> String {
        match node.value {
            Value::Map(_) | Value::List(_) => {
                self.type_error(node, "string");
                String::new()
            }
            Value::Null => String::new(),
            _ => go_tag_and_text(node).1.unwrap_or_default(),
        }
    }

    /// A Go `int` field (an integral value; a float is truncated).
    fn int(&mut self, node: Node<'_>) -> i64 {
        match node.value {
            Value::Int(i) => *i,
            Value::Float(f) if f.is_finite() && *f <= i64::MAX as f64 && *f >= i64::MIN as f64 => {
                *f as i64
            }
            Value::Null => 0,
            _ => {
                self.type_error(node, "int");
                0
            }
        }
    }

    /// A Go `bool` field (YAML 1.1 spellings such as `yes` accepted).
    fn bool(&mut self, node: Node<'_>) -> bool {
        match node.value {
            Value::Bool(b) => *b,
            Value::Null => false,
            Value::Str(s) => match s.as_str() {
                "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => true,
                "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => false,
                _ => {
                    self.type_error(node, "bool");
                    false
                }
            },
            _ => {
                self.type_error(node, "bool");
                false
            }
        }
    }

    /// A Go `[]string` field.
    fn strings(&mut self, node: Node<'_>) -> Vec<String> {
        self.seq(node, "[]string")
            .unwrap_or_default()
            .into_iter()
            .map(|n| self.string(n))
            .collect()
    }

    /// The whole file (`config.configFile`).
    fn config_file(&mut self, doc: &Map) -> Config {
        let mut config = Config::default();
        for (key, node) in self.fields(doc, 1) {
            match key {
                "creation_rules" => {
                    if let Some(items) = self.seq(node, "[]config.creationRule") {
                        config.has_creation_rules = true;
                        config.creation_rules =
                            items.into_iter().map(|n| self.creation_rule(n)).collect();
                    }
                }
                "stores" => config.stores = self.stores(node),
                "destination_rules" => {
                    if let Some(items) = self.seq(node, "[]config.destinationRule") {
                        config.destination_rules = items
                            .into_iter()
                            .map(|n| self.destination_rule(n))
                            .collect();
                    }
                }
                _ => self.unknown(
                    key,
                    node,
                    ConfigSection::TopLevel,
                    TOP_LEVEL_FIELDS.iter().copied(),
                ),
            }
        }
        config
    }

    /// The `stores` section (`config.StoresConfig`).
    fn stores(&mut self, node: Node<'_>) -> StoresConfig {
        let zeroed = StoresConfig {
            yaml_indent: Some(0),
            json_indent: Some(0),
            json_binary_indent: Some(0),
            dotenv_syntax: None,
        };
        let Some(map) = self.struct_map(node, "config.StoresConfig") else {
            return if matches!(node.value, Value::Null) {
                zeroed
            } else {
                StoresConfig::default()
            };
        };
        let mut stores = StoresConfig::default();
        for (key, node) in self.fields(map, node.line) {
            let (slot, target) = match key {
                "yaml" => (&mut stores.yaml_indent, "config.YAMLStoreConfig"),
                "json" => (&mut stores.json_indent, "config.JSONStoreConfig"),
                "json_binary" => (
                    &mut stores.json_binary_indent,
                    "config.JSONBinaryStoreConfig",
                ),
                "dotenv" => {
                    stores.dotenv_syntax = self.dotenv_syntax(node);
                    continue;
                }
                _ => continue,
            };
            *slot = self.store_indent(node, target);
        }
        stores
    }

    /// `stores.dotenv.syntax`: `sops` or `quoted` (rsops only; sops ignores
    /// the field). Any other value is an error rather than silently ignored.
    fn dotenv_syntax(&mut self, node: Node<'_>) -> Option<DotenvSyntax> {
        let map = self.struct_map(node, "config.DotenvStoreConfig")?;
        let mut syntax = None;
        for (key, node) in self.fields(map, node.line) {
            if key != "syntax" {
                continue;
            }
            syntax = match node.value {
                Value::Null => None,
                Value::Str(s) if s == "sops" => Some(DotenvSyntax::Sops),
                Value::Str(s) if s == "quoted" => Some(DotenvSyntax::Quoted),
                _ => {
                    self.errors.push(format!(
                        "line {}: stores.dotenv.syntax must be \"sops\" or \"quoted\"",
                        node.line
                    ));
                    None
                }
            };
        }
        syntax
    }

    /// The `indent` of one store section; a null section zeroes it.
    fn store_indent(&mut self, node: Node<'_>, target: &str) -> Option<i64> {
        if matches!(node.value, Value::Null) {
            return Some(0);
        }
        let map = self.struct_map(node, target)?;
        let mut indent = None;
        for (key, node) in self.fields(map, node.line) {
            if key == "indent" {
                indent = Some(self.int(node));
            }
        }
        indent
    }

    /// One creation rule (`config.creationRule`), with its keys resolved.
    fn creation_rule(&mut self, node: Node<'_>) -> CreationRule {
        let raw = match self.struct_map(node, "config.creationRule") {
            Some(map) => self.raw_rule(map, node.line, ConfigSection::CreationRule),
            None => RawRule::default(),
        };
        raw.into_rule()
    }

    /// One destination rule (`config.destinationRule`).
    fn destination_rule(&mut self, node: Node<'_>) -> DestinationRule {
        let mut rule = DestinationRule::default();
        let Some(map) = self.struct_map(node, "config.destinationRule") else {
            return rule;
        };
        for (key, node) in self.fields(map, node.line) {
            let slot = match key {
                "path_regex" => {
                    let text = self.string(node);
                    rule.regex = Regex::new(&text).ok();
                    rule.path_regex = Some(text).filter(|s| !s.is_empty());
                    continue;
                }
                "s3_bucket" => &mut rule.s3_bucket,
                "s3_prefix" => &mut rule.s3_prefix,
                "gcs_bucket" => &mut rule.gcs_bucket,
                "gcs_prefix" => &mut rule.gcs_prefix,
                "vault_path" => &mut rule.vault_path,
                "vault_address" => &mut rule.vault_address,
                "vault_kv_mount_name" => &mut rule.vault_kv_mount_name,
                "vault_kv_version" => {
                    rule.vault_kv_version = self.int(node);
                    continue;
                }
                "omit_extensions" => {
                    rule.omit_extensions = self.bool(node);
                    continue;
                }
                "recreation_rule" => {
                    let raw = match self.struct_map(node, "config.creationRule") {
                        Some(map) => self.raw_rule(map, node.line, ConfigSection::RecreationRule),
                        None => RawRule::default(),
                    };
                    rule.recreation_rule = raw.into_rule();
                    continue;
                }
                _ => {
                    let known = DESTINATION_FIELDS.iter().copied();
                    self.unknown(key, node, ConfigSection::DestinationRule, known);
                    continue;
                }
            };
            *slot = self.string(node);
        }
        rule
    }

    /// The fields of a creation rule as typed by sops's struct.
    fn raw_rule<'a>(&mut self, map: &'a Map, line: usize, section: ConfigSection) -> RawRule<'a> {
        let mut raw = RawRule::default();
        for (key, node) in self.fields(map, line) {
            if let Some(kind) = KeyKind::from_flat_field(key) {
                let value = match kind.config().flat.shape {
                    FlatShape::StringOrList { .. } => FlatValue::Any(node.value),
                    FlatShape::StringList => FlatValue::Strings(self.strings(node)),
                };
                raw.flat.retain(|(k, _)| *k != kind);
                raw.flat.push((kind, value));
                continue;
            }
            let selection = &mut raw.selection;
            let text_slot = match key {
                "path_regex" => &mut raw.path_regex,
                "aws_profile" => &mut raw.aws_profile,
                "unencrypted_suffix" => &mut selection.unencrypted_suffix,
                "encrypted_suffix" => &mut selection.encrypted_suffix,
                "unencrypted_regex" => &mut selection.unencrypted_regex,
                "encrypted_regex" => &mut selection.encrypted_regex,
                "unencrypted_comment_regex" => &mut selection.unencrypted_comment_regex,
                "encrypted_comment_regex" => &mut selection.encrypted_comment_regex,
                "key_groups" => {
                    raw.key_groups = self
                        .seq(node, "[]config.keyGroup")
                        .unwrap_or_default()
                        .into_iter()
                        .map(|n| self.key_group(n))
                        .collect();
                    continue;
                }
                "shamir_threshold" => {
                    raw.shamir_threshold = self.int(node);
                    continue;
                }
                "mac_only_encrypted" => {
                    raw.mac_only_encrypted = self.bool(node);
                    continue;
                }
                _ => {
                    let flat = KeyKind::ALL.iter().map(|k| k.config().flat.name);
                    let known = RULE_FIELDS.iter().copied().chain(flat);
                    self.unknown(key, node, section, known);
                    continue;
                }
            };
            let text = self.string(node);
            *text_slot = Some(text).filter(|s| !s.is_empty());
        }
        raw
    }

    /// One entry of `key_groups` or `merge` (`config.keyGroup`).
    fn key_group(&mut self, node: Node<'_>) -> RawGroup {
        let mut group = RawGroup::default();
        let Some(map) = self.struct_map(node, "config.keyGroup") else {
            return group;
        };
        for (key, node) in self.fields(map, node.line) {
            match key {
                "merge" => {
                    group.merge = self
                        .seq(node, "[]config.keyGroup")
                        .unwrap_or_default()
                        .into_iter()
                        .map(|n| self.key_group(n))
                        .collect();
                }
                _ => {
                    if let Some(kind) = KeyKind::from_group_field(key) {
                        let entries = match kind.config().group.shape {
                            GroupShape::Strings => RawEntries::Strings(self.strings(node)),
                            GroupShape::Structs { go_type, fields } => {
                                let section = ConfigSection::KeyEntry(kind.config().group.name);
                                RawEntries::Structs(
                                    self.struct_list(node, go_type, fields, section),
                                )
                            }
                        };
                        group.keys.push((kind, entries));
                    } else {
                        let names = KeyKind::ALL.iter().map(|k| k.config().group.name);
                        let known = std::iter::once("merge").chain(names);
                        self.unknown(key, node, ConfigSection::KeyGroup, known);
                    }
                }
            }
        }
        group
    }

    /// A list of `config.<name>` structs with the given fields (a null
    /// element is a struct with every field empty; an element that fails to
    /// decode is `None`).
    fn struct_list(
        &mut self,
        node: Node<'_>,
        name: &str,
        fields: &[(&'static str, FieldType)],
        section: ConfigSection,
    ) -> Vec<Option<Fields>> {
        let struct_type = format!("config.{name}");
        self.seq(node, &format!("[]{struct_type}"))
            .unwrap_or_default()
            .into_iter()
            .map(|n| {
                let map = self.struct_map(n, &struct_type);
                match (map, n.value) {
                    (Some(m), _) => Some(self.struct_fields(m, n.line, fields, section)),
                    (None, Value::Null) => Some(Fields::new()),
                    (None, _) => None,
                }
            })
            .collect()
    }

    /// The known fields of one struct, decoded by their types.
    fn struct_fields(
        &mut self,
        map: &Map,
        line: usize,
        known: &[(&'static str, FieldType)],
        section: ConfigSection,
    ) -> Fields {
        let mut out = Fields::new();
        for (key, node) in self.fields(map, line) {
            match known.iter().find(|(name, _)| *name == key) {
                Some((name, FieldType::Str)) => {
                    let value = self.string(node);
                    out.0.retain(|(n, _)| n != name);
                    out.push_str(name, value);
                }
                Some((name, FieldType::StrMap)) => {
                    let value = self.context(node);
                    out.0.retain(|(n, _)| n != name);
                    out.push_map(name, value);
                }
                None => {
                    let names = known.iter().map(|(name, _)| *name);
                    self.unknown(key, node, section, names);
                }
            }
        }
        out
    }

    /// A KMS `context` map (`map[string]*string`).
    fn context(&mut self, node: Node<'_>) -> Vec<(String, String)> {
        let Some(map) = self.struct_map(node, "map[string]*string") else {
            return Vec::new();
        };
        let fields = self.fields(map, node.line);
        fields
            .into_iter()
            .map(|(k, n)| (k.to_owned(), self.string(n)))
            .collect()
    }
}

/// go-yaml's short tag of a node and its scalar text (`None` for
/// collections).
fn go_tag_and_text(node: Node<'_>) -> (&'static str, Option<String>) {
    let unquoted_raw = node
        .raw
        .filter(|r| !r.starts_with(['"', '\'', '|', '>']))
        .map(str::to_owned);
    match node.value {
        Value::Map(_) => ("!!map", None),
        Value::List(_) => ("!!seq", None),
        Value::Str(s) => ("!!str", Some(s.clone())),
        Value::Bytes(b) => ("!!str", Some(String::from_utf8_lossy(b).into_owned())),
        Value::Int(i) => ("!!int", Some(unquoted_raw.unwrap_or_else(|| i.to_string()))),
        Value::Float(f) => (
            "!!float",
            Some(unquoted_raw.unwrap_or_else(|| f.to_string())),
        ),
        Value::Bool(b) => (
            "!!bool",
            Some(unquoted_raw.unwrap_or_else(|| b.to_string())),
        ),
        Value::Time(t) => (
            "!!timestamp",
            Some(unquoted_raw.unwrap_or_else(|| t.clone())),
        ),
        Value::Null => ("!!null", Some(unquoted_raw.unwrap_or_default())),
    }
}

/// A rule-level key field as decoded.
enum FlatValue<'a> {
    /// Any YAML value ([`FlatShape::StringOrList`]).
    Any(&'a Value),
    /// A list of strings ([`FlatShape::StringList`]).
    Strings(Vec<String>),
}

/// A creation rule as decoded, before its keys are resolved.
#[derive(Default)]
struct RawRule<'a> {
    /// `path_regex` (non-empty).
    path_regex: Option<String>,
    /// `aws_profile`.
    aws_profile: Option<String>,
    /// The rule-level key fields, by kind.
    flat: Vec<(KeyKind, FlatValue<'a>)>,
    /// `key_groups`.
    key_groups: Vec<RawGroup>,
    /// `shamir_threshold`.
    shamir_threshold: i64,
    /// `mac_only_encrypted`.
    mac_only_encrypted: bool,
    /// The selection fields.
    selection: SelectionFields,
}

impl RawRule<'_> {
    /// Compiles the regex and resolves the keys, keeping the first problem
    /// sops would report when the rule is used.
    fn into_rule(self) -> CreationRule {
        let regex = self.path_regex.as_deref().map(compile_regex);
        let keys = if self.selection.count_set() > 1 {
            Err(ConfigError::ConflictingSelection)
        } else if self.key_groups.is_empty() {
            self.flat_group().map(|g| vec![g])
        } else {
            self.key_groups.iter().map(RawGroup::resolve).collect()
        };
        let (key_groups, problem) = match keys {
            Ok(groups) => (groups, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        CreationRule {
            path_regex: self.path_regex,
            key_groups,
            shamir_threshold: usize::try_from(self.shamir_threshold).unwrap_or(0),
            selection: self.selection,
            mac_only_encrypted: self.mac_only_encrypted,
            regex,
            problem,
        }
    }

    /// The single group of the rule-level key fields, in registry order.
    fn flat_group(&self) -> Result<Vec<MasterKey>, ConfigError> {
        let options = KeyOptions {
            encryption_context: Vec::new(),
            aws_profile: self.aws_profile.clone().unwrap_or_default(),
        };
        let mut group = Vec::new();
        for &kind in KeyKind::ALL {
            let Some((_, value)) = self.flat.iter().find(|(k, _)| *k == kind) else {
                continue;
            };
            let strings = match value {
                FlatValue::Any(v) => flat_key_strings(Some(v), kind)?,
                FlatValue::Strings(list) => list.clone(),
            };
            group.extend(kind.parse_spec(&strings.join(","), &options)?);
        }
        Ok(group)
    }
}

/// The strings of a rule-level key field given as a comma string (split,
/// trimmed, empty parts dropped) or a list of strings (taken as they are).
fn flat_key_strings(value: Option<&Value>, kind: KeyKind) -> Result<Vec<String>, ConfigError> {
    let field = kind.config().flat;
    let outer = match field.shape {
        FlatShape::StringOrList { outer } => outer,
        FlatShape::StringList => field.name,
    };
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Str(s)) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()),
        Some(Value::List(list)) => list
            .values()
            .map(|v| match v {
                Value::Str(s) => Ok(s.clone()),
                other => Err(ConfigError::KeyListElement {
                    outer,
                    field: field.name,
                    got: go_type_name(other),
                }),
            })
            .collect(),
        Some(other) => Err(ConfigError::KeyFieldType {
            outer,
            field: field.name,
            got: go_type_name(other),
        }),
    }
}

/// The Go type go-yaml gives a value decoded into `interface{}`.
fn go_type_name(value: &Value) -> &'static str {
    match value {
        Value::Map(_) => "map[string]interface {}",
        Value::List(_) => "[]interface {}",
        Value::Str(_) | Value::Bytes(_) => "string",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Bool(_) => "bool",
        Value::Time(_) => "time.Time",
        Value::Null => "<nil>",
    }
}

/// The elements of one key-group field as decoded.
enum RawEntries {
    /// [`GroupShape::Strings`] elements.
    Strings(Vec<String>),
    /// [`GroupShape::Structs`] elements (`None`: failed to decode, skipped).
    Structs(Vec<Option<Fields>>),
}

/// A key group as decoded.
#[derive(Default)]
struct RawGroup {
    /// `merge`.
    merge: Vec<RawGroup>,
    /// The key fields, by kind, in file order.
    keys: Vec<(KeyKind, RawEntries)>,
}

impl RawGroup {
    /// The group's keys: merged groups first, then each kind in registry
    /// order; duplicates removed.
    fn resolve(&self) -> Result<Vec<MasterKey>, ConfigError> {
        let mut keys = Vec::new();
        for sub in &self.merge {
            keys.extend(sub.resolve()?);
        }
        for &kind in KeyKind::ALL {
            for (_, entries) in self.keys.iter().filter(|(k, _)| *k == kind) {
                match entries {
                    RawEntries::Strings(list) => {
                        for s in list {
                            keys.extend(kind.from_group_entry(GroupEntry::Str(s))?);
                        }
                    }
                    RawEntries::Structs(list) => {
                        for fields in list.iter().flatten() {
                            keys.extend(kind.from_group_entry(GroupEntry::Struct(fields))?);
                        }
                    }
                }
            }
        }
        Ok(dedup_keys(keys))
    }
}

/// `keys` without later duplicates (same kind and key string).
fn dedup_keys(keys: Vec<MasterKey>) -> Vec<MasterKey> {
    let mut seen = std::collections::HashSet::new();
    keys.into_iter()
        .filter(|k| seen.insert((k.kind(), k.key_string())))
        .collect()
}

/// Compiles a `path_regex`, turning a failure into sops-like text.
fn compile_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| {
        let text = e.to_string();
        let reason = text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .map_or_else(|| text.trim().to_owned(), str::to_owned);
        format!("error parsing regexp: {reason}: `{pattern}`")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The recipients of the TEST-ONLY keys `testdata/sops/keys/age-1.txt`
    /// and `age-2.txt` (the fixtures' `.sops.yaml` files name them).
    const AGE1: &str = "age1hd76wdmcguk8j0p6drdg5uq93js0n08avrjqhmdfeaq5qpvnrvnsunt3v8";
    const AGE2: &str = "age146e9pqhngyvn4yxlj8543838kjkt2x8jr80gd6u8laxmz4sukfas55frvr";

    fn parse(text: &str) -> Config {
        match Config::parse(text.as_bytes()) {
            Ok(c) => c,
            Err(e) => panic!("config did not parse: {e}\n{text}"),
        }
    }

    fn parse_err(text: &str) -> String {
        match Config::parse(text.as_bytes()) {
            Ok(c) => panic!("config parsed: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// The rule for `path`, which must exist.
    fn rule<'a>(config: &'a Config, path: &str) -> &'a CreationRule {
        match config.creation_rule(path) {
            Ok(Some(r)) => r,
            other => panic!("no rule for {path}: {other:?}"),
        }
    }

    fn lookup_err(config: &Config, path: &str) -> String {
        match config.creation_rule(path) {
            Err(e) => e.to_string(),
            Ok(r) => panic!("expected an error, got {r:?}"),
        }
    }

    fn corpus(case: &str) -> Config {
        let path = format!(
            "{}/../../testdata/sops/cases/{case}/.sops.yaml",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Config::parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn files_without_rules_behave_like_no_config() {
        for text in [
            "",
            "# only a comment\n",
            "---\n",
            "~\n",
            "creation_rules:\n",
            "stores: {}\n",
        ] {
            let config = parse(text);
            assert!(config.creation_rules.is_empty());
            assert_eq!(
                config
                    .creation_rule("x.yaml")
                    .unwrap()
                    .map(|r| r.shamir_threshold),
                None
            );
        }
    }

    #[test]
    fn empty_rule_list_matches_nothing() {
        let config = parse("creation_rules: []\n");
        assert_eq!(
            config.creation_rule("x.yaml").unwrap_err(),
            ConfigError::NoMatchingRule
        );
        assert_eq!(
            lookup_err(&config, "x"),
            "error loading config: no matching creation rules found"
        );
    }

    #[test]
    fn first_matching_rule_wins_and_empty_regex_matches_all() {
        let config = parse(&format!(
            "creation_rules:\n  - path_regex: \\.prod\\.yaml$\n    pgp: AAA\n  - path_regex: ''\n    age: {AGE1}\n  - age: {AGE2}\n"
        ));
        assert_eq!(
            rule(&config, "sub/a.prod.yaml").key_groups,
            vec![vec![MasterKey::pgp("AAA")]]
        );
        assert_eq!(
            rule(&config, "other.json").key_groups,
            vec![vec![MasterKey::age(AGE1)]]
        );
        assert_eq!(rule(&config, "other.json").path_regex, None);
        let only_regex = parse("creation_rules:\n  - path_regex: ^sub/\n    pgp: A\n");
        assert!(only_regex.creation_rule("sub/x.yaml").unwrap().is_some());
        assert!(only_regex.creation_rule("/abs/sub/x.yaml").is_err());
        // Unanchored search.
        let search = parse("creation_rules:\n  - path_regex: ub/x\n    pgp: A\n");
        assert!(search.creation_rule("sub/x.yaml").unwrap().is_some());
    }

    #[test]
    fn invalid_regex_is_reported_only_when_reached() {
        let config = parse(&format!(
            "creation_rules:\n  - path_regex: f\n    age: {AGE1}\n  - path_regex: '('\n    age: {AGE1}\n"
        ));
        assert!(config.creation_rule("f.yaml").unwrap().is_some());
        let msg = lookup_err(&config, "g.yaml");
        assert!(
            msg.starts_with("can not compile regexp: error parsing regexp: "),
            "{msg}"
        );
        assert!(msg.ends_with(": `(`"), "{msg}");
    }

    #[test]
    fn flat_keys_string_form_is_split_trimmed_and_ordered() {
        // Keys come in registry order; the metadata groups them by kind.
        let config = parse(&format!(
            "creation_rules:\n  - hc_vault_transit_uri: https://v:8200/v1/transit/keys/k\n    azure_keyvault: https://kv.vault.azure.net/keys/n/1\n    hckms: [cn-north-4:u1]\n    gcp_kms: projects/p/locations/l/keyRings/r/cryptoKeys/k\n    kms: arn:aws:kms:us-east-1:1:key/a+arn:aws:iam::1:role/r\n    aws_profile: prof\n    pgp: 'AA BB, CC,'\n    age: ' {AGE1} , {AGE2},'\n    unknown_field: ignored\n"
        ));
        let rule = rule(&config, "x");
        assert_eq!(
            rule.key_groups,
            vec![vec![
                MasterKey::Kms(rsops_keys::kinds::kms::KmsKey {
                    arn: "arn:aws:kms:us-east-1:1:key/a".into(),
                    role: "arn:aws:iam::1:role/r".into(),
                    context: vec![],
                    aws_profile: "prof".into(),
                }),
                MasterKey::GcpKms(rsops_keys::kinds::gcp_kms::GcpKmsKey {
                    resource_id: "projects/p/locations/l/keyRings/r/cryptoKeys/k".into()
                }),
                MasterKey::Hckms(rsops_keys::kinds::hckms::HckmsKey {
                    key_id: "cn-north-4:u1".into()
                }),
                MasterKey::AzureKv(rsops_keys::kinds::azure_kv::AzureKvKey {
                    vault_url: "https://kv.vault.azure.net".into(),
                    name: "n".into(),
                    version: "1".into(),
                }),
                MasterKey::HcVault(rsops_keys::kinds::hc_vault::HcVaultKey {
                    vault_address: "https://v:8200".into(),
                    engine_path: "transit".into(),
                    key_name: "k".into(),
                }),
                MasterKey::age(AGE1),
                MasterKey::age(AGE2),
                MasterKey::pgp("AABB"),
                MasterKey::pgp("CC"),
            ]]
        );
    }

    #[test]
    fn flat_keys_list_form_is_joined_and_split_again_without_dedup() {
        let config = parse(&format!(
            "creation_rules:\n  - age:\n      - {AGE1}\n      # a comment\n      - '{AGE2}, {AGE1}'\n    pgp: [A, 'B C']\n"
        ));
        assert_eq!(
            rule(&config, "x").key_groups,
            vec![vec![
                MasterKey::age(AGE1),
                MasterKey::age(AGE2),
                MasterKey::age(AGE1),
                MasterKey::pgp("A"),
                MasterKey::pgp("BC")
            ]]
        );
    }

    #[test]
    fn rule_without_keys_has_one_empty_group() {
        let config = parse("creation_rules:\n  - path_regex: x\n");
        assert_eq!(rule(&config, "x").key_groups, vec![Vec::<MasterKey>::new()]);
    }

    #[test]
    fn non_string_key_list_elements_are_errors_at_lookup() {
        let config = parse(&format!("creation_rules:\n  - age: [{AGE1}, 12]\n"));
        assert_eq!(
            lookup_err(&config, "x"),
            "invalid age key configuration: invalid age key configuration: expected string in list, got int"
        );
        let gcp = parse("creation_rules:\n  - gcp_kms: [true]\n");
        assert_eq!(
            lookup_err(&gcp, "x"),
            "invalid gcpkms key configuration: invalid gcp_kms key configuration: expected string in list, got bool"
        );
        let vault = parse("creation_rules:\n  - hc_vault_transit_uri: [{a: b}]\n");
        assert_eq!(
            lookup_err(&vault, "x"),
            "invalid vault key configuration: invalid hc_vault_transit_uri key configuration: expected string in list, got map[string]interface {}"
        );
        let scalar = parse("creation_rules:\n  - age: 12\n");
        assert_eq!(
            lookup_err(&scalar, "x"),
            "invalid age key configuration: invalid age key configuration: expected string, []string, or nil, got int"
        );
    }

    #[test]
    fn invalid_keys_fail_only_the_rule_that_is_used() {
        let config = parse(&format!(
            "creation_rules:\n  - path_regex: good\n    age: {AGE1}\n  - age: notakey\n"
        ));
        assert!(config.creation_rule("good.yaml").unwrap().is_some());
        assert_eq!(
            lookup_err(&config, "bad.yaml"),
            "failed to parse input, unknown recipient type: \"notakey\""
        );
        assert!(config.creation_rules[1].problem().is_some());
    }

    #[test]
    fn key_groups_parse_every_key_type() {
        let text = format!(
            r#"creation_rules:
  - path_regex: ^prod/
    shamir_threshold: 2
    age: {AGE2}
    key_groups:
      - age: ['{AGE1}']
        pgp: [85D77543B3D624B63CEA9E6DBC17301B491B3F21]
      - kms:
          - arn: arn:aws:kms:us-east-1:111122223333:key/k
            role: arn:aws:iam::111122223333:role/sops
            context: {{app: x, tier: "1"}}
            aws_profile: prod
        gcp_kms:
          - resource_id: projects/p/locations/global/keyRings/r/cryptoKeys/k
        azure_keyvault:
          - vaultUrl: https://v.vault.azure.net
            key: sops-key
            version: "0123"
        hc_vault: [https://vault:8200/v1/transit/keys/k]
        hckms:
          - key_id: cn-north-4:0123
"#
        );
        let config = parse(&text);
        let rule = rule(&config, "prod/a.yaml");
        assert_eq!(rule.shamir_threshold, 2);
        assert_eq!(rule.path_regex.as_deref(), Some("^prod/"));
        assert_eq!(
            rule.key_groups,
            vec![
                vec![
                    MasterKey::age(AGE1),
                    MasterKey::pgp("85D77543B3D624B63CEA9E6DBC17301B491B3F21")
                ],
                vec![
                    MasterKey::Kms(rsops_keys::kinds::kms::KmsKey {
                        arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
                        role: "arn:aws:iam::111122223333:role/sops".into(),
                        context: vec![("app".into(), "x".into()), ("tier".into(), "1".into())],
                        aws_profile: "prod".into(),
                    }),
                    MasterKey::GcpKms(rsops_keys::kinds::gcp_kms::GcpKmsKey {
                        resource_id: "projects/p/locations/global/keyRings/r/cryptoKeys/k".into()
                    }),
                    MasterKey::Hckms(rsops_keys::kinds::hckms::HckmsKey {
                        key_id: "cn-north-4:0123".into()
                    }),
                    MasterKey::AzureKv(rsops_keys::kinds::azure_kv::AzureKvKey {
                        vault_url: "https://v.vault.azure.net".into(),
                        name: "sops-key".into(),
                        version: "0123".into(),
                    }),
                    MasterKey::HcVault(rsops_keys::kinds::hc_vault::HcVaultKey {
                        vault_address: "https://vault:8200".into(),
                        engine_path: "transit".into(),
                        key_name: "k".into(),
                    }),
                ],
            ]
        );
    }

    #[test]
    fn merge_comes_first_and_duplicates_are_removed() {
        let text = format!(
            "creation_rules:\n  - key_groups:\n      - age: ['{AGE2}', '{AGE1},{AGE2}']\n        pgp: [A, 'A ']\n        merge:\n          - age: ['{AGE1}']\n            merge:\n              - pgp: [Z]\n          - pgp: [A]\n"
        );
        let config = parse(&text);
        assert_eq!(
            rule(&config, "x").key_groups,
            vec![vec![
                MasterKey::pgp("Z"),
                MasterKey::age(AGE1),
                MasterKey::pgp("A"),
                MasterKey::age(AGE2)
            ]]
        );
    }

    #[test]
    fn empty_key_groups_fall_back_to_flat_keys() {
        let config = parse(&format!(
            "creation_rules:\n  - age: {AGE1}\n    key_groups: []\n"
        ));
        assert_eq!(
            rule(&config, "x").key_groups,
            vec![vec![MasterKey::age(AGE1)]]
        );
    }

    #[test]
    fn selection_fields_and_conflicts() {
        let config = parse(
            "creation_rules:\n  - path_regex: one\n    encrypted_regex: ^(a|b)$\n    unencrypted_suffix: ''\n  - path_regex: two\n    encrypted_suffix: _enc\n    unencrypted_regex: x\n",
        );
        let one = rule(&config, "one");
        assert_eq!(one.selection.encrypted_regex.as_deref(), Some("^(a|b)$"));
        assert_eq!(one.selection.unencrypted_suffix, None);
        assert_eq!(one.selection.count_set(), 1);
        assert_eq!(
            lookup_err(&config, "two"),
            "error loading config: cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex for the same rule"
        );
    }

    #[test]
    fn cli_selection_replaces_rule_fields() {
        let rule = SelectionFields {
            encrypted_regex: Some("r".into()),
            unencrypted_suffix: Some("_u".into()),
            ..Default::default()
        };
        let cli = SelectionFields {
            encrypted_regex: Some("cli".into()),
            unencrypted_suffix: Some(String::new()),
            encrypted_comment_regex: Some("c".into()),
            ..Default::default()
        };
        let merged = rule.merged_over(&cli);
        assert_eq!(merged.encrypted_regex.as_deref(), Some("cli"));
        assert_eq!(merged.unencrypted_suffix.as_deref(), Some("_u"));
        assert_eq!(merged.encrypted_comment_regex.as_deref(), Some("c"));
        assert_eq!(merged.count_set(), 3);
        assert_eq!(SelectionFields::default().count_set(), 0);
    }

    #[test]
    fn typed_fields_are_read_like_go_yaml() {
        let config = parse(&format!(
            "creation_rules:\n  - shamir_threshold: 3\n    mac_only_encrypted: yes\n    path_regex: 123\n    age: {AGE1}\n"
        ));
        let r = &config.creation_rules[0];
        assert_eq!(r.shamir_threshold, 3);
        assert!(r.mac_only_encrypted);
        assert_eq!(r.path_regex.as_deref(), Some("123"));
        let off = parse("creation_rules:\n  - mac_only_encrypted: false\n");
        assert!(!off.creation_rules[0].mac_only_encrypted);
    }

    #[test]
    fn wrong_types_are_unmarshal_errors_with_lines() {
        let msg = parse_err(&format!(
            "creation_rules:\n  - shamir_threshold: abc\n    age: {AGE1}\n"
        ));
        assert_eq!(
            msg,
            "error loading config: Could not unmarshal config file: yaml: unmarshal errors:\n  line 2: cannot unmarshal !!str `abc` into int"
        );
        let many = parse_err(
            "creation_rules:\n  - path_regex: [f]\n    mac_only_encrypted: 3\n    key_groups: 3\n",
        );
        assert_eq!(
            many,
            "error loading config: Could not unmarshal config file: yaml: unmarshal errors:\n  line 2: cannot unmarshal !!seq into string\n  line 3: cannot unmarshal !!int `3` into bool\n  line 4: cannot unmarshal !!int `3` into []config.keyGroup"
        );
        assert_eq!(
            parse_err("creation_rules: 3\n"),
            "error loading config: Could not unmarshal config file: yaml: unmarshal errors:\n  line 1: cannot unmarshal !!int `3` into []config.creationRule"
        );
        assert!(parse_err("stores: 3\n")
            .ends_with("cannot unmarshal !!int `3` into config.StoresConfig"));
        assert!(parse_err("creation_rules:\n  - hckms: abcdefghijklmnop\n")
            .ends_with("line 2: cannot unmarshal !!str `abcdefg...` into []string"));
    }

    #[test]
    fn duplicate_keys_are_unmarshal_errors() {
        let msg = parse_err("creation_rules:\n  - path_regex: f\n    path_regex: g\n");
        assert!(
            msg.ends_with("line 3: mapping key \"path_regex\" already defined at line 2"),
            "{msg}"
        );
    }

    #[test]
    fn invalid_yaml_is_an_unmarshal_error() {
        let msg = parse_err("foo: [\n");
        assert!(
            msg.starts_with("error loading config: Could not unmarshal config file: yaml: "),
            "{msg}"
        );
        let list = parse_err("- a\n");
        assert!(
            list.ends_with("cannot unmarshal !!seq into config.configFile"),
            "{list}"
        );
    }

    #[test]
    fn unknown_fields_are_warnings_with_the_nearest_known_field() {
        let config = parse(concat!(
            "creation_rule:\n",
            "  - x\n",
            "creation_rules:\n",
            "  - path_regex: a\n",
            "    encrypted_regexp: ^data$\n",
            "    frobnicate: 1\n",
            "    key_groups:\n",
            "      - agee: [x]\n",
            "        merge:\n",
            "          - kms:\n",
            "              - arn: a\n",
            "                aws_profil: p\n",
            "destination_rule: []\n",
            "destination_rules: []\n",
        ));
        let shown: Vec<String> = config.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            shown,
            [
                "line 1: unknown field 'creation_rule' in the top level; did you mean 'creation_rules'?",
                "line 5: unknown field 'encrypted_regexp' in a creation rule; did you mean 'encrypted_regex'?",
                "line 6: unknown field 'frobnicate' in a creation rule (ignored)",
                "line 8: unknown field 'agee' in a key group; did you mean 'age'?",
                "line 12: unknown field 'aws_profil' in a key group's 'kms' entry; did you mean 'aws_profile'?",
                "line 13: unknown field 'destination_rule' in the top level; did you mean 'destination_rules'?",
            ]
        );
        assert_eq!(config.warnings[2].suggestion, None);
        assert_eq!(config.warnings[1].section, ConfigSection::CreationRule);
        // Unknown fields do not change what is decoded.
        assert_eq!(config.creation_rules.len(), 1);
        assert!(config.creation_rules[0].selection.encrypted_regex.is_none());
        assert!(parse("creation_rules:\n  - age: x\n    key_groups: []\n")
            .warnings
            .is_empty());
    }

    #[test]
    fn suggestions_need_a_small_edit_distance() {
        assert_eq!(edit_distance("encrypted_regexp", "encrypted_regex"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(nearest_field("PGP", ["pgp", "age"]), Some("pgp"));
        assert_eq!(nearest_field("xyz", ["pgp", "age"]), None);
        // Short names allow only one edit.
        assert_eq!(nearest_field("ab", ["kms"]), None);
        assert_eq!(
            nearest_field("path_rgx", ["path_regex"]),
            Some("path_regex")
        );
        assert_eq!(nearest_field("path_r", ["path_regex"]), None);
    }

    #[test]
    fn stores_indents() {
        let config = parse("stores:\n  yaml:\n    indent: 2\n  json:\n    indent: 0\n  json_binary: {indent: -1}\n  dotenv: {}\n");
        assert_eq!(
            config.stores,
            StoresConfig {
                yaml_indent: Some(2),
                json_indent: Some(0),
                json_binary_indent: Some(-1),
                dotenv_syntax: None,
            }
        );
        assert_eq!(
            parse("stores: {yaml: {}}\n").stores,
            StoresConfig::default()
        );
        assert_eq!(
            parse("creation_rules: []\n").stores,
            StoresConfig::default()
        );
    }

    #[test]
    fn stores_dotenv_syntax() {
        let syntax = |text: &str| parse(text).stores.dotenv_syntax;
        assert_eq!(
            syntax("stores:\n  dotenv:\n    syntax: quoted\n"),
            Some(DotenvSyntax::Quoted)
        );
        assert_eq!(
            syntax("stores: {dotenv: {syntax: sops}}\n"),
            Some(DotenvSyntax::Sops)
        );
        assert_eq!(syntax("stores: {dotenv: {syntax: ~}}\n"), None);
        assert_eq!(syntax("stores: {dotenv: {other: 1}}\n"), None);
        assert_eq!(syntax("stores: {dotenv: ~}\n"), None);
        let msg = parse_err("stores:\n  dotenv:\n    syntax: quote\n");
        assert!(
            msg.ends_with("line 3: stores.dotenv.syntax must be \"sops\" or \"quoted\""),
            "{msg}"
        );
        assert!(parse_err("stores: {dotenv: 3}\n")
            .ends_with("cannot unmarshal !!int `3` into config.DotenvStoreConfig"));
    }

    #[test]
    fn corpus_shamir_two_key_groups() {
        let config = corpus("shamir_two_key_groups");
        let r = rule(&config, "input.yaml");
        assert_eq!(r.shamir_threshold, 2);
        assert_eq!(
            r.key_groups,
            vec![vec![MasterKey::age(AGE1)], vec![MasterKey::age(AGE2)]]
        );
        assert!(!r.mac_only_encrypted);
    }

    #[test]
    fn corpus_mac_only_encrypted() {
        let config = corpus("mac_only_encrypted");
        let r = rule(&config, "input.yaml");
        assert!(r.mac_only_encrypted);
        assert_eq!(
            r.selection.encrypted_regex.as_deref(),
            Some("^(password|token)$")
        );
        assert_eq!(r.selection.count_set(), 1);
        assert_eq!(r.key_groups, vec![vec![MasterKey::age(AGE1)]]);
    }

    #[test]
    fn corpus_encrypted_comment_regex() {
        let config = corpus("encrypted_comment_regex");
        let r = rule(&config, "input.yaml");
        assert_eq!(
            r.selection.encrypted_comment_regex.as_deref(),
            Some("sops:encrypt")
        );
        assert_eq!(r.key_groups, vec![vec![MasterKey::age(AGE1)]]);
        assert_eq!(r.shamir_threshold, 0);
    }

    #[test]
    fn rule_match_path_strips_the_config_dir() {
        let m = |dir: &str, file: &str| rule_match_path(Path::new(dir), Path::new(file));
        assert_eq!(m("/repo", "/repo/sub/x.yaml"), "sub/x.yaml");
        assert_eq!(m("/repo/", "/repo/x.yaml"), "x.yaml");
        assert_eq!(m("/repo", "/repository/x.yaml"), "/repository/x.yaml");
        assert_eq!(m("/repo/sub", "/repo/x.yaml"), "/repo/x.yaml");
        assert_eq!(m("/repo", "/repo"), "/repo");
        assert_eq!(m("/", "/x.yaml"), "/x.yaml");
        assert_eq!(m("/repo/./a/../", "/repo/./b//x.yaml"), "b/x.yaml");
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "(?s).{0,300}") {
            if let Ok(config) = Config::parse(text.as_bytes()) {
                let _ = config.creation_rule("a/b.yaml");
            }
        }

        #[test]
        fn parse_never_panics_on_config_shaped_text(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("creation_rules:".to_owned()),
                    Just("  - path_regex: x".to_owned()),
                    Just("  - key_groups:".to_owned()),
                    Just("      - age: [a, 1]".to_owned()),
                    Just("        merge: [{pgp: [A]}, ~]".to_owned()),
                    Just("        kms: [{arn: a, context: {k: [1]}}, 3]".to_owned()),
                    Just("    age: 12".to_owned()),
                    Just("    shamir_threshold: 1.5e300".to_owned()),
                    Just("stores: {json: ~, yaml: {indent: x}}".to_owned()),
                    "[a-z_ :\\[\\]{},'-]{0,30}",
                ],
                0..12,
            )
        ) {
            let text = lines.join("\n");
            if let Ok(config) = Config::parse(text.as_bytes()) {
                let _ = config.creation_rule("x");
            }
        }
    }

    #[test]
    fn destination_rules_first_match_and_destinations() {
        let config = parse(concat!(
            "destination_rules:\n",
            "  - path_regex: '(('\n",
            "    s3_bucket: never\n",
            "  - path_regex: s3/.*\\.yaml$\n",
            "    s3_bucket: b\n",
            "    s3_prefix: p/\n",
            "    omit_extensions: true\n",
            "  - path_regex: ^vault/\n",
            "    vault_path: app\n",
            "    vault_kv_version: 1\n",
            "    vault_kv_mount_name: kv\n",
            "  - path_regex: ^both/\n",
            "    s3_bucket: b\n",
            "    gcs_bucket: g\n",
            "  - path_regex: ^none/\n",
            "  - gcs_bucket: g\n",
            "    gcs_prefix: x\n",
            "    recreation_rule:\n",
            "      age: ",
            "age1hd76wdmcguk8j0p6drdg5uq93js0n08avrjqhmdfeaq5qpvnrvnsunt3v8",
            "\n",
            "      unencrypted_suffix: _plain\n",
        ));
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        let s3 = config.destination_rule("dir/s3/a.yaml").expect("s3 rule");
        assert!(s3.omit_extensions);
        assert_eq!(
            s3.destination(),
            Ok(Some(Destination::S3 {
                bucket: "b".into(),
                prefix: "p/".into()
            }))
        );
        let vault = config.destination_rule("vault/x.json").expect("vault rule");
        assert_eq!(
            vault.destination(),
            Ok(Some(Destination::Vault {
                address: String::new(),
                path: "app/".into(),
                mount: "kv/".into(),
                version: 1,
            }))
        );
        assert_eq!(
            config.destination_rule("both/x").err(),
            Some(ConfigError::MultipleDestinations)
        );
        let none = config.destination_rule("none/x").expect("rule");
        assert_eq!(none.destination(), Ok(None));
        let gcs = config.destination_rule("other").expect("catch-all");
        assert_eq!(gcs.recreation_rule.key_groups[0].len(), 1);
        assert_eq!(
            gcs.recreation_rule.selection.unencrypted_suffix.as_deref(),
            Some("_plain")
        );
        let empty = parse("destination_rules: []\n");
        assert_eq!(
            empty.destination_rule("x").err(),
            Some(ConfigError::NoMatchingDestination)
        );
        assert_eq!(
            ConfigError::NoMatchingDestination.to_string(),
            "error loading config: no matching destination found in config"
        );
    }

    #[test]
    fn vault_destination_defaults_like_sops() {
        let config = parse("destination_rules:\n  - vault_path: a/b/\n    vault_kv_version: 3\n");
        let rule = config.destination_rule("f").expect("rule");
        assert_eq!(
            rule.destination(),
            Ok(Some(Destination::Vault {
                address: String::new(),
                path: "a/b/".into(),
                mount: "secret/".into(),
                version: 2,
            }))
        );
    }

    #[test]
    fn destination_rule_typos_and_types() {
        let config = parse(concat!(
            "destination_rules:\n",
            "  - s3_buckt: b\n",
            "    recreation_rule:\n",
            "      agee: x\n",
        ));
        let shown: Vec<String> = config.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            shown,
            [
                "line 2: unknown field 's3_buckt' in a destination rule; did you mean 's3_bucket'?",
                "line 4: unknown field 'agee' in a recreation rule; did you mean 'age'?",
            ]
        );
        let err = Config::parse(b"destination_rules:\n  - vault_kv_version: two\n")
            .expect_err("not an int");
        assert_eq!(
            err.to_string(),
            "error loading config: Could not unmarshal config file: yaml: unmarshal errors:\n  line 2: cannot unmarshal !!str `two` into int"
        );
        let conflicting = parse(concat!(
            "destination_rules:\n",
            "  - s3_bucket: b\n",
            "    recreation_rule:\n",
            "      encrypted_regex: a\n",
            "      unencrypted_regex: b\n",
        ));
        assert_eq!(
            conflicting.destination_rule("x").err(),
            Some(ConfigError::ConflictingSelection)
        );
    }
}
