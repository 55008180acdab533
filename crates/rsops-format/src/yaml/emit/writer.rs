//! The output buffer of the YAML emitter and its layout state.
//!
//! The go-yaml v3 emitter decides line breaks and padding from a handful of
//! state bits (current column, current indentation, whether the last thing
//! written was white space or indentation, where the last foot comment was
//! written) and keeps pending comments in registers that later steps flush.
//! [`Writer`] models exactly that state so the tree walk in `walk.rs` can
//! reproduce sops 3.11's byte layout, including its comment placement.

/// Output buffer plus the layout state of the go-yaml v3 emitter.
pub(super) struct Writer {
    /// Everything written so far.
    pub(super) out: Vec<u8>,
    /// The configured indentation step (2..=9).
    pub(super) best_indent: isize,
    /// Current indentation; -1 before the root node.
    pub(super) indent: isize,
    /// Saved indentations of the enclosing nodes.
    indents: Vec<isize>,
    /// Column of the next character, counted in characters.
    pub(super) column: isize,
    /// Whether the last character written was white space.
    pub(super) whitespace: bool,
    /// Whether only indentation has been written on the current line.
    pub(super) indention: bool,
    /// Indentation at which the last foot comment was written (-1: none);
    /// the next line at that indentation is preceded by a blank line.
    pub(super) foot_indent: isize,
    /// Pending head comment (`#a\n#b`), written by the next item.
    pub(super) head_comment: String,
    /// Pending foot comment, written after the next node.
    pub(super) foot_comment: String,
    /// Pending tail comment (trailing comments of a mapping).
    pub(super) tail_comment: String,
    /// Pending line comment, written at the end of the next scalar's line
    /// (after the header of a block scalar).
    pub(super) line_comment: String,
}

impl Writer {
    /// A fresh writer for a stream with indentation step `best_indent`.
    pub(super) fn new(best_indent: isize, capacity: usize) -> Self {
        Writer {
            out: Vec::with_capacity(capacity),
            best_indent,
            indent: -1,
            indents: Vec::new(),
            column: 0,
            whitespace: true,
            indention: true,
            foot_indent: -1,
            head_comment: String::new(),
            foot_comment: String::new(),
            tail_comment: String::new(),
            line_comment: String::new(),
        }
    }

    /// Whether this writer is in the layout state `other` is in, apart from
    /// the output itself and how far past the indentation the current line
    /// is (what decides the layout of whatever is written next).
    pub(super) fn same_layout_state(&self, other: &Writer) -> bool {
        self.best_indent == other.best_indent
            && self.indent == other.indent
            && self.indents == other.indents
            && (self.column > self.indent.max(0)) == (other.column > other.indent.max(0))
            && self.whitespace == other.whitespace
            && self.indention == other.indention
            && self.foot_indent == other.foot_indent
            && self.head_comment == other.head_comment
            && self.foot_comment == other.foot_comment
            && self.tail_comment == other.tail_comment
            && self.line_comment == other.line_comment
    }

    /// Records the comments of the event about to be handled. Like go-yaml,
    /// an empty comment does not clear a pending one.
    pub(super) fn analyze(&mut self, head: &str, foot: &str, tail: &str) {
        if !head.is_empty() {
            head.clone_into(&mut self.head_comment);
        }
        if !foot.is_empty() {
            foot.clone_into(&mut self.foot_comment);
        }
        if !tail.is_empty() {
            tail.clone_into(&mut self.tail_comment);
        }
    }

    /// Writes one ASCII byte.
    pub(super) fn put(&mut self, b: u8) {
        self.out.push(b);
        self.column += 1;
    }

