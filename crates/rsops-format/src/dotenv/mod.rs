//! The dotenv store.
//!
//! sops reads dotenv files very literally: the input is split on `\n` only,
//! empty lines are dropped, a line starting with `#` is a comment, every
//! other line is `KEY=VALUE` split at the first `=`, and the value is taken
//! verbatim except that each two-character `\n` becomes a newline. Writing is
//! the mirror image. Metadata lives in `sops_*` keys (see [`crate::flatten`]
//! and [`crate::store`]).
//!
//! This module also holds the *dotenv/INI value format* of non-string
//! scalars shared with the INI store (`scalar_text`).

use crate::error::FormatError;
use crate::flatten::replace_bytes;
use crate::go::format_float_flat;
use crate::json::push_go_lossy;
use crate::tree::{Comment, Entry, Key, Map, MapItem, Source, Value};

mod quoted;

/// Name used in parse errors.
const FORMAT: &str = "dotenv";

/// How plaintext dotenv files are read and written (`stores.dotenv.syntax`
/// in `.sops.yaml`, docs/dotenv.md). Encrypted dotenv files always use
/// sops's syntax, so that sops reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DotenvSyntax {
    /// Exactly as sops: values verbatim (quotes are part of the value),
    /// `\n` is a newline, blank lines dropped.
    #[default]
    Sops,
    /// Values that start with a quote are quoted strings (as shells and
    /// dotenv libraries read them), values are quoted when written so that
    /// every value reads back exactly, and blank lines are kept.
    Quoted,
}

/// Parses a dotenv file in sops's syntax (encrypted files, and plaintext
/// files in the default syntax).
///
/// Values are [`Value::Str`] ([`Value::Bytes`] when not UTF-8). Keys and
/// comments that are not UTF-8 get U+FFFD for each invalid byte. A line
/// without `=` is an error naming its line number (never its content).
/// Blank lines are skipped, their count noted in the next item's
/// [`Source::blank_before`] (only the quoted syntax writes them back).
pub fn parse(input: &[u8]) -> Result<Map, FormatError> {
    parse_with(input, DotenvSyntax::Sops)
}

/// Parses a plaintext dotenv file in the [`DotenvSyntax::Quoted`] syntax.
pub fn parse_quoted(input: &[u8]) -> Result<Map, FormatError> {
    parse_with(input, DotenvSyntax::Quoted)
}

