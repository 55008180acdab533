//! Running the `gpg` binary, as sops does, for what the built-in code cannot
//! do: encrypting to keys it could not find or use, and decrypting with the
//! secret keys held by gpg-agent (GnuPG ≥ 2.1: `private-keys-v1.d`,
//! passphrase-protected keys, smartcards).
//!
//! Commands: encryption runs
//! `gpg [--homedir H] --no-default-recipient --yes --encrypt -a -r <fp>
//! --trusted-key <last 16 chars of fp, 17 with a trailing '!'> --no-encrypt-to`
//! and decryption `gpg [--homedir H] --batch -d`; the data goes on standard
//! input, the result comes from standard output. `--batch` stops gpg from
//! prompting on the terminal itself; gpg-agent still asks for passphrases
//! with its pinentry (or uses a cached/preset passphrase).

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output, Stdio};

use zeroize::Zeroizing;

/// Longest part of gpg's standard error quoted in an error message.
const MAX_STDERR_QUOTE: usize = 300;

/// Most bytes handed to gpg on its standard input.
///
/// The input is written completely and the pipe closed *before* gpg's
/// output is read, on the calling thread, with no helper thread. That
/// cannot deadlock as long as the whole input fits into the pipe's buffer
/// without gpg reading any of it: the write then never waits for gpg,
/// whatever gpg does with its own output meanwhile (gpg might otherwise
/// block on a full stdout or stderr pipe that nobody reads yet, while we
/// block on a full stdin pipe). A Linux pipe holds 64 KiB, and never less
/// than one page (4096 bytes, what it shrinks to when a user holds too
/// many pipes); macOS and the BSDs start pipes at 16 KiB.
///
/// What goes to gpg is always small: a 32-byte data key to encrypt, or the
/// armored message wrapping one to decrypt (a few hundred bytes; about
/// 3 KiB even for a 16384-bit RSA key). A larger `enc` value is not a data
/// key gpg produced; it is refused without running gpg rather than risk a
/// deadlock (or a helper thread just to feed it).
const MAX_INPUT: usize = 4096;

/// How to run gpg.
#[derive(Debug, Clone)]
pub(crate) struct Gpg {
    /// The program (`$SOPS_GPG_EXEC` or `gpg`).
    pub program: OsString,
    /// `--homedir` to pass, if any (only when the home was given explicitly).
    pub homedir: Option<PathBuf>,
}

/// Why a gpg run did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GpgFailure {
    /// The program could not be started.
    Spawn(String),
    /// gpg reported that it holds no secret key for the message.
    NoSecretKey(String),
    /// gpg has the secret key but could not use it (passphrase not given,
    /// no pinentry, card missing): its `public key decryption failed` line.
    KeyUnusable(String),
    /// gpg failed otherwise (exit status and last line of its stderr).
    Failed(String),
}

impl GpgFailure {
    /// One-line description.
    pub fn describe(&self) -> &str {
        match self {
            GpgFailure::Spawn(s)
            | GpgFailure::NoSecretKey(s)
            | GpgFailure::KeyUnusable(s)
            | GpgFailure::Failed(s) => s,
        }
    }
}

impl Gpg {
    /// Encrypts `plaintext` to `fingerprint`; returns the armored message,
    /// trimmed.
    pub fn encrypt(&self, fingerprint: &str, plaintext: &[u8]) -> Result<String, GpgFailure> {
        let mut cmd = self.command();
        cmd.args(["--no-default-recipient", "--yes", "--encrypt", "-a", "-r"])
            .arg(fingerprint)
            .arg("--trusted-key")
            .arg(trusted_key_arg(fingerprint))
            .arg("--no-encrypt-to");
        let output = self.run(cmd, plaintext)?;
        if !output.status.success() {
            return Err(GpgFailure::Failed(failure_summary(
                output.status,
                &output.stderr,
            )));
        }
        let text = String::from_utf8(output.stdout)
            .map_err(|_| GpgFailure::Failed("gpg wrote non-UTF-8 armor".to_string()))?;
        let text = text.trim();
        if text.is_empty() {
            return Err(GpgFailure::Failed("gpg produced no output".to_string()));
        }
        Ok(text.to_string())
    }

