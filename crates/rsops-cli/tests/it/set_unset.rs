//! `set`, `unset`, `decrypt --extract` and `--output-type` conversions,
//! compared with the reference sops 3.11 on the same encrypted files.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use crate::common::{ok, sops, Scratch, DEMO_RECIPIENT};

const PLAIN_YAML: &str = "# top comment
name: alice
port: 5432
ratio: 0.5
enabled: true
db:
    host: db.local
    password: s3cret
    replicas:
        - r1
        - r2
list:
    - a
    - b
";

const PLAIN_JSON: &str = r#"{
	"name": "alice",
	"port": 5432,
	"ratio": 0.5,
	"enabled": true,
	"db": {
		"host": "db.local",
		"password": "s3cret",
		"replicas": [
			"r1",
			"r2"
		]
	},
	"list": [
		"a",
		"b"
	]
}
"#;

/// Writes `plain` as `plain.EXT` and encrypts it with sops to `NAME`.
fn sops_encrypted(s: &Scratch, sops: &Path, name: &str, plain: &str) -> Vec<u8> {
    let ext = name.rsplit('.').next().unwrap_or("yaml");
    let plain_name = format!("plain.{ext}");
    s.write(&plain_name, plain.as_bytes());
    let out = s.sops(sops, &["encrypt", "--age", DEMO_RECIPIENT, &plain_name]);
    let enc = ok(&out, "sops encrypt");
    s.write(name, &enc);
    enc
}

/// Every `ENC[...]` string of a file's text.
fn enc_strings(text: &[u8]) -> BTreeSet<String> {
    let text = String::from_utf8_lossy(text);
    let mut out = BTreeSet::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find("ENC[") {
        let tail = &rest[start..];
        let Some(end) = tail.find(']') else { break };
        out.insert(tail[..=end].to_owned());
        rest = &tail[end + 1..];
    }
    out
}

/// The metadata lines other than `lastmodified` and `mac` (data key, master
/// keys, version).
fn stable_metadata(text: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(text);
    let mut lines: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("sops:") && !l.contains("\"sops\": {"))
        .filter(|l| !l.contains("lastmodified") && !l.contains("\"mac\"") && !l.contains("mac:"))
        // The reference writes struct order, rsops sops 3.13's sorted order.
        .map(crate::common::metadata_line)
        .collect();
    lines.sort();
    lines
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs the same `set`/`unset` with sops on a copy and rsops on another
/// copy of `original`, then checks: same exit code, same plaintext (decrypted
/// by sops), sops can read the rsops file, exactly `vanished` ENC strings of
/// the original are gone from the rsops file (the changed values and the
/// MAC), and the data key, master keys and version are unchanged.
fn same_edit(s: &Scratch, sops: &Path, ext: &str, original: &[u8], args: &[&str], vanished: usize) {
    let a = format!("by-sops.{ext}");
    let b = format!("by-rsops.{ext}");
    s.write(&a, original);
    s.write(&b, original);
    let by_sops = s.sops(sops, &with_file(args, &a));
    let by_rsops = s.rsops(&with_file(args, &b));
    assert_eq!(
        code(&by_rsops),
        code(&by_sops),
        "{args:?}: {}",
        stderr(&by_rsops)
    );
    ok(&by_sops, "sops edit");
    let sops_plain = ok(&s.sops(sops, &["decrypt", &a]), "sops decrypt of sops file");
    let rsops_plain = ok(
        &s.sops(sops, &["decrypt", &b]),
        "sops decrypt of rsops file",
    );
    assert_eq!(
        String::from_utf8_lossy(&rsops_plain),
        String::from_utf8_lossy(&sops_plain),
        "{args:?}"
    );
    let ours = ok(&s.rsops(&["decrypt", &b]), "rsops decrypt");
    assert_eq!(ours, sops_plain, "{args:?}");
    let written = std::fs::read(s.path(&b)).unwrap();
    let after = enc_strings(&written);
    let gone = enc_strings(original).difference(&after).count();
    assert_eq!(gone, vanished, "{args:?}: ENC strings replaced");
    assert_eq!(
        stable_metadata(&written),
        stable_metadata(original),
        "{args:?}"
    );
}

