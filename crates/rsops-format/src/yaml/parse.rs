//! YAML reading: granit-parser events → documents.
//!
//! The tree is built in a single pass over the parser's events with an
//! explicit stack of open collections (no recursion, no re-scanning).
//! Comments are placed the way sops 3.11 places go-yaml v3's head, line and
//! foot comments (checked against the real binary):
//!
//! * own-line comments wait in a pending list and are flushed before the next
//!   key or element of the collection that is open at that moment; when a
//!   block collection closes, pending comments indented deeper than its
//!   parent stay in it (foot comments), the others move outwards;
//! * a comment at the end of a line (`a: 1 # c`) becomes an `inline` comment
//!   item placed before the entry or element of that line — before the
//!   element of the enclosing list when a block collection starts on that
//!   line after `- ` (go-yaml's "stem" comments), and as the first item of a
//!   flow collection that is a map value (`a: [1] # c`).

use std::collections::HashMap;

use granit_parser::{Event, Parser, Placement, ScalarStyle, ScanError, Span, StructureStyle, Tag};

use super::resolve::{resolve_scalar, resolved_into_value, Resolved};
use crate::error::FormatError;
use crate::parallel::Parallelism;
use crate::tree::{Comment, Entry, Key, List, ListItem, Map, MapItem, Source, Value};

/// How many tree nodes alias expansion may add beyond the input size before
/// the document is refused (go-yaml refuses "excessive aliasing" too).
const ALIAS_NODE_BUDGET: usize = 1_000_000;

/// How many bytes (scalar and comment text plus [`NODE_BYTES`] per node)
/// alias expansion may add to a document in all: a few KB of nested
/// aliases of long strings would otherwise need gigabytes before any key
/// or MAC is checked.
const ALIAS_BYTE_BUDGET: usize = 32 << 20;

/// The memory a tree node takes besides its text, roughly (for
/// [`ALIAS_BYTE_BUDGET`]).
const NODE_BYTES: usize = 64;

/// Deepest nesting an alias may produce: chained aliases (`b: &b [*a]`,
/// `c: &c [*b]`, ...) nest one level deeper per line, beyond the parser's
/// own limit, and the tree's walks are recursive.
const ALIAS_MAX_DEPTH: usize = 512;

/// Parses a YAML stream into one map per document.
///
/// Errors: [`FormatError::NoDocument`] for 0 bytes of input; a
/// [`FormatError::Parse`] for invalid UTF-8, syntax errors, an input without
/// any document (only comments or blank lines: sops says `EOF`), documents
/// that are lists or scalars, duplicate keys in the first document, scalars
/// sops cannot process (integers beyond `i64` that fit `u64`) and values that
/// do not match an explicit core tag. Messages give positions and key names,
/// never values.
pub fn parse(input: &[u8]) -> Result<Vec<Map>, FormatError> {
    parse_with(input, true)
}

/// Parses a YAML stream like [`parse`], but records no source spelling of
/// scalars (every [`crate::tree::Source::raw`] is `None`; byte spans are
/// kept). Reading and writing sops files never needs the spellings, and
/// this saves a copy of every value: a fifth of the time and memory of
/// loading a large file.
///
/// A large document is parsed in two halves run through `par` (at the same
/// time when it has several workers) when it can be cut safely between two
/// top-level keys (`split.rs`); the result is the same.
pub fn parse_data(input: &[u8], par: &dyn Parallelism) -> Result<Vec<Map>, FormatError> {
    super::split::parse_split(input, parse_data_single, par)
}

/// [`parse_data`] on the calling thread only.
pub(super) fn parse_data_single(input: &[u8]) -> Result<Vec<Map>, FormatError> {
    if let Some(doc) = super::simple::parse(input) {
        return Ok(vec![doc]);
    }
    parse_with(input, false)
}

/// Inputs up to this size are first tried with the simple block reader by
/// [`parse_root_items`] (which then holds their whole tree at once).
const SIMPLE_ROOT_ITEMS_MAX: usize = 1 << 20;

/// [`parse`] with or without the source spellings of scalars.
fn parse_with(input: &[u8], keep_raw: bool) -> Result<Vec<Map>, FormatError> {
    let src = source_text(input)?;
    let mut builder = Builder::new(src);
    builder.keep_raw = keep_raw;
    for next in Parser::new_from_str_with_options(src, parser_options()) {
        let (event, span) = next.map_err(|e| scan_error(src, &e))?;
        builder.event(event, span)?;
    }
    builder.finish()
}

/// The input as text: refuses empty input and invalid UTF-8.
fn source_text(input: &[u8]) -> Result<&str, FormatError> {
    if input.is_empty() {
        return Err(FormatError::NoDocument);
    }
    std::str::from_utf8(input).map_err(|e| {
        FormatError::parse(
            "yaml",
            format!("invalid UTF-8 at byte offset {}", e.valid_up_to()),
        )
    })
}

/// The parser options: every comment is reported.
fn parser_options() -> granit_parser::Options {
    granit_parser::options! {
        max_buffered_comment_events: usize::MAX,
        // A last line without a line break adds none (`|` + `  a` at the
        // end of the input is `a`), as in go-yaml and YAML 1.2 itself.
        block_scalar_eof_without_line_feed: true,
    }
}

/// Parses a one-document YAML stream like [`parse_data`], but hands the
/// items of the root map to `on_item` (in order) as soon as nothing read
/// later can change them, instead of building the whole tree: at any time
/// only the root item being read and the inner nodes of the open
/// collections are held. The items handed over are exactly those of the
/// document [`parse_data`] returns, and the same errors are detected; an
/// error may come after some items were handed over (the caller must then
/// discard what it did with them).
///
/// A stream of more than one document is refused with a parse error once
/// the second document starts (each document would need its own pass);
/// callers check [`maybe_several_documents`] first. An error of `on_item`
/// stops the parse and is returned as it is.
pub fn parse_root_items<E: From<FormatError>>(
    input: &[u8],
    on_item: &mut dyn FnMut(MapItem) -> Result<(), E>,
) -> Result<(), E> {
    if input.len() <= SIMPLE_ROOT_ITEMS_MAX {
        if let Some(doc) = super::simple::parse(input) {
            return doc.items.into_iter().try_for_each(on_item);
        }
    }
    let src = source_text(input)?;
    let mut builder = Builder::new(src);
    builder.keep_raw = false;
    for next in Parser::new_from_str_with_options(src, parser_options()) {
        let (event, span) = next.map_err(|e| scan_error(src, &e))?;
        builder.event(event, span)?;
        if builder.documents_started > 1 {
            return Err(FormatError::parse(
                "yaml",
                "several documents cannot be read item by item",
            )
            .into());
        }
        if let Some(ready) = builder.ready_root_items() {
            for item in ready {
                on_item(item)?;
            }
        }
    }
    for doc in builder.finish()? {
        for item in doc.items {
            on_item(item)?;
        }
    }
    Ok(())
}

/// Whether a YAML stream may hold more than one document: a line starting
/// with `---` or `...` after the first line that is not blank, a comment or
/// a directive. Cheap and conservative (a marker-like line inside a quoted
/// scalar also answers yes); a stream for which it answers no has at most
/// one document.
pub fn maybe_several_documents(input: &[u8]) -> bool {
    // Up to the first content line, line by line (a `---` line itself is
    // the start of the first document); after it, any marker line counts,
    // found with a substring search.
    let mut start = 0;
    while start < input.len() {
        let end = memchr::memchr(b'\n', input.get(start..).unwrap_or_default())
            .map_or(input.len(), |i| start + i);
        let line = input.get(start..end).unwrap_or_default();
        if line.starts_with(b"...") {
            return true;
        }
        let trimmed = line.trim_ascii_start();
        let ignorable = trimmed.is_empty() || trimmed.starts_with(b"#") || line.starts_with(b"%");
        if !ignorable {
            let rest = input.get(end..).unwrap_or_default();
            return memchr::memmem::find(rest, b"\n---").is_some()
                || memchr::memmem::find(rest, b"\n...").is_some();
        }
        start = end + 1;
    }
    false
}

/// A `FormatError` for a granit scan error of `src`, without any input
/// text. A tab that starts a block scalar's content is reported as go-yaml
/// reports it ([`block_scalar_tab`]).
fn scan_error(src: &str, e: &ScanError) -> FormatError {
    let mark = e.marker();
    if matches!(e.kind(), granit_parser::ErrorKind::TabAtBlockScalarStart) {
        if let Some(line) = tab_at_block_scalar_start(src, mark) {
            return err_at(line, BLOCK_SCALAR_TAB);
        }
    }
    let kind = match e.kind() {
        granit_parser::ErrorKind::UnexpectedCharacter { .. } => "unexpected character".to_owned(),
        other => other.to_string(),
    };
    FormatError::parse(
        "yaml",
        format!("line {} column {}: {kind}", mark.line(), mark.col() + 1),
    )
}

/// go-yaml's message for a tab in a block scalar's indentation.
const BLOCK_SCALAR_TAB: &str = "found a tab character where an indentation space is expected";

/// The line go-yaml reports for granit's "a block scalar content cannot
/// start with a tab" at `mark` (on the block scalar's header line): the
/// header is the last `|` or `>` of that line up to the mark, included.
fn tab_at_block_scalar_start(src: &str, mark: &granit_parser::Marker) -> Option<usize> {
    let at = mark.byte_offset()?.min(src.len());
    let bytes = src.as_bytes();
    let start = line_start(bytes, at)?;
    let header = start
        + bytes
            .get(start..(at + 1).min(src.len()))?
            .iter()
            .rposition(|b| matches!(b, b'|' | b'>'))?;
    block_scalar_tab(src, header, src.len())
}

