//! The secret-leak check: every error path reachable from the command line
//! (each exit code of sops's table that rsops can produce here), driven
//! with files whose values carry a marker, must not show the marker — nor
//! the private key — on stderr or on stdout, nor leave it in any file but
//! the inputs (in the working directory or in TMPDIR).

use std::fs;
use std::path::Path;

use crate::common::{demo_key_file, ok, Scratch, DEMO_RECIPIENT};

const MARKER: &str = "LEAKMARKER";

/// The private key's secret part, as in the key file.
fn secret_key() -> String {
    fs::read_to_string(demo_key_file())
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_owned()
}

/// Files and their contents before any command runs.
fn inputs(s: &Scratch) -> Vec<(String, Vec<u8>)> {
    let plain = format!("password: {MARKER}-1\nnested:\n  token: {MARKER}-2\nlist: [{MARKER}-3]\n");
    s.write("plain.yaml", plain.as_bytes());
    let enc = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"]),
        "encrypt",
    );
    s.write("enc.yaml", &enc);
    let text = String::from_utf8(enc).unwrap();
    // A clear value changed: MAC mismatch.
    s.write(
        "tampered.yaml",
        text.replace(
            "sops:\n",
            &format!("added_unencrypted: {MARKER}-4\nsops:\n"),
        )
        .as_bytes(),
    );
    // An encrypted value that is not one: exit 25.
    let broken = text.replacen("ENC[AES256_GCM,data:", "ENC[AES256_GCM,data:!!", 1);
    s.write("broken.yaml", broken.as_bytes());
    s.write(
        "bad.yaml",
        format!("password: {MARKER}-5\nbad: [unclosed {MARKER}-6\n").as_bytes(),
    );
    s.write("empty.yaml", b"");
    s.write(
        "wrong-key.txt",
        b"AGE-SECRET-KEY-1FPTJHU2U27PT0V3WE4LD4KWWQDPT698X90THX3K768VNK4K9T56S0K0NCQ\n",
    );
    s.write("fail-editor.sh", b"#!/bin/sh\necho x >> \"$1\"\nexit 3\n");
    s.write("same-editor.sh", b"#!/bin/sh\nexit 0\n");
    s.write("bad-editor.sh", b"#!/bin/sh\necho 'broken: [' >> \"$1\"\n");
    for e in ["fail-editor.sh", "same-editor.sh", "bad-editor.sh"] {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(s.path(e), fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::create_dir(s.path("tmp")).unwrap();
    let mut all = Vec::new();
    for e in fs::read_dir(s.dir.path()).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            all.push((
                e.file_name().into_string().unwrap(),
                fs::read(e.path()).unwrap(),
            ));
        }
    }
    all
}

#[test]
fn no_failure_shows_or_leaves_a_secret() {
    let s = Scratch::new();
    let before = inputs(&s);
    let secret = secret_key();
    let set_value = format!("{{\"a\": \"{MARKER}-7\"");
    // (arguments, editor, expected exit code)
    let cases: Vec<(Vec<&str>, Option<&str>, i32)> = vec![
        (
            vec!["encrypt", "--age", DEMO_RECIPIENT, "bad.yaml"],
            None,
            2,
        ),
        (
            vec!["decrypt", "--output", "no/dir/out.yaml", "enc.yaml"],
            None,
            3,
        ),
        (
            vec!["decrypt", "-i", "--output", "x.yaml", "enc.yaml"],
            None,
            8,
        ),
        (
            vec!["set", "enc.yaml", r#"["password"]"#, &set_value],
            None,
            7,
        ),
        (vec!["decrypt", "broken.yaml"], None, 25),
        (vec!["decrypt", "tampered.yaml"], None, 51),
        (
            vec!["decrypt", "--extract", "[password", "enc.yaml"],
            None,
            91,
        ),
        (
            vec!["encrypt", "--age", DEMO_RECIPIENT, "empty.yaml"],
            None,
            92,
        ),
        (vec!["decrypt", "missing.yaml"], None, 100),
        (vec!["edit", "enc.yaml"], Some("same-editor.sh"), 200),
        (vec!["edit", "enc.yaml"], Some("fail-editor.sh"), 201),
        (vec!["edit", "enc.yaml"], Some("bad-editor.sh"), 1),
        (
            vec!["encrypt", "--age", DEMO_RECIPIENT, "enc.yaml"],
            None,
            203,
        ),
        (vec!["exec-env", "enc.yaml", "echo never"], None, 1),
        (
            vec!["exec-file", "enc.yaml", "cat {} >/dev/null; exit 9"],
            None,
            9,
        ),
        (
            vec!["decrypt", "--decryption-order", "age,age", "enc.yaml"],
            None,
            112,
        ),
    ];
    let mut codes = Vec::new();
    let tmp = s.path("tmp");
    for (args, editor, code) in &cases {
        let editor_path = editor.map(|e| s.path(e));
        let mut env: Vec<(&str, &std::ffi::OsStr)> = vec![("TMPDIR", tmp.as_os_str())];
        if let Some(p) = &editor_path {
            env.push(("SOPS_EDITOR", p.as_os_str()));
        }
        let out = s.run_env(
            Path::new(env!("CARGO_BIN_EXE_rsops")),
            args,
            Some(&demo_key_file()),
            &env,
            None,
        );
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {out:?}");
        codes.push(*code);
        for (what, text) in [("stderr", &out.stderr), ("stdout", &out.stdout)] {
            let text = String::from_utf8_lossy(text);
            assert!(
                !text.contains(MARKER),
                "{args:?}: {what} shows a value: {text}"
            );
            assert!(!text.contains(&secret), "{args:?}: {what} shows the key");
            assert!(!text.contains("AGE-SECRET-KEY"), "{args:?}: {what}");
        }
    }
    // The key failures, with a wrong key and with none.
    for key in [Some(s.path("wrong-key.txt")), None] {
        let out = s.run(
            Path::new(env!("CARGO_BIN_EXE_rsops")),
            &["decrypt", "enc.yaml"],
            key.as_deref(),
            None,
        );
        assert_eq!(out.status.code(), Some(128));
        codes.push(128);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains(MARKER) && !err.contains("AGE-SECRET-KEY"),
            "{err}"
        );
    }
    // Nothing new on disk holds a value; the inputs are unchanged.
    let mut stack = vec![s.dir.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let content = fs::read(&path).unwrap();
            match before
                .iter()
                .find(|(n, _)| *n == name && dir == s.dir.path())
            {
                Some((_, old)) => assert_eq!(&content, old, "{name} changed"),
                None => assert!(
                    !String::from_utf8_lossy(&content).contains(MARKER),
                    "plaintext left in {}",
                    path.display()
                ),
            }
        }
    }
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
    codes.sort_unstable();
    codes.dedup();
    eprintln!("leak check: exit codes driven: {codes:?}");
}
