//! Cutting a YAML or JSON document at its root items into pieces that are
//! parsed on their own, so that several threads can work on one large file
//! and only a few pieces are held at a time.
//!
//! A piece is a run of whole root items of the one document of the file.
//! The cuts are found cheaply from the text, near every `target` bytes:
//!
//! * YAML: before a top-level key in column 0 that follows an indented
//!   content line (the rule of the two-halves parser in `yaml/split.rs`:
//!   no comment or blank line sits at the cut, and the item before it has
//!   ended). Each piece is parsed as a document of its own; anything that
//!   could reach across a cut (anchors, aliases, directives, document
//!   markers) refuses the piece.
//! * JSON: before a line holding a key at the indentation of the first
//!   member, right after a line ending with `,` (a raw line break never
//!   occurs inside a JSON string). Each piece is parsed as `{piece}`; a cut
//!   that is not between two members of the top object makes that fail
//!   (its brackets do not balance).
//!
//! A piece that is refused or fails to parse means only that the file
//! cannot be read this way: callers then read the whole file as before,
//! which also gives the exact error message of a broken file. Top-level
//! keys that appear in two pieces (YAML refuses duplicates) are the
//! caller's to check, with [`Pieces::check_keys`].
//!
//! For encrypted files the `sops` metadata entry is found first (it is
//! normally the last root item) and becomes a piece of its own, parsed
//! before the others ([`encrypted`]); the other pieces are the data.
//!
//! An encrypted file need not be held in memory: [`encrypted_from`] finds
//! the same pieces reading a [`Source`] in blocks, and its pieces read
//! their own text when they are parsed, so that only the pieces being
//! worked on are held.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use crate::error::FormatError;
use crate::store::{Format, METADATA_KEY};
use crate::tree::{Map, MapItem, Value};
use crate::{json, yaml};

/// Pieces of about this many bytes of input by default.
pub const DEFAULT_TARGET: usize = 256 * 1024;

mod stream;

pub use stream::{encrypted_from, Source};

/// A document cut into pieces of whole root items, in order.
pub struct Pieces<'a> {
    format: Format,
    input: Input<'a>,
    ranges: Vec<Range<usize>>,
}

/// Where the text of the pieces is.
enum Input<'a> {
    /// In memory.
    Bytes(&'a [u8]),
    /// Read when a piece is parsed.
    Source(&'a dyn Source),
}

impl std::fmt::Debug for Pieces<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pieces")
            .field("format", &self.format)
            .field("input_len", &self.input_len())
            .field("ranges", &self.ranges)
            .finish()
    }
}

impl<'a> Pieces<'a> {
    /// Number of pieces (at least one).
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether there is no piece (never, for pieces built here).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Size of the whole input.
    pub fn input_len(&self) -> usize {
        match self.input {
            Input::Bytes(b) => b.len(),
            Input::Source(s) => usize::try_from(s.len()).unwrap_or(usize::MAX),
        }
    }

    /// The text of `range`: borrowed from the input in memory, or read
    /// from the source (an error, read the whole file instead, when it
    /// cannot be read).
    fn text(&self, range: Range<usize>) -> Result<Cow<'a, [u8]>, FormatError> {
        match self.input {
            Input::Bytes(b) => b.get(range).map(Cow::Borrowed).ok_or_else(refused),
            Input::Source(s) => {
                let mut buf = vec![0; range.end.checked_sub(range.start).ok_or_else(refused)?];
                s.read_exact_at(&mut buf, range.start as u64)
                    .map_err(|_| refused())?;
                Ok(Cow::Owned(buf))
            }
        }
    }

    /// The store of the document.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The byte range of piece `i` in the input (for JSON without the
    /// separators around it).
    pub fn range(&self, i: usize) -> Option<Range<usize>> {
        self.ranges.get(i).cloned()
    }

    /// Parses piece `i`: the root items it holds, exactly those the whole
    /// document has in that place. An error only means that the file
    /// cannot be read in pieces (see the module documentation).
    pub fn parse(&self, i: usize) -> Result<Vec<MapItem>, FormatError> {
        let range = self.range(i).ok_or_else(refused)?;
        let text = self.text(range)?;
        Ok(parse_text(self.format, &text)?.items)
    }

    /// Reads the root items from the start of piece `i` to the end of the
    /// last piece in one pass, handing each to `on_item` as soon as it is
    /// complete (for a caller that must go on sequentially after a piece
    /// failed; a parse error's positions are counted from piece `i`).
    pub fn read_from<E: From<FormatError>>(
        &self,
        i: usize,
        on_item: &mut dyn FnMut(MapItem) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = self.range(i).ok_or_else(refused)?.start;
        let end = self.ranges.last().ok_or_else(refused)?.end;
        let text = self.text(start..end)?;
        match self.format {
            Format::Yaml => yaml::parse_root_items(&text, on_item),
            _ => {
                let mut object = Vec::with_capacity(text.len() + 2);
                object.push(b'{');
                object.extend_from_slice(&text);
                object.push(b'}');
                json::parse_root_items(&object, on_item)
            }
        }
    }

    /// The top-level keys of a piece's items, for [`check_keys`] (empty
    /// for JSON, which keeps duplicate keys). An error (read the whole file
    /// instead) for a `sops` entry or a key that is not a string.
    pub fn root_keys(&self, items: &[MapItem]) -> Result<Vec<String>, FormatError> {
        let mut keys = Vec::new();
        for item in items {
            if let MapItem::Entry(e) = item {
                match e.key.as_str() {
                    Some(METADATA_KEY) | None => return Err(refused()),
                    Some(k) if self.format == Format::Yaml => keys.push(k.to_owned()),
                    Some(_) => {}
                }
            }
        }
        Ok(keys)
    }

    /// Checks the text of every piece for what refuses it before parsing
    /// (YAML: anchors, aliases, directives, document markers), so that a
    /// caller that cannot go back once it has written output knows up
    /// front. Parsing checks the same.
    pub fn precheck(&self) -> Result<(), FormatError> {
        if self.format != Format::Yaml {
            return Ok(());
        }
        for range in &self.ranges {
            yaml::check_piece(&self.text(range.clone())?)?;
        }
        Ok(())
    }
}

