//! Parsing a large YAML document in two halves that can run on two cores.
//!
//! The root of a sops file is a block mapping with many top-level keys, one
//! per line in column 0. Cut before such a key near the middle, each half
//! is a YAML document of its own whose items are exactly the items the
//! whole document has on that side of the cut, so the two halves can be
//! parsed at the same time and their items concatenated. The cut is only
//! made where that is certain (see [`cut_point`]); everything else — a
//! parse error in either half, anything but one mapping document on each
//! side, a top-level key on both sides (a duplicate the whole parse
//! reports), anchors or aliases — falls back to parsing the whole document
//! at once, which also gives the exact error message.
//!
//! The halves are two tasks handed to the caller's [`Parallelism`]; with a
//! single worker the document is not cut at all.

use crate::error::FormatError;
use crate::parallel::{Parallelism, Task};
use crate::tree::{ListItem, Map, MapItem, Source, Value};

/// Below this size one thread is faster than starting a second one.
const MIN_SPLIT_BYTES: usize = 256 * 1024;
/// How many candidate lines after the middle are looked at for a cut.
const MAX_CANDIDATES: usize = 4096;

/// Parses like `parse`, in two halves run by `par` when the input is large,
/// can be cut safely and `par` has more than one worker. `parse` is the
/// single-threaded parser (with or without source spellings).
pub(super) fn parse_split(
    input: &[u8],
    parse: fn(&[u8]) -> Result<Vec<Map>, FormatError>,
    par: &dyn Parallelism,
) -> Result<Vec<Map>, FormatError> {
    // The worker count is asked only for a large input that can be cut.
    let cut = match cut_point(input) {
        Some(cut) if par.workers() > 1 => cut,
        _ => return parse(input),
    };
    let (head, tail) = input.split_at(cut);
    let (mut first, mut second) = (None, None);
    let tasks: Vec<Task<'_>> = vec![
        Box::new(|| first = Some(parse(head))),
        Box::new(|| second = Some(parse(tail))),
    ];
    par.run(tasks);
    let joined = match (first, second) {
        (Some(Ok(a)), Some(Ok(b))) => join(a, b, cut),
        _ => None,
    };
    match joined {
        Some(docs) => Ok(docs),
        None => parse(input),
    }
}

/// Where the input can be cut: the start of a line near the middle that
/// begins a top-level key (an ASCII letter, digit or `_` in column 0),
/// right after an indented line that is not a comment (so no comment or
/// blank line sits at the cut, and the previous top-level value is a block
/// collection whose content cannot continue in column 0). The input must
/// be large, one document (no `---`/`...` marker lines, no directive), and
/// use no anchors or aliases (which could cross the cut).
fn cut_point(input: &[u8]) -> Option<usize> {
    if input.len() < MIN_SPLIT_BYTES
        || memchr::memchr2(b'&', b'*', input).is_some()
        || input.starts_with(b"%")
        || super::maybe_several_documents(input)
    {
        return None;
    }
    let middle = input.len() / 2;
    let mut candidates = memchr::memchr_iter(b'\n', input.get(middle..)?)
        .map(|i| middle + i + 1)
        .take(MAX_CANDIDATES);
    candidates.find(|&start| is_cut(input, start))
}

/// Whether the line starting at `start` begins a top-level key (an ASCII
/// letter, digit or `_` in column 0) right after an indented line that is
/// not blank nor a comment: the rule of [`cut_point`] for one line.
pub(crate) fn is_cut(input: &[u8], start: usize) -> bool {
    let starts_key = input
        .get(start)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    starts_key && previous_line_is_indented_content(input, start)
}

/// The first line start at or after `from` where the document can be cut
/// ([`is_cut`]), looking at no more than `limit` bytes past `from`.
pub(crate) fn next_cut(input: &[u8], from: usize, limit: usize) -> Option<usize> {
    let from = from.max(1);
    let end = from.saturating_add(limit).min(input.len());
    let window = input.get(from - 1..end)?;
    memchr::memchr_iter(b'\n', window)
        .map(|i| from + i)
        .find(|&start| is_cut(input, start))
}

/// Parses one piece of a document cut at [`is_cut`] lines on its own:
/// the items of its root mapping. Refused (an error, for the caller to
/// parse the whole document instead) unless the piece is one mapping
/// document without anchors, aliases, directives or document markers,
/// which could reach across a cut (checked conservatively: an `&` or `*`
/// where a node could start, a `%` or a marker at the start of a line);
/// the first piece of the input may open with a `---` line.
pub(crate) fn parse_piece(piece: &[u8]) -> Result<Map, FormatError> {
    check_piece(piece)?;
    if let Some(doc) = super::simple::parse(piece) {
        return Ok(doc);
    }
    let docs = super::parse::parse_data_single(piece)?;
    let [doc]: [Map; 1] = docs.try_into().map_err(|_| refused())?;
    Ok(doc)
}

