//! The command line itself: file names that are not UTF-8, repeated flags,
//! shell completions and the manual page.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::{ok, Scratch, DEMO_RECIPIENT};

/// Runs rsops in the scratch directory with arguments that need not be UTF-8.
fn rsops_os(s: &Scratch, args: &[&OsStr]) -> Output {
    s.rsops_command()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rsops")
}

#[test]
fn a_file_name_that_is_not_utf8_encrypts_and_decrypts() {
    let s = Scratch::new();
    // "s\xffcret.yaml": not UTF-8, still a valid Unix file name.
    let name = OsStr::from_bytes(b"s\xffcret.yaml");
    std::fs::write(s.dir.path().join(name), b"a: 1\nb: two\n").unwrap();
    let encrypt = [
        OsStr::new("encrypt"),
        OsStr::new("-i"),
        OsStr::new("--age"),
        OsStr::new(DEMO_RECIPIENT),
        name,
    ];
    ok(&rsops_os(&s, &encrypt), "encrypt -i");
    let stored = std::fs::read_to_string(s.dir.path().join(name)).unwrap();
    assert!(stored.contains("ENC[AES256_GCM"), "{stored}");
    let out = rsops_os(&s, &[OsStr::new("decrypt"), name]);
    assert_eq!(ok(&out, "decrypt"), b"a: 1\nb: two\n");
    // Legacy form too, and an error names the file.
    let out = rsops_os(&s, &[OsStr::new("-d"), name]);
    assert_eq!(ok(&out, "-d"), b"a: 1\nb: two\n");
    let missing = OsStr::from_bytes(b"n\xfeo.yaml");
    let out = rsops_os(&s, &[OsStr::new("decrypt"), missing]);
    assert_eq!(out.status.code(), Some(100));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("non-existent file n"), "{err}");
}

/// The VS Code sops extension runs `sops --config /dev/null --config X`:
/// the last `--config` wins, as with sops.
#[test]
fn a_repeated_config_flag_takes_the_last_value() {
    let s = Scratch::new();
    s.write(
        "rules.yaml",
        format!("creation_rules:\n  - age: {DEMO_RECIPIENT}\n").as_bytes(),
    );
    s.write("f.yaml", b"a: 1\n");
    let out = s.rsops(&[
        "encrypt",
        "--config",
        "/dev/null",
        "--config",
        "rules.yaml",
        "f.yaml",
    ]);
    let enc = ok(&out, "encrypt with the last --config");
    assert!(String::from_utf8_lossy(&enc).contains(DEMO_RECIPIENT));
    // The other order: /dev/null has no creation rule, so no key.
    let out = s.rsops(&[
        "encrypt",
        "--config",
        "rules.yaml",
        "--config",
        "/dev/null",
        "f.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no keys provided"));
}

