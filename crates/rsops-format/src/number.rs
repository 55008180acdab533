//! Go-compatible number formatting.
//!
//! sops is written in Go; which spelling a float gets depends on the place it
//! is written: the MAC and encrypted plaintext use `FormatFloat(f, 'f', -1)`,
//! the YAML emitter `'g'`, the JSON encoder its own rule and dotenv/INI `'G'`
//! plus `.0`. All of them start from the shortest round-trip digits, which
//! Rust's formatter also produces.

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

#[cfg(test)]
#[allow(clippy::approx_constant)] // 3.14 is a spec vector, not an approximation of pi
mod tests {
    use super::*;

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
}