fn parse_with(input: &[u8], syntax: DotenvSyntax) -> Result<Map, FormatError> {
    let quoted = syntax == DotenvSyntax::Quoted;
    let mut map = Map::new();
    let mut blank = 0u32;
    let mut pos = 0;
    let mut line_no = 0;
    while pos < input.len() {
        let rest = input.get(pos..).unwrap_or_default();
        let line_len = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        let line = rest.get(..line_len).unwrap_or_default();
        line_no += 1;
        let mut next = pos + line_len + 1;
        let is_blank =
            line.is_empty() || (quoted && line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')));
        if is_blank {
            blank = blank.saturating_add(1);
            pos = next;
            continue;
        }
        let layout = layout(blank);
        blank = 0;
        if let Some(text) = line.strip_prefix(b"#") {
            map.items.push(MapItem::Comment(Comment {
                text: lossy(text),
                inline: false,
                source: layout,
            }));
            pos = next;
            continue;
        }
        let Some(eq) = line.iter().position(|b| *b == b'=') else {
            return Err(line_error(line_no, "no '=' found"));
        };
        let (key, after) = line.split_at(eq);
        let raw_value = after.get(1..).unwrap_or_default();
        let value = match raw_value.first() {
            Some(b'\'' | b'"') if quoted => {
                let q = quoted::read(input, pos + eq + 1).map_err(|e| match e {
                    quoted::QuoteError::Unterminated => {
                        line_error(line_no, "the quoted value has no closing quote")
                    }
                    quoted::QuoteError::TrailingText => {
                        line_error(line_no, "only blanks may follow the closing quote")
                    }
                })?;
                next = q.next;
                line_no += q.lines.saturating_sub(1);
                q.value
            }
            _ => replace_bytes(raw_value, b"\\n", b"\n"),
        };
        map.items.push(MapItem::Entry(Entry {
            key: Key::Str(lossy(key)),
            value: Value::from_bytes(value),
            source: layout,
        }));
        pos = next;
    }
    Ok(map)
}

/// The layout note of an item preceded by `blank` blank lines.
fn layout(blank: u32) -> Option<Source> {
    (blank > 0).then(|| Source {
        blank_before: blank,
        ..Source::default()
    })
}

fn line_error(line: usize, what: &str) -> FormatError {
    FormatError::parse(FORMAT, format!("invalid dotenv input line {line}: {what}"))
}

/// Writes a flat map as a dotenv file in sops's syntax.
///
/// Comments become `#text`; entries `key=value` with newlines in strings
/// written as `\n`; other scalars use the dotenv/INI value format. A map or
/// list value is refused like sops does.
pub fn emit(map: &Map) -> Result<Vec<u8>, FormatError> {
    write(map, Style::SOPS)
}

/// Writes a plaintext dotenv file in `syntax`.
pub fn emit_plain(map: &Map, syntax: DotenvSyntax) -> Result<Vec<u8>, FormatError> {
    match syntax {
        DotenvSyntax::Sops => emit(map),
        DotenvSyntax::Quoted => write(
            map,
            Style {
                quote_values: true,
                blank_lines: true,
                check_unencrypted: false,
            },
        ),
    }
}

/// Writes an encrypted dotenv file (data entries, then the flattened
/// `sops_*` metadata) in sops's syntax, so that sops reads it.
///
/// With the quoted syntax, blank lines are kept (sops skips them). In both
/// syntaxes a data value that sops's syntax cannot hold (it contains a
/// backslash followed by `n`, which every reader turns into a newline) is
/// refused instead of being written into a file whose MAC would no longer
/// match: only values left unencrypted can hold one, encrypted values are
/// `ENC[...]` strings.
pub fn emit_encrypted(map: &Map, syntax: DotenvSyntax) -> Result<Vec<u8>, FormatError> {
    write(
        map,
        Style {
            quote_values: false,
            blank_lines: syntax == DotenvSyntax::Quoted,
            check_unencrypted: true,
        },
    )
}

/// What a writer does beyond sops's plain `key=value` lines.
#[derive(Debug, Clone, Copy)]
struct Style {
    /// Quote values as [`quoted::write`] does (instead of `\n` escapes).
    quote_values: bool,
    /// Write the blank lines noted in [`Source::blank_before`].
    blank_lines: bool,
    /// Refuse data values sops's syntax cannot hold (encrypted files).
    check_unencrypted: bool,
}

impl Style {
    const SOPS: Style = Style {
        quote_values: false,
        blank_lines: false,
        check_unencrypted: false,
    };
}

fn write(map: &Map, style: Style) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    for item in &map.items {
        if style.blank_lines {
            let source = match item {
                MapItem::Comment(c) => c.source.as_ref(),
                MapItem::Entry(e) => e.source.as_ref(),
            };
            let blank = source.map_or(0, |s| s.blank_before);
            out.extend(std::iter::repeat_n(b'\n', blank as usize));
        }
        match item {
            MapItem::Comment(c) => {
                out.push(b'#');
                out.extend_from_slice(c.text.as_bytes());
            }
            MapItem::Entry(e) => write_entry(&mut out, e, style)?,
        }
        out.push(b'\n');
    }
    Ok(out)
}

fn write_entry(out: &mut Vec<u8>, e: &Entry, style: Style) -> Result<(), FormatError> {
    let key = key_text(&e.key);
    let key_name = || String::from_utf8_lossy(&key).into_owned();
    let text = match &e.value {
        Value::Str(s) => std::borrow::Cow::Borrowed(s.as_bytes()),
        Value::Bytes(b) => std::borrow::Cow::Borrowed(b.as_slice()),
        other => std::borrow::Cow::Owned(scalar_text(other).ok_or_else(|| {
            FormatError::Emit(format!(
                "cannot use complex value in dotenv file; offending key {}",
                key_name()
            ))
        })?),
    };
    if style.quote_values && !key_is_writable(&key) {
        return Err(FormatError::Emit(format!(
            "cannot write the key {:?} to a dotenv file: a key must be non-empty, must not start with '#' and must not contain '=' or a line break",
            key_name()
        )));
    }
    if style.check_unencrypted
        && !key.starts_with(crate::store::DOTENV_METADATA_PREFIX.as_bytes())
        && text.windows(2).any(|w| w == b"\\n")
    {
        return Err(FormatError::Emit(format!(
            "cannot store the value of {} unencrypted in a dotenv file: it contains a backslash followed by 'n', which dotenv readers (sops too) turn into a newline, so the file would no longer match its MAC; encrypt this value or change it",
            key_name()
        )));
    }
    out.extend_from_slice(&key);
    out.push(b'=');
    if style.quote_values {
        quoted::write(out, &text);
    } else {
        out.extend_from_slice(&replace_bytes(&text, b"\n", b"\\n"));
    }
    Ok(())
}

