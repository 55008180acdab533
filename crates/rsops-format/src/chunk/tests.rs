//! Pieces give exactly the items of the whole document: on hand-written
//! layouts (metadata first, in the middle, last), on every YAML/JSON file
//! of the conformance corpus (cut at every possible place), on corpus
//! files repeated under many top-level keys, and on generated documents.

use super::*;
use crate::parallel::Sequential;
use crate::store;
use proptest::prelude::*;

/// What the whole-file path reads: the data items and the metadata.
fn whole(format: Format, input: &[u8]) -> Option<(Vec<MapItem>, Map)> {
    let (docs, md) = store::load_encrypted(format, input, &Sequential).ok()?;
    let [doc]: [Map; 1] = docs.try_into().ok()?;
    Some((doc.items, md?))
}

/// The items of every piece, in order, and whether every piece parsed
/// with distinct keys.
fn joined(pieces: &Pieces<'_>) -> Result<Vec<MapItem>, FormatError> {
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    for i in 0..pieces.len() {
        let mut piece = pieces.parse(i)?;
        check_keys(&mut seen, pieces.root_keys(&piece)?)?;
        items.append(&mut piece);
    }
    Ok(items)
}

/// Reading `input` in pieces of `target` bytes either gives the whole
/// parse's items and metadata, or is refused; returns the number of
/// pieces when it was not refused.
fn check_encrypted(format: Format, input: &[u8], target: usize) -> Option<usize> {
    check_streamed(format, input, target);
    let (pieces, md) = encrypted(format, input, target)?;
    let items = joined(&pieces).ok()?;
    let (whole_items, whole_md) =
        whole(format, input).expect("pieces read a file the whole parse refuses");
    assert_eq!(
        md,
        whole_md,
        "metadata of {}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(
        Map { items },
        Map { items: whole_items },
        "items of {}",
        String::from_utf8_lossy(input)
    );
    // The pieces cover the data in order, each starting at a cut.
    for i in 0..pieces.len() {
        let r = pieces.range(i).unwrap();
        if i > 0 {
            assert!(r.start >= pieces.range(i - 1).unwrap().end);
        }
    }
    Some(pieces.len())
}

/// Reading `input` from a source in blocks of a few sizes (small ones,
/// so that lines, values and the patterns searched for straddle blocks)
/// gives the pieces and metadata of the input in memory, and their text.
fn check_streamed(format: Format, input: &[u8], target: usize) {
    let in_memory = encrypted(format, input, target);
    for block in [1, 2, 3, 7, 16, 61, 256, 4096] {
        let streamed = encrypted_from(format, &input, target, block).expect("read");
        match (&in_memory, streamed) {
            (None, None) => {}
            (Some((mem, mem_md)), Some((from, md))) => {
                assert_eq!(&md, mem_md, "block {block}");
                assert_eq!(from.len(), mem.len(), "block {block}");
                for i in 0..mem.len() {
                    assert_eq!(from.range(i), mem.range(i), "block {block}, piece {i}");
                    let (a, b) = (from.parse(i), mem.parse(i));
                    assert_eq!(a.is_ok(), b.is_ok(), "block {block}, piece {i}");
                    if let (Ok(a), Ok(b)) = (a, b) {
                        assert_eq!(Map { items: a }, Map { items: b });
                    }
                }
            }
            (mem, from) => panic!(
                "block {block}: in memory {:?}, streamed {:?} for {}",
                mem.is_some(),
                from.is_some(),
                String::from_utf8_lossy(input)
            ),
        }
    }
}

const META_YAML: &str = "sops:\n    age:\n        - recipient: age1x\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            AAAA\n            -----END AGE ENCRYPTED FILE-----\n    lastmodified: \"2024-01-02T03:04:05Z\"\n    mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n    version: 3.11.0\n";

/// A YAML document of `n` top-level maps (with comments inside them),
/// the metadata inserted before item `meta_at` (`n`: last).
fn yaml_doc(n: usize, meta_at: usize) -> String {
    let mut s = String::from("# head comment\n");
    for i in 0..=n {
        if i == meta_at {
            s.push_str(META_YAML);
        }
        if i == n {
            break;
        }
        s.push_str(&format!(
            "service_{i}:\n    name: ENC[AES256_GCM,data:x{i},type:str]\n    #ENC[comment {i}]\n    list:\n        - 1\n        - two\n    nested:\n        deep: true\n"
        ));
    }
    s
}

