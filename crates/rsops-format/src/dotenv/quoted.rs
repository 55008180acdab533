//! Quoted dotenv values: the `quoted` syntax of plaintext dotenv files
//! (`stores.dotenv.syntax: quoted`, docs/dotenv.md).
//!
//! sops takes everything after `=` verbatim, so `A="x y"` has a value with
//! quotes in it (sops #1127) and a value with spaces is written unquoted,
//! which shells and dotenv libraries misread (sops #1951). In the quoted
//! syntax a value that starts with a quote is a quoted string, as in shells,
//! docker compose and the dotenv libraries:
//!
//! * `'...'` is literal (no escapes) and may span lines;
//! * `"..."` understands `\\`, `\"`, `\n`, `\r`, `\t`, `\$` and `` \` ``
//!   (any other backslash is kept as it is) and may span lines;
//! * after the closing quote only spaces, tabs and a carriage return may
//!   follow on the line.
//!
//! Values that do not start with a quote are read as sops reads them.
//! The writer picks the first form that reads back as the same bytes:
//! unquoted for values made of "safe" characters only, `"..."` without
//! escapes, `'...'`, then `"..."` with escapes. So every value, whatever
//! bytes it holds, survives writing and reading back exactly.

/// Why a quoted value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuoteError {
    /// The input ended before the closing quote.
    Unterminated,
    /// Something other than blanks follows the closing quote on its line.
    TrailingText,
}

/// A quoted value read from the input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Quoted {
    /// The value between the quotes, escapes resolved.
    pub value: Vec<u8>,
    /// Where the next line starts (past the newline after the closing quote,
    /// or the end of the input).
    pub next: usize,
    /// How many newlines were consumed (inside the quotes and the one after).
    pub lines: usize,
}

/// Reads the quoted value whose opening quote (`'` or `"`) is at
/// `input[start]`.
pub(crate) fn read(input: &[u8], start: usize) -> Result<Quoted, QuoteError> {
    let quote = input.get(start).copied().ok_or(QuoteError::Unterminated)?;
    let mut value = Vec::new();
    let mut i = start + 1;
    loop {
        let b = *input.get(i).ok_or(QuoteError::Unterminated)?;
        if b == quote {
            break;
        }
        if quote == b'"' && b == b'\\' {
            match input.get(i + 1).copied() {
                Some(next) => match unescape(next) {
                    Some(c) => value.push(c),
                    None => value.extend_from_slice(&[b'\\', next]),
                },
                None => return Err(QuoteError::Unterminated),
            }
            i += 2;
            continue;
        }
        value.push(b);
        i += 1;
    }
    let after_quote = i + 1;
    let line_end = input[after_quote.min(input.len())..]
        .iter()
        .position(|b| *b == b'\n')
        .map(|p| after_quote + p);
    let tail_end = line_end.unwrap_or(input.len());
    let tail = input.get(after_quote..tail_end).unwrap_or_default();
    if !tail.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
        return Err(QuoteError::TrailingText);
    }
    let next = line_end.map_or(input.len(), |e| e + 1);
    let consumed = input.get(start..next).unwrap_or_default();
    Ok(Quoted {
        value,
        next,
        lines: consumed.iter().filter(|b| **b == b'\n').count(),
    })
}

/// The byte a double-quoted escape `\c` stands for; `None` when `c` is not
/// an escape (the backslash is then kept).
fn unescape(c: u8) -> Option<u8> {
    Some(match c {
        b'\\' => b'\\',
        b'"' => b'"',
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'$' => b'$',
        b'`' => b'`',
        _ => return None,
    })
}

/// Whether `b` may appear in an unquoted value: letters, digits, non-ASCII
/// bytes and punctuation no shell or dotenv reader gives a meaning to.
fn is_safe_unquoted(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || b >= 0x80
        || matches!(
            b,
            b'_' | b'-' | b'.' | b',' | b':' | b'/' | b'@' | b'%' | b'+' | b'='
        )
}

