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
