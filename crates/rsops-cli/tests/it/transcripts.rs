//! Transcripts of every error row of sops's exit-code table: one `trycmd`
//! case per command line under `tests/cmd/<area>/*.toml`, each pinning the
//! exact stderr, the exact (empty) stdout and the exact exit code of `rsops`.
//!
//! Areas: `decrypt`, `encrypt`, `rotate`, `edit`, `set-unset`, `other` for
//! the subcommands, and `legacy-decrypt` (`-d`), `legacy-encrypt` (`-e`),
//! `legacy-rotate` (`-r`), `legacy-edit` (`sops FILE`) for the legacy forms.
//! A case file's name starts with the exit code it pins. Every case runs in
//! a fresh copy of `tests/cmd/fixtures/` (`fs.sandbox`) with an empty
//! environment (`env.inherit = false`) plus what the case adds; a
//! `<case>.stdin` file beside a case is its standard input (it may hold the
//! marker: that is the point).
//!
//! # Re-blessing
//!
//! When a message changes on purpose, regenerate the snapshots with
//!
//! ```text
//! TRYCMD=overwrite cargo test -p rsops-cli --test it transcripts
//! ```
//!
//! and review the diff. The cases contain no redaction (`[..]`, `...`):
//! nothing in these error paths varies from run to run, and an exact
//! snapshot is what proves that no secret can hide in a message. Keep it
//! that way (the checks below refuse a redaction); if a message starts to
//! vary, make it stable rather than redacting it. Keep `stdout`/`stderr` as
//! the last keys of a case file: the small reader below stops there.
//!
//! # What else is checked
//!
//! * [`no_case_shows_the_marker`]: every case is run again outside trycmd
//!   and its stdout and stderr are searched for the marker secret that the
//!   fixtures hold (`MARKER-SECRET-7f3a`).
//! * [`every_exit_code_is_covered`]: each error row of the table has a case.
//! * [`exit_codes_match_sops`]: the same command line, with the same
//!   fixtures and environment, is run with the reference sops 3.11 and the
//!   exit codes are compared. Where rsops differs, the case file says so in
//!   a `# sops-exit: N (why)` line (deliberate, or a known bug); such a line
//!   that no longer differs fails the test too, so notes cannot go stale.
//!   Under `CI=true` a missing sops fails the test.
//!
//! # Exit code 21 (ErrorEncryptingMac) has no case
//!
//! sops fails to encrypt the MAC only when AES-GCM cannot be set up with
//! the file's data key, that is when the key is not 16, 24 or 32 bytes
//! long (files written by sops 3.0 carry 31-byte keys), or when the
//! system's random source fails (no test can arrange that); and only when no
//! value had to be encrypted before the MAC (otherwise the tree fails first,
//! exit 23). sops reaches it with `set --ignore-mac` or `edit --ignore-mac`
//! on such a file whose values are all unencrypted. rsops checks the length
//! of the data key once, when it recovers the key, and refuses any key that
//! is not 32 bytes (exit 1): it never gets to encrypt a MAC with such a key,
//! and a 32-byte key cannot make AES-GCM fail. The two command lines that
//! exit 21 in sops are pinned with rsops's exit 1
//! (`set-unset/001-set-short-data-key-ignore-mac.toml`,
//! `edit/001-short-data-key-ignore-mac.toml`).
//!
//! The rows marked "defined, not used" in the table (5, 24, 52, 61, 85,
//! 111) have no case: sops never exits with them.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The secret that the plaintext fixtures hold and no error may show.
const MARKER: &str = "MARKER-SECRET-7f3a";

/// The error rows of the exit-code table that a case must pin (21: see the
/// module documentation).
const ERROR_CODES: [i32; 20] = [
    1, 2, 3, 4, 6, 7, 8, 23, 25, 49, 51, 91, 92, 100, 112, 128, 200, 201, 202, 203,
];

fn cmd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd")
}

fn rsops() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rsops"))
}

#[test]
fn transcripts() {
    trycmd::TestCases::new()
        .register_bin("rsops", rsops())
        .timeout(std::time::Duration::from_secs(60))
        .case("tests/cmd/*/*.toml");
}

/// What the checks below need from a case file.
#[derive(Debug)]
struct Case {
    path: PathBuf,
    text: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    code: i32,
    /// `# sops-exit: N (why)`: sops exits N where rsops exits `code`.
    sops_exit: Option<i32>,
    base: PathBuf,
}

impl Case {
    fn name(&self) -> String {
        self.path
            .strip_prefix(cmd_dir())
            .unwrap_or(&self.path)
            .display()
            .to_string()
    }
}

/// Every case file, sorted.
fn cases() -> Vec<Case> {
    let mut paths = Vec::new();
    for area in std::fs::read_dir(cmd_dir()).expect("tests/cmd") {
        let area = area.expect("entry").path();
        if !area.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&area).expect("area") {
            let file = file.expect("entry").path();
            if file.extension().is_some_and(|e| e == "toml") {
                paths.push(file);
            }
        }
    }
    paths.sort();
    assert!(paths.len() > 50, "too few cases found: {}", paths.len());
    paths.iter().map(|p| parse_case(p)).collect()
}