/// Where the line holding byte `at` starts; `None` past the end.
fn line_start(bytes: &[u8], at: usize) -> Option<usize> {
    Some(memchr::memrchr(b'\n', bytes.get(..at)?).map_or(0, |p| p + 1))
}

/// A parse error at a 1-based line.
fn err_at(line: usize, message: impl std::fmt::Display) -> FormatError {
    FormatError::parse("yaml", format!("line {line}: {message}"))
}

/// Byte range of a span (parser spans from a `&str` always have offsets).
fn byte_range(span: &Span) -> (usize, usize) {
    span.byte_range().map_or((0, 0), |r| (r.start, r.end))
}

/// An own-line comment not yet placed.
struct PendingComment {
    comment: Comment,
    col: usize,
    line: usize,
    /// Index in the current run of comments after the last content.
    run_idx: usize,
}

/// What the last node event was, to place a following end-of-line comment.
#[derive(Clone, Copy, PartialEq)]
enum Last {
    /// Nothing placeable (start of document, collection start...).
    Other,
    /// A map key; its value has not been read yet.
    Key,
    /// A scalar or alias value (map value or list element) just attached.
    Value,
    /// A flow collection just attached as a map value or list element.
    FlowEnd,
}

/// The key of a map entry whose value is being read.
struct OpenKey {
    key: Key,
    start: usize,
}

/// Duplicate-key bookkeeping of one map of the first document (go-yaml
/// checks every mapping it decodes into `map[string]interface{}`).
struct DupMap {
    /// Pre-order number of the map among the first document's maps.
    seq: usize,
    /// The text of every key seen so far, back to back (one buffer instead
    /// of one allocation per key).
    texts: String,
    /// Every key seen so far with a text, in order.
    keys: Vec<DupKey>,
    /// For maps with many keys: key text hash → the latest key (index in
    /// `keys`) with that hash; built once the map has [`DUP_INDEX_MIN`]
    /// keys (below it, a scan is cheaper).
    latest: HashMap<u64, usize>,
    /// Number of keys seen so far.
    count: usize,
}

/// One key of a [`DupMap`].
struct DupKey {
    /// Its text, `texts[start..end]`.
    start: usize,
    end: usize,
    /// Its key index and line.
    index: usize,
    line: usize,
    /// Hash of the text (meaningful once the index is built).
    hash: u64,
    /// The previous key (index in `keys`) with the same hash, if indexed.
    prev_same_hash: Option<usize>,
}

/// Number of keys from which a map's duplicate check uses a hash index.
const DUP_INDEX_MIN: usize = 16;

/// A fast, non-cryptographic hash of a key text (only for the duplicate
/// index: collisions are resolved by comparing texts).
fn key_text_hash(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ (text.len() as u64);
    let mut chunks = text.as_bytes().chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    h ^ (h >> 29)
}

/// The contents of an open collection.
enum Body {
    Map {
        items: Vec<MapItem>,
        key: Option<OpenKey>,
        dup: Option<DupMap>,
    },
    List {
        items: Vec<ListItem>,
    },
}

/// An open collection.
struct Frame {
    body: Body,
    anchor: usize,
    flow: bool,
    /// Column (characters) of the collection's first key or dash.
    col: usize,
    /// Line of its first key or dash.
    line: usize,
    /// A block collection that starts on the line of its parent list's `-`.
    stem: bool,
    /// Tree nodes inside (for the alias budget).
    nodes: usize,
}

impl Frame {
    fn new(body: Body, anchor: usize, flow: bool, span: &Span) -> Self {
        Frame {
            body,
            anchor,
            flow,
            col: span.start.col(),
            line: span.start.line(),
            stem: false,
            nodes: 1,
        }
    }

    /// Appends a comment item.
    fn push_comment(&mut self, comment: Comment) {
        match &mut self.body {
            Body::Map { items, .. } => items.push(MapItem::Comment(comment)),
            Body::List { items } => items.push(ListItem::Comment(comment)),
        }
    }

    /// Inserts a comment item before the last item (the entry or element
    /// just completed).
    fn insert_before_last(&mut self, comment: Comment) {
        match &mut self.body {
            Body::Map { items, .. } => {
                let at = items.len().saturating_sub(1);
                items.insert(at, MapItem::Comment(comment));
            }
            Body::List { items } => {
                let at = items.len().saturating_sub(1);
                items.insert(at, ListItem::Comment(comment));
            }
        }
    }

    fn is_map_awaiting_key(&self) -> bool {
        matches!(&self.body, Body::Map { key: None, .. })
    }
}

/// A value produced by a node event, ready to be attached to its parent.
struct Node {
    value: Value,
    nodes: usize,
    start: usize,
    end: usize,
    raw: Option<String>,
    line: usize,
}

/// A duplicate-key error of the first document, sortable like go-yaml's list.
struct DupError {
    seq: usize,
    i: usize,
    j: usize,
    message: String,
}

/// The event-driven tree builder.
struct Builder<'s> {
    src: &'s str,
    docs: Vec<Map>,
    /// Inside a document (between DocumentStart and DocumentEnd).
    in_doc: bool,
    /// The root map of the current document, once complete.
    root: Option<Map>,
    stack: Vec<Frame>,
    pending: Vec<PendingComment>,
    anchors: HashMap<usize, (Value, usize)>,
    last: Last,
    /// End offset of the last non-comment event (for block scalar headers).
    prev_end: usize,
    alias_nodes: usize,
    /// Bytes added by alias expansion so far (see [`ALIAS_BYTE_BUDGET`]).
    alias_bytes: usize,
    /// Columns of the own-line comments read since the last content event.
    run_cols: Vec<usize>,
    /// Whether the first comment group of that run was placed already.
    run_first_taken: bool,
    /// First-document duplicate tracking: nearest enclosing map of each map.
    map_parents: Vec<Option<usize>>,
    dup_maps: Vec<bool>,
    dup_errors: Vec<DupError>,
    /// Whether scalars record their source spelling (`Source::raw`).
    keep_raw: bool,
    /// How many documents have started.
    documents_started: usize,
    /// An end-of-line comment after the properties (anchor, tag) of a map
    /// value whose node starts on a later line: it goes after the comments
    /// pending before that node (go-yaml: into a collection, above its
    /// first item; for a scalar, above the entry).
    props_comment: Option<Comment>,
    /// Line of the last scalar or alias value attached.
    last_value_line: usize,
}

impl<'s> Builder<'s> {
    fn new(src: &'s str) -> Self {
        Builder {
            src,
            docs: Vec::new(),
            in_doc: false,
            root: None,
            stack: Vec::new(),
            pending: Vec::new(),
            anchors: HashMap::new(),
            last: Last::Other,
            prev_end: 0,
            alias_nodes: 0,
            alias_bytes: 0,
            run_cols: Vec::new(),
            run_first_taken: false,
            map_parents: Vec::new(),
            dup_maps: Vec::new(),
            dup_errors: Vec::new(),
            keep_raw: true,
            documents_started: 0,
            props_comment: None,
            last_value_line: 0,
        }
    }

