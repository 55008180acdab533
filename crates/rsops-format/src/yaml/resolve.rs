//! Scalar resolution as go-yaml v3 does it (STORES.md §1.1), used by the
//! parser to type plain scalars and by the emitter to decide when a string
//! must be quoted (a string that would resolve to anything else is quoted).
//!
//! The rules reproduce go-yaml v3's `resolve()` (checked against sops 3.11):
//! a fixed table for null/bool/special floats, then — depending on the first
//! character — timestamps (Go `time.Parse` with go-yaml's four layouts),
//! integers (Go `strconv.ParseInt(s, 0, 64)` after removing every `_`),
//! unsigned integers, YAML-style floats and go-yaml's own `0b`/`0o` fallbacks.

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
    if !go_underscore_ok(text) {
        return None;
    }
    let plain: String = text.chars().filter(|c| *c != '_').collect();
    if !plain.starts_with('.') || !is_yaml_style_float(&plain) {
        return None;
    }
    parse_finite_float(&plain)
}

/// A scalar starting with a sign or a digit: timestamp, int, uint, float,
/// then go-yaml's `0b`/`0o` fallbacks.
fn numeric(text: &str, allow_time: bool) -> Resolved {
    if allow_time {
        if let Some(t) = parse_timestamp(text) {
            return t;
        }
    }
    let plain: String = text.chars().filter(|c| *c != '_').collect();
    if let Some(i) = parse_int(&plain, None) {
        return Resolved::Int(i);
    }
    if let Some(u) = parse_uint(&plain, None) {
        return Resolved::Uint(u);
    }
    if is_yaml_style_float(&plain) {
        if let Some(f) = parse_finite_float(&plain) {
            return Resolved::Float(f);
        }
    }
    // go-yaml retries the digits after an explicit `0b`/`0o` prefix with
    // `ParseInt(rest, radix)`, which accepts a sign there (`0b-101` = -5).
    for (prefix, radix) in [("0b", 2), ("0o", 8)] {
        if let Some(rest) = plain.strip_prefix(prefix) {
            if let Some(i) = parse_int(rest, Some(radix)) {
                return Resolved::Int(i);
            }
            if let Some(u) = parse_uint(rest, Some(radix)) {
                return Resolved::Uint(u);
            }
        } else if let Some(rest) = plain.strip_prefix(&format!("-{prefix}")) {
            if let Some(i) = parse_int(&format!("-{rest}"), Some(radix)) {
                return Resolved::Int(i);
            }
        }
    }
    Resolved::Str
}

/// Go `strconv.ParseInt(s, base, 64)` without underscores (`base` `None` = 0).
fn parse_int(s: &str, base: Option<u32>) -> Option<i64> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_uint(rest, base)?;
    if negative {
        if magnitude <= 1u64 << 63 {
            Some(0i64.wrapping_sub_unsigned(magnitude))
        } else {
            None
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go `strconv.ParseUint(s, base, 64)` without underscores (`base` `None` =
/// 0: `0x`, `0b`, `0o` prefixes and legacy octal `0…`). No sign allowed.
fn parse_uint(s: &str, base: Option<u32>) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let (radix, digits) = match base {
        Some(radix) => (radix, s),
        None => base_prefix(s),
    };
    let mut value: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(36).filter(|d| *d < radix)?;
        value = value
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(d))?;
    }
    Some(value)
}

/// Go's base-0 prefix detection: radix and the remaining digits.
fn base_prefix(s: &str) -> (u32, &str) {
    let b = s.as_bytes();
    if b.first() != Some(&b'0') {
        return (10, s);
    }
    if b.len() >= 3 {
        match b.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') => return (2, &s[2..]),
            Some(b'o') => return (8, &s[2..]),
            Some(b'x') => return (16, &s[2..]),
            _ => {}
        }
    }
    (8, &s[1..])
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

/// Parses a string matching [`is_yaml_style_float`]; `None` on overflow
/// (Go returns a range error there, and go-yaml keeps the string).
fn parse_finite_float(s: &str) -> Option<f64> {
    // Normalise to a form Rust's parser surely accepts: [-]int.frac[e[-]exp].
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'-') => ("-", &s[1..]),
        Some(b'+') => ("", &s[1..]),
        _ => ("", s),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(p) => (&rest[..p], Some(&rest[p + 1..])),
        None => (rest, None),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut norm = String::with_capacity(s.len() + 4);
    norm.push_str(sign);
    norm.push_str(if int_part.is_empty() { "0" } else { int_part });
    norm.push('.');
    norm.push_str(if frac_part.is_empty() { "0" } else { frac_part });
    if let Some(exp) = exponent {
        norm.push('e');
        norm.push_str(exp.strip_prefix('+').unwrap_or(exp));
    }
    norm.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Go's `underscoreOK`: underscores only between digits (or after a base
