//! YAML writing in the layout of sops 3.11's go-yaml v3 emitter.
//!
//! The output is byte-identical to what sops writes: block style, `{}` / `[]`
//! for empty collections, go-yaml's indentation rule, its choice of scalar
//! style (plain, single-quoted, double-quoted with escapes, literal block)
//! and its placement of comment lines. The pieces:
//!
//! * `writer` — output buffer and the emitter's layout state (column,
//!   indentation, pending comments);
//! * `scalar` — scalar style selection and the four scalar writers;
//! * `walk` — the tree walk, one function per emitter step.
//!
//! Everything is written into one pre-sized buffer in a single pass, or,
//! with [`RootWriter`], one document is written entry by entry of its root
//! mapping and the output drained as it grows (streaming encryption).

mod scalar;
mod walk;
mod writer;

#[cfg(test)]
mod tests;

use crate::error::FormatError;
use crate::tree::{Comment, Entry, Map, MapItem, Value};
use walk::{push_comments, split_comments, Node, Walk};

/// The indentation step go-yaml actually uses for `SetIndent(indent)`:
/// 0 means the default 4, values outside 2..=9 fall back to 2.
fn effective_indent(indent: usize) -> isize {
    match indent {
        0 => 4,
        2..=9 => indent as isize,
        _ => 2,
    }
}

/// Writes documents separated by `---`, each ending with a newline.
///
/// `indent` is the encoder indentation (sops: `stores.yaml.indent`, default
/// 4). The `sops` metadata map, if any, must already be the last entry of
/// each document. Fails (`FormatError::Emit`) on a value that is not UTF-8,
/// on a map or list used as a map key and on trees nested deeper than 512
/// levels; never panics.
pub fn emit(docs: &[Map], indent: usize) -> Result<Vec<u8>, FormatError> {
    let mut walk = Walk::new(effective_indent(indent), 4096);
    for (i, doc) in docs.iter().enumerate() {
        walk.document(Node::Map(doc), i == 0)?;
    }
    Ok(walk.w.out)
}

/// Writes a single value as a YAML document (`--extract` of a non-map):
/// `30\n`, `- a\n- 1\n`.
///
/// sops writes extracted values with `yaml.Marshal`, which always indents
/// by 4 whatever the configuration; callers reproducing it pass 4.
pub fn emit_value(value: &Value, indent: usize) -> Result<Vec<u8>, FormatError> {
    let mut walk = Walk::new(effective_indent(indent), 256);
    walk.document(Node::of(value), true)?;
    Ok(walk.w.out)
}

/// Writes one YAML document whose root mapping arrives item by item, in the
/// exact layout [`emit`] gives the whole document: feed the root's items in
/// order with [`RootWriter::item`], drain the output written so far with
/// [`RootWriter::drain_into`] whenever convenient, and end with
/// [`RootWriter::finish`], which writes a last entry (the `sops` metadata)
/// and closes the document. Only the comments not yet placed are kept.
pub struct RootWriter {
    walk: Walk,
    /// Comment items since the last entry (placed by the next entry).
    pending: Vec<Comment>,
    /// Whether the root mapping has been opened (by its first entry).
    opened: bool,
}

impl RootWriter {
    /// A writer of the first (only) document of a stream with encoder
    /// indentation `indent` (as for [`emit`]).
    pub fn new(indent: usize) -> Self {
        RootWriter {
            walk: Walk::new(effective_indent(indent), 1 << 16),
            pending: Vec::new(),
            opened: false,
        }
    }

    /// A writer of root entries that come after other root entries of the
    /// same document, written by another writer: it starts in the layout
    /// state that writer is in after an entry that ends on a line of its
    /// own (see [`RootWriter::continues_cleanly`]), with no output.
    pub fn continuing(indent: usize) -> Self {
        Self::continuing_at(effective_indent(indent), 1 << 16)
    }

    fn continuing_at(best_indent: isize, capacity: usize) -> Self {
        let mut w = RootWriter {
            walk: Walk::new(best_indent, capacity),
            pending: Vec::new(),
            opened: false,
        };
        let probe = Entry {
            key: crate::tree::Key::Str("k".to_owned()),
            value: Value::Null,
            source: None,
        };
        // Writing `k: null` cannot fail.
        let _ = w.entry(&probe);
        w.walk.w.out.clear();
        w
    }

    /// Whether a [`RootWriter::continuing`] writer picks up exactly where
    /// this one stands: an entry was written, no comment is pending, and
    /// the layout state is the one `continuing` starts from.
    pub fn continues_cleanly(&self) -> bool {
        let next = Self::continuing_at(self.walk.w.best_indent, 64);
        self.opened && self.pending.is_empty() && self.walk.w.same_layout_state(&next.walk.w)
    }

    /// Ends the document after the entries written (no further entry; the
    /// comments after the last entry are its tail) and returns the output
    /// not drained yet. An error if no entry was written.
    pub fn finish_plain(mut self) -> Result<Vec<u8>, FormatError> {
        if !self.opened {
            return Err(FormatError::Emit("yaml: no entry written".to_owned()));
        }
        let mut tail = String::new();
        push_comments(&mut tail, &self.pending);
        self.walk.close_root_mapping(&tail);
        self.walk.document_end();
        Ok(self.walk.w.out)
    }

    /// The output not drained yet, without ending anything.
    pub fn into_output(self) -> Vec<u8> {
        self.walk.w.out
    }

    /// Writes the next item of the root mapping (a comment is only
    /// recorded: where it goes depends on what follows).
    pub fn item(&mut self, item: &MapItem) -> Result<(), FormatError> {
        match item {
            MapItem::Comment(c) => {
                self.pending.push(c.clone());
                Ok(())
            }
            MapItem::Entry(e) => self.entry(e),
        }
    }

    /// Writes an entry after the pending comments.
    fn entry(&mut self, entry: &Entry) -> Result<(), FormatError> {
        let pending: Vec<&Comment> = self.pending.iter().collect();
        let (mut comments, line) = split_comments(&pending, Some(&entry.value));
        self.pending.clear();
        let first = !self.opened;
        if first {
            // The comments before the first entry are the head comment of
            // the root mapping itself.
            self.walk.open_root_mapping(&comments)?;
            self.opened = true;
            comments.clear();
        }
        self.walk
            .mapping_entry(entry, &comments, &line, first, false)
    }

    /// Moves the output written so far into `sink` (the writer keeps its
    /// layout state, so this may be done between any two items).
    pub fn drain_into(&mut self, sink: &mut dyn std::io::Write) -> std::io::Result<()> {
        sink.write_all(&self.walk.w.out)?;
        self.walk.w.out.clear();
        Ok(())
    }

    /// Length of the output not drained yet.
    pub fn pending_output(&self) -> usize {
        self.walk.w.out.len()
    }

    /// Takes the output not drained yet (no copy; the writer continues
    /// into a new buffer).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.walk.w.out)
    }

    /// Writes `last` as the last entry of the root mapping (after any
    /// pending comments, like an entry appended to the tree), ends the
    /// document and returns the output not drained yet.
    pub fn finish(mut self, last: &Entry) -> Result<Vec<u8>, FormatError> {
        self.entry(last)?;
        let mut tail = String::new();
        push_comments(&mut tail, &self.pending);
        self.walk.close_root_mapping(&tail);
        self.walk.document_end();
        Ok(self.walk.w.out)
    }
}
