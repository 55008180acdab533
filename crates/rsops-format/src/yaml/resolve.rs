//! Scalar resolution as go-yaml v3 does it, used by the
//! parser to type plain scalars and by the emitter to decide when a string
//! must be quoted (a string that would resolve to anything else is quoted).
//!
//! The rules reproduce go-yaml v3's `resolve()` (checked against sops 3.11):
//! a fixed table for null/bool/special floats, then — depending on the first
//! character — timestamps (Go `time.Parse` with go-yaml's four layouts),
//! integers (Go `strconv.ParseInt(s, 0, 64)` after removing every `_`),
//! unsigned integers, YAML-style floats and go-yaml's own `0b`/`0o` fallbacks.

use crate::go::{self, parse_int, parse_uint};
use crate::tree::Value;

/// Resolves a **plain** (unquoted, untagged) scalar to a typed value the way
/// go-yaml v3 decodes it into `interface{}`: null, bool, int, float,
/// timestamp, else string.
///
/// `Err(())` for a scalar sops reads but cannot process: an integer that fits
/// `u64` but not `i64` (sops: `Cannot walk value, unknown type: uint64`) and a
/// timestamp whose zone offset is 24 hours or more (Go cannot marshal it).
/// Such text is not a string for go-yaml either, so the emitter must quote it.
#[allow(clippy::result_unit_err)]
pub fn resolve_plain(text: &str) -> Result<Value, ()> {
    resolved_into_value(resolve_scalar(text, true), text).ok_or(())
}

/// The outcome of go-yaml's resolution, before conversion to a tree value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved {
    /// `!!null`.
    Null,
    /// `!!bool`.
    Bool(bool),
    /// `!!int` that fits `i64`.
    Int(i64),
    /// `!!int` that fits only `u64` (sops fails on it).
    Uint(u64),
    /// `!!float`.
    Float(f64),
    /// `!!timestamp`, normalised to Go `RFC3339Nano`.
    Time(String),
    /// `!!timestamp` with a zone offset Go cannot marshal (≥ 24 h).
    BadTime,
    /// `!!str`: the text itself.
    Str,
}

impl Resolved {
    /// The go-yaml short tag of the resolved kind (for messages).
    pub(crate) fn tag_name(&self) -> &'static str {
        match self {
            Resolved::Null => "!!null",
            Resolved::Bool(_) => "!!bool",
            Resolved::Int(_) | Resolved::Uint(_) => "!!int",
            Resolved::Float(_) => "!!float",
            Resolved::Time(_) | Resolved::BadTime => "!!timestamp",
            Resolved::Str => "!!str",
        }
    }
}

/// Converts a resolution of `text` to a tree value; `None` for `Uint` and
/// `BadTime`.
pub(crate) fn resolved_into_value(r: Resolved, text: &str) -> Option<Value> {
    match r {
        Resolved::Null => Some(Value::Null),
        Resolved::Bool(b) => Some(Value::Bool(b)),
        Resolved::Int(i) => Some(Value::Int(i)),
        Resolved::Float(f) => Some(Value::Float(f)),
        Resolved::Time(t) => Some(Value::Time(t)),
        Resolved::Str => Some(Value::Str(text.to_owned())),
        Resolved::Uint(_) | Resolved::BadTime => None,
    }
}

/// go-yaml v3 `resolve(tag, text)` for an untagged plain scalar
/// (`allow_time` = true) or an explicit `!!bool`/`!!int`/`!!float`/`!!null`
/// tag (`allow_time` = false; `!!timestamp` passes true).
pub(crate) fn resolve_scalar(text: &str, allow_time: bool) -> Resolved {
    if let Some(r) = lookup_table(text) {
        return r;
    }
    match text.as_bytes().first() {
        Some(b'.') => dot_float(text).map_or(Resolved::Str, Resolved::Float),
        Some(b'+' | b'-' | b'0'..=b'9') => numeric(text, allow_time),
        _ => Resolved::Str,
    }
}

/// go-yaml's `resolveMap`: exact spellings of null, bools and special floats.
fn lookup_table(text: &str) -> Option<Resolved> {
    Some(match text {
        "" | "~" | "null" | "Null" | "NULL" => Resolved::Null,
        "true" | "True" | "TRUE" => Resolved::Bool(true),
        "false" | "False" | "FALSE" => Resolved::Bool(false),
        ".nan" | ".NaN" | ".NAN" => Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Resolved::Float(f64::NEG_INFINITY),
        _ => return None,
    })
}

/// A scalar starting with `.`: Go `strconv.ParseFloat` on the text itself
/// (underscores allowed between digits), rejecting overflow.
fn dot_float(text: &str) -> Option<f64> {
    if !go::underscores_ok(text.as_bytes()) {
        return None;
    }
    let plain = without_underscores(text);
    if !plain.starts_with('.') || !is_yaml_style_float(&plain) {
        return None;
    }
    go::parse_float(&plain)
}

