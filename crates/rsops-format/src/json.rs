//! The JSON store.
//!
//! Reading follows the token-based decoder of sops 3.11: the top level must
//! be an object, keys keep their order (duplicates are kept as separate
//! entries), an integer literal that fits `i64` becomes a [`Value::Int`] and
//! every other number a [`Value::Float`] (sops 3.13.2), and anything after
//! the closing `}` is ignored. Strings are decoded like Go's `encoding/json`:
//! invalid UTF-8 bytes and unpaired surrogate escapes become U+FFFD.
//!
//! Writing reproduces `json.Marshal` of each scalar re-indented by
//! `json.Indent`: one item per line, `"key": value`, empty containers on one
//! line, HTML-sensitive characters escaped as `\u003c` etc.
//!
//! The parser is iterative (an explicit stack), linear in the input size and
//! bounded in depth, so hostile input can neither overflow the stack nor
//! make it quadratic.

use crate::error::FormatError;
use crate::go::format_float_json;
use crate::tree::{Entry, Key, List, ListItem, Map, MapItem, Value};

/// Name used in parse errors.
const FORMAT: &str = "json";

/// Deepest nesting of objects and arrays accepted. Go's decoder allows
/// 10000; the tree is walked recursively (emit, comparison, drop, the
/// core's encryption walk), so a lower bound keeps every walk well inside a
/// small thread stack. Real files nest a handful of levels.
pub const MAX_DEPTH: usize = 1_000;

/// Parses a JSON document whose top level must be an object.
///
/// Errors name the position (line and column) and the kind of problem,
/// never the text found there.
pub fn parse(input: &[u8]) -> Result<Map, FormatError> {
    Parser { input, pos: 0 }.document(None)
}

/// Parses a JSON document like [`parse`], but hands each entry of the top
/// object to `on_item` as soon as it is complete instead of building the
/// whole tree (only the entry being read is held). The entries are those
/// [`parse`] returns, in order, with the same errors; an error may come
/// after some entries were handed over. An error of `on_item` stops the
/// parse and is returned as it is.
pub fn parse_root_items<E: From<FormatError>>(
    input: &[u8],
    on_item: &mut dyn FnMut(MapItem) -> Result<(), E>,
) -> Result<(), E> {
    let mut failed = None;
    let mut hand_off = |item: MapItem| match on_item(item) {
        Ok(()) => true,
        Err(e) => {
            failed = Some(e);
            false
        }
    };
    let result = Parser { input, pos: 0 }.document(Some(&mut hand_off));
    if let Some(e) = failed {
        return Err(e);
    }
    let rest = result?;
    for item in rest.items {
        on_item(item)?;
    }
    Ok(())
}

/// Writes a map as indented JSON (`None` = tabs) with a final newline.
pub fn emit(map: &Map, indent: Option<usize>) -> Result<Vec<u8>, FormatError> {
    let mut w = Writer::new(indent);
    w.map(map, 0)?;
    w.out.push(b'\n');
    Ok(w.out)
}

