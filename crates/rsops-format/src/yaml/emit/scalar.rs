//! Scalars: how sops 3.11 (go-yaml v3) chooses a style for a value and
//! writes it in that style.
//!
//! sops turns every value into a `yaml.Node` with `Node.Encode`, which
//! marshals the Go value on its own and parses the text back; the style the
//! node keeps is therefore the one the marshaller picked for the value alone.
//! For a string that is: a literal block when it contains `\n`, double quotes
//! when its plain spelling would resolve to another type (or to a YAML 1.1
//! bool / base-60 number), plain otherwise; the emitter then degrades plain
//! to single quotes and single quotes or literal blocks to double quotes when
//! the content does not allow them (see [`analyze`]).

use std::borrow::Cow;

use super::writer::{is_break, Writer};
use crate::error::FormatError;
use crate::go::format_float_yaml;
use crate::tree::Value;
use crate::yaml::resolve::{resolve_scalar, Resolved};

/// Presentation style of a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    /// Unquoted.
    Plain,
    /// `'...'`.
    Single,
    /// `"..."` with escapes.
    Double,
    /// `|` block.
    Literal,
}

/// A scalar ready to be written: its text, style and explicit tag.
#[derive(Debug)]
pub(super) struct Scalar<'a> {
    /// The characters of the scalar (unescaped).
    pub(super) text: Cow<'a, str>,
    /// The style chosen for it.
    pub(super) style: Style,
    /// An explicit tag suffix to write as `!!<tag>` (`merge`, `binary`).
    pub(super) tag: Option<&'static str>,
    /// Whether the text contains a line break.
    pub(super) multiline: bool,
    /// sops could not build a node for this string (see [`string_scalar`])
    /// and writes `null` instead; such a node cannot carry comments.
    pub(super) zero_node: bool,
}

impl Scalar<'_> {
    /// Length go-yaml compares to 128 to decide if a key can be simple.
    pub(super) fn key_length(&self) -> usize {
        self.text.len() + self.tag.map_or(0, |t| t.len() + 2)
    }
}

/// What the content of a scalar allows (go-yaml's scalar analysis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Analysis {
    /// The text has a line break.
    pub(super) multiline: bool,
    /// It may be written plain in block context.
    pub(super) block_plain_allowed: bool,
    /// It may be written in single quotes.
    pub(super) single_quoted_allowed: bool,
    /// It may be written as a block scalar.
    pub(super) block_allowed: bool,
}

/// The scalar form of a non-collection value; `Ok(None)` for maps and lists.
pub(super) fn scalar_of(value: &Value) -> Result<Option<Scalar<'_>>, FormatError> {
    let plain = |text: String| Scalar {
        text: Cow::Owned(text),
        style: Style::Plain,
        tag: None,
        multiline: false,
        zero_node: false,
    };
    Ok(Some(match value {
        Value::Map(_) | Value::List(_) => return Ok(None),
        Value::Str(s) => string_scalar(s),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => string_scalar(s),
            Err(_) => binary_scalar(b),
        },
        Value::Int(i) => plain(i.to_string()),
        Value::Float(f) => plain(format_float_yaml(*f)),
        Value::Bool(b) => plain(if *b { "true" } else { "false" }.to_owned()),
        Value::Time(t) => {
            let a = analyze(t);
            Scalar {
                text: Cow::Borrowed(t.as_str()),
                style: degrade(Style::Plain, &a),
                tag: None,
                multiline: a.multiline,
                zero_node: false,
            }
        }
        Value::Null => plain("null".to_owned()),
    }))
}

/// The scalar of a string that is not valid UTF-8: go-yaml writes it as
/// `!!binary` with its base64 text, cut into lines of 70 characters (each
/// ended by a line break, hence a literal block) once it is that long.
pub(super) fn binary_scalar(bytes: &[u8]) -> Scalar<'static> {
    use base64::Engine as _;
    const LINE: usize = 70;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let text = if encoded.len() < LINE {
        encoded
    } else {
        let mut lines = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
        for chunk in encoded.as_bytes().chunks(LINE) {
            // Base64 is ASCII, so every chunk is a whole string.
            lines.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            lines.push('\n');
        }
        lines
    };
    let analysis = analyze(&text);
    let requested = if analysis.multiline {
        Style::Literal
    } else {
        Style::Plain
    };
    Scalar {
        style: degrade(requested, &analysis),
        multiline: analysis.multiline,
        text: Cow::Owned(text),
        tag: Some("binary"),
        zero_node: false,
    }
}

