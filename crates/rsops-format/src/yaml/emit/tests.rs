//! Tests of the YAML emitter: one test per layout/quoting rule (indent 4 and
//! 2), comment placement checked against sops 3.11 output, and the
//! conformance corpus / round-trip properties (in `conformance.rs`).

use super::*;
use crate::tree::{Comment, Entry, Key, List, ListItem, MapItem};

mod conformance;

fn s(x: &str) -> Value {
    Value::Str(x.to_owned())
}

fn list(items: Vec<Value>) -> Value {
    Value::List(List {
        items: items.into_iter().map(ListItem::Value).collect(),
    })
}

fn map(entries: Vec<(&str, Value)>) -> Map {
    let mut m = Map::new();
    for (k, v) in entries {
        m.push(k, v);
    }
    m
}

fn out(docs: &[Map], indent: usize) -> String {
    String::from_utf8(emit(docs, indent).expect("emit")).expect("utf8")
}

/// One document with one entry `k: value`.
fn one(value: Value) -> String {
    out(&[map(vec![("k", value)])], 4)
}

/// The §1.3 example tree.
fn layout_tree() -> Map {
    let inner = map(vec![
        ("b", Value::Int(1)),
        (
            "c",
            list(vec![
                Value::Int(1),
                Value::Map(map(vec![("d", list(vec![Value::Int(2)]))])),
            ]),
        ),
        ("e", s("x")),
    ]);
    map(vec![
        (
            "l",
            list(vec![
                Value::Map(map(vec![("a", Value::Map(inner))])),
                list(vec![s("nested"), s("list")]),
            ]),
        ),
        ("ml", list(vec![s("block in list\n")])),
    ])
}

#[test]
fn indentation_rule_indent_4() {
    let expected = "\
l:
    - a:
        b: 1
        c:
            - 1
            - d:
                - 2
      e: x
    - - nested
      - list
ml:
    - |
      block in list
";
    // `e` belongs to the map of `a`'s list element, not to `a`'s value.
    let mut tree = layout_tree();
    move_e_up(&mut tree);
    assert_eq!(out(&[tree], 4), expected);
}

/// The §1.3 example has `e: x` next to `a` (in the list element's map).
fn move_e_up(tree: &mut Map) {
    let Some(Value::List(l)) = tree.get_mut("l") else {
        panic!("test tree")
    };
    let Some(ListItem::Value(Value::Map(elem))) = l.items.first_mut() else {
        panic!("test tree")
    };
    let Some(Value::Map(inner)) = elem.get_mut("a") else {
        panic!("test tree")
    };
    let e = inner.remove("e").expect("e");
    elem.push("e", e);
}

#[test]
fn indentation_rule_indent_2() {
    let expected = "\
l:
  - a:
      b: 1
      c:
        - 1
        - d:
            - 2
    e: x
  - - nested
    - list
ml:
  - |
    block in list
";
    let mut tree = layout_tree();
    move_e_up(&mut tree);
    assert_eq!(out(&[tree], 2), expected);
}

#[test]
fn indentation_3_and_out_of_range_values() {
    let tree = map(vec![(
        "a",
        Value::Map(map(vec![("b", list(vec![Value::Int(1)]))])),
    )]);
    assert_eq!(
        out(std::slice::from_ref(&tree), 3),
        "a:\n   b:\n      - 1\n"
    );
    // go-yaml uses 2 for indents outside 2..=9 and 4 for 0.
    assert_eq!(out(std::slice::from_ref(&tree), 1), "a:\n  b:\n    - 1\n");
    assert_eq!(out(std::slice::from_ref(&tree), 10), "a:\n  b:\n    - 1\n");
    assert_eq!(out(&[tree], 0), "a:\n    b:\n        - 1\n");
}

#[test]
fn empty_collections_are_flow() {
    let tree = map(vec![
        ("m", Value::Map(Map::new())),
        ("l", list(vec![])),
        ("x", list(vec![list(vec![]), Value::Map(Map::new())])),
    ]);
    assert_eq!(out(&[tree], 4), "m: {}\nl: []\nx:\n    - []\n    - {}\n");
    assert_eq!(out(&[Map::new()], 4), "{}\n");
}

#[test]
fn documents_are_separated() {
    let a = map(vec![("a", Value::Int(1))]);
    let b = map(vec![("b", list(vec![s("x")]))]);
    assert_eq!(
        out(&[a, Map::new(), b], 4),
        "a: 1\n---\n{}\n---\nb:\n    - x\n"
    );
    assert_eq!(out(&[], 4), "");
}

