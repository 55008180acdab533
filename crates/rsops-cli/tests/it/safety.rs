//! The protections of plaintext and keys around a run: temporary files
//! removed on every catchable signal and by the next run after a SIGKILL,
//! no core dumps, key variables kept from children, `--user` switching
//! before anything is created, `{}` quoted, `edit` without a terminal.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{demo_key_file, ok, Scratch, DEMO_RECIPIENT};

const PLAIN: &str = "user: admin\npassword: MARKER-s3cret\n";

/// A scratch directory with a private TMPDIR (`tmp/`), a state directory
/// for scripts, and `secrets.yaml` (the encryption of [`PLAIN`]).
fn setup() -> Scratch {
    let s = Scratch::new();
    fs::create_dir(s.path("tmp")).unwrap();
    fs::create_dir(s.path("state")).unwrap();
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"]),
        "encrypt",
    );
    s.write("secrets.yaml", &enc);
    fs::remove_file(s.path("plain.yaml")).unwrap();
    s
}

/// Writes an executable shell script.
fn script(s: &Scratch, name: &str, body: &str) -> PathBuf {
    let p = s.write(name, format!("#!/bin/sh\n{body}").as_bytes());
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// What is left in `tmp/` (names, recursively, with their modes).
fn tmp_contents(s: &Scratch) -> Vec<(String, u32)> {
    fn walk(dir: &Path, out: &mut Vec<(String, u32)>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let meta = fs::symlink_metadata(e.path()).unwrap();
            out.push((
                e.path().display().to_string(),
                meta.permissions().mode() & 0o777,
            ));
            if meta.is_dir() {
                walk(&e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&s.path("tmp"), &mut out);
    out
}

/// Starts `rsops edit secrets.yaml` with an editor that marks that it
/// started (writing its pid) and sleeps.
fn start_sleeping_edit(s: &Scratch) -> (Child, PathBuf) {
    let marker = s.path("state/editor-pid");
    let _ = fs::remove_file(&marker);
    let editor = script(
        s,
        "slow.sh",
        &format!(
            "sed -i 's/MARKER-s3cret/MARKER-edited/' \"$1\"\necho $$ > '{m}.tmp'; mv '{m}.tmp' '{m}'\nexec sleep 30\n",
            m = marker.display()
        ),
    );
    let child = s
        .rsops_command()
        .env("TMPDIR", s.path("tmp"))
        .env("SOPS_EDITOR", &editor)
        .args(["edit", "secrets.yaml"])
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
        std::thread::sleep(Duration::from_millis(10));
    }
    (child, marker)
}

fn kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

#[test]
fn every_catchable_signal_during_edit_removes_the_plaintext() {
    let s = setup();
    let before = fs::read(s.path("secrets.yaml")).unwrap();
    for signal in [
        "QUIT", "USR1", "USR2", "ALRM", "HUP", "INT", "TERM", "PWR", "RTMIN+3",
    ] {
        let (child, _) = start_sleeping_edit(&s);
        // While the editor runs, the plaintext is in tmp/: 0700 directory,
        // 0600 file and the lock.
        let during = tmp_contents(&s);
        assert_eq!(during.len(), 3, "{during:?}");
        assert!(during.iter().all(|(_, m)| *m == 0o700 || *m == 0o600));
        kill(child.id(), signal);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "SIG{signal}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("User canceled operation"),
            "SIG{signal}: {err}"
        );
        assert!(!err.contains("MARKER"), "{err}");
        assert!(tmp_contents(&s).is_empty(), "SIG{signal}");
        assert_eq!(fs::read(s.path("secrets.yaml")).unwrap(), before);
    }
}

#[test]
fn a_private_directory_left_by_sigkill_is_removed_by_the_next_run() {
    let s = setup();
    let before = fs::read(s.path("secrets.yaml")).unwrap();
    let (mut child, marker) = start_sleeping_edit(&s);
    kill(child.id(), "KILL");
    child.wait().unwrap();
    let editor: u32 = fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    kill(editor, "KILL");
    // The plaintext outlived rsops, but only as 0600 in a 0700 directory.
    let left = tmp_contents(&s);
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(left.iter().all(|(_, m)| *m == 0o700 || *m == 0o600));
    assert_eq!(fs::read(s.path("secrets.yaml")).unwrap(), before);
    // The next run that makes a private directory removes it.
    let out = s.run_env(
        Path::new(env!("CARGO_BIN_EXE_rsops")),
        &[
            "exec-file",
            "--no-fifo",
            "secrets.yaml",
            "grep -c MARKER {}",
        ],
        Some(&demo_key_file()),
        &[("TMPDIR", s.path("tmp").as_os_str())],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&ok(&out, "exec-file")), "1\n");
    assert!(tmp_contents(&s).is_empty(), "{:?}", tmp_contents(&s));
}

