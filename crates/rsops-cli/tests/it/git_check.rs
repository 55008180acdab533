//! `rsops check`, the pre-commit hook and the git drivers, with the real
//! `git` and the real `pre-commit` in temporary repositories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{demo_key_file, ok, sops, Scratch, DEMO_RECIPIENT};

/// A Kubernetes Secret in clear.
const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: c2VjcmV0\n  host: ZGIuZXhhbXBsZQ==\n";

/// The directory of the rsops binary under test.
fn rsops_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_rsops"))
        .parent()
        .expect("binary dir")
        .to_path_buf()
}

/// The Python that has the `pre_commit` module (`python3 -m pre_commit`).
/// Under `CI=true` a missing pre-commit fails the test instead of skipping.
fn pre_commit_python() -> Option<PathBuf> {
    for python in ["python3", "python"] {
        let out = Command::new(python)
            .args(["-c", "import sys, pre_commit; print(sys.executable)"])
            .stderr(Stdio::null())
            .output();
        if let Ok(out) = out {
            let exe = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if out.status.success() && !exe.is_empty() {
                return Some(PathBuf::from(exe));
            }
        }
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "pre-commit is required under CI=true (python3 -m pip install pre-commit)"
    );
    eprintln!("note: pre-commit not found; skipping the pre-commit test");
    None
}

