//! dotenv values that round-trip exactly (`stores.dotenv.syntax: quoted`,
//! sops #1127 and #1951) while the encrypted files stay readable by sops, and
//! the default syntax that stays byte-for-byte sops's.

use crate::common::{ok, sops, Scratch, DEMO_RECIPIENT};

/// `.sops.yaml` choosing the quoted syntax, with the demo key.
fn quoted_config() -> String {
    format!("stores:\n  dotenv:\n    syntax: quoted\ncreation_rules:\n  - age: {DEMO_RECIPIENT}\n")
}

/// A dotenv file in the quoted syntax's canonical form: quotes only where a
/// value needs them, blank lines, comments, a value left unencrypted.
const SECRETS_ENV: &str = concat!(
    "# database\n",
    "DB_USER=app\n",
    "DB_PASSWORD=\"p@ss word\"\n",
    "\n",
    "\n",
    "# quoting\n",
    "GREETING=\"Some long string with spaces\"\n",
    "LITERAL='$HOME and C:\\new stay as they are'\n",
    "PEM=\"-----BEGIN KEY-----\\nabc\\n-----END KEY-----\"\n",
    "HASH=\"123#567\"\n",
    "MIXED=\"it's \\\"\\$x\\\"\"\n",
    "EMPTY=\n",
    "\n",
    "API_unencrypted=\"visible token\"\n",
);

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8")
}

#[test]
fn quoted_dotenv_round_trips_exactly_and_sops_reads_the_encrypted_file() {
    let s = Scratch::new();
    s.write(".sops.yaml", quoted_config().as_bytes());
    s.write("secrets.env", SECRETS_ENV.as_bytes());
    let encrypted = text(ok(&s.rsops(&["encrypt", "secrets.env"]), "encrypt"));
    s.write("secrets.enc.env", encrypted.as_bytes());

    // The encrypted file is in sops's syntax: blank lines kept, the clear
    // value unquoted (that is how sops reads it), no secret in clear.
    assert!(
        encrypted.contains("\nAPI_unencrypted=visible token\n"),
        "{encrypted}"
    );
    assert!(encrypted.contains("\n\n\n#ENC["), "{encrypted}");
    for secret in ["p@ss word", "Some long", "$HOME", "123#567", "database"] {
        assert!(!encrypted.contains(secret), "{secret} in clear");
    }

    // rsops gives the file back byte for byte.
    let decrypted = text(ok(&s.rsops(&["decrypt", "secrets.enc.env"]), "decrypt"));
    assert_eq!(decrypted, SECRETS_ENV);

    // The values are the unquoted ones: exec-env passes them as a shell
    // assignment would (sops #1127).
    ok(
        &s.rsops(&[
            "exec-env",
            "secrets.enc.env",
            "test \"$DB_PASSWORD\" = 'p@ss word' && test \"$LITERAL\" = '$HOME and C:\\new stay as they are' && test \"$MIXED\" = \"it's \\\"\\$x\\\"\"",
        ]),
        "exec-env sees unquoted values",
    );

    // A one-value change keeps every other ciphertext and the layout.
    ok(
        &s.rsops(&["set", "secrets.enc.env", "[\"DB_USER\"]", "\"root\""]),
        "set",
    );
    let after_set = text(std::fs::read(s.path("secrets.enc.env")).unwrap());
    let changed: Vec<_> = encrypted
        .lines()
        .zip(after_set.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.split('=').next().unwrap_or_default().to_owned())
        .filter(|k| k != "sops_lastmodified") // same second: may not change
        .collect();
    assert_eq!(changed, ["DB_USER", "sops_mac"]);
    assert_eq!(encrypted.lines().count(), after_set.lines().count());
    let decrypted = text(ok(&s.rsops(&["decrypt", "secrets.enc.env"]), "decrypt"));
    assert_eq!(
        decrypted,
        SECRETS_ENV.replace("DB_USER=app", "DB_USER=root")
    );

    // The real sops decrypts the file rsops wrote (MAC and all) and sees the
    // same values, printed in its own unquoted syntax.
    if let Some(sops) = sops() {
        let out = text(ok(
            &s.sops(&sops, &["decrypt", "secrets.enc.env"]),
            "sops decrypt",
        ));
        for line in [
            "DB_USER=root",
            "DB_PASSWORD=p@ss word",
            "GREETING=Some long string with spaces",
            "LITERAL=$HOME and C:\\new stay as they are",
            "PEM=-----BEGIN KEY-----\\nabc\\n-----END KEY-----",
            "MIXED=it's \"$x\"",
            "API_unencrypted=visible token",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} not in:\n{out}");
        }
    }
}

