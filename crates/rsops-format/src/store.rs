//! Dispatch over the five stores, and the split between data and metadata.
//!
//! Plain files are loaded with [`load_plain`]; encrypted files with
//! [`load_encrypted`], which also lifts the `sops` metadata out of the data
//! (a top-level `sops` key in YAML/JSON/binary, `sops_*` keys in dotenv, the
//! `[sops]` section in INI; see `docs/format.md`).

use crate::error::FormatError;
use crate::parallel::{Parallelism, Sequential};
use crate::tree::{Entry, Key, Map, MapItem, Value};
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
    /// extension; anything unknown (or no path) is binary.
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

/// Reads a plaintext file into its documents (one, except for YAML streams),
/// on the calling thread only: for small inputs (see [`load_plain_with`]).
pub fn load_plain(format: Format, input: &[u8]) -> Result<Vec<Map>, FormatError> {
    load_plain_with(format, input, &EmitOptions::default(), &Sequential)
}

/// [`load_plain`] with the store options of `.sops.yaml` (the dotenv syntax
/// of plaintext files); a large YAML document may be parsed in parts run
/// by `par` (see [`yaml::parse_data`]).
pub fn load_plain_with(
    format: Format,
    input: &[u8],
    opts: &EmitOptions,
    par: &dyn Parallelism,
) -> Result<Vec<Map>, FormatError> {
    match format {
        Format::Dotenv if opts.dotenv == DotenvSyntax::Quoted => {
            Ok(vec![dotenv::parse_quoted(input)?])
        }
        Format::Yaml => yaml::parse_data(input, par),
        Format::Json => Ok(vec![json::parse(input)?]),
        Format::Dotenv => Ok(vec![dotenv::parse(input)?]),
        Format::Ini => Ok(vec![ini::parse(input)?]),
        Format::Binary => Ok(vec![binary::load_plain(input)]),
    }
}

