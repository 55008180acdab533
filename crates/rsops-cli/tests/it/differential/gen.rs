//! Generators of YAML, JSON, dotenv and INI documents for the differential
//! tests: nested maps and lists, comments in many places, anchors and
//! aliases, block scalars, quoted and unicode keys and values, numbers of
//! every spelling. Each generator builds a small tree and renders it as
//! text, so every document is well formed (what the tools must agree on is
//! how they read and write it).

use proptest::prelude::*;
use proptest::sample::select;

/// Scalar spellings that are valid in any YAML block context.
const YAML_SCALARS: &[&str] = &[
    "plain",
    "two words",
    "héllo wörld",
    "ключ",
    "日本語",
    "emoji 🔐",
    "a#b",
    "\"x: y\"",
    "42",
    "-7",
    "0",
    "3.25",
    "1e3",
    "-0.5",
    "1_000",
    "0x1F",
    "0o17",
    ".inf",
    "-.Inf",
    ".nan",
    "true",
    "False",
    "yes",
    "off",
    "~",
    "null",
    "''",
    "\"\"",
    "2024-01-02",
    "2024-01-02T03:04:05Z",
    "\"quoted: value\"",
    "'it''s'",
    "\"tab\\tand\\nnewline\"",
    "\"\\u00e9\\U0001F510\"",
    "'#not a comment'",
    "ENC-looking",
    "9007199254740993",
    "!!str 123",
    "!!binary aGVsbG8=",
    "!!binary gA==",
    "!!int \"7\"",
    "!!float 1",
];

const YAML_KEYS: &[&str] = &[
    "name",
    "key",
    "ключ",
    "\"quoted key\"",
    "'single'",
    "a b",
    "with-dash",
    "snake_case",
    "secret_unencrypted",
    "\"true\"",
    "\"123\"",
    "emoji🔐",
    "k.dot",
    "\"x: y\"",
];

/// Comment texts. Never empty: sops handles an empty comment apart (it is
/// never encrypted; in a list sops turns it into an empty string element,
/// `F-sops-empty-comment`; an empty INI comment crashes sops's writer,
/// `F-sops-ini-empty-comment`; an empty end-of-line comment keeps its line
/// in sops 3.13 but not in the reference 3.11).
const COMMENTS: &[&str] = &[
    " note",
    " ключ и emoji 🔐",
    "#double",
    " ENC[not really]",
    "  spaced",
];

const BLOCK_LINES: &[&str] = &[
    "line one",
    "second line",
    "x: y # kept",
    "ünïcode",
    "  more indented",
    "",
];

/// A YAML node before rendering.
#[derive(Debug, Clone)]
enum Node {
    Scalar(&'static str),
    Block(&'static str, Vec<&'static str>),
    Map(Vec<Item>),
    List(Vec<(Node, Option<&'static str>)>),
}

/// A map entry with its optional comment above and end-of-line comment.
#[derive(Debug, Clone)]
struct Item {
    key: &'static str,
    value: Node,
    above: Option<&'static str>,
    inline: Option<&'static str>,
}

/// A comment line or none (kept as a separate name for the places where
/// an empty comment would hit a known sops difference).
fn nonempty_comment() -> impl Strategy<Value = Option<&'static str>> {
    comment().prop_map(|c| c.filter(|t| !t.is_empty()))
}

fn comment() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![3 => Just(None), 1 => select(COMMENTS).prop_map(Some)]
}

fn block() -> impl Strategy<Value = Node> {
    (
        select(&["|", "|-", "|+", ">", ">-"][..]),
        select(&BLOCK_LINES[..4]),
        prop::collection::vec(select(BLOCK_LINES), 0..4),
    )
        .prop_map(|(header, first, rest)| {
            let mut lines = vec![first];
            lines.extend(rest);
            Node::Block(header, lines)
        })
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![4 => select(YAML_SCALARS).prop_map(Node::Scalar), 1 => block()];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            items(inner.clone()).prop_map(Node::Map),
            prop::collection::vec((inner, nonempty_comment()), 0..4).prop_map(Node::List),
        ]
    })
}

fn items(value: impl Strategy<Value = Node>) -> impl Strategy<Value = Vec<Item>> {
    prop::collection::vec(
        (select(YAML_KEYS), value, comment(), nonempty_comment()),
        0..4,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(key, value, above, inline)| Item {
                key,
                value,
                above,
                inline,
            })
            .collect()
    })
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn render_comment(out: &mut String, indent: usize, text: Option<&str>) {
    if let Some(t) = text {
        pad(out, indent);
        out.push('#');
        out.push_str(t);
        out.push('\n');
    }
}

fn end_of_line(out: &mut String, text: Option<&str>) {
    if let Some(t) = text {
        out.push_str(" #");
        out.push_str(t);
    }
    out.push('\n');
}

/// Writes `node` after a `key:` or `-` that is already on the line.
fn render_value(out: &mut String, indent: usize, node: &Node, inline: Option<&str>) {
    match node {
        Node::Scalar(s) => {
            out.push(' ');
            out.push_str(s);
            end_of_line(out, inline);
        }
        Node::Block(header, lines) => {
            out.push(' ');
            out.push_str(header);
            end_of_line(out, inline);
            for l in lines {
                if !l.is_empty() {
                    pad(out, indent + 2);
                    out.push_str(l);
                }
                out.push('\n');
            }
        }
        Node::Map(items) if items.is_empty() => {
            out.push_str(" {}");
            end_of_line(out, inline);
        }
        Node::List(items) if items.is_empty() => {
            out.push_str(" []");
            end_of_line(out, inline);
        }
        Node::Map(items) => {
            end_of_line(out, inline);
            render_map(out, indent + 2, items);
        }
        Node::List(items) => {
            end_of_line(out, inline);
            for (value, c) in items {
                pad(out, indent + 2);
                out.push('-');
                render_value(out, indent + 2, value, *c);
            }
        }
    }
}

