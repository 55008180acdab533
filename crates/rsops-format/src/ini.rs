//! The INI store.
//!
//! sops reads and writes INI through go-ini v1 (`AllowNonUniqueSections`,
//! every other option at its default); this module reproduces that
//! library's behaviour byte for byte where sops depends on it:
//!
//! * Keys before the first header belong to the section `DEFAULT`, which is
//!   always the first item of the tree (empty or not). Repeated sections stay
//!   separate items; a key repeated inside one section keeps its first
//!   position and its last value.
//! * `=` or `:` separates key and value. Values are strings: surrounding
//!   `"…"`/`'…'` are stripped, `` `…` `` and `"""…"""` may span lines, a
//!   trailing `\` continues the value on the next line, and the first `#` or
//!   `;` of an unquoted value starts an inline comment.
//! * Comment lines above a header become the first item of that section;
//!   comments above a key (and its inline comment) become one comment item
//!   right after the key. The text loses its leading `;`/`#` and spaces.
//! * Writing aligns `=` per section, quotes values like go-ini and puts a
//!   blank line between sections. In the `[sops]` section newlines in string
//!   values are written as two-character `\n` (3.11 metadata encoding).

use std::collections::HashMap;

use crate::dotenv::{key_text, scalar_text};
use crate::error::FormatError;
use crate::flatten::replace_bytes;
use crate::go;
use crate::json::push_go_lossy;
use crate::tree::{Key, List, ListItem, Map, MapItem, Value};

/// Name used in parse errors.
const FORMAT: &str = "ini";

/// The section holding keys that precede any header.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// The metadata section, whose string values get escaped newlines.
const SOPS_SECTION: &str = "sops";

/// The characters that separate a key from its value (go-ini default).
const KEY_VALUE_DELIMITERS: &[u8] = b"=:";

/// Parses an INI file: every section is a top-level entry holding a map.
///
/// Errors name the line and the kind of problem, never the content.
pub fn parse(input: &[u8]) -> Result<Map, FormatError> {
    let file = Reader::new(input).read()?;
    Ok(file.into_tree())
}

/// Writes a map of sections as an INI file.
///
/// Every top-level entry must hold a map (else sops's
/// `Error encoding section: Section values should always be TreeBranches`);
/// top-level comments are ignored.
pub fn emit(map: &Map) -> Result<Vec<u8>, FormatError> {
    let sections = sections_from_tree(map)?;
    Ok(write_sections(&sections))
}

// ---------------------------------------------------------------------------
// The file model shared by reading and writing
// ---------------------------------------------------------------------------

/// One key of a section.
#[derive(Debug, Default)]
struct IniKey {
    name: Vec<u8>,
    value: Vec<u8>,
    /// Raw comment text (with its `;`/`#` markers), empty if none.
    comment: Vec<u8>,
}

/// One section, in file order.
#[derive(Debug, Default)]
struct Section {
    name: Vec<u8>,
    comment: Vec<u8>,
    keys: Vec<IniKey>,
    index: HashMap<Vec<u8>, usize>,
}

impl Section {
    fn new(name: Vec<u8>) -> Self {
        Section {
            name,
            ..Section::default()
        }
    }

    /// go-ini `NewKey`: a repeated name keeps its place and takes the new
    /// value. Returns the key's position.
    fn set_key(&mut self, name: Vec<u8>, value: Vec<u8>) -> usize {
        if let Some(&i) = self.index.get(&name) {
            if let Some(k) = self.keys.get_mut(i) {
                k.value = value;
            }
            return i;
        }
        self.index.insert(name.clone(), self.keys.len());
        self.keys.push(IniKey {
            name,
            value,
            comment: Vec::new(),
        });
        self.keys.len() - 1
    }
}

struct File {
    sections: Vec<Section>,
}

impl File {
    /// The sops tree of the file (sops `treeItemFromSection`).
    fn into_tree(self) -> Map {
        let mut tree = Map::new();
        for section in self.sections {
            let mut items = Map::new();
            if !section.comment.is_empty() {
                items.push_comment(strip_comment_char(&section.comment));
            }
            for key in section.keys {
                items.push(lossy(&key.name), Value::from_bytes(key.value));
                if !key.comment.is_empty() {
                    items.push_comment(strip_comment_char(&key.comment));
                }
            }
            tree.push(lossy(&section.name), Value::Map(items));
        }
        tree
    }
}

fn lossy(bytes: &[u8]) -> String {
    let mut s = String::new();
    push_go_lossy(&mut s, bytes);
    s
}

/// sops `stripCommentChar`: drops the leading run of `;`/` ` (or `#`/` `).
fn strip_comment_char(comment: &[u8]) -> String {
    let marker = match comment.first() {
        Some(b';') => b';',
        Some(b'#') => b'#',
        _ => return lossy(comment),
    };
    let start = comment
        .iter()
        .position(|b| *b != marker && *b != b' ')
        .unwrap_or(comment.len());
    lossy(comment.get(start..).unwrap_or_default())
}