/// The JSON counterpart of [`yaml_doc`], tab-indented like sops writes it.
fn json_doc(n: usize, meta_at: usize) -> String {
    let mut members = Vec::new();
    for i in 0..=n {
        if i == meta_at {
            members.push("\t\"sops\": {\n\t\t\"lastmodified\": \"2024-01-02T03:04:05Z\",\n\t\t\"mac\": \"ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\",\n\t\t\"version\": \"3.11.0\"\n\t}".to_owned());
        }
        if i == n {
            break;
        }
        members.push(format!(
            "\t\"service_{i}\": {{\n\t\t\"name\": \"ENC[x{i}]\",\n\t\t\"list\": [\n\t\t\t1,\n\t\t\t\"two\"\n\t\t],\n\t\t\"n\": null\n\t}}"
        ));
    }
    format!("{{\n{}\n}}\n", members.join(",\n"))
}

#[test]
fn metadata_first_in_the_middle_or_last_is_split_off() {
    for meta_at in [0, 1, 7, 19, 20] {
        let y = yaml_doc(20, meta_at);
        let j = json_doc(20, meta_at);
        for target in [1, 200, 1000, 1 << 20] {
            // YAML metadata first follows the head comment: not a cut.
            let yaml_pieces = check_encrypted(Format::Yaml, y.as_bytes(), target);
            assert_eq!(yaml_pieces.is_some(), meta_at > 0, "{meta_at} {target}");
            let json_pieces = check_encrypted(Format::Json, j.as_bytes(), target);
            assert!(json_pieces.is_some(), "{meta_at} {target}");
            if target == 1 {
                assert!(json_pieces.unwrap() >= 20);
                if meta_at > 0 {
                    assert!(yaml_pieces.unwrap() >= 20);
                }
            }
        }
    }
    // Without a head comment, a YAML file may start with its metadata.
    let y = yaml_doc(5, 0);
    let y = y.trim_start_matches("# head comment\n");
    assert_eq!(check_encrypted(Format::Yaml, y.as_bytes(), 1), Some(5));
}

#[test]
fn cuts_fall_only_between_root_items() {
    let y = yaml_doc(30, 30);
    let (pieces, _) = encrypted(Format::Yaml, y.as_bytes(), 1).unwrap();
    assert_eq!(pieces.len(), 30);
    for i in 1..pieces.len() {
        let r = pieces.range(i).unwrap();
        assert!(y[r.start..].starts_with("service_"), "piece {i}");
        assert_eq!(&y[r.start - 1..r.start], "\n");
    }
    let j = json_doc(30, 30);
    let (pieces, _) = encrypted(Format::Json, j.as_bytes(), 1).unwrap();
    assert_eq!(pieces.len(), 30);
    for i in 0..pieces.len() {
        let text = &j[pieces.range(i).unwrap()];
        assert!(text.starts_with("\"service_"), "{text}");
        assert!(text.ends_with('}'), "{text}");
    }
    // Larger targets group several items per piece.
    let (pieces, _) = encrypted(Format::Yaml, y.as_bytes(), 1000).unwrap();
    assert!(pieces.len() > 1 && pieces.len() < 30);
}

#[test]
fn what_cannot_be_read_in_pieces_is_refused() {
    let last = yaml_doc(10, 10);
    // Several documents: a piece refuses, whatever the target.
    for extra in ["---\nb: 1\n", "...\n"] {
        let several = format!("{}{extra}", yaml_doc(10, 10));
        let refused = match encrypted(Format::Yaml, several.as_bytes(), 1) {
            None => true,
            Some((p, _)) => joined(&p).is_err(),
        };
        assert!(refused, "{extra:?}");
    }
    let several = last.replace("service_5:", "---\nservice_5:");
    let (p, _) = encrypted(Format::Yaml, several.as_bytes(), 1).unwrap();
    assert!(joined(&p).is_err());
    // Anchors and aliases, directives.
    for (from, to) in [
        ("deep: true", "deep: &a true"),
        ("- two", "- *x"),
        ("# head comment\n", "%YAML 1.2\n---\n"),
    ] {
        let changed = last.replacen(from, to, 1);
        assert_ne!(changed, last);
        if let Some((p, _)) = encrypted(Format::Yaml, changed.as_bytes(), 1) {
            assert!(joined(&p).is_err() || p.precheck().is_err(), "{to}");
            assert!(p.precheck().is_err(), "{to}");
        }
    }
    // A duplicate top-level key across pieces (the whole parse's error).
    let dup = last.replace("service_7:", "service_2:");
    let (p, _) = encrypted(Format::Yaml, dup.as_bytes(), 1).unwrap();
    assert!(joined(&p).is_err());
    assert!(whole(Format::Yaml, dup.as_bytes()).is_none());
    // A second `sops` entry in the data.
    let twice = format!("{META_YAML}{last}");
    match encrypted(Format::Yaml, twice.as_bytes(), 1) {
        None => {}
        Some((p, _)) => assert!(joined(&p).is_err()),
    }
    // No metadata, trailing comments after it, a comment before it.
    assert!(encrypted(Format::Yaml, yaml_doc(5, 99).as_bytes(), 1).is_none());
    let tail = format!("{last}# tail\n");
    assert!(encrypted(Format::Yaml, tail.as_bytes(), 1).is_none());
    let before = last.replace("sops:\n", "# before\nsops:\n");
    assert!(encrypted(Format::Yaml, before.as_bytes(), 1).is_none());
    for (format, text) in [
        (Format::Yaml, tail.as_str()),
        (Format::Yaml, before.as_str()),
        (Format::Yaml, twice.as_str()),
        (Format::Json, COMPACT),
    ] {
        check_streamed(format, text.as_bytes(), 1);
    }
    // Only metadata: nothing to read in pieces.
    assert!(encrypted(Format::Json, json_doc(0, 0).as_bytes(), 1).is_none());
    // JSON on one line, or not an object.
    assert!(encrypted(Format::Json, COMPACT.as_bytes(), 1).is_none());
    assert!(encrypted(Format::Json, b"[\n1\n]", 1).is_none());
    // Other stores.
    assert!(encrypted(Format::Dotenv, b"A=1\nsops_version=3\n", 1).is_none());
    assert!(plain(Format::Ini, b"[a]\nb=1\n", 1).is_none());
}