#[test]
fn plain_strings() {
    for v in [
        "abc",
        "é ü",
        "a# b",
        "?x",
        "=x",
        "a\"b",
        "a'b",
        "a:b",
        "-x",
        "x-",
        "http://h:8080/p",
        "ENC[AES256_GCM,data:AAA=,iv:B,tag:C,type:str]",
        "a\u{a0}b",
        "-.nan",
        "<x",
    ] {
        assert_eq!(one(s(v)), format!("k: {v}\n"), "{v:?}");
    }
}

#[test]
fn strings_resolving_to_other_types_are_double_quoted() {
    for v in [
        "yes",
        "on",
        "y",
        "Yes",
        "NULL",
        "~",
        "123",
        "0123",
        "1_000",
        ".5",
        "1e3",
        "0x1F",
        "true",
        "2024-01-01",
        "12:30",
        "",
        "null",
        "-1",
        "+1",
        ".inf",
        "0o17",
        "1:20:30.5",
        "OFF",
        "N",
        "+.inf",
        ".NaN",
    ] {
        assert_eq!(one(s(v)), format!("k: \"{v}\"\n"), "{v:?}");
    }
}

#[test]
fn indicator_strings_are_single_quoted() {
    for (v, w) in [
        ("- x", "'- x'"),
        ("-", "'-'"),
        ("#x", "'#x'"),
        ("@at", "'@at'"),
        ("*star", "'*star'"),
        ("!x", "'!x'"),
        ("%x", "'%x'"),
        ("[x]", "'[x]'"),
        ("{x}", "'{x}'"),
        (",x", "',x'"),
        ("x:", "'x:'"),
        ("a: b", "'a: b'"),
        ("a #b", "'a #b'"),
        (" lead", "' lead'"),
        ("trail ", "'trail '"),
        ("it's ", "'it''s '"),
        ("---", "'---'"),
        ("...x", "'...x'"),
        ("? x", "'? x'"),
        ("|x", "'|x'"),
        (">x", "'>x'"),
        ("`x", "'`x'"),
        ("\"q\"", "'\"q\"'"),
    ] {
        assert_eq!(one(s(v)), format!("k: {w}\n"), "{v:?}");
    }
}

