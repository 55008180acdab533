//! sops's legacy command forms: `-e`, `-d`, `-i`, `--set`, `-r`,
//! `--add-*`/`--rm-*`, `--extract`, and `FILE` alone (edit).

use crate::common::{ok, sops, Scratch, DEMO_RECIPIENT};

const PLAIN: &str = "a: 1\nb: text\n";

#[test]
fn encrypt_in_place_then_decrypt_with_short_flags() {
    let s = Scratch::new();
    s.write("f.yaml", PLAIN.as_bytes());
    let out = s.rsops(&["-e", "-i", "--age", DEMO_RECIPIENT, "f.yaml"]);
    assert!(ok(&out, "-e -i").is_empty(), "-i prints nothing");
    let enc = std::fs::read_to_string(s.path("f.yaml")).unwrap();
    assert!(enc.contains("ENC[AES256_GCM"), "{enc}");
    assert_eq!(ok(&s.rsops(&["-d", "f.yaml"]), "-d"), PLAIN.as_bytes());
    assert_eq!(
        ok(
            &s.rsops(&["-d", "--extract", r#"["b"]"#, "f.yaml"]),
            "--extract"
        ),
        b"text"
    );
}

#[test]
fn legacy_set_and_rotate_are_read_by_sops() {
    let Some(sops_bin) = sops() else { return };
    let s = Scratch::new();
    s.write("f.yaml", PLAIN.as_bytes());
    ok(
        &s.rsops(&["-e", "-i", "--age", DEMO_RECIPIENT, "f.yaml"]),
        "-e -i",
    );
    ok(
        &s.rsops(&["--set", r#"["b"] "changed""#, "f.yaml"]),
        "--set",
    );
    let before = std::fs::read_to_string(s.path("f.yaml")).unwrap();
    ok(&s.rsops(&["-r", "-i", "f.yaml"]), "-r -i");
    let after = std::fs::read_to_string(s.path("f.yaml")).unwrap();
    assert_ne!(before, after, "rotation re-encrypts");
    let plain = ok(&s.sops(&sops_bin, &["decrypt", "f.yaml"]), "sops decrypt");
    assert_eq!(String::from_utf8_lossy(&plain), "a: 1\nb: changed\n");
}

#[test]
fn bad_legacy_set_is_exit_7_and_missing_file_with_add_is_exit_49() {
    let s = Scratch::new();
    s.write("f.yaml", PLAIN.as_bytes());
    ok(
        &s.rsops(&["-e", "-i", "--age", DEMO_RECIPIENT, "f.yaml"]),
        "-e -i",
    );
    let out = s.rsops(&["--set", r#"["b"]7"#, "f.yaml"]);
    assert_eq!(out.status.code(), Some(7));
    let out = s.rsops(&["--add-age", DEMO_RECIPIENT, "missing.yaml"]);
    assert_eq!(out.status.code(), Some(49));
    let out = s.rsops(&["-d", "missing.yaml"]);
    assert_eq!(out.status.code(), Some(100));
}

#[test]
fn file_alone_is_edit() {
    let s = Scratch::new();
    s.write("f.yaml", PLAIN.as_bytes());
    ok(
        &s.rsops(&["-e", "-i", "--age", DEMO_RECIPIENT, "f.yaml"]),
        "-e -i",
    );
    let editor = s.write("ed.sh", b"#!/bin/sh\nsed -i 's/text/edited/' \"$1\"\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = s.run_with_env(
        std::path::Path::new(env!("CARGO_BIN_EXE_rsops")),
        &["f.yaml"],
        Some(&crate::common::demo_key_file()),
        &[("SOPS_EDITOR", Some(editor.as_os_str()))],
        None,
    );
    ok(&out, "rsops FILE");
    assert_eq!(ok(&s.rsops(&["-d", "f.yaml"]), "-d"), b"a: 1\nb: edited\n");
}

#[test]
fn a_mistyped_subcommand_is_not_taken_for_a_file() {
    let s = Scratch::new();
    s.write("secret.yaml", PLAIN.as_bytes());
    let out = s.rsops(&["decrpyt", "secret.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unrecognized subcommand 'decrpyt'") && err.contains("'decrypt'"),
        "{err}"
    );
    assert!(!err.contains("'set'"), "{err}");

    // An existing file of that name is legacy mode's FILE (edit), as in sops.
    s.write("decrpyt", PLAIN.as_bytes());
    let out = s.rsops(&["decrpyt"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("unrecognized subcommand"), "{err}");
    // The file is opened (with the binary store: it has no extension).
    assert!(err.contains("Error unmarshalling input file"), "{err}");
}

/// The Kubernetes guide's `kubectl … -ojson | sops -e /dev/stdin -i - -o
/// new-sec.enc.json`: flags after the file are positional arguments that
/// sops ignores with two warnings, then it encrypts standard input with the
/// binary store to standard output. rsops does the same: same exit code,
/// same warnings, no file written, and sops reads what rsops printed.
#[test]
fn flags_after_the_file_are_ignored_with_sops_warnings() {
    let s = Scratch::new();
    let secret = br#"{"apiVersion":"v1","kind":"Secret","data":{"k":"dmFsdWU="}}"#;
    let args = [
        "-e",
        "--age",
        DEMO_RECIPIENT,
        "/dev/stdin",
        "-i",
        "-",
        "-o",
        "new-sec.enc.json",
    ];
    let warnings = [
        "More than one positional argument provided. Only the first one will be used!",
        "Note that one of the ignored positional argument is \"-o\", which looks like a flag. Flags must always be provided before the first positional argument!",
    ];
    let ours = s.run(
        std::path::Path::new(env!("CARGO_BIN_EXE_rsops")),
        &args,
        None,
        Some(secret),
    );
    let enc = ok(&ours, "rsops -e /dev/stdin -i - -o x");
    let err = String::from_utf8_lossy(&ours.stderr).into_owned();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        warnings.map(|w| format!("rsops: warning: {w}")),
        "{err}"
    );
    assert!(!s.path("new-sec.enc.json").exists());
    let text = String::from_utf8_lossy(&enc).into_owned();
    assert!(
        text.starts_with("{\n\t\"data\": \"ENC[AES256_GCM,"),
        "{text}"
    );
    s.write("out.json", &enc);
    let plain = ok(
        &s.rsops(&[
            "decrypt",
            "--input-type",
            "json",
            "--output-type",
            "binary",
            "out.json",
        ]),
        "rsops decrypt",
    );
    assert_eq!(plain, secret);

    let Some(sops_bin) = sops() else { return };
    let theirs = s.run(&sops_bin, &args, None, Some(secret));
    assert_eq!(theirs.status.code(), ours.status.code());
    let err = String::from_utf8_lossy(&theirs.stderr);
    for w in warnings {
        let quoted = w.replace('"', "\\\"");
        assert!(err.contains(&quoted), "sops no longer warns {w:?}: {err}");
    }
    assert!(!s.path("new-sec.enc.json").exists());
    let plain = ok(
        &s.sops(
            &sops_bin,
            &[
                "decrypt",
                "--input-type",
                "json",
                "--output-type",
                "binary",
                "out.json",
            ],
        ),
        "sops decrypt of rsops's output",
    );
    assert_eq!(plain, secret);
}