/// The checks of [`parse_piece`] made before parsing.
pub(crate) fn check_piece(piece: &[u8]) -> Result<(), FormatError> {
    let maybe_marker = piece.starts_with(b"---")
        || piece.starts_with(b"...")
        || memchr::memmem::find(piece, b"\n---").is_some()
        || memchr::memmem::find(piece, b"\n...").is_some();
    if (maybe_marker && super::maybe_several_documents(piece)) || may_cross_pieces(piece) {
        return Err(refused());
    }
    Ok(())
}

/// The error refusing a piece.
fn refused() -> FormatError {
    FormatError::parse("yaml", "the document cannot be read in pieces")
}

/// Whether `piece` may hold an anchor or alias (`&` or `*` at the start of
/// the input or after a blank or flow indicator) or a directive (`%` at
/// the start of a line). Conservative: `a & b` answers yes.
fn may_cross_pieces(piece: &[u8]) -> bool {
    memchr::memchr3_iter(b'&', b'*', b'%', piece).any(|at| {
        let before = at.checked_sub(1).and_then(|i| piece.get(i)).copied();
        match piece.get(at) {
            Some(b'%') => matches!(before, None | Some(b'\n')),
            _ => matches!(
                before,
                None | Some(b' ' | b'\t' | b'\n' | b'\r' | b'[' | b'{' | b',' | b':' | b'-' | b'?')
            ),
        }
    })
}

/// Whether the line before the one starting at `start` is indented and is
/// neither blank nor a comment.
fn previous_line_is_indented_content(input: &[u8], start: usize) -> bool {
    let Some(before) = input.get(..start.saturating_sub(1)) else {
        return false;
    };
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    let line = before.get(line_start..).unwrap_or_default();
    let indented = line.first().is_some_and(|b| *b == b' ');
    let content = line.trim_ascii_start();
    indented && !content.is_empty() && !content.starts_with(b"#")
}

/// The document made of the items of both halves, with the second half's
/// byte spans moved to their place in the whole input; `None` when the
/// halves are not one mapping document each or share a top-level key.
fn join(first: Vec<Map>, second: Vec<Map>, offset: usize) -> Option<Vec<Map>> {
    let [mut head]: [Map; 1] = first.try_into().ok()?;
    let [mut tail]: [Map; 1] = second.try_into().ok()?;
    let mut keys = std::collections::HashSet::new();
    for e in head.entries() {
        keys.insert(e.key.as_str()?);
    }
    for e in tail.entries() {
        if !keys.insert(e.key.as_str()?) {
            return None;
        }
    }
    shift_map(&mut tail, offset);
    head.items.append(&mut tail.items);
    Some(vec![head])
}

fn shift(source: &mut Option<Source>, offset: usize) {
    if let Some(s) = source {
        s.start += offset;
        s.end += offset;
    }
}

fn shift_map(map: &mut Map, offset: usize) {
    for item in &mut map.items {
        match item {
            MapItem::Entry(e) => {
                shift(&mut e.source, offset);
                shift_value(&mut e.value, offset);
            }
            MapItem::Comment(c) => shift(&mut c.source, offset),
        }
    }
}