/// Adds the top-level keys of the next piece ([`Pieces::root_keys`]) to
/// those seen before; an error (read the whole file instead) when one was
/// seen already: the whole parse refuses the duplicate.
pub fn check_keys(seen: &mut HashSet<String>, keys: Vec<String>) -> Result<(), FormatError> {
    for key in keys {
        if !seen.insert(key) {
            return Err(refused());
        }
    }
    Ok(())
}

/// The error meaning "read the whole file instead".
fn refused() -> FormatError {
    FormatError::Emit("the document cannot be read in pieces".to_owned())
}

/// Parses the text of one piece.
fn parse_text(format: Format, text: &[u8]) -> Result<Map, FormatError> {
    match format {
        Format::Yaml => yaml::parse_piece(text),
        Format::Json => {
            let mut object = Vec::with_capacity(text.len() + 2);
            object.push(b'{');
            object.extend_from_slice(text);
            object.push(b'}');
            json::parse(&object)
        }
        _ => Err(refused()),
    }
}

/// An encrypted YAML or JSON file cut into pieces: the `sops` metadata map,
/// parsed, and the data pieces (every root item but the metadata entry).
/// `None` when the file cannot be read that way (not YAML or JSON, no
/// `sops` entry found where a cut can be made, the metadata entry not alone
/// in its piece, no data item, ...): read it whole.
pub fn encrypted(format: Format, input: &[u8], target: usize) -> Option<(Pieces<'_>, Map)> {
    let layout = Layout::of(format, input)?;
    let meta = layout.find_metadata()?;
    let meta_text = layout.trimmed(meta.clone())?;
    let meta_map = parse_text(format, input.get(meta_text)?).ok()?;
    let [MapItem::Entry(entry)]: [MapItem; 1] = meta_map.items.try_into().ok()? else {
        return None;
    };
    if entry.key.as_str() != Some(METADATA_KEY) {
        return None;
    }
    let Value::Map(metadata) = entry.value else {
        return None;
    };
    let mut ranges = layout.pieces(layout.body.start..meta.start, target)?;
    ranges.extend(layout.pieces(meta.end..layout.body.end, target)?);
    if ranges.is_empty() {
        return None;
    }
    Some((
        Pieces {
            format,
            input: Input::Bytes(input),
            ranges,
        },
        metadata,
    ))
}

/// A plaintext YAML or JSON file cut into pieces; `None` when it cannot be
/// (read it whole). Whether it holds a `sops` entry is found by
/// [`Pieces::check_keys`].
pub fn plain(format: Format, input: &[u8], target: usize) -> Option<Pieces<'_>> {
    let layout = Layout::of(format, input)?;
    let ranges = layout.pieces(layout.body.clone(), target)?;
    if ranges.is_empty() {
        return None;
    }
    Some(Pieces {
        format,
        input: Input::Bytes(input),
        ranges,
    })
}

/// Where the root items of a document are, and how to find cuts.
struct Layout<'a> {
    format: Format,
    input: &'a [u8],
    /// YAML: the whole input; JSON: between the braces of the top object.
    body: Range<usize>,
    /// JSON: the indentation of the first member's line.
    indent: &'a [u8],
}