/// The scalar of a string value or key.
pub(super) fn string_scalar(s: &str) -> Scalar<'_> {
    let analysis = analyze(s);
    if s == "<<" {
        // go-yaml resolves a plain `<<` to the merge tag and writes the
        // node back with that tag explicit.
        return Scalar {
            text: Cow::Borrowed(s),
            style: Style::Plain,
            tag: Some("merge"),
            multiline: false,
            zero_node: false,
        };
    }
    let requested = if memchr::memchr(b'\n', s.as_bytes()).is_some() {
        Style::Literal
    } else if plain_keeps_string(s) {
        Style::Plain
    } else {
        Style::Double
    };
    let style = degrade(requested, &analysis);
    if style == Style::Literal && s.starts_with('\t') {
        // `Node.Encode` writes this as a literal block whose first line
        // starts with a tab, fails to parse that back, and leaves sops with
        // an empty node, which go-yaml writes as `null`.
        return Scalar {
            text: Cow::Borrowed("null"),
            style: Style::Plain,
            tag: None,
            multiline: false,
            zero_node: true,
        };
    }
    Scalar {
        text: Cow::Borrowed(s),
        style,
        tag: None,
        multiline: analysis.multiline,
        zero_node: false,
    }
}

/// Whether the plain spelling of `s` reads back as the same string.
fn plain_keeps_string(s: &str) -> bool {
    matches!(resolve_scalar(s, true), Resolved::Str) && !is_old_bool(s) && !is_base60_float(s)
}

/// YAML 1.1 booleans that go-yaml quotes for compatibility.
fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// YAML 1.1 base-60 numbers (`12:30`, `-1:20:30.5`), which go-yaml quotes:
/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    i += 1;
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        // `[0-5]?[0-9]`: one digit, or two with the first in 0..=5.
        let d1 = b.get(i).copied();
        let d2 = b.get(i + 1).copied();
        match (d1, d2) {
            // Two digits when possible: backtracking to one could not help,
            // as a digit can never follow a group.
            (Some(b'0'..=b'5'), Some(b'0'..=b'9')) => i += 2,
            (Some(b'0'..=b'9'), _) => i += 1,
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// Lowers a requested style to one the content allows (block context).
fn degrade(requested: Style, a: &Analysis) -> Style {
    let mut style = requested;
    if style == Style::Plain && !a.block_plain_allowed {
        style = Style::Single;
    }
    if style == Style::Single && !a.single_quoted_allowed {
        style = Style::Double;
    }
    if style == Style::Literal && !a.block_allowed {
        style = Style::Double;
    }
    style
}

/// Whether go-yaml can print `c` unescaped.
fn is_printable(c: char) -> bool {
    let u = u32::from(c);
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

/// Space or tab.
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The analysis of a non-empty string made only of printable ASCII other
/// than space (`0x21..=0x7E`), such as an `ENC[...]` value, in one byte pass;
/// `None` for any other string. Such a string has no breaks, blanks or
/// special characters, so only the indicator rules of [`analyze`] apply:
/// an indicator as first character, or a `:` as last character (followed by
/// the end, which counts as whitespace). `#` elsewhere is never preceded by
/// whitespace.
fn analyze_simple_ascii(value: &str, starts_with_marker: bool) -> Option<Analysis> {
    let bytes = value.as_bytes();
    if !all_graphic_ascii(bytes) {
        return None;
    }
    let first = *bytes.first()?;
    let first_indicator = matches!(
        first,
        b'#' | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    ) || (bytes.len() == 1 && matches!(first, b'?' | b':' | b'-'));
    let indicators = starts_with_marker || first_indicator || bytes.ends_with(b":");
    Some(Analysis {
        multiline: false,
        block_plain_allowed: !indicators,
        single_quoted_allowed: true,
        block_allowed: true,
    })
}

/// Whether every byte is printable ASCII other than the space (0x21 to
/// 0x7E). Eight bytes are checked at a time (SWAR: a word passes when no
/// byte has the high bit set, is below 0x21 or is 0x7F).
fn all_graphic_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let v = u64::from_ne_bytes(w);
        let del = v ^ (ONES * 0x7F);
        let bad = (v & HIGHS)
            | (v.wrapping_sub(ONES * 0x21) & !v & HIGHS)
            | (del.wrapping_sub(ONES) & !del & HIGHS);
        if bad != 0 {
            return false;
        }
    }
    chunks.remainder().iter().all(|b| (0x21..=0x7E).contains(b))
}

