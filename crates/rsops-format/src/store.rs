//! Dispatch over the five stores, and the split between data and metadata.
//!
//! Plain files are loaded with [`load_plain`]; encrypted files with
//! [`load_encrypted`], which also lifts the `sops` metadata out of the data
//! (a top-level `sops` key in YAML/JSON/binary, `sops_*` keys in dotenv, the
//! `[sops]` section in INI; STORES.md §0 and §6).

use crate::error::FormatError;
use crate::tree::{Map, MapItem, Value};
use crate::{binary, dotenv, flatten, ini, json, yaml};

pub use crate::dotenv::DotenvSyntax;

/// The five sops stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML (`.yaml`, `.yml`).
    Yaml,
    /// JSON (`.json`).
    Json,
    /// dotenv (`.env`).
    Dotenv,
    /// INI (`.ini`).
    Ini,
    /// Anything else: the whole file is one opaque value.
    Binary,
}

impl Format {
    /// The store sops infers from a path: a case-sensitive test of the
    /// extension; anything unknown (or no path) is binary (CLI.md §3).
    pub fn from_path(path: &str) -> Format {
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            Format::Yaml
        } else if path.ends_with(".json") {
            Format::Json
        } else if path.ends_with(".env") {
            Format::Dotenv
        } else if path.ends_with(".ini") {
            Format::Ini
        } else {
            Format::Binary
        }
    }

    /// The store named by `--input-type`/`--output-type`; `None` for an
    /// unknown name (sops then infers the type from the path).
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "yaml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "dotenv" => Some(Format::Dotenv),
            "ini" => Some(Format::Ini),
            "binary" => Some(Format::Binary),
            _ => None,
        }
    }

    /// The store's name as sops spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
            Format::Ini => "ini",
            Format::Binary => "binary",
        }
    }
}

/// Store options (`stores` in `.sops.yaml`, `--indent`): how files are
/// written, and for dotenv also how plaintext files are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmitOptions {
    /// YAML indentation in spaces (sops: 4 when unset or 0).
    pub yaml_indent: usize,
    /// JSON indentation: `None` = one tab, `Some(n)` = n spaces (0: none).
    pub json_indent: Option<usize>,
    /// JSON indentation of the binary store's envelope.
    pub json_binary_indent: Option<usize>,
    /// How plaintext dotenv files are read and written (`stores.dotenv`).
    pub dotenv: DotenvSyntax,
}

impl Default for EmitOptions {
    fn default() -> Self {
        EmitOptions {
            yaml_indent: 4,
            json_indent: None,
            json_binary_indent: None,
            dotenv: DotenvSyntax::Sops,
        }
    }
}

/// The metadata key of the tree-shaped stores.
pub const METADATA_KEY: &str = "sops";
/// The prefix of flattened metadata keys in dotenv files.
pub const DOTENV_METADATA_PREFIX: &str = "sops_";

/// Reads a plaintext file into its documents (one, except for YAML streams).
pub fn load_plain(format: Format, input: &[u8]) -> Result<Vec<Map>, FormatError> {
    load_plain_with(format, input, &EmitOptions::default())
}

/// [`load_plain`] with the store options of `.sops.yaml` (the dotenv syntax
/// of plaintext files).
pub fn load_plain_with(
    format: Format,
    input: &[u8],
    opts: &EmitOptions,
) -> Result<Vec<Map>, FormatError> {
    match format {
        Format::Dotenv if opts.dotenv == DotenvSyntax::Quoted => {
            Ok(vec![dotenv::parse_quoted(input)?])
        }
        Format::Yaml => yaml::parse_data(input),
        Format::Json => Ok(vec![json::parse(input)?]),
        Format::Dotenv => Ok(vec![dotenv::parse(input)?]),
        Format::Ini => Ok(vec![ini::parse(input)?]),
        Format::Binary => Ok(vec![binary::load_plain(input)]),
    }
}

