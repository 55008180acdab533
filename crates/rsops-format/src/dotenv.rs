//! The dotenv store (STORES.md §3).
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
use crate::json::push_go_lossy;
use crate::number::format_float_flat;
use crate::tree::{Key, Map, MapItem, Value};

/// Name used in parse errors.
const FORMAT: &str = "dotenv";

/// How plaintext dotenv files are read and written (`stores.dotenv.syntax`
/// in `.sops.yaml`). Encrypted dotenv files always use sops's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DotenvSyntax {
    /// Exactly as sops: values verbatim (quotes are part of the value),
    /// `\n` is a newline, blank lines dropped.
    #[default]
    Sops,
    /// Quoted values as shells and dotenv libraries read them; every value
    /// round-trips exactly; blank lines kept.
    Quoted,
}

/// Parses a plaintext dotenv file in the [`DotenvSyntax::Quoted`] syntax.
pub fn parse_quoted(input: &[u8]) -> Result<Map, FormatError> {
    parse(input)
}

/// Writes a plaintext dotenv file in `syntax`.
pub fn emit_plain(map: &Map, syntax: DotenvSyntax) -> Result<Vec<u8>, FormatError> {
    let _ = syntax;
    emit(map)
}

/// Writes an encrypted dotenv file (data and flattened metadata): always in
/// sops's syntax, so that sops reads it.
pub fn emit_encrypted(map: &Map, syntax: DotenvSyntax) -> Result<Vec<u8>, FormatError> {
    let _ = syntax;
    emit(map)
}

/// Parses a dotenv file.
///
/// Values are [`Value::Str`] ([`Value::Bytes`] when not UTF-8). Keys and
/// comments that are not UTF-8 get U+FFFD for each invalid byte. A line
/// without `=` is an error naming its line number (never its content).
pub fn parse(input: &[u8]) -> Result<Map, FormatError> {
    let mut map = Map::new();
    for (index, line) in input.split(|b| *b == b'\n').enumerate() {
        match line.split_first() {
            None => {}
            Some((b'#', text)) => map.push_comment(lossy(text)),
            Some(_) => {
                let Some(eq) = line.iter().position(|b| *b == b'=') else {
                    return Err(FormatError::parse(
                        FORMAT,
                        format!("invalid dotenv input line {}: no '=' found", index + 1),
                    ));
                };
                let (key, rest) = line.split_at(eq);
                let value = rest.get(1..).unwrap_or_default();
                map.push(
                    lossy(key),
                    Value::from_bytes(replace_bytes(value, b"\\n", b"\n")),
                );
            }
        }
    }
    Ok(map)
}

/// Writes a flat map as a dotenv file.
///
/// Comments become `#text`; entries `key=value` with newlines in strings
/// written as `\n`; other scalars use the dotenv/INI value format. A map or
/// list value is refused like sops does.
pub fn emit(map: &Map) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    for item in &map.items {
        match item {
            MapItem::Comment(c) => {
                out.push(b'#');
                out.extend_from_slice(c.text.as_bytes());
            }
            MapItem::Entry(e) => {
                let key = key_text(&e.key);
                let value = match &e.value {
                    Value::Str(s) => replace_bytes(s.as_bytes(), b"\n", b"\\n"),
                    Value::Bytes(b) => replace_bytes(b, b"\n", b"\\n"),
                    other => scalar_text(other).ok_or_else(|| {
                        FormatError::Emit(format!(
                            "cannot use complex value in dotenv file; offending key {}",
                            String::from_utf8_lossy(&key)
                        ))
                    })?,
                };
                out.extend_from_slice(&key);
                out.push(b'=');
                out.extend_from_slice(&value);
            }
        }
        out.push(b'\n');
    }
    Ok(out)
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
        Value::Time(t) => rfc3339_seconds(t).into_bytes(),
        Value::Null => b"<nil>".to_vec(),
    })
}

/// Drops the fractional seconds of an RFC 3339 time
/// (`2024-01-02T03:04:05.5+02:00` → `2024-01-02T03:04:05+02:00`), which is
/// how Go's `time.RFC3339` layout writes a time.
pub(crate) fn rfc3339_seconds(t: &str) -> String {
    let Some(tpos) = t.find(['T', 't']) else {
        return t.to_owned();
    };
    let after = tpos + 1;
    // HH:MM:SS is 8 bytes; a fraction starts right after it.
    let frac_start = after + 8;
    if t.as_bytes().get(frac_start) != Some(&b'.') {
        return t.to_owned();
    }
    let digits = t
        .get(frac_start + 1..)
        .map(|rest| rest.bytes().take_while(u8::is_ascii_digit).count())
        .unwrap_or(0);
    match (t.get(..frac_start), t.get(frac_start + 1 + digits..)) {
        (Some(head), Some(tail)) => format!("{head}{tail}"),
        _ => t.to_owned(),
    }
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

    const CASES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/cases/"
    );

    fn read(rel: &str) -> Vec<u8> {
        std::fs::read(format!("{CASES}{rel}")).unwrap()
    }

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
            "compat_format_env_v3_13_1/format.enc.env",
        ] {
            let bytes = read(file);
            let m = parse(&bytes).unwrap();
            assert_eq!(emit(&m).unwrap(), bytes, "{file}");

            let (docs, meta) = load_encrypted(Format::Dotenv, &bytes).unwrap();
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
        fn byte_values_round_trip(v in prop::collection::vec(any::<u8>(), 0..32)) {
            prop_assume!(!v.windows(2).any(|w| w == b"\\n"));
            let mut m = Map::new();
            m.push("K", Value::from_bytes(v));
            prop_assert_eq!(parse(&emit(&m).unwrap()).unwrap(), m);
        }
    }
}