    /// Decrypts the armored message `enc`; returns the plaintext.
    pub fn decrypt(&self, enc: &str) -> Result<Zeroizing<Vec<u8>>, GpgFailure> {
        let mut cmd = self.command();
        // gpg stops decompressing there (a data key is 32 bytes).
        let max = super::message::MAX_DATA_KEY_BYTES.to_string();
        cmd.args(["--batch", "--max-output", &max, "-d"]);
        let Output {
            status,
            stdout,
            stderr,
        } = self.run(cmd, enc.as_bytes())?;
        let plaintext = Zeroizing::new(stdout);
        if !status.success() {
            let summary = failure_summary(status, &stderr);
            if let Some(line) = key_unusable_line(&stderr) {
                return Err(GpgFailure::KeyUnusable(line));
            }
            return Err(if mentions_no_secret_key(&stderr) {
                GpgFailure::NoSecretKey(summary)
            } else {
                GpgFailure::Failed(summary)
            });
        }
        if plaintext.is_empty() {
            return Err(GpgFailure::Failed("gpg -d produced no output".to_string()));
        }
        Ok(plaintext)
    }

    /// The program with `--homedir` if configured.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        if let Some(home) = &self.homedir {
            cmd.arg("--homedir").arg(home);
        }
        cmd
    }

    /// Runs `cmd` with `input` (at most [`MAX_INPUT`] bytes) on stdin;
    /// captures stdout and stderr.
    fn run(&self, mut cmd: Command, input: &[u8]) -> Result<Output, GpgFailure> {
        if input.len() > MAX_INPUT {
            return Err(GpgFailure::Failed(format!(
                "the PGP message is {} bytes long; a wrapped data key is at most {MAX_INPUT} bytes",
                input.len()
            )));
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                GpgFailure::Spawn(format!(
                    "cannot run {}: {e}",
                    display_program(&self.program)
                ))
            })?;
        // Written whole and closed before any output is read: see
        // `MAX_INPUT` for why this cannot deadlock.
        if let Some(mut stdin) = child.stdin.take() {
            // gpg may exit before reading everything; its exit status and
            // stderr tell what happened.
            let _ = stdin.write_all(input);
        }
        // Reads stdout and stderr together, without a helper thread.
        child.wait_with_output().map_err(|e| {
            GpgFailure::Spawn(format!("running {}: {e}", display_program(&self.program)))
        })
    }
}

/// `--trusted-key` value: the last 16 characters of the key spec, 17 when it
/// ends with `!` (as sops computes it).
pub(crate) fn trusted_key_arg(fingerprint: &str) -> String {
    let keep = if fingerprint.ends_with('!') { 17 } else { 16 };
    let count = fingerprint.chars().count();
    fingerprint
        .chars()
        .skip(count.saturating_sub(keep))
        .collect()
}

/// The program name for messages.
fn display_program(program: &OsStr) -> String {
    program.to_string_lossy().into_owned()
}

/// Whether gpg's stderr says it has no secret key.
fn mentions_no_secret_key(stderr: &[u8]) -> bool {
    String::from_utf8_lossy(stderr).contains("No secret key")
}

/// The `public key decryption failed: …` line gpg prints when it holds the
/// secret key but the agent could not use it, bounded in length.
fn key_unusable_line(stderr: &[u8]) -> Option<String> {
    let stderr = String::from_utf8_lossy(stderr);
    stderr
        .lines()
        .map(str::trim)
        .find(|l| l.contains("public key decryption failed"))
        .map(|l| l.chars().take(MAX_STDERR_QUOTE).collect())
}