#[test]
fn yaml_to_quoted_dotenv_and_back_keeps_every_value() {
    let s = Scratch::new();
    s.write(".sops.yaml", quoted_config().as_bytes());
    s.write(
        "config.yaml",
        concat!(
            "FOO: Some long string with spaces\n",
            "HOME_REF: $HOME\n",
            "BACKSLASH_N: 'C:\\new'\n",
            "NEWLINES: \"a\\nb\\r\\n\"\n",
            "QUOTES: 'say \"hi\" it''s'\n",
            "LEADING: '  padded  '\n",
            "PORT: 5432\n",
        )
        .as_bytes(),
    );
    let enc = ok(&s.rsops(&["encrypt", "config.yaml"]), "encrypt yaml");
    s.write("config.enc.yaml", &enc);
    let env = text(ok(
        &s.rsops(&["decrypt", "--output-type", "dotenv", "config.enc.yaml"]),
        "decrypt to dotenv",
    ));
    // sops #1951: a value with spaces comes out quoted.
    assert!(
        env.lines()
            .any(|l| l == "FOO=\"Some long string with spaces\""),
        "{env}"
    );
    s.write("config.env", env.as_bytes());

    // A POSIX shell reads the same values from the file.
    let shell = std::process::Command::new("sh")
        .current_dir(s.dir.path())
        .args([
            "-c",
            "set -a; . ./config.env; printf '%s|%s|%s|%s' \"$FOO\" \"$HOME_REF\" \"$QUOTES\" \"$LEADING\"",
        ])
        .env("HOME", "/should/not/expand")
        .output()
        .expect("sh");
    assert_eq!(
        text(shell.stdout),
        "Some long string with spaces|$HOME|say \"hi\" it's|  padded  "
    );

    // Reading the dotenv back gives exactly the values of the YAML file.
    let enc_env = ok(&s.rsops(&["encrypt", "config.env"]), "encrypt dotenv");
    s.write("config.enc.env", &enc_env);
    let from_env = ok(
        &s.rsops(&["decrypt", "--output-type", "json", "config.enc.env"]),
        "decrypt dotenv to json",
    );
    let from_yaml = ok(
        &s.rsops(&["decrypt", "--output-type", "json", "config.enc.yaml"]),
        "decrypt yaml to json",
    );
    // dotenv holds strings only: the port comes back as the string "5432".
    assert_eq!(
        text(from_env),
        text(from_yaml).replace("\"PORT\": 5432", "\"PORT\": \"5432\"")
    );
}

#[test]
fn default_dotenv_syntax_is_byte_for_byte_sops() {
    let s = Scratch::new();
    s.write(
        "config.yaml",
        b"FOO: Some long string with spaces\nQ: '\"x\"'\nN: \"a\\nb\"\n",
    );
    let enc = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "config.yaml"]),
        "encrypt",
    );
    s.write("config.enc.yaml", &enc);
    let ours = ok(
        &s.rsops(&["decrypt", "--output-type", "dotenv", "config.enc.yaml"]),
        "decrypt",
    );
    assert_eq!(
        text(ours.clone()),
        "FOO=Some long string with spaces\nQ=\"x\"\nN=a\\nb\n"
    );
    if let Some(sops) = sops() {
        let theirs = ok(
            &s.sops(
                &sops,
                &["decrypt", "--output-type", "dotenv", "config.enc.yaml"],
            ),
            "sops decrypt",
        );
        assert_eq!(text(ours), text(theirs));
    }
}

#[test]
fn unencrypted_value_sops_would_misread_is_refused_and_nothing_is_written() {
    let s = Scratch::new();
    s.write(
        "config.yaml",
        b"PATH_unencrypted: 'C:\\new'\nTOKEN: secret\n",
    );
    let out = s.rsops(&[
        "encrypt",
        "--age",
        DEMO_RECIPIENT,
        "--output-type",
        "dotenv",
        "--output",
        "config.enc.env",
        "config.yaml",
    ]);
    assert!(!out.status.success());
    let err = text(out.stderr);
    assert!(err.contains("PATH_unencrypted"), "{err}");
    assert!(!err.contains("C:") && !err.contains("secret"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!s.path("config.enc.env").exists());
}

#[test]
fn edit_shows_and_reads_the_quoted_syntax() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    s.write(".sops.yaml", quoted_config().as_bytes());
    s.write("secrets.env", SECRETS_ENV.as_bytes());
    let encrypted = ok(&s.rsops(&["encrypt", "secrets.env"]), "encrypt");
    s.write("secrets.enc.env", &encrypted);
    // The editor keeps a copy of what it was shown and adds a quoted value.
    let editor = s.write(
        "editor.sh",
        b"#!/bin/sh\ncp \"$1\" shown.env\nprintf 'NEW=\"two words\"\\n' >> \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = s.run_env(
        std::path::Path::new(env!("CARGO_BIN_EXE_rsops")),
        &["edit", "secrets.enc.env"],
        Some(&crate::common::demo_key_file()),
        &[("SOPS_EDITOR", editor.as_os_str())],
        None,
    );
    ok(&out, "edit");
    assert_eq!(
        text(std::fs::read(s.path("shown.env")).unwrap()),
        SECRETS_ENV
    );
    let decrypted = text(ok(&s.rsops(&["decrypt", "secrets.enc.env"]), "decrypt"));
    assert_eq!(decrypted, format!("{SECRETS_ENV}NEW=\"two words\"\n"));
    ok(
        &s.rsops(&["exec-env", "secrets.enc.env", "test \"$NEW\" = 'two words'"]),
        "exec-env sees the edited value",
    );
}