/// prefix), never first or last.
fn go_underscore_ok(s: &str) -> bool {
    let mut b = s.as_bytes();
    if matches!(b.first(), Some(b'+' | b'-')) {
        b = &b[1..];
    }
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while let Some(&c) = b.get(i) {
        i += 1;
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

/// A cursor over the text for the timestamp layouts.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn digit_at(&self, off: usize) -> Option<u32> {
        self.b
            .get(self.i + off)
            .filter(|c| c.is_ascii_digit())
            .map(|c| u32::from(c - b'0'))
    }

    /// Go `getnum(s, false)`: one or two digits.
    fn num12(&mut self) -> Option<u32> {
        let first = self.digit_at(0)?;
        match self.digit_at(1) {
            Some(second) => {
                self.i += 2;
                Some(first * 10 + second)
            }
            None => {
                self.i += 1;
                Some(first)
            }
        }
    }

    /// Exactly two digits (Go `getnum(s, true)`).
    fn num2(&mut self) -> Option<u32> {
        let v = self.digit_at(0)? * 10 + self.digit_at(1)?;
        self.i += 2;
        Some(v)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }
}

/// The fields of a parsed timestamp.
#[derive(Default)]
struct Stamp {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    /// Zone offset in minutes east of UTC.
    offset_min: i32,
}

fn is_leap(year: u32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// go-yaml's `parseTimestamp`: Go `time.Parse` with the layouts
/// `2006-1-2T15:4:5.999999999Z07:00` (also with `t`),
/// `2006-1-2 15:4:5.999999999` and `2006-1-2`. Returns the RFC3339Nano
/// text, or `BadTime` when Go could parse but not marshal it.
fn parse_timestamp(text: &str) -> Option<Resolved> {
    let b = text.as_bytes();
    let year_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if year_digits != 4 || b.get(4) != Some(&b'-') {
        return None;
    }
    let mut cur = Cursor { b, i: 0 };
    let mut st = Stamp {
        year: text.get(..4)?.parse().ok()?,
        ..Stamp::default()
    };
    cur.i = 5;
    st.month = cur.num12().filter(|m| (1..=12).contains(m))?;
    if !cur.eat(b'-') {
        return None;
    }
    st.day = cur.num12()?;
    if st.day < 1 || st.day > days_in(st.month, st.year) {
        return None;
    }
    if cur.at_end() {
        return Some(Resolved::Time(format_stamp(&st)));
    }
    match cur.peek() {
        Some(b'T' | b't') => {
            cur.i += 1;
            parse_clock(&mut cur, &mut st)?;
            parse_zone(&mut cur, &mut st)?;
        }
        Some(b' ') => {
            while cur.eat(b' ') {}
            parse_clock(&mut cur, &mut st)?;
        }
        _ => return None,
    }
    if !cur.at_end() {
        return None;
    }
    if st.offset_min.unsigned_abs() >= 24 * 60 {
        return Some(Resolved::BadTime);
    }
    Some(Resolved::Time(format_stamp(&st)))
}

/// `15:4:5` with optional `.999999999` (or `,`) fraction.
fn parse_clock(cur: &mut Cursor<'_>, st: &mut Stamp) -> Option<()> {
    st.hour = cur.num12().filter(|h| *h < 24)?;
    if !cur.eat(b':') {
        return None;
    }
    st.minute = cur.num12().filter(|m| *m < 60)?;
    if !cur.eat(b':') {
        return None;
    }
    st.second = cur.num12().filter(|s| *s < 60)?;
    if matches!(cur.peek(), Some(b'.' | b',')) && cur.digit_at(1).is_some() {
        cur.i += 1;
        let mut nanos: u32 = 0;
        let mut count = 0;
        while let Some(d) = cur.digit_at(0) {
            if count < 9 {
                nanos = nanos * 10 + d;
                count += 1;
            }
            cur.i += 1;
        }
        for _ in count..9 {
            nanos *= 10;
        }
        st.nanos = nanos;
    }
    Some(())
}

/// `Z` or `±hh:mm` (Go accepts hours ≤ 24 and minutes ≤ 60 there).
fn parse_zone(cur: &mut Cursor<'_>, st: &mut Stamp) -> Option<()> {
    if cur.eat(b'Z') {
        return Some(());
    }
    let sign = match cur.peek()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    cur.i += 1;
    let hours = cur.num2()?;
    if !cur.eat(b':') {
        return None;
    }
    let minutes = cur.num2()?;
    if hours > 24 || minutes > 60 {
        return None;
    }
    st.offset_min = sign * i32::try_from(hours * 60 + minutes).ok()?;
    Some(())
}

/// Go `Format(time.RFC3339Nano)`: trailing fractional zeros removed, `Z`
/// for a zero offset.
fn format_stamp(st: &Stamp) -> String {
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        st.year, st.month, st.day, st.hour, st.minute, st.second
    );
    if st.nanos != 0 {
        let frac = format!("{:09}", st.nanos);
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    if st.offset_min == 0 {
        out.push('Z');
    } else {
        let sign = if st.offset_min < 0 { '-' } else { '+' };
        let abs = st.offset_min.unsigned_abs();
        out.push_str(&format!("{sign}{:02}:{:02}", abs / 60, abs % 60));
    }
    out
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
