//! The shell examples of `README.md` and every `docs/*.md`, run, so that
//! they cannot drift from what rsops does.
//!
//! # Which blocks
//!
//! A fenced block whose language is `console`, `sh`, `bash` or `shell` is a
//! shell example. A ```` ```console ```` block is run. Any shell example that
//! is not run (an sh/bash block, or a console block that needs a cloud
//! account, a cluster, a network or the whole test suite) must say why on
//! the line right before its fence:
//!
//! ```text
//! <!-- not run: needs an AWS account -->
//! ```
//!
//! An unmarked shell example that is not a console block, or a marker
//! without a reason, fails the test.
//!
//! # Console blocks
//!
//! * `$ COMMAND` runs `COMMAND` with `sh -c`; a command line ending in `\`
//!   continues on the next line.
//! * The lines after it, up to the next `$ ` line, are what a terminal
//!   shows: standard output and standard error together, in the order they
//!   were written. A line `...` stands for any number of lines (also none),
//!   `[..]` inside a line for any text within that line.
//! * A last line `[exit N]` says the command exits with status N; without
//!   it the command must succeed (exit 0).
//! * Exported variables and the working directory carry over from one
//!   command to the next (`export X=1`, `cd dir`), through the whole
//!   document, as in one terminal session.
//! * A command that runs longer than a minute fails (exit 124).
//!
//! # Files
//!
//! A fenced block of any language preceded by `<!-- file: NAME -->` is
//! written to `NAME` (relative to the current working directory) when the
//! document gets there, so the commands after it can read it.
//!
//! # Environment
//!
//! One scratch directory per document; it is also `HOME`, and every
//! occurrence of its path in an output is shown as `~`. It starts with:
//!
//! * the TEST-ONLY demo age key as the default keys file
//!   (`~/.config/sops/age/keys.txt`; no `SOPS_AGE_KEY_FILE` is set), except
//!   for `README.md`, whose examples name the demo key themselves;
//! * a `.sops.yaml` whose one rule encrypts to the demo key;
//! * `rsops` on `PATH`, no `SOPS_*` or cloud variables;
//! * for `README.md`, which starts in a clone of the repository, `~/rsops`
//!   with the demo files (`.sops.yaml`, `scripts/demo.sh`,
//!   `testdata/demo-*`) as the working directory, and `cargo` on `PATH` a stub
//!   that accepts only `cargo build --release -p rsops-cli`, does nothing
//!   (the rsops under test is already built) and leaves it as
//!   `$CARGO_TARGET_DIR/release/rsops`, so `./scripts/demo.sh` runs as is.
//!
//! The examples also run `git`, `age-keygen` and the reference `sops`
//! 3.11, which `scripts/test.sh` installs.

use std::path::{Path, PathBuf};

use crate::common::{demo_key_file, Scratch, DEMO_RECIPIENT};

/// The documents checked: the README, then every `docs/*.md`.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("read docs/")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    docs.insert(0, root.join("README.md"));
    docs
}

/// How long one command may run (`timeout`'s argument; it exits 124).
const COMMAND_TIMEOUT: &str = "60";

/// The languages of shell examples.
const SHELL: &[&str] = &["console", "sh", "bash", "shell"];

/// One command of a console block.
#[derive(Debug, PartialEq)]
struct Step {
    /// The command line(s), as given to `sh -c`.
    command: String,
    /// The expected terminal lines.
    want: Vec<String>,
    /// The expected exit status.
    status: i32,
}

/// What a document asks for, in order.
#[derive(Debug, PartialEq)]
enum Item {
    /// Write a file.
    File { name: String, content: String },
    /// Run a console block.
    Run { line: usize, steps: Vec<Step> },
    /// A shell example not run, with the reason.
    Skipped,
    /// A shell example that is neither run nor marked.
    Unmarked { line: usize, why: String },
}

/// The marker `<!-- KIND: VALUE -->` on `line`, if it is one.
fn marker<'a>(line: &'a str, kind: &str) -> Option<&'a str> {
    line.trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim()
        .strip_prefix(kind)?
        .strip_prefix(':')
        .map(str::trim)
}