/// `args` with `file` inserted after the command word.
fn with_file<'a>(args: &[&'a str], file: &'a str) -> Vec<&'a str> {
    let mut v = vec![args[0], file];
    v.extend_from_slice(&args[1..]);
    v
}

const SET_CASES: &[(&str, &str, usize)] = &[
    (r#"["db"]["password"]"#, r#""n3w""#, 2),
    (r#"["port"]"#, "5433", 2),
    (r#"["ratio"]"#, "-7", 2),
    (
        r#"["new"]"#,
        r#"{"z": 1, "a": [true, null, {"q": "w"}]}"#,
        1,
    ),
    (r#"["db"]["replicas"][5]"#, r#""r3""#, 1),
    (r#"["list"][0]"#, r#""A""#, 2),
    (r#"["deep"]["x"][0]["y"]"#, "null", 1),
    (r#"["name"]["first"]"#, r#""al""#, 2),
    (r#"["enabled"]"#, "false", 2),
    (r#"["db"]"#, r#""flat""#, 5),
    ("[0]", "1", 1),
];

#[test]
fn set_matches_sops_on_yaml_and_json() {
    let Some(sops) = sops() else { return };
    for (ext, plain) in [("yaml", PLAIN_YAML), ("json", PLAIN_JSON)] {
        let s = Scratch::new();
        let original = sops_encrypted(&s, &sops, &format!("orig.{ext}"), plain);
        for (path, value, vanished) in SET_CASES {
            same_edit(&s, &sops, ext, &original, &["set", path, value], *vanished);
        }
    }
}

#[test]
fn unset_matches_sops_on_yaml_and_json() {
    let Some(sops) = sops() else { return };
    let cases: &[(&str, usize)] = &[
        (r#"["db"]["password"]"#, 2),
        (r#"["list"][0]"#, 2),
        (r#"["db"]["replicas"][1]"#, 2),
        (r#"["db"]"#, 5),
        (r#"["name"]"#, 2),
    ];
    for (ext, plain) in [("yaml", PLAIN_YAML), ("json", PLAIN_JSON)] {
        let s = Scratch::new();
        let original = sops_encrypted(&s, &sops, &format!("orig.{ext}"), plain);
        for (path, vanished) in cases {
            same_edit(&s, &sops, ext, &original, &["unset", path], *vanished);
        }
    }
}

#[test]
fn set_addresses_the_first_yaml_document() {
    let Some(sops) = sops() else { return };
    let s = Scratch::new();
    let original = sops_encrypted(&s, &sops, "multi.yaml", "a: 1\n---\nb: 2\n");
    same_edit(&s, &sops, "yaml", &original, &["set", r#"["b"]"#, "3"], 1);
    same_edit(&s, &sops, "yaml", &original, &["unset", r#"["a"]"#], 2);
}

/// Runs `args` (with FILE inserted after the command word) with sops and
/// rsops on copies of `original`; both must fail with `code`, print
/// `message`, and leave their file byte-identical.
fn same_failure(
    s: &Scratch,
    sops: &Path,
    original: &[u8],
    args: &[&str],
    code: i32,
    message: &str,
) {
    for (who, name) in [("sops", "fail-sops.yaml"), ("rsops", "fail-rsops.yaml")] {
        s.write(name, original);
        // The file goes after the flags (sops stops reading flags there).
        let flags = args
            .iter()
            .skip(1)
            .take_while(|a| a.starts_with("--"))
            .count();
        let mut v = args[..=flags].to_vec();
        v.push(name);
        v.extend_from_slice(&args[flags + 1..]);
        let out = if who == "sops" {
            s.sops(sops, &v)
        } else {
            s.rsops(&v)
        };
        assert_eq!(
            out.status.code(),
            Some(code),
            "{who} {args:?}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(message),
            "{who} {args:?}: {}",
            stderr(&out)
        );
        assert_eq!(
            std::fs::read(s.path(name)).unwrap(),
            original,
            "{who} {args:?}"
        );
    }
}

#[test]
fn set_and_unset_errors_match_sops() {
    let Some(sops) = sops() else { return };
    let s = Scratch::new();
    let original = sops_encrypted(&s, &sops, "orig.yaml", PLAIN_YAML);
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["set", r#"["a"]"#, "[1, 2]"],
            7,
            "Invalid --set value format",
        ),
        (
            &["set", r#"["a"]"#, "nope"],
            7,
            "Value for --set is not valid JSON",
        ),
        (
            &["set", r#"["a"]"#, r#"{"a": 1} x"#],
            7,
            "Value for --set is not valid JSON",
        ),
        (
            &["set", r#"["a"]"#, "1e400"],
            7,
            "Value for --set is not valid JSON",
        ),
        (&["set", "[x]", "1"], 7, "Invalid set index format"),
        (&["set", r#"["a""#, "1"], 7, "Invalid set index format"),
        (&["set", r#"["a"]"#], 100, "positional arguments"),
        (
            &["set", "--value-file", "--value-stdin", r#"["a"]"#, "1"],
            1,
            "--value-file and --value-stdin",
        ),
        (&["unset", "[x]"], 7, "Invalid unset index format"),
        (&["unset", r#"["nope"]"#], 1, "Key not found: nope"),
        (&["unset", r#"["list"][9]"#], 1, "Index 9 out of bounds"),
        (&["unset", r#"["name"]["x"]"#], 1, "Unsupported type"),
        (
            &["unset", "--idempotent", r#"["name"]["x"]"#],
            1,
            "Unsupported type",
        ),
    ];
    for (args, code, message) in cases {
        same_failure(&s, &sops, &original, args, *code, message);
    }
}

#[test]
fn idempotent_runs_leave_the_file_untouched() {
    let Some(sops) = sops() else { return };
    let s = Scratch::new();
    let original = sops_encrypted(&s, &sops, "orig.yaml", PLAIN_YAML);
    // Flags go before the file: sops stops reading flags at the first
    // positional argument.
    let cases: &[&[&str]] = &[
        &["set", r#"["db"]["password"]"#, r#""s3cret""#],
        &["set", r#"["ratio"]"#, "0.5"],
        &["unset", r#"["nope"]"#],
        &["unset", r#"["list"][9]"#],
        &["unset", r#"["db"]["nope"]"#],
    ];
    for args in cases {
        for who in ["sops", "rsops"] {
            let name = format!("idem-{who}.yaml");
            let file = s.write(&name, &original);
            let before = std::fs::metadata(&file).unwrap().modified().unwrap();
            let mut v = vec![args[0], "--idempotent", name.as_str()];
            v.extend_from_slice(&args[1..]);
            let out = if who == "sops" {
                s.sops(&sops, &v)
            } else {
                s.rsops(&v)
            };
            ok(&out, &format!("{who} {args:?}"));
            assert_eq!(std::fs::read(&file).unwrap(), original, "{who} {args:?}");
            let after = std::fs::metadata(&file).unwrap().modified().unwrap();
            assert_eq!(before, after, "{who} {args:?}: file rewritten");
        }
    }
}

/// Without `--idempotent` an unchanged value still rewrites the file (new
/// `lastmodified` and MAC when the second has changed), as sops does, in the
/// subcommand and the legacy `--set` form; the plaintext stays the same.
#[test]
fn unchanged_set_without_idempotent_rewrites_the_file() {
    // sops encrypts the fixture.
    let Some(sops) = sops() else { return };
    let s = Scratch::new();
    let original = sops_encrypted(&s, &sops, "orig.yaml", PLAIN_YAML);

    let forms: &[&[&str]] = &[
        &["set", "f.yaml", r#"["name"]"#, r#""alice""#],
        &["set", "f.yaml", r#"["db"]["password"]"#, r#""s3cret""#],
        &["--set", r#"["name"] "alice""#, "f.yaml"],
    ];
    for args in forms {
        let file = s.write("f.yaml", &original);
        let before = std::fs::metadata(&file).unwrap().modified().unwrap();
        let out = s.rsops(args);
        assert_eq!(code(&out), Some(0), "{args:?}: {}", stderr(&out));
        let after = std::fs::metadata(&file).unwrap().modified().unwrap();
        assert_ne!(before, after, "{args:?}: file not rewritten");
        assert_eq!(
            ok(&s.sops(&sops, &["decrypt", "f.yaml"]), "sops decrypt"),
            PLAIN_YAML.as_bytes(),
            "{args:?}"
        );
    }

    // A changed value is still written.
    let file = s.write("f.yaml", &original);
    ok(
        &s.rsops(&["set", "f.yaml", r#"["name"]"#, r#""bob""#]),
        "set bob",
    );
    assert_ne!(std::fs::read(&file).unwrap(), original);
}

#[test]
fn value_file_and_value_stdin_match_the_argument_form() {
    let Some(sops) = sops() else { return };
    let s = Scratch::new();
    let original = sops_encrypted(&s, &sops, "orig.yaml", PLAIN_YAML);
    let value = br#"{"user": "bob", "n": 2}"#;
    s.write("value.json", value);
    s.write("by-arg.yaml", &original);
    s.write("by-file.yaml", &original);
    s.write("by-stdin.yaml", &original);
    let path = r#"["db"]["auth"]"#;
    ok(
        &s.sops(
            &sops,
            &[
                "set",
                "by-arg.yaml",
                path,
                std::str::from_utf8(value).unwrap(),
            ],
        ),
        "sops set",
    );
    ok(
        &s.rsops(&["set", "--value-file", "by-file.yaml", path, "value.json"]),
        "rsops --value-file",
    );
    let rsops = Path::new(env!("CARGO_BIN_EXE_rsops"));
    let key = crate::common::demo_key_file();
    let out = s.run(
        rsops,
        &["set", "--value-stdin", "by-stdin.yaml", path],
        Some(&key),
        Some(value),
    );
    ok(&out, "rsops --value-stdin");
    let expected = ok(&s.sops(&sops, &["decrypt", "by-arg.yaml"]), "decrypt");
    for f in ["by-file.yaml", "by-stdin.yaml"] {
        assert_eq!(ok(&s.sops(&sops, &["decrypt", f]), f), expected, "{f}");
    }
}

#[test]
fn set_of_a_number_stores_a_float_like_sops() {
    let Some(sops) = sops() else { return };
    let s = Scratch::new();
    sops_encrypted(&s, &sops, "f.yaml", PLAIN_YAML);
    ok(&s.rsops(&["set", "f.yaml", r#"["port"]"#, "5"]), "set");
    let text = String::from_utf8(std::fs::read(s.path("f.yaml")).unwrap()).unwrap();
    let line = text.lines().find(|l| l.starts_with("port:")).unwrap();
    assert!(line.ends_with("type:float]"), "{line}");
    let out = ok(
        &s.sops(&sops, &["decrypt", "--extract", r#"["port"]"#, "f.yaml"]),
        "extract",
    );
    assert_eq!(out, b"5\n");
}

/// Extracts `path` with both tools and compares exit code and bytes.
fn same_extract(s: &Scratch, sops: &Path, file: &str, output_type: Option<&str>, path: &str) {
    let mut args = vec!["decrypt"];
    if let Some(t) = output_type {
        args.extend(["--output-type", t]);
    }
    args.extend(["--extract", path, file]);
    let theirs = s.sops(sops, &args);
    let ours = s.rsops(&args);
    let what = format!("{file} {output_type:?} {path}");
    assert_eq!(code(&ours), code(&theirs), "{what}: {}", stderr(&ours));
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout),
        "{what}"
    );
    // Path errors (exit 1, 91) say the same; dump errors (exit 4) are
    // worded differently (see the report on emit_value).
    if matches!(code(&theirs), Some(1 | 91)) {
        let first = stderr(&theirs)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        assert!(
            stderr(&ours).contains(first.trim()),
            "{what}: {} vs {first}",
            stderr(&ours)
        );
    }
}

#[test]
fn extract_matches_sops() {
    let Some(sops) = sops() else { return };
    let s = Scratch::new();
    sops_encrypted(&s, &sops, "f.yaml", PLAIN_YAML);
    sops_encrypted(&s, &sops, "f.json", PLAIN_JSON);
    let paths = [
        r#"["name"]"#,
        r#"["port"]"#,
        r#"["ratio"]"#,
        r#"["enabled"]"#,
        r#"["list"]"#,
        r#"["db"]"#,
        r#"["db"]["replicas"][1]"#,
        r#"["nope"]"#,
        r#"["list"][7]"#,
        r#"["name"][0]"#,
        "[x",
    ];
    for file in ["f.yaml", "f.json"] {
        for output_type in [
            None,
            Some("yaml"),
            Some("json"),
            Some("dotenv"),
            Some("binary"),
        ] {
            for path in paths {
                same_extract(&s, &sops, file, output_type, path);
            }
        }
        // INI writes scalars as JSON; lists differ (see the report on emit_value).
        for path in [r#"["name"]"#, r#"["port"]"#, r#"["enabled"]"#, r#"["db"]"#] {
            same_extract(&s, &sops, file, Some("ini"), path);
        }
    }
}

#[test]
fn extract_error_codes() {
    let Some(sops) = sops() else { return };
    let s = Scratch::new();
    sops_encrypted(&s, &sops, "f.yaml", PLAIN_YAML);
    let out = s.rsops(&["decrypt", "--extract", "[x", "f.yaml"]);
    assert_eq!(out.status.code(), Some(91));
    let out = s.rsops(&["decrypt", "--extract", r#"["nope"]"#, "f.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("error truncating tree: component ['nope'] not found"));
    let out = s.rsops(&[
        "decrypt",
        "--output-type",
        "binary",
        "--extract",
        r#"["port"]"#,
        "f.yaml",
    ]);
    assert_eq!(out.status.code(), Some(4));
    let out = s.rsops(&[
        "decrypt",
        "--output-type",
        "dotenv",
        "--extract",
        r#"["port"]"#,
        "f.yaml",
    ]);
    assert_eq!(out.status.code(), Some(4));
}

/// Decrypts with both tools and `--output-type`, comparing code and bytes.
fn same_conversion(s: &Scratch, sops: &Path, file: &str, output_type: &str) -> Option<i32> {
    let args = ["decrypt", "--output-type", output_type, file];
    let theirs = s.sops(sops, &args);
    let ours = s.rsops(&args);
    assert_eq!(
        code(&ours),
        code(&theirs),
        "{file} → {output_type}: {}",
        stderr(&ours)
    );
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout),
        "{file} → {output_type}"
    );
    code(&ours)
}

#[test]
fn output_type_conversions_match_sops() {
    let Some(sops) = sops() else { return };
    let s = Scratch::new();
    sops_encrypted(&s, &sops, "nested.yaml", PLAIN_YAML);
    sops_encrypted(&s, &sops, "nested.json", PLAIN_JSON);
    sops_encrypted(&s, &sops, "flat.yaml", "# c\nA: one\nB: 2\nC: true\n");
    sops_encrypted(
        &s,
        &sops,
        "sections.yaml",
        "s1:\n    a: x\n    b: 1\ns2:\n    c: y\n",
    );
    assert_eq!(same_conversion(&s, &sops, "nested.yaml", "json"), Some(0));
    assert_eq!(same_conversion(&s, &sops, "nested.json", "yaml"), Some(0));
    assert_eq!(same_conversion(&s, &sops, "flat.yaml", "json"), Some(0));
    assert_eq!(same_conversion(&s, &sops, "flat.yaml", "dotenv"), Some(0));
    assert_eq!(same_conversion(&s, &sops, "sections.yaml", "ini"), Some(0));
    assert_eq!(same_conversion(&s, &sops, "nested.yaml", "dotenv"), Some(4));
    assert_eq!(same_conversion(&s, &sops, "nested.json", "dotenv"), Some(4));
    assert_eq!(same_conversion(&s, &sops, "flat.yaml", "ini"), Some(4));
    assert_eq!(same_conversion(&s, &sops, "nested.yaml", "ini"), Some(4));
}

#[test]
fn set_on_a_missing_file_is_a_read_error() {
    let s = Scratch::new();
    let out = s.rsops(&["set", "missing.yaml", r#"["a"]"#, "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = s.rsops(&["unset", "missing.yaml", r#"["a"]"#]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!s.path("missing.yaml").exists());
}

#[test]
fn errors_never_print_values() {
    let Some(sops) = sops() else { return };
    let s = Scratch::new();
    sops_encrypted(&s, &sops, "f.yaml", PLAIN_YAML);
    for args in [
        &[
            "set",
            "f.yaml",
            r#"["db"]["password"]["x"]["y"]"#,
            r#""topsecret""#,
        ][..],
        &["set", "f.yaml", r#"["list"]["k"]"#, r#""topsecret""#],
        &["unset", "f.yaml", r#"["db"]["password"]["x"]"#],
    ] {
        let out = s.rsops(args);
        assert!(!stderr(&out).contains("s3cret"), "{args:?}");
        assert!(!stderr(&out).contains("topsecret"), "{args:?}");
    }
}
