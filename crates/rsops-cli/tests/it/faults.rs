//! Fault injection: rsops killed with SIGKILL at many points while it
//! rewrites large files in place, a full disk (`RLIMIT_FSIZE`) and a
//! read-only file system. Every file must afterwards hold either all of
//! its old content or all of its new content, and no plaintext may be left
//! anywhere but in a 0600 temporary file.
//!
//! The number of kill points per command is `RSOPS_FAULT_POINTS` (default
//! 6); the outcomes are printed (`cargo test faults -- --nocapture`).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::common::{demo_key_file, ok, Scratch, DEMO_RECIPIENT};

/// A plaintext of about 330 KB (4,000 values, each with the marker).
fn big_plain() -> String {
    (0..4000)
        .map(|i| format!("key{i:05}: MARKER-{i:05}-{}\n", "x".repeat(60)))
        .collect()
}

/// The state of one file after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Old,
    New,
}

/// One command under test: how to prepare the files, the arguments, and
/// how to tell old from new content.
struct Case {
    name: &'static str,
    /// Files the command rewrites, with their content before.
    files: Vec<(&'static str, Vec<u8>)>,
    args: Vec<String>,
    /// The plaintext each file must decrypt to (or be) when new.
    new_plain: String,
    /// Whether the new content is encrypted (else it is the plaintext).
    new_encrypted: bool,
    /// An editor script, for `edit`.
    editor: Option<String>,
}

fn encrypt(s: &Scratch, plain: &str) -> Vec<u8> {
    s.write("in.yaml", plain.as_bytes());
    let enc = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "in.yaml"]),
        "encrypt",
    );
    fs::remove_file(s.path("in.yaml")).unwrap();
    enc
}

fn cases(s: &Scratch) -> Vec<Case> {
    let plain = big_plain();
    let enc = encrypt(s, &plain);
    let changed = plain.replace("key00007: MARKER-00007", "key00007: CHANGED-00007");
    let args = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        Case {
            name: "encrypt -i",
            files: vec![("f.yaml", plain.clone().into_bytes())],
            args: args(&["encrypt", "-i", "--age", DEMO_RECIPIENT, "f.yaml"]),
            new_plain: plain.clone(),
            new_encrypted: true,
            editor: None,
        },
        Case {
            name: "decrypt -i",
            files: vec![("f.yaml", enc.clone())],
            args: args(&["decrypt", "-i", "f.yaml"]),
            new_plain: plain.clone(),
            new_encrypted: false,
            editor: None,
        },
        Case {
            name: "rotate -i",
            files: vec![("f.yaml", enc.clone())],
            args: args(&["rotate", "-i", "f.yaml"]),
            new_plain: plain.clone(),
            new_encrypted: true,
            editor: None,
        },
        Case {
            name: "set",
            files: vec![("f.yaml", enc.clone())],
            args: args(&[
                "set",
                "f.yaml",
                r#"["key00007"]"#,
                r#""CHANGED-00007-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx""#,
            ]),
            new_plain: changed.clone(),
            new_encrypted: true,
            editor: None,
        },
        Case {
            name: "edit",
            files: vec![("f.yaml", enc.clone())],
            args: args(&["edit", "f.yaml"]),
            new_plain: changed,
            new_encrypted: true,
            editor: Some(
                "sed -i 's/^key00007: MARKER-00007/key00007: CHANGED-00007/' \"$1\"\n".into(),
            ),
        },
        Case {
            name: "decrypt -i (3 files)",
            files: vec![
                ("a.yaml", enc.clone()),
                ("b.yaml", enc.clone()),
                ("c.yaml", enc),
            ],
            args: args(&["decrypt", "-i", "a.yaml", "b.yaml", "c.yaml"]),
            new_plain: plain,
            new_encrypted: false,
            editor: None,
        },
    ]
}