const COMPACT: &str = r#"{"a": {"b": 1}, "sops": {"version": "3.11.0"}}"#;

#[test]
fn a_json_cut_inside_a_nested_value_fails_to_parse() {
    // Indented like a member, after a line ending with a comma, but inside
    // an array: the pieces around it do not parse, so the file is read
    // whole.
    let odd = "{\n  \"a\": [\n  \"x\",\n  \"y\"\n  ],\n  \"b\": 1,\n  \"sops\": {\"version\": \"3.11.0\"}\n}\n";
    let (p, _) = encrypted(Format::Json, odd.as_bytes(), 1).unwrap();
    assert!(joined(&p).is_err());
    assert!(whole(Format::Json, odd.as_bytes()).is_some());
    // With a target that does not cut there, it reads fine.
    assert_eq!(
        check_encrypted(Format::Json, odd.as_bytes(), 1 << 20),
        Some(1)
    );
}

#[test]
fn plain_documents_read_in_pieces_give_the_whole_items() {
    let y = yaml_doc(25, 99);
    let p = plain(Format::Yaml, y.as_bytes(), 300).unwrap();
    assert!(p.len() > 2);
    p.precheck().unwrap();
    let items = joined(&p).unwrap();
    let docs = store::load_plain(Format::Yaml, y.as_bytes()).unwrap();
    assert_eq!(Map { items }, docs[0]);
    let j = json_doc(25, 99);
    let p = plain(Format::Json, j.as_bytes(), 300).unwrap();
    assert!(p.len() > 2);
    let items = joined(&p).unwrap();
    let doc = crate::json::parse(j.as_bytes()).unwrap();
    assert_eq!(Map { items }, doc);
    // A top-level `sops` key is refused (encrypting it again fails).
    let enc = yaml_doc(5, 3);
    let p = plain(Format::Yaml, enc.as_bytes(), 1).unwrap();
    assert!(joined(&p).is_err());
}