/// Writes a single value (`--extract`), without a final newline, in the
/// same layout as [`emit`]. A string is written as a JSON string.
pub fn emit_value(value: &Value, indent: Option<usize>) -> Result<Vec<u8>, FormatError> {
    let mut w = Writer::new(indent);
    w.value(value, 0)?;
    Ok(w.out)
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// An open container while parsing.
enum Frame {
    /// An object and the key of the value being read, if any.
    Object(Map, Option<String>),
    /// An array.
    Array(List),
}

impl Frame {
    fn closer(&self) -> u8 {
        match self {
            Frame::Object(..) => b'}',
            Frame::Array(_) => b']',
        }
    }

    fn push(&mut self, value: Value) {
        match self {
            Frame::Object(map, key) => {
                let key = key.take().unwrap_or_default();
                map.push(key, value);
            }
            Frame::Array(list) => list.items.push(ListItem::Value(value)),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Frame::Object(map, _) => Value::Map(map),
            Frame::Array(list) => Value::List(list),
        }
    }
}

/// What the parser expects next inside the innermost container.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Just after `{` or `[`: the first item or the closer.
    Opened,
    /// After an item: `,` or the closer.
    AfterItem,
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// A parse error at the current position.
    fn error(&self, what: &str) -> FormatError {
        self.error_at(self.pos, what)
    }

    fn error_at(&self, pos: usize, what: &str) -> FormatError {
        let before = self.input.get(..pos).unwrap_or(self.input);
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        FormatError::parse(FORMAT, format!("{what} at line {line}, column {column}"))
    }

    fn unexpected(&self) -> FormatError {
        match self.peek() {
            None => self.error("unexpected end of input"),
            Some(_) => self.error("invalid character"),
        }
    }

    /// Reads the document. With `on_item`, each complete entry of the top
    /// object is handed to it instead of being kept; when it answers
    /// `false` the parse stops (with an error the caller replaces).
    fn document(
        mut self,
        mut on_item: Option<&mut dyn FnMut(MapItem) -> bool>,
    ) -> Result<Map, FormatError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.pos += 1,
            Some(b'[') => {
                return Err(FormatError::parse(
                    FORMAT,
                    "Expected JSON object start, got delimiter [ instead",
                ))
            }
            None => return Err(self.error("unexpected end of input")),
            Some(_) => {
                let start = self.pos;
                let value = self.scalar()?;
                return Err(self.error_at(
                    start,
                    &format!(
                        "Expected JSON object start, got a {} instead",
                        value.type_name()
                    ),
                ));
            }
        }
        let mut stack = vec![Frame::Object(Map::new(), None)];
        let mut state = State::Opened;
        loop {
            self.skip_ws();
            let Some(top) = stack.last_mut() else {
                return Err(self.error("internal parser state"));
            };
            let closer = top.closer();
            let byte = self.peek();
            if byte == Some(closer) {
                self.pos += 1;
                let Some(done) = stack.pop() else {
                    return Err(self.error("internal parser state"));
                };
                match stack.last_mut() {
                    Some(parent) => {
                        parent.push(done.into_value());
                        self.hand_off_root_entry(&mut stack, &mut on_item)?;
                    }
                    None => match done {
                        // Anything after the closing brace is ignored.
                        Frame::Object(map, _) => return Ok(map),
                        Frame::Array(_) => return Err(self.error("internal parser state")),
                    },
                }
                state = State::AfterItem;
                continue;
            }
            if state == State::AfterItem {
                if byte != Some(b',') {
                    return Err(self.unexpected());
                }
                self.pos += 1;
                self.skip_ws();
            }
            if let Frame::Object(_, key) = top {
                *key = Some(self.object_key()?);
            }
            self.skip_ws();
            match self.peek() {
                Some(b'{') => {
                    self.pos += 1;
                    stack.push(Frame::Object(Map::new(), None));
                    state = State::Opened;
                }
                Some(b'[') => {
                    self.pos += 1;
                    stack.push(Frame::Array(List::default()));
                    state = State::Opened;
                }
                _ => {
                    let value = self.scalar()?;
                    if let Some(top) = stack.last_mut() {
                        top.push(value);
                    }
                    self.hand_off_root_entry(&mut stack, &mut on_item)?;
                    state = State::AfterItem;
                }
            }
            if stack.len() > MAX_DEPTH {
                return Err(self.error("exceeded maximum nesting depth"));
            }
        }
    }

    /// With `on_item`, moves the entry just completed in the top object
    /// (when the top object is the innermost container) out to it.
    fn hand_off_root_entry(
        &self,
        stack: &mut [Frame],
        on_item: &mut Option<&mut dyn FnMut(MapItem) -> bool>,
    ) -> Result<(), FormatError> {
        let Some(on_item) = on_item.as_mut() else {
            return Ok(());
        };
        if let [Frame::Object(root, _)] = stack {
            if let Some(item) = root.items.pop() {
                if !on_item(item) {
                    return Err(self.error("stopped"));
                }
            }
        }
        Ok(())
    }

    /// `"key"` then `:`.
    fn object_key(&mut self) -> Result<String, FormatError> {
        if self.peek() != Some(b'"') {
            return Err(match self.peek() {
                None => self.error("unexpected end of input"),
                Some(_) => self.error("expected an object key"),
            });
        }
        let key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.unexpected());
        }
        self.pos += 1;
        Ok(key)
    }

    /// A string, number, `true`, `false` or `null`.
    fn scalar(&mut self) -> Result<Value, FormatError> {
        match self.peek() {
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            _ => Err(self.unexpected()),
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, FormatError> {
        let end = self.pos + word.len();
        if self.input.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(value)
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// A number: an integer literal within the `i64` range is an
    /// [`Value::Int`] (kept exactly, as sops 3.13.2 does; `-0` is 0), any
    /// other number a [`Value::Float`].
    fn number(&mut self) -> Result<Value, FormatError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        let integral = !matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        let text = self
            .input
            .get(start..self.pos)
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or_else(|| self.error_at(start, "invalid number"))?;
        if integral {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::Int(i));
            }
        }
        match crate::go::parse_float(text) {
            Some(f) => Ok(Value::Float(f)),
            None => Err(self.error_at(start, "number out of range for a float64")),
        }
    }

    /// A string literal starting at the current `"`.
    fn string(&mut self) -> Result<String, FormatError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            // Copy the run of ordinary bytes in one go.
            let run_start = self.pos;
            self.pos += plain_run_len(self.input.get(run_start..).unwrap_or_default());
            if let Some(run) = self.input.get(run_start..self.pos) {
                push_go_lossy(&mut out, run);
            }
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => return Err(self.error("invalid control character in string")),
                None => return Err(self.error_at(open, "unterminated string")),
            }
        }
    }

    /// An escape sequence starting at the current `\`.
    fn escape(&mut self, out: &mut String) -> Result<(), FormatError> {
        self.pos += 1;
        let Some(c) = self.peek() else {
            return Err(self.error("unexpected end of input"));
        };
        self.pos += 1;
        let simple = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                out.push(self.unicode_escape()?);
                return Ok(());
            }
            _ => return Err(self.error_at(self.pos - 1, "invalid escape in string")),
        };
        out.push(simple);
        Ok(())
    }

    /// The rune of `\uXXXX` (after the `u`), pairing surrogates like Go.
    fn unicode_escape(&mut self) -> Result<char, FormatError> {
        let first = self.hex4()?;
        if !(0xD800..0xE000).contains(&first) {
            return Ok(char::from_u32(first).unwrap_or('\u{FFFD}'));
        }
        // A valid pair needs a high surrogate followed by `\u` + low surrogate.
        if (0xD800..0xDC00).contains(&first)
            && self.input.get(self.pos..self.pos + 2) == Some(b"\\u")
        {
            let save = self.pos;
            self.pos += 2;
            if let Ok(second) = self.hex4() {
                if (0xDC00..0xE000).contains(&second) {
                    let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
                }
            }
            // Not a pair: the second escape is read on its own.
            self.pos = save;
        }
        Ok('\u{FFFD}')
    }

    fn hex4(&mut self) -> Result<u32, FormatError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.error("invalid \\u escape in string")),
            };
            v = v * 16 + u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }
}