/// A fresh directory `run/` (and `run/tmp/`) holding the case's files.
fn prepare(s: &Scratch, case: &Case) {
    let run = s.path("run");
    if run.exists() {
        fs::remove_dir_all(&run).unwrap();
    }
    fs::create_dir_all(run.join("tmp")).unwrap();
    for (name, content) in &case.files {
        fs::write(run.join(name), content).unwrap();
    }
    if let Some(body) = &case.editor {
        let p = run.join("editor.sh");
        fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn command(s: &Scratch, case: &Case) -> Command {
    let run = s.path("run");
    let mut cmd = s.rsops_command();
    cmd.current_dir(&run)
        .env("TMPDIR", run.join("tmp"))
        .env("SOPS_EDITOR", run.join("editor.sh"))
        .args(&case.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// The state of `name` in `run/`: old, new, or a panic (a mix, a
/// truncation, anything else).
fn state_of(s: &Scratch, case: &Case, name: &str, old: &[u8]) -> State {
    let path = s.path("run").join(name);
    let now = fs::read(&path).unwrap();
    if now == old {
        return State::Old;
    }
    if !case.new_encrypted {
        assert!(
            now == case.new_plain.as_bytes(),
            "{}: {name} is neither old nor new ({} bytes)",
            case.name,
            now.len()
        );
        return State::New;
    }
    let out = s.run(
        Path::new(env!("CARGO_BIN_EXE_rsops")),
        &["decrypt", path.to_str().unwrap()],
        Some(&demo_key_file()),
        None,
    );
    assert!(
        out.status.success() && out.stdout == case.new_plain.as_bytes(),
        "{}: {name} is neither old nor new: {}",
        case.name,
        String::from_utf8_lossy(&out.stderr)
    );
    State::New
}

/// Nothing in `run/` but the case's files, the editor and temporary files
/// that are 0600 (in 0700 directories); no plaintext elsewhere.
fn check_leftovers(s: &Scratch, case: &Case) -> usize {
    let mut temps = 0;
    let mut stack = vec![s.path("run")];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let meta = fs::symlink_metadata(e.path()).unwrap();
            let mode = meta.permissions().mode() & 0o777;
            if meta.is_dir() {
                assert!(
                    name == "tmp" || mode == 0o700,
                    "{}: directory {name} is {mode:o}",
                    case.name
                );
                stack.push(e.path());
                continue;
            }
            let known = dir == s.path("run")
                && (name == "editor.sh" || case.files.iter().any(|(n, _)| *n == name));
            if known {
                continue;
            }
            assert_eq!(mode, 0o600, "{}: {name} is {mode:o}", case.name);
            temps += 1;
        }
    }
    temps
}

fn points() -> u32 {
    std::env::var("RSOPS_FAULT_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

#[test]
fn sigkill_at_any_point_leaves_old_or_new_content_and_no_plaintext_outside_0600_files() {
    let s = Scratch::new();
    let mut report = Vec::new();
    let n = points();
    for case in cases(&s) {
        // How long an uninterrupted run takes.
        prepare(&s, &case);
        let start = Instant::now();
        let status = command(&s, &case).status().unwrap();
        let full = start.elapsed();
        assert!(status.success(), "{}: {status:?}", case.name);
        for (name, old) in &case.files {
            assert_eq!(state_of(&s, &case, name, old), State::New, "{}", case.name);
        }
        let (mut olds, mut news, mut temps) = (0, 0, 0);
        for k in 1..=n {
            prepare(&s, &case);
            let mut child = command(&s, &case).spawn().unwrap();
            // Kill points spread over the run and a little beyond.
            let at = full.mul_f64(1.1 * f64::from(k) / f64::from(n));
            std::thread::sleep(at);
            let _ = child.kill();
            child.wait().unwrap();
            for (name, old) in &case.files {
                match state_of(&s, &case, name, old) {
                    State::Old => olds += 1,
                    State::New => news += 1,
                }
            }
            temps += check_leftovers(&s, &case);
        }
        report.push(format!(
            "{}: {n} kill points, {} file states: {olds} old, {news} new, 0 mixed; {temps} temporary file(s) left, all 0600",
            case.name,
            n as usize * case.files.len()
        ));
    }
    eprintln!("fault injection (SIGKILL):\n  {}", report.join("\n  "));
}

#[test]
fn a_full_disk_is_a_clear_error_and_the_original_stays() {
    let s = Scratch::new();
    let plain = big_plain();
    let enc = encrypt(&s, &plain);
    for (args, content) in [
        (vec!["decrypt", "-i", "f.yaml"], enc.clone()),
        (
            vec!["encrypt", "-i", "--age", DEMO_RECIPIENT, "f.yaml"],
            plain.clone().into_bytes(),
        ),
    ] {
        s.write("f.yaml", &content);
        // 100 KB at most per file (512-byte blocks for dash, 1 KB for
        // bash: both far below the output).
        let out = Command::new("/bin/sh")
            .args([
                "-c",
                "ulimit -f 200 && exec \"$0\" \"$@\"",
                env!("CARGO_BIN_EXE_rsops"),
            ])
            .args(&args)
            .current_dir(s.dir.path())
            .env("SOPS_AGE_KEY_FILE", demo_key_file())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("Could not write output file f.yaml: File too large"),
            "{err}"
        );
        assert!(!err.contains("MARKER"));
        assert_eq!(fs::read(s.path("f.yaml")).unwrap(), content);
        let names: Vec<_> = fs::read_dir(s.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f.yaml"], "{names:?}");
    }
}

#[test]
fn a_read_only_file_system_is_a_clear_error_and_the_original_stays() {
    let s = Scratch::new();
    fs::create_dir(s.path("ro")).unwrap();
    let plain = "a: MARKER-plain\n";
    s.write("ro/f.yaml", plain.as_bytes());
    let ro = s.path("ro");
    // A private mount namespace: the read-only mount ends with the command.
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg("mount --bind \"$1\" \"$1\" && mount -o remount,ro,bind \"$1\" \"$1\" || exit 77; shift; exec \"$@\"")
        .arg("sh")
        .arg(&ro)
        .arg(env!("CARGO_BIN_EXE_rsops"))
        .args(["encrypt", "-i", "--age", DEMO_RECIPIENT, "ro/f.yaml"])
        .current_dir(s.dir.path())
        .env("SOPS_AGE_KEY_FILE", demo_key_file())
        .output();
    let skip = || eprintln!("note: no private read-only mount possible here (needs root); skipped");
    let Ok(out) = out else { return skip() };
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(77) || err.starts_with("unshare:") {
        return skip();
    }
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        err.starts_with("Could not write output file ro/f.yaml: Read-only file system"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(s.path("ro/f.yaml")).unwrap(), plain);
    assert_eq!(fs::read_dir(&ro).unwrap().count(), 1);
}