/// A scalar starting with a sign or a digit: timestamp, int, uint, float,
/// then go-yaml's `0b`/`0o` fallbacks.
fn numeric(text: &str, allow_time: bool) -> Resolved {
    if allow_time {
        if let Some(t) = go::time::parse_yaml_layouts(text) {
            return if t.marshalable() {
                Resolved::Time(t.rfc3339_nano())
            } else {
                Resolved::BadTime
            };
        }
    }
    let plain = without_underscores(text);
    let plain = plain.as_ref();
    if let Some(i) = parse_int(plain, 0) {
        return Resolved::Int(i);
    }
    if let Some(u) = parse_uint(plain, 0) {
        return Resolved::Uint(u);
    }
    if is_yaml_style_float(plain) {
        if let Some(f) = go::parse_float(plain) {
            return Resolved::Float(f);
        }
    }
    // go-yaml retries the digits after an explicit `0b`/`0o` prefix with
    // `ParseInt(rest, radix)`, which accepts a sign there (`0b-101` = -5).
    for (prefix, radix) in [("0b", 2), ("0o", 8)] {
        if let Some(rest) = plain.strip_prefix(prefix) {
            if let Some(i) = parse_int(rest, radix) {
                return Resolved::Int(i);
            }
            if let Some(u) = parse_uint(rest, radix) {
                return Resolved::Uint(u);
            }
        } else if let Some(rest) = plain.strip_prefix('-').and_then(|p| p.strip_prefix(prefix)) {
            if let Some(i) = parse_int(&format!("-{rest}"), radix) {
                return Resolved::Int(i);
            }
        }
    }
    Resolved::Str
}

