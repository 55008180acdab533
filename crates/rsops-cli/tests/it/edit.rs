//! `rsops edit` and `rsops replace`: minimal diffs in a git repository,
//! private temporary files that never outlive rsops (editor failure, editor
//! killed, rsops killed), invalid edits reopened, new files, and sops
//! reading every file rsops wrote.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{ok, sops, Scratch, DEMO_RECIPIENT};

const SECRETS: &str = "secrets.yaml";

/// 50 values, `key01: value01` ... `key50: value50`.
fn fifty_values() -> String {
    (1..=50)
        .map(|i| format!("key{i:02}: value{i:02}\n"))
        .collect()
}

/// A scratch dir with a private TMPDIR (`tmp/`) and the editor scripts'
/// state directory (`state/`).
fn scratch() -> Scratch {
    let s = Scratch::new();
    std::fs::create_dir(s.path("tmp")).unwrap();
    std::fs::create_dir(s.path("state")).unwrap();
    s
}

/// Writes an executable shell script.
fn script(s: &Scratch, name: &str, body: &str) -> PathBuf {
    let p = s.write(name, format!("#!/bin/sh\n{body}").as_bytes());
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// The prologue of every editor script: the temporary file must be 0600 in
/// a 0700 directory, else the editor fails (and so does the test).
const CHECK_MODES: &str = r#"[ "$(stat -c %a "$1")" = 600 ] || { echo "temp file mode $(stat -c %a "$1")" >&2; exit 90; }
[ "$(stat -c %a "$(dirname "$1")")" = 700 ] || { echo "temp dir mode" >&2; exit 91; }
"#;

/// An editor script applying `sed_expr` to the file.
fn sed_editor(s: &Scratch, name: &str, sed_expr: &str) -> PathBuf {
    script(
        s,
        name,
        &format!("{CHECK_MODES}sed -i '{sed_expr}' \"$1\"\n"),
    )
}

/// Runs rsops with TMPDIR=tmp/ and SOPS_EDITOR=editor.
fn rsops_edit(s: &Scratch, editor: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let tmp = s.path("tmp");
    let env: [(&str, &OsStr); 2] = [
        ("TMPDIR", tmp.as_os_str()),
        ("SOPS_EDITOR", editor.as_os_str()),
    ];
    s.run_env(
        Path::new(env!("CARGO_BIN_EXE_rsops")),
        args,
        Some(&crate::common::demo_key_file()),
        &env,
        stdin,
    )
}

fn assert_tmp_empty(s: &Scratch) {
    let left: Vec<_> = std::fs::read_dir(s.path("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

fn git(s: &Scratch, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(s.dir.path())
        .output()
        .expect("git");
    String::from_utf8(ok(&out, &format!("git {args:?}"))).unwrap()
}

/// A git repository with an encrypted 50-value `secrets.yaml` committed.
fn repo_with_secrets() -> Scratch {
    let s = scratch();
    git(&s, &["init", "-q"]);
    s.write("plain.yaml", fifty_values().as_bytes());
    let enc = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"]),
        "encrypt",
    );
    s.write(SECRETS, &enc);
    std::fs::remove_file(s.path("plain.yaml")).unwrap();
    git(&s, &["add", SECRETS]);
    git(&s, &["commit", "-q", "-m", "secrets"]);
    s
}

/// The changed lines of `git diff` (without the `+++`/`---` headers).
fn diff_lines(s: &Scratch) -> Vec<String> {
    git(s, &["diff", "-U0", "--", SECRETS])
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .map(str::to_owned)
        .collect()
}

/// Asserts that the diff touches only `key`'s line, `lastmodified` and
/// `mac`, and at least the key and the MAC.
fn assert_minimal_diff(s: &Scratch, key: &str) {
    let lines = diff_lines(s);
    let is = |l: &String, what: &str| l[1..].trim_start().starts_with(what);
    for l in &lines {
        assert!(
            is(l, &format!("{key}:")) || is(l, "lastmodified:") || is(l, "mac:"),
            "unexpected change in the diff: {l}\nwhole diff: {lines:#?}"
        );
    }
    for what in [format!("{key}:"), "mac:".to_owned()] {
        assert_eq!(
            lines.iter().filter(|l| is(l, &what)).count(),
            2,
            "{what} should change once: {lines:#?}"
        );
    }
}

fn commit_all(s: &Scratch) {
    git(s, &["commit", "-q", "-a", "-m", "change"]);
}

/// The plaintext as sops (else rsops) decrypts it.
fn decrypt_with_oracle(s: &Scratch, file: &str) -> String {
    let out = match sops() {
        Some(sops) => s.sops(&sops, &["decrypt", file]),
        None => s.rsops(&["decrypt", file]),
    };
    String::from_utf8(ok(&out, "decrypt")).unwrap()
}

#[test]
fn edit_set_and_replace_of_one_value_give_minimal_diffs() {
    let s = repo_with_secrets();
    let mut expected = fifty_values();

    // edit
    let editor = sed_editor(&s, "ed.sh", "s/^key17: value17$/key17: edited/");
    let out = rsops_edit(&s, &editor, &["edit", SECRETS], None);
    ok(&out, "edit");
    assert_tmp_empty(&s);
    assert_minimal_diff(&s, "key17");
    expected = expected.replace("key17: value17", "key17: edited");
    assert_eq!(decrypt_with_oracle(&s, SECRETS), expected);
    commit_all(&s);

    // replace, from stdin
    let changed = expected.replace("key33: value33", "key33: replaced");
    let out = s.run(
        Path::new(env!("CARGO_BIN_EXE_rsops")),
        &["replace", SECRETS, "-"],
        Some(&crate::common::demo_key_file()),
        Some(changed.as_bytes()),
    );
    ok(&out, "replace");
    assert_minimal_diff(&s, "key33");
    expected = changed;
    assert_eq!(decrypt_with_oracle(&s, SECRETS), expected);
    commit_all(&s);

    // set
    ok(
        &s.rsops(&["set", SECRETS, r#"["key42"]"#, r#""set""#]),
        "set",
    );
    assert_minimal_diff(&s, "key42");
    expected = expected.replace("key42: value42", "key42: set");
    assert_eq!(decrypt_with_oracle(&s, SECRETS), expected);
}

#[test]
fn unchanged_edit_and_replace_leave_the_file_byte_identical() {
    let s = repo_with_secrets();
    let before = std::fs::read(s.path(SECRETS)).unwrap();

    // An editor that does nothing, and one that rewrites the same text.
    for (name, body) in [
        ("noop.sh", format!("{CHECK_MODES}true\n")),
        ("same.sh", format!("{CHECK_MODES}sed -i 's/a/a/' \"$1\"\n")),
    ] {
        let editor = script(&s, name, &body);
        let out = rsops_edit(&s, &editor, &["edit", SECRETS], None);
        assert_eq!(out.status.code(), Some(200), "{name}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("File has not changed, exiting."));
        assert_eq!(std::fs::read(s.path(SECRETS)).unwrap(), before, "{name}");
        assert_tmp_empty(&s);
    }

    // Replacing with the same plaintext (from a file) writes nothing.
    s.write("same.yaml", fifty_values().as_bytes());
    ok(&s.rsops(&["replace", SECRETS, "same.yaml"]), "replace");
    assert_eq!(std::fs::read(s.path(SECRETS)).unwrap(), before);

    // A change that only reformats (the tree stays the same) changes nothing either.
    let editor = sed_editor(&s, "fmt.sh", "s/^key05: value05$/key05:    value05/");
    ok(
        &rsops_edit(&s, &editor, &["edit", SECRETS], None),
        "reformat edit",
    );
    assert_eq!(std::fs::read(s.path(SECRETS)).unwrap(), before);
    assert_eq!(git(&s, &["status", "--porcelain", "--", SECRETS]), "");
}

#[test]
fn invalid_edit_is_reopened_and_the_fix_is_saved() {
    let s = repo_with_secrets();
    let state = s.path("state/count");
    // Run 1: change a value and break the YAML. Run 2: repair the YAML only.
    let body = format!(
        "{CHECK_MODES}n=$(cat '{c}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{c}'\n\
         if [ $n = 1 ]; then sed -i 's/^key08: value08$/key08: kept/' \"$1\"; echo 'broken: [unclosed' >> \"$1\"; \
         else sed -i '/^broken:/d' \"$1\"; fi\n",
        c = state.display()
    );
    let editor = script(&s, "fix.sh", &body);
    let out = rsops_edit(&s, &editor, &["edit", SECRETS], Some(b""));
    ok(&out, "edit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Could not load tree, probably due to invalid syntax")
            && stderr.contains("Returning to the editor (attempt 2 of 3"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&state).unwrap().trim(), "2");
    assert_tmp_empty(&s);
    assert_minimal_diff(&s, "key08");
    assert_eq!(
        decrypt_with_oracle(&s, SECRETS),
        fifty_values().replace("key08: value08", "key08: kept")
    );
}

#[test]
fn top_level_sops_key_is_refused_and_the_editor_reopened() {
    let s = repo_with_secrets();
    let state = s.path("state/count");
    let body = format!(
        "{CHECK_MODES}n=$(cat '{c}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{c}'\n\
         if [ $n = 1 ]; then echo 'sops: reserved' >> \"$1\"; else sed -i -e '/^sops:/d' -e 's/^key01: value01$/key01: ok/' \"$1\"; fi\n",
        c = state.display()
    );
    let editor = script(&s, "sops-key.sh", &body);
    let out = rsops_edit(&s, &editor, &["edit", SECRETS], None);
    ok(&out, "edit");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Tree not valid for encryption"));
    assert_eq!(std::fs::read_to_string(&state).unwrap().trim(), "2");
    assert_minimal_diff(&s, "key01");
}

#[test]
fn editor_failures_leave_the_file_and_no_temporary_file() {
    let s = repo_with_secrets();
    let before = std::fs::read(s.path(SECRETS)).unwrap();
    let cases = [
        (
            "fail.sh",
            format!("{CHECK_MODES}sed -i 's/value02/lost/' \"$1\"\nexit 3\n"),
            "exit status 3",
        ),
        (
            "kill9.sh",
            format!("{CHECK_MODES}sed -i 's/value02/lost/' \"$1\"\nkill -9 $$\n"),
            "signal: killed",
        ),
    ];
    for (name, body, message) in cases {
        let editor = script(&s, name, &body);
        let out = rsops_edit(&s, &editor, &["edit", SECRETS], None);
        assert_eq!(out.status.code(), Some(201), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("Could not run editor: {message}")),
            "{stderr}"
        );
        assert_eq!(std::fs::read(s.path(SECRETS)).unwrap(), before, "{name}");
        assert_tmp_empty(&s);
    }
}

#[test]
fn sigterm_while_the_editor_runs_removes_the_temporary_file() {
    let s = repo_with_secrets();
    let before = std::fs::read(s.path(SECRETS)).unwrap();
    let marker = s.path("state/started");
    let editor = script(
        &s,
        "slow.sh",
        &format!(
            "{CHECK_MODES}sed -i 's/value04/lost/' \"$1\"\ntouch '{}'\nexec sleep 30\n",
            marker.display()
        ),
    );
    let child = s
        .rsops_command()
        .env("TMPDIR", s.path("tmp"))
        .env("SOPS_EDITOR", &editor)
        .args(["edit", SECRETS])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !marker.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the editor never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // While the editor runs, the plaintext is in tmp/.
    assert_eq!(std::fs::read_dir(s.path("tmp")).unwrap().count(), 1);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "rsops did not stop the editor"
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("User canceled operation"));
    assert_eq!(std::fs::read(s.path(SECRETS)).unwrap(), before);
    assert_tmp_empty(&s);
}

#[test]
fn editor_command_is_split_shell_style_and_gets_the_path_last() {
    let s = repo_with_secrets();
    std::fs::create_dir(s.path("dir with space")).unwrap();
    let args_file = s.path("state/args");
    let editor = script(
        &s,
        "dir with space/ed.sh",
        &format!(
            "printf '%s\\n' \"$@\" > '{}'\nlast=''; for a in \"$@\"; do last=$a; done\nsed -i 's/value09/split/' \"$last\"\n",
            args_file.display()
        ),
    );
    let command = format!("'{}' --one 'two words'", editor.display());
    let tmp = s.path("tmp");
    let env: [(&str, &OsStr); 3] = [
        ("TMPDIR", tmp.as_os_str()),
        ("SOPS_EDITOR", OsStr::new("")),
        ("EDITOR", OsStr::new(&command)),
    ];
    let out = s.run_env(
        Path::new(env!("CARGO_BIN_EXE_rsops")),
        &["edit", SECRETS],
        Some(&crate::common::demo_key_file()),
        &env,
        None,
    );
    ok(&out, "edit with $EDITOR");
    let args = std::fs::read_to_string(&args_file).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(args.len(), 3, "{args:?}");
    assert_eq!(&args[..2], ["--one", "two words"]);
    assert!(args[2].starts_with(&*tmp.to_string_lossy()) && args[2].ends_with("/secrets.yaml"));
    assert_minimal_diff(&s, "key09");
}

#[test]
fn no_editor_available_is_exit_201() {
    let s = repo_with_secrets();
    let empty = s.path("state");
    let tmp = s.path("tmp");
    let env: [(&str, &OsStr); 4] = [
        ("TMPDIR", tmp.as_os_str()),
        ("SOPS_EDITOR", OsStr::new("")),
        ("EDITOR", OsStr::new("")),
        ("PATH", empty.as_os_str()),
    ];
    let out = s.run_env(
        Path::new(env!("CARGO_BIN_EXE_rsops")),
        &["edit", SECRETS],
        Some(&crate::common::demo_key_file()),
        &env,
        None,
    );
    assert_eq!(out.status.code(), Some(201));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no editor available"));
    assert_tmp_empty(&s);
}

#[test]
fn editing_a_new_file_uses_the_creation_rules() {
    let s = scratch();
    s.write(
        ".sops.yaml",
        format!("creation_rules:\n  - path_regex: \\.yaml$\n    age: {DEMO_RECIPIENT}\n    encrypted_regex: ^(hello|extra)$\n").as_bytes(),
    );
    // Unchanged example: exit 200 and no file.
    let noop = script(&s, "noop.sh", &format!("{CHECK_MODES}true\n"));
    let out = rsops_edit(&s, &noop, &["edit", "new.yaml"], None);
    assert_eq!(out.status.code(), Some(200));
    assert!(!s.path("new.yaml").exists());

    let editor = script(
        &s,
        "add.sh",
        &format!("{CHECK_MODES}echo 'extra: added' >> \"$1\"\n"),
    );
    ok(
        &rsops_edit(&s, &editor, &["edit", "new.yaml"], None),
        "edit new file",
    );
    assert_tmp_empty(&s);
    let text = std::fs::read_to_string(s.path("new.yaml")).unwrap();
    assert!(text.contains(DEMO_RECIPIENT), "{text}");
    assert!(text.contains("encrypted_regex: ^(hello|extra)$"), "{text}");
    assert!(
        text.contains("example_key: example_value"),
        "not selected: stays clear\n{text}"
    );
    assert!(text.contains("extra: ENC["), "{text}");
    assert_eq!(
        decrypt_with_oracle(&s, "new.yaml"),
        "hello: Welcome to SOPS! Edit this file as you please!\nexample_key: example_value\n# Example comment\nexample_array:\n    - example_value1\n    - example_value2\nexample_number: 1234.56789\nexample_booleans:\n    - true\n    - false\nextra: added\n"
    );
}

#[test]
fn new_file_examples_match_sops() {
    let Some(sops) = sops() else { return };
    let s = scratch();
    let copy = script(
        &s,
        "copy.sh",
        &format!(
            "cp \"$1\" '{}'/\"$(basename \"$1\")\"\n",
            s.path("state").display()
        ),
    );
    for name in ["n.yaml", "n.json", "n.env", "n.ini", "n.bin"] {
        let env: [(&str, &OsStr); 1] = [("SOPS_EDITOR", copy.as_os_str())];
        let out = s.run_env(
            &sops,
            &["edit", "--age", DEMO_RECIPIENT, name],
            None,
            &env,
            None,
        );
        assert_eq!(out.status.code(), Some(200), "sops {name}");
        let theirs = std::fs::read(s.path("state").join(name)).unwrap();
        let out = rsops_edit(&s, &copy, &["edit", "--age", DEMO_RECIPIENT, name], None);
        assert_eq!(out.status.code(), Some(200), "rsops {name}");
        let ours = std::fs::read(s.path("state").join(name)).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "{name}"
        );
    }
}

#[test]
fn edit_raises_an_older_version() {
    let s = repo_with_secrets();
    let text = std::fs::read_to_string(s.path(SECRETS)).unwrap();
    let ours = format!("version: {}", rsops_core::SOPS_VERSION);
    assert!(text.contains(&ours));
    s.write(SECRETS, text.replace(&ours, "version: 3.7.3").as_bytes());
    let editor = sed_editor(&s, "ed.sh", "s/value10/newer/");
    ok(&rsops_edit(&s, &editor, &["edit", SECRETS], None), "edit");
    let text = std::fs::read_to_string(s.path(SECRETS)).unwrap();
    assert!(text.contains(&ours), "{text}");
    assert_eq!(
        decrypt_with_oracle(&s, SECRETS),
        fifty_values().replace("value10", "newer")
    );
}

#[test]
fn replace_takes_another_plaintext_type_and_refuses_metadata() {
    let s = repo_with_secrets();
    let mut json = String::from("{");
    for i in 1..=50 {
        let v = if i == 25 {
            "json".to_owned()
        } else {
            format!("value{i:02}")
        };
        json.push_str(&format!(
            "{}\"key{i:02}\": \"{v}\"",
            if i > 1 { ", " } else { "" }
        ));
    }
    json.push('}');
    s.write("new.json", json.as_bytes());
    ok(
        &s.rsops(&["replace", "--input-type", "json", SECRETS, "new.json"]),
        "replace from json",
    );
    assert_minimal_diff(&s, "key25");
    assert_eq!(
        decrypt_with_oracle(&s, SECRETS),
        fifty_values().replace("value25", "json")
    );

    let before = std::fs::read(s.path(SECRETS)).unwrap();
    let out = s.rsops(&["replace", SECRETS, SECRETS]);
    assert_eq!(out.status.code(), Some(203));
    let out = s.rsops(&["replace", SECRETS]);
    assert_eq!(out.status.code(), Some(100));
    assert_eq!(std::fs::read(s.path(SECRETS)).unwrap(), before);
}