    /// The items of the open root map that nothing read later can change:
    /// all but the last one (later comments may still be inserted before
    /// the last item, or into its value), once there are at least two.
    fn ready_root_items(&mut self) -> Option<std::vec::Drain<'_, MapItem>> {
        match &mut self.stack.first_mut()?.body {
            Body::Map { items, .. } if items.len() >= 2 => {
                let ready = items.len() - 1;
                Some(items.drain(..ready))
            }
            _ => None,
        }
    }

    fn first_doc(&self) -> bool {
        self.docs.is_empty()
    }

    /// Handles one parser event.
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), FormatError> {
        let is_comment = matches!(event, Event::Comment(..));
        if matches!(
            event,
            Event::Scalar(..)
                | Event::Alias(_)
                | Event::MappingStart(..)
                | Event::SequenceStart(..)
        ) {
            // Content: the next comments start a new run.
            self.run_cols.clear();
            self.run_first_taken = false;
        }
        match event {
            Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart(..) => self.start_document(),
            Event::DocumentEnd => self.end_document()?,
            Event::Comment(text, placement) => self.comment(&text, placement, &span),
            Event::Scalar(text, style, anchor, tag) => {
                self.scalar(&text, style, anchor, tag.as_deref(), &span)?;
            }
            Event::Alias(id) => self.alias(id, &span)?,
            Event::UnresolvedAlias(_) => {
                return Err(err_at(span.start.line(), "unknown anchor"));
            }
            Event::MappingStart(style, anchor, _) => {
                self.start_collection(true, style, anchor, &span)?
            }
            Event::SequenceStart(style, anchor, _) => {
                self.start_collection(false, style, anchor, &span)?;
            }
            Event::MappingEnd | Event::SequenceEnd => self.end_collection(&span)?,
            // Anchor metadata (not requested) and future presentation events.
            _ => {}
        }
        if !is_comment {
            self.prev_end = byte_range(&span).1;
        }
        Ok(())
    }

    fn start_document(&mut self) {
        self.documents_started += 1;
        self.in_doc = true;
        self.root = None;
        self.stack.clear();
        self.anchors.clear();
        self.last = Last::Other;
    }

    fn end_document(&mut self) -> Result<(), FormatError> {
        let mut root = self.root.take().unwrap_or_default();
        for p in self.pending.drain(..) {
            root.items.push(MapItem::Comment(p.comment));
        }
        if self.first_doc() {
            self.check_duplicates()?;
        }
        self.docs.push(root);
        self.in_doc = false;
        self.last = Last::Other;
        Ok(())
    }

    /// Fails with go-yaml's list of duplicate keys of the first document,
    /// skipping maps inside a map that has duplicates (go-yaml stops there).
    fn check_duplicates(&mut self) -> Result<(), FormatError> {
        if self.dup_errors.is_empty() {
            return Ok(());
        }
        let has_dup_ancestor = |mut seq: usize| {
            while let Some(Some(parent)) = self.map_parents.get(seq) {
                if self.dup_maps.get(*parent).copied().unwrap_or(false) {
                    return true;
                }
                seq = *parent;
            }
            false
        };
        let mut errors: Vec<&DupError> = self
            .dup_errors
            .iter()
            .filter(|e| !has_dup_ancestor(e.seq))
            .collect();
        errors.sort_by_key(|e| (e.seq, e.i, e.j));
        let mut message = String::from("unmarshal errors:");
        for e in errors {
            message.push_str("\n  ");
            message.push_str(&e.message);
        }
        Err(FormatError::parse("yaml", message))
    }

    fn finish(mut self) -> Result<Vec<Map>, FormatError> {
        if self.docs.is_empty() {
            return Err(FormatError::parse("yaml", "EOF"));
        }
        if let Some(last) = self.docs.last_mut() {
            for p in self.pending.drain(..) {
                last.items.push(MapItem::Comment(p.comment));
            }
        }
        Ok(self.docs)
    }

    // ----- comments -------------------------------------------------------

    fn comment(&mut self, text: &str, placement: Placement, span: &Span) {
        let (start, end) = byte_range(span);
        if self.on_directive_line(start) {
            // go-yaml drops a comment on a `%YAML` / `%TAG` line.
            return;
        }
        let comment = Comment {
            text: text.to_owned(),
            inline: placement == Placement::Right,
            source: Some(Source {
                start,
                end,
                raw: None,
                blank_before: 0,
            }),
        };
        if placement == Placement::Right && !self.stack.is_empty() {
            self.line_comment(comment, span.start.line());
        } else {
            let col = span.start.col();
            self.pending.push(PendingComment {
                comment,
                col,
                line: span.start.line(),
                run_idx: self.run_cols.len(),
            });
            self.run_cols.push(col);
        }
    }

    /// Whether the line holding byte `at` is a directive (`%...`).
    fn on_directive_line(&self, at: usize) -> bool {
        let Some(before) = self.src.get(..at) else {
            return false;
        };
        let line_start = before.rfind('\n').map_or(0, |p| p + 1);
        before.get(line_start..).is_some_and(|l| l.starts_with('%'))
    }

    /// Whether an end-of-line comment at `at` follows node properties
    /// (`a: &x # c`, `a: !!map # c`) written after the last key.
    fn after_properties(&self, at: usize) -> bool {
        self.src
            .get(self.prev_end.min(at)..at)
            .is_some_and(|between| !between.contains('\n') && between.contains(['&', '!']))
    }

    /// Places an end-of-line comment before the item of its line.
    fn line_comment(&mut self, comment: Comment, line: usize) {
        let depth = self.stack.len();
        let at = comment.source.as_ref().map_or(0, |s| s.start);
        if self.last == Last::Key && self.after_properties(at) {
            self.props_comment = Some(Comment {
                inline: false,
                ..comment
            });
            return;
        }
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        if top.flow && self.last == Last::Other {
            let empty = match &top.body {
                Body::Map { items, key, .. } => items.is_empty() && key.is_none(),
                Body::List { items } => items.is_empty(),
            };
            if empty {
                // go-yaml drops a comment right after `[` or `{`.
                return;
            }
        }
        if self.last == Last::FlowEnd && line <= self.last_value_line {
            let comment = Comment {
                inline: false,
                ..comment
            };
            Self::flow_line_comment(top, comment);
            return;
        }
        let stem = top.stem && top.line == line && depth >= 2;
        // A comment on a later line than the last value (`- # c` before a
        // nested collection) is not that value's.
        let completed = self.last == Last::Value && line <= self.last_value_line;
        if stem {
            // go-yaml moves it to the element of the enclosing list.
            if let Some(parent) = self.stack.get_mut(depth - 2) {
                parent.push_comment(Comment {
                    inline: false,
                    ..comment
                });
            }
        } else if completed {
            top.insert_before_last(comment);
        } else {
            // After a key whose value starts on a later line.
            top.push_comment(Comment {
                inline: false,
                ..comment
            });
        }
    }

    /// `a: [1] # c` → first item of the flow collection; `- [1] # c` →
    /// before the element.
    fn flow_line_comment(top: &mut Frame, comment: Comment) {
        match &mut top.body {
            Body::Map { items, .. } => {
                if let Some(MapItem::Entry(entry)) = items.last_mut() {
                    match &mut entry.value {
                        Value::Map(m) => m.items.insert(0, MapItem::Comment(comment)),
                        Value::List(l) => l.items.insert(0, ListItem::Comment(comment)),
                        _ => items.push(MapItem::Comment(comment)),
                    }
                } else {
                    items.push(MapItem::Comment(comment));
                }
            }
            Body::List { .. } => top.insert_before_last(comment),
        }
    }

    /// Appends a comment read after node properties to the open collection.
    fn place_props_comment_in_top(&mut self) {
        if let Some(c) = self.props_comment.take() {
            if let Some(top) = self.stack.last_mut() {
                top.push_comment(c);
            }
        }
    }

    /// Moves every pending comment into the open collection.
    fn flush_pending_into_top(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        if let Some(top) = self.stack.last_mut() {
            for p in self.pending.drain(..) {
                top.push_comment(p.comment);
            }
        }
    }

    // ----- nodes ----------------------------------------------------------

    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        span: &Span,
    ) -> Result<(), FormatError> {
        let line = span.start.line();
        if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
            let (start, end) = byte_range(span);
            let header = self.block_header_start(start);
            if let Some(bad) = block_scalar_tab(self.src, header, end) {
                return Err(err_at(bad, BLOCK_SCALAR_TAB));
            }
        }
        let value = self.scalar_value(text, style, tag, line)?;
        if anchor != 0 {
            self.anchors.insert(anchor, (value.clone(), 1));
        }
        let (start, end) = byte_range(span);
        let raw = self.scalar_raw(style, start, end);
        let node = Node {
            value,
            nodes: 1,
            start,
            end,
            raw,
            line,
        };
        if self.stack.last().is_some_and(Frame::is_map_awaiting_key) {
            return self.open_key(node, Some(text));
        }
        self.flush_pending_into_top();
        self.place_props_comment_in_top();
        self.last_value_line = span.end.line();
        self.attach(node)?;
        self.last = Last::Value;
        Ok(())
    }

    fn alias(&mut self, id: usize, span: &Span) -> Result<(), FormatError> {
        let line = span.start.line();
        let Some((value, nodes)) = self.anchors.get(&id) else {
            return Err(err_at(
                line,
                "alias of an anchor whose node is not complete",
            ));
        };
        let nodes = *nodes;
        self.alias_nodes = self.alias_nodes.saturating_add(nodes);
        if self.alias_nodes > ALIAS_NODE_BUDGET.saturating_add(self.src.len()) {
            return Err(err_at(line, "document contains excessive aliasing"));
        }
        let room = ALIAS_BYTE_BUDGET.saturating_sub(self.alias_bytes);
        match expanded_bytes(value, room) {
            Some((_, depth)) if depth.saturating_add(self.stack.len()) > ALIAS_MAX_DEPTH => {
                return Err(err_at(
                    line,
                    "document contains excessive aliasing (nested more than 512 levels deep)",
                ))
            }
            Some((bytes, _)) => self.alias_bytes += bytes,
            None => {
                return Err(err_at(
                    line,
                    "document contains excessive aliasing (its aliases expand to more than 32 MiB)",
                ))
            }
        }
        let (start, end) = byte_range(span);
        let node = Node {
            value: value.clone(),
            nodes,
            start,
            end,
            raw: None,
            line,
        };
        if self.stack.last().is_some_and(Frame::is_map_awaiting_key) {
            return self.open_key(node, None);
        }
        self.flush_pending_into_top();
        self.place_props_comment_in_top();
        self.last_value_line = span.end.line();
        self.attach(node)?;
        self.last = Last::Value;
        Ok(())
    }

    /// The source text of a scalar, quotes included; block scalars from
    /// their `|`/`>` header.
    fn scalar_raw(&self, style: ScalarStyle, start: usize, end: usize) -> Option<String> {
        if !self.keep_raw {
            return None;
        }
        let begin = match style {
            ScalarStyle::Literal | ScalarStyle::Folded => self.block_header_start(start),
            _ => start,
        };
        self.src.get(begin..end).map(str::to_owned)
    }

    /// Finds the `|` or `>` header between the previous event and the block
    /// scalar content at `content_start`, skipping tags and anchors.
    fn block_header_start(&self, content_start: usize) -> usize {
        let from = self.prev_end.min(content_start);
        let Some(region) = self.src.get(from..content_start) else {
            return content_start;
        };
        let mut offset = 0;
        for word in region.split_inclusive(|c: char| c.is_whitespace()) {
            let trimmed = word.trim_start_matches([':', '-', '?']);
            if trimmed.starts_with(['|', '>']) {
                return from + offset + (word.len() - trimmed.len());
            }
            if trimmed.starts_with('#') {
                break;
            }
            offset += word.len();
        }
        content_start
    }

    /// Types a scalar as go-yaml's decoder does into `interface{}`.
    fn scalar_value(
        &self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        line: usize,
    ) -> Result<Value, FormatError> {
        let quoted = style != ScalarStyle::Plain;
        let tag_kind = tag.map_or(TagKind::None, classify_tag);
        let resolved = match tag_kind {
            TagKind::None if quoted => return Ok(Value::Str(text.to_owned())),
            TagKind::None => resolve_scalar(text, true),
            TagKind::Str | TagKind::Other => return Ok(Value::Str(text.to_owned())),
            TagKind::Binary => {
                return decode_binary(text)
                    .ok_or_else(|| err_at(line, "!!binary value contains invalid base64 data"))
            }
            TagKind::Core(name) => self.resolve_tagged(text, name, line)?,
        };
        resolved_into_value(resolved, text).ok_or_else(|| self.unprocessable(line))
    }

    /// go-yaml `resolve(tag, text)` for an explicit `!!bool`, `!!int`,
    /// `!!float`, `!!null` or `!!timestamp`.
    fn resolve_tagged(
        &self,
        text: &str,
        name: &'static str,
        line: usize,
    ) -> Result<Resolved, FormatError> {
        let resolved = resolve_scalar(text, name == "timestamp");
        let ok = matches!(
            (&resolved, name),
            (Resolved::Null, "null")
                | (Resolved::Bool(_), "bool")
                | (Resolved::Int(_) | Resolved::Uint(_), "int")
                | (Resolved::Float(_), "float")
                | (Resolved::Time(_) | Resolved::BadTime, "timestamp")
        );
        if ok {
            return Ok(resolved);
        }
        if let (Resolved::Int(i), "float") = (&resolved, name) {
            #[allow(clippy::cast_precision_loss)]
            return Ok(Resolved::Float(*i as f64));
        }
        Err(err_at(
            line,
            format!("cannot decode {} as a !!{name}", resolved.tag_name()),
        ))
    }

    /// The error for a scalar sops reads but cannot walk, with its key path.
    fn unprocessable(&self, line: usize) -> FormatError {
        err_at(
            line,
            format!(
                "value at {} cannot be processed (an integer beyond 64-bit signed range, or a \
                 timestamp with a zone offset of 24 hours or more); sops fails with \
                 `Cannot walk value, unknown type: uint64`",
                self.key_path()
            ),
        )
    }

    /// The path of keys and list indexes to the node being read (for
    /// messages; keys are not secret).
    fn key_path(&self) -> String {
        let mut path = String::new();
        for frame in &self.stack {
            match &frame.body {
                Body::Map { key: Some(k), .. } => {
                    path.push('/');
                    match &k.key {
                        Key::Str(s) => path.push_str(s),
                        Key::Other(v) => path.push_str(&format!("<{} key>", v.type_name())),
                    }
                }
                Body::Map { key: None, .. } => path.push_str("/<key>"),
                Body::List { items } => {
                    let index = items
                        .iter()
                        .filter(|i| matches!(i, ListItem::Value(_)))
                        .count();
                    path.push_str(&format!("[{index}]"));
                }
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        path
    }

    /// A scalar or alias read where a map expects a key.
    fn open_key(&mut self, node: Node, dup_text: Option<&str>) -> Result<(), FormatError> {
        let key = match node.value {
            Value::Str(s) => Key::Str(s),
            Value::Map(_) | Value::List(_) => {
                return Err(err_at(node.line, "complex mapping keys are not supported"));
            }
            other => Key::Other(Box::new(other)),
        };
        self.flush_pending_into_top();
        let Some(top) = self.stack.last_mut() else {
            return Ok(());
        };
        top.nodes = top.nodes.saturating_add(node.nodes);
        if let Body::Map { key: open, dup, .. } = &mut top.body {
            if let (Some(dup), Some(text)) = (dup.as_mut(), dup_text) {
                record_key(
                    dup,
                    text,
                    node.line,
                    &mut self.dup_errors,
                    &mut self.dup_maps,
                );
            } else if let Some(dup) = dup.as_mut() {
                dup.count += 1;
            }
            *open = Some(OpenKey {
                key,
                start: node.start,
            });
        }
        self.last = Last::Key;
        Ok(())
    }

    /// Adds a complete value to the open collection (or makes it the root).
    fn attach(&mut self, node: Node) -> Result<(), FormatError> {
        let first_doc = self.first_doc();
        let Some(top) = self.stack.last_mut() else {
            return self.set_root(node.value, node.line, first_doc);
        };
        top.nodes = top.nodes.saturating_add(node.nodes);
        match &mut top.body {
            Body::Map { items, key, .. } => {
                let Some(open) = key.take() else {
                    return Err(err_at(node.line, "complex mapping keys are not supported"));
                };
                items.push(MapItem::Entry(Entry {
                    key: open.key,
                    value: node.value,
                    source: Some(Source {
                        start: open.start,
                        end: node.end,
                        raw: node.raw,
                        blank_before: 0,
                    }),
                }));
            }
            Body::List { items } => items.push(ListItem::Value(node.value)),
        }
        Ok(())
    }

    /// A document's top-level value: maps become the document, null an
    /// empty document, anything else is refused like sops does.
    fn set_root(&mut self, value: Value, line: usize, first_doc: bool) -> Result<(), FormatError> {
        match value {
            Value::Map(m) => self.root = Some(m),
            Value::Null => self.root = Some(Map::new()),
            Value::List(_) if first_doc => {
                return Err(FormatError::parse(
                    "yaml",
                    format!(
                        "unmarshal errors:\n  line {line}: cannot unmarshal !!seq into \
                         map[string]interface {{}}"
                    ),
                ))
            }
            Value::List(_) => {
                return Err(FormatError::parse(
                    "yaml",
                    "YAML documents that are sequences are not supported",
                ))
            }
            other if first_doc => {
                return Err(FormatError::parse(
                    "yaml",
                    format!(
                        "unmarshal errors:\n  line {line}: cannot unmarshal !!{} into \
                         map[string]interface {{}}",
                        other.type_name()
                    ),
                ))
            }
            _ => {
                return Err(FormatError::parse(
                    "yaml",
                    "YAML documents that are values are not supported",
                ))
            }
        }
        Ok(())
    }

    fn start_collection(
        &mut self,
        is_map: bool,
        style: StructureStyle,
        anchor: usize,
        span: &Span,
    ) -> Result<(), FormatError> {
        let line = span.start.line();
        if self.stack.last().is_some_and(Frame::is_map_awaiting_key) {
            return Err(err_at(line, "complex mapping keys are not supported"));
        }
        if !self.in_doc {
            self.start_document();
        }
        let flow = style == StructureStyle::Flow;
        let parent_is_list = matches!(self.stack.last().map(|f| &f.body), Some(Body::List { .. }));
        let parent_is_block = self.stack.last().is_some_and(|f| !f.flow);
        if parent_is_list {
            // Comments above a list element belong to the list.
            self.flush_pending_into_top();
        }
        let body = if is_map {
            Body::Map {
                items: Vec::new(),
                key: None,
                dup: self.new_dup_map(),
            }
        } else {
            Body::List { items: Vec::new() }
        };
        let mut frame = Frame::new(body, anchor, flow, span);
        frame.stem = !flow && parent_is_list && parent_is_block && self.after_dash(span);
        // Comments between a key (or the document start) and a collection
        // are the collection's first items.
        for p in self.pending.drain(..) {
            frame.push_comment(p.comment);
        }
        if let Some(c) = self.props_comment.take() {
            frame.push_comment(c);
        }
        self.stack.push(frame);
        self.last = Last::Other;
        Ok(())
    }

    /// Whether the text before `span` on its line ends with `-` (the
    /// collection starts on its parent element's dash line).
    fn after_dash(&self, span: &Span) -> bool {
        let (start, _) = byte_range(span);
        let Some(before) = self.src.get(..start) else {
            return false;
        };
        let line_start = before.rfind('\n').map_or(0, |p| p + 1);
        before
            .get(line_start..)
            .is_some_and(|l| l.trim_end().ends_with('-'))
    }

    /// Duplicate tracking for a new map of the first document.
    fn new_dup_map(&mut self) -> Option<DupMap> {
        if !self.first_doc() {
            return None;
        }
        let seq = self.map_parents.len();
        let parent = self.stack.iter().rev().find_map(|f| match &f.body {
            Body::Map { dup: Some(d), .. } => Some(d.seq),
            _ => None,
        });
        self.map_parents.push(parent);
        self.dup_maps.push(false);
        Some(DupMap {
            seq,
            texts: String::new(),
            keys: Vec::new(),
            latest: HashMap::new(),
            count: 0,
        })
    }

    fn end_collection(&mut self, span: &Span) -> Result<(), FormatError> {
        let Some(mut frame) = self.stack.pop() else {
            return Ok(());
        };
        let after = self.place_foot_comments(&mut frame, span);
        let (_, end) = byte_range(span);
        let value = match frame.body {
            Body::Map { items, .. } => Value::Map(Map { items }),
            Body::List { items } => Value::List(List { items }),
        };
        if frame.anchor != 0 {
            self.anchors
                .insert(frame.anchor, (value.clone(), frame.nodes));
        }
        let node = Node {
            value,
            nodes: frame.nodes,
            start: end,
            end,
            raw: None,
            line: frame.line,
        };
        self.attach(node)?;
        if let Some(parent) = self.stack.last_mut() {
            for comment in after {
                parent.push_comment(comment);
            }
        }
        self.last = if frame.flow {
            self.last_value_line = span.end.line();
            Last::FlowEnd
        } else {
            Last::Other
        };
        Ok(())
    }

    /// Decides which pending comments are foot comments of the closing
    /// collection, following go-yaml v3's attachment of the comments after
    /// the last content of a block:
    ///
    /// * comments are grouped by column (a blank line also splits);
    /// * a last group at the column of the next token is its head comment
    ///   and stays pending;
    /// * the first group of the run is a foot of the innermost node: it
    ///   stays in the closing collection;
    /// * a later group belongs to this collection unless an earlier comment
    ///   of the run sits at the collection's own column (go-yaml ends the
    ///   block there); a list's foot comment goes right after the list in its
    ///   parent (go-yaml moves it to the list's key or item).
    ///
    /// Keeps those in `frame`, leaves the rest pending and returns the ones
    /// to append to the parent after the frame's value.
    fn place_foot_comments(&mut self, frame: &mut Frame, end_span: &Span) -> Vec<Comment> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        if frame.flow || self.stack.is_empty() {
            let empty_flow = frame.flow
                && match &frame.body {
                    Body::Map { items, .. } => {
                        !items.iter().any(|i| matches!(i, MapItem::Entry(_)))
                    }
                    Body::List { items } => !items.iter().any(|i| matches!(i, ListItem::Value(_))),
                };
            for p in self.pending.drain(..) {
                // go-yaml loses the comments inside an empty `{}` / `[]`.
                if !empty_flow {
                    frame.push_comment(p.comment);
                }
            }
            return Vec::new();
        }
        let pending = std::mem::take(&mut self.pending);
        let groups = group_comments(&pending);
        // At the end of an input without a final line break the end event
        // sits on the last comment's line; the next token would start a
        // line, at column 0.
        let at_eof = byte_range(end_span).0 >= self.src.len();
        let next_col = if at_eof { 0 } else { end_span.start.col() };
        let head_from = match groups.last() {
            Some(&(start, _)) if pending.get(start).is_some_and(|p| p.col == next_col) => start,
            _ => pending.len(),
        };
        let own_col_at = self.run_cols.iter().position(|c| *c == frame.col);
        let is_list = matches!(frame.body, Body::List { .. });
        let mut after = Vec::new();
        let mut remain_from = head_from;
        for &(start, end) in &groups {
            if start >= head_from {
                break;
            }
            let run_first = !self.run_first_taken;
            let inside = if run_first {
                self.run_first_taken = true;
                true
            } else {
                let run_idx = pending.get(start).map_or(0, |p| p.run_idx);
                own_col_at.is_none_or(|e| e >= run_idx)
            };
            if !inside {
                remain_from = start;
                break;
            }
            for p in pending.get(start..end).unwrap_or_default() {
                if is_list && !run_first {
                    after.push(p.comment.clone());
                } else {
                    frame.push_comment(p.comment.clone());
                }
            }
        }
        self.pending = pending.into_iter().skip(remain_from).collect();
        after
    }
}