fn render_map(out: &mut String, indent: usize, items: &[Item]) {
    for (i, item) in items.iter().enumerate() {
        render_comment(out, indent, item.above);
        pad(out, indent);
        // Keys are made unique by their position.
        match item.key.strip_suffix('"') {
            Some(quoted) => out.push_str(&format!("{quoted}{i}\"")),
            None => match item.key.strip_suffix('\'') {
                Some(quoted) => out.push_str(&format!("{quoted}{i}'")),
                None => out.push_str(&format!("{}{i}", item.key)),
            },
        }
        out.push(':');
        render_value(out, indent, &item.value, item.inline);
    }
}

/// A YAML document: a map with comments, block scalars, an anchor and
/// its alias, sometimes a `---` start, a head or foot comment, or no final
/// line break.
pub fn yaml_document() -> impl Strategy<Value = String> {
    (
        items(node()),
        comment(),
        comment(),
        any::<bool>(),
        any::<bool>(),
        select(YAML_SCALARS),
    )
        .prop_map(|(items, head, foot, start, final_break, anchored)| {
            let mut out = String::new();
            render_comment(&mut out, 0, head);
            if start {
                out.push_str("---\n");
            }
            render_map(&mut out, 0, &items);
            out.push_str(&format!("anchored: &anc {anchored}\nalias: *anc\n"));
            render_comment(&mut out, 0, foot);
            if !final_break {
                out.pop();
            }
            out
        })
}

const JSON_STRINGS: &[&str] = &[
    "plain",
    "",
    "with \\\"quotes\\\"",
    "back\\\\slash",
    "\\u00e9t\\u00e9",
    "\\ud83d\\udd10",
    "tab\\tnew\\nline",
    "\\/slash",
    "<html>&amp;",
    "ключ",
    "emoji 🔐",
    "\\u0000\\u0007",
];

const JSON_NUMBERS: &[&str] = &[
    "0",
    "42",
    "-17",
    "3.25",
    "1.0",
    "1e10",
    "2.5E-5",
    "-0.5",
    "9007199254740991",
    "123456789",
    "1E+2",
    "0.1",
];

fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        select(JSON_STRINGS).prop_map(|s| format!("\"{s}\"")),
        select(JSON_NUMBERS).prop_map(str::to_owned),
        (-1_000_000i64..1_000_000).prop_map(|i| i.to_string()),
        select(&["true", "false", "null"][..]).prop_map(str::to_owned),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            json_object(inner.clone()),
            prop::collection::vec(inner, 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
        ]
    })
}

fn json_object(value: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    prop::collection::vec((select(JSON_STRINGS), value), 0..5).prop_map(|kv| {
        let members: Vec<String> = kv
            .iter()
            .enumerate()
            .map(|(i, (k, v))| format!("\"{k}{i}\": {v}"))
            .collect();
        format!("{{{}}}", members.join(",\n "))
    })
}

/// A JSON document (a top-level object).
pub fn json_document() -> impl Strategy<Value = String> {
    (json_object(json_value()), any::<bool>())
        .prop_map(|(doc, nl)| if nl { doc + "\n" } else { doc })
}

const FLAT_VALUES: &[&str] = &[
    "plain",
    "",
    "two words",
    "a=b=c",
    "\"double quoted\"",
    "'single'",
    "ключ",
    "emoji 🔐",
    "42",
    "true",
    "#hash",
    "trailing space ",
    "x;y",
];

/// A dotenv file: `KEY=value` lines, comments and blank lines.
pub fn dotenv_document() -> impl Strategy<Value = String> {
    prop::collection::vec((select(FLAT_VALUES), comment(), any::<bool>()), 1..8).prop_map(|lines| {
        let mut out = String::new();
        for (i, (value, c, blank)) in lines.iter().enumerate() {
            if let Some(c) = c {
                out.push_str(&format!("#{c}\n"));
            }
            if *blank {
                out.push('\n');
            }
            out.push_str(&format!("KEY_{i}={value}\n"));
        }
        out
    })
}

/// An INI file: sections of `key = value` lines with `;` and `#` comments.
pub fn ini_document() -> impl Strategy<Value = String> {
    let section = (
        select(&["main", "with space", "ключ", "s.dot"][..]),
        prop::collection::vec(
            (select(FLAT_VALUES), nonempty_comment(), any::<bool>()),
            0..5,
        ),
    );
    prop::collection::vec(section, 1..4).prop_map(|sections| {
        let mut out = String::new();
        for (n, (name, entries)) in sections.iter().enumerate() {
            out.push_str(&format!("[{name}{n}]\n"));
            for (i, (value, c, semicolon)) in entries.iter().enumerate() {
                if let Some(c) = c {
                    out.push_str(if *semicolon { ";" } else { "#" });
                    out.push_str(c);
                    out.push('\n');
                }
                out.push_str(&format!("key{i} = {value}\n"));
            }
        }
        out
    })
}