impl<'a> Layout<'a> {
    fn of(format: Format, input: &'a [u8]) -> Option<Layout<'a>> {
        match format {
            Format::Yaml => Some(Layout {
                format,
                input,
                body: 0..input.len(),
                indent: b"",
            }),
            Format::Json => {
                let open = input.iter().position(|b| !b.is_ascii_whitespace())?;
                let close = input.iter().rposition(|b| !b.is_ascii_whitespace())?;
                if input.get(open) != Some(&b'{')
                    || input.get(close) != Some(&b'}')
                    || close <= open
                {
                    return None;
                }
                // The first member starts a line of its own.
                let after = input.get(open + 1..close)?;
                let nl = after
                    .iter()
                    .position(|b| !matches!(b, b' ' | b'\t' | b'\r'))?;
                if after.get(nl) != Some(&b'\n') {
                    return None;
                }
                let line = after.get(nl + 1..)?;
                let width = line
                    .iter()
                    .position(|b| !matches!(b, b' ' | b'\t'))
                    .unwrap_or(line.len());
                if line.get(width) != Some(&b'"') {
                    return None;
                }
                Some(Layout {
                    format,
                    input,
                    body: open + 1..close,
                    indent: line.get(..width)?,
                })
            }
            _ => None,
        }
    }

    /// Whether a piece can start at `start` (a line start inside the body).
    fn is_cut(&self, start: usize) -> bool {
        match self.format {
            Format::Yaml => yaml::is_cut(self.input, start),
            _ => {
                let Some(line) = self.input.get(start..) else {
                    return false;
                };
                line.starts_with(self.indent)
                    && line.get(self.indent.len()) == Some(&b'"')
                    && self
                        .input
                        .get(..start)
                        .and_then(|before| before.iter().rposition(|b| !b.is_ascii_whitespace()))
                        .and_then(|i| self.input.get(i))
                        == Some(&b',')
            }
        }
    }

    /// The first cut at or after `from`, before `end`.
    fn next_cut(&self, from: usize, end: usize) -> Option<usize> {
        let found = match self.format {
            Format::Yaml => yaml::next_cut(self.input, from, usize::MAX),
            _ => {
                let from = from.max(1);
                let window = self.input.get(from - 1..end)?;
                memchr::memchr_iter(b'\n', window)
                    .map(|i| from + i)
                    .find(|&s| self.is_cut(s))
            }
        };
        found.filter(|&s| s < end)
    }

    /// The root item `sops` as a range from its line start to the next cut
    /// (or the end of the body). It must start at a cut (or the body's
    /// first line).
    fn find_metadata(&self) -> Option<Range<usize>> {
        let input = self.input;
        let start = match self.format {
            Format::Yaml => {
                let at = if input.starts_with(b"sops:") {
                    // Only as the first line, and then not again below.
                    Some(0)
                } else {
                    None
                };
                let last = memchr::memmem::rfind(input, b"\nsops:").map(|i| i + 1);
                let start = last.or(at)?;
                let follows = input.get(start + 5);
                if !matches!(follows, None | Some(b' ' | b'\n' | b'\r')) {
                    return None;
                }
                if start != 0 && !self.is_cut(start) {
                    return None;
                }
                start
            }
            _ => {
                let key = memchr::memmem::rfind(input.get(..self.body.end)?, b"\"sops\"")?;
                let start = key.checked_sub(self.indent.len())?;
                let line_start = start == 0 || input.get(start - 1) == Some(&b'\n');
                if !line_start || input.get(start..key)? != self.indent {
                    return None;
                }
                let rest = input.get(key + 6..)?;
                let colon = rest.iter().position(|b| !matches!(b, b' ' | b'\t'))?;
                if rest.get(colon) != Some(&b':') {
                    return None;
                }
                // The first member, or a cut.
                let first = input
                    .get(self.body.start..start)?
                    .iter()
                    .all(u8::is_ascii_whitespace);
                if !first && !self.is_cut(start) {
                    return None;
                }
                if first {
                    self.body.start
                } else {
                    start
                }
            }
        };
        let end = self
            .next_cut(start + 1, self.body.end)
            .unwrap_or(self.body.end);
        Some(start..end)
    }

    /// The text of a run of items without the separators around it (JSON:
    /// blanks, and one `,` at the end); `None` when only blanks remain.
    fn trimmed(&self, range: Range<usize>) -> Option<Range<usize>> {
        if self.format == Format::Yaml {
            return Some(range);
        }
        let text = self.input.get(range.clone())?;
        let first = text.iter().position(|b| !b.is_ascii_whitespace())?;
        let mut last = text.iter().rposition(|b| !b.is_ascii_whitespace())?;
        if text.get(last) == Some(&b',') {
            last = text
                .get(..last)?
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())?;
        }
        Some(range.start + first..range.start + last + 1)
    }

    /// `region` (a run of whole root items) cut into pieces of about
    /// `target` bytes; a region of nothing but blanks gives no piece.
    fn pieces(&self, region: Range<usize>, target: usize) -> Option<Vec<Range<usize>>> {
        let mut out = Vec::new();
        let mut start = region.start;
        while start < region.end {
            let end = self
                .next_cut(start.saturating_add(target.max(1)), region.end)
                .unwrap_or(region.end);
            let piece = start..end;
            let blank = self
                .input
                .get(piece.clone())?
                .iter()
                .all(u8::is_ascii_whitespace);
            if !blank {
                out.push(self.trimmed(piece)?);
            }
            start = end;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests;