/// Splits comments into `(start, end)` index ranges of consecutive lines at
/// the same column.
fn group_comments(pending: &[PendingComment]) -> Vec<(usize, usize)> {
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for (i, p) in pending.iter().enumerate() {
        let continues = i > 0
            && pending
                .get(i - 1)
                .is_some_and(|q| q.col == p.col && p.line == q.line + 1);
        match groups.last_mut() {
            Some(g) if continues => g.1 = i + 1,
            _ => groups.push((i, i + 1)),
        }
    }
    groups
}

/// Records key number `count` of a first-document map, noting go-yaml's
/// `mapping key "k" already defined at line N` errors.
fn record_key(
    dup: &mut DupMap,
    text: &str,
    line: usize,
    errors: &mut Vec<DupError>,
    dup_maps: &mut [bool],
) {
    let j = dup.count;
    dup.count += 1;
    if dup.keys.len() >= DUP_INDEX_MIN && dup.latest.is_empty() {
        index_keys(dup);
    }
    let seq = dup.seq;
    let mut report = |i: usize, earlier_line: usize| {
        errors.push(DupError {
            seq,
            i,
            j,
            message: format!(
                "line {line}: mapping key {} already defined at line {earlier_line}",
                go_quote(text)
            ),
        });
        if let Some(flag) = dup_maps.get_mut(seq) {
            *flag = true;
        }
    };
    let same = |k: &DupKey| dup.texts.get(k.start..k.end) == Some(text);
    if dup.keys.len() < DUP_INDEX_MIN {
        for k in dup.keys.iter().filter(|k| same(k)) {
            report(k.index, k.line);
        }
    } else {
        let mut at = dup.latest.get(&key_text_hash(text)).copied();
        while let Some(n) = at {
            let Some(k) = dup.keys.get(n) else { break };
            if same(k) {
                report(k.index, k.line);
            }
            at = k.prev_same_hash;
        }
    }
    let start = dup.texts.len();
    dup.texts.push_str(text);
    let mut key = DupKey {
        start,
        end: dup.texts.len(),
        index: j,
        line,
        hash: 0,
        prev_same_hash: None,
    };
    if !dup.latest.is_empty() {
        key.hash = key_text_hash(text);
        key.prev_same_hash = dup.latest.insert(key.hash, dup.keys.len());
    }
    dup.keys.push(key);
}