// ---------------------------------------------------------------------------
// Unicode whitespace helpers (Go `unicode.IsSpace`, `bytes.TrimSpace`)
// ---------------------------------------------------------------------------

/// The char starting `bytes` and its length, if valid UTF-8.
fn first_char(bytes: &[u8]) -> Option<(char, usize)> {
    let len = match bytes.first()? {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return None,
    };
    let s = std::str::from_utf8(bytes.get(..len)?).ok()?;
    s.chars().next().map(|c| (c, len))
}

/// The char ending `bytes` and its length, if valid UTF-8.
fn last_char(bytes: &[u8]) -> Option<(char, usize)> {
    for len in 1..=4.min(bytes.len()) {
        let start = bytes.len() - len;
        let tail = bytes.get(start..)?;
        if let Ok(s) = std::str::from_utf8(tail) {
            return s.chars().next().map(|c| (c, len));
        }
        // Only keep looking back over continuation bytes.
        if tail.first().is_some_and(|b| b & 0xC0 != 0x80) {
            return None;
        }
    }
    None
}

fn trim_left_space(mut bytes: &[u8]) -> &[u8] {
    while let Some((c, len)) = first_char(bytes) {
        if !c.is_whitespace() {
            break;
        }
        bytes = bytes.get(len..).unwrap_or_default();
    }
    bytes
}

fn trim_right_space(mut bytes: &[u8]) -> &[u8] {
    while let Some((c, len)) = last_char(bytes) {
        if !c.is_whitespace() {
            break;
        }
        bytes = bytes.get(..bytes.len() - len).unwrap_or_default();
    }
    bytes
}

fn trim_space(bytes: &[u8]) -> &[u8] {
    trim_right_space(trim_left_space(bytes))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(haystack.len());
    }
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn find_any(haystack: &[u8], set: &[u8]) -> Option<usize> {
    haystack.iter().position(|b| set.contains(b))
}

// ---------------------------------------------------------------------------
// Reading (go-ini `parser.go`)
// ---------------------------------------------------------------------------

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    eof: bool,
    /// 1-based number of the last line read.
    line_no: usize,
    /// Pending comment text (raw lines with their markers).
    comment: Vec<u8>,
}

impl<'a> Reader<'a> {
    fn new(input: &'a [u8]) -> Self {
        Reader {
            input: skip_bom(input),
            pos: 0,
            eof: false,
            line_no: 0,
            comment: Vec::new(),
        }
    }

    fn error(&self, what: &str) -> FormatError {
        FormatError::parse(FORMAT, format!("{what} at line {}", self.line_no))
    }

