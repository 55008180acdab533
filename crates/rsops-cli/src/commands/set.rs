//! `rsops set`: set one value of an encrypted file in place,
//! and sops's legacy `--set '["a"] 7' FILE` form.
//!
//! The value is JSON, read like sops 3.11 reads it: a string stays a string,
//! every number becomes a float, `true`/`false` a bool, `null` null, and an
//! object a map read by the JSON store (key order kept). A top-level array is
//! refused. The file is decrypted with its data key, changed, and re-sealed
//! with the same key: untouched values keep their exact `ENC[...]`.

use std::path::Path;

use rsops_core::treepath::{self, Component};
use rsops_format::{json, Value};

use super::open;
use crate::error::{CmdResult, Error};
use crate::settings::{SetChange, SetSettings, SetValue};

/// Runs `rsops set` and the legacy `--set 'PATH VALUE' FILE`. A legacy
/// spec is split right after the first `] ` into the path (trailing spaces
/// trimmed) and the JSON value; sops reads the value before the path, so
/// its errors come first. The file is rewritten in place.
pub fn run(s: &SetSettings) -> CmdResult {
    let (path, value) = match &s.change {
        SetChange::Args { path, value } => {
            let path = parse_path(path, "Invalid set index format")?;
            let json = match value {
                SetValue::Stdin => read_stdin()?,
                SetValue::File(file) => read_value_file(file)?,
                SetValue::Json(text) => text.as_bytes().to_vec(),
            };
            (path, parse_value(&json)?)
        }
        SetChange::Legacy(spec) => {
            let (path_text, json) = split_legacy_spec(spec)?;
            let value = parse_value(json.as_bytes())?;
            (parse_path(path_text, "Invalid --set format")?, value)
        }
    };
    apply(s, path, value)
}

/// Splits a legacy `--set` argument into its path and its JSON value.
fn split_legacy_spec(spec: &str) -> CmdResult<(&str, &str)> {
    let Some(at) = spec.find("] ") else {
        return Err(Error::LegacySetFormat);
    };
    let (left, right) = spec.split_at(at + 2);
    Ok((left.trim_end_matches(' '), right))
}

/// Parses a set/unset path; any syntax error (or an empty path) is
/// `message` with exit 7.
pub(crate) fn parse_path(text: &str, context: &'static str) -> CmdResult<Vec<Component>> {
    match treepath::parse(text) {
        Ok(p) if !p.is_empty() => Ok(p),
        Ok(_) => Err(Error::EmptySetPath { context }),
        Err(source) => Err(Error::SetPath { context, source }),
    }
}

fn read_stdin() -> CmdResult<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::io::stdin()
        .read_to_end(&mut buf)
        .map_err(Error::ReadValueStdin)?;
    Ok(buf)
}

fn read_value_file(path: &Path) -> CmdResult<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::ReadValueFile {
        path: path.into(),
        source,
    })
}

/// Decrypts the file, sets the value, and writes the file back. With
/// `--idempotent` an unchanged value leaves the file untouched; without it
/// the file is written anyway (new `lastmodified` and MAC, and the output
/// store's format), as sops does (its functional tests rely on it).
fn apply(job: &SetSettings, path: Vec<Component>, value: Value) -> CmdResult {
    ensure_exists(&job.file)?;
    let mut decrypted = open::decrypt(
        Some(&job.file),
        &job.common,
        job.decryption_order.as_deref(),
        job.ignore_mac,
    )?;
    let doc = decrypted
        .file
        .docs
        .first_mut()
        .ok_or(Error::NoDocumentToSet)?;
    let changed = treepath::set(doc, &path, value)?;
    if !changed && job.idempotent {
        return Ok(());
    }
    renew_on_write(&mut decrypted);
    let bytes = decrypted.seal()?;
    open::write_back(&job.file, &bytes)
}

/// A written file gets a new `lastmodified` (and so a new MAC), as sops
/// stamps it; `seal` keeps them when the values are unchanged unless the
/// stored MAC is cleared first.
pub(crate) fn renew_on_write(decrypted: &mut open::Decrypted) {
    decrypted.file.metadata.mac.clear();
}

/// sops reports a missing file as a read error (exit 2).
pub(crate) fn ensure_exists(file: &Path) -> CmdResult {
    if file.exists() {
        return Ok(());
    }
    Err(Error::MissingFileToChange(file.into()))
}

