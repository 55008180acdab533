//! The YAML that ksops writes for a generated Secret: Go's
//! `sigs.k8s.io/yaml.Marshal`, i.e. JSON turned into go-yaml v2 output.
//! Every mapping key is sorted by go-yaml v2's natural order, the
//! indentation is two spaces, and each string gets the style go-yaml v2's
//! emitter (a port of libyaml) picks for it: plain when it reads back as
//! the same string, a literal block for text with line breaks, else single
//! or double quotes; long plain and quoted lines fold at 80 columns.
//!
//! Only what a Secret holds is supported: mappings with string keys and
//! string values. Output is therefore byte-identical to ksops's for the
//! same Secret, which matters to anyone diffing `ksops` output (kustomize
//! re-renders it anyway).

/// A node of a Secret: a string or a mapping with string keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A string.
    Str(String),
    /// A mapping, in any order (the emitter sorts it).
    Map(Vec<(String, Node)>),
}

/// go-yaml v2's preferred width, where long scalars fold.
const BEST_WIDTH: usize = 80;
/// go-yaml v2's indentation step.
const BEST_INDENT: usize = 2;

/// `root` as go-yaml v2 writes it (a block mapping, or a lone scalar).
pub fn to_yaml(root: &Node) -> String {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        indent: None,
        whitespace: true,
        indention: true,
        open_ended: false,
    };
    e.node(root, None, false);
    if !e.out.ends_with('\n') {
        e.out.push('\n');
    }
    // A literal block kept with `|+` leaves the stream open: go-yaml ends
    // it with a document end marker.
    if e.open_ended {
        e.out.push_str("...\n");
    }
    e.out
}

/// go-yaml v2's key order (`keyList.Less` for string keys): letters
/// compare by code point and sort after non-letters, runs of digits
/// compare as numbers.
pub fn key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// What libyaml's `analyze_scalar` finds out about a string.
#[derive(Debug, Default)]
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// libyaml's `is_printable` (as go-yaml v2 ports it): only the
/// characters it may write unescaped.
fn is_printable(c: char) -> bool {
    let c = c as u32;
    c == 0x0A
        || (0x20..=0x7E).contains(&c)
        || (0xA0..=0xD7FF).contains(&c)
        || ((0xE000..=0xFFFD).contains(&c) && c != 0xFEFF)
}

fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = value.chars().collect();
    let (mut block_indicators, mut special) = (false, false);
    if value.starts_with("---") || value.starts_with("...") {
        block_indicators = true;
    }
    let (mut line_breaks, mut leading_space, mut leading_break) = (false, false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = chars.get(i + 1).is_none_or(|&n| is_blank(n));
        if i == 0 {
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
        if !is_printable(c) {
            special = true;
        }
        let last = i + 1 == chars.len();
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank(c) || is_break(c) || c == '\0';
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// go-yaml v2's YAML 1.1 words that read back as booleans.
const BOOLS_1_1: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF",
];

/// Whether go-yaml v2 would read `s`, written plain, as something other
/// than this string (null, bool, number, timestamp, merge key, base-60
/// float): such strings are double-quoted.
fn needs_quotes(s: &str) -> bool {
    if BOOLS_1_1.contains(&s) || is_base60_float(s) {
        return true;
    }
    !matches!(
        rsops_format::yaml::resolve::resolve_plain(s),
        Ok(rsops_format::Value::Str(_))
    )
}

/// go-yaml v2's `isBase60Float`:
/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    if !b.get(i).is_some_and(u8::is_ascii_digit) || !s.contains(':') {
        return false;
    }
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        match digits {
            1 => i += 1,
            2 if (b'0'..=b'5').contains(&b[i]) => i += 2,
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

struct Emitter {
    out: String,
    column: usize,
    /// The current indentation (`None` before the root node).
    indent: Option<usize>,
    whitespace: bool,
    indention: bool,
    /// libyaml's `open_ended`: set by a `|+` block scalar.
    open_ended: bool,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn indent(&self) -> usize {
        self.indent.unwrap_or(0)
    }

    fn write_indent(&mut self) {
        let indent = self.indent();
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, s: &str, need_whitespace: bool, is_whitespace: bool) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in s.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = false;
    }

    /// Increases the indentation (libyaml's `increase_indent`).
    fn increase_indent(&mut self, flow: bool) -> Option<usize> {
        let saved = self.indent;
        self.indent = Some(match self.indent {
            None if flow => BEST_INDENT,
            None => 0,
            Some(i) => i + BEST_INDENT,
        });
        saved
    }

    fn node(&mut self, node: &Node, _key: Option<&str>, simple_key: bool) {
        match node {
            Node::Str(s) => self.scalar(s, simple_key),
            Node::Map(entries) if entries.is_empty() => {
                self.write_indicator("{", true, true);
                self.write_indicator("}", false, false);
            }
            Node::Map(entries) => {
                let mut sorted: Vec<&(String, Node)> = entries.iter().collect();
                sorted.sort_by(|a, b| {
                    if key_less(&a.0, &b.0) {
                        std::cmp::Ordering::Less
                    } else if key_less(&b.0, &a.0) {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Equal
                    }
                });
                let saved = self.increase_indent(false);
                for (k, v) in sorted {
                    self.write_indent();
                    self.scalar(k, true);
                    self.write_indicator(":", false, false);
                    self.node(v, Some(k), false);
                }
                self.indent = saved;
            }
        }
    }

    fn scalar(&mut self, s: &str, simple_key: bool) {
        let a = analyze(s);
        let mut style = if s.contains('\n') {
            Style::Literal
        } else if needs_quotes(s) {
            Style::Double
        } else {
            Style::Plain
        };
        if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block_allowed || simple_key) {
            style = Style::Double;
        }
        let _ = a.multiline;
        let saved = self.increase_indent(true);
        match style {
            Style::Plain => self.write_plain(s, !simple_key),
            Style::Single => self.write_single(s, !simple_key),
            Style::Double => self.write_double(s, !simple_key),
            Style::Literal => self.write_literal(s),
        }
        self.indent = saved;
    }

    fn write_plain(&mut self, s: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false);
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < chars.len()
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.write_indicator("'", false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false);
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match c {
                    '\0' => self.put('0'),
                    '\u{7}' => self.put('a'),
                    '\u{8}' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\u{b}' => self.put('v'),
                    '\u{c}' => self.put('f'),
                    '\r' => self.put('r'),
                    '\u{1b}' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{a0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    _ => {
                        let v = c as u32;
                        let (prefix, width) = if v <= 0xFF {
                            ('x', 2)
                        } else if v <= 0xFFFF {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(prefix);
                        for ch in format!("{v:0width$X}").chars() {
                            self.put(ch);
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i + 1 != chars.len()
                {
                    self.write_indent();
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, s: &str) {
        self.write_indicator("|", true, false);
        if s.starts_with(' ') || s.chars().next().is_some_and(is_break) {
            self.write_indicator(&BEST_INDENT.to_string(), false, false);
        }
        let mut rev = s.chars().rev();
        let chomp = match (rev.next(), rev.next()) {
            (None, _) => Some("-"),
            (Some(last), _) if !is_break(last) => Some("-"),
            (Some(_), None) => Some("+"),
            (Some(_), Some(prev)) if is_break(prev) => Some("+"),
            _ => None,
        };
        self.open_ended = chomp == Some("+");
        if let Some(c) = chomp {
            self.write_indicator(c, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in s.chars() {
            if is_break(c) {
                if c == '\n' {
                    self.put_break();
                } else {
                    self.out.push(c);
                    self.column = 0;
                }
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Node {
        Node::Str(v.into())
    }

    fn map(entries: &[(&str, Node)]) -> Node {
        Node::Map(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn a_secret_as_ksops_writes_it() {
        let secret = map(&[
            ("kind", s("Secret")),
            ("apiVersion", s("v1")),
            ("metadata", map(&[("name", s("mysecret"))])),
            ("type", s("Opaque")),
            (
                "stringData",
                map(&[(
                    "secret.enc.yaml",
                    s("username: admin\npassword: 1f2d1e2e67df\n"),
                )]),
            ),
        ]);
        assert_eq!(
            to_yaml(&secret),
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: mysecret\nstringData:\n  secret.enc.yaml: |\n    username: admin\n    password: 1f2d1e2e67df\ntype: Opaque\n"
        );
    }

    #[test]
    fn strings_get_go_yaml_v2_styles() {
        let cases = [
            ("plain", "k: plain\n"),
            ("", "k: \"\"\n"),
            ("123", "k: \"123\"\n"),
            ("yes", "k: \"yes\"\n"),
            ("true", "k: \"true\"\n"),
            ("1:20", "k: \"1:20\"\n"),
            ("2024-01-02", "k: \"2024-01-02\"\n"),
            ("a: b", "k: 'a: b'\n"),
            ("it's: x", "k: 'it''s: x'\n"),
            ("- x", "k: '- x'\n"),
            (" lead", "k: ' lead'\n"),
            ("tab\there", "k: \"tab\\there\"\n"),
            ("no newline\nat end", "k: |-\n  no newline\n  at end\n"),
            ("two\n\n", "k: |+\n  two\n\n...\n"),
            (" indented\n", "k: |2\n   indented\n"),
            ("trailing \nspace\n", "k: \"trailing \\nspace\\n\"\n"),
            ("emoji \u{1F600}", "k: \"emoji \\U0001F600\"\n"),
            ("é", "k: é\n"),
        ];
        for (value, want) in cases {
            assert_eq!(to_yaml(&map(&[("k", s(value))])), want, "{value:?}");
        }
    }

    #[test]
    fn a_kept_block_ends_the_stream_unless_a_later_block_closes_it() {
        let kept_then_plain = map(&[("a", s("x\n\n")), ("b", s("y"))]);
        assert_eq!(to_yaml(&kept_then_plain), "a: |+\n  x\n\nb: \"y\"\n...\n");
        let kept_then_block = map(&[("a", s("x\n\n")), ("b", s("y\n"))]);
        assert_eq!(to_yaml(&kept_then_block), "a: |+\n  x\n\nb: |\n  y\n");
    }

    #[test]
    fn long_plain_strings_fold_at_80_columns() {
        let words = vec!["word"; 30].join(" ");
        let out = to_yaml(&map(&[("key", s(&words))]));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].len() > 80 && lines[0].len() <= 85, "{out}");
        assert!(lines[1].starts_with("  word"), "{out}");
        // Without spaces there is nowhere to fold.
        let long = "x".repeat(200);
        assert_eq!(
            to_yaml(&map(&[("key", s(&long))])),
            format!("key: {long}\n")
        );
    }

    #[test]
    fn empty_maps_are_flow_and_keys_sort_naturally() {
        assert_eq!(to_yaml(&map(&[("metadata", map(&[]))])), "metadata: {}\n");
        let keys = map(&[
            ("b10", s("x")),
            ("b9", s("x")),
            ("B", s("x")),
            ("_a", s("x")),
            ("a", s("x")),
        ]);
        assert_eq!(to_yaml(&keys), "_a: x\nB: x\na: x\nb9: x\nb10: x\n");
    }
}