/// Reads an encrypted file: its documents without the metadata, and the
/// metadata as a plain map (`None` when the file has none). A large YAML
/// document may be parsed in parts run by `par` (see [`yaml::parse_data`]).
pub fn load_encrypted(
    format: Format,
    input: &[u8],
    par: &dyn Parallelism,
) -> Result<(Vec<Map>, Option<Map>), FormatError> {
    match format {
        Format::Yaml | Format::Json | Format::Binary => {
            let mut docs = match format {
                Format::Yaml => yaml::parse_data(input, par)?,
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
/// store's single-value form.
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

/// Whether a plaintext file can be read root item by root item
/// ([`read_root_items`]) and its encrypted form written the same way
/// ([`RootWriter`]), so that neither the whole tree nor the whole output is
/// ever held: YAML (at most one document, see
/// [`yaml::maybe_several_documents`]) or JSON in, YAML or JSON out. The
/// other stores, and YAML streams of several documents (whose metadata,
/// written in every document, depends on all of them), are read whole.
pub fn can_stream(input_format: Format, output_format: Format, input: &[u8]) -> bool {
    let output_ok = matches!(output_format, Format::Yaml | Format::Json);
    let input_ok = match input_format {
        Format::Json => true,
        Format::Yaml => !yaml::maybe_several_documents(input),
        _ => false,
    };
    // A file that may have a top-level `sops` key (an encrypted file given
    // to `encrypt` again) takes the whole-tree path, which refuses it (exit
    // 203) before writing anything, even to stdout.
    output_ok && input_ok && !may_have_top_level_sops(input_format, input)
}

/// A cheap, conservative test for a top-level `sops` key (false only when
/// there is certainly none). JSON: the string `"sops"` anywhere (a value
/// that merely contains the letters does not count). YAML: `sops` on a
/// line that starts in column 0 with anything but a comment or a list
/// item; nested keys and values (indented lines) do not count.
fn may_have_top_level_sops(format: Format, input: &[u8]) -> bool {
    if format == Format::Json {
        return memchr::memmem::find(input, b"\"sops\"").is_some();
    }
    memchr::memmem::find_iter(input, b"sops").any(|at| {
        let line_start = input
            .get(..at)
            .and_then(|before| memchr::memrchr(b'\n', before))
            .map_or(0, |nl| nl + 1);
        !matches!(
            input.get(line_start),
            Some(b' ' | b'\t' | b'#' | b'-' | b'\r' | b'\n')
        )
    })
}

/// Reads a plaintext YAML or JSON file like [`load_plain`] but hands the
/// items of its (only) document's root map to `on_item` one at a time, as
/// soon as each is complete (see [`yaml::parse_root_items`] and
/// [`json::parse_root_items`]). Other stores are refused.
pub fn read_root_items<E: From<FormatError>>(
    format: Format,
    input: &[u8],
    on_item: &mut dyn FnMut(MapItem) -> Result<(), E>,
) -> Result<(), E> {
    match format {
        Format::Yaml => yaml::parse_root_items(input, on_item),
        Format::Json => json::parse_root_items(input, on_item),
        other => Err(FormatError::Emit(format!(
            "the {} store cannot be read item by item",
            other.name()
        ))
        .into()),
    }
}

/// Writes an encrypted YAML or JSON document root item by root item, in
/// exactly the bytes [`emit_encrypted`] gives the whole document: items in
/// order with [`RootWriter::item`], the output drained into a sink with
/// [`RootWriter::drain_into`] as it grows, and the metadata last with
/// [`RootWriter::finish`].
pub struct RootWriter {
    inner: RootWriterKind,
}

/// The store-specific writer behind [`RootWriter`].
enum RootWriterKind {
    Yaml(yaml::RootWriter),
    Json(json::RootWriter),
}

impl RootWriter {
    /// A writer for `format` with the store options `opts`; `None` for a
    /// store that is not written item by item (see [`can_stream`]).
    pub fn new(format: Format, opts: &EmitOptions) -> Option<RootWriter> {
        let inner = match format {
            Format::Yaml => RootWriterKind::Yaml(yaml::RootWriter::new(opts.yaml_indent)),
            Format::Json => RootWriterKind::Json(json::RootWriter::new(opts.json_indent)),
            _ => return None,
        };
        Some(RootWriter { inner })
    }

    /// A writer of the root items of one piece of a document
    /// ([`crate::chunk`]) in `format`: the piece written first opens the
    /// document like [`RootWriter::new`]; a `continuing` one writes the
    /// items that follow another writer's (which must then
    /// [`continue cleanly`](RootWriter::continues_cleanly)), so that the
    /// outputs of the pieces, joined in order, are the bytes of one writer.
    /// `None` for a store that is not written item by item.
    pub fn piece(format: Format, opts: &EmitOptions, continuing: bool) -> Option<RootWriter> {
        if !continuing {
            return RootWriter::new(format, opts);
        }
        let inner = match format {
            Format::Yaml => RootWriterKind::Yaml(yaml::RootWriter::continuing(opts.yaml_indent)),
            Format::Json => RootWriterKind::Json(json::RootWriter::continuing(opts.json_indent)),
            _ => return None,
        };
        Some(RootWriter { inner })
    }

    /// Whether a continuing writer ([`RootWriter::piece`]) can take over
    /// after the items written here: at least one entry was written, and
    /// (YAML) no comment waits for the next entry and the layout state is
    /// the one a continuing writer starts from.
    pub fn continues_cleanly(&self) -> bool {
        match &self.inner {
            RootWriterKind::Yaml(w) => w.continues_cleanly(),
            RootWriterKind::Json(w) => w.has_entries(),
        }
    }

    /// Ends a plain (decrypted) document after the items written, with no
    /// metadata entry, in the bytes [`emit_plain`] gives, and returns the
    /// output not drained yet. An error if no entry was written.
    pub fn finish_plain(self) -> Result<Vec<u8>, FormatError> {
        match self.inner {
            RootWriterKind::Yaml(w) => w.finish_plain(),
            RootWriterKind::Json(w) => w.finish_plain(),
        }
    }

    /// The output not drained yet; nothing is ended.
    pub fn into_output(self) -> Vec<u8> {
        match self.inner {
            RootWriterKind::Yaml(w) => w.into_output(),
            RootWriterKind::Json(w) => w.into_output(),
        }
    }

    /// Writes the next item of the root map.
    pub fn item(&mut self, item: &MapItem) -> Result<(), FormatError> {
        match &mut self.inner {
            RootWriterKind::Yaml(w) => w.item(item),
            RootWriterKind::Json(w) => w.item(item),
        }
    }

    /// Moves the output written so far into `sink`.
    pub fn drain_into(&mut self, sink: &mut dyn std::io::Write) -> std::io::Result<()> {
        match &mut self.inner {
            RootWriterKind::Yaml(w) => w.drain_into(sink),
            RootWriterKind::Json(w) => w.drain_into(sink),
        }
    }

    /// How many bytes of output are waiting to be drained.
    pub fn pending_output(&self) -> usize {
        match &self.inner {
            RootWriterKind::Yaml(w) => w.pending_output(),
            RootWriterKind::Json(w) => w.pending_output(),
        }
    }

    /// Takes the output not drained yet, as [`RootWriter::drain_into`]
    /// would write it, without copying it.
    pub fn take_output(&mut self) -> Vec<u8> {
        match &mut self.inner {
            RootWriterKind::Yaml(w) => w.take_output(),
            RootWriterKind::Json(w) => w.take_output(),
        }
    }

    /// Writes the `sops` metadata entry last, ends the document and
    /// returns the output not drained yet.
    pub fn finish(self, metadata: Map) -> Result<Vec<u8>, FormatError> {
        let last = Entry {
            key: Key::Str(METADATA_KEY.to_owned()),
            value: Value::Map(metadata),
            source: None,
        };
        match self.inner {
            RootWriterKind::Yaml(w) => w.finish(&last),
            RootWriterKind::Json(w) => w.finish(&last),
        }
    }
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
    fn only_a_possible_top_level_sops_key_stops_streaming() {
        let yaml = |text: &str| can_stream(Format::Yaml, Format::Yaml, text.as_bytes());
        assert!(yaml(
            "a: 1\nb:\n  c: xsopsx\n  sops: 2\n# sops\nl:\n- sops\n"
        ));
        assert!(!yaml("a: 1\nsops:\n  version: 3\n"));
        assert!(!yaml("a: 1\n\"sops\": 2\n"));
        assert!(!yaml("a: sops\n"));
        assert!(!yaml("{a: 1, sops: 2}\n"));
        let json = |text: &str| can_stream(Format::Json, Format::Json, text.as_bytes());
        assert!(json(r#"{"a": "xsopsx", "sops_x": 1}"#));
        assert!(!json(r#"{"a": 1, "sops": {}}"#));
    }

    #[test]
    fn ini_extract_of_a_non_map_is_compact_json_like_sops() {
        let list = Value::List(List {
            items: vec![
                ListItem::Value(Value::Int(1)),
                ListItem::Value(Value::Str("x y \"q\" \\ \n".into())),
            ],
        });
        let out = emit_value(Format::Ini, &list, &EmitOptions::default()).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"[1,"x y \"q\" \\ \n"]"#);
        let out = emit_value(Format::Ini, &Value::Int(30), &EmitOptions::default()).unwrap();
        assert_eq!(out, b"30");
    }
}

#[cfg(test)]
mod stream_tests {
    //! Reading and writing root item by root item gives exactly what the
    //! whole-tree functions give: on every YAML/JSON file of the
    //! conformance corpus, on hand-written comment layouts and on generated
    //! trees.

    use super::*;
    use crate::tree::{Comment, List, ListItem};
    use proptest::prelude::*;

    use crate::corpus::CASES;

    /// Every `.yaml`/`.json` file of the corpus with its store.
    fn corpus_files() -> Vec<(std::path::PathBuf, Format)> {
        let mut files = Vec::new();
        let dirs = std::fs::read_dir(CASES).expect("testdata/sops/cases");
        for dir in dirs.flatten() {
            let Ok(entries) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for f in entries.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                let format = Format::from_path(&name);
                if matches!(format, Format::Yaml | Format::Json) {
                    files.push((f.path(), format));
                }
            }
        }
        files.sort_by(|a, b| a.0.cmp(&b.0));
        files
    }

    /// A metadata map like the one `encrypt` writes.
    fn metadata() -> Map {
        let mut age = Map::new();
        age.push("recipient", Value::Str("age1xyz".into()));
        age.push(
            "enc",
            Value::Str(
                "-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n-----END AGE ENCRYPTED FILE-----\n"
                    .into(),
            ),
        );
        let mut md = Map::new();
        md.push(
            "age",
            Value::List(List {
                items: vec![ListItem::Value(Value::Map(age))],
            }),
        );
        md.push("lastmodified", Value::Str("2024-01-02T03:04:05Z".into()));
        md.push(
            "mac",
            Value::Str("ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]".into()),
        );
        md.push("version", Value::Str("3.11.0".into()));
        md
    }

    /// The root items as [`read_root_items`] hands them over.
    fn streamed(format: Format, input: &[u8]) -> Result<Vec<MapItem>, FormatError> {
        let mut items = Vec::new();
        read_root_items(format, input, &mut |item| {
            items.push(item);
            Ok::<(), FormatError>(())
        })?;
        Ok(items)
    }

    /// `doc` written by [`RootWriter`], draining after every item.
    fn written(format: Format, doc: &Map, opts: &EmitOptions) -> Result<Vec<u8>, FormatError> {
        let mut out = Vec::new();
        let mut w = RootWriter::new(format, opts).expect("streamable store");
        for item in &doc.items {
            w.item(item)?;
            w.drain_into(&mut out).expect("write to a vector");
        }
        out.extend(w.finish(metadata())?);
        Ok(out)
    }

    /// What the whole-tree path writes for `doc`.
    fn whole(format: Format, doc: &Map, opts: &EmitOptions) -> Result<Vec<u8>, FormatError> {
        emit_encrypted(format, std::slice::from_ref(doc), &metadata(), opts)
    }

    /// Comment text for comparisons (the `inline` flag is not output).
    fn comment_texts(items: &[MapItem]) -> Vec<Option<String>> {
        items
            .iter()
            .map(|i| match i {
                MapItem::Comment(Comment { text, .. }) => Some(text.clone()),
                MapItem::Entry(_) => None,
            })
            .collect()
    }

    #[test]
    fn corpus_files_stream_like_whole_documents() {
        let files = corpus_files();
        assert!(!files.is_empty(), "no fixture file in {CASES}");
        let mut checked = 0;
        for (path, format) in files {
            let input = std::fs::read(&path).expect("read corpus file");
            let whole_docs = load_plain(format, &input);
            let several = format == Format::Yaml && yaml::maybe_several_documents(&input);
            let items = streamed(format, &input);
            match whole_docs {
                Err(e) => {
                    if !several {
                        assert_eq!(items.err(), Some(e), "{}", path.display());
                    }
                }
                Ok(docs) if docs.len() > 1 => {
                    assert!(
                        several,
                        "{}: several documents not detected",
                        path.display()
                    );
                    assert!(items.is_err(), "{}", path.display());
                }
                Ok(docs) => {
                    let doc = &docs[0];
                    let items = items.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    assert_eq!(
                        Map {
                            items: items.clone()
                        },
                        *doc,
                        "{}",
                        path.display()
                    );
                    assert_eq!(comment_texts(&items), comment_texts(&doc.items));
                    for out in [Format::Yaml, Format::Json] {
                        for opts in [
                            EmitOptions::default(),
                            EmitOptions {
                                yaml_indent: 2,
                                json_indent: Some(3),
                                ..EmitOptions::default()
                            },
                        ] {
                            assert_eq!(
                                written(out, doc, &opts),
                                whole(out, doc, &opts),
                                "{} as {}",
                                path.display(),
                                out.name()
                            );
                        }
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 20, "only {checked} corpus files checked");
    }

    /// YAML layouts where comments move between root items.
    const COMMENTED: &[&str] = &[
        "# head\n# more\na: 1 # inline\n# before b\nb:\n  # inside\n  c: 2\n  # foot of b\n# before d\nd: [1, 2] # flow\n# tail\n",
        "a:\n- 1\n# in list\n- 2\n# after list\nb: x\n",
        "# only a comment before\n{a: 1, b: 2}\n",
        "---\n# after marker\na: 1\n\n\n# far\n\nb: 2\n...\n",
        "a: &x {k: v}\nb: *x\nc: 3 # c\n",
        "%YAML 1.2\n---\na: 1\n",
        "a: 1\n# trailing one\n# trailing two\n",
        "# nothing but comments\n",
        "",
        "a: 1\na: 2\n",
        "- 1\n- 2\n",
        "a: b: c\n",
        "k: |\n  text\n  more\n# after block\nz: 0\n",
    ];

    #[test]
    fn commented_yaml_streams_like_whole_documents() {
        for src in COMMENTED {
            let input = src.as_bytes();
            let items = streamed(Format::Yaml, input);
            match load_plain(Format::Yaml, input) {
                Err(e) => assert_eq!(items.err(), Some(e), "{src:?}"),
                Ok(docs) => {
                    let items = items.unwrap_or_else(|e| panic!("{src:?}: {e}"));
                    assert_eq!(
                        comment_texts(&items),
                        comment_texts(&docs[0].items),
                        "{src:?}"
                    );
                    assert_eq!(Map { items }, docs[0], "{src:?}");
                    for indent in [2, 4] {
                        let opts = EmitOptions {
                            yaml_indent: indent,
                            ..EmitOptions::default()
                        };
                        assert_eq!(
                            written(Format::Yaml, &docs[0], &opts),
                            whole(Format::Yaml, &docs[0], &opts),
                            "{src:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn several_documents_are_detected_and_refused() {
        let multi = b"a: 1\n---\nb: 2\n";
        assert!(yaml::maybe_several_documents(multi));
        assert!(!can_stream(Format::Yaml, Format::Yaml, multi));
        assert!(streamed(Format::Yaml, multi).is_err());
        assert!(yaml::maybe_several_documents(b"a: 1\n...\n"));
        assert!(yaml::maybe_several_documents(b"--- a\n--- b\n"));
        // A leading marker, comments and directives start the one document.
        assert!(!yaml::maybe_several_documents(
            b"# c\n%YAML 1.2\n---\na: 1\n"
        ));
        assert!(!yaml::maybe_several_documents(b"a: |\n  ---\n  x\n"));
        assert!(can_stream(Format::Json, Format::Yaml, b"{}"));
        assert!(!can_stream(Format::Dotenv, Format::Dotenv, b"A=1\n"));
        assert!(!can_stream(Format::Yaml, Format::Ini, b"a: 1\n"));
        assert!(RootWriter::new(Format::Binary, &EmitOptions::default()).is_none());
    }

    #[test]
    fn json_streams_like_whole_documents() {
        for src in [
            "{}",
            "{\"a\": 1, \"a\": {\"b\": [1, {\"c\": null}]}, \"d\": \"<x>\"} trailing",
            "{\"a\": 1,}",
            "{\"a\": [1, 2}",
            "[1]",
            "{\"a\": tru}",
        ] {
            let items = streamed(Format::Json, src.as_bytes());
            match load_plain(Format::Json, src.as_bytes()) {
                Err(e) => assert_eq!(items.err(), Some(e), "{src}"),
                Ok(docs) => {
                    assert_eq!(
                        Map {
                            items: items.unwrap()
                        },
                        docs[0],
                        "{src}"
                    );
                    for indent in [None, Some(0), Some(2)] {
                        let opts = EmitOptions {
                            json_indent: indent,
                            ..EmitOptions::default()
                        };
                        assert_eq!(
                            written(Format::Json, &docs[0], &opts),
                            whole(Format::Json, &docs[0], &opts)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_failing_consumer_stops_the_read() {
        for (format, src) in [
            (Format::Yaml, "a: 1\nb: 2\nc: 3\n"),
            (Format::Json, "{\"a\":1,\"b\":2,\"c\":3}"),
        ] {
            let mut seen = 0;
            let r = read_root_items(format, src.as_bytes(), &mut |_| {
                seen += 1;
                if seen == 2 {
                    Err(FormatError::Emit("stop".into()))
                } else {
                    Ok(())
                }
            });
            assert_eq!(r, Err(FormatError::Emit("stop".into())));
            assert_eq!(seen, 2);
        }
    }

    /// A generated root item: a comment or an entry with a small value.
    fn gen_item() -> impl Strategy<Value = MapItem> {
        let leaf = prop_oneof![
            "[a-z ]{0,8}".prop_map(Value::Str),
            any::<i64>().prop_map(Value::Int),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ];
        let value = leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(
                    prop_oneof![
                        inner.clone().prop_map(ListItem::Value),
                        "[a-z ]{0,6}".prop_map(|t| ListItem::Comment(Comment::new(t))),
                    ],
                    0..4
                )
                .prop_map(|items| Value::List(List { items })),
                prop::collection::vec(("[a-z]{1,4}", inner), 0..4).prop_map(|kv| {
                    let mut m = Map::new();
                    for (k, v) in kv {
                        m.push(k, v);
                    }
                    Value::Map(m)
                }),
            ]
        });
        prop_oneof![
            1 => "[a-z ]{0,6}".prop_map(|t| MapItem::Comment(Comment::new(t))),
            3 => ("[a-z]{1,5}", value).prop_map(|(k, v)| MapItem::Entry(Entry {
                key: Key::Str(k),
                value: v,
                source: None,
            })),
        ]
    }

    proptest! {
        #[test]
        fn generated_trees_write_the_same_bytes(items in prop::collection::vec(gen_item(), 0..8), indent in 2usize..6) {
            let doc = Map { items };
            let opts = EmitOptions { yaml_indent: indent, ..EmitOptions::default() };
            for format in [Format::Yaml, Format::Json] {
                let streamed_out = written(format, &doc, &opts);
                let whole_out = whole(format, &doc, &opts);
                prop_assert_eq!(streamed_out, whole_out);
            }
        }

        #[test]
        fn generated_yaml_reads_the_same_items(items in prop::collection::vec(gen_item(), 0..8)) {
            let doc = Map { items };
            if let Ok(text) = yaml::emit(std::slice::from_ref(&doc), 4) {
                let whole_docs = load_plain(Format::Yaml, &text);
                let items = streamed(Format::Yaml, &text);
                match whole_docs {
                    Ok(docs) if docs.len() == 1 => {
                        let items = items.expect("streamed parse");
                        prop_assert_eq!(comment_texts(&items), comment_texts(&docs[0].items));
                        prop_assert_eq!(Map { items }, docs[0].clone());
                    }
                    Ok(_) => {}
                    Err(e) => prop_assert_eq!(items.err(), Some(e)),
                }
            }
        }
    }
}