/// The items of a markdown text.
fn parse(text: &str) -> Vec<Item> {
    let lines: Vec<&str> = text.lines().collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].strip_prefix("```") else {
            i += 1;
            continue;
        };
        let lang = lang.trim().to_owned();
        let start = i;
        let end = (i + 1..lines.len())
            .find(|&j| lines[j].trim_end() == "```")
            .unwrap_or_else(|| panic!("line {}: unclosed code block", start + 1));
        let body = &lines[start + 1..end];
        i = end + 1;
        let before = start.checked_sub(1).map(|j| lines[j]).unwrap_or_default();
        if let Some(name) = marker(before, "file") {
            let mut content = body.join("\n");
            content.push('\n');
            items.push(Item::File {
                name: name.to_owned(),
                content,
            });
            continue;
        }
        if !SHELL.contains(&lang.as_str()) {
            continue;
        }
        match marker(before, "not run") {
            Some("") => items.push(Item::Unmarked {
                line: start + 1,
                why: "a `not run` marker needs a reason".into(),
            }),
            Some(_) => items.push(Item::Skipped),
            None if lang == "console" => items.push(Item::Run {
                line: start + 1,
                steps: steps(body, start + 2),
            }),
            None => items.push(Item::Unmarked {
                line: start + 1,
                why: format!(
                    "a ```{lang} block: make it a ```console transcript, or mark it <!-- not run: REASON -->"
                ),
            }),
        }
    }
    items
}

/// The steps of a console block whose first line is line `first`.
fn steps(body: &[&str], first: usize) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut continued = false;
    for (n, line) in body.iter().enumerate() {
        if continued {
            let step = out.last_mut().expect("a continued command");
            step.command.push('\n');
            step.command.push_str(line);
            continued = line.ends_with('\\');
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            out.push(Step {
                command: command.to_owned(),
                want: Vec::new(),
                status: 0,
            });
            continued = command.ends_with('\\');
            continue;
        }
        let step = out.last_mut().unwrap_or_else(|| {
            panic!(
                "line {}: a console block starts with a `$ ` line",
                first + n
            )
        });
        step.want.push((*line).to_owned());
    }
    for step in &mut out {
        let last = step.want.last().map(String::as_str);
        if let Some(code) = last
            .and_then(|l| l.strip_prefix("[exit "))
            .and_then(|l| l.strip_suffix(']'))
        {
            step.status = code.parse().expect("[exit N] with a number");
            step.want.pop();
        }
    }
    out
}