    /// The next line including its `\n` (Go `ReadBytes('\n')`); sets `eof`
    /// when no newline ends it.
    fn read_line(&mut self) -> &'a [u8] {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        self.line_no += 1;
        match rest.iter().position(|b| *b == b'\n') {
            Some(i) => {
                self.pos += i + 1;
                rest.get(..=i).unwrap_or_default()
            }
            None => {
                self.pos = self.input.len();
                self.eof = true;
                rest
            }
        }
    }

    fn read(mut self) -> Result<File, FormatError> {
        let mut sections = vec![Section::new(DEFAULT_SECTION.as_bytes().to_vec())];
        let mut auto_increment = 1usize;
        while !self.eof {
            let raw = self.read_line();
            let line = trim_left_space(raw);
            let Some(&first) = line.first() else {
                continue;
            };
            if first == b'#' || first == b';' {
                self.comment.extend_from_slice(line);
                continue;
            }
            if first == b'[' {
                let section = self.section_header(line)?;
                sections.push(section);
                auto_increment = 1;
                continue;
            }
            let (mut name, offset) = self.key_name(line)?;
            if name == b"-" {
                name = format!("#{auto_increment}").into_bytes();
                auto_increment += 1;
            }
            let value = self.value(line.get(offset..).unwrap_or_default())?;
            if name.is_empty() {
                return Err(self.error("empty key name"));
            }
            let comment = trim_space(&self.comment).to_vec();
            self.comment.clear();
            let Some(section) = sections.last_mut() else {
                return Err(self.error("internal parser state"));
            };
            let i = section.set_key(name, value);
            if let Some(key) = section.keys.get_mut(i) {
                key.comment = comment;
            }
        }
        Ok(File { sections })
    }

    /// `[name]` (up to the last `]`), with an optional trailing comment.
    fn section_header(&mut self, line: &[u8]) -> Result<Section, FormatError> {
        let Some(close) = line.iter().rposition(|b| *b == b']') else {
            return Err(self.error("unclosed section header"));
        };
        let name = line.get(1..close).unwrap_or_default();
        if name.is_empty() {
            return Err(self.error("empty section name"));
        }
        let after = line.get(close + 1..).unwrap_or_default();
        if let Some(i) = find_any(after, b"#;") {
            self.comment
                .extend_from_slice(after.get(i..).unwrap_or_default());
        }
        let mut section = Section::new(name.to_vec());
        section.comment = trim_space(&self.comment).to_vec();
        self.comment.clear();
        Ok(section)
    }

    /// go-ini `readKeyName`: the key and the offset just past the delimiter.
    fn key_name(&self, line: &[u8]) -> Result<(Vec<u8>, usize), FormatError> {
        let quote: &[u8] = match line.first() {
            Some(b'"') if line.len() > 6 && line.starts_with(b"\"\"\"") => b"\"\"\"",
            Some(b'"') => b"\"",
            Some(b'`') => b"`",
            _ => b"",
        };
        if quote.is_empty() {
            return match find_any(line, KEY_VALUE_DELIMITERS) {
                None => Err(self.error("key-value delimiter not found")),
                Some(0) => Err(self.error("empty key name")),
                Some(end) => Ok((
                    trim_space(line.get(..end).unwrap_or_default()).to_vec(),
                    end + 1,
                )),
            };
        }
        let start = quote.len();
        let Some(pos) = find(line.get(start..).unwrap_or_default(), quote).map(|p| p + start)
        else {
            return Err(self.error("missing closing key quote"));
        };
        let Some(i) = find_any(
            line.get(pos + start..).unwrap_or_default(),
            KEY_VALUE_DELIMITERS,
        ) else {
            return Err(self.error("key-value delimiter not found"));
        };
        let name = trim_space(line.get(start..pos).unwrap_or_default()).to_vec();
        Ok((name, pos + i + start + 1))
    }

    /// go-ini `readValue` (no Python multi-line values, no unescaping).
    fn value(&mut self, input: &[u8]) -> Result<Vec<u8>, FormatError> {
        let line = trim_left_space(input);
        if line.is_empty() {
            return Ok(Vec::new());
        }
        let quote: &[u8] = if line.len() > 3 && line.starts_with(b"\"\"\"") {
            b"\"\"\""
        } else if line.first() == Some(&b'`') {
            b"`"
        } else {
            b""
        };
        if !quote.is_empty() {
            let body = line.get(quote.len()..).unwrap_or_default();
            return match rfind(body, quote) {
                Some(pos) => Ok(body.get(..pos).unwrap_or_default().to_vec()),
                None => self.multiline(body.to_vec(), quote),
            };
        }
        let mut line = trim_space(line);
        if line.last() == Some(&b'\\') {
            return Ok(self.continuation(line.get(..line.len() - 1).unwrap_or_default().to_vec()));
        }
        if let Some(i) = find_any(line, b"#;") {
            self.comment
                .extend_from_slice(line.get(i..).unwrap_or_default());
            line = trim_space(line.get(..i).unwrap_or_default());
        }
        if has_surrounded_quote(line, b'\'') || has_surrounded_quote(line, b'"') {
            line = line.get(1..line.len() - 1).unwrap_or_default();
        }
        Ok(line.to_vec())
    }

    /// The rest of a quoted value spanning lines, up to the last `quote` of
    /// the line that has one; a comment after it is kept.
    fn multiline(&mut self, mut value: Vec<u8>, quote: &[u8]) -> Result<Vec<u8>, FormatError> {
        let start_line = self.line_no;
        loop {
            let next = self.read_line();
            if let Some(pos) = rfind(next, quote) {
                value.extend_from_slice(next.get(..pos).unwrap_or_default());
                let after = next.get(pos..).unwrap_or_default();
                if let Some(i) = find_any(after, b"#;") {
                    self.comment
                        .extend_from_slice(trim_space(after.get(i..).unwrap_or_default()));
                }
                return Ok(value);
            }
            value.extend_from_slice(next);
            if self.eof {
                return Err(FormatError::parse(
                    FORMAT,
                    format!("missing closing quote of the value starting at line {start_line}"),
                ));
            }
        }
    }

    /// Lines continued with a trailing `\`, each trimmed, joined.
    fn continuation(&mut self, mut value: Vec<u8>) -> Vec<u8> {
        loop {
            let next = trim_space(self.read_line());
            if next.is_empty() {
                return value;
            }
            value.extend_from_slice(next);
            if value.last() != Some(&b'\\') {
                return value;
            }
            value.pop();
        }
    }
}

/// Skips a UTF-16 (2 bytes) or UTF-8 (3 bytes) byte-order mark like go-ini.
fn skip_bom(input: &[u8]) -> &[u8] {
    match input {
        [0xFE, 0xFF, rest @ ..] | [0xFF, 0xFE, rest @ ..] => rest,
        [0xEF, 0xBB, 0xBF, rest @ ..] => rest,
        _ => input,
    }
}

