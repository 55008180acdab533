//! Several files to standard output (sops issue #945): `rsops decrypt A B`
//! without `-i` writes one YAML stream (or JSON/dotenv one after the
//! other), and `rsops exec-env A B COMMAND` reads several files.

use crate::common::{ok, Scratch, DEMO_RECIPIENT};

fn encrypted(s: &Scratch, name: &str, plain: &str) {
    s.write(name, plain.as_bytes());
    ok(
        &s.rsops(&["encrypt", "-i", "--age", DEMO_RECIPIENT, name]),
        "encrypt",
    );
}

fn stdout(out: &std::process::Output, what: &str) -> String {
    String::from_utf8(ok(out, what)).expect("utf-8")
}

#[test]
fn several_yaml_files_decrypt_to_one_stream() {
    let s = Scratch::new();
    encrypted(&s, "a.yaml", "a: 1\nb: x\n");
    encrypted(&s, "b.yaml", "c: 2\n---\nd: 3\n");
    encrypted(&s, "c.json", "{\"j\": \"v\"}");
    let out = s.rsops(&["decrypt", "a.yaml", "b.yaml", "--output-type", "yaml"]);
    assert_eq!(
        stdout(&out, "decrypt"),
        "a: 1\nb: x\n---\nc: 2\n---\nd: 3\n"
    );
    // A JSON file joins the YAML stream when the output type says so.
    let out = s.rsops(&["decrypt", "--output-type", "yaml", "a.yaml", "c.json"]);
    assert_eq!(stdout(&out, "decrypt"), "a: 1\nb: x\n---\nj: v\n");
}

#[test]
fn several_json_or_dotenv_files_follow_each_other() {
    let s = Scratch::new();
    encrypted(&s, "a.json", "{\"a\": 1}");
    encrypted(&s, "b.json", "{\"b\": [true]}");
    let out = s.rsops(&["decrypt", "a.json", "b.json"]);
    assert_eq!(
        stdout(&out, "decrypt json"),
        "{\n\t\"a\": 1\n}\n{\n\t\"b\": [\n\t\ttrue\n\t]\n}\n"
    );
    encrypted(&s, "a.env", "X=1\nY=2\n");
    encrypted(&s, "b.env", "Y=3\n");
    let out = s.rsops(&["decrypt", "a.env", "b.env"]);
    assert_eq!(stdout(&out, "decrypt env"), "X=1\nY=2\nY=3\n");
}

#[test]
fn several_files_to_stdout_need_one_streamable_type() {
    let s = Scratch::new();
    encrypted(&s, "a.yaml", "a: 1\n");
    encrypted(&s, "b.json", "{\"b\": 1}");
    encrypted(&s, "c.ini", "[s]\nk = v\n");
    for args in [
        vec!["decrypt", "a.yaml", "b.json"],
        vec!["decrypt", "c.ini", "c.ini"],
        vec!["decrypt", "--output-type", "binary", "a.yaml", "a.yaml"],
    ] {
        let out = s.rsops(&args);
        assert_eq!(out.status.code(), Some(8), "{args:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--output-type"), "{err}");
    }
}

#[test]
fn a_failing_file_leaves_stdout_empty_and_is_named() {
    let s = Scratch::new();
    encrypted(&s, "a.yaml", "secret: value-a\n");
    s.write("plain.yaml", b"b: 1\n");
    let out = s.rsops(&["decrypt", "a.yaml", "plain.yaml", "a.yaml"]);
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("plain.yaml: "), "{err}");
    assert!(!err.contains("value-a"), "{err}");
}

#[test]
fn exec_env_reads_several_files_later_ones_winning() {
    let s = Scratch::new();
    encrypted(&s, "base.env", "X=1\nY=2\n");
    encrypted(&s, "prod.yaml", "Y: three\nZ: 4\n");
    let out = s.rsops(&["exec-env", "base.env", "prod.yaml", "echo \"$X $Y $Z\""]);
    assert_eq!(stdout(&out, "exec-env"), "1 three 4\n");
    // One file, as before.
    let out = s.rsops(&["exec-env", "base.env", "echo \"$X $Y\""]);
    assert_eq!(stdout(&out, "exec-env one"), "1 2\n");
}