#[test]
fn special_characters_are_escaped() {
    for (v, w) in [
        ("tab\there", r#""tab\there""#),
        ("\u{1}ctrl", r#""\x01ctrl""#),
        ("a\u{7f}b", r#""a\x7Fb""#),
        ("a\u{80}b", r#""a\x80b""#),
        ("a\u{85}b", r#""a\Nb""#),
        ("cr\r", r#""cr\r""#),
        ("\u{1F510} lock", r#""\U0001F510 lock""#),
        ("\u{FEFF}ab", r#""\uFEFF\x61\x62""#),
        ("a\\b\t\"", r#""a\\b\t\"""#),
        ("\0\u{7}\u{8}\u{b}\u{c}\u{1b}", r#""\0\a\b\v\f\e""#),
        ("line1\nline2 ", r#""line1\nline2 ""#),
        ("a \nb", r#""a \nb""#),
        ("x\u{1}\ny", r#""x\x01\ny""#),
        ("\u{FFFE}", r#""\uFFFE""#),
    ] {
        assert_eq!(one(s(v)), format!("k: {w}\n"), "{v:?}");
    }
}

#[test]
fn line_separator_is_kept_in_single_quotes() {
    // go-yaml writes U+2028 raw and continues at the indentation.
    assert_eq!(one(s("a\u{2028}b")), "k: 'a\u{2028}    b'\n");
}

#[test]
fn literal_blocks() {
    assert_eq!(one(s("a\nb\n")), "k: |\n    a\n    b\n");
    assert_eq!(one(s("a\nb")), "k: |-\n    a\n    b\n");
    assert_eq!(one(s("a\n\n")), "k: |+\n    a\n\n");
    assert_eq!(one(s(" lead\nx\n")), "k: |4\n     lead\n    x\n");
    assert_eq!(one(s("\nx")), "k: |4-\n\n    x\n");
    assert_eq!(one(s("\n\n")), "k: |4+\n\n\n");
    assert_eq!(one(s("\n")), "k: |4+\n\n");
    assert_eq!(one(s("a\tb\nc\n")), "k: |\n    a\tb\n    c\n");
    assert_eq!(one(s("a\n  b\n\nc\n")), "k: |\n    a\n      b\n\n    c\n");
    assert_eq!(
        out(&[map(vec![("k", s(" x\ny\n"))])], 2),
        "k: |2\n   x\n  y\n"
    );
}

#[test]
fn literal_blocks_in_lists_and_nested_maps() {
    let tree = map(vec![
        ("l", list(vec![s("x\ny\n"), s(" y\n")])),
        ("m", Value::Map(map(vec![("n", s("p\nq"))]))),
    ]);
    assert_eq!(
        out(std::slice::from_ref(&tree), 4),
        "l:\n    - |\n      x\n      y\n    - |4\n       y\nm:\n    \"n\": |-\n        p\n        q\n"
    );
    assert_eq!(
        out(&[tree], 2),
        "l:\n  - |\n    x\n    y\n  - |2\n     y\nm:\n  \"n\": |-\n    p\n    q\n"
    );
}

#[test]
fn multiline_string_starting_with_tab_becomes_null() {
    // sops fails to re-read its own `Node.Encode` output and writes null.
    assert_eq!(one(s("\ta\nb\n")), "k: null\n");
    assert_eq!(out(&[map(vec![("\tk\n", Value::Int(1))])], 4), "null: 1\n");
    // Unless the node carries a comment: then go-yaml fails.
    let mut l = List::default();
    l.items.push(ListItem::Value(s("x")));
    l.items.push(ListItem::Comment(Comment::new(" c")));
    l.items.push(ListItem::Value(s("\ta\n")));
    assert!(matches!(
        emit(&[map(vec![("l", Value::List(l))])], 4),
        Err(FormatError::Emit(_))
    ));
}

#[test]
fn typed_scalars() {
    let tree = map(vec![
        ("i", Value::Int(-17)),
        ("big", Value::Int(i64::MIN)),
        ("f", Value::Float(1.0)),
        ("g", Value::Float(1e10)),
        ("h", Value::Float(0.0025)),
        ("inf", Value::Float(f64::NEG_INFINITY)),
        ("nan", Value::Float(f64::NAN)),
        ("t", Value::Bool(true)),
        ("u", Value::Bool(false)),
        ("z", Value::Null),
        ("d", Value::Time("2024-01-02T00:00:00Z".into())),
        ("b", Value::Bytes(b"utf8 bytes".to_vec())),
    ]);
    assert_eq!(
        out(&[tree], 4),
        "i: -17\nbig: -9223372036854775808\nf: 1\ng: 1e+10\nh: 0.0025\ninf: -.inf\nnan: .nan\n\
         t: true\nu: false\nz: null\nd: 2024-01-02T00:00:00Z\nb: utf8 bytes\n"
    );
}

#[test]
fn invalid_utf8_bytes_are_written_as_binary_like_go_yaml() {
    let short = map(vec![("k", Value::Bytes(vec![0x80]))]);
    assert_eq!(out(&[short], 4), "k: !!binary gA==\n");
    // 70 base64 characters and more: lines of 70, each ended by a break.
    let long = map(vec![
        ("l", Value::Bytes(vec![0x80; 60])),
        (
            "m",
            Value::List(List {
                items: vec![ListItem::Value(Value::Bytes(vec![0xff, 0xfe]))],
            }),
        ),
    ]);
    let b64 = "gICA".repeat(20);
    assert_eq!(
        out(&[long], 4),
        format!(
            "l: !!binary |\n    {}\n    {}\nm:\n    - !!binary //4=\n",
            &b64[..70],
            &b64[70..]
        )
    );
    // What is written reads back as the same bytes.
    let again =
        crate::yaml::parse(out(&[map(vec![("k", Value::Bytes(vec![0x80; 60]))])], 4).as_bytes())
            .unwrap();
    assert_eq!(again[0].get("k"), Some(&Value::Bytes(vec![0x80; 60])));
}

#[test]
fn keys_follow_the_scalar_rules() {
    let tree = map(vec![
        ("off", s("a")),
        ("y", s("b")),
        ("123", s("c")),
        ("key with: colon", s("d")),
        ("", s("e")),
        ("'#hash", s("f")),
        ("trailing space ", s("g")),
        ("emoji \u{1F680}", s("h")),
    ]);
    assert_eq!(
        out(&[tree], 4),
        "\"off\": a\n\"y\": b\n\"123\": c\n'key with: colon': d\n\"\": e\n'''#hash': f\n\
         'trailing space ': g\n\"emoji \\U0001F680\": h\n"
    );
}

#[test]
fn merge_key_and_value_get_the_merge_tag() {
    let tree = map(vec![
        ("<<", Value::Map(map(vec![("x", Value::Int(1))]))),
        ("b", s("<<")),
        ("l", list(vec![s("<<")])),
    ]);
    assert_eq!(
        out(&[tree], 4),
        "!!merge <<:\n    x: 1\nb: !!merge <<\nl:\n    - !!merge <<\n"
    );
}

#[test]
fn long_and_multiline_keys_use_the_complex_form() {
    let long = "k".repeat(129);
    let ok = "k".repeat(128);
    let tree = map(vec![
        (long.as_str(), Value::Int(1)),
        (ok.as_str(), Value::Int(2)),
        ("a\nb", Value::Map(map(vec![("c", Value::Int(3))]))),
    ]);
    assert_eq!(
        out(&[tree], 4),
        format!("? {long}\n: 1\n{ok}: 2\n? |-\n    a\n    b\n:   c: 3\n")
    );
    let nested = map(vec![("m", Value::Map(map(vec![("a\nb", Value::Int(1))])))]);
    assert_eq!(
        out(&[nested], 4),
        "m:\n    ? |-\n        a\n        b\n    : 1\n"
    );
}

#[test]
fn non_string_keys_are_written_as_scalars() {
    let mut m = Map::new();
    for k in [
        Value::Int(1),
        Value::Bool(true),
        Value::Null,
        Value::Float(2.5),
        s("x"),
    ] {
        m.items.push(MapItem::Entry(Entry {
            key: Key::Other(Box::new(k)),
            value: Value::Int(0),
            source: None,
        }));
    }
    assert_eq!(out(&[m], 4), "1: 0\ntrue: 0\nnull: 0\n2.5: 0\nx: 0\n");
    let mut bad = Map::new();
    bad.items.push(MapItem::Entry(Entry {
        key: Key::Other(Box::new(Value::Map(Map::new()))),
        value: Value::Int(0),
        source: None,
    }));
    assert!(matches!(emit(&[bad], 4), Err(FormatError::Emit(_))));
}

/// Builds a map from items where `("#", text)` is a comment line.
fn cmap(items: Vec<(&str, Value)>) -> Map {
    let mut m = Map::new();
    for (k, v) in items {
        match (k, v) {
            ("#", Value::Str(text)) => m.items.push(MapItem::Comment(Comment::new(text))),
            (k, v) => m.push(k, v),
        }
    }
    m
}

/// Builds a list where strings starting with `#` are comment lines.
fn clist(items: Vec<Value>) -> Value {
    Value::List(List {
        items: items
            .into_iter()
            .map(|v| match v {
                Value::Str(t) if t.starts_with('#') => {
                    ListItem::Comment(Comment::new(t.get(1..).unwrap_or("")))
                }
                v => ListItem::Value(v),
            })
            .collect(),
    })
}

/// The tree sops reads from the `yaml_comments` case input.
fn comments_tree() -> Map {
    cmap(vec![
        ("#", s(" File header comment")),
        ("#", s(" spanning two lines")),
        ("#", s(" Comment after a blank line")),
        ("#", s(" trailing comment on a scalar")),
        ("first", Value::Int(1)),
        (
            "second",
            Value::Map(cmap(vec![
                ("#", s(" comment inside a map")),
                ("nested", s("value")),
                ("#", s(" comment before a list")),
                (
                    "items",
                    clist(vec![
                        s("# comment before the first item"),
                        s("# trailing comment on an item"),
                        s("one"),
                        s("two"),
                        s("# comment between items"),
                        s("three"),
                    ]),
                ),
            ])),
        ),
        ("#", s(" trailing comment after a quoted value")),
        ("third", s("x")),
        ("#", s(" comment before the last key")),
        ("last", s("end")),
        ("#", s(" final comment at the end of the file")),
    ])
}

#[test]
fn comments_as_in_the_yaml_comments_case() {
    let expected = "\
# File header comment
# spanning two lines
# Comment after a blank line
# trailing comment on a scalar
first: 1
second:
    # comment inside a map
    nested: value
    # comment before a list
    items:
        # comment before the first item
        # trailing comment on an item
        - one
        - two
        # comment between items
        - three
# trailing comment after a quoted value
third: x
# comment before the last key
last: end
# final comment at the end of the file
";
    assert_eq!(out(&[comments_tree()], 4), expected);
}

#[test]
fn comments_with_indent_2_and_encrypted_text() {
    let tree = cmap(vec![
        ("#", s("ENC[AES256_GCM,data:x,type:comment]")),
        (
            "a",
            Value::Map(cmap(vec![("b", Value::Int(1)), ("#", s(" tail of a"))])),
        ),
        ("c", clist(vec![s("x"), s("# after x")])),
        ("#", s("")),
    ]);
    assert_eq!(
        out(&[tree], 2),
        "#ENC[AES256_GCM,data:x,type:comment]\na:\n  b: 1\n  # tail of a\nc:\n  - x\n  # after x\n#\n"
    );
}

fn inline(text: &str) -> Comment {
    Comment {
        text: text.into(),
        inline: true,
        source: None,
    }
}

#[test]
fn inline_comments_stay_on_the_line_of_a_scalar_like_sops_3_13() {
    let mut m = map(vec![
        ("a", Value::Int(1)),
        ("blk", s("x\ny\n")),
        (
            "l",
            Value::List(List {
                items: vec![
                    ListItem::Comment(inline(" on x")),
                    ListItem::Value(s("x")),
                    ListItem::Comment(Comment::new(" above y")),
                    ListItem::Value(s("z")),
                ],
            }),
        ),
        ("m", Value::Map(map(vec![("k", s("v"))]))),
    ]);
    m.items.insert(0, MapItem::Comment(inline(" inline")));
    m.items
        .insert(2, MapItem::Comment(inline(" on the header")));
    // Before a map value an end-of-line comment goes above the key.
    m.items.insert(5, MapItem::Comment(inline(" before m")));
    assert_eq!(
        out(&[m], 4),
        "a: 1 # inline\nblk: | # on the header\n    x\n    y\nl:\n    - x # on x\n    \
         # above y\n    - z\n# before m\nm:\n    k: v\n"
    );
}

#[test]
fn a_plain_comment_is_written_above() {
    let mut m = map(vec![("a", Value::Int(1))]);
    m.items
        .insert(0, MapItem::Comment(Comment::new(" own line")));
    assert_eq!(out(&[m], 4), "# own line\na: 1\n");
}

#[test]
fn comments_around_list_elements_that_are_collections() {
    // Checked against sops 3.11 (encrypt + decrypt of the equivalent input),
    // including the foot comment of a nested list moving below the next key
    // and the blank line go-yaml puts after it.
    let tree = cmap(vec![
        (
            "l",
            clist(vec![
                Value::Map(map(vec![("a", Value::Int(1)), ("b", Value::Int(2))])),
                s("# between"),
                Value::Map(cmap(vec![("c", Value::Int(3)), ("#", s(" after last"))])),
            ]),
        ),
        ("k", clist(vec![list(vec![s("x")]), s("# foot")])),
        ("n", Value::Int(1)),
        (
            "m",
            clist(vec![
                s("# lead m"),
                Value::Int(1),
                Value::Map(cmap(vec![("#", s(" lead item")), ("z", Value::Int(1))])),
            ]),
        ),
        ("e", clist(vec![Value::Map(Map::new()), s("# after empty")])),
    ]);
    assert_eq!(
        out(&[tree], 4),
        "\
l:
    - a: 1
      b: 2
    # between
    - c: 3
      # after last
k:
    - - x
\"n\": 1
# foot

m:
    # lead m
    - 1
    # lead item
    - z: 1
e:
    - {}
    # after empty
"
    );
}

#[test]
fn comments_of_documents_and_empty_collections() {
    let docs = [
        cmap(vec![("#", s(" first document")), ("a", Value::Int(1))]),
        cmap(vec![("#", s(" only a comment"))]),
        cmap(vec![
            ("y", Value::Map(cmap(vec![("#", s("in map"))]))),
            ("w", Value::Int(2)),
        ]),
    ];
    assert_eq!(
        out(&docs, 4),
        "# first document\na: 1\n---\n# only a comment\n{}\n---\n\"y\": {\n    #in map\n}\nw: 2\n"
    );
}

#[test]
fn metadata_block() {
    let age = map(vec![
        ("recipient", s("age1xyz")),
        (
            "enc",
            s("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"),
        ),
    ]);
    let sops = map(vec![
        ("age", list(vec![Value::Map(age)])),
        ("lastmodified", s("2026-11-28T17:23:03Z")),
        (
            "mac",
            s("ENC[AES256_GCM,data:5np7,iv:kRs3,tag:hNh9,type:str]"),
        ),
        ("unencrypted_suffix", s("_unencrypted")),
        ("version", s("3.11.0")),
    ]);
    let doc = map(vec![("a", s("b")), ("sops", Value::Map(sops))]);
    assert_eq!(
        out(&[doc], 4),
        "\
a: b
sops:
    age:
        - recipient: age1xyz
          enc: |
            -----BEGIN AGE ENCRYPTED FILE-----
            YWdl
            -----END AGE ENCRYPTED FILE-----
    lastmodified: \"2026-11-28T17:23:03Z\"
    mac: ENC[AES256_GCM,data:5np7,iv:kRs3,tag:hNh9,type:str]
    unencrypted_suffix: _unencrypted
    version: 3.11.0
"
    );
}

#[test]
fn single_values() {
    let v = |x: &Value| String::from_utf8(emit_value(x, 4).expect("emit")).expect("utf8");
    assert_eq!(v(&Value::Int(30)), "30\n");
    assert_eq!(v(&list(vec![s("a"), Value::Int(1)])), "- a\n- 1\n");
    assert_eq!(v(&s("yes")), "\"yes\"\n");
    assert_eq!(v(&s("a\nb\n")), "|\n    a\n    b\n");
    assert_eq!(v(&Value::Null), "null\n");
    assert_eq!(v(&list(vec![])), "[]\n");
    assert_eq!(
        v(&Value::Map(map(vec![("a", list(vec![Value::Int(1)]))]))),
        "a:\n    - 1\n"
    );
}

#[test]
fn deep_trees_are_refused_without_overflow() {
    let mut v = Value::Int(1);
    for _ in 0..5000 {
        v = list(vec![v]);
    }
    let result = emit(&[map(vec![("k", v)])], 4);
    assert!(matches!(result, Err(FormatError::Emit(_))));
    // Dropping the deep tree recursively is fine at this depth.
}

#[test]
fn moderately_deep_trees_are_written() {
    let mut v = Value::Int(1);
    for _ in 0..100 {
        v = Value::Map(map(vec![("a", v)]));
    }
    let text = out(&[map(vec![("k", v)])], 2);
    assert!(text.ends_with(&format!("{}a: 1\n", " ".repeat(200))));
}

mod no_panic {
    //! `emit` never panics, whatever the tree (comments anywhere, bytes,
    //! non-string keys, any characters).

    use super::*;
    use proptest::prelude::*;

    fn any_text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                3 => prop::sample::select(vec![' ', '\n', '\t', '#', ':', '-', '\'', '"', '|', 'a', '\u{2028}', '\u{85}', '\r', '\u{feff}']),
                1 => any::<char>(),
            ],
            0..8,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    fn any_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            any_text().prop_map(Value::Str),
            prop::collection::vec(any::<u8>(), 0..6).prop_map(Value::Bytes),
            any::<i64>().prop_map(Value::Int),
            any::<f64>().prop_map(Value::Float),
            any::<bool>().prop_map(Value::Bool),
            any_text().prop_map(Value::Time),
            Just(Value::Null),
        ]
    }

    fn any_value() -> BoxedStrategy<Value> {
        any_leaf()
            .prop_recursive(4, 40, 5, |inner| {
                prop_oneof![
                    prop::collection::vec(
                        prop_oneof![
                            3 => inner.clone().prop_map(ListItem::Value),
                            1 => any_text().prop_map(|t| ListItem::Comment(Comment::new(t))),
                        ],
                        0..5
                    )
                    .prop_map(|items| Value::List(List { items })),
                    any_map(inner).prop_map(Value::Map),
                ]
            })
            .boxed()
    }

    fn any_map(values: impl Strategy<Value = Value> + Clone) -> impl Strategy<Value = Map> {
        prop::collection::vec(
            prop_oneof![
                3 => (any_text(), values.clone()).prop_map(|(k, v)| MapItem::Entry(Entry {
                    key: Key::Str(k),
                    value: v,
                    source: None,
                })),
                1 => (any_leaf(), values).prop_map(|(k, v)| MapItem::Entry(Entry {
                    key: Key::Other(Box::new(k)),
                    value: v,
                    source: None,
                })),
                1 => any_text().prop_map(|t| MapItem::Comment(Comment::new(t))),
            ],
            0..5,
        )
        .prop_map(|items| Map { items })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn emit_never_panics(
            docs in prop::collection::vec(any_map(any_value()), 0..3),
            indent in 0usize..12,
        ) {
            if let Ok(bytes) = emit(&docs, indent) {
                prop_assert!(String::from_utf8(bytes).is_ok());
            }
            for doc in &docs {
                for e in doc.entries() {
                    let _ = emit_value(&e.value, indent);
                }
            }
        }
    }
}