/// `text` without its underscores (borrowed when it has none).
fn without_underscores(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('_') {
        std::borrow::Cow::Owned(text.chars().filter(|c| *c != '_').collect())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// go-yaml's `yamlStyleFloat`:
/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Result<Value, ()> {
        resolve_plain(s)
    }

    #[test]
    fn nulls_and_bools() {
        for s in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(plain(s), Ok(Value::Null), "{s:?}");
        }
        for s in ["true", "True", "TRUE"] {
            assert_eq!(plain(s), Ok(Value::Bool(true)), "{s}");
        }
        for s in ["false", "False", "FALSE"] {
            assert_eq!(plain(s), Ok(Value::Bool(false)), "{s}");
        }
        for s in [
            "yes", "no", "on", "off", "y", "n", "Yes", "NO", "tRUE", "nULL", "~x", "<<",
        ] {
            assert_eq!(plain(s), Ok(Value::Str(s.into())), "{s}");
        }
    }

    #[test]
    fn integers() {
        for (s, v) in [
            ("30", 30),
            ("+1", 1),
            ("-1", -1),
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("017", 15),
            ("-017", -15),
            ("0o777", 511),
            ("0O17", 15),
            ("0x1F", 31),
            ("0X1F", 31),
            ("-0x10", -16),
            ("+0x10", 16),
            ("0b101", 5),
            ("0B11", 3),
            ("-0b101", -5),
            ("1_000", 1000),
            ("1_", 1),
            ("1__0", 10),
            ("0x_1F", 31),
            ("0b-101", -5),
            ("0o-17", -15),
            ("0b+11", 3),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ] {
            assert_eq!(plain(s), Ok(Value::Int(v)), "{s}");
        }
    }

    #[test]
    fn unsigned_overflow_is_an_error() {
        for s in [
            "12345678901234567890",
            "18446744073709551615",
            "0xFFFFFFFFFFFFFFFF",
            "9223372036854775808",
        ] {
            assert_eq!(plain(s), Err(()), "{s}");
        }
    }

    #[test]
    fn floats() {
        for (s, v) in [
            ("3.25", 3.25),
            ("1.0", 1.0),
            ("1.", 1.0),
            (".5", 0.5),
            ("+.5", 0.5),
            ("-.5", -0.5),
            ("1e3", 1000.0),
            ("1E3", 1000.0),
            ("1.5E+3", 1500.0),
            ("1_0.5", 10.5),
            (".5e3", 500.0),
            (".5_0", 0.5),
            ("1e1_0", 1e10),
            ("08", 8.0),
            ("09.5", 9.5),
            ("1e-400", 0.0),
            ("100000000000000000000", 1e20),
            ("+12345678901234567890", 12345678901234567890.0),
            ("-12345678901234567890", -12345678901234567890.0),
            (".inf", f64::INFINITY),
            (".Inf", f64::INFINITY),
            (".INF", f64::INFINITY),
            ("+.inf", f64::INFINITY),
            ("-.inf", f64::NEG_INFINITY),
            ("-.Inf", f64::NEG_INFINITY),
        ] {
            assert_eq!(plain(s), Ok(Value::Float(v)), "{s}");
        }
        assert_eq!(plain("-0.0"), Ok(Value::Float(-0.0)));
        for s in [".nan", ".NaN", ".NAN"] {
            assert!(matches!(plain(s), Ok(Value::Float(f)) if f.is_nan()), "{s}");
        }
    }

    #[test]
    fn strings_that_look_numeric() {
        for s in [
            "1e400",
            ".Nan",
            ".nAn",
            "-.",
            ".",
            "0x",
            "0x10000000000000000",
            "_1",
            "-0b-1",
            "0x-1",
            "12:30",
            "1.2.3",
            "1e",
            "+",
            "-",
            "._5",
            ".5_",
            "1 2",
            "0b2",
            "-0x",
            "1_000_x",
            "infinity",
            "nan",
        ] {
            assert_eq!(plain(s), Ok(Value::Str(s.into())), "{s}");
        }
    }

    #[test]
    fn timestamps() {
        for (s, t) in [
            ("2024-01-02", "2024-01-02T00:00:00Z"),
            ("2002-12-14", "2002-12-14T00:00:00Z"),
            ("2024-1-2", "2024-01-02T00:00:00Z"),
            ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
            ("2024-01-02t03:04:05Z", "2024-01-02T03:04:05Z"),
            ("2006-01-02T15:04:05+07:06", "2006-01-02T15:04:05+07:06"),
            ("2024-01-02T03:04:05.123000Z", "2024-01-02T03:04:05.123Z"),
            ("2024-01-02T03:04:05,5Z", "2024-01-02T03:04:05.5Z"),
            (
                "2024-01-02T03:04:05.1234567891234Z",
                "2024-01-02T03:04:05.123456789Z",
            ),
            ("2024-01-02T03:04:05.000Z", "2024-01-02T03:04:05Z"),
            ("2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05Z"),
            ("2024-01-02T03:04:05-00:00", "2024-01-02T03:04:05Z"),
            ("2024-01-02T03:04:05+01:60", "2024-01-02T03:04:05+02:00"),
            ("2024-01-02T03:04:05-05:30", "2024-01-02T03:04:05-05:30"),
            ("2025-01-02 03:04:05", "2025-01-02T03:04:05Z"),
            ("2025-01-02   03:04:05", "2025-01-02T03:04:05Z"),
            ("2025-01-02 3:4:5.50", "2025-01-02T03:04:05.5Z"),
            ("2024-02-29", "2024-02-29T00:00:00Z"),
            ("2000-02-29", "2000-02-29T00:00:00Z"),
            ("0000-01-01", "0000-01-01T00:00:00Z"),
        ] {
            assert_eq!(plain(s), Ok(Value::Time(t.into())), "{s}");
        }
    }

    #[test]
    fn timestamp_lookalikes_stay_strings() {
        for s in [
            "2024-01-02T03:04:05",
            "2024-01-02T03:04:05+0100",
            "2024-01-02T03:04:05z",
            "2024-01-02T03:04:05+01",
            "2025-02-30",
            "2025-13-01",
            "2023-02-29",
            "1900-02-29",
            "2024-00-10",
            "2024-01-00",
            "2024-001-02",
            "2024-01-002",
            "2001-12-14 21:59:43.10 -5",
            "2024-01-02T24:00:00Z",
            "2024-01-02T23:60:00Z",
            "2024-01-02T23:59:60Z",
            "2024-01-02T03:04:05.Z",
            "2024-01-02 ",
            "2024-01-02T",
            "2024-01-02T03:04:05+25:00",
            "2024-01-02T03:04:05+01:61",
        ] {
            // Some of these are still numbers or strings, never timestamps.
            assert!(
                !matches!(plain(s), Ok(Value::Time(_))),
                "{s} resolved to a timestamp"
            );
        }
        assert_eq!(
            plain("2001-12-14 21:59:43.10 -5"),
            Ok(Value::Str("2001-12-14 21:59:43.10 -5".into()))
        );
    }

    #[test]
    fn unmarshalable_zone_offset_is_an_error() {
        assert_eq!(plain("2024-01-02T03:04:05+24:00"), Err(()));
        assert_eq!(plain("2024-01-02T03:04:05-23:60"), Err(()));
    }

    #[test]
    fn explicit_tag_resolution() {
        assert_eq!(resolve_scalar("2024-01-01", false), Resolved::Str);
        assert_eq!(
            resolve_scalar("2024-01-01", true),
            Resolved::Time("2024-01-01T00:00:00Z".into())
        );
        assert_eq!(resolve_scalar("017", false), Resolved::Int(15));
        assert_eq!(resolve_scalar("x", false).tag_name(), "!!str");
        assert_eq!(
            resolve_scalar("12345678901234567890", false).tag_name(),
            "!!int"
        );
    }
}