/// Whether `s` is `q…q` with no other `q` inside.
fn has_surrounded_quote(s: &[u8], q: u8) -> bool {
    s.len() >= 2
        && s.first() == Some(&q)
        && s.last() == Some(&q)
        && s.get(1..).and_then(|r| r.iter().position(|b| *b == q)) == Some(s.len() - 2)
}

// ---------------------------------------------------------------------------
// Writing (sops `encodeTree` + go-ini `writeToBuffer`)
// ---------------------------------------------------------------------------

fn sections_from_tree(map: &Map) -> Result<Vec<Section>, FormatError> {
    let mut sections = Vec::new();
    for item in &map.items {
        let MapItem::Entry(entry) = item else {
            continue;
        };
        let name = key_text(&entry.key);
        if name.is_empty() {
            return Err(FormatError::Emit(
                "Error encoding section : empty section name".to_owned(),
            ));
        }
        let Value::Map(body) = &entry.value else {
            return Err(FormatError::Emit(
                "Error encoding section: Section values should always be TreeBranches".to_owned(),
            ));
        };
        let escape_newlines = name == SOPS_SECTION.as_bytes();
        let mut section = Section::new(name);
        let mut items = body.items.iter().peekable();
        if let Some(MapItem::Comment(c)) = items.peek() {
            section.comment = c.text.as_bytes().to_vec();
            items.next();
        }
        let mut last: Option<usize> = None;
        for item in items {
            match item {
                MapItem::Comment(c) => {
                    if let Some(key) = last.and_then(|i| section.keys.get_mut(i)) {
                        key.comment = c.text.as_bytes().to_vec();
                    }
                }
                MapItem::Entry(e) => {
                    let key = key_text(&e.key);
                    if key.is_empty() {
                        return Err(FormatError::Emit(
                            "Error encoding key: error creating new key: empty key name".to_owned(),
                        ));
                    }
                    let mut value = value_text(&e.value);
                    if escape_newlines && matches!(e.value, Value::Str(_) | Value::Bytes(_)) {
                        value = replace_bytes(&value, b"\n", b"\\n");
                    }
                    last = Some(section.set_key(key, value));
                }
            }
        }
        sections.push(section);
    }
    Ok(sections)
}

/// sops `ValToString`: the flat scalar format, Go `%v` for maps and lists.
fn value_text(value: &Value) -> Vec<u8> {
    scalar_text(value).unwrap_or_else(|| {
        let mut out = Vec::new();
        go_v(value, &mut out);
        out
    })
}

/// Go's `%v` rendering of a sops tree value (what sops writes for a nested
/// value in an INI section): `[{key value} …]` for maps, `[a b]` for lists.
fn go_v(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Map(m) => {
            out.push(b'[');
            for (i, item) in m.items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                out.push(b'{');
                match item {
                    MapItem::Entry(e) => {
                        match &e.key {
                            Key::Str(s) => out.extend_from_slice(s.as_bytes()),
                            Key::Other(v) => go_v(v, out),
                        }
                        out.push(b' ');
                        go_v(&e.value, out);
                    }
                    MapItem::Comment(c) => {
                        out.push(b'{');
                        out.extend_from_slice(c.text.as_bytes());
                        out.extend_from_slice(b"} <nil>");
                    }
                }
                out.push(b'}');
            }
            out.push(b']');
        }
        Value::List(l) => go_v_list(l, out),
        Value::Float(f) => out.extend_from_slice(go::format_float_g(*f).as_bytes()),
        Value::Time(t) => out.extend_from_slice(go::time::time_string(t).as_bytes()),
        other => out.extend_from_slice(&scalar_text(other).unwrap_or_default()),
    }
}

fn go_v_list(list: &List, out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, item) in list.items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        match item {
            ListItem::Value(v) => go_v(v, out),
            ListItem::Comment(c) => {
                out.push(b'{');
                out.extend_from_slice(c.text.as_bytes());
                out.push(b'}');
            }
        }
    }
    out.push(b']');
}

/// Key length used for alignment, counting the quotes go-ini adds.
fn aligned_len(name: &[u8]) -> usize {
    if name.contains(&b'"') || find_any(name, KEY_VALUE_DELIMITERS).is_some() {
        name.len() + 2
    } else if name.contains(&b'`') {
        name.len() + 6
    } else {
        name.len()
    }
}

fn quoted_key(name: &[u8]) -> Vec<u8> {
    if name.contains(&b'"') || find_any(name, KEY_VALUE_DELIMITERS).is_some() {
        [b"`", name, b"`"].concat()
    } else if name.contains(&b'`') {
        [b"\"\"\"", name, b"\"\"\""].concat()
    } else {
        name.to_vec()
    }
}

