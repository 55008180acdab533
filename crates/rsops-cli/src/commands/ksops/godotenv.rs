//! The `.env` reading ksops applies to `secretFrom.envs` files (the Go
//! library `joho/godotenv`): `KEY=value` or `KEY: value` statements,
//! `export` prefixes, `#` comments, single quotes (literal), double quotes
//! (`\n`, `\r` and other backslash escapes, `$VAR` expansion), unquoted
//! values trimmed and cut at ` #`, `$VAR`/`${VAR}` expanded from earlier
//! keys, then the process environment. Later keys override earlier ones.
//!
//! Errors name the line, never its text: the text is secret.

use std::collections::HashMap;

/// Why a decrypted `.env` file cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvError {
    /// A key holds a character godotenv refuses.
    #[error("unexpected character in variable name on line {0}")]
    UnexpectedChar(usize),
    /// A quoted value has no closing quote.
    #[error("unterminated quoted value on line {0}")]
    UnterminatedQuote(usize),
}

/// godotenv's `isSpace`: a space that is not a line break.
fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    )
}

/// The line number of byte offset `at` of `src`.
fn line_of(src: &str, at: usize) -> usize {
    src.as_bytes()[..at.min(src.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Parses `src` into its keys and values (the last value of a key wins).
pub fn parse(src: &str) -> Result<HashMap<String, String>, EnvError> {
    let src = src.replace("\r\n", "\n");
    let mut out = HashMap::new();
    let mut rest: &str = &src;
    loop {
        // The start of the next statement: past white space and comments.
        loop {
            let Some(pos) = rest.find(|c: char| !c.is_whitespace()) else {
                return Ok(out);
            };
            rest = &rest[pos..];
            if !rest.starts_with('#') {
                break;
            }
            let Some(pos) = rest.find('\n') else {
                return Ok(out);
            };
            rest = &rest[pos..];
        }
        let line = line_of(&src, src.len() - rest.len());
        // The key.
        rest = rest.trim_start_matches(is_space);
        if let Some(t) = rest.strip_prefix("export") {
            if t.starts_with(is_space) {
                rest = t.trim_start_matches(is_space);
            }
        }
        let mut key = "";
        let mut offset = 0;
        for (i, b) in rest.bytes().enumerate() {
            let c = char::from(b);
            if is_space(c) {
                continue;
            }
            match b {
                b'=' | b':' => {
                    key = &rest[..i];
                    offset = i + 1;
                    break;
                }
                b'_' => {}
                _ if c.is_alphabetic() || c.is_numeric() || c == '.' || c == '-' => {}
                _ => return Err(EnvError::UnexpectedChar(line)),
            }
        }
        let key = key.trim_end_matches(char::is_whitespace).to_owned();
        let cutset = rest[offset..].trim_start_matches(is_space);
        // The value.
        let (value, left) = value(cutset, &out).ok_or(EnvError::UnterminatedQuote(line))?;
        out.insert(key, value);
        rest = left;
    }
}

/// The value at the start of `src` and what follows it (`None`: an
/// unterminated quote).
fn value<'s>(src: &'s str, vars: &HashMap<String, String>) -> Option<(String, &'s str)> {
    let bytes = src.as_bytes();
    let quote = match bytes.first() {
        Some(q @ (b'"' | b'\'')) => *q,
        _ => {
            let end = src.find(['\n', '\r']).unwrap_or(src.len());
            let line: Vec<char> = src[..end].chars().collect();
            let mut end_of_var = line.len();
            for i in 1..line.len() {
                if line[i] == '#' && is_space(line[i - 1]) {
                    end_of_var = i;
                    break;
                }
            }
            let text: String = line[..end_of_var].iter().collect();
            return Some((
                expand_variables(text.trim_matches(is_space), vars),
                &src[end..],
            ));
        }
    };
    for i in 1..bytes.len() {
        if bytes[i] != quote {
            continue;
        }
        let backslashes = bytes[..i].iter().rev().take_while(|b| **b == b'\\').count();
        if backslashes % 2 == 1 {
            continue;
        }
        let q = char::from(quote);
        let inner = src[..i].trim_end_matches(q).trim_start_matches(q);
        let value = if quote == b'"' {
            expand_variables(&expand_escapes(inner), vars)
        } else {
            inner.to_owned()
        };
        return Some((value, &src[i + 1..]));
    }
    None
}

/// godotenv's `expandEscapes`: `\n` and `\r` become line breaks, then a
/// backslash before any character but `$` is dropped.
fn expand_escapes(s: &str) -> String {
    let mut first = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('\\', Some(n)) if n != '\n' => {
                chars.next();
                match n {
                    'n' => first.push('\n'),
                    'r' => first.push('\r'),
                    _ => {
                        first.push('\\');
                        first.push(n);
                    }
                }
            }
            _ => first.push(c),
        }
    }
    let mut out = String::with_capacity(first.len());
    let mut chars = first.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('\\', Some(n)) if n != '$' => {
                chars.next();
                out.push(n);
            }
            _ => out.push(c),
        }
    }
    out
}