/// Every `encrypted.yaml` / `encrypted.json` of the corpus.
fn corpus_encrypted() -> Vec<(std::path::PathBuf, Format)> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(crate::corpus::CASES).unwrap().flatten() {
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            let format = Format::from_path(&name);
            if matches!(format, Format::Yaml | Format::Json) && name.contains("encrypted") {
                files.push((f.path(), format));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

#[test]
fn corpus_files_read_in_pieces_give_the_whole_items() {
    let mut read = 0;
    for (path, format) in corpus_encrypted() {
        let input = std::fs::read(&path).unwrap();
        for target in [1, 64, 1 << 20] {
            read += usize::from(check_encrypted(format, &input, target).is_some());
        }
        // Repeated under many top-level keys (YAML), each item ending in
        // an indented line, so that there are many cuts.
        if format == Format::Yaml {
            let text = String::from_utf8_lossy(&input);
            let Some(meta_at) = text.find("\nsops:") else {
                continue;
            };
            let (data, meta) = text.split_at(meta_at + 1);
            let mut big = String::new();
            for i in 0..40 {
                big.push_str(&format!("k{i}:\n"));
                for line in data.lines().filter(|l| !l.starts_with("---")) {
                    big.push_str("    ");
                    big.push_str(line);
                    big.push('\n');
                }
                big.push_str("    end: 1\n");
            }
            big.push_str(meta);
            if let Some(n) = check_encrypted(format, big.as_bytes(), 1) {
                assert!(n >= 40, "{}", path.display());
                read += 1;
            }
        }
    }
    assert!(read > 20, "only {read} corpus files were read in pieces");
}

/// A generated root value for the property test.
fn gen_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9 #:'\\[\\]{},-]{0,12}".prop_map(|v| format!(" {v}")),
        "[a-z]{1,6}".prop_map(|v| format!("\n    k: {v}\n    l:\n    - {v}")),
        "[a-z]{1,6}".prop_map(|v| format!(" |\n    {v}\n    more")),
        "[a-z]{1,6}".prop_map(|v| format!("\n    # c {v}\n    k: \"{v}\n      x\"")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn generated_yaml_reads_the_same_in_pieces(
        values in prop::collection::vec(gen_value(), 1..30),
        meta_at in 0usize..30,
        target in prop_oneof![Just(1usize), 10usize..400],
    ) {
        let mut s = String::new();
        for (i, v) in values.iter().enumerate() {
            if i == meta_at {
                s.push_str(META_YAML);
            }
            s.push_str(&format!("key{i}:{v}\n"));
        }
        if meta_at >= values.len() {
            s.push_str(META_YAML);
        }
        // Either refused or the same items (checked inside).
        check_encrypted(Format::Yaml, s.as_bytes(), target);
    }
}

/// A source that counts what is read.
struct Counting<'a> {
    input: &'a [u8],
    read: std::sync::atomic::AtomicUsize,
    largest: std::sync::atomic::AtomicUsize,
}

impl Source for Counting<'_> {
    fn len(&self) -> u64 {
        self.input.len() as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        use std::sync::atomic::Ordering;
        self.read.fetch_add(buf.len(), Ordering::Relaxed);
        self.largest.fetch_max(buf.len(), Ordering::Relaxed);
        self.input.read_exact_at(buf, offset)
    }
}

#[test]
fn a_source_is_read_in_blocks_and_never_held_whole() {
    use std::sync::atomic::Ordering;
    for (format, input) in [
        (Format::Yaml, yaml_doc(3000, 3000)),
        (Format::Json, json_doc(3000, 3000)),
        (Format::Yaml, yaml_doc(3000, 700)),
    ] {
        let source = Counting {
            input: input.as_bytes(),
            read: 0.into(),
            largest: 0.into(),
        };
        let block = 4096;
        let mut held = 0;
        let (pieces, _) = stream::encrypted_with(format, &source, 16 * 1024, block, &mut held)
            .unwrap()
            .unwrap();
        // The scans held about a block (and a line), the input is 40 times
        // larger; single reads were at most a block, or the metadata entry.
        assert!(input.len() > 40 * block, "{}", input.len());
        assert!(held <= block + 100, "{held}");
        let largest = source.largest.load(Ordering::Relaxed);
        // (A backward search reads a few bytes more, for a pattern across
        // two blocks.)
        assert!(
            largest <= (block + 8).max(META_YAML.len() + 100),
            "{format:?}: {largest}"
        );
        // About one pass over the input (each scan may read a block past
        // its end, and the edges of each piece are looked at again), and
        // what follows the metadata once more (searched backwards).
        let read = source.read.load(Ordering::Relaxed);
        let after_meta = input.len() - input.find("sops\"").or(input.find("\nsops:")).unwrap();
        assert!(
            read < input.len() + after_meta + 4 * block + 512 * pieces.len(),
            "{format:?}: {read} of {}",
            input.len()
        );
        // Each piece reads its own text only.
        source.largest.store(0, Ordering::Relaxed);
        let mut items = Vec::new();
        for i in 0..pieces.len() {
            items.append(&mut pieces.parse(i).unwrap());
        }
        assert!(pieces.len() > 10);
        assert!(source.largest.load(Ordering::Relaxed) <= 16 * 1024 + 300);
        assert_eq!(Some(items), whole(format, input.as_bytes()).map(|w| w.0));
    }
}

#[test]
fn a_source_that_cannot_be_read_is_an_error() {
    let input = yaml_doc(50, 50);
    let short = Truncated(input.as_bytes());
    assert!(encrypted_from(Format::Yaml, &short, 200, 64).is_err());
    // Pieces of a source that is cut short later refuse to parse.
    struct Truncated<'a>(&'a [u8]);
    impl Source for Truncated<'_> {
        fn len(&self) -> u64 {
            self.0.len() as u64 + 10
        }
        fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
            self.0.read_exact_at(buf, offset)
        }
    }
    let whole_input = input.as_bytes();
    let (pieces, _) = encrypted_from(Format::Yaml, &whole_input, 200, 64)
        .unwrap()
        .unwrap();
    let half = &input.as_bytes()[..input.len() / 2];
    let cut = Pieces {
        format: Format::Yaml,
        input: Input::Source(&half),
        ranges: pieces.ranges.clone(),
    };
    assert!(cut.parse(0).is_ok());
    assert!(cut.parse(cut.len() - 1).is_err());
}