fn quoted_value(value: &[u8]) -> Vec<u8> {
    if value.contains(&b'\n') || value.contains(&b'`') {
        [b"\"\"\"", value, b"\"\"\""].concat()
    } else if find_any(value, b"#;").is_some() {
        [b"`", value, b"`"].concat()
    } else if trim_space(value).len() != value.len() {
        [b"\"", value, b"\""].concat()
    } else {
        value.to_vec()
    }
}

/// Writes comment lines; `trim_plain` trims lines without a marker (key
/// comments) while section comments keep them as they are.
fn write_comment(out: &mut Vec<u8>, comment: &[u8], trim_plain: bool) {
    for line in comment.split(|b| *b == b'\n') {
        match line.split_first() {
            Some((&marker @ (b'#' | b';'), rest)) => {
                out.push(marker);
                out.push(b' ');
                out.extend_from_slice(trim_space(rest));
            }
            Some(_) => {
                out.extend_from_slice(b"; ");
                out.extend_from_slice(if trim_plain { trim_space(line) } else { line });
            }
            // go-ini would crash on an empty comment line; keep it a comment.
            None => out.push(b';'),
        }
        out.push(b'\n');
    }
}

fn write_sections(sections: &[Section]) -> Vec<u8> {
    let mut out = Vec::new();
    let last = sections.len().saturating_sub(1);
    for (i, section) in sections.iter().enumerate() {
        if !section.comment.is_empty() {
            write_comment(&mut out, &section.comment, false);
        }
        let is_default = i == 0
            && section
                .name
                .eq_ignore_ascii_case(DEFAULT_SECTION.as_bytes());
        if !is_default {
            out.push(b'[');
            out.extend_from_slice(&section.name);
            out.extend_from_slice(b"]\n");
        } else if section.keys.is_empty() {
            continue;
        }
        let align = section
            .keys
            .iter()
            .map(|k| aligned_len(&k.name))
            .max()
            .unwrap_or(0);
        for key in &section.keys {
            if !key.comment.is_empty() {
                write_comment(&mut out, &key.comment, true);
            }
            let name = quoted_key(&key.name);
            out.extend_from_slice(&name);
            out.resize(out.len() + align.saturating_sub(name.len()), b' ');
            out.extend_from_slice(b" = ");
            out.extend_from_slice(&quoted_value(&key.value));
            out.push(b'\n');
        }
        if i != last {
            out.push(b'\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{load_encrypted, Format};
    use proptest::prelude::*;

    fn s(v: &str) -> Value {
        Value::Str(v.to_owned())
    }

    fn p(text: &str) -> Map {
        parse(text.as_bytes()).unwrap()
    }

    fn e(m: &Map) -> String {
        String::from_utf8(emit(m).unwrap()).unwrap()
    }

    fn section<'a>(m: &'a Map, name: &str) -> &'a Map {
        match m.get(name) {
            Some(Value::Map(s)) => s,
            other => panic!("section {name}: {other:?}"),
        }
    }

    fn sec(items: Vec<(&str, &str)>) -> Value {
        let mut m = Map::new();
        for (k, v) in items {
            if k.is_empty() {
                m.push_comment(v);
            } else {
                m.push(k, s(v));
            }
        }
        Value::Map(m)
    }

    #[test]
    fn default_section_is_always_first() {
        let m = p("[a]\nx = 1\n");
        let names: Vec<_> = m.entries().map(|e| e.key.as_str().unwrap()).collect();
        assert_eq!(names, ["DEFAULT", "a"]);
        assert_eq!(section(&m, "DEFAULT"), &Map::new());
        let m = p("top = 1\n[a]\n");
        assert_eq!(section(&m, "DEFAULT").get("top"), Some(&s("1")));
        assert_eq!(p("").items.len(), 1);
    }

    #[test]
    fn values_follow_go_ini() {
        let m = p(concat!(
            "[s]\n",
            "a = b#c\n",
            "b = x;y\n",
            "c = \"q ; r\"\n",
            "d = %(a)s\n",
            "e = `x#y` ; after\n",
            "f = 'sq'\n",
            "g = cont\\\n",
            "   next\n",
            "h = \"\"\"multi\n",
            "line\"\"\" ; cm\n",
            "i: colon = yes\n",
            "j =\n",
            "k = \"  spaced  \"\n",
            "l = a\"b\"\n",
            "m = \"a\"b\"\n",
            "`q=k` = 1\n",
            "\"\"\"t`k\"\"\" = 2\n",
            "  indented   =   v  \r\n",
        ));
        let s_ = section(&m, "s");
        let mut expected = Map::new();
        for (k, v, c) in [
            ("a", "b", Some("c")),
            ("b", "x", Some("y")),
            ("c", "\"q", Some("r\"")),
            ("d", "%(a)s", None),
            ("e", "x#y", None),
            ("f", "sq", None),
            ("g", "contnext", None),
            ("h", "multi\nline", Some("cm")),
            ("i", "colon = yes", None),
            ("j", "", None),
            ("k", "  spaced  ", None),
            ("l", "a\"b\"", None),
            ("m", "\"a\"b\"", None),
            ("q=k", "1", None),
            ("t`k", "2", None),
            ("indented", "v", None),
        ] {
            expected.push(k, s(v));
            if let Some(c) = c {
                expected.push_comment(c);
            }
        }
        assert_eq!(s_, &expected);
    }

    #[test]
    fn comments_attach_like_sops() {
        let m = p("; Global comment\n# Hash comment\n[database]\n; before\n;; second\nhost = h ; inline\nport = 1\n; dangling\n[b] # hdr\nk = v\n; lost at end\n");
        assert_eq!(
            section(&m, "database"),
            match &sec(vec![
                ("", "Global comment\n# Hash comment"),
                ("host", "h"),
                ("", "before\n;; second\n; inline"),
                ("port", "1"),
            ]) {
                Value::Map(m) => m,
                _ => unreachable!(),
            }
        );
        let b = section(&m, "b");
        assert_eq!(
            b.items.first(),
            Some(&MapItem::Comment(crate::tree::Comment::new(
                "dangling\n# hdr"
            )))
        );
    }

    #[test]
    fn repeated_sections_and_keys() {
        let m = p("[a]\nx = 1\ny = 2\nx = 3\n[a]\nz = 4\n[DEFAULT]\nd = 5\n- = p\n- = q\n");
        let names: Vec<_> = m.entries().map(|e| e.key.as_str().unwrap()).collect();
        assert_eq!(names, ["DEFAULT", "a", "a", "DEFAULT"]);
        let first_a = &m.entries().nth(1).unwrap().value;
        assert_eq!(first_a, &sec(vec![("x", "3"), ("y", "2")]));
        let last = &m.entries().nth(3).unwrap().value;
        assert_eq!(last, &sec(vec![("d", "5"), ("#1", "p"), ("#2", "q")]));
    }

    #[test]
    fn syntax_errors_name_the_line_only() {
        for (text, line) in [
            ("a = 1\nsecretword\n", 2),
            ("[unclosed\n", 1),
            ("[]\n", 1),
            ("= v\n", 1),
            ("\"\" = v\n", 1),
            ("\"secret = v\n", 1),
            ("k = \"\"\"open\nsecret\n", 1),
            ("k = `open\nsecret", 1),
        ] {
            let err = parse(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(&format!("line {line}")), "{text:?}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn bom_is_skipped() {
        let m = parse(b"\xEF\xBB\xBFk = v\n").unwrap();
        assert_eq!(section(&m, "DEFAULT").get("k"), Some(&s("v")));
    }

    #[test]
    fn writes_layout_like_go_ini() {
        let mut m = Map::new();
        m.push("DEFAULT", sec(vec![("top", "1")]));
        m.push(
            "s",
            sec(vec![
                ("", "section comment"),
                ("a", "b"),
                ("", "about a"),
                ("long_key", " lead"),
                ("c", "x#y"),
                ("d", "x\ny"),
                ("e", "t`ick"),
                ("f", ""),
                ("g=h", "1"),
                ("i`j", "2"),
            ]),
        );
        m.push("empty", sec(vec![]));
        m.push_comment("top-level comments are ignored");
        m.push("last", sec(vec![("k", "v")]));
        assert_eq!(
            e(&m),
            concat!(
                "top = 1\n",
                "\n",
                "; section comment\n",
                "[s]\n",
                // A key's comment is written above it; `=` aligned to the
                // longest key counting its quotes (verified with sops).
                "; about a\n",
                "a         = b\n",
                "long_key  = \" lead\"\n",
                "c         = `x#y`\n",
                "d         = \"\"\"x\ny\"\"\"\n",
                "e         = \"\"\"t`ick\"\"\"\n",
                "f         = \n",
                "`g=h`     = 1\n",
                "\"\"\"i`j\"\"\" = 2\n",
                "\n",
                "[empty]\n",
                "\n",
                "[last]\n",
                "k = v\n",
            )
        );
    }

    #[test]
    fn empty_default_is_not_written() {
        let mut m = Map::new();
        m.push("DEFAULT", sec(vec![]));
        m.push("a", sec(vec![("k", "v")]));
        assert_eq!(e(&m), "[a]\nk = v\n");
        let mut m = Map::new();
        m.push("a", sec(vec![("k", "v")]));
        m.push("DEFAULT", sec(vec![("d", "1")]));
        assert_eq!(e(&m), "[a]\nk = v\n\n[DEFAULT]\nd = 1\n");
        assert_eq!(e(&Map::new()), "");
    }

    #[test]
    fn comment_lines_get_markers() {
        let mut m = Map::new();
        m.push(
            "a",
            sec(vec![("", "x\n# y\n;z"), ("k", "v"), ("", "  one\n#two  ")]),
        );
        assert_eq!(e(&m), "; x\n# y\n; z\n[a]\n; one\n# two\nk = v\n");
    }

    #[test]
    fn sops_section_escapes_newlines() {
        let mut m = Map::new();
        m.push("data", sec(vec![("k", "a\nb")]));
        let mut meta = Map::new();
        meta.push(
            "age__list_0__map_enc",
            s("-----BEGIN-----\nabc\n-----END-----\n"),
        );
        meta.push("shamir_threshold", Value::Int(2));
        m.push("sops", Value::Map(meta));
        assert_eq!(
            e(&m),
            "[data]\nk = \"\"\"a\nb\"\"\"\n\n[sops]\nage__list_0__map_enc = -----BEGIN-----\\nabc\\n-----END-----\\n\nshamir_threshold     = 2\n"
        );
    }

    #[test]
    fn non_map_sections_are_refused() {
        let mut m = Map::new();
        m.push("a", s("secret"));
        let err = emit(&m).unwrap_err();
        assert_eq!(
            err,
            FormatError::Emit(
                "Error encoding section: Section values should always be TreeBranches".into()
            )
        );
        let mut m = Map::new();
        m.push("", sec(vec![]));
        assert!(emit(&m).is_err());
    }

    #[test]
    fn other_values_use_sops_val_to_string() {
        let mut inner = Map::new();
        inner.push("x", Value::Int(1));
        inner.push(
            "y",
            Value::List(List {
                items: vec![
                    ListItem::Value(Value::Bool(true)),
                    ListItem::Value(Value::Float(2.5)),
                ],
            }),
        );
        let mut body = Map::new();
        body.push("n", Value::Null);
        body.push("f", Value::Float(1e6));
        body.push("t", Value::Time("2024-01-02T03:04:05.123+02:00".into()));
        body.push("m", Value::Map(inner));
        body.push(
            "l",
            Value::List(List {
                items: vec![
                    ListItem::Value(Value::Int(1)),
                    ListItem::Value(s("x")),
                    ListItem::Value(Value::Float(1e6)),
                ],
            }),
        );
        let mut m = Map::new();
        m.push("a", Value::Map(body));
        assert_eq!(
            e(&m),
            "[a]\nn = <nil>\nf = 1E+06\nt = 2024-01-02T03:04:05+02:00\nm = [{x 1} {y [true 2.5]}]\nl = [1 x 1e+06]\n"
        );
    }

    #[test]
    fn large_files_round_trip() {
        let mut doc = String::from("[s]\n");
        for i in 0..100_000 {
            doc.push_str(&format!("; c{i}\nkey{i} = value {i} ; inline\n"));
        }
        doc.push_str("big = \"\"\"");
        doc.push_str(&"line\n".repeat(200_000));
        doc.push_str("\"\"\"\ncont = a\\\n");
        doc.push_str(&"b\\\n".repeat(100_000));
        doc.push_str("end\n");
        let m = parse(doc.as_bytes()).unwrap();
        let s_ = section(&m, "s");
        assert_eq!(s_.entries().count(), 100_002);
        let out = emit(&m).unwrap();
        assert!(parse(&out).unwrap() == m);
    }

    // ----- corpus ---------------------------------------------------------

    use crate::corpus::read;

    #[test]
    fn corpus_plaintext_round_trips_to_sops_output() {
        for (input, expected) in [
            ("ini_basic/input.ini", "ini_basic/expected.ini"),
            (
                "age_two_recipients/input.ini",
                "age_two_recipients/expected.ini",
            ),
            ("ini_age_and_pgp/input.ini", "ini_age_and_pgp/expected.ini"),
        ] {
            let out = emit(&parse(&read(input)).unwrap()).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(read(expected)).unwrap(),
                "{input}"
            );
        }
    }

    #[test]
    fn corpus_encrypted_files_load_with_metadata() {
        for file in [
            "ini_basic/encrypted.ini",
            "age_two_recipients/encrypted.ini",
            "ini_age_and_pgp/encrypted.ini",
            "compat_ini_v3_13/encrypted.ini",
            "compat_ini_multiline_v3_13/encrypted.ini",
            "legacy_ini_v3_5/encrypted.ini",
        ] {
            let bytes = read(file);
            let tree = parse(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(tree.get("sops").is_some(), "{file}");
            let (docs, meta) = load_encrypted(Format::Ini, &bytes, &crate::Sequential).unwrap();
            assert!(docs[0].get("sops").is_none(), "{file}");
            let meta = meta.unwrap();
            for key in ["mac", "lastmodified", "version"] {
                assert!(
                    matches!(meta.get(key), Some(Value::Str(_))),
                    "{file}: {key}"
                );
            }
            let mut key_count = 0;
            for list in ["age", "pgp"] {
                let Some(value) = meta.get(list) else {
                    continue;
                };
                let Value::List(l) = value else {
                    panic!("{file}: {list} is not a list");
                };
                for entry in l.values() {
                    let Value::Map(entry) = entry else {
                        panic!("{file}: {list} entry is not a map");
                    };
                    let enc = entry.get("enc").and_then(Value::as_str).unwrap();
                    assert!(enc.starts_with("-----BEGIN"), "{file}");
                    assert!(enc.contains('\n') && !enc.contains("\\n"), "{file}");
                    key_count += 1;
                }
            }
            assert!(key_count > 0, "{file}");
            // The data part re-emits with the sops layout (values unchanged).
            let out = emit(&docs[0]).unwrap();
            assert_eq!(parse(&out).unwrap(), docs[0], "{file}");
        }
        let (_, meta) = load_encrypted(
            Format::Ini,
            &read("age_two_recipients/encrypted.ini"),
            &crate::Sequential,
        )
        .unwrap();
        let Some(Value::List(age)) = meta.unwrap().get("age").cloned() else {
            panic!("no age list");
        };
        let recipients: Vec<_> = age
            .values()
            .map(|v| match v {
                Value::Map(m) => m
                    .get("recipient")
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_owned(),
                _ => panic!(),
            })
            .collect();
        assert_eq!(
            recipients,
            [
                "age1hd76wdmcguk8j0p6drdg5uq93js0n08avrjqhmdfeaq5qpvnrvnsunt3v8",
                "age146e9pqhngyvn4yxlj8543838kjkt2x8jr80gd6u8laxmz4sukfas55frvr"
            ]
        );
    }

    #[test]
    fn corpus_encrypted_data_reemits_like_sops() {
        // The encrypted file minus its [sops] section is what sops writes for
        // the data: check our layout on it.
        for file in [
            "ini_basic/encrypted.ini",
            "age_two_recipients/encrypted.ini",
            "ini_age_and_pgp/encrypted.ini",
        ] {
            let text = String::from_utf8(read(file)).unwrap();
            let data = text.split("\n\n[sops]\n").next().unwrap().to_owned() + "\n";
            let (docs, _) =
                load_encrypted(Format::Ini, text.as_bytes(), &crate::Sequential).unwrap();
            assert_eq!(
                String::from_utf8(emit(&docs[0]).unwrap()).unwrap(),
                data,
                "{file}"
            );
        }
    }

    // ----- properties -----------------------------------------------------

    /// Values go-ini can read back: no quotes, backquotes or backslashes
    /// (go-ini does not escape them).
    fn value_text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 _.,/#;=:\n-]{0,12}"
    }

    fn comment_text() -> impl Strategy<Value = Option<String>> {
        prop::option::of("[a-z0-9][a-z0-9 ]{0,8}[a-z0-9]")
    }

    fn section_body(allow_comment: bool) -> impl Strategy<Value = Map> {
        (
            comment_text(),
            prop::collection::btree_map("[A-Za-z0-9_.]{1,8}", (value_text(), comment_text()), 0..5),
        )
            .prop_map(move |(head, keys)| {
                let mut m = Map::new();
                if allow_comment {
                    if let Some(c) = head {
                        m.push_comment(c);
                    }
                }
                for (k, (v, c)) in keys {
                    m.push(k, Value::Str(v));
                    if let Some(c) = c {
                        m.push_comment(c);
                    }
                }
                m
            })
    }

    fn ini_tree() -> impl Strategy<Value = Map> {
        (
            section_body(false),
            prop::collection::vec(("[a-z0-9_.][a-z0-9_. -]{0,6}", section_body(true)), 0..4),
        )
            .prop_map(|(default, sections)| {
                let mut m = Map::new();
                m.push(DEFAULT_SECTION, Value::Map(default));
                for (name, body) in sections {
                    if name != SOPS_SECTION {
                        m.push(name, Value::Map(body));
                    }
                }
                m
            })
    }

    proptest! {
        #[test]
        fn parse_emit_round_trip(m in ini_tree()) {
            let out = emit(&m).unwrap();
            prop_assert_eq!(parse(&out).unwrap(), m);
        }

        #[test]
        fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_iniish(s in "[\\[\\]=:;#`\"' \\\\\nab\r]{0,64}") {
            if let Ok(m) = parse(s.as_bytes()) {
                // Whatever was read can be written.
                let _ = emit(&m);
            }
        }

        #[test]
        fn trim_matches_str_trim(s in "\\PC{0,12}") {
            prop_assert_eq!(trim_space(s.as_bytes()), s.trim().as_bytes());
        }
    }
}