/// Builds the hash index of a map's keys (in order, so each chain runs
/// from the latest key back to the earliest).
fn index_keys(dup: &mut DupMap) {
    for (n, k) in dup.keys.iter_mut().enumerate() {
        k.hash = dup.texts.get(k.start..k.end).map_or(0, key_text_hash);
        k.prev_same_hash = dup.latest.insert(k.hash, n);
    }
}

/// Go's `%#v` of a string: double-quoted with Go escapes.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// How an explicit tag affects a scalar.
#[derive(Clone, Copy)]
enum TagKind {
    /// No tag, or the non-specific `!`.
    None,
    /// `!!str`.
    Str,
    /// `!!binary`.
    Binary,
    /// `!!bool`, `!!int`, `!!float`, `!!null`, `!!timestamp`.
    Core(&'static str),
    /// Any other tag: the scalar text is kept as a string.
    Other,
}

fn classify_tag(tag: &Tag) -> TagKind {
    if tag.handle().is_empty() && tag.suffix() == "!" {
        return TagKind::None;
    }
    let Some(name) = tag.suffix_in_namespace("tag:yaml.org,2002:") else {
        return TagKind::Other;
    };
    match name.as_ref() {
        "str" => TagKind::Str,
        "binary" => TagKind::Binary,
        "bool" => TagKind::Core("bool"),
        "int" => TagKind::Core("int"),
        "float" => TagKind::Core("float"),
        "null" => TagKind::Core("null"),
        "timestamp" => TagKind::Core("timestamp"),
        _ => TagKind::Other,
    }
}

/// go-yaml's (libyaml's) check of the indentation of a block scalar whose
/// header starts at `header` and whose content ends at `end`: a tab met
/// while the indentation is not known yet, or before the indentation on a
/// later line (the line ending the scalar included), is an error there
/// ("found a tab character where an indentation space is expected"),
/// although YAML 1.2 reads `|` + ` \t` as the text `\t`. Returns the
/// 1-based line go-yaml v3 reports: that of the header (the error's
/// context mark), or, for a header on the first line (a context mark at
/// line 0, which go-yaml skips), that of the offending tab.
fn block_scalar_tab(src: &str, header: usize, end: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    let header_line_start = line_start(bytes, header)?;
    // Lines after the header's; the header's own line number is counted
    // only for an error (counting it for every block scalar would make a
    // stream of many documents quadratic).
    let mut line = 0;
    // An explicit indentation indicator: relative to the header line.
    let explicit = bytes
        .get(header + 1..)?
        .iter()
        .take(2)
        .find(|b| b.is_ascii_digit())
        .map(|d| usize::from(d - b'0'));
    let parent = bytes
        .get(header_line_start..header)?
        .iter()
        .take_while(|b| **b == b' ')
        .count();
    let mut indent = explicit.map_or(0, |d| parent + d);
    let mut pos = header + memchr::memchr(b'\n', bytes.get(header..)?)? + 1;
    let mut max_indent = 0;
    loop {
        line += 1;
        let rest = bytes.get(pos..)?;
        let mut col = 0;
        while (indent == 0 || col < indent) && rest.get(col) == Some(&b' ') {
            col += 1;
        }
        max_indent = max_indent.max(col);
        let next = rest.get(col).copied();
        if next == Some(b'\t') && (indent == 0 || col < indent) {
            let header_line = memchr::memchr_iter(b'\n', bytes.get(..header)?).count() + 1;
            return Some(if header_line > 1 {
                header_line
            } else {
                header_line + line
            });
        }
        let empty = matches!(next, Some(b'\n' | b'\r'));
        if !empty && next.is_some() && indent == 0 {
            indent = max_indent.max(1);
        }
        if pos > end || next.is_none() || (!empty && col < indent) {
            return None;
        }
        pos += memchr::memchr(b'\n', rest)? + 1;
    }
}

/// Go `base64.StdEncoding.DecodeString` (line breaks ignored, padding
/// required, non-zero trailing bits accepted) → string value.
fn decode_binary(text: &str) -> Option<Value> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine as _;
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    let compact: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    ENGINE.decode(compact).ok().map(Value::from_bytes)
}