fn shift_value(value: &mut Value, offset: usize) {
    match value {
        Value::Map(m) => shift_map(m, offset),
        Value::List(l) => {
            for item in &mut l.items {
                match item {
                    ListItem::Value(v) => shift_value(v, offset),
                    ListItem::Comment(c) => shift(&mut c.source, offset),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{ListItem, Map, MapItem, Value};
    use proptest::prelude::*;

    /// Every byte span and comment placement of a tree, in order.
    fn layout(docs: &[Map]) -> Vec<(usize, usize, bool)> {
        fn map(m: &Map, out: &mut Vec<(usize, usize, bool)>) {
            for item in &m.items {
                match item {
                    MapItem::Entry(e) => {
                        let s = e.source.as_ref();
                        out.push((s.map_or(0, |s| s.start), s.map_or(0, |s| s.end), false));
                        value(&e.value, out);
                    }
                    MapItem::Comment(c) => {
                        let s = c.source.as_ref();
                        out.push((s.map_or(0, |s| s.start), s.map_or(0, |s| s.end), c.inline));
                    }
                }
            }
        }
        fn value(v: &Value, out: &mut Vec<(usize, usize, bool)>) {
            match v {
                Value::Map(m) => map(m, out),
                Value::List(l) => {
                    for item in &l.items {
                        match item {
                            ListItem::Value(v) => value(v, out),
                            ListItem::Comment(c) => {
                                let s = c.source.as_ref();
                                out.push((s.map_or(0, |s| s.start), s.map_or(0, |s| s.end), true));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        for d in docs {
            map(d, &mut out);
        }
        out
    }

    use crate::parallel::TestThreads as Threads;

    /// Claims `.0` workers but runs the tasks on the calling thread, last
    /// one first: the result must not depend on the order.
    struct Backwards(usize);

    impl Parallelism for Backwards {
        fn workers(&self) -> usize {
            self.0
        }

        fn run(&self, tasks: Vec<Task<'_>>) {
            for task in tasks.into_iter().rev() {
                task();
            }
        }
    }

    /// Parsing `input` with `par` gives what one whole parse gives.
    fn assert_same_with(input: &str, par: &dyn Parallelism) {
        let whole = super::super::parse::parse_data_single(input.as_bytes());
        let split = parse_split(
            input.as_bytes(),
            super::super::parse::parse_data_single,
            par,
        );
        match (whole, split) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b);
                assert_eq!(layout(&a), layout(&b));
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            (a, b) => panic!("whole {:?} vs split {:?}", a.is_ok(), b.is_ok()),
        }
    }

    /// Parsing `input` on two threads gives what one whole parse gives.
    fn assert_same(input: &str) {
        assert_same_with(input, &Threads(2));
    }

    /// A large config in the layout sops writes, with `extra` inserted
    /// after the middle key.
    fn config(keys: usize, extra: &str) -> String {
        let mut s = String::from("#ENC[top comment]\n");
        for i in 0..keys {
            if i == keys / 2 {
                s.push_str(extra);
            }
            s.push_str(&format!(
                "service_{i:05}:\n    name: ENC[AES256_GCM,data:x{i},type:str]\n    #ENC[comment {i}]\n    ports:\n        - 1\n        - two\n    nested:\n        deep: true\n"
            ));
        }
        s.push_str("sops:\n    version: 3.11.0\n");
        s
    }

    #[test]
    fn a_large_document_is_cut_and_gives_the_same_tree_and_spans() {
        let input = config(3000, "");
        let cut = cut_point(input.as_bytes()).unwrap();
        // The halves really are joined (not a fallback to one parse).
        let (head, tail) = input.as_bytes().split_at(cut);
        let single = super::super::parse::parse_data_single;
        let joined = join(single(head).unwrap(), single(tail).unwrap(), cut).unwrap();
        assert_eq!(joined, single(input.as_bytes()).unwrap());
        // Whichever executor runs the halves, in whatever order.
        assert_same_with(&input, &crate::parallel::Sequential);
        assert_same_with(&input, &Threads(2));
        assert_same_with(&input, &Threads(4));
        assert_same_with(&input, &Backwards(2));
    }

    #[test]
    fn anything_unusual_falls_back_to_one_parse() {
        // A duplicate top-level key across the halves: the whole parse's error.
        let dup = config(3000, "service_00000:\n    x: 1\n");
        assert_same(&dup);
        assert!(parse_split(
            dup.as_bytes(),
            super::super::parse::parse_data_single,
            &Threads(2)
        )
        .is_err());
        // A syntax error in either half.
        assert_same(&config(3000, "broken: [\n"));
        assert_same(&format!("{}bad: : :\n", config(3000, "")));
        // A quoted scalar running over the cut.
        assert_same(&config(3000, "q: \"line\n  service_x: 1\n\"\n"));
        // Anchors and aliases, directives, several documents: not cut.
        let aliased = config(3000, "a: &x 1\nb: *x\n");
        assert!(cut_point(aliased.as_bytes()).is_none());
        assert_same(&aliased);
        let several = format!("{}---\na: 1\n", config(3000, ""));
        assert!(cut_point(several.as_bytes()).is_none());
        assert!(cut_point(b"a: 1\n").is_none());
    }

    #[test]
    fn corpus_yaml_files_parse_the_same() {
        let mut cut = 0;
        for case in std::fs::read_dir(crate::corpus::CASES).unwrap() {
            for file in std::fs::read_dir(case.unwrap().path()).unwrap() {
                let path = file.unwrap().path();
                if path.extension().is_some_and(|e| e == "yaml") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    // Repeat the file's items under many top-level keys so
                    // that it is large enough to be cut.
                    let mut big = String::new();
                    let copies = 2 * MIN_SPLIT_BYTES / text.len().max(1) + 2;
                    for i in 0..copies {
                        big.push_str(&format!("k{i}:\n"));
                        for line in text.lines().filter(|l| !l.starts_with("---")) {
                            big.push_str("    ");
                            big.push_str(line);
                            big.push('\n');
                        }
                        big.push_str("    end: 1\n");
                    }
                    cut += usize::from(cut_point(big.as_bytes()).is_some());
                    assert_same(&big);
                }
            }
        }
        assert!(cut > 10, "only {cut} corpus documents were cut");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn generated_documents_parse_the_same(
            values in prop::collection::vec("[a-z0-9 #:'\"\\[\\]{},-]{0,12}", 3000..3400),
        ) {
            let mut input = String::new();
            for (i, v) in values.iter().enumerate() {
                input.push_str(&format!("key{i}:\n    v: {v}\n    l:\n    - {v}\n"));
            }
            assert_same(&input);
        }
    }
}