/// Ansible's `community.sops` runs `sops --config C decrypt|encrypt ...`:
/// `--config` before the subcommand is sops's global flag and applies to it;
/// a `--config` of the subcommand itself wins.
#[test]
fn a_config_flag_before_the_subcommand_applies_to_it() {
    let s = Scratch::new();
    s.write(
        "rules.yaml",
        format!("creation_rules:\n  - age: {DEMO_RECIPIENT}\n").as_bytes(),
    );
    s.write(
        "nomatch.yaml",
        format!("creation_rules:\n  - path_regex: nothing\n    age: {DEMO_RECIPIENT}\n").as_bytes(),
    );
    s.write("f.yaml", b"a: 1\n");
    let out = s.rsops(&["--config", "nomatch.yaml", "encrypt", "f.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no matching creation rules found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = s.rsops(&["--config", "rules.yaml", "encrypt", "f.yaml"]);
    let enc = ok(&out, "encrypt with a global --config");
    assert!(String::from_utf8_lossy(&enc).contains(DEMO_RECIPIENT));
    let out = s.rsops(&[
        "--config",
        "nomatch.yaml",
        "encrypt",
        "--config",
        "rules.yaml",
        "f.yaml",
    ]);
    ok(&out, "the subcommand's own --config wins");
}

/// Whether `program` can be run; under `CI=true` a missing one fails the
/// test (CI installs it), elsewhere the check is skipped.
fn available(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found || std::env::var("CI").as_deref() != Ok("true"),
        "{program} is required under CI=true"
    );
    if !found {
        eprintln!("note: {program} not found; skipping its check");
    }
    found
}

/// `rsops completion SHELL`, checked to be non-empty and to name rsops.
fn completion(s: &Scratch, shell: &str) -> Vec<u8> {
    let script = ok(&s.rsops(&["completion", shell]), shell);
    assert!(
        String::from_utf8_lossy(&script).contains("rsops"),
        "{shell} script does not name rsops"
    );
    script
}

/// Runs `shell -n FILE` (syntax check only).
fn syntax_ok(shell: &str, file: &Path) {
    let out = Command::new(shell)
        .arg("-n")
        .arg(file)
        .output()
        .expect("run shell");
    assert!(
        out.status.success(),
        "{shell} -n rejects the completion script: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn completion_scripts_are_valid_shell() {
    let s = Scratch::new();
    for shell in ["bash", "zsh", "fish"] {
        let script = completion(&s, shell);
        if available(shell) {
            let file = s.write(&format!("rsops.{shell}"), &script);
            syntax_ok(shell, &file);
        }
    }
    let ps = completion(&s, "powershell");
    assert!(String::from_utf8_lossy(&ps).contains("Register-ArgumentCompleter"));
    // The subcommands and their flags are offered.
    let bash = String::from_utf8(completion(&s, "bash")).unwrap();
    for word in ["decrypt", "updatekeys", "--decryption-order", "--add-age"] {
        assert!(bash.contains(word), "{word} missing from the bash script");
    }
    let out = s.rsops(&["completion", "tcsh"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn the_man_page_renders() {
    let s = Scratch::new();
    let roff = ok(&s.rsops(&["man"]), "man");
    let text = String::from_utf8_lossy(&roff);
    assert!(
        text.starts_with(".ie") || text.contains(".TH rsops"),
        "{text}"
    );
    if !available("man") {
        return;
    }
    let page = s.write("rsops.1", &roff);
    let out = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("run man");
    assert!(
        out.status.success(),
        "man -l failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = String::from_utf8_lossy(&out.stdout);
    for word in ["rsops", "SUBCOMMANDS", "encrypt", "decrypt"] {
        assert!(rendered.contains(word), "{word} missing from:\n{rendered}");
    }
    // The hidden `man` subcommand itself is not documented.
    assert!(!rendered.contains("rsops-man"), "{rendered}");
}

/// Unknown `.sops.yaml` keys (ignored, as by sops) are named on stderr with
/// the nearest known key, once, and do not change the outcome.
#[test]
fn unknown_config_fields_are_warnings() {
    let s = Scratch::new();
    s.write(
        "rules.yaml",
        format!("creation_rules:\n  - age: {DEMO_RECIPIENT}\n    encrypted_regexp: ^data$\n    frobnicate: 1\n").as_bytes(),
    );
    s.write("f.yaml", b"a: 1\n");
    let out = s.rsops(&["encrypt", "--config", "rules.yaml", "f.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("rsops: warning:"))
            .collect::<Vec<_>>(),
        [
            "rsops: warning: rules.yaml line 3: unknown field 'encrypted_regexp' in a creation rule; did you mean 'encrypted_regex'?",
            "rsops: warning: rules.yaml line 4: unknown field 'frobnicate' in a creation rule (ignored)",
        ],
        "{stderr}"
    );
    // The misspelt selection field is ignored: everything is encrypted.
    assert!(String::from_utf8_lossy(&out.stdout).contains("a: ENC["));
}