/// Appends `value` to `out` in the first form that reads back exactly.
pub(crate) fn write(out: &mut Vec<u8>, value: &[u8]) {
    if value.iter().all(|b| is_safe_unquoted(*b)) {
        out.extend_from_slice(value);
    } else if !value
        .iter()
        .any(|b| matches!(b, b'"' | b'\\' | b'$' | b'`' | b'\n' | b'\r'))
    {
        out.push(b'"');
        out.extend_from_slice(value);
        out.push(b'"');
    } else if !value.iter().any(|b| matches!(b, b'\'' | b'\n' | b'\r')) {
        out.push(b'\'');
        out.extend_from_slice(value);
        out.push(b'\'');
    } else {
        out.push(b'"');
        for &b in value {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'"' => out.extend_from_slice(b"\\\""),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'$' => out.extend_from_slice(b"\\$"),
                b'`' => out.extend_from_slice(b"\\`"),
                other => out.push(other),
            }
        }
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(value: &str) -> String {
        let mut out = Vec::new();
        write(&mut out, value.as_bytes());
        String::from_utf8(out).unwrap()
    }

    fn value_of(input: &str) -> Result<String, QuoteError> {
        read(input.as_bytes(), 0).map(|q| String::from_utf8(q.value).unwrap())
    }

    #[test]
    fn picks_the_simplest_form_that_reads_back() {
        assert_eq!(written(""), "");
        assert_eq!(written("c2VjcmV0=="), "c2VjcmV0==");
        assert_eq!(written("héllo-1.2:3/4@x%y+z"), "héllo-1.2:3/4@x%y+z");
        assert_eq!(
            written("Some long string with spaces"),
            "\"Some long string with spaces\""
        );
        assert_eq!(written("123#567"), "\"123#567\"");
        assert_eq!(written("a&b?c"), "\"a&b?c\"");
        assert_eq!(written("it's"), "\"it's\"");
        assert_eq!(written("say \"hi\""), "'say \"hi\"'");
        assert_eq!(written("$HOME"), "'$HOME'");
        assert_eq!(written("C:\\new"), "'C:\\new'");
        assert_eq!(written("a\nb"), "\"a\\nb\"");
        assert_eq!(
            written("it's \"$x\"\\n\r`"),
            "\"it's \\\"\\$x\\\"\\\\n\\r\\`\""
        );
    }

    #[test]
    fn reads_both_quote_styles() {
        assert_eq!(value_of("'a \\n \"b\"'").unwrap(), "a \\n \"b\"");
        assert_eq!(
            value_of("\"a\\n\\t\\\\ \\q \\$ \\` \\\" x\"").unwrap(),
            "a\n\t\\ \\q $ ` \" x"
        );
        assert_eq!(value_of("'multi\nline'\nB=1").unwrap(), "multi\nline");
        let q = read(b"'multi\nline'  \r\nB=1", 0).unwrap();
        assert_eq!((q.next, q.lines), (16, 2));
        let q = read(b"\"x\"", 0).unwrap();
        assert_eq!((q.next, q.lines), (3, 0));
    }

    #[test]
    fn rejects_unterminated_values_and_trailing_text() {
        assert_eq!(value_of("'abc"), Err(QuoteError::Unterminated));
        assert_eq!(value_of("\"abc\\\"\n"), Err(QuoteError::Unterminated));
        assert_eq!(value_of("\"abc\\"), Err(QuoteError::Unterminated));
        assert_eq!(value_of("'a' # comment"), Err(QuoteError::TrailingText));
        assert_eq!(value_of("'a'b\nC=1"), Err(QuoteError::TrailingText));
    }

    proptest! {
        #[test]
        fn every_value_reads_back_exactly(value in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Vec::new();
            write(&mut out, &value);
            if value.first().is_some_and(|b| *b == b'\'' || *b == b'"')
                || out.first().is_some_and(|b| *b == b'\'' || *b == b'"')
            {
                out.extend_from_slice(b"\nNEXT=1\n");
                let q = read(&out, 0).unwrap();
                prop_assert_eq!(&q.value, &value);
                prop_assert_eq!(out.get(q.next..).unwrap(), b"NEXT=1\n");
            } else {
                // Written unquoted: only safe bytes, read verbatim.
                prop_assert_eq!(&out, &value);
                prop_assert!(!value.windows(2).any(|w| w == b"\\n"));
            }
        }
    }
}