/// Reads a `set` value as sops 3.11 does (Go `encoding/json` into an
/// interface, then the JSON store for objects).
pub(crate) fn parse_value(text: &[u8]) -> CmdResult<Value> {
    let invalid = || Error::SetValueNotJson;
    let kind = check_json(text).ok_or_else(invalid)?;
    let format = || Error::SetValueArray;
    match kind {
        JsonKind::Array => Err(format()),
        JsonKind::Object => json::parse(text).map(Value::Map).map_err(|_| format()),
        JsonKind::Scalar => scalar_value(text).ok_or_else(invalid),
    }
}

/// Decodes a validated JSON scalar with the JSON store's rules (but numbers
/// are floats, invalid UTF-8 becomes U+FFFD) by reading it as an object member.
fn scalar_value(text: &[u8]) -> Option<Value> {
    let mut wrapped = b"{\"v\":".to_vec();
    wrapped.extend_from_slice(text);
    wrapped.push(b'}');
    let map = json::parse(&wrapped).ok()?;
    match map.get("v")? {
        // `encoding/json` into an interface: every number is a float64 (the
        // store keeps integers exact, sops's `set` does not).
        Value::Int(_) => std::str::from_utf8(text)
            .ok()
            .and_then(|t| rsops_format::go::parse_float(t.trim_ascii()))
            .map(Value::Float),
        other => Some(other.clone()),
    }
}

/// The shape of a valid JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonKind {
    Object,
    Array,
    Scalar,
}

/// Go's `encoding/json` nesting limit.
const MAX_JSON_DEPTH: usize = 10_000;

/// Checks that `text` is exactly one JSON value (surrounded by optional
/// whitespace) the way Go's decoder does, including that every number fits
/// a float64. Iterative, so deep nesting cannot overflow the stack.
fn check_json(text: &[u8]) -> Option<JsonKind> {
    let mut r = JsonCheck { b: text, pos: 0 };
    r.ws();
    let kind = match r.peek()? {
        b'{' => JsonKind::Object,
        b'[' => JsonKind::Array,
        _ => JsonKind::Scalar,
    };
    let mut stack: Vec<u8> = Vec::new();
    'value: loop {
        if stack.len() > MAX_JSON_DEPTH {
            return None;
        }
        r.ws();
        match r.peek()? {
            b'{' => {
                r.pos += 1;
                r.ws();
                if r.eat(b'}') {
                    // empty object: a complete value
                } else {
                    stack.push(b'{');
                    r.member_key()?;
                    continue 'value;
                }
            }
            b'[' => {
                r.pos += 1;
                r.ws();
                if !r.eat(b']') {
                    stack.push(b'[');
                    continue 'value;
                }
            }
            _ => r.scalar()?,
        }
        // After a complete value: close containers or move to the next item.
        loop {
            r.ws();
            match stack.last() {
                None => {
                    return (r.pos == text.len()).then_some(kind);
                }
                Some(&open) => {
                    let close = if open == b'{' { b'}' } else { b']' };
                    if r.eat(b',') {
                        if open == b'{' {
                            r.ws();
                            r.member_key()?;
                        }
                        continue 'value;
                    }
                    if !r.eat(close) {
                        return None;
                    }
                    stack.pop();
                }
            }
        }
    }
}

/// A cursor over JSON text for [`check_json`].
struct JsonCheck<'a> {
    b: &'a [u8],
    pos: usize,
}