/// `gpg exited with <status>: <last line of stderr>`, bounded in length.
fn failure_summary(status: ExitStatus, stderr: &[u8]) -> String {
    let stderr = String::from_utf8_lossy(stderr);
    let last = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("");
    let quoted: String = last.chars().take(MAX_STDERR_QUOTE).collect();
    if quoted.is_empty() {
        format!("gpg exited with {status}")
    } else {
        format!("gpg exited with {status}: {quoted}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_key_is_the_long_key_id() {
        assert_eq!(
            trusted_key_arg("E43F4C44E69FA1FBD74FA85A40B881A36B576BD1"),
            "40B881A36B576BD1"
        );
        assert_eq!(trusted_key_arg("58F34CB77414B549!"), "58F34CB77414B549!");
        assert_eq!(
            trusted_key_arg("E43F4C44E69FA1FBD74FA85A58F34CB77414B549!"),
            "58F34CB77414B549!"
        );
        assert_eq!(trusted_key_arg("abc"), "abc");
        assert_eq!(trusted_key_arg(""), "");
    }

    #[test]
    fn missing_program_is_a_spawn_failure() {
        let gpg = Gpg {
            program: "/nonexistent/rsops-gpg".into(),
            homedir: None,
        };
        let err = gpg.decrypt("x").err();
        assert!(
            matches!(err, Some(GpgFailure::Spawn(ref s)) if s.contains("/nonexistent/rsops-gpg"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn encrypt_passes_sops_arguments_and_trims_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("fake-gpg");
        let args_file = dir.path().join("args");
        let stdin_file = dir.path().join("stdin");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\ncat > '{}'\nprintf '\\n-----BEGIN PGP MESSAGE-----\\n\\nabc\\n-----END PGP MESSAGE-----\\n\\n'\n",
                args_file.display(),
                stdin_file.display()
            ),
        )
        .expect("write script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let gpg = Gpg {
            program: script.into_os_string(),
            homedir: Some(PathBuf::from("/some/home")),
        };
        let out = gpg
            .encrypt("E43F4C44E69FA1FBD74FA85A40B881A36B576BD1", b"\x00key\xff")
            .expect("fake gpg succeeds");
        assert_eq!(
            out,
            "-----BEGIN PGP MESSAGE-----\n\nabc\n-----END PGP MESSAGE-----"
        );
        let args = std::fs::read_to_string(&args_file).expect("args");
        assert_eq!(
            args.lines().collect::<Vec<_>>(),
            vec![
                "--homedir",
                "/some/home",
                "--no-default-recipient",
                "--yes",
                "--encrypt",
                "-a",
                "-r",
                "E43F4C44E69FA1FBD74FA85A40B881A36B576BD1",
                "--trusted-key",
                "40B881A36B576BD1",
                "--no-encrypt-to",
            ]
        );
        assert_eq!(std::fs::read(&stdin_file).expect("stdin"), b"\x00key\xff");
    }

    #[test]
    fn an_oversized_message_is_refused_without_running_gpg() {
        let gpg = Gpg {
            program: "/nonexistent/rsops-gpg".into(),
            homedir: None,
        };
        let err = gpg.decrypt(&"A".repeat(MAX_INPUT + 1)).err();
        assert!(
            matches!(err, Some(GpgFailure::Failed(ref s)) if s.contains("4097 bytes")),
            "{err:?}"
        );
    }

    /// A gpg that fills its stdout and stderr pipes before reading any
    /// input: with the input written whole first (at the size limit), this
    /// must still finish, and the input must arrive complete.
    #[cfg(unix)]
    #[test]
    fn input_at_the_limit_does_not_deadlock_with_chatty_gpg() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("fake-gpg");
        std::fs::write(
            &script,
            "#!/bin/sh
head -c 300000 /dev/zero | tr '\\0' x
head -c 300000 /dev/zero | tr '\\0' y >&2
echo
wc -c
",
        )
        .expect("write script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let gpg = Gpg {
            program: script.into_os_string(),
            homedir: None,
        };
        let out = gpg
            .decrypt(&"m".repeat(MAX_INPUT))
            .expect("fake gpg succeeds");
        let text = String::from_utf8_lossy(&out);
        assert_eq!(text.len(), 300_000 + 1 + "4096\n".len(), "{}", &text[..40]);
        assert!(text.starts_with("xxxx"));
        assert_eq!(
            text.trim_end().rsplit('\n').next().map(str::trim),
            Some("4096")
        );
    }

    #[cfg(unix)]
    #[test]
    fn decrypt_failure_quotes_the_last_stderr_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("fake-gpg");
        std::fs::write(
            &script,
            "#!/bin/sh\ncat >/dev/null\necho 'gpg: encrypted with RSA key, ID 58F34CB77414B549' >&2\necho 'gpg: decryption failed: No secret key' >&2\nexit 2\n",
        )
        .expect("write script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let gpg = Gpg {
            program: script.into_os_string(),
            homedir: None,
        };
        let err = gpg.decrypt("enc").expect_err("fails");
        assert!(matches!(err, GpgFailure::NoSecretKey(_)));
        assert!(
            err.describe()
                .ends_with("gpg: decryption failed: No secret key"),
            "{err:?}"
        );
        assert!(!err.describe().contains('\n'));
    }
}