    /// Writes one character (any width).
    pub(super) fn write_char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.out
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        self.column += 1;
    }

    /// Writes a string character by character.
    pub(super) fn write_str(&mut self, s: &str) {
        if s.is_ascii() {
            self.out.extend_from_slice(s.as_bytes());
            self.column += isize::try_from(s.len()).unwrap_or(isize::MAX);
        } else {
            for c in s.chars() {
                self.write_char(c);
            }
        }
    }

    /// Ends the current line.
    pub(super) fn put_break(&mut self) {
        self.out.push(b'\n');
        self.column = 0;
        self.indention = true;
    }

    /// Writes a line-break character of a scalar: `\n` as a newline, the
    /// other YAML breaks (CR, NEL, LS, PS) raw, all starting a new line.
    pub(super) fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            let mut buf = [0u8; 4];
            self.out
                .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            self.column = 0;
            self.indention = true;
        }
    }

    /// Moves to the current indentation, starting a new line when needed.
    pub(super) fn write_indent(&mut self) {
        let indent = self.indent.max(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        if self.foot_indent == indent {
            self.put_break();
        }
        if self.column < indent {
            let pad = usize::try_from(indent - self.column).unwrap_or(0);
            self.out.resize(self.out.len() + pad, b' ');
            self.column = indent;
        }
        self.whitespace = true;
        self.foot_indent = -1;
    }

    /// Writes an indicator (`-`, `:`, `?`, `|`, quotes ...).
    pub(super) fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(b' ');
        }
        self.write_str(indicator);
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    /// Pushes the current indentation and computes the one of a child node.
    ///
    /// `flow` is true for scalars and flow collections; `in_seq_item` tells
    /// whether the node is an element of a block sequence (then it starts
    /// right after `- `).
    pub(super) fn increase_indent(&mut self, flow: bool, in_seq_item: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { self.best_indent } else { 0 };
        } else if in_seq_item {
            self.indent += 2;
        } else {
            self.indent = self.best_indent * ((self.indent + self.best_indent) / self.best_indent);
        }
    }

    /// Restores the indentation saved by the matching `increase_indent`.
    pub(super) fn decrease_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    /// Writes a (possibly multi-line) comment; each line gets a `#` if it
    /// does not start with one. Ends with a line break.
    pub(super) fn write_comment(&mut self, comment: &str) {
        let mut breaks = false;
        let mut pound = false;
        for c in comment.chars() {
            if is_break(c) {
                self.write_break(c);
                breaks = true;
                pound = false;
            } else {
                if breaks {
                    self.write_indent();
                }
                if !pound {
                    if c != '#' {
                        self.put(b'#');
                        self.put(b' ');
                    }
                    pound = true;
                }
                self.write_char(c);
                self.indention = false;
                breaks = false;
            }
        }
        if !breaks {
            self.put_break();
        }
        self.whitespace = true;
    }

    /// Writes the pending tail comment, then the pending head comment.
    pub(super) fn process_head_comment(&mut self) {
        if !self.tail_comment.is_empty() {
            self.write_indent();
            let tail = std::mem::take(&mut self.tail_comment);
            self.write_comment(&tail);
            self.foot_indent = self.indent.max(0);
        }
        if self.head_comment.is_empty() {
            return;
        }
        self.write_indent();
        let head = std::mem::take(&mut self.head_comment);
        self.write_comment(&head);
    }

    /// Writes the pending line comment at the end of the current line;
    /// with `linebreak`, ends the line when there is none.
    pub(super) fn process_line_comment(&mut self, linebreak: bool) {
        if self.line_comment.is_empty() {
            if linebreak {
                self.put_break();
            }
            return;
        }
        if !self.whitespace {
            self.put(b' ');
        }
        let line = std::mem::take(&mut self.line_comment);
        self.write_comment(&line);
    }

    /// Writes the pending foot comment.
    pub(super) fn process_foot_comment(&mut self) {
        if self.foot_comment.is_empty() {
            return;
        }
        self.write_indent();
        let foot = std::mem::take(&mut self.foot_comment);
        self.write_comment(&foot);
        self.foot_indent = self.indent.max(0);
    }
}

/// Whether `c` is a YAML 1.1 line break as go-yaml sees it.
pub(super) fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}