/// Reads an encrypted file: its documents without the metadata, and the
/// metadata as a plain map (`None` when the file has none).
pub fn load_encrypted(
    format: Format,
    input: &[u8],
) -> Result<(Vec<Map>, Option<Map>), FormatError> {
    match format {
        Format::Yaml | Format::Json | Format::Binary => {
            let mut docs = match format {
                Format::Yaml => yaml::parse_data(input)?,
                _ => vec![json::parse(input)?],
            };
            let mut metadata = None;
            for (i, doc) in docs.iter_mut().enumerate() {
                let found = doc.remove(METADATA_KEY);
                if i == 0 {
                    metadata = found.and_then(|v| match v {
                        Value::Map(m) => Some(m),
                        _ => None,
                    });
                }
            }
            Ok((docs, metadata))
        }
        Format::Dotenv => {
            let doc = dotenv::parse(input)?;
            let (data, flat) = split_flat(doc, |k| k.strip_prefix(DOTENV_METADATA_PREFIX));
            let metadata = if flat.is_empty() {
                None
            } else {
                Some(flatten::unflatten(flat)?)
            };
            Ok((vec![data], metadata))
        }
        Format::Ini => {
            let mut doc = ini::parse(input)?;
            let metadata = match doc.remove(METADATA_KEY) {
                Some(Value::Map(section)) => {
                    let pairs = section
                        .items
                        .into_iter()
                        .filter_map(|i| match i {
                            MapItem::Entry(e) => e.key.as_str().map(|k| (k.to_owned(), e.value)),
                            MapItem::Comment(_) => None,
                        })
                        .collect();
                    Some(flatten::unflatten(pairs)?)
                }
                _ => None,
            };
            Ok((vec![doc], metadata))
        }
    }
}

/// Splits the entries whose key `strip` accepts out of `doc`.
fn split_flat(doc: Map, strip: impl Fn(&str) -> Option<&str>) -> (Map, Vec<(String, Value)>) {
    let mut data = Map::new();
    let mut flat = Vec::new();
    for item in doc.items {
        match item {
            MapItem::Entry(e) => match e.key.as_str().and_then(&strip) {
                Some(rest) => flat.push((rest.to_owned(), e.value)),
                None => data.items.push(MapItem::Entry(e)),
            },
            comment => data.items.push(comment),
        }
    }
    (data, flat)
}

/// Whether a plaintext file already carries sops metadata (encrypting it
/// again is refused with exit 203): a top-level `sops` key, or for dotenv any
/// key starting with `sops_`.
pub fn has_metadata(format: Format, docs: &[Map]) -> bool {
    docs.iter().any(|doc| {
        doc.entries().any(|e| match e.key.as_str() {
            Some(k) if format == Format::Dotenv => k.starts_with(DOTENV_METADATA_PREFIX),
            Some(k) => k == METADATA_KEY,
            None => false,
        })
    })
}

/// Writes decrypted documents in `format`.
pub fn emit_plain(
    format: Format,
    docs: &[Map],
    opts: &EmitOptions,
) -> Result<Vec<u8>, FormatError> {
    match format {
        Format::Yaml => yaml::emit(docs, opts.yaml_indent),
        Format::Json => json::emit(first(docs), opts.json_indent),
        Format::Dotenv => dotenv::emit_plain(first(docs), opts.dotenv),
        Format::Ini => ini::emit(first(docs)),
        Format::Binary => binary::emit_plain(first(docs)),
    }
}

