//! Go's `strconv` for numbers and booleans, and the float spellings of the
//! Go encoders sops writes with.
//!
//! Which spelling a float gets depends on where sops writes it: the MAC and
//! encrypted plaintext use `FormatFloat(f, 'f', -1, 64)`, the YAML emitter
//! `'g'`, the JSON encoder its own rule and dotenv/INI `'G'` plus `.0`. All
//! of them start from the shortest round-trip digits, which Rust's
//! formatter also produces.

// ---------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------

/// Shortest round-trip decimal digits of a finite, non-zero `f` and the
/// position of the decimal point: value = 0.DIGITS × 10^point.
fn shortest_digits(f: f64) -> (String, i32) {
    let s = format!("{:e}", f.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    (digits, exp + 1)
}

fn special(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f == f64::INFINITY {
        Some("+Inf")
    } else if f == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// Go `strconv.FormatFloat(f, 'f', -1, 64)`: positional, shortest, no `.0`
/// (`1`, `10000000000`, `0.0000001`, `-0`, `+Inf`, `NaN`). Used for the
/// plaintext of encrypted floats and for the MAC.
pub fn format_float_plain(f: f64) -> String {
    if let Some(s) = special(f) {
        return s.to_owned();
    }
    // Rust's Display is shortest round-trip and positional.
    format!("{f}")
}

/// Go exponent notation of shortest digits: `1e+06`, `1.2345675e+06`, `1e-07`.
fn exponent_form(
    negative: bool,
    digits: &str,
    point: i32,
    upper: bool,
    min_exp_digits: usize,
) -> String {
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push(if upper { 'E' } else { 'e' });
    let exp = point - 1;
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs().to_string();
    for _ in e.len()..min_exp_digits {
        out.push('0');
    }
    out.push_str(&e);
    out
}

/// Go `strconv.FormatFloat(f, fmt, -1, 64)` for `fmt` = `g` or `G`.
fn format_g(f: f64, upper: bool) -> String {
    if let Some(s) = special(f) {
        return s.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let (digits, point) = shortest_digits(f);
    let exp = point - 1;
    if !(-4..6).contains(&exp) {
        exponent_form(f < 0.0, &digits, point, upper, 2)
    } else {
        format_float_plain(f)
    }
}

/// Go `strconv.FormatFloat(f, 'g', -1, 64)`, which is also how `%v`
/// prints a float: `1e+06`, `0.0001`, `NaN`, `+Inf`.
pub fn format_float_g(f: f64) -> String {
    format_g(f, false)
}

/// How the go-yaml v3 emitter writes a float: `'g'` formatting, with
/// `.inf`, `-.inf` and `.nan` for the special values.
pub fn format_float_yaml(f: f64) -> String {
    if f.is_nan() {
        ".nan".to_owned()
    } else if f == f64::INFINITY {
        ".inf".to_owned()
    } else if f == f64::NEG_INFINITY {
        "-.inf".to_owned()
    } else {
        format_g(f, false)
    }
}

/// How Go's `encoding/json` writes a float: positional unless |f| < 1e-6 or
/// ≥ 1e21, then exponent form with at least one exponent digit (`1e+21`,
/// `1e-7`). Returns `None` for NaN and infinities, which JSON cannot hold.
pub fn format_float_json(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (digits, point) = shortest_digits(f);
        Some(exponent_form(f < 0.0, &digits, point, false, 1))
    } else {
        Some(format_float_plain(f))
    }
}

/// The dotenv/INI value form of a float: Go `'G'` formatting plus `.0` when
/// the result has neither `.` nor `E` (`30.0`, `1E+06`).
pub fn format_float_flat(f: f64) -> String {
    let s = format_g(f, true);
    if f.is_finite() && !s.contains('.') && !s.contains('E') {
        format!("{s}.0")
    } else {
        s
    }
}

// ---------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------

/// Go `strconv.Atoi` on a 64-bit platform (`ParseInt(s, 10, 64)`): optional
/// `+`/`-`, at least one ASCII digit, nothing else, within `i64`.
pub fn atoi(s: &[u8]) -> Option<i64> {
    parse_int(std::str::from_utf8(s).ok()?, 10)
}

/// Go `strconv.ParseInt(s, base, 64)`: an optional sign, then digits of
/// `base` (2 to 36), or for `base` 0 Go's prefixes (`0x`, `0b`, `0o`, a
/// leading `0` for octal). Underscores are not accepted: go-yaml removes
/// them before it calls `ParseInt`.
pub fn parse_int(s: &str, base: u32) -> Option<i64> {
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

/// Go `strconv.ParseUint(s, base, 64)` without underscores (`base` 0:
/// `0x`, `0b`, `0o` prefixes and legacy octal `0…`). No sign allowed.
pub fn parse_uint(s: &str, base: u32) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let (radix, digits) = match base {
        0 => base_prefix(s),
        radix => (radix, s),
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

/// Go `strconv.ParseBool`.
pub fn parse_bool(s: &[u8]) -> Option<bool> {
    match s {
        b"1" | b"t" | b"T" | b"TRUE" | b"true" | b"True" => Some(true),
        b"0" | b"f" | b"F" | b"FALSE" | b"false" | b"False" => Some(false),
        _ => None,
    }
}

/// Go `strconv.ParseFloat(s, 64)`; `None` on a syntax or overflow error.
pub fn parse_float(s: &str) -> Option<f64> {
    if let Some(f) = float_special(s.as_bytes()) {
        return Some(f);
    }
    let bytes = s.as_bytes();
    let (negative, body) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let hex = body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x';
    if bytes.contains(&b'_') && !underscores_ok(bytes) {
        return None;
    }
    let value = if hex {
        parse_hex_float(body.get(2..)?)?
    } else {
        parse_dec_float(body)?
    };
    if value.is_infinite() {
        return None; // Go: ErrRange
    }
    Some(if negative { -value } else { value })
}

/// Go's `Inf`, `Infinity` (optionally signed) and `NaN` (unsigned), any case.
fn float_special(s: &[u8]) -> Option<f64> {
    let (sign, rest, signed) = match s.first()? {
        b'+' => (1.0, &s[1..], true),
        b'-' => (-1.0, &s[1..], true),
        _ => (1.0, s, false),
    };
    if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        return Some(sign * f64::INFINITY);
    }
    if !signed && rest.eq_ignore_ascii_case(b"nan") {
        return Some(f64::NAN);
    }
    None
}

/// Go's `underscoreOK`, the rule for `_` in number literals: each
/// underscore sits between two digits, or between a base prefix and a
/// digit (never first or last); an optional sign comes first.
pub fn underscores_ok(s: &[u8]) -> bool {
    let s = match s.first() {
        Some(b'+' | b'-') => &s[1..],
        _ => s,
    };
    #[derive(PartialEq)]
    enum Saw {
        Start,
        Digit,
        Underscore,
        Other,
    }
    let mut saw = Saw::Start;
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = Saw::Digit;
        hex = (s[1] | 0x20) == b'x';
    }
    for &c in s.get(i..).unwrap_or_default() {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = Saw::Digit;
        } else if c == b'_' {
            if saw != Saw::Digit {
                return false;
            }
            saw = Saw::Underscore;
        } else {
            if saw == Saw::Underscore {
                return false;
            }
            saw = Saw::Other;
        }
    }
    saw != Saw::Underscore
}

/// A decimal float body (sign removed): digits with at most one `.`, at least
/// one digit, optional `e[±]digits`; `_` already validated.
fn parse_dec_float(body: &[u8]) -> Option<f64> {
    let mut clean = String::with_capacity(body.len());
    let mut i = 0;
    let mut saw_dot = false;
    let mut saw_digit = false;
    while let Some(&c) = body.get(i) {
        match c {
            b'_' => {}
            b'.' if !saw_dot => {
                saw_dot = true;
                clean.push('.');
            }
            b'0'..=b'9' => {
                saw_digit = true;
                clean.push(char::from(c));
            }
            _ => break,
        }
        i += 1;
    }
    if !saw_digit {
        return None;
    }
    if let Some(&c) = body.get(i) {
        if c | 0x20 != b'e' {
            return None;
        }
        clean.push('e');
        i += 1;
        if let Some(&sign @ (b'+' | b'-')) = body.get(i) {
            clean.push(char::from(sign));
            i += 1;
        }
        if !body.get(i)?.is_ascii_digit() {
            return None;
        }
        for &c in body.get(i..)? {
            match c {
                b'_' => {}
                b'0'..=b'9' => clean.push(char::from(c)),
                _ => return None,
            }
        }
    }
    clean.parse::<f64>().ok()
}

/// A hexadecimal float body after `0x`: hex digits with at most one `.`, at
/// least one digit, then a mandatory `p[±]digits` binary exponent. Rounded to
/// nearest, ties to even, like Go.
fn parse_hex_float(body: &[u8]) -> Option<f64> {
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0;
    let mut sticky = false;
    let mut saw_dot = false;
    let mut saw_digit = false;
    let mut i = 0;
    while let Some(&c) = body.get(i) {
        if c == b'_' {
            i += 1;
            continue;
        }
        if c == b'.' && !saw_dot {
            saw_dot = true;
            i += 1;
            continue;
        }
        let Some(d) = char::from(c).to_digit(16) else {
            break;
        };
        saw_digit = true;
        if mantissa >> 60 == 0 {
            mantissa = (mantissa << 4) | u64::from(d);
            if saw_dot {
                exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !saw_dot {
                exp += 4;
            }
        }
        i += 1;
    }
    if !saw_digit || body.get(i).map(|c| c | 0x20) != Some(b'p') {
        return None;
    }
    i += 1;
    let mut exp_negative = false;
    if let Some(&sign @ (b'+' | b'-')) = body.get(i) {
        exp_negative = sign == b'-';
        i += 1;
    }
    if !body.get(i)?.is_ascii_digit() {
        return None;
    }
    let mut e: i64 = 0;
    for &c in body.get(i..)? {
        match c {
            b'_' => {}
            b'0'..=b'9' => e = (e * 10 + i64::from(c - b'0')).min(1_000_000),
            _ => return None,
        }
    }
    exp += if exp_negative { -e } else { e };
    Some(round_binary(mantissa, exp, sticky))
}

/// The double nearest to `mantissa × 2^exp` (plus a sticky "something
/// non-zero below" bit), ties to even; overflow gives infinity.
fn round_binary(mantissa: u64, exp: i64, sticky: bool) -> f64 {
    if mantissa == 0 {
        return 0.0;
    }
    let lead = i64::from(mantissa.leading_zeros());
    let m = u128::from(mantissa << lead) << 64 | u128::from(sticky);
    // Value = m × 2^(exp − lead − 64); the leading bit of m is bit 127.
    let top = exp - lead + 63; // exponent of the leading bit
    if top > 1023 {
        return f64::INFINITY;
    }
    // Bits to drop so that 53 (normal) or fewer (subnormal) remain.
    let shift = if top >= -1022 { 75 } else { 75 + (-1022 - top) };
    if shift >= 128 {
        // Below the smallest subnormal: only a value above its half rounds up.
        let above_half = shift == 128 && m > 1u128 << 127;
        return if above_half { f64::from_bits(1) } else { 0.0 };
    }
    let shift = shift as u32;
    let kept = m >> shift;
    let rem = m & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    let mut kept = kept as u64;
    if rem > half || (rem == half && kept & 1 == 1) {
        kept += 1;
    }
    if top >= -1022 {
        let mut top = top;
        if kept == 1 << 53 {
            kept >>= 1;
            top += 1;
            if top > 1023 {
                return f64::INFINITY;
            }
        }
        let biased = (top + 1023) as u64;
        f64::from_bits((biased << 52) | (kept & ((1 << 52) - 1)))
    } else {
        // Subnormal: the exponent field is 0; rounding up to 2^52 becomes
        // the smallest normal number, which the same bits encode.
        f64::from_bits(kept)
    }
}

#[cfg(test)]
#[allow(clippy::approx_constant)] // 3.14 is a spec vector, not an approximation of pi
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_matches_go_f() {
        for (f, s) in [
            (3.14, "3.14"),
            (1.0, "1"),
            (1e10, "10000000000"),
            (1e-7, "0.0000001"),
            (1e20, "100000000000000000000"),
            (12345678901234567890.0, "12345678901234567000"),
            (-0.0, "-0"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(format_float_plain(f), s, "{f}");
        }
    }

    #[test]
    fn yaml_matches_go_g() {
        for (f, s) in [
            (3.14, "3.14"),
            (1.0, "1"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.5, "1.2345675e+06"),
            (1e10, "1e+10"),
            (1e-5, "1e-05"),
            (1e-7, "1e-07"),
            (0.0001, "0.0001"),
            (1e21, "1e+21"),
            (-0.0, "-0"),
            (f64::INFINITY, ".inf"),
            (f64::NAN, ".nan"),
        ] {
            assert_eq!(format_float_yaml(f), s, "{f}");
        }
    }

    #[test]
    fn json_matches_go_encoding_json() {
        for (f, s) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (1e6, "1000000"),
            (123456789012345680.0, "123456789012345680"),
            (0.00001, "0.00001"),
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (9007199254740993.0, "9007199254740992"),
        ] {
            assert_eq!(format_float_json(f).unwrap(), s, "{f}");
        }
        assert_eq!(format_float_json(f64::NAN), None);
    }

    #[test]
    fn flat_matches_go_g_upper() {
        for (f, s) in [
            (30.0, "30.0"),
            (1.5, "1.5"),
            (123456.0, "123456.0"),
            (1e6, "1E+06"),
            (1234567.5, "1.2345675E+06"),
            (1e-5, "1E-05"),
            (1e21, "1E+21"),
        ] {
            assert_eq!(format_float_flat(f), s, "{f}");
        }
    }

    #[test]
    fn g_matches_go_percent_v() {
        for (f, s) in [
            (1e6, "1e+06"),
            (0.0001, "0.0001"),
            (-0.0, "-0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(format_float_g(f), s, "{f}");
        }
    }

    #[test]
    fn parse_bool_spellings() {
        for s in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(s.as_bytes()), Some(true), "{s}");
        }
        for s in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(s.as_bytes()), Some(false), "{s}");
        }
        for s in ["", "yes", "no", "tRUE", "True ", "2", "on"] {
            assert_eq!(parse_bool(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn atoi_like_go() {
        let ok: &[(&str, i64)] = &[
            ("30", 30),
            ("-16", -16),
            ("+5", 5),
            ("007", 7),
            ("-0", 0),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
            ("+0000000000000000000000000001", 1),
        ];
        for &(s, n) in ok {
            assert_eq!(atoi(s.as_bytes()), Some(n), "{s}");
        }
        for s in [
            "",
            "-",
            "+",
            "9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999",
            "1_000",
            "0x10",
            " 1",
            "1.0",
            "1e3",
            "+-1",
        ] {
            assert_eq!(atoi(s.as_bytes()), None, "{s}");
        }
        assert_eq!(atoi(&[b'1', 0xff]), None);
    }

    #[test]
    fn parse_int_with_bases_like_go() {
        for (s, base, v) in [
            ("017", 0, 15),
            ("0o17", 0, 15),
            ("0x1F", 0, 31),
            ("-0b101", 0, -5),
            ("0", 0, 0),
            ("-101", 2, -5),
            ("zz", 36, 1295),
        ] {
            assert_eq!(parse_int(s, base), Some(v), "{s} base {base}");
        }
        for (s, base) in [("0x", 0), ("08", 0), ("2", 2), ("1_0", 0), ("", 10)] {
            assert_eq!(parse_int(s, base), None, "{s} base {base}");
        }
        assert_eq!(parse_uint("18446744073709551615", 0), Some(u64::MAX));
        assert_eq!(parse_uint("0xFFFFFFFFFFFFFFFF", 0), Some(u64::MAX));
        assert_eq!(parse_uint("18446744073709551616", 0), None);
        assert_eq!(parse_uint("+1", 0), None);
    }

    #[test]
    fn underscores_like_go() {
        for s in ["1_000", "0x_1F", "-1_0", "0b1_0", "1_0.5"] {
            assert!(underscores_ok(s.as_bytes()), "{s}");
        }
        for s in ["_1", "1_", "1__0", "1_.5", "1._5", "+_1"] {
            assert!(!underscores_ok(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn parse_float_like_go() {
        let ok: &[(&str, f64)] = &[
            ("3.14", 3.14),
            ("1", 1.0),
            ("10000000000", 1e10),
            ("0.0000001", 1e-7),
            ("100000000000000000000", 1e20),
            ("1e3", 1000.0),
            ("1E+3", 1000.0),
            ("1.", 1.0),
            (".5", 0.5),
            ("+.5e-1", 0.05),
            ("1_000.5", 1000.5),
            ("1e-400", 0.0),
            ("0x1p-2", 0.25),
            ("0x1.8p1", 3.0),
            ("-0x_1P+4", -16.0),
            ("0x.8p0", 0.5),
            ("0x1fffffffffffffp0", 9007199254740991.0),
        ];
        for &(s, want) in ok {
            assert_eq!(
                parse_float(s).map(f64::to_bits),
                Some(want.to_bits()),
                "{s}"
            );
        }
        assert_eq!(
            parse_float("-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("-INFINITY"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("+infinity"), Some(f64::INFINITY));
        assert!(parse_float("NaN").is_some_and(f64::is_nan));
        assert!(parse_float("nan").is_some_and(f64::is_nan));
        for bad in [
            "",
            "+nan",
            "-NaN",
            "infin",
            "infx",
            "1e400",
            "-1e400",
            "1e",
            "e1",
            ".",
            "1..2",
            "1.2.3",
            "_1",
            "1_",
            "1__0",
            "1_.5",
            "1._5",
            "0x1",
            "0x1p",
            "0xp1",
            "0x",
            "1 ",
            " 1",
            "1f",
            "0x1.fffffffffffff8p1023",
            "0x1p1024",
        ] {
            assert_eq!(parse_float(bad), None, "{bad:?}");
        }
        // Hex rounding: ties to even, sticky digits beyond 16, subnormals.
        assert_eq!(parse_float("0x1.00000000000008p0"), Some(1.0));
        assert_eq!(
            parse_float("0x1.000000000000080001p0"),
            Some(1.0 + f64::EPSILON)
        );
        assert_eq!(
            parse_float("0x1.00000000000018p0"),
            Some(1.0 + 2.0 * f64::EPSILON)
        );
        assert_eq!(parse_float("0x1p-1074"), Some(f64::from_bits(1)));
        assert_eq!(parse_float("0x1p-1075"), Some(0.0));
        assert_eq!(parse_float("0x1.8p-1075"), Some(f64::from_bits(1)));
        assert_eq!(parse_float("0x1.fffffffffffffp1023"), Some(f64::MAX));
        assert_eq!(parse_float("0x0p99999999"), Some(0.0));
    }

    proptest! {
        #[test]
        fn decimal_floats_match_rust_parsing(s in "[+-]?[0-9]{1,25}(\\.[0-9]{0,25})?([eE][+-]?[0-9]{1,3})?") {
            let want: f64 = s.parse().expect("valid");
            prop_assume!(want.is_finite());
            prop_assert_eq!(parse_float(&s).map(f64::to_bits), Some(want.to_bits()));
        }

        #[test]
        fn plain_text_parses_back(f in any::<f64>()) {
            let text = format_float_plain(f);
            let back = parse_float(&text).expect("parses");
            prop_assert!(back.to_bits() == f.to_bits() || (f.is_nan() && back.is_nan()));
        }

        #[test]
        fn atoi_reads_what_rust_writes(n in any::<i64>()) {
            prop_assert_eq!(atoi(n.to_string().as_bytes()), Some(n));
        }
    }
}