/// Checks what styles the content of `value` allows, as go-yaml does.
pub(super) fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let marker = value.starts_with("---") || value.starts_with("...");
    analyze_simple_ascii(value, marker).unwrap_or_else(|| analyze_chars(value, marker))
}

/// The general, character-by-character analysis of a non-empty string;
/// `marker`: it starts with `---` or `...`.
fn analyze_chars(value: &str, marker: bool) -> Analysis {
    let mut block_indicators = marker;
    let (mut line_breaks, mut special, mut tabs) = (false, false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;

    let mut chars = value.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let followed_by_whitespace = next.is_none_or(is_blank);
        let last = next.is_none();
        if first {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            leading_space |= first;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= first;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank(c) || is_break(c) || c == '\0';
        first = false;
    }

    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break || line_breaks {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space || space_break || tabs || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

impl Writer {
    /// Writes a scalar node: its tag, then its text in its style.
    ///
    /// `in_seq_item`: the scalar is an element of a block sequence;
    /// `simple_key`: it is written as an implicit `key:`.
    pub(super) fn emit_scalar(&mut self, scalar: &Scalar<'_>, in_seq_item: bool, simple_key: bool) {
        let mut style = scalar.style;
        if simple_key && (scalar.multiline || style == Style::Literal) {
            style = Style::Double;
        }
        if let Some(tag) = scalar.tag {
            if !self.whitespace {
                self.put(b' ');
            }
            self.write_str("!!");
            self.write_str(tag);
            self.whitespace = false;
            self.indention = false;
        }
        self.increase_indent(true, in_seq_item);
        let text: &str = &scalar.text;
        match style {
            Style::Plain => self.write_plain(text),
            Style::Single => self.write_single_quoted(text),
            Style::Double => self.write_double_quoted(text),
            Style::Literal => self.write_literal(text),
        }
        self.decrease_indent();
    }

    /// Plain style: the text as is (plain scalars never hold line breaks).
    fn write_plain(&mut self, text: &str) {
        if !text.is_empty() && !self.whitespace {
            self.put(b' ');
        }
        self.write_str(text);
        if !text.is_empty() {
            self.whitespace = false;
        }
        self.indention = false;
    }

    /// Single-quoted style: `'` doubled; YAML line breaks other than `\n`
    /// (only those can reach this style) are written raw.
    fn write_single_quoted(&mut self, text: &str) {
        self.write_indicator("'", true, false, false);
        let mut breaks = false;
        for c in text.chars() {
            if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put(b'\'');
                }
                self.write_char(c);
                self.indention = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    /// Double-quoted style with go-yaml's escapes.
    fn write_double_quoted(&mut self, text: &str) {
        self.write_indicator("\"", true, false, false);
        // go-yaml's BOM test looks at the start of the value, not at the
        // current character: a value starting with U+FEFF is fully escaped.
        let starts_with_bom = text.starts_with('\u{FEFF}');
        for c in text.chars() {
            if !is_printable(c) || starts_with_bom || is_break(c) || c == '"' || c == '\\' {
                self.write_escape(c);
            } else {
                self.write_char(c);
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    /// One escape sequence of a double-quoted scalar.
    fn write_escape(&mut self, c: char) {
        self.put(b'\\');
        let named = match c {
            '\0' => Some(b'0'),
            '\u{07}' => Some(b'a'),
            '\u{08}' => Some(b'b'),
            '\t' => Some(b't'),
            '\n' => Some(b'n'),
            '\u{0B}' => Some(b'v'),
            '\u{0C}' => Some(b'f'),
            '\r' => Some(b'r'),
            '\u{1B}' => Some(b'e'),
            '"' => Some(b'"'),
            '\\' => Some(b'\\'),
            '\u{85}' => Some(b'N'),
            '\u{A0}' => Some(b'_'),
            '\u{2028}' => Some(b'L'),
            '\u{2029}' => Some(b'P'),
            _ => None,
        };
        if let Some(n) = named {
            self.put(n);
            return;
        }
        let v = u32::from(c);
        let (marker, digits) = if v <= 0xFF {
            (b'x', 2)
        } else if v <= 0xFFFF {
            (b'u', 4)
        } else {
            (b'U', 8)
        };
        self.put(marker);
        for k in (0..digits).rev() {
            let digit = (v >> (4 * k)) & 0xF;
            let ch = if digit < 10 {
                b'0' + digit as u8
            } else {
                b'A' + (digit as u8 - 10)
            };
            self.put(ch);
        }
    }

    /// Literal block style: header `|` with indentation and chomping
    /// indicators, then the lines at the current indentation.
    fn write_literal(&mut self, text: &str) {
        self.write_indicator("|", true, false, false);
        if text.starts_with(' ') || text.chars().next().is_some_and(is_break) {
            let hint = char::from_digit(u32::try_from(self.best_indent).unwrap_or(2), 10);
            let mut buf = [0u8; 4];
            self.write_indicator(
                hint.unwrap_or('2').encode_utf8(&mut buf),
                false,
                false,
                false,
            );
        }
        let mut rev = text.chars().rev();
        let chomp = match (rev.next(), rev.next()) {
            (None, _) => Some("-"),
            (Some(last), _) if !is_break(last) => Some("-"),
            (Some(_), None) => Some("+"),
            (Some(_), Some(before)) if is_break(before) => Some("+"),
            _ => None,
        };
        if let Some(chomp) = chomp {
            self.write_indicator(chomp, false, false, false);
        }
        self.process_line_comment(true);
        self.whitespace = true;
        let mut breaks = true;
        for c in text.chars() {
            if is_break(c) {
                self.write_break(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.write_char(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn simple_ascii_fast_path_cases() {
        let enc = "ENC[AES256_GCM,data:abc=,iv:x+/y,tag:z==,type:str]";
        let a = analyze(enc);
        assert!(a.block_plain_allowed && a.single_quoted_allowed && !a.multiline);
        assert!(!analyze("key:").block_plain_allowed);
        assert!(!analyze("-").block_plain_allowed);
        assert!(analyze("-x").block_plain_allowed);
        assert!(!analyze("---x").block_plain_allowed);
        assert!(!analyze("#x").block_plain_allowed);
        assert!(analyze("a#b").block_plain_allowed);
        assert_eq!(analyze_simple_ascii("a b", false), None);
        assert_eq!(analyze_simple_ascii("é", false), None);
    }

    proptest! {
        /// The byte fast path agrees with the general analysis wherever it
        /// applies.
        #[test]
        fn fast_path_matches_general_analysis(s in "[!-~ \\t\\n]{1,12}") {
            let marker = s.starts_with("---") || s.starts_with("...");
            if let Some(fast) = analyze_simple_ascii(&s, marker) {
                prop_assert_eq!(fast, analyze_chars(&s, marker));
            }
        }

        /// The word-at-a-time check agrees with a byte-by-byte one.
        #[test]
        fn graphic_ascii_check_matches_a_byte_scan(
            bytes in proptest::collection::vec(
                prop_oneof![
                    6 => 0x21u8..0x7f,
                    1 => proptest::sample::select(vec![0x00u8, 0x20, 0x7f, 0x80, 0xff]),
                ],
                0..40,
            )
        ) {
            let naive = bytes.iter().all(|b| (0x21..=0x7E).contains(b));
            prop_assert_eq!(all_graphic_ascii(&bytes), naive);
        }
    }
}