/// Length of the run of bytes at the start of `bytes` that need no
/// decoding in a string: anything but `"`, `\` and control characters.
/// Eight bytes are checked at a time (SWAR), then the stopping byte is found
/// in its word.
fn plain_run_len(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let special = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
    let mut n = 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let v = u64::from_ne_bytes(w);
        let zero_in = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
        let quote = zero_in(v ^ (ONES * u64::from(b'"')));
        let backslash = zero_in(v ^ (ONES * u64::from(b'\\')));
        // Bytes below 0x20 (exact for bytes below 0x80; bytes at or above
        // 0x80 never set their high bit here because `!v` clears it).
        let control = v.wrapping_sub(ONES * 0x20) & !v & HIGHS;
        if quote | backslash | control != 0 {
            return n + chunk.iter().position(|&b| special(b)).unwrap_or(8);
        }
        n += 8;
    }
    n + chunks
        .remainder()
        .iter()
        .position(|&b| special(b))
        .unwrap_or(chunks.remainder().len())
}

/// Appends `bytes` to `out`, replacing every byte that is not part of a valid
/// UTF-8 sequence by U+FFFD, one replacement per byte (Go's rule, which
/// differs from [`String::from_utf8_lossy`] for truncated sequences).
pub(crate) fn push_go_lossy(out: &mut String, mut bytes: &[u8]) {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{FFFD}');
                bytes = rest.get(1..).unwrap_or_default();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

struct Writer {
    out: Vec<u8>,
    unit: Vec<u8>,
}

impl Writer {
    fn new(indent: Option<usize>) -> Self {
        let unit = match indent {
            None => b"\t".to_vec(),
            Some(n) => vec![b' '; n],
        };
        Writer {
            out: Vec::new(),
            unit,
        }
    }

    fn newline(&mut self, depth: usize) {
        self.out.push(b'\n');
        for _ in 0..depth {
            self.out.extend_from_slice(&self.unit);
        }
    }

    fn value(&mut self, value: &Value, depth: usize) -> Result<(), FormatError> {
        match value {
            Value::Map(m) => self.map(m, depth)?,
            Value::List(l) => self.list(l, depth)?,
            Value::Str(s) => write_string(&mut self.out, s.as_bytes()),
            Value::Bytes(b) => write_string(&mut self.out, b),
            Value::Time(t) => write_string(&mut self.out, t.as_bytes()),
            Value::Int(i) => self.out.extend_from_slice(i.to_string().as_bytes()),
            Value::Float(f) => match format_float_json(*f) {
                Some(s) => self.out.extend_from_slice(s.as_bytes()),
                None => {
                    return Err(FormatError::Emit(format!(
                        "json: unsupported value: {}",
                        crate::go::format_float_plain(*f)
                    )))
                }
            },
            Value::Bool(b) => self
                .out
                .extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Null => self.out.extend_from_slice(b"null"),
        }
        Ok(())
    }

    fn map(&mut self, map: &Map, depth: usize) -> Result<(), FormatError> {
        self.out.push(b'{');
        let mut first = true;
        for item in &map.items {
            let MapItem::Entry(entry) = item else {
                continue;
            };
            self.map_entry(entry, depth, first)?;
            first = false;
        }
        if !first {
            self.newline(depth);
        }
        self.out.push(b'}');
        Ok(())
    }

    /// One `"key": value` of an object at `depth` (a comma first unless it
    /// is the `first` entry).
    fn map_entry(&mut self, entry: &Entry, depth: usize, first: bool) -> Result<(), FormatError> {
        let Key::Str(key) = &entry.key else {
            return Err(FormatError::Emit(format!(
                "cannot write a non-string key of type {} as JSON",
                match &entry.key {
                    Key::Other(v) => v.type_name(),
                    Key::Str(_) => "str",
                }
            )));
        };
        if !first {
            self.out.push(b',');
        }
        self.newline(depth + 1);
        write_string(&mut self.out, key.as_bytes());
        self.out.extend_from_slice(b": ");
        self.value(&entry.value, depth + 1)
    }

    fn list(&mut self, list: &List, depth: usize) -> Result<(), FormatError> {
        self.out.push(b'[');
        let mut first = true;
        for value in list.values() {
            if !first {
                self.out.push(b',');
            }
            first = false;
            self.newline(depth + 1);
            self.value(value, depth + 1)?;
        }
        if !first {
            self.newline(depth);
        }
        self.out.push(b']');
        Ok(())
    }
}

/// Writes one JSON document whose top object arrives entry by entry, in the
/// exact layout [`emit`] gives the whole object: feed the entries in order
/// with [`RootWriter::item`], drain the output with
/// [`RootWriter::drain_into`] whenever convenient, and end with
/// [`RootWriter::finish`], which writes a last entry (the `sops` metadata)
/// and closes the object.
pub struct RootWriter {
    w: Writer,
    /// Whether no entry has been written yet.
    first: bool,
}

impl RootWriter {
    /// A writer with the indentation of [`emit`] (`None` = tabs).
    pub fn new(indent: Option<usize>) -> Self {
        let mut w = Writer::new(indent);
        w.out.reserve(1 << 16);
        w.out.push(b'{');
        RootWriter { w, first: true }
    }

    /// A writer of the entries that follow entries written by another
    /// writer of the same object: no `{`, and a `,` before its first entry.
    pub fn continuing(indent: Option<usize>) -> Self {
        let mut w = Writer::new(indent);
        w.out.reserve(1 << 16);
        RootWriter { w, first: false }
    }

    /// Whether an entry was written (by this writer, or before it for a
    /// [`RootWriter::continuing`] one).
    pub fn has_entries(&self) -> bool {
        !self.first
    }

    /// Closes the object after the entries written (with the final
    /// newline of [`emit`]) and returns the output not drained yet. An
    /// error if no entry was written.
    pub fn finish_plain(mut self) -> Result<Vec<u8>, FormatError> {
        if self.first {
            return Err(FormatError::Emit("json: no entry written".to_owned()));
        }
        self.w.newline(0);
        self.w.out.extend_from_slice(b"}\n");
        Ok(self.w.out)
    }

    /// The output not drained yet, without closing anything.
    pub fn into_output(self) -> Vec<u8> {
        self.w.out
    }

    /// Writes the next item of the top object (comments are not written
    /// in JSON).
    pub fn item(&mut self, item: &MapItem) -> Result<(), FormatError> {
        if let MapItem::Entry(entry) = item {
            self.w.map_entry(entry, 0, self.first)?;
            self.first = false;
        }
        Ok(())
    }

    /// Moves the output written so far into `sink`.
    pub fn drain_into(&mut self, sink: &mut dyn std::io::Write) -> std::io::Result<()> {
        sink.write_all(&self.w.out)?;
        self.w.out.clear();
        Ok(())
    }

    /// Length of the output not drained yet.
    pub fn pending_output(&self) -> usize {
        self.w.out.len()
    }

    /// Takes the output not drained yet (no copy; the writer continues
    /// into a new buffer).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.w.out)
    }

    /// Writes `last` as the last entry, closes the object (with the final
    /// newline of [`emit`]) and returns the output not drained yet.
    pub fn finish(mut self, last: &Entry) -> Result<Vec<u8>, FormatError> {
        self.w.map_entry(last, 0, self.first)?;
        self.w.newline(0);
        self.w.out.extend_from_slice(b"}\n");
        Ok(self.w.out)
    }
}

