use super::*;
use crate::tree::{ListItem, Map, MapItem, Value};
use proptest::prelude::*;

/// Every entry's span and every comment's, in order.
fn spans(m: &Map) -> Vec<(usize, usize)> {
    fn map(m: &Map, out: &mut Vec<(usize, usize)>) {
        for item in &m.items {
            match item {
                MapItem::Entry(e) => {
                    let s = e.source.as_ref();
                    out.push((s.map_or(0, |s| s.start), s.map_or(0, |s| s.end)));
                    value(&e.value, out);
                }
                MapItem::Comment(_) => out.push((usize::MAX, usize::MAX)),
            }
        }
    }
    fn value(v: &Value, out: &mut Vec<(usize, usize)>) {
        match v {
            Value::Map(m) => map(m, out),
            Value::List(l) => {
                for item in &l.items {
                    match item {
                        ListItem::Value(v) => value(v, out),
                        ListItem::Comment(_) => out.push((usize::MAX, usize::MAX)),
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    map(m, &mut out);
    out
}

/// What the full parser gives for `input`, as one map.
fn full(input: &str) -> Option<Map> {
    let docs = super::super::parse::parse_data_single(input.as_bytes()).ok()?;
    let [doc]: [Map; 1] = docs.try_into().ok()?;
    Some(doc)
}

/// Reads `input` with both readers: when the simple one accepts it, the
/// full one must give the same tree and spans. Returns whether it was
/// accepted.
fn check(input: &str) -> bool {
    let Some(simple) = parse(input.as_bytes()) else {
        return false;
    };
    let full =
        full(input).unwrap_or_else(|| panic!("accepted, but the full parser refuses:\n{input}"));
    assert_eq!(simple, full, "different trees for:\n{input}");
    assert_eq!(
        spans(&simple),
        spans(&full),
        "different spans for:\n{input}"
    );
    true
}

fn accepted(input: &str) {
    assert!(check(input), "not accepted:\n{input}");
}

fn refused(input: &str) {
    assert!(parse(input.as_bytes()).is_none(), "accepted:\n{input}");
}

#[test]
fn the_layouts_sops_and_kubernetes_write_are_read() {
    accepted("a: 1\n");
    accepted("a: 1");
    accepted("a:\n    b: ENC[AES256_GCM,data:x==,iv:y=,tag:z==,type:str]\n    c: true\n");
    accepted("a:\n    - 1\n    - two\n    - 3.5\nb: null\n");
    accepted("a:\n- 1\n- x: 1\n  y: 2\nb:\n");
    accepted("a:\n  - name: x\n    value: 'it''s'\n  - name: y\n    value: \"q: #1\"\nz: ~\n");
    accepted("a:\n\n    b: 1\n\n\nc:\n    -\n    - \n    - d\n");
    accepted("a:\nb:\n    c:\n    d:\n");
    accepted("a:\n    -\n        x: 1\n    -   y: 2\n        z: 3\n");
    accepted("a: b:c\nd: e#f\ng: 'x' \nh: \"\"\ni: ''\nj: -1\nk: -x\nl: ?x\nm: x ,y] z}\n");
    accepted("key_with.dots/and-dashes: 2024-01-02\n$x: 0x1F\n_y: 1e3\nz: .inf\n");
}

#[test]
fn anything_else_goes_to_the_full_parser() {
    for input in [
        "",
        "\n\n",
        "# c\na: 1\n",
        "a: 1 # c\n",
        "a: [1]\n",
        "a: {}\n",
        "a: |\n  x\n",
        "a: >\n  x\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "---\na: 1\n",
        "a: 1\n---\nb: 2\n",
        "a: 1\n...\n",
        "%YAML 1.2\n---\na: 1\n",
        "\"a\": 1\n",
        "'a': 1\n",
        "? a\n: 1\n",
        "1: x\n",
        "true: x\n",
        "a: 1\na: 2\n",
        "a:\n    b: 1\n    b: 2\n",
        "a: x\n  y\n",
        "a:\n  x\n",
        "- a\n",
        "  a: 1\n",
        "a: b: c\n",
        "a: b:\n",
        "a: - b\n",
        "a:\n- - b\n",
        "a:\n    b:\n        - - \n",
        "a: \"x\\ny\"\n",
        "a: \"x\n",
        "a: 'x\n",
        "a: 'x' y\n",
        "a:\tb\n",
        "a: 1\r\n",
        "a: é\n",
        "a : 1\n",
        "a: 1\n  b: 2\n",
        "a:\n    - 1\n    b: 2\n",
        "a: 18446744073709551615\n",
    ] {
        refused(input);
        // And the full parser agrees when it reads it at all (never a
        // different tree).
        let _ = check(input);
    }
}

#[test]
fn deep_nesting_goes_to_the_full_parser() {
    let mut s = String::new();
    for i in 0..(MAX_DEPTH + 2) {
        s.push_str(&" ".repeat(i));
        s.push_str("k:\n");
    }
    refused(&s);
    let mut shallow = String::new();
    for i in 0..(MAX_DEPTH - 2) {
        shallow.push_str(&" ".repeat(i));
        shallow.push_str("k:\n");
    }
    accepted(&shallow);
}

#[test]
fn duplicate_keys_in_large_maps_go_to_the_full_parser() {
    let mut s = String::new();
    for i in 0..40 {
        s.push_str(&format!("k{i}: {i}\n"));
    }
    accepted(&s);
    s.push_str("k7: again\n");
    refused(&s);
}

#[test]
fn corpus_documents_read_the_same_when_accepted() {
    let mut seen = 0;
    for case in std::fs::read_dir(crate::corpus::CASES).unwrap() {
        for file in std::fs::read_dir(case.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                seen += usize::from(check(&text));
            }
        }
    }
    assert!(seen > 5, "only {seen} corpus documents were accepted");
}

/// A generated value: nested maps and lists of scalars.
#[derive(Debug, Clone)]
enum Node {
    Scalar(String),
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
}

fn node() -> impl Strategy<Value = Node> {
    let scalar = prop_oneof![
        4 => "[a-zA-Z0-9 _./+=-]{0,10}",
        2 => "[a-zA-Z0-9 :#'\"\\-?,.\\[\\]{}!&*|>%@`~_/$+=]{0,10}",
        1 => Just("ENC[AES256_GCM,data:aGk=,iv:aXY=,tag:dGFn,type:str]".to_owned()),
        1 => Just("'it''s'".to_owned()),
        1 => Just("\"q\"".to_owned()),
        1 => Just("\"x\\ty\"".to_owned()),
        1 => Just("2024-01-02T03:04:05Z".to_owned()),
        1 => Just("0o17".to_owned()),
        1 => Just("-.5".to_owned()),
        1 => Just("1_000".to_owned()),
    ]
    .prop_map(Node::Scalar);
    scalar.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(("[a-z_$/0-9][a-z0-9 .#:-]{0,6}", inner.clone()), 0..5)
                .prop_map(Node::Map),
            prop::collection::vec(inner, 0..5).prop_map(Node::List),
        ]
    })
}

/// How a generated document is laid out.
#[derive(Debug, Clone)]
struct Layout {
    indent: usize,
    indentless: bool,
    compact: bool,
    blank_lines: bool,
}

fn layout() -> impl Strategy<Value = Layout> {
    (1usize..5, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(indent, indentless, compact, blank_lines)| Layout {
            indent,
            indentless,
            compact,
            blank_lines,
        },
    )
}

/// Writes `node` as the value after `key:` or `-` at column `col`.
fn write(out: &mut String, node: &Node, col: usize, l: &Layout, under_key: bool) {
    match node {
        Node::Scalar(s) => {
            if !s.is_empty() {
                out.push(' ');
            }
            out.push_str(s);
            out.push('\n');
        }
        Node::Map(entries) if !entries.is_empty() && l.compact && !under_key => {
            // `- k: v` with the next keys at the column after `- `.
            out.push(' ');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(&" ".repeat(col + 2));
                }
                out.push_str(k);
                out.push(':');
                write(out, v, col + 2, l, true);
            }
        }
        Node::Map(entries) => {
            out.push('\n');
            for (k, v) in entries {
                if l.blank_lines {
                    out.push('\n');
                }
                out.push_str(&" ".repeat(col + l.indent));
                out.push_str(k);
                out.push(':');
                write(out, v, col + l.indent, l, true);
            }
        }
        Node::List(items) => {
            out.push('\n');
            let at = if l.indentless && under_key {
                col
            } else {
                col + l.indent
            };
            for v in items {
                out.push_str(&" ".repeat(at));
                out.push('-');
                write(out, v, at, l, false);
            }
        }
    }
}

fn document(entries: &[(String, Node)], l: &Layout) -> String {
    let mut out = String::new();
    for (k, v) in entries {
        out.push_str(k);
        out.push(':');
        write(&mut out, v, 0, l, true);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn generated_documents_read_the_same(
        entries in prop::collection::vec(("[a-z_][a-z0-9_]{0,5}", node()), 1..6),
        l in layout(),
    ) {
        check(&document(&entries, &l));
    }

    #[test]
    fn generated_lines_read_the_same(
        lines in prop::collection::vec("( {0,5})(- |-|[a-c]: |[a-c]:|- [a-c]: )?[a-c0-9 :#'\"-]{0,4}", 1..12),
    ) {
        check(&lines.join("\n"));
    }
}

#[test]
fn generated_documents_are_mostly_accepted() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (
        prop::collection::vec(("[a-z_][a-z0-9_]{0,5}", node()), 1..6),
        layout(),
    );
    let mut accepted = 0;
    for _ in 0..400 {
        let (entries, l) = strategy.new_tree(&mut runner).unwrap().current();
        accepted += usize::from(check(&document(&entries, &l)));
    }
    assert!(accepted > 60, "only {accepted} of 400 accepted");
}
