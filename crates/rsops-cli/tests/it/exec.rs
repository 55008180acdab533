//! `rsops exec-env` and `rsops exec-file`: the child sees the values,
//! nothing is left on disk, the exit status passes through, and the
//! environment matches what sops gives.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::{ok, sops, Scratch, DEMO_RECIPIENT};

const PLAIN: &str = "user: admin\npassword: s3cret words\nport: 5432\nratio: 1.5\nenabled: true\nwhen: 2024-01-02T03:04:05.5Z\nnothing: null\n";

/// A scratch dir with `tmp/` and the encrypted `secrets.yaml`.
fn setup(plain: &str) -> Scratch {
    let s = Scratch::new();
    std::fs::create_dir(s.path("tmp")).unwrap();
    s.write("plain.yaml", plain.as_bytes());
    let enc = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"]),
        "encrypt",
    );
    s.write("secrets.yaml", &enc);
    s
}

/// Runs rsops with TMPDIR=tmp/.
fn rsops_tmp(s: &Scratch, args: &[&str]) -> Output {
    let tmp = s.path("tmp");
    let env: [(&str, &OsStr); 1] = [("TMPDIR", tmp.as_os_str())];
    s.run_env(
        Path::new(env!("CARGO_BIN_EXE_rsops")),
        args,
        Some(&crate::common::demo_key_file()),
        &env,
        None,
    )
}

fn assert_tmp_empty(s: &Scratch) {
    let left: Vec<_> = std::fs::read_dir(s.path("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left on disk: {left:?}");
}

#[test]
fn exec_env_child_sees_the_values_and_its_status_passes_through() {
    let s = setup(PLAIN);
    let out = s.rsops(&[
        "exec-env",
        "secrets.yaml",
        r#"printf '%s|%s|%s|%s|%s|%s|%s' "$user" "$password" "$port" "$ratio" "$enabled" "$when" "$nothing"; exit 7"#,
    ]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "admin|s3cret words|5432|1.5|true|2024-01-02T03:04:05Z|<nil>"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("exit status 7"));
    ok(
        &s.rsops(&["exec-env", "secrets.yaml", "test \"$user\" = admin"]),
        "exec-env",
    );
    // --same-process: rsops becomes the shell.
    let out = s.rsops(&[
        "exec-env",
        "--same-process",
        "secrets.yaml",
        "printf %s \"$port\"; exit 4",
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(out.stdout, b"5432");
}

#[test]
fn exec_env_pristine_passes_only_the_values() {
    let s = setup(PLAIN);
    let out = s.rsops(&[
        "exec-env",
        "--pristine",
        "secrets.yaml",
        r#"printf '%s|%s' "${HOME-unset}" "$user""#,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&ok(&out, "pristine")),
        "unset|admin"
    );
    let out = s.rsops(&["exec-env", "secrets.yaml", r#"printf '%s' "${HOME-unset}""#]);
    assert_ne!(String::from_utf8_lossy(&ok(&out, "not pristine")), "unset");
}

#[test]
fn exec_env_refuses_nested_values_and_bad_arguments() {
    let s = setup("a: 1\nnested:\n    inner: secret-value\n");
    let out = s.rsops(&["exec-env", "secrets.yaml", "echo should-not-run"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot use complex value in environment; offending key nested"));
    assert!(!stderr.contains("secret-value"));
    assert!(out.stdout.is_empty());
    assert_eq!(
        s.rsops(&["exec-env", "secrets.yaml"]).status.code(),
        Some(1)
    );
    let out = s.rsops(&[
        "exec-env",
        "--background",
        "--same-process",
        "secrets.yaml",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(8));
}

#[test]
fn exec_env_environment_matches_sops() {
    let Some(sops) = sops() else { return };
    let s = setup(PLAIN);
    let cmd = "env | grep -E '^(user|password|port|ratio|enabled|when|nothing)=' | sort";
    let ours = ok(
        &s.rsops(&["exec-env", "secrets.yaml", cmd]),
        "rsops exec-env",
    );
    let theirs = ok(
        &s.sops(&sops, &["exec-env", "secrets.yaml", cmd]),
        "sops exec-env",
    );
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
    for code in ["exit 7", "exit 0"] {
        let a = s.rsops(&["exec-env", "secrets.yaml", code]).status.code();
        let b = s
            .sops(&sops, &["exec-env", "secrets.yaml", code])
            .status
            .code();
        assert_eq!(a, b, "{code}");
    }
}

#[test]
fn exec_file_reads_a_fifo_and_leaves_nothing_behind() {
    let s = setup(PLAIN);
    let decrypted = ok(&s.rsops(&["decrypt", "secrets.yaml"]), "decrypt");
    let out = rsops_tmp(
        &s,
        &[
            "exec-file",
            "secrets.yaml",
            "test -p {} && stat -c %a {} && cat {}",
        ],
    );
    let stdout = ok(&out, "exec-file");
    let mut expected = b"600\n".to_vec();
    expected.extend_from_slice(&decrypted);
    assert_eq!(
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&expected)
    );
    assert_tmp_empty(&s);

    let out = rsops_tmp(
        &s,
        &["exec-file", "secrets.yaml", "cat {} > /dev/null; exit 7"],
    );
    assert_eq!(out.status.code(), Some(7));
    assert_tmp_empty(&s);

    // A command that never opens the FIFO does not hang rsops.
    let start = Instant::now();
    ok(
        &rsops_tmp(&s, &["exec-file", "secrets.yaml", "true"]),
        "unread fifo",
    );
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_tmp_empty(&s);
}

#[test]
fn exec_file_no_fifo_filename_and_output_type() {
    let s = setup(PLAIN);
    let out = rsops_tmp(
        &s,
        &[
            "exec-file",
            "--no-fifo",
            "--filename",
            "x.json",
            "--output-type",
            "json",
            "secrets.yaml",
            "test -f {} && basename {} && stat -c %a {} && stat -c %a $(dirname {}) && cat {}",
        ],
    );
    let stdout = String::from_utf8(ok(&out, "exec-file --no-fifo")).unwrap();
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("x.json"));
    assert_eq!(lines.next(), Some("600"));
    assert_eq!(lines.next(), Some("700"));
    assert!(
        stdout.contains("\"password\": \"s3cret words\""),
        "{stdout}"
    );
    assert_tmp_empty(&s);

    for bad in ["../x", "/etc/x", "a/b"] {
        let out = rsops_tmp(
            &s,
            &["exec-file", "--filename", bad, "secrets.yaml", "echo ran"],
        );
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(out.stdout.is_empty());
    }
    assert_tmp_empty(&s);
}

#[test]
fn exec_file_output_matches_sops() {
    let Some(sops) = sops() else { return };
    let s = setup(PLAIN);
    let ours = ok(&s.rsops(&["exec-file", "secrets.yaml", "cat {}"]), "rsops");
    let theirs = ok(
        &s.sops(&sops, &["exec-file", "secrets.yaml", "cat {}"]),
        "sops",
    );
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
}