/// Whether a key can be written so that it reads back as itself.
fn key_is_writable(key: &[u8]) -> bool {
    !key.is_empty() && key.first() != Some(&b'#') && !key.iter().any(|b| matches!(b, b'=' | b'\n'))
}

fn lossy(bytes: &[u8]) -> String {
    let mut s = String::new();
    push_go_lossy(&mut s, bytes);
    s
}

/// A key as text: string keys as they are, other keys in the value format.
pub(crate) fn key_text(key: &Key) -> Vec<u8> {
    match key {
        Key::Str(s) => s.as_bytes().to_vec(),
        Key::Other(v) => scalar_text(v).unwrap_or_default(),
    }
}

/// A scalar in the dotenv/INI value format (sops `ValToString`): strings
/// as they are, ints decimal, floats Go `'G'` plus `.0`, bools
/// `true`/`false`, times RFC 3339 with whole seconds, null `<nil>`.
/// `None` for maps and lists.
pub(crate) fn scalar_text(value: &Value) -> Option<Vec<u8>> {
    Some(match value {
        Value::Map(_) | Value::List(_) => return None,
        Value::Str(s) => s.as_bytes().to_vec(),
        Value::Bytes(b) => b.clone(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Float(f) => format_float_flat(*f).into_bytes(),
        Value::Bool(b) => b.to_string().into_bytes(),
        Value::Time(t) => crate::go::time::rfc3339_seconds(t).into_bytes(),
        Value::Null => b"<nil>".to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{load_encrypted, Format};
    use crate::tree::{List, ListItem};
    use proptest::prelude::*;

    fn s(v: &str) -> Value {
        Value::Str(v.to_owned())
    }

    #[test]
    fn reads_lines_literally() {
        let m =
            parse(b"# c1\nA=1\n\nexport B = \"x=y\" \nC=\r\nSPACED =v\\nw\n#\nD=\\\\n").unwrap();
        let mut expected = Map::new();
        expected.push_comment(" c1");
        expected.push("A", s("1"));
        expected.push("export B ", s(" \"x=y\" "));
        expected.push("C", s("\r"));
        expected.push("SPACED ", s("v\nw"));
        expected.push_comment("");
        expected.push("D", s("\\\n"));
        assert_eq!(m, expected);
    }

    #[test]
    fn line_without_equals_names_the_line_not_the_content() {
        let err = parse(b"A=1\n\n  # indented comment is not one\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(!err.contains("indented"), "{err}");
        let err = parse(b"A=1\nhunter2\n").unwrap_err().to_string();
        assert!(err.contains("line 2") && !err.contains("hunter2"), "{err}");
    }

    #[test]
    fn non_utf8_values_are_bytes() {
        let m = parse(b"A=\xff\\n\xfe\n\xffK=1\n#\xff").unwrap();
        assert_eq!(m.get("A"), Some(&Value::Bytes(b"\xff\n\xfe".to_vec())));
        assert_eq!(m.get("\u{FFFD}K"), Some(&s("1")));
        assert_eq!(
            emit(&m).unwrap(),
            b"A=\xff\\n\xfe\n\xef\xbf\xbdK=1\n#\xef\xbf\xbd\n"
        );
    }

    #[test]
    fn writes_comments_pairs_and_escaped_newlines() {
        let mut m = Map::new();
        m.push_comment(" hello");
        m.push("A", s("x\ny"));
        m.push("B", s(""));
        m.push("C", s("a\\b"));
        assert_eq!(emit(&m).unwrap(), b"# hello\nA=x\\ny\nB=\nC=a\\b\n");
        assert_eq!(emit(&Map::new()).unwrap(), b"");
    }

    #[test]
    fn writes_other_scalars_in_the_flat_format() {
        let mut m = Map::new();
        m.push("i", Value::Int(-3));
        m.push("f", Value::Float(30.0));
        m.push("g", Value::Float(1e6));
        m.push("b", Value::Bool(false));
        m.push("t", Value::Time("2024-01-02T03:04:05.123456Z".into()));
        m.push("u", Value::Time("2024-01-02T03:04:05-07:00".into()));
        m.push("n", Value::Null);
        assert_eq!(
            String::from_utf8(emit(&m).unwrap()).unwrap(),
            "i=-3\nf=30.0\ng=1E+06\nb=false\nt=2024-01-02T03:04:05Z\nu=2024-01-02T03:04:05-07:00\nn=<nil>\n"
        );
    }

    #[test]
    fn complex_values_are_refused_with_the_key_name() {
        let mut m = Map::new();
        m.push("nested", Value::Map(Map::new()));
        assert_eq!(
            emit(&m).unwrap_err(),
            FormatError::Emit(
                "cannot use complex value in dotenv file; offending key nested".into()
            )
        );
        let mut m = Map::new();
        m.push(
            "l",
            Value::List(List {
                items: vec![ListItem::Value(s("secret"))],
            }),
        );
        let err = emit(&m).unwrap_err().to_string();
        assert!(err.ends_with("offending key l") && !err.contains("secret"));
    }

    #[test]
    fn large_files_round_trip() {
        let mut doc = String::new();
        for i in 0..100_000 {
            doc.push_str(&format!("#c{i}\nKEY{i}={}\n", "ab\\ncd=".repeat(10)));
        }
        doc.push_str("BIG=");
        doc.push_str(&"\\n".repeat(1_000_000));
        doc.push('\n');
        let m = parse(doc.as_bytes()).unwrap();
        assert_eq!(m.items.len(), 200_001);
        assert!(emit(&m).unwrap() == doc.as_bytes());
    }

    use crate::corpus::read;

    #[test]
    fn corpus_plaintext_round_trips_to_sops_output() {
        for (input, expected) in [
            ("dotenv_basic/input.env", "dotenv_basic/expected.env"),
            (
                "age_and_pgp_dotenv_decrypt_with_age/input.env",
                "age_and_pgp_dotenv_decrypt_with_age/expected.env",
            ),
        ] {
            let out = emit(&parse(&read(input)).unwrap()).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(read(expected)).unwrap()
            );
        }
    }

    #[test]
    fn corpus_encrypted_files_load_and_reemit_identically() {
        for file in [
            "dotenv_basic/encrypted.env",
            "age_and_pgp_dotenv_decrypt_with_age/encrypted.env",
            "dotenv_spaces_around_equals/encrypted.env",
            "compat_env_v3_13/encrypted.env",
        ] {
            let bytes = read(file);
            let m = parse(&bytes).unwrap();
            assert_eq!(emit(&m).unwrap(), bytes, "{file}");

            let (docs, meta) = load_encrypted(Format::Dotenv, &bytes, &crate::Sequential).unwrap();
            let meta = meta.unwrap();
            for key in ["mac", "lastmodified", "version"] {
                assert!(
                    matches!(meta.get(key), Some(Value::Str(_))),
                    "{file}: {key}"
                );
            }
            assert!(docs[0]
                .entries()
                .all(|e| !e.key.as_str().unwrap().starts_with("sops_")));
            let lists: Vec<&str> = ["age", "pgp"]
                .into_iter()
                .filter(|k| meta.get(k).is_some())
                .collect();
            assert!(!lists.is_empty(), "{file}");
            for k in lists {
                let Some(Value::List(l)) = meta.get(k) else {
                    panic!("{file}: {k} is not a list");
                };
                for key in l.values() {
                    let Value::Map(key) = key else {
                        panic!("{file}: key entry is not a map");
                    };
                    let enc = key.get("enc").and_then(Value::as_str).unwrap();
                    assert!(
                        enc.starts_with("-----BEGIN") && enc.contains('\n'),
                        "{file}"
                    );
                    assert!(!enc.contains("\\n"), "{file}");
                }
            }
            // Writing the metadata back reproduces the 3.11 file (sorted keys).
            if file.starts_with("dotenv_basic") || file.starts_with("age_and") {
                let out = crate::store::emit_encrypted(
                    Format::Dotenv,
                    &docs,
                    &meta,
                    &crate::store::EmitOptions::default(),
                )
                .unwrap();
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    String::from_utf8(bytes).unwrap()
                );
            }
        }
    }

    fn flat_map() -> impl Strategy<Value = Map> {
        let item = prop_oneof![
            "[^\n]{0,12}".prop_map(|c| (None, c)),
            ("[A-Za-z_ .-][^=\n]{0,10}", "[^\\\\]{0,16}").prop_map(|(k, v)| (Some(k), v)),
        ];
        prop::collection::vec(item, 0..10).prop_map(|items| {
            let mut m = Map::new();
            for (k, v) in items {
                match k {
                    Some(k) => m.push(k, Value::Str(v)),
                    None => m.push_comment(v),
                }
            }
            m
        })
    }

    /// Blank-line counts of the items, in order.
    fn blanks(m: &Map) -> Vec<u32> {
        m.items
            .iter()
            .map(|i| match i {
                MapItem::Comment(c) => c.source.as_ref(),
                MapItem::Entry(e) => e.source.as_ref(),
            })
            .map(|s| s.map_or(0, |s| s.blank_before))
            .collect()
    }

    const QUOTED_FILE: &str = concat!(
        "# database\n",
        "DB_USER=app\n",
        "DB_PASSWORD=\"p@ss word\"\n",
        "\n",
        "\n",
        "# quotes and escapes\n",
        "GREETING=\"Some long string with spaces\"\n",
        "SINGLE='$HOME stays literal'\n",
        "WINDOWS_PATH='C:\\new\\table'\n",
        "PEM=\"-----BEGIN KEY-----\\nabc\\n-----END KEY-----\"\n",
        "HASH=\"123#567\"\n",
        "EMPTY=\n",
        "MIXED=\"it's \\\"\\$x\\\"\"\n",
        "\n",
        "PLAIN=c2VjcmV0==\n",
    );

    #[test]
    fn quoted_syntax_reads_values_as_shells_do() {
        let m = parse_quoted(QUOTED_FILE.as_bytes()).unwrap();
        assert_eq!(m.get("DB_PASSWORD"), Some(&s("p@ss word")));
        assert_eq!(m.get("GREETING"), Some(&s("Some long string with spaces")));
        assert_eq!(m.get("SINGLE"), Some(&s("$HOME stays literal")));
        assert_eq!(m.get("WINDOWS_PATH"), Some(&s("C:\\new\\table")));
        assert_eq!(
            m.get("PEM"),
            Some(&s("-----BEGIN KEY-----\nabc\n-----END KEY-----"))
        );
        assert_eq!(m.get("HASH"), Some(&s("123#567")));
        assert_eq!(m.get("EMPTY"), Some(&s("")));
        assert_eq!(m.get("MIXED"), Some(&s("it's \"$x\"")));
        assert_eq!(m.get("PLAIN"), Some(&s("c2VjcmV0==")));
        assert_eq!(blanks(&m), vec![0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
        // The file is already in the writer's canonical form: it comes back
        // byte for byte.
        assert_eq!(
            String::from_utf8(emit_plain(&m, DotenvSyntax::Quoted).unwrap()).unwrap(),
            QUOTED_FILE
        );
        // sops's syntax keeps the quotes in the values and drops blank lines.
        let sops = parse(QUOTED_FILE.as_bytes()).unwrap();
        assert_eq!(sops.get("DB_PASSWORD"), Some(&s("\"p@ss word\"")));
        let sops_out = String::from_utf8(emit(&sops).unwrap()).unwrap();
        assert_eq!(
            sops_out,
            QUOTED_FILE.replace("\n\n", "\n").replace("\n\n", "\n")
        );
    }

    #[test]
    fn quoted_syntax_accepts_multi_line_values_and_blank_lines_with_spaces() {
        let m = parse_quoted(b"A='one\ntwo'\n  \t\r\nB=\"x\ny\" \r\nC=3").unwrap();
        assert_eq!(m.get("A"), Some(&s("one\ntwo")));
        assert_eq!(m.get("B"), Some(&s("x\ny")));
        assert_eq!(m.get("C"), Some(&s("3")));
        assert_eq!(blanks(&m), vec![0, 1, 0]);
        assert_eq!(
            emit_plain(&m, DotenvSyntax::Quoted).unwrap(),
            b"A=\"one\\ntwo\"\n\nB=\"x\\ny\"\nC=3\n"
        );
    }

    #[test]
    fn quoted_syntax_errors_name_the_line_only() {
        for (input, line, what) in [
            ("A=1\nB='secret\n", 2, "no closing quote"),
            ("A=1\n\nB=\"secret\" tail\n", 3, "only blanks may follow"),
            ("A='x\ny'\nsecret\n", 3, "no '=' found"),
        ] {
            let err = parse_quoted(input.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(&format!("line {line}: ")), "{err}");
            assert!(err.contains(what), "{err}");
            assert!(!err.contains("secret") && !err.contains("tail"), "{err}");
        }
    }

    #[test]
    fn quoted_syntax_refuses_keys_that_cannot_be_read_back() {
        for key in ["", "#x", "a=b", "a\nb"] {
            let mut m = Map::new();
            m.push(key, s("v"));
            let err = emit_plain(&m, DotenvSyntax::Quoted)
                .unwrap_err()
                .to_string();
            assert!(err.contains("cannot write the key"), "{err}");
        }
    }

    #[test]
    fn encrypted_files_keep_blank_lines_only_in_the_quoted_syntax() {
        let m = parse(b"A=ENC[x]\n\n#ENC[c]\nB=ENC[y]\nsops_version=3.11.0\n").unwrap();
        assert_eq!(
            emit_encrypted(&m, DotenvSyntax::Quoted).unwrap(),
            b"A=ENC[x]\n\n#ENC[c]\nB=ENC[y]\nsops_version=3.11.0\n"
        );
        assert_eq!(
            emit_encrypted(&m, DotenvSyntax::Sops).unwrap(),
            b"A=ENC[x]\n#ENC[c]\nB=ENC[y]\nsops_version=3.11.0\n"
        );
    }

    #[test]
    fn encrypted_files_refuse_unencrypted_values_sops_would_misread() {
        let mut m = Map::new();
        m.push("PATH_unencrypted", s("C:\\new"));
        for syntax in [DotenvSyntax::Sops, DotenvSyntax::Quoted] {
            let err = emit_encrypted(&m, syntax).unwrap_err().to_string();
            assert!(
                err.contains("PATH_unencrypted") && !err.contains("C:"),
                "{err}"
            );
        }
        // Real newlines are fine (written as \n), and so is metadata.
        let mut m = Map::new();
        m.push("A_unencrypted", s("x\ny"));
        m.push("sops_encrypted_regex", s("^a\\nb$"));
        assert!(emit_encrypted(&m, DotenvSyntax::Sops).is_ok());
    }

    fn quoted_map() -> impl Strategy<Value = Map> {
        let item = prop_oneof![
            ("[^\n]{0,12}", 0u32..3).prop_map(|(c, b)| (None, c.into_bytes(), b)),
            (
                "[A-Za-z_ .-][^=\n]{0,10}",
                prop::collection::vec(any::<u8>(), 0..24),
                0u32..3
            )
                .prop_map(|(k, v, b)| (Some(k), v, b)),
        ];
        prop::collection::vec(item, 0..10).prop_map(|items| {
            let mut m = Map::new();
            for (k, v, blank) in items {
                let item = match k {
                    Some(k) => MapItem::Entry(Entry {
                        key: Key::Str(k),
                        value: Value::from_bytes(v),
                        source: layout(blank),
                    }),
                    None => MapItem::Comment(Comment {
                        text: String::from_utf8(v).unwrap_or_default(),
                        inline: false,
                        source: layout(blank),
                    }),
                };
                m.items.push(item);
            }
            m
        })
    }

    proptest! {
        #[test]
        fn parse_emit_round_trip(m in flat_map()) {
            prop_assert_eq!(parse(&emit(&m).unwrap()).unwrap(), m);
        }

        #[test]
        fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn quoted_syntax_round_trips_every_value_and_blank_line(m in quoted_map()) {
            let out = emit_plain(&m, DotenvSyntax::Quoted).unwrap();
            let back = parse_quoted(&out).unwrap();
            prop_assert_eq!(&back, &m);
            prop_assert_eq!(blanks(&back), blanks(&m));
        }

        #[test]
        fn parse_quoted_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_quoted(&bytes);
        }

        #[test]
        fn byte_values_round_trip(v in prop::collection::vec(any::<u8>(), 0..32)) {
            prop_assume!(!v.windows(2).any(|w| w == b"\\n"));
            let mut m = Map::new();
            m.push("K", Value::from_bytes(v));
            prop_assert_eq!(parse(&emit(&m).unwrap()).unwrap(), m);
        }
    }
}