/// Writes `bytes` as a JSON string the way Go's `json.Marshal` does.
fn write_string(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    out.reserve(bytes.len() + 1);
    let mut rest = bytes;
    loop {
        // Copy the longest run of bytes written as they are in one go.
        let (run, tail) = rest.split_at(plain_json_run_len(rest));
        out.extend_from_slice(run);
        rest = tail;
        let Some((&b, tail)) = rest.split_first() else {
            break;
        };
        if b < 0x80 {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                b'<' | b'>' | b'&' | 0..=0x1f => {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 0xf)]);
                }
                _ => out.push(b),
            }
            rest = tail;
            continue;
        }
        let (ch, len) = decode_char(rest);
        match ch {
            None => out.extend_from_slice(b"\\ufffd"),
            Some('\u{2028}') => out.extend_from_slice(b"\\u2028"),
            Some('\u{2029}') => out.extend_from_slice(b"\\u2029"),
            Some(_) => out.extend_from_slice(rest.get(..len).unwrap_or_default()),
        }
        rest = rest.get(len..).unwrap_or_default();
    }
    out.push(b'"');
}

#[cfg(test)]
mod write_string_tests {
    use super::write_string;

    fn written(s: &[u8]) -> String {
        let mut out = Vec::new();
        write_string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_go_around_bulk_copied_runs() {
        assert_eq!(written(b"plain run ~\x7f"), "\"plain run ~\x7f\"");
        assert_eq!(
            written("a\"b\\c<d>e&f\ng\u{1}h\u{2028}é".as_bytes()),
            "\"a\\\"b\\\\c\\u003cd\\u003ee\\u0026f\\ng\\u0001h\\u2028é\""
        );
        assert_eq!(written(b"ab\xffcd"), "\"ab\\ufffdcd\"");
        assert_eq!(written(b""), "\"\"");
    }
}

/// Whether `write_string` writes byte `b` unchanged: printable ASCII other
/// than `"`, `\\`, `<`, `>` and `&`.
fn is_plain_json_byte(b: u8) -> bool {
    (0x20..0x80).contains(&b) && !matches!(b, b'"' | b'\\' | b'<' | b'>' | b'&')
}

/// Length of the run of bytes at the start of `bytes` that `write_string`
/// copies unchanged ([`is_plain_json_byte`]). Eight bytes are checked at a
/// time (SWAR: a word has a special byte when one of its bytes has the high
/// bit set, is below 0x20 or equals one of the five escaped characters),
/// then the stopping byte is found in its word.
fn plain_json_run_len(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut n = 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let v = u64::from_ne_bytes(w);
        let special = (v & HIGHS)
            | (v.wrapping_sub(ONES * 0x20) & !v & HIGHS)
            | zero_in(v ^ (ONES * u64::from(b'"')))
            | zero_in(v ^ (ONES * u64::from(b'\\')))
            | zero_in(v ^ (ONES * u64::from(b'<')))
            | zero_in(v ^ (ONES * u64::from(b'>')))
            | zero_in(v ^ (ONES * u64::from(b'&')));
        if special != 0 {
            return n + chunk
                .iter()
                .position(|&b| !is_plain_json_byte(b))
                .unwrap_or(8);
        }
        n += 8;
    }
    n + chunks
        .remainder()
        .iter()
        .position(|&b| !is_plain_json_byte(b))
        .unwrap_or(chunks.remainder().len())
}