/// A git repository in a scratch directory, with rsops on PATH, the demo
/// key, its own HOME and no system or global git config.
struct Repo {
    scratch: Scratch,
    dir: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        Repo::in_scratch(Scratch::new(), "work")
    }

    fn in_scratch(scratch: Scratch, name: &str) -> Repo {
        let dir = scratch.path(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let repo = Repo { scratch, dir };
        ok(&repo.git(&["init", "-q", "-b", "main"]), "git init");
        for (k, v) in [
            ("user.name", "rsops test"),
            ("user.email", "test@example.invalid"),
            ("commit.gpgsign", "false"),
        ] {
            ok(&repo.git(&["config", "--local", k, v]), "git config");
        }
        repo
    }

    fn command(&self, program: &Path, key: bool) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.dir);
        for (k, _) in std::env::vars_os() {
            let name = k.to_string_lossy();
            if name.starts_with("SOPS_") || name.starts_with("GIT_") || name == "PRE_COMMIT_HOME" {
                c.env_remove(&k);
            }
        }
        let home = self.scratch.dir.path();
        let path = std::env::join_paths(std::iter::once(rsops_dir()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )))
        .expect("PATH");
        c.env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("GNUPGHOME", home.join(".gnupg"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("PATH", path)
            .stdin(Stdio::null());
        if key {
            c.env("SOPS_AGE_KEY_FILE", demo_key_file());
        }
        c
    }

    fn run(&self, program: &Path, args: &[&str], key: bool) -> Output {
        self.command(program, key)
            .args(args)
            .output()
            .expect("spawn")
    }

    fn git(&self, args: &[&str]) -> Output {
        self.run(Path::new("git"), args, true)
    }

    fn rsops(&self, args: &[&str]) -> Output {
        self.run(Path::new(env!("CARGO_BIN_EXE_rsops")), args, true)
    }

    fn rsops_no_key(&self, args: &[&str]) -> Output {
        self.run(Path::new(env!("CARGO_BIN_EXE_rsops")), args, false)
    }

    fn write(&self, name: &str, content: &str) {
        let p = self.dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, content).expect("write");
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).expect("read")
    }

    /// `.sops.yaml`: files under secrets/ are encrypted for the demo key,
    /// only below `data`/`stringData`.
    fn sops_config(&self) {
        self.write(
            ".sops.yaml",
            &format!(
                "creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: {DEMO_RECIPIENT}\n"
            ),
        );
    }

    fn commit_all(&self, message: &str) {
        ok(&self.git(&["add", "-A"]), "git add");
        ok(&self.git(&["commit", "-q", "-m", message]), "git commit");
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Adds `user: YWRtaW4=` in clear under `data:` of an encrypted YAML file.
fn add_clear_user(content: &str) -> String {
    content.replacen("\ndata:\n", "\ndata:\n    user: YWRtaW4=\n", 1)
}

#[test]
fn check_refuses_plaintext_and_clear_values_without_keys() {
    let repo = Repo::new();
    repo.sops_config();
    repo.write("secrets/db.yaml", SECRET);
    repo.write("secrets/notes.txt", "not matched by any rule\n");
    repo.write("README.md", "hello\n");

    let out = repo.rsops_no_key(&["check", "secrets/db.yaml", "README.md", "secrets/notes.txt"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("secrets/db.yaml: not encrypted")
            && err.contains("fix: rsops encrypt -i secrets/db.yaml"),
        "{err}"
    );
    assert!(
        !err.contains("README.md") && !err.contains("notes.txt"),
        "{err}"
    );

    ok(
        &repo.rsops(&["encrypt", "-i", "secrets/db.yaml"]),
        "encrypt",
    );
    ok(
        &repo.rsops_no_key(&["check", "secrets/db.yaml"]),
        "check encrypted (no key)",
    );
    ok(
        &repo.rsops(&["check", "secrets/db.yaml"]),
        "check encrypted (key)",
    );
    // Directories are walked; the config file itself is never checked.
    ok(&repo.rsops_no_key(&["check", "."]), "check .");

    let encrypted = repo.read("secrets/db.yaml");
    repo.write("secrets/db.yaml", &add_clear_user(&encrypted));
    repo.write("secrets/other.yaml", "data:\n  k: v\n");
    let out = repo.rsops_no_key(&["check", "secrets"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            r#"secrets/db.yaml: value(s) in clear that must be encrypted: ["data"]["user"]"#
        ),
        "{err}"
    );
    assert!(err.contains("secrets/other.yaml: not encrypted"), "{err}");
    assert!(
        !err.contains("YWRtaW4="),
        "a value leaked into the message: {err}"
    );
    // One line per offending file, then the summary.
    assert_eq!(err.lines().count(), 3, "{err}");
}

#[test]
fn check_counts_files_and_warns_when_no_rule_matched() {
    let repo = Repo::new();
    repo.sops_config();
    repo.write("secrets/db.yaml", SECRET);
    repo.write("README.md", "hello\n");
    ok(
        &repo.rsops(&["encrypt", "-i", "secrets/db.yaml"]),
        "encrypt",
    );

    let out = repo.rsops_no_key(&["check", "secrets/db.yaml", "README.md"]);
    ok(&out, "check");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "rsops check: 1 file checked, all encrypted (1 file matched no creation rule)\n"
    );
    let out = repo.rsops_no_key(&["check", "--strict", "secrets/db.yaml"]);
    ok(&out, "check --strict");

    // A rule that matches nothing: a warning, and an error with --strict.
    let out = repo.rsops_no_key(&["check", "README.md", ".sops.yaml"]);
    ok(&out, "check, nothing matched");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "warning: no creation rule of .sops.yaml matched any of the 1 file: nothing was checked"
        ),
        "{err}"
    );
    let out = repo.rsops_no_key(&["check", "--strict", "README.md"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no creation rule of .sops.yaml matched any of the 1 file")
            && err.contains("hint: "),
        "{err}"
    );

    // Without any .sops.yaml.
    std::fs::remove_file(repo.dir.join(".sops.yaml")).expect("remove .sops.yaml");
    let out = repo.rsops_no_key(&["check", "README.md"]);
    ok(&out, "check without config");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no .sops.yaml found"),
        "{}",
        text(&out)
    );
    let out = repo.rsops_no_key(&["check", "--strict", "README.md"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn check_verifies_the_mac_only_when_a_key_opens_the_file() {
    let repo = Repo::new();
    repo.sops_config();
    repo.write("secrets/db.yaml", SECRET);
    ok(
        &repo.rsops(&["encrypt", "-i", "secrets/db.yaml"]),
        "encrypt",
    );
    // Removing an encrypted value keeps the structure valid but breaks the MAC.
    let content = repo.read("secrets/db.yaml");
    let tampered: String = content
        .lines()
        .filter(|l| !l.trim_start().starts_with("host:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(tampered, content);
    repo.write("secrets/db.yaml", &tampered);
    ok(
        &repo.rsops_no_key(&["check", "secrets/db.yaml"]),
        "check without key",
    );
    let out = repo.rsops(&["check", "secrets/db.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("secrets/db.yaml: MAC mismatch"),
        "{}",
        text(&out)
    );
}

#[test]
fn check_without_paths_checks_tracked_files() {
    let repo = Repo::new();
    repo.sops_config();
    repo.write("secrets/db.yaml", SECRET);
    // Untracked: not checked.
    let out = repo.rsops_no_key(&["check"]);
    ok(&out, "check with nothing tracked");
    ok(&repo.git(&["add", "secrets/db.yaml"]), "git add");
    let out = repo.rsops_no_key(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("secrets/db.yaml: not encrypted"));
}

/// Publishes `.pre-commit-hooks.yaml` of this repository in a hooks
/// repository of its own and returns (its path, its commit).
fn hooks_repo(scratch: Scratch) -> (Repo, String, String) {
    let hooks = Repo::in_scratch(scratch, "hooks");
    let manifest = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../.pre-commit-hooks.yaml"
    ))
    .expect(".pre-commit-hooks.yaml at the repository root");
    hooks.write(".pre-commit-hooks.yaml", &manifest);
    hooks.commit_all("hooks");
    let rev = String::from_utf8_lossy(&ok(&hooks.git(&["rev-parse", "HEAD"]), "rev-parse"))
        .trim()
        .to_owned();
    let path = hooks.dir.to_string_lossy().into_owned();
    (hooks, path, rev)
}

#[test]
fn pre_commit_hook_refuses_plaintext_and_clear_values() {
    let Some(python) = pre_commit_python() else {
        return;
    };
    let (hooks, hooks_path, rev) = hooks_repo(Scratch::new());
    let repo = Repo::in_scratch(hooks.scratch, "work");
    repo.sops_config();
    repo.write(
        ".pre-commit-config.yaml",
        &format!(
            "repos:\n  - repo: {hooks_path}\n    rev: {rev}\n    hooks:\n      - id: rsops-check\n"
        ),
    );
    let out = repo.run(&python, &["-m", "pre_commit", "install"], true);
    ok(&out, "pre-commit install");
    repo.commit_all("config");

    // A staged plaintext Secret is refused.
    repo.write("secrets/db.yaml", SECRET);
    ok(&repo.git(&["add", "secrets/db.yaml"]), "git add");
    let out = repo.git(&["commit", "-q", "-m", "plaintext"]);
    assert!(
        !out.status.success(),
        "plaintext commit accepted: {}",
        text(&out)
    );
    let all = text(&out);
    assert!(
        all.contains("secrets/db.yaml: not encrypted")
            && all.contains("rsops encrypt -i secrets/db.yaml"),
        "{all}"
    );

    // The encrypted one passes.
    ok(
        &repo.rsops(&["encrypt", "-i", "secrets/db.yaml"]),
        "encrypt",
    );
    repo.commit_all("encrypted secret");

    // A value added in clear to the encrypted file is refused.
    let encrypted = repo.read("secrets/db.yaml");
    repo.write("secrets/db.yaml", &add_clear_user(&encrypted));
    ok(&repo.git(&["add", "secrets/db.yaml"]), "git add");
    let out = repo.git(&["commit", "-q", "-m", "clear value"]);
    assert!(
        !out.status.success(),
        "clear value accepted: {}",
        text(&out)
    );
    let all = text(&out);
    assert!(all.contains(r#"["data"]["user"]"#), "{all}");
    assert!(!all.contains("YWRtaW4="), "a value leaked: {all}");
}

/// A repository with the drivers installed and `secrets/**` marked.
fn driver_repo() -> Repo {
    let repo = Repo::new();
    repo.sops_config();
    repo.write(".gitattributes", "secrets/** diff=rsops merge=rsops\n");
    let out = repo.rsops(&["git", "install"]);
    ok(&out, "rsops git install");
    let driver = ok(
        &repo.git(&["config", "--local", "--get", "merge.rsops.driver"]),
        "git config --get",
    );
    assert_eq!(
        String::from_utf8_lossy(&driver).trim(),
        "rsops git merge %O %A %B %P"
    );
    repo
}

#[test]
fn git_diff_shows_the_plaintext_change() {
    let repo = driver_repo();
    repo.write(
        "secrets/app.yaml",
        "data:\n  password: old\n  user: admin\n",
    );
    ok(
        &repo.rsops(&["encrypt", "-i", "secrets/app.yaml"]),
        "encrypt",
    );
    repo.commit_all("base");

    let plain = ok(&repo.rsops(&["decrypt", "secrets/app.yaml"]), "decrypt");
    let changed = String::from_utf8_lossy(&plain).replace("password: old", "password: new");
    repo.write("secrets/app.plain.yaml", &changed);
    let enc = ok(
        &repo.rsops(&[
            "encrypt",
            "--filename-override",
            "secrets/app.yaml",
            "secrets/app.plain.yaml",
        ]),
        "encrypt",
    );
    std::fs::remove_file(repo.dir.join("secrets/app.plain.yaml")).expect("rm");
    std::fs::write(repo.dir.join("secrets/app.yaml"), enc).expect("write");

    let diff = String::from_utf8_lossy(&ok(&repo.git(&["diff"]), "git diff")).into_owned();
    assert!(diff.contains("-    password: old"), "{diff}");
    assert!(diff.contains("+    password: new"), "{diff}");
    assert!(!diff.contains("ENC["), "{diff}");
    assert!(
        !diff.contains("user: admin\n-") && !diff.contains("+    user"),
        "{diff}"
    );

    repo.commit_all("change");
    let log =
        String::from_utf8_lossy(&ok(&repo.git(&["log", "-p", "-1"]), "git log -p")).into_owned();
    assert!(log.contains("+    password: new"), "{log}");

    // Without a key git diff still works: it shows the file as stored.
    let out = repo.run(Path::new("git"), &["log", "-p", "-1"], false);
    let log = String::from_utf8_lossy(&ok(&out, "git log -p without key")).into_owned();
    assert!(log.contains("ENC[AES256_GCM"), "{log}");
    // textconv of a file that is not encrypted prints it as it is.
    repo.write("secrets/plain.txt", "just text\n");
    let out = ok(
        &repo.rsops(&["git", "textconv", "secrets/plain.txt"]),
        "textconv",
    );
    assert_eq!(out, b"just text\n");
}

/// The encrypted line of `key` in a YAML file.
fn enc_line(content: &str, key: &str) -> String {
    content
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{key}:")))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn merge_driver_merges_different_values_and_conflicts_on_the_same() {
    let Some(sops) = sops() else {
        return;
    };
    let repo = driver_repo();
    repo.write(
        "secrets/app.yaml",
        "data:\n  a: one\n  b: two\n  c: three\n",
    );
    ok(
        &repo.rsops(&["encrypt", "-i", "secrets/app.yaml"]),
        "encrypt",
    );
    repo.commit_all("base");
    let base = repo.read("secrets/app.yaml");
    let set = |path: &str, value: &str| {
        let out = repo.run(&sops, &["set", "secrets/app.yaml", path, value], true);
        ok(&out, "sops set");
    };

    // Two branches change different values: no conflict.
    ok(&repo.git(&["checkout", "-q", "-b", "other"]), "checkout -b");
    set(r#"["data"]["a"]"#, r#""ONE""#);
    repo.commit_all("other: a");
    let theirs = repo.read("secrets/app.yaml");
    ok(&repo.git(&["checkout", "-q", "main"]), "checkout main");
    set(r#"["data"]["c"]"#, r#""THREE""#);
    repo.commit_all("main: c");
    let ours = repo.read("secrets/app.yaml");
    let out = repo.git(&["merge", "-q", "--no-edit", "other"]);
    ok(&out, "git merge");
    let merged = repo.read("secrets/app.yaml");
    let plain = ok(
        &repo.run(&sops, &["decrypt", "secrets/app.yaml"], true),
        "sops decrypt",
    );
    assert_eq!(
        String::from_utf8_lossy(&plain),
        "data:\n    a: ONE\n    b: two\n    c: THREE\n"
    );
    // Unchanged values keep their ciphertext; so do the changed ones.
    assert_eq!(enc_line(&merged, "b"), enc_line(&base, "b"));
    assert_eq!(enc_line(&merged, "c"), enc_line(&ours, "c"));
    assert_eq!(enc_line(&merged, "a"), enc_line(&theirs, "a"));

    // Two branches change the same value: a conflict, and the work tree
    // keeps the current version, still encrypted.
    ok(
        &repo.git(&["checkout", "-q", "-b", "other2"]),
        "checkout -b",
    );
    set(r#"["data"]["b"]"#, r#""from-other""#);
    repo.commit_all("other2: b");
    ok(&repo.git(&["checkout", "-q", "main"]), "checkout main");
    set(r#"["data"]["b"]"#, r#""from-main""#);
    repo.commit_all("main: b");
    let ours = repo.read("secrets/app.yaml");
    let out = repo.git(&["merge", "--no-edit", "other2"]);
    assert!(
        !out.status.success(),
        "conflicting merge succeeded: {}",
        text(&out)
    );
    let all = text(&out);
    assert!(
        all.contains("CONFLICT") && all.contains(r#"["data"]["b"]"#),
        "{all}"
    );
    assert!(
        !all.contains("from-main") && !all.contains("from-other"),
        "{all}"
    );
    assert_eq!(repo.read("secrets/app.yaml"), ours);
    let status = ok(&repo.git(&["status", "--porcelain"]), "git status");
    assert!(
        String::from_utf8_lossy(&status).contains("UU secrets/app.yaml"),
        "{}",
        String::from_utf8_lossy(&status)
    );
}

#[test]
fn merge_driver_conflicts_when_the_other_branch_changed_the_recipients() {
    let Some(sops) = sops() else {
        return;
    };
    const SECOND: &str = "age1e7wrpcqp55cnk8ph80s6xxkmg4dvrpq7tkuddz6s4kdp2nzvuvuqm7vdc3";
    let repo = driver_repo();
    repo.write("secrets/app.yaml", "data:\n  a: one\n  b: two\n");
    ok(
        &repo.rsops(&["encrypt", "-i", "secrets/app.yaml"]),
        "encrypt",
    );
    repo.commit_all("base");

    // The other branch adds a recipient (new data key); main changes a value.
    ok(&repo.git(&["checkout", "-q", "-b", "keys"]), "checkout -b");
    let out = repo.run(
        &sops,
        &["rotate", "-i", "--add-age", SECOND, "secrets/app.yaml"],
        true,
    );
    ok(&out, "sops rotate --add-age");
    repo.commit_all("keys: add a recipient");
    ok(&repo.git(&["checkout", "-q", "main"]), "checkout main");
    let out = repo.run(
        &sops,
        &["set", "secrets/app.yaml", r#"["data"]["a"]"#, r#""ONE""#],
        true,
    );
    ok(&out, "sops set");
    repo.commit_all("main: a");

    let before = repo.read("secrets/app.yaml");
    let out = repo.git(&["merge", "-q", "--no-edit", "keys"]);
    assert!(!out.status.success(), "the merge must conflict");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("conflict at the sops metadata (the branches have different recipients"),
        "{err}"
    );
    // The current version is left as it was: still encrypted to the
    // current recipients only.
    let merged = repo.read("secrets/app.yaml");
    assert_eq!(merged, before);
    assert!(
        !merged.contains(SECOND),
        "re-encrypted to the other branch's key"
    );
    let plain = ok(
        &repo.run(&sops, &["decrypt", "secrets/app.yaml"], true),
        "sops decrypt",
    );
    assert_eq!(
        String::from_utf8_lossy(&plain),
        "data:\n    a: ONE\n    b: two\n"
    );
}