/// Reads the subset of trycmd's TOML schema that the cases use; anything
/// else before `stdout`/`stderr` is refused, so a case cannot silently run
/// differently here than under trycmd.
fn parse_case(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).expect("case file");
    let what = path.display();
    let mut args = None;
    let mut env = Vec::new();
    let mut code = None;
    let mut sops_exit = None;
    let mut base = None;
    let mut inherit = None;
    let mut sandbox = None;
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("# sops-exit:") {
            let n = rest.split_whitespace().next().unwrap_or_default();
            sops_exit = Some(n.parse::<i32>().unwrap_or_else(|_| {
                panic!("{what}: `# sops-exit: N (why)` expected, got {line:?}")
            }));
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(" = ")
            .unwrap_or_else(|| panic!("{what}: unexpected line {line:?}"));
        match key {
            "stdout" | "stderr" => break,
            "bin.name" => assert_eq!(value, "\"rsops\"", "{what}: bin.name"),
            "args" => args = Some(parse_string_array(value, path)),
            "env.inherit" => inherit = Some(value == "true"),
            "fs.sandbox" => sandbox = Some(value == "true"),
            "fs.base" => base = Some(path.parent().unwrap().join(parse_string(value, path))),
            "status.code" => code = Some(value.parse::<i32>().expect("status.code")),
            _ => match key.strip_prefix("env.add.") {
                Some(name) => env.push((name.to_owned(), parse_string(value, path))),
                None => panic!("{what}: key {key:?} is not understood by this reader"),
            },
        }
    }
    assert_eq!(
        inherit,
        Some(false),
        "{what}: cases need env.inherit = false"
    );
    assert_eq!(sandbox, Some(true), "{what}: cases need fs.sandbox = true");
    let stdin_path = path.with_extension("stdin");
    Case {
        path: path.to_owned(),
        args: args.unwrap_or_else(|| panic!("{what}: no args")),
        env,
        stdin: stdin_path
            .exists()
            .then(|| std::fs::read(&stdin_path).expect("stdin file")),
        code: code.unwrap_or_else(|| panic!("{what}: no status.code")),
        sops_exit,
        base: base.unwrap_or_else(|| panic!("{what}: no fs.base")),
        text,
    }
}

/// A TOML basic string (`"…"` with `\"`, `\\`, `\n`, `\t` escapes).
fn parse_string(value: &str, path: &Path) -> String {
    let (s, rest) = take_string(value.trim(), path);
    assert!(
        rest.trim().is_empty(),
        "{}: trailing {rest:?}",
        path.display()
    );
    s
}

fn take_string<'a>(value: &'a str, path: &Path) -> (String, &'a str) {
    let what = path.display();
    let mut chars = value.char_indices();
    assert_eq!(
        chars.next().map(|c| c.1),
        Some('"'),
        "{what}: string expected in {value:?}"
    );
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &value[i + 1..]),
            '\\' => match chars.next().map(|c| c.1) {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                other => panic!("{what}: escape {other:?} is not understood by this reader"),
            },
            c => out.push(c),
        }
    }
    panic!("{what}: unterminated string in {value:?}")
}