/// godotenv's `expandVariables`: each match of
/// `(\\)?(\$)(\()?\{?([A-Z0-9_]+)?\}?` is replaced; an escaped `\$` or a
/// `$(` loses its first character, a name becomes its value (earlier keys,
/// then the environment, else empty), anything else stays.
fn expand_variables(v: &str, vars: &HashMap<String, String>) -> String {
    let b = v.as_bytes();
    let mut out = String::with_capacity(v.len());
    let mut p = 0;
    let mut copied = 0;
    while p < b.len() {
        let (escaped, mut q) = match (b[p], b.get(p + 1)) {
            (b'\\', Some(b'$')) => (true, p + 2),
            (b'$', _) => (false, p + 1),
            _ => {
                p += 1;
                continue;
            }
        };
        let paren = b.get(q) == Some(&b'(');
        if paren {
            q += 1;
        }
        if b.get(q) == Some(&b'{') {
            q += 1;
        }
        let name_start = q;
        while b
            .get(q)
            .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
        {
            q += 1;
        }
        let name = &v[name_start..q];
        if b.get(q) == Some(&b'}') {
            q += 1;
        }
        out.push_str(&v[copied..p]);
        let matched = &v[p..q];
        if escaped || paren {
            out.push_str(&matched[1..]);
        } else if !name.is_empty() {
            match vars.get(name) {
                Some(val) => out.push_str(val),
                None => out.push_str(&std::env::var(name).unwrap_or_default()),
            }
        } else {
            out.push_str(matched);
        }
        p = q;
        copied = q;
    }
    out.push_str(&v[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(src: &str) -> Vec<(String, String)> {
        let mut v: Vec<_> = parse(src).unwrap().into_iter().collect();
        v.sort();
        v
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn sops_dotenv_output_reads_back() {
        assert_eq!(
            get("password=1f2d1e2e67df\nusername=admin\n"),
            pairs(&[("password", "1f2d1e2e67df"), ("username", "admin")])
        );
    }

    #[test]
    fn quotes_comments_export_and_expansion() {
        let src = "# comment\nexport A=one # trailing\nB='lit $A \\n'\nC=\"two\\nlines $A ${A}\"\nD: yaml-ish\nE=\nF=\"esc \\$A \\q\"\nA=late\n";
        assert_eq!(
            get(src),
            pairs(&[
                ("A", "late"),
                ("B", "lit $A \\n"),
                ("C", "two\nlines one one"),
                ("D", "yaml-ish"),
                ("E", ""),
                ("F", "esc $A q"),
            ])
        );
    }

    #[test]
    fn errors_name_the_line_not_the_text() {
        let e = parse("OK=1\nbad key!=secret-value\n").unwrap_err();
        assert_eq!(e, EnvError::UnexpectedChar(2));
        assert!(!e.to_string().contains("secret"));
        let e = parse("A=1\nB=\"never closed\n").unwrap_err();
        assert_eq!(e, EnvError::UnterminatedQuote(2));
    }
}