/// Writes encrypted documents with their metadata in `format`.
pub fn emit_encrypted(
    format: Format,
    docs: &[Map],
    metadata: &Map,
    opts: &EmitOptions,
) -> Result<Vec<u8>, FormatError> {
    match format {
        Format::Yaml | Format::Json | Format::Binary => {
            let with_meta: Vec<Map> = docs
                .iter()
                .map(|d| {
                    let mut d = d.clone();
                    d.push(METADATA_KEY, Value::Map(metadata.clone()));
                    d
                })
                .collect();
            match format {
                Format::Yaml => yaml::emit(&with_meta, opts.yaml_indent),
                Format::Json => json::emit(first(&with_meta), opts.json_indent),
                _ => json::emit(first(&with_meta), opts.json_binary_indent),
            }
        }
        Format::Dotenv => {
            let mut doc = first(docs).clone();
            let mut flat = flatten::flatten(metadata);
            flat.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, v) in flat {
                doc.push(format!("{DOTENV_METADATA_PREFIX}{k}"), v);
            }
            dotenv::emit_encrypted(&doc, opts.dotenv)
        }
        Format::Ini => {
            let mut doc = first(docs).clone();
            let mut section = Map::new();
            for (k, v) in flatten::flatten(metadata) {
                section.push(k, v);
            }
            doc.push(METADATA_KEY, Value::Map(section));
            ini::emit(&doc)
        }
    }
}

/// [`emit_encrypted`] for documents the caller no longer needs as they
/// are: for YAML and JSON the metadata is appended to `docs` in place (so
/// nothing is copied) and the plain emitter writes exactly what the
/// encrypted one would. `docs` keeps the metadata entry afterwards.
pub fn emit_encrypted_in_place(
    format: Format,
    docs: &mut [Map],
    metadata: Map,
    opts: &EmitOptions,
) -> Result<Vec<u8>, FormatError> {
    match format {
        Format::Yaml | Format::Json => {
            for doc in docs.iter_mut() {
                doc.push(METADATA_KEY, Value::Map(metadata.clone()));
            }
            emit_plain(format, docs, opts)
        }
        other => emit_encrypted(other, docs, &metadata, opts),
    }
}

/// Writes one value alone (`decrypt --extract` of a non-string), in the
/// store's single-value form (STORES.md §7).
pub fn emit_value(
    format: Format,
    value: &Value,
    opts: &EmitOptions,
) -> Result<Vec<u8>, FormatError> {
    match (format, value) {
        (_, Value::Map(m)) => emit_plain(format, std::slice::from_ref(m), opts),
        // sops writes extracted values with yaml.Marshal: always 4 spaces.
        (Format::Yaml, v) => yaml::emit_value(v, 4),
        (Format::Json, v) => json::emit_value(v, opts.json_indent),
        // sops's INI store marshals a non-map value with json.Marshal: compact.
        (Format::Ini, v) => json::emit_value(v, Some(0)).map(|out| compact_json(&out)),
        (Format::Dotenv, _) => Err(FormatError::Emit(
            "cannot extract a non-string value to the dotenv format".to_owned(),
        )),
        (Format::Binary, _) => Err(FormatError::Emit(
            "Binary files are not structured and extracting a single value is not possible"
                .to_owned(),
        )),
    }
}

/// JSON without the whitespace between tokens (Go's `json.Marshal` layout):
/// every space, tab and newline outside strings is dropped.
fn compact_json(pretty: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pretty.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in pretty {
        if in_string {
            in_string = escaped || b != b'"';
            escaped = !escaped && b == b'\\';
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        out.push(b);
    }
    out
}

fn first(docs: &[Map]) -> &Map {
    static EMPTY: Map = Map { items: Vec::new() };
    docs.first().unwrap_or(&EMPTY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{List, ListItem};

    #[test]
    fn ini_extract_of_a_non_map_is_compact_json_like_sops() {
        let list = Value::List(List {
            items: vec![
                ListItem::Value(Value::Int(1)),
                ListItem::Value(Value::Str("x y \"q\" \\ \n".into())),
            ],
        });
        let out = emit_value(Format::Ini, &list, &EmitOptions::default()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[1,"x y \"q\" \\ \n"]"#
        );
        let out = emit_value(Format::Ini, &Value::Int(30), &EmitOptions::default()).unwrap();
        assert_eq!(out, b"30");
    }
}