/// Runs rsops with `args`, as `nobody` when the tests run as root.
fn rsops_unprivileged(s: &Scratch, args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = s.rsops_command();
    if nix::unistd::geteuid().is_root() {
        fs::set_permissions(s.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        cmd.uid(65534).gid(65534);
    }
    cmd.args(args).output().unwrap()
}

#[test]
fn no_core_dump_and_no_access_to_the_memory_of_rsops() {
    let s = setup();
    fs::set_permissions(s.path("secrets.yaml"), fs::Permissions::from_mode(0o644)).unwrap();
    // The shell's parent is rsops.
    let out = rsops_unprivileged(
        &s,
        &[
            "exec-env",
            "secrets.yaml",
            "grep 'Max core file size' /proc/$PPID/limits; stat -c %u /proc/$PPID/environ; id -u; cat /proc/$PPID/environ >/dev/null 2>&1 && echo readable || echo denied",
        ],
    );
    let text = String::from_utf8(ok(&out, "exec-env")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let soft = lines[0].split_whitespace().nth(4);
    assert_eq!(soft, Some("0"), "{text}");
    // A non-dumpable process's /proc entries belong to root, not to the
    // user it runs as, and its environment (like its memory) cannot be
    // read by other processes of that user.
    assert_ne!(lines[2], "0", "the check needs an unprivileged rsops");
    assert_eq!(lines[1], "0", "rsops is dumpable: {text}");
    assert_eq!(lines[3], "denied", "{text}");
}

#[test]
fn children_do_not_get_the_key_variables_unless_asked() {
    let s = setup();
    let show = r#"printf '%s|%s|%s' "${SOPS_AGE_KEY_FILE-unset}" "${SOPS_AGE_KEY-unset}" "$user""#;
    let env: [(&str, &OsStr); 1] = [("SOPS_AGE_KEY", OsStr::new("AGE-SECRET-KEY-NOT-A-KEY"))];
    let run = |args: &[&str]| {
        let out = s.run_env(
            Path::new(env!("CARGO_BIN_EXE_rsops")),
            args,
            Some(&demo_key_file()),
            &env,
            None,
        );
        String::from_utf8(ok(&out, "exec")).unwrap()
    };
    assert_eq!(
        run(&["exec-env", "secrets.yaml", show]),
        "unset|unset|admin"
    );
    let file_show = format!("{show}; grep -c MARKER {{}}");
    assert_eq!(
        run(&["exec-file", "secrets.yaml", &file_show]),
        "unset|unset|1\n"
    );
    let kept = run(&["exec-env", "--keep-key-env", "secrets.yaml", show]);
    let key_file = demo_key_file().display().to_string();
    assert_eq!(kept, format!("{key_file}|AGE-SECRET-KEY-NOT-A-KEY|admin"));
    // A value of the file with such a name is the file's.
    let s2 = Scratch::new();
    s2.write("p.yaml", b"SOPS_AGE_KEY: from-the-file\n");
    let enc = ok(
        &s2.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "p.yaml"]),
        "encrypt",
    );
    s2.write("e.yaml", &enc);
    let out = s2.rsops(&["exec-env", "e.yaml", "printf %s \"$SOPS_AGE_KEY\""]);
    assert_eq!(ok(&out, "exec-env"), b"from-the-file");
}

#[test]
fn the_path_is_quoted_for_the_shell() {
    let s = setup();
    let tmp = s.path("tmp/a dir $(touch pwned) 'q'");
    fs::create_dir(&tmp).unwrap();
    for extra in [&[][..], &["--no-fifo"][..]] {
        let mut args = vec!["exec-file"];
        args.extend_from_slice(extra);
        args.extend([
            "--filename",
            "x;touch pwned2",
            "secrets.yaml",
            "grep -c MARKER {}",
        ]);
        let out = s.run_env(
            Path::new(env!("CARGO_BIN_EXE_rsops")),
            &args,
            Some(&demo_key_file()),
            &[("TMPDIR", tmp.as_os_str())],
            None,
        );
        assert_eq!(String::from_utf8_lossy(&ok(&out, "exec-file")), "1\n");
    }
    assert!(!s.path("pwned").exists() && !s.path("pwned2").exists());
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn exec_file_user_switches_before_creating_anything() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("note: --user needs root; skipped");
        return;
    }
    let s = setup();
    fs::set_permissions(s.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(s.path("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    for extra in [&[][..], &["--no-fifo"][..]] {
        let mut args = vec!["exec-file", "--user", "nobody"];
        args.extend_from_slice(extra);
        args.extend([
            "secrets.yaml",
            "stat -c '%u %a' {} \"$(dirname {})\" \"$(dirname {})/.lock\"; grep -c MARKER {}; id -u; echo $HOME",
        ]);
        let out = s.run_env(
            Path::new(env!("CARGO_BIN_EXE_rsops")),
            &args,
            Some(&demo_key_file()),
            &[("TMPDIR", s.path("tmp").as_os_str())],
            None,
        );
        let text = String::from_utf8(ok(&out, "exec-file --user")).unwrap();
        assert_eq!(
            text, "65534 600\n65534 700\n65534 600\n1\n65534\n/nonexistent\n",
            "{extra:?}"
        );
        assert!(tmp_contents(&s).is_empty());
    }
    let out = s.rsops(&[
        "exec-file",
        "--user",
        "no-such-user-x",
        "secrets.yaml",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown user no-such-user-x"));
}

#[test]
fn edit_without_a_terminal_gives_up_after_three_attempts() {
    let s = setup();
    let before = fs::read(s.path("secrets.yaml")).unwrap();
    let count = s.path("state/count");
    let editor = script(
        &s,
        "broken.sh",
        &format!(
            "n=$(cat '{c}' 2>/dev/null || echo 0); echo $((n+1)) > '{c}'\necho 'broken: [unclosed' >> \"$1\"\n",
            c = count.display()
        ),
    );
    let start = Instant::now();
    let out = s
        .rsops_command()
        .env("TMPDIR", s.path("tmp"))
        .env("SOPS_EDITOR", &editor)
        .args(["edit", "secrets.yaml"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the edited content is not valid after 3 attempt(s): Could not load tree"),
        "{err}"
    );
    assert!(err.contains("the file was not changed"), "{err}");
    assert!(!err.contains("MARKER"), "{err}");
    assert_eq!(fs::read_to_string(&count).unwrap().trim(), "3");
    assert_eq!(fs::read(s.path("secrets.yaml")).unwrap(), before);
    assert!(tmp_contents(&s).is_empty());
}