/// Decodes the UTF-8 sequence at the start of `bytes`: the char and its
/// length, or `None` and 1 for an invalid byte.
fn decode_char(bytes: &[u8]) -> (Option<char>, usize) {
    let want = match bytes.first() {
        Some(0xC2..=0xDF) => 2,
        Some(0xE0..=0xEF) => 3,
        Some(0xF0..=0xF4) => 4,
        _ => 1,
    };
    match bytes
        .get(..want)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.chars().next())
    {
        Some(c) => (Some(c), want),
        None => (None, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Map {
        parse(s.as_bytes()).unwrap()
    }

    fn e(m: &Map) -> String {
        String::from_utf8(emit(m, None).unwrap()).unwrap()
    }

    #[test]
    fn integers_in_the_i64_range_are_exact_other_numbers_floats() {
        let m = p(concat!(
            r#"{"a": 30, "b": -17, "c": 9007199254740993, "d": 2.5E-5, "e": -0,"#,
            r#" "f": 9223372036854775807, "g": 9223372036854775808, "h": 1.0, "i": 1e10,"#,
            r#" "j": -9223372036854775808, "k": -9223372036854775809}"#
        ));
        assert_eq!(m.get("a"), Some(&Value::Int(30)));
        assert_eq!(m.get("b"), Some(&Value::Int(-17)));
        assert_eq!(m.get("c"), Some(&Value::Int(9007199254740993)));
        assert_eq!(m.get("d"), Some(&Value::Float(2.5e-5)));
        assert_eq!(m.get("e"), Some(&Value::Int(0)));
        assert_eq!(m.get("f"), Some(&Value::Int(i64::MAX)));
        assert_eq!(m.get("g"), Some(&Value::Float(9223372036854775808.0)));
        assert_eq!(m.get("h"), Some(&Value::Float(1.0)));
        assert_eq!(m.get("i"), Some(&Value::Float(1e10)));
        assert_eq!(m.get("j"), Some(&Value::Int(i64::MIN)));
        assert_eq!(m.get("k"), Some(&Value::Float(-9223372036854775808.0)));
        assert_eq!(
            e(&m),
            concat!(
                "{\n\t\"a\": 30,\n\t\"b\": -17,\n\t\"c\": 9007199254740993,\n\t\"d\": 0.000025,\n",
                "\t\"e\": 0,\n\t\"f\": 9223372036854775807,\n\t\"g\": 9223372036854776000,\n",
                "\t\"h\": 1,\n\t\"i\": 10000000000,\n\t\"j\": -9223372036854775808,\n",
                "\t\"k\": -9223372036854776000\n}\n"
            )
        );
    }

    #[test]
    fn number_overflow_is_an_error() {
        assert!(parse(b"{\"a\": 1e400}").is_err());
        assert!(parse(b"{\"a\": -1e400}").is_err());
        // Underflow rounds to zero like Go.
        assert_eq!(p(r#"{"a": 1e-400}"#).get("a"), Some(&Value::Float(0.0)));
    }

    #[test]
    fn invalid_numbers_are_errors() {
        for bad in ["01", "-", "1.", ".5", "1e", "+1", "1e+", "0x10", "--1"] {
            let doc = format!("{{\"a\": {bad}}}");
            assert!(parse(doc.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn top_level_must_be_an_object() {
        let err = parse(b"[1, 2]").unwrap_err();
        assert_eq!(
            err.to_string(),
            "json: Expected JSON object start, got delimiter [ instead"
        );
        let err = parse(b"\"secret-value\"").unwrap_err().to_string();
        assert!(err.contains("Expected JSON object start"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        assert!(parse(b"").is_err());
        assert!(parse(b"   ").is_err());
    }

    #[test]
    fn keys_keep_order_and_duplicates() {
        let m = p(r#"{"b": 1, "a": 2, "b": 3}"#);
        let keys: Vec<_> = m.entries().map(|e| e.key.as_str().unwrap()).collect();
        assert_eq!(keys, ["b", "a", "b"]);
        assert_eq!(e(&m), "{\n\t\"b\": 1,\n\t\"a\": 2,\n\t\"b\": 3\n}\n");
    }

    #[test]
    fn trailing_content_is_ignored() {
        let m = p(r#"{"a": "x"} garbage [ {"#);
        assert_eq!(m.get("a"), Some(&Value::Str("x".into())));
    }

    #[test]
    fn truncated_and_malformed_documents_fail() {
        for bad in [
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\": 1",
            "{\"a\": 1,}",
            "{\"a\" 1}",
            "{a: 1}",
            "{\"a\": [1,]}",
            "{\"a\": [1 2]}",
            "{\"a\": tru}",
            "{\"a\": nul}",
            "{\"a\": \"x}",
            "{\"a\": \"\n\"}",
            "{\"a\": \"\\x\"}",
            "{\"a\": \"\\u12\"}",
            "{,}",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn errors_name_position_not_content() {
        let err = parse(b"{\n  \"pw\": hunter2}").unwrap_err().to_string();
        assert!(err.contains("line 2, column 9"), "{err}");
        assert!(!err.contains("hunter"), "{err}");
    }

    #[test]
    fn plain_run_len_stops_at_the_first_special_byte() {
        let naive = |b: &[u8]| {
            b.iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(b.len())
        };
        let mut cases: Vec<Vec<u8>> = vec![b"".to_vec(), b"abc".to_vec()];
        for len in 0..20 {
            for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                for at in 0..=len {
                    let mut v: Vec<u8> = (0..len)
                        .map(|i| b"aZ09 \x7f\x80\xff\x20\x21"[i % 10])
                        .collect();
                    if at < len {
                        v[at] = special;
                    }
                    cases.push(v);
                }
            }
        }
        for c in cases {
            assert_eq!(plain_run_len(&c), naive(&c), "{c:?}");
        }
    }

    proptest! {
        #[test]
        fn plain_run_len_matches_a_byte_scan(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let naive = bytes
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(bytes.len());
            prop_assert_eq!(plain_run_len(&bytes), naive);
        }

        #[test]
        fn plain_json_run_len_matches_a_byte_scan(
            bytes in proptest::collection::vec(
                prop_oneof![
                    4 => 0x20u8..0x7f,
                    1 => any::<u8>(),
                    1 => proptest::sample::select(vec![b'"', b'\\', b'<', b'>', b'&', 0x1f, 0x7f, 0x80]),
                ],
                0..64,
            )
        ) {
            let naive = bytes
                .iter()
                .position(|&c| !is_plain_json_byte(c))
                .unwrap_or(bytes.len());
            prop_assert_eq!(plain_json_run_len(&bytes), naive);
        }
    }

    #[test]
    fn string_escapes_decode() {
        let m = p(r#"{"a": "caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t"}"#);
        assert_eq!(
            m.get("a"),
            Some(&Value::Str("café 😀 \"q\" \\ / \u{8}\u{c}\n\r\t".into()))
        );
    }

    #[test]
    fn lone_surrogates_become_replacement_chars() {
        let m = p(r#"{"a": "\ud800x\udc00\ud83d\u0041\ud800\ud800\udc00"}"#);
        assert_eq!(
            m.get("a"),
            Some(&Value::Str(
                "\u{FFFD}x\u{FFFD}\u{FFFD}A\u{FFFD}\u{10000}".into()
            ))
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_chars_like_go() {
        // One U+FFFD per invalid byte (Go), not per maximal subpart.
        let m = parse(b"{\"a\": \"x\xe2\x82Ay\xff\", \"\xfe\": 1}").unwrap();
        assert_eq!(
            m.get("a"),
            Some(&Value::Str("x\u{FFFD}\u{FFFD}Ay\u{FFFD}".into()))
        );
        assert_eq!(m.get("\u{FFFD}"), Some(&Value::Int(1)));
    }

    #[test]
    fn strings_are_escaped_like_go_marshal() {
        let mut m = Map::new();
        m.push(
            "k<",
            Value::Str("\u{8}\u{c}<>&\u{2028}\u{2029}\u{7f}\u{0}\u{7}é\"\\\n\r\t/".into()),
        );
        m.push("bytes", Value::Bytes(b"a\xffb".to_vec()));
        assert_eq!(
            e(&m),
            "{\n\t\"k\\u003c\": \"\\b\\f\\u003c\\u003e\\u0026\\u2028\\u2029\u{7f}\\u0000\\u0007é\\\"\\\\\\n\\r\\t/\",\n\t\"bytes\": \"a\\ufffdb\"\n}\n"
        );
    }

    #[test]
    fn layout_matches_go_indent() {
        let m = p(r#"{"a": {}, "b": [], "c": {"d": [1, {"e": null}, []]}, "f": true}"#);
        assert_eq!(
            e(&m),
            "{\n\t\"a\": {},\n\t\"b\": [],\n\t\"c\": {\n\t\t\"d\": [\n\t\t\t1,\n\t\t\t{\n\t\t\t\t\"e\": null\n\t\t\t},\n\t\t\t[]\n\t\t]\n\t},\n\t\"f\": true\n}\n"
        );
        let two = String::from_utf8(emit(&m, Some(2)).unwrap()).unwrap();
        assert!(
            two.starts_with("{\n  \"a\": {},\n  \"b\": [],\n  \"c\": {\n    \"d\": [\n      1,")
        );
        let zero = String::from_utf8(emit(&m, Some(0)).unwrap()).unwrap();
        assert!(zero.starts_with("{\n\"a\": {},\n\"b\": [],\n\"c\": {\n\"d\": [\n1,"));
        assert_eq!(e(&Map::new()), "{}\n");
    }

    #[test]
    fn scalars_are_written_like_go() {
        let mut m = Map::new();
        m.push("i", Value::Int(-5));
        m.push("f", Value::Float(1e21));
        m.push("g", Value::Float(1e-7));
        m.push("h", Value::Float(25.0));
        m.push("t", Value::Time("2024-01-02T00:00:00Z".into()));
        m.push_comment(" dropped");
        m.push("n", Value::Null);
        assert_eq!(
            e(&m),
            "{\n\t\"i\": -5,\n\t\"f\": 1e+21,\n\t\"g\": 1e-7,\n\t\"h\": 25,\n\t\"t\": \"2024-01-02T00:00:00Z\",\n\t\"n\": null\n}\n"
        );
    }

    #[test]
    fn non_finite_floats_cannot_be_written() {
        let mut m = Map::new();
        m.push("x", Value::Float(f64::NAN));
        assert!(matches!(emit(&m, None), Err(FormatError::Emit(_))));
        assert!(emit_value(&Value::Float(f64::INFINITY), None).is_err());
    }

    #[test]
    fn non_string_keys_cannot_be_written() {
        let mut m = Map::new();
        m.push(Key::Other(Box::new(Value::Int(1))), Value::Null);
        assert!(emit(&m, None).is_err());
    }

    #[test]
    fn emit_value_has_no_final_newline() {
        assert_eq!(emit_value(&Value::Float(30.0), None).unwrap(), b"30");
        assert_eq!(
            emit_value(&Value::Str("a\"".into()), None).unwrap(),
            b"\"a\\\"\""
        );
        let list = Value::List(List {
            items: vec![
                ListItem::Value(Value::Str("a".into())),
                ListItem::Comment(crate::tree::Comment::new("c")),
                ListItem::Value(Value::Int(1)),
            ],
        });
        assert_eq!(emit_value(&list, None).unwrap(), b"[\n\t\"a\",\n\t1\n]");
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let deep = format!("{{\"a\": {}", "[".repeat(MAX_DEPTH + 5));
        let err = parse(deep.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("depth"), "{err}");
        let ok = format!(
            "{{\"a\": {}{}}}",
            "[".repeat(MAX_DEPTH - 2),
            "]".repeat(MAX_DEPTH - 2)
        );
        let m = parse(ok.as_bytes()).unwrap();
        let out = emit(&m, Some(0)).unwrap();
        assert_eq!(parse(&out).unwrap(), m);
    }

    #[test]
    fn large_documents_round_trip() {
        let mut doc = String::from("{");
        for i in 0..50_000 {
            doc.push_str(&format!(
                "\"key{i}\": [\"{}\", 1.5e3, 7],",
                "v\\n".repeat(25)
            ));
        }
        doc.push_str("\"big\": \"");
        doc.push_str(&"x".repeat(4_000_000));
        doc.push_str("\"}");
        let m = parse(doc.as_bytes()).unwrap();
        assert_eq!(m.items.len(), 50_001);
        let out = emit(&m, None).unwrap();
        // `1.5e3` is the float 1500, written `1500`: the second read has
        // an integer there, and writes the same bytes.
        let again = parse(&out).unwrap();
        let numbers = |doc: &Map| match doc.get("key7") {
            Some(Value::List(l)) => l.values().skip(1).cloned().collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        assert_eq!(numbers(&m), [Value::Float(1500.0), Value::Int(7)]);
        assert_eq!(numbers(&again), [Value::Int(1500), Value::Int(7)]);
        assert!(emit(&again, None).unwrap() == out);
    }

    // ----- corpus ---------------------------------------------------------

    use crate::corpus::read;

    #[test]
    fn corpus_plaintext_round_trips_to_sops_output() {
        for (input, expected) in [
            ("json_nested/input.json", "json_nested/expected.json"),
            ("json_numbers/input.json", "json_numbers/expected.json"),
            (
                "json_unicode_escapes/input.json",
                "json_unicode_escapes/expected.json",
            ),
            (
                "json_empty_containers/input.json",
                "json_empty_containers/expected.json",
            ),
            (
                "json_empty_toplevel_object/input.json",
                "json_empty_toplevel_object/expected.json",
            ),
            (
                "json_age_example/input.json",
                "json_age_example/expected.json",
            ),
            (
                "age_and_pgp_json_decrypt_with_pgp/input.json",
                "age_and_pgp_json_decrypt_with_pgp/expected.json",
            ),
        ] {
            let out = emit(&parse(&read(input)).unwrap(), None).unwrap();
            let mut expected = String::from_utf8_lossy(&read(expected)).into_owned();
            if input.starts_with("json_numbers") {
                // The fixture is sops 3.11's output; 3.13.2 keeps the
                // integer above 2^53 exact.
                expected = expected.replace("9007199254740992", "9007199254740993");
            }
            assert_eq!(String::from_utf8_lossy(&out), expected, "{input}");
        }
    }

    #[test]
    fn corpus_encrypted_files_parse_and_reemit_identically() {
        for file in [
            "json_nested/encrypted.json",
            "json_numbers/encrypted.json",
            "json_unicode_escapes/encrypted.json",
            "json_empty_containers/encrypted.json",
            "json_empty_toplevel_object/encrypted.json",
            "json_age_example/encrypted.json",
            "age_and_pgp_json_decrypt_with_pgp/encrypted.json",
            "compat_json_v3_13/encrypted.json",
            "legacy_json_v3_5/encrypted.json",
            "binary_bytes/encrypted.bin",
            "binary_text_file/encrypted.txt",
            "legacy_binary_v3_5/encrypted.txt",
        ] {
            let bytes = read(file);
            let m = parse(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
            let Some(Value::Map(meta)) = m.get("sops") else {
                panic!("{file}: no sops map");
            };
            assert!(meta.get("mac").is_some(), "{file}");
            assert!(meta.get("version").is_some(), "{file}");
            let out = emit(&m, None).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&bytes),
                "{file}"
            );
        }
        for file in [
            "legacy_json_v3_5/encrypted.json",
            "legacy_binary_v3_5/encrypted.txt",
        ] {
            let legacy = parse(&read(file)).unwrap();
            let Some(Value::Map(meta)) = legacy.get("sops") else {
                panic!("{file}: no sops map");
            };
            for key in ["kms", "gcp_kms", "azure_kv"] {
                assert_eq!(meta.get(key), Some(&Value::Null), "{file}: {key}");
            }
        }
    }

    #[test]
    fn corpus_toplevel_array_is_rejected() {
        let err = parse(&read("json_toplevel_array/input.json")).unwrap_err();
        assert!(err
            .to_string()
            .contains("Expected JSON object start, got delimiter [ instead"));
    }

    // ----- properties -----------------------------------------------------

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<String>().prop_map(Value::Str),
            // An integral float inside the i64 range prints as an integer
            // and reads back as an Int: such floats are not round trips.
            any::<f64>()
                .prop_filter("finite, not an i64", |f| f.is_finite()
                    && (f.fract() != 0.0 || f.abs() >= 9.3e18))
                .prop_map(Value::Float),
            any::<i64>().prop_map(Value::Int),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ]
    }

    fn tree() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec((any::<String>(), inner.clone()), 0..6).prop_map(|kv| {
                    let mut m = Map::new();
                    for (k, v) in kv {
                        m.push(k, v);
                    }
                    Value::Map(m)
                }),
                prop::collection::vec(inner, 0..6).prop_map(|vs| {
                    Value::List(List {
                        items: vs.into_iter().map(ListItem::Value).collect(),
                    })
                }),
            ]
        })
    }

    fn document() -> impl Strategy<Value = Map> {
        prop::collection::vec((any::<String>(), tree()), 0..6).prop_map(|kv| {
            let mut m = Map::new();
            for (k, v) in kv {
                m.push(k, v);
            }
            m
        })
    }

    proptest! {
        #[test]
        fn parse_emit_round_trip(m in document(), indent in prop::option::of(0usize..5)) {
            let out = emit(&m, indent).unwrap();
            prop_assert_eq!(parse(&out).unwrap(), m);
        }

        #[test]
        fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_jsonish(s in "[{}\\[\\]\",:0-9a-z\\\\ .eE+-]{0,64}") {
            let _ = parse(s.as_bytes());
        }

        #[test]
        fn go_lossy_keeps_valid_utf8(s in any::<String>()) {
            let mut out = String::new();
            push_go_lossy(&mut out, s.as_bytes());
            prop_assert_eq!(out, s);
        }
    }
}