impl JsonCheck<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// `"key"` then `:` (whitespace allowed around the colon).
    fn member_key(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.string()?;
        self.ws();
        self.eat(b':').then_some(())
    }

    fn scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(word.len())?;
        (self.b.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    /// A string: any byte but controls; escapes checked. Invalid UTF-8 is
    /// accepted (Go replaces it when decoding).
    fn string(&mut self) -> Option<()> {
        self.pos += 1;
        loop {
            let c = self.peek()?;
            self.pos += 1;
            match c {
                b'"' => return Some(()),
                b'\\' => {
                    let e = self.peek()?;
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            for _ in 0..4 {
                                if !self.peek()?.is_ascii_hexdigit() {
                                    return None;
                                }
                                self.pos += 1;
                            }
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => {}
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, finite as a float64.
    fn number(&mut self) -> Option<()> {
        let start = self.pos;
        self.eat(b'-');
        if self.eat(b'0') {
            // no more integer digits allowed after a leading zero
        } else if self.digits() == 0 {
            return None;
        }
        if self.eat(b'.') && self.digits() == 0 {
            return None;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return None;
            }
        }
        let text = std::str::from_utf8(self.b.get(start..self.pos)?).ok()?;
        text.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> Option<JsonKind> {
        check_json(s.as_bytes())
    }

    #[test]
    fn json_check_accepts_what_go_accepts() {
        for ok in [
            "5",
            " -0.5e+3 ",
            "\"a\\u00e9\\n\"",
            "true",
            "null",
            "{}",
            "{\"a\": [1, {\"b\": null}], \"c\": \"d\"}",
            "[]",
            "[1,[2,[3]]]",
            "\n{\"a\":1}\n",
        ] {
            assert!(kind(ok).is_some(), "{ok}");
        }
        assert_eq!(kind("{\"a\":1}"), Some(JsonKind::Object));
        assert_eq!(kind("[1]"), Some(JsonKind::Array));
        assert_eq!(kind("\"x\""), Some(JsonKind::Scalar));
    }

    #[test]
    fn json_check_rejects_what_go_rejects() {
        for bad in [
            "",
            " ",
            "x",
            "'a'",
            "01",
            "1.",
            ".5",
            "1e",
            "+1",
            "1e400",
            "tru",
            "truex",
            "\"a",
            "\"\\x\"",
            "\"\t\"",
            "{\"a\":1} x",
            "{\"a\":1}}",
            "{\"a\" 1}",
            "{a:1}",
            "{\"a\":1,}",
            "[1,]",
            "[1",
            "\u{feff}5",
        ] {
            assert!(kind(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn deep_nesting_is_bounded_without_recursion() {
        let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
        assert!(kind(&deep).is_none());
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(kind(&ok), Some(JsonKind::Array));
    }

    #[test]
    fn values_follow_sops_types() {
        assert_eq!(parse_value(b"5").unwrap(), Value::Float(5.0));
        assert_eq!(parse_value(b"\"s\"").unwrap(), Value::Str("s".into()));
        assert_eq!(parse_value(b"true").unwrap(), Value::Bool(true));
        assert_eq!(parse_value(b"null").unwrap(), Value::Null);
        let Value::Map(m) = parse_value(b"{\"z\":1,\"a\":\"b\"}").unwrap() else {
            panic!("not a map");
        };
        let keys: Vec<_> = m.entries().filter_map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["z", "a"]);
        // Inside an object the JSON store's types apply (sops 3.13.2: an
        // integer stays an integer); a bare number is a float64.
        assert_eq!(m.get("z"), Some(&Value::Int(1)));
        assert_eq!(
            parse_value(b"9007199254740993").unwrap(),
            Value::Float(9007199254740992.0)
        );
        assert_eq!(
            parse_value(b"\"\\ud800\"").unwrap(),
            Value::Str("\u{fffd}".into())
        );
    }

    #[test]
    fn value_errors_use_exit_7() {
        let e = parse_value(b"[1]").unwrap_err();
        assert_eq!(e.exit_code(), crate::error::code::INVALID_SET_FORMAT);
        assert!(e.to_string().starts_with("Invalid --set value format"));
        let e = parse_value(b"nope").unwrap_err();
        assert_eq!(e.exit_code(), crate::error::code::INVALID_SET_FORMAT);
        assert!(e
            .to_string()
            .starts_with("Value for --set is not valid JSON"));
    }

    #[test]
    fn legacy_spec_splits_after_first_bracket_space() {
        assert_eq!(
            split_legacy_spec("[\"a\"][0]  {\"b\": \"] x\"}").unwrap(),
            ("[\"a\"][0]", " {\"b\": \"] x\"}")
        );
        assert_eq!(split_legacy_spec("[\"a\"] 7").unwrap(), ("[\"a\"]", "7"));
        assert_eq!(
            split_legacy_spec("[\"a\"]7").unwrap_err().exit_code(),
            crate::error::code::INVALID_SET_FORMAT
        );
    }

    #[test]
    fn paths_must_parse_and_be_non_empty() {
        assert_eq!(
            parse_path("", "Invalid set index format")
                .unwrap_err()
                .exit_code(),
            crate::error::code::INVALID_SET_FORMAT
        );
        let e = parse_path("[x]", "Invalid set index format").unwrap_err();
        assert!(e.to_string().starts_with("Invalid set index format"));
        assert_eq!(parse_path("[\"a\"][1]", "m").unwrap().len(), 2);
    }
}