/// The bytes `value` takes (text plus [`NODE_BYTES`] per node) and its
/// depth, or `None` as soon as the bytes exceed `limit` (so the walk costs
/// at most `limit`).
fn expanded_bytes(value: &Value, limit: usize) -> Option<(usize, usize)> {
    let mut total = 0usize;
    let mut depth = 0usize;
    let mut add = |n: usize| {
        total = total.saturating_add(n).saturating_add(NODE_BYTES);
        (total <= limit).then_some(())
    };
    let mut stack = vec![(value, 1usize)];
    while let Some((v, level)) = stack.pop() {
        depth = depth.max(level);
        let below = level + 1;
        match v {
            Value::Map(m) => {
                add(0)?;
                for item in &m.items {
                    match item {
                        MapItem::Entry(e) => {
                            match &e.key {
                                Key::Str(k) => add(k.len())?,
                                Key::Other(k) => stack.push((k, below)),
                            }
                            stack.push((&e.value, below));
                        }
                        MapItem::Comment(c) => add(c.text.len())?,
                    }
                }
            }
            Value::List(l) => {
                add(0)?;
                for item in &l.items {
                    match item {
                        ListItem::Value(v) => stack.push((v, below)),
                        ListItem::Comment(c) => add(c.text.len())?,
                    }
                }
            }
            Value::Str(t) | Value::Time(t) => add(t.len())?,
            Value::Bytes(b) => add(b.len())?,
            Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Null => add(0)?,
        }
    }
    Some((total, depth))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(src: &str) -> Map {
        let docs = parse(src.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(docs.len(), 1);
        docs.into_iter().next().unwrap_or_default()
    }

    fn err(src: &str) -> String {
        match parse(src.as_bytes()) {
            Ok(docs) => panic!("expected an error, got {docs:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_tab_in_a_block_scalar_is_reported_at_a_line_counted_from_the_start() {
        // The same document after two more lines: the error moves down by
        // two lines.
        let doc = "a: 1\nc: |\n  x\n\ty\n";
        let line = |e: &str| -> usize {
            let rest = e.split("line ").nth(1).unwrap_or_else(|| panic!("{e}"));
            rest.split(':')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{e}"))
        };
        let alone = err(doc);
        assert!(
            alone.contains("found a tab character where an indentation space is expected"),
            "{alone}"
        );
        let later = err(&format!("k: v\n---\n{doc}"));
        assert_eq!(line(&later), line(&alone) + 2);
        // The lines sops 3.11 reports: the header's, or the tab's when the
        // header is on the first line.
        assert_eq!(line(&alone), 2);
        assert_eq!(line(&err("a: 1\nc: |\n\n  x\n\n\ty\n")), 2);
        assert_eq!(line(&err("c: |\n  x\n\ty\n")), 3);
        assert_eq!(line(&err("c: |\n\n  x\n\n\ty\n")), 5);
        // Many documents with block scalars and no tab read as usual.
        let stream = "k: |\n  v\n---\n".repeat(50);
        assert_eq!(parse(stream.as_bytes()).map(|d| d.len()).ok(), Some(51));
    }

    /// A compact rendering of items: `k=v`, `#text`, `[..]`, `{..}`.
    fn show_map(m: &Map) -> String {
        let parts: Vec<String> = m
            .items
            .iter()
            .map(|i| match i {
                MapItem::Entry(e) => format!("{}={}", show_key(&e.key), show(&e.value)),
                MapItem::Comment(c) => format!("#{}", c.text.trim()),
            })
            .collect();
        format!("{{{}}}", parts.join(","))
    }

    fn show_key(k: &Key) -> String {
        match k {
            Key::Str(s) => s.clone(),
            Key::Other(v) => format!("<{}>", show(v)),
        }
    }

    fn show(v: &Value) -> String {
        match v {
            Value::Map(m) => show_map(m),
            Value::List(l) => {
                let parts: Vec<String> = l
                    .items
                    .iter()
                    .map(|i| match i {
                        ListItem::Value(v) => show(v),
                        ListItem::Comment(c) => format!("#{}", c.text.trim()),
                    })
                    .collect();
                format!("[{}]", parts.join(","))
            }
            Value::Str(s) => s.clone(),
            Value::Bytes(b) => format!("{b:?}"),
            Value::Int(i) => format!("i{i}"),
            Value::Float(f) => format!("f{f}"),
            Value::Bool(b) => format!("b{b}"),
            Value::Time(t) => format!("t{t}"),
            Value::Null => "null".into(),
        }
    }

    #[test]
    fn structure_and_scalar_types() {
        let m = one(
            "a: 1\nb: x\nc:\n  d: [1, 2.5]\n  e:\n  - true\n  - ~\nf: \"007\"\ng: 2024-01-02\n",
        );
        assert_eq!(
            show_map(&m),
            "{a=i1,b=x,c={d=[i1,f2.5],e=[btrue,null]},f=007,g=t2024-01-02T00:00:00Z}"
        );
    }

    #[test]
    fn block_scalars_are_strings() {
        let m = one("a: |\n  line1\n  line2\nb: >-\n  folded\n  text\nc: |+\n  keep\n\n");
        assert_eq!(m.get("a"), Some(&Value::Str("line1\nline2\n".into())));
        assert_eq!(m.get("b"), Some(&Value::Str("folded text".into())));
        assert_eq!(m.get("c"), Some(&Value::Str("keep\n\n".into())));
    }

    #[test]
    fn parse_data_is_parse_without_spellings() {
        let src = "# c\nkey: 'quoted'\nother: |\n  block\nn: 0x1F\nl:\n- a # x\n---\nd: 2\n";
        let full = parse(src.as_bytes()).unwrap();
        let lean = parse_data(src.as_bytes(), &crate::parallel::Sequential).unwrap();
        assert_eq!(full, lean);
        for doc in &lean {
            for e in doc.entries() {
                let s = e.source.as_ref().unwrap();
                assert!(s.raw.is_none());
                assert!(s.end > s.start);
            }
        }
    }

    #[test]
    fn sources_are_filled() {
        let src = "key: 'quoted'\nother: |\n  block\n";
        let m = one(src);
        let entries: Vec<&Entry> = m.entries().collect();
        let s0 = entries[0].source.as_ref().unwrap();
        assert_eq!((s0.start, s0.end), (0, 13));
        assert_eq!(s0.raw.as_deref(), Some("'quoted'"));
        let s1 = entries[1].source.as_ref().unwrap();
        assert_eq!(s1.raw.as_deref(), Some("|\n  block\n"));
    }

    #[test]
    fn non_string_keys() {
        let m = one("1: a\ntrue: b\nnull: c\n\"2\": d\n2.5: e\n");
        let keys: Vec<String> = m.entries().map(|e| show_key(&e.key)).collect();
        assert_eq!(keys, ["<i1>", "<btrue>", "<null>", "2", "<f2.5>"]);
    }

    #[test]
    fn comments_placement_sops_3_11() {
        let src = "# head 1\n# head 2\n\n# head 3\nfirst: 1 # line\nsecond:\n  # inside\n  nested: v\n  items:\n    # first item\n    - one # on one\n    - two\n    # between\n    - three\nthird: \"x\" # quoted\n# before last\nlast: end\n# final\n";
        assert_eq!(
            show_map(&one(src)),
            "{#head 1,#head 2,#head 3,#line,first=i1,second={#inside,nested=v,items=[#first item,#on one,one,two,#between,three]},#quoted,third=x,#before last,last=end,#final}"
        );
    }

    #[test]
    fn comment_text_and_inline_flag() {
        let m = one("#ENC[x]\na: 1 # c\n");
        let comments: Vec<&Comment> = m
            .items
            .iter()
            .filter_map(|i| match i {
                MapItem::Comment(c) => Some(c),
                MapItem::Entry(_) => None,
            })
            .collect();
        assert_eq!(comments[0].text, "ENC[x]");
        assert!(!comments[0].inline);
        assert_eq!(comments[1].text, " c");
        assert!(comments[1].inline);
        let s = comments[1].source.as_ref().unwrap();
        assert_eq!((s.start, s.end), (13, 16));
    }

    #[test]
    fn stem_and_flow_line_comments() {
        let src = "l:\n  - f: 1 # on f\n    g: 2 # on g\n  - - 3 # nested\n  - [1] # flow elem\nm: [1, 2] # flow value\n";
        assert_eq!(
            show_map(&one(src)),
            "{l=[#on f,{f=i1,#on g,g=i2},#nested,[i3],#flow elem,[i1]],m=[#flow value,i1,i2]}"
        );
    }

    /// The `inline` flags of a map's comments, in order.
    fn inline_flags(m: &Map) -> Vec<bool> {
        m.items
            .iter()
            .filter_map(|i| match i {
                MapItem::Comment(c) => Some(c.inline),
                MapItem::Entry(_) => None,
            })
            .collect()
    }

    #[test]
    fn block_scalars_at_the_end_without_a_line_break_like_go_yaml() {
        // Checked with sops (go-yaml v3): the last line adds no line feed.
        assert_eq!(show_map(&one("m: |\n  multi\n  line")), "{m=multi\nline}");
        assert_eq!(show_map(&one("foo: |\n  x\n   ")), "{foo=x\n }");
        assert_eq!(show_map(&one("k: |+\n  a")), "{k=a}");
        assert_eq!(show_map(&one("k: >\n  a\n  b")), "{k=a b}");
        assert_eq!(show_map(&one("k: |\n  a\n  ")), "{k=a\n}");
        assert_eq!(show_map(&one("k: |+\n  a\n\n  ")), "{k=a\n\n}");
        assert_eq!(show_map(&one("k: |\n  a\n")), "{k=a\n}");
    }

    #[test]
    fn a_tab_where_a_block_scalar_is_indented_is_refused_like_go_yaml() {
        for (src, line) in [
            ("foo: |\n \t\nbar: 1", 2),
            ("foo: |\n \t\nbar: 1\n", 2),
            ("foo: |\n  \tx\n", 2),
            ("foo: |\n  a\n \tb\n", 3),
            // A tab that starts the content (found by the scanner): the
            // header's line, or the tab's for a header on the first line.
            ("a: 1\nb: 2\nc: |\n\tx\n", 3),
            ("c: >\n\tx\n", 2),
            ("c: |\n\n\tx\n", 3),
            ("k: v\na|b: >-\n\tx\n", 2),
        ] {
            let e = err(src);
            assert!(
                e.contains(&format!("line {line}: {BLOCK_SCALAR_TAB}")),
                "{src:?}: {e}"
            );
        }
        assert!(err("foo: >\n\tx\n").contains("tab"));
        // Tabs inside the content, once the indentation is known, are fine.
        assert_eq!(show_map(&one("foo: |\n  x\n  \ty\t\n")), "{foo=x\n\ty\t\n}");
        assert_eq!(show_map(&one("foo: |2\n   \tx\n")), "{foo= \tx\n}");
    }

    #[test]
    fn comments_after_properties_directives_and_flow_starts_like_go_yaml() {
        // Checked against sops 3.11 (encrypt + decrypt).
        assert_eq!(show_map(&one("a: &x # c\n  b: 1\n")), "{a={#c,b=i1}}");
        assert_eq!(show_map(&one("a: !!map # c\n  b: 1\n")), "{a={#c,b=i1}}");
        assert_eq!(
            show_map(&one("a: &x # c\n  # d\n  b: 1\n")),
            "{a={#d,#c,b=i1}}"
        );
        assert_eq!(show_map(&one("a: &x # c\n  - 1\n")), "{a=[#c,i1]}");
        assert_eq!(show_map(&one("a: &x # c\n  # d\n  v\n")), "{#d,#c,a=v}");
        assert_eq!(show_map(&one("%YAML 1.1 # c\n---\na: 1\n")), "{a=i1}");
        assert_eq!(
            show_map(&one("%TAG !e! tag:e.com,2000: # c\n---\na: 1\n")),
            "{a=i1}"
        );
        assert_eq!(show_map(&one("k: [ # c\n  a ]\n")), "{k=[a]}");
        assert_eq!(show_map(&one("k: { # c\n  a: 1}\n")), "{k={a=i1}}");
        assert_eq!(show_map(&one("k: [ # c\n  # d\n  a ]\n")), "{k=[#d,a]}");
        assert_eq!(show_map(&one("k: [a, # c\n  b]\n")), "{k=[#c,a,b]}");
        // A comment after a `-` whose element starts on the next line.
        assert_eq!(
            show_map(&one("l:\n  - a\n  - # note\n    - b\n")),
            "{l=[a,#note,[b]]}"
        );
        assert_eq!(show_map(&one("k: a\n  b # c\nj: 1\n")), "{#c,k=a b,j=i1}");
        assert_eq!(show_map(&one("b: | # h\n  x\nm: 1\n")), "{#h,b=x\n,m=i1}");
        // Inside an empty flow collection comments are lost (go-yaml).
        assert_eq!(
            show_map(&one("k: {\n  # c\n}\nl: [\n  # d\n]\n")),
            "{k={},l=[]}"
        );
        assert_eq!(show_map(&one("k: {} # c\n")), "{k={#c}}");
        assert_eq!(
            show_map(&one("l:\n  - {}\n  - # c\n    n: 1\n")),
            "{l=[{},#c,{n=i1}]}"
        );
        // Only a comment after a scalar value keeps its line (sops 3.13).
        let m = one("# h\na: 1 # on a\nb: # on b\n  c: 2\nd: [1] # on d\n");
        assert_eq!(show_map(&m), "{#h,#on a,a=i1,#on b,b={c=i2},d=[#on d,i1]}");
        assert_eq!(inline_flags(&m), [false, true, false]);
    }

    #[test]
    fn a_comment_at_column_0_at_the_end_leaves_the_list() {
        for src in ["a:\n  - b\n  - c\n# end", "a:\n  - b\n  - c\n# end\n"] {
            assert_eq!(show_map(&one(src)), "{a=[b,c],#end}", "{src:?}");
        }
        assert_eq!(
            show_map(&one("a:\n  - b\n# end\n# end2")),
            "{a=[b],#end,#end2}"
        );
    }

    #[test]
    fn foot_comments_follow_go_yaml() {
        // Observed with sops 3.11 (`--extract` of each level).
        assert_eq!(
            show_map(&one("b:\n  p: 1\n  q:\n    r: 1\n  # foot\nc: 1\n")),
            "{b={p=i1,q={r=i1,#foot}},c=i1}"
        );
        assert_eq!(
            show_map(&one("b:\n  - p: 1\n    # at 4\n  # at 2\nc: 1\n")),
            "{b=[{p=i1,#at 4}],#at 2,c=i1}"
        );
        assert_eq!(
            show_map(&one("b:\n  - 1\n  # at 2\n# at 0\nc: 1\n")),
            "{b=[i1,#at 2],#at 0,c=i1}"
        );
        assert_eq!(
            show_map(&one(
                "a:\n  b:\n    c: 1\n    # at 4\n  # at 2\n# at 0\nd: 1\n"
            )),
            "{a={b={c=i1,#at 4},#at 2},#at 0,d=i1}"
        );
    }

    #[test]
    fn conformance_comment_cases_match_sops_output() {
        for (case, input, expected) in [
            ("yaml_comments", "input.yaml", "expected.yaml"),
            ("encrypted_comment_regex", "input.yaml", "expected.yaml"),
            ("yaml_comments_list_pgp", "input.yaml", "expected.yaml"),
            ("pgp_comments_old_format", "input.yaml", "expected.yaml"),
        ] {
            let read = |f: &str| crate::corpus::read(&format!("{case}/{f}"));
            let (a, b) = (read(input), read(expected));
            assert_eq!(parse(&a).unwrap(), parse(&b).unwrap(), "{case}");
        }
    }

    #[test]
    fn every_conformance_yaml_file_parses() {
        let cases = std::fs::read_dir(crate::corpus::CASES).expect("testdata/sops/cases");
        let mut count = 0;
        for case in cases.flatten() {
            for file in std::fs::read_dir(case.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let path = file.path();
                let name = path.to_string_lossy().to_string();
                if name.ends_with(".yaml") || name.ends_with(".yml") {
                    let data = std::fs::read(&path).unwrap_or_default();
                    assert!(parse(&data).is_ok(), "{name}: {:?}", parse(&data).err());
                    count += 1;
                }
            }
        }
        assert!(count > 20, "only {count} YAML files found");
    }

    #[test]
    fn documents() {
        let docs = parse(b"---\na: 1\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(show_map(&docs[1]), "{b=i2}");
        let docs = parse(b"---\n---\na: 1\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert!(docs[0].is_empty());
        assert_eq!(parse(b"").unwrap_err(), FormatError::NoDocument);
        assert!(err("# only a comment\n").contains("EOF"));
        assert!(err("\n\n").contains("EOF"));
        assert!(err("- 1\n").contains("cannot unmarshal !!seq"));
        assert!(err("foo\n").contains("cannot unmarshal !!str"));
        assert!(!err("secretvalue\n").contains("secretvalue"));
        assert!(err("a: 1\n---\n- 1\n").contains("sequences are not supported"));
        assert!(err("a: 1\n---\nfoo\n").contains("values are not supported"));
    }

    #[test]
    fn duplicate_keys_in_first_document() {
        let e = err("a: 1\n'a': 2\na: 3\n");
        assert!(
            e.contains("line 2: mapping key \"a\" already defined at line 1"),
            "{e}"
        );
        assert!(
            e.contains("line 3: mapping key \"a\" already defined at line 2"),
            "{e}"
        );
        // go-yaml does not look inside a map that has duplicates itself.
        let e = err("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n");
        assert!(!e.contains("\"c\""), "{e}");
        assert!(err("b:\n  - c: 1\n    c: 2\n").contains("line 3: mapping key \"c\""));
        // Later documents may repeat keys.
        assert_eq!(parse(b"x: 1\n---\na: 1\na: 2\n").unwrap().len(), 2);
    }

    /// go-yaml's duplicate-key messages for one flat map, by brute force.
    fn expected_duplicates(keys: &[String]) -> String {
        let mut pairs = Vec::new();
        for (j, kj) in keys.iter().enumerate() {
            for (i, ki) in keys.iter().enumerate().take(j) {
                if ki == kj {
                    pairs.push((i, j, kj));
                }
            }
        }
        pairs.sort();
        let mut message = String::from("unmarshal errors:");
        for (i, j, k) in pairs {
            message.push_str(&format!(
                "\n  line {}: mapping key \"{k}\" already defined at line {}",
                j + 1,
                i + 1
            ));
        }
        message
    }

    #[test]
    fn duplicate_keys_in_large_maps() {
        // Beyond the scan threshold the hash index takes over.
        let mut keys: Vec<String> = (0..40).map(|i| format!("key{i}")).collect();
        keys[3] = "key1".into();
        keys[25] = "key1".into();
        keys[39] = "key30".into();
        let src: String = keys.iter().map(|k| format!("{k}: v\n")).collect();
        let e = err(&src);
        assert!(e.contains(&expected_duplicates(&keys)), "{e}");
        let unique: String = (0..100).map(|i| format!("k{i}: {i}\n")).collect();
        assert_eq!(one(&unique).items.len(), 100);
    }

    /// The rule of [`maybe_several_documents`], line by line.
    fn several_documents_line_by_line(input: &[u8]) -> bool {
        let mut content_seen = false;
        for line in input.split(|b| *b == b'\n') {
            let marker = line.starts_with(b"---") || line.starts_with(b"...");
            if marker && (content_seen || line.starts_with(b"...")) {
                return true;
            }
            let trimmed = line.trim_ascii_start();
            let ignorable = trimmed.is_empty()
                || trimmed.starts_with(b"#")
                || (line.starts_with(b"%") && !content_seen);
            if !ignorable {
                content_seen = true;
            }
        }
        false
    }

    proptest! {
        #[test]
        fn several_documents_follows_the_line_rule(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("---"), Just("--- a"), Just("..."), Just("# c"), Just("  # c"),
                    Just("%YAML 1.2"), Just(""), Just("  "), Just("a: 1"), Just(" ---"),
                    Just("--"), Just("a: |"), Just("  ---"),
                ],
                0..8,
            ),
            trailing_newline in any::<bool>(),
        ) {
            let mut input = lines.join("\n");
            if trailing_newline {
                input.push('\n');
            }
            prop_assert_eq!(
                maybe_several_documents(input.as_bytes()),
                several_documents_line_by_line(input.as_bytes()),
                "{:?}", input
            );
        }

        #[test]
        fn duplicate_keys_match_brute_force(picks in proptest::collection::vec(0u8..30, 1..80)) {
            let keys: Vec<String> = picks.iter().map(|p| format!("k{p}")).collect();
            let src: String = keys.iter().map(|k| format!("{k}: 1\n")).collect();
            let expected = expected_duplicates(&keys);
            match parse(src.as_bytes()) {
                Ok(_) => prop_assert_eq!(expected, "unmarshal errors:"),
                Err(e) => prop_assert!(e.to_string().contains(&expected), "{}", e),
            }
        }
    }

    #[test]
    fn aliases_and_merge_keys() {
        let m = one("base: &b\n  x: 1\ncopy: *b\nmerged:\n  <<: *b\n  y: 2\ns: &s str\nt: *s\n");
        assert_eq!(
            show_map(&m),
            "{base={x=i1},copy={x=i1},merged={<<={x=i1},y=i2},s=str,t=str}"
        );
        assert!(err("a: *nope\n").contains("line 1"));
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
        assert!(err(bomb).contains("excessive aliasing"));
    }

    #[test]
    fn aliases_of_long_strings_are_bounded_by_size() {
        // Few nodes (under the node budget), but each level multiplies a
        // 4 KB string by 8: 8^6 copies, 1 GiB.
        let mut bomb = format!("a: &a \"{}\"\n", "x".repeat(4096));
        let mut prev = 'a';
        for name in ['b', 'c', 'd', 'e', 'f', 'g'] {
            let refs = vec![format!("*{prev}"); 8].join(", ");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
            prev = name;
        }
        assert!(bomb.len() < 6000);
        let e = err(&bomb);
        assert!(e.contains("expand to more than 32 MiB"), "{e}");
        // Ordinary use of aliases stays fine.
        let ok = format!(
            "a: &a \"{}\"\nb: [*a, *a, *a]\nc: {{<<: {{k: *a}}}}\n",
            "x".repeat(4096)
        );
        one(&ok);
    }

    /// The parser bounds nesting (so do aliases: an alias adds the depth of
    /// an anchor that was itself parsed within the bound, once per level
    /// of the source).
    #[test]
    fn nesting_is_bounded() {
        let deep = format!("a: {}{}\n", "[".repeat(1005), "]".repeat(1005));
        assert!(err(&deep).contains("recursion limit exceeded"));
        let fine = format!("a: {}{}\n", "[".repeat(100), "]".repeat(100));
        one(&fine);
        let chain = |n: usize| {
            let mut text = "l0: &l0 [x]\n".to_owned();
            for i in 1..n {
                text.push_str(&format!("l{i}: &l{i} [*l{}]\n", i - 1));
            }
            text
        };
        let e = err(&chain(600));
        assert!(e.contains("nested more than 512 levels deep"), "{e}");
        one(&chain(50));
    }

    #[test]
    fn tags() {
        let m = one(concat!(
            "a: !!str 123\nb: !!binary aGVsbG8=\nc: !custom 123\nd: ! 123\ne: !!int \"12\"\n",
            "f: !!float 1\ng: !!bool \"true\"\nh: !!timestamp \"2024-01-01\"\ni: !!null ~\n",
            "j: !!binary aGVsbG9=\nk: !!binary |\n  aGVs\n  bG8=\nl: !!merge 1\n"
        ));
        assert_eq!(
            show_map(&m),
            "{a=123,b=hello,c=123,d=i123,e=i12,f=f1,g=btrue,h=t2024-01-01T00:00:00Z,i=null,j=hello,k=hello,l=1}"
        );
        assert!(err("a: !!int abc\n").contains("cannot decode !!str as a !!int"));
        assert!(err("a: !!null foo\n").contains("as a !!null"));
        assert!(err("a: !!float 12345678901234567890\n").contains("cannot decode !!int"));
        assert!(err("a: !!binary \"!!!\"\n").contains("invalid base64"));
        assert!(!err("a: !!int abcsecret\n").contains("abcsecret"));
    }

    #[test]
    fn uint64_is_refused_without_the_value() {
        let e = err("x:\n  y: [1, 12345678901234567890]\n");
        assert!(e.contains("line 2") && e.contains("/x/y[1]"), "{e}");
        assert!(!e.contains("12345678901234567890"), "{e}");
        assert!(err("a: !!int 12345678901234567890\n").contains("uint64"));
    }

    #[test]
    fn invalid_input() {
        assert!(err("a: [1\n").contains("line"));
        assert!(parse(b"a: \xff\n")
            .unwrap_err()
            .to_string()
            .contains("UTF-8"));
        assert!(err("a: 1\n b: 2\n").contains("line"));
        assert!(err("? [1]\n: x\n").contains("complex mapping keys"));
    }

    #[test]
    fn many_comments_are_accepted() {
        let mut src = String::new();
        for i in 0..300 {
            src.push_str(&format!("# c{i}\n"));
        }
        src.push_str("a:\n");
        for i in 0..300 {
            src.push_str(&format!("  # d{i}\n"));
        }
        src.push_str("  - 1\n");
        let m = one(&src);
        assert_eq!(m.items.len(), 301);
    }

    /// A generated document: maps with unique identifier keys, lists,
    /// strings, ints.
    #[derive(Debug, Clone)]
    enum Gen {
        Str(String),
        Int(i64),
        Map(Vec<(String, Gen)>),
        List(Vec<Gen>),
    }

    fn gen_value() -> impl Strategy<Value = Gen> {
        let leaf = prop_oneof![
            "[a-zA-Z0-9 _.:#/-]{0,12}".prop_map(Gen::Str),
            any::<i64>().prop_map(Gen::Int),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(("[a-z][a-z0-9_]{0,6}", inner.clone()), 1..5)
                    .prop_map(|kv| Gen::Map(dedup(kv))),
                proptest::collection::vec(inner, 1..5).prop_map(Gen::List),
            ]
        })
    }

    fn dedup(kv: Vec<(String, Gen)>) -> Vec<(String, Gen)> {
        let mut seen = std::collections::HashSet::new();
        kv.into_iter()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect()
    }

    fn render(g: &Gen, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match g {
            Gen::Map(kv) => {
                for (k, v) in kv {
                    match v {
                        Gen::Map(_) | Gen::List(_) => {
                            out.push_str(&format!("{pad}{k}:\n"));
                            render(v, indent + 2, out);
                        }
                        leaf => out.push_str(&format!("{pad}{k}: {}\n", scalar(leaf))),
                    }
                }
            }
            Gen::List(items) => {
                for v in items {
                    match v {
                        Gen::Map(_) | Gen::List(_) => {
                            out.push_str(&format!("{pad}-\n"));
                            render(v, indent + 2, out);
                        }
                        leaf => out.push_str(&format!("{pad}- {}\n", scalar(leaf))),
                    }
                }
            }
            leaf => out.push_str(&format!("{pad}{}\n", scalar(leaf))),
        }
    }

    fn scalar(g: &Gen) -> String {
        match g {
            Gen::Str(s) => format!("\"{s}\""),
            Gen::Int(i) => i.to_string(),
            _ => String::new(),
        }
    }

    fn expected(g: &Gen) -> Value {
        match g {
            Gen::Str(s) => Value::Str(s.clone()),
            Gen::Int(i) => Value::Int(*i),
            Gen::Map(kv) => {
                let mut m = Map::new();
                for (k, v) in kv {
                    m.push(k.as_str(), expected(v));
                }
                Value::Map(m)
            }
            Gen::List(items) => Value::List(List {
                items: items.iter().map(|v| ListItem::Value(expected(v))).collect(),
            }),
        }
    }

    proptest! {
        #[test]
        fn generated_yaml_parses_to_the_intended_tree(
            kv in proptest::collection::vec(("[a-z][a-z0-9_]{0,6}", gen_value()), 1..6)
        ) {
            let doc = Gen::Map(dedup(kv));
            let mut src = String::new();
            render(&doc, 0, &mut src);
            let docs = parse(src.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{src}")))?;
            prop_assert_eq!(docs.len(), 1);
            prop_assert_eq!(Value::Map(docs[0].clone()), expected(&doc), "{}", src);
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
            let _ = parse(s.as_bytes());
        }

        #[test]
        fn yaml_like_text_never_panics(s in "[a-z0-9:#&*!|>'\"\\[\\]{},?. \n\t-]{0,120}") {
            let _ = parse(s.as_bytes());
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = parse(&b);
        }
    }
}