/// A one-line array of basic strings.
fn parse_string_array(value: &str, path: &Path) -> Vec<String> {
    let what = path.display();
    let mut rest = value
        .trim()
        .strip_prefix('[')
        .unwrap_or_else(|| panic!("{what}: array expected"))
        .trim_start();
    let mut out = Vec::new();
    loop {
        if let Some(after) = rest.strip_prefix(']') {
            assert!(after.trim().is_empty(), "{what}: trailing {after:?}");
            return out;
        }
        let (s, after) = take_string(rest, path);
        out.push(s);
        rest = after.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
}

/// Copies the fixtures like trycmd's sandbox does (`.keep` files skipped).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixtures") {
        let entry = entry.expect("entry");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&src, &dst);
        } else if entry.file_name() != ".keep" {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// Runs `program` with the case's arguments, environment and stdin in a
/// fresh copy of its fixtures. A command still running after a minute (an
/// editor waiting for a terminal, say) is killed with its process group.
fn run(case: &Case, program: &Path) -> Result<Output, String> {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&case.base, dir.path());
    let mut child = Command::new(program)
        .args(&case.args)
        .env_clear()
        .envs(case.env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir.path())
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = drain(child.stdout.take().expect("stdout"));
    let stderr = drain(child.stderr.take().expect("stderr"));
    {
        let mut input = child.stdin.take().expect("stdin");
        if let Some(data) = &case.stdin {
            // A command that exits before reading closes the pipe.
            let _ = input.write_all(data);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            return Err(format!("{} timed out", program.display()));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    })
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

#[test]
fn no_case_shows_the_marker() {
    // The marker is really there to be leaked: the fixtures hold it, and a
    // successful decrypt with the same setup prints it.
    let fixtures = cmd_dir().join("fixtures");
    let plain = std::fs::read_to_string(fixtures.join("plain.yaml")).expect("plain.yaml");
    assert!(plain.contains(MARKER));
    let control = Case {
        path: fixtures.join("control"),
        text: String::new(),
        args: vec!["decrypt".into(), "secret.enc.yaml".into()],
        env: vec![
            ("HOME".into(), "/nonexistent".into()),
            ("SOPS_AGE_KEY_FILE".into(), "key.txt".into()),
        ],
        stdin: None,
        code: 0,
        sops_exit: None,
        base: fixtures,
    };
    let out = run(&control, &rsops()).expect("control decrypt");
    assert!(
        out.status.success(),
        "control decrypt failed: {:?}",
        out.status
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(MARKER));

    let mut failures = Vec::new();
    for case in cases() {
        // The snapshot itself: no marker, and no redaction that could
        // hide one (trycmd's `[..]` and `...`).
        let mut snapshots = vec![case.text.clone()];
        for ext in ["stdout", "stderr"] {
            if let Ok(s) = std::fs::read_to_string(case.path.with_extension(ext)) {
                snapshots.push(s);
            }
        }
        for s in &snapshots {
            if s.contains(MARKER) || s.contains("[..]") || s.lines().any(|l| l.trim() == "...") {
                failures.push(format!(
                    "{}: marker or redaction in the case file",
                    case.name()
                ));
            }
        }
        // The command itself, outside trycmd.
        let out = match run(&case, &rsops()) {
            Ok(out) => out,
            Err(e) => {
                failures.push(format!("{}: {e}", case.name()));
                continue;
            }
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.code() != Some(case.code) {
            failures.push(format!(
                "{}: exit {:?}, expected {}",
                case.name(),
                out.status.code(),
                case.code
            ));
        }
        if stderr.contains(MARKER) {
            failures.push(format!("{}: marker in stderr: {stderr}", case.name()));
        }
        if !out.status.success() && stdout.contains(MARKER) {
            failures.push(format!("{}: marker in stdout of a failure", case.name()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_exit_code_is_covered() {
    let cases = cases();
    let pinned: BTreeSet<i32> = cases.iter().map(|c| c.code).collect();
    let missing: Vec<i32> = ERROR_CODES
        .iter()
        .copied()
        .filter(|c| !pinned.contains(c))
        .collect();
    assert!(missing.is_empty(), "no case pins exit code(s) {missing:?}");
    for case in &cases {
        assert_ne!(case.code, 0, "{}: not an error case", case.name());
        let prefix = format!("{:03}-", case.code);
        let file = case.path.file_name().unwrap().to_string_lossy();
        assert!(
            file.starts_with(&prefix),
            "{}: the file name should start with {prefix}",
            case.name()
        );
    }
}

/// The reference sops as an absolute path (the cases run with an empty
/// environment, so PATH cannot be searched in the child).
fn sops_path() -> Option<PathBuf> {
    let mut found = crate::common::sops()?;
    if !found.is_absolute() {
        let path = std::env::var_os("PATH")?;
        found = std::env::split_paths(&path)
            .map(|dir| dir.join(&found))
            .find(|p| p.is_file())?;
    }
    // A pyenv shim puts its own PATH (with the system's editors) in front
    // of whatever the case sets: use the script behind it.
    let script = std::fs::read(&found).unwrap_or_default();
    if String::from_utf8_lossy(&script).contains("libexec/pyenv\" exec") {
        let real = Command::new("pyenv")
            .args(["which", "sops"])
            .output()
            .ok()
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .filter(|p| p.is_absolute());
        if let Some(real) = real {
            return Some(real);
        }
    }
    Some(found)
}

#[test]
fn exit_codes_match_sops() {
    let Some(sops) = sops_path() else {
        return;
    };
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for case in cases() {
        let (got, sops_stderr) = match run(&case, &sops) {
            Ok(out) => (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ),
            Err(e) => (None, e),
        };
        let expected = case.sops_exit.unwrap_or(case.code);
        table.push(format!(
            "{:<55} rsops {:>3}  sops {:>3?}{}",
            case.name(),
            case.code,
            got,
            if case.sops_exit.is_some() {
                "  (noted)"
            } else {
                ""
            }
        ));
        if got != Some(expected) {
            failures.push(format!(
                "{}: sops exits {got:?}, the case expects {expected}{}\n  sops stderr: {}",
                case.name(),
                if case.sops_exit.is_some() {
                    " (from its `# sops-exit:` note)"
                } else {
                    " (same as rsops)"
                },
                sops_stderr.trim_end()
            ));
        }
        if case.sops_exit == Some(case.code) {
            failures.push(format!(
                "{}: `# sops-exit:` notes a difference that is not one",
                case.name()
            ));
        }
    }
    eprintln!("{}", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