/// Whether the line `got` matches the pattern line `want` (`[..]`: any text).
fn line_matches(want: &str, got: &str) -> bool {
    let mut parts = want.split("[..]");
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = got.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Whether `got` matches `want`, where a `...` line matches any lines.
fn matches(want: &[String], got: &[&str]) -> bool {
    match want.split_first() {
        None => got.is_empty(),
        Some((w, rest)) if w == "..." => (0..=got.len()).any(|k| matches(rest, &got[k..])),
        Some((w, rest)) => got
            .split_first()
            .is_some_and(|(g, got_rest)| line_matches(w, g) && matches(rest, got_rest)),
    }
}

/// The command as run: the session state (exported variables, working
/// directory) restored before it and saved after it; stderr into stdout.
fn script(command: &str, state: &Path) -> String {
    let state = state.display();
    format!(
        "if [ -f '{state}' ]; then . '{state}'; fi\nexec 2>&1\n{command}\n\
         __rsops_status=$?\n{{ export -p; printf \"cd '%s'\\n\" \"$(pwd)\"; }} > '{state}'\n\
         exit $__rsops_status\n"
    )
}

/// Copies the repository's demo files into `dir`, and puts a `cargo` stub
/// into `bin` for `./scripts/demo.sh`.
fn readme_setup(dir: &Path, bin: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for name in [
        ".sops.yaml",
        "scripts/demo.sh",
        "testdata/demo-age-key.txt",
        "testdata/demo-secret.yaml",
        "testdata/demo-secret.enc.yaml",
    ] {
        let to = dir.join(name);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(root.join(name), &to).expect("copy a demo file");
    }
    let release = dir.join("target/release");
    std::fs::create_dir_all(&release).expect("mkdir");
    super::ecosystem::install_as(&release, "rsops");
    let stub = bin.join("cargo");
    std::fs::write(
        &stub,
        "#!/bin/sh\n[ \"$*\" = 'build --release -p rsops-cli' ] && exit 0\n\
         echo \"cargo stub: unexpected cargo $*\" >&2\nexit 1\n",
    )
    .expect("write the cargo stub");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Runs the items of one document; returns the number of commands run and
/// the failures.
fn run_document(name: &str, items: Vec<Item>) -> (usize, Vec<String>) {
    let s = Scratch::new();
    let home = s.dir.path().to_path_buf();
    if name != "README.md" {
        let keys = home.join(".config/sops/age/keys.txt");
        std::fs::create_dir_all(keys.parent().expect("parent")).expect("mkdir");
        std::fs::copy(demo_key_file(), &keys).expect("install the demo key");
    }
    s.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {DEMO_RECIPIENT}\n").as_bytes(),
    );
    let bin = s.path(".docs-bin");
    super::ecosystem::install_as(&bin, "rsops");
    let state = s.path(".docs-state");
    let mut cwd = home.clone();
    let mut env: Vec<(&str, std::ffi::OsString)> = Vec::new();
    if name == "README.md" {
        cwd = home.join("rsops");
        readme_setup(&cwd, &bin);
        env.push(("CARGO_TARGET_DIR", cwd.join("target").into_os_string()));
        std::fs::write(&state, format!("cd '{}'\n", cwd.display())).expect("write the state");
    }
    let search = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    env.push(("PATH", search));
    let shown = home.display().to_string();

    let mut ran = 0;
    let mut failures = Vec::new();
    for item in items {
        match item {
            Item::File { name, content } => {
                let path = cwd.join(&name);
                std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                std::fs::write(&path, content).expect("write an example file");
            }
            Item::Skipped => {}
            Item::Unmarked { line, why } => failures.push(format!("{name}:{line}: {why}")),
            Item::Run { line, steps } => {
                for step in steps {
                    let env: Vec<(&str, &std::ffi::OsStr)> =
                        env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
                    let script = script(&step.command, &state);
                    let out = s.run_env(
                        Path::new("timeout"),
                        &[COMMAND_TIMEOUT, "sh", "-c", &script],
                        None,
                        &env,
                        None,
                    );
                    if let Ok(saved) = std::fs::read_to_string(&state) {
                        if let Some(dir) = saved
                            .lines()
                            .last()
                            .and_then(|l| l.strip_prefix("cd '"))
                            .and_then(|l| l.strip_suffix('\''))
                        {
                            cwd = PathBuf::from(dir);
                        }
                    }
                    let text = String::from_utf8_lossy(&out.stdout).replace(&shown, "~");
                    let got: Vec<&str> = text.lines().collect();
                    let status = out.status.code().unwrap_or(-1);
                    if status != step.status || !matches(&step.want, &got) {
                        failures.push(format!(
                            "{name}:{line}: `{}` exited {status} and showed\n{text}\
                             instead of (exit {})\n{}\n",
                            step.command,
                            step.status,
                            step.want.join("\n")
                        ));
                    }
                    ran += 1;
                }
            }
        }
    }
    (ran, failures)
}

#[test]
fn the_docs_shell_examples_run_or_say_why_not() {
    let mut ran = 0;
    let mut failures = Vec::new();
    for path in documents() {
        let name = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("read a document");
        let (n, f) = run_document(&name, parse(&text));
        ran += n;
        failures.extend(f);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(ran >= 40, "only {ran} example commands found");
}

#[test]
fn the_example_matcher_is_strict() {
    let w = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(matches(&w(&["a", "...", "z"]), &["a", "b", "c", "z"]));
    assert!(matches(&w(&["a", "...", "z"]), &["a", "z"]));
    assert!(!matches(&w(&["a", "...", "z"]), &["a", "b"]));
    assert!(matches(
        &w(&["...", "b", "...", "d"]),
        &["a", "b", "c", "d"]
    ));
    assert!(!matches(&w(&["a"]), &["a", "b"]));
    assert!(matches(&w(&[]), &[]));
    assert!(matches(&w(&["x: [..]"]), &["x: ENC[abc]"]));
    assert!(matches(&w(&["[..]=[..];"]), &["a=b;"]));
    assert!(!matches(&w(&["x: [..]!"]), &["x: abc"]));
    assert!(!matches(&w(&["ab[..]ba"]), &["aba"]));
    assert!(!matches(&w(&["a"]), &["ab"]));
}

#[test]
fn markers_exit_codes_and_continuations_are_read() {
    let doc = "<!-- file: a.yaml -->\n```yaml\nk: v\n```\n\n\
               ```sh\nrm -rf /\n```\n\
               <!-- not run: needs a cluster -->\n```sh\nkubectl apply\n```\n\
               <!-- not run: -->\n```console\n$ true\n```\n\
               ```console\n$ false \\\n  x\n[exit 1]\n$ echo a\na\n```\n";
    let items = parse(doc);
    assert_eq!(
        items[0],
        Item::File {
            name: "a.yaml".into(),
            content: "k: v\n".into()
        }
    );
    assert!(matches!(items[1], Item::Unmarked { line: 6, .. }));
    assert_eq!(items[2], Item::Skipped);
    assert!(matches!(items[3], Item::Unmarked { .. }));
    let Item::Run { steps, .. } = &items[4] else {
        panic!("{:?}", items[4])
    };
    assert_eq!(
        steps[0],
        Step {
            command: "false \\\n  x".into(),
            want: vec![],
            status: 1
        }
    );
    assert_eq!(steps[1].want, ["a"]);
}
