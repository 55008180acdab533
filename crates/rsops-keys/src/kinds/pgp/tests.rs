//! Tests of the OpenPGP backend against real GnuPG homes and the sops
//! fixtures in `testdata/sops` (made by sops 3.11 and GnuPG with
//! `scripts/make-fixtures.sh`; the keys there are TEST-ONLY).
//!
//! Tests that need `gpg` return early with a note when it is missing, except
//! under `CI=true`, where a missing gpg fails them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::*;

/// The fixture key's primary fingerprint (`keys/pgp-*.asc`, RSA 3072).
const FP: &str = "6CD977E1E6BF8589FA7E7031AB2CA8EFC10A1DDE";
/// The fixture key's encryption subkey ID.
const SUBKEY_ID: &str = "AAE8085301D58555";
/// The RSA 2048 fixture key (`keys/rsa2048-*.asc`) and its encryption subkey.
const KEY1: &str = "673BC7D0CEFA9BFEC4CCA631D89B1C0D43E8815A";
const KEY1_SUBKEY_ID: &str = "F3D7D77012AF1576";
/// The RSA 1024 fixture key (`keys/rsa1024-*.asc`) and its encryption subkey.
const KEY2: &str = "9EC53FA92E2CF2673E0D7235F19FE06B02FE4DF4";
const KEY2_SUBKEY_ID: &str = "D4F7F35CAD833A45";
/// A gpg program that does not exist: proves the in-process path was used.
const NO_GPG: &str = "/nonexistent/rsops-test-no-gpg";

/// Extracts the first armored PGP message from a sops YAML file.
pub(crate) fn first_enc(text: &str) -> Option<String> {
    nth_enc(text, 0)
}

/// Extracts the `n`th armored PGP message from a sops YAML file, with the
/// YAML indentation removed.
pub(crate) fn nth_enc(text: &str, n: usize) -> Option<String> {
    let (start, _) = text.match_indices("-----BEGIN PGP MESSAGE-----").nth(n)?;
    let end_marker = "-----END PGP MESSAGE-----";
    let end = start + text.get(start..)?.find(end_marker)? + end_marker.len();
    let lines: Vec<&str> = text.get(start..end)?.lines().map(str::trim).collect();
    Some(lines.join("\n"))
}

/// A file of the sops fixtures (`testdata/sops`).
fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/sops")
        .join(rel)
}

/// The `n`th `enc` of a corpus case file.
fn corpus_enc(rel: &str, n: usize) -> String {
    let path = corpus(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    nth_enc(&text, n).unwrap_or_else(|| panic!("no enc #{n} in {}", path.display()))
}

/// Whether gpg can be run; under `CI=true` a missing gpg is a failure.
fn gpg_available() -> bool {
    let ok = Command::new("gpg")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "gpg is required for the OpenPGP tests when CI=true"
        );
        eprintln!("note: gpg not found; skipping a test that needs it");
    }
    ok
}

/// A throw-away GnuPG home (mode 0700); its gpg-agent is killed on drop.
struct GnupgHome {
    dir: tempfile::TempDir,
}

impl GnupgHome {
    /// An empty home under /tmp (short path: gpg-agent's socket lives there).
    fn new() -> Self {
        let base = if Path::new("/tmp").is_dir() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::Builder::new()
            .prefix("rsops-gpg-")
            .tempdir_in(base)
            .expect("temporary GnuPG home");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
                .expect("chmod 700");
        }
        GnupgHome { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `gpg --homedir H --batch ARGS` with `stdin`.
    fn gpg(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new("gpg")
            .arg("--homedir")
            .arg(self.path())
            .arg("--batch")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run gpg");
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin).expect("gpg stdin");
        }
        child.wait_with_output().expect("gpg output")
    }

    /// Runs gpg and requires success.
    fn gpg_ok(&self, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let out = self.gpg(args, stdin);
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Imports a key file of the fixtures.
    fn import(&self, key_file: &str) {
        let path = corpus(&format!("keys/{key_file}"));
        let path = path.to_str().expect("utf-8 path");
        self.gpg_ok(&["--import", path], b"");
    }

    /// A backend on this home with the real gpg.
    fn backend(&self) -> PgpBackend {
        PgpBackend::new(self.path(), "gpg")
    }
}

impl Drop for GnupgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.path())
            .args(["--kill", "gpg-agent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// 32 recognisable bytes, like a data key.
fn data_key() -> Vec<u8> {
    (0u8..32).map(|i| i.wrapping_mul(37) ^ 0xA5).collect()
}

/// Upper-case hex of the recipients of `enc`.
fn recipient_ids(enc: &str) -> Vec<String> {
    message::message_bytes(enc)
        .and_then(|b| message::recipients(&b))
        .expect("a PGP message")
        .iter()
        .map(|h| h.as_ref().map(|h| format!("{h:X}")).unwrap_or_default())
        .collect()
}

/// Checks the armor shape sops stores: header, blank line, 64-column base64,
/// CRC line, footer, no final newline.
fn assert_sops_armor(enc: &str) {
    assert!(enc.starts_with("-----BEGIN PGP MESSAGE-----\n\n"), "{enc}");
    assert!(enc.ends_with("\n-----END PGP MESSAGE-----"), "{enc}");
    let lines: Vec<&str> = enc.lines().collect();
    assert!(lines.iter().all(|l| l.len() <= 64));
    assert!(
        lines.iter().any(|l| l.starts_with('=') && l.len() == 5),
        "CRC line"
    );
}

#[test]
fn encrypts_to_key_in_pubring_kbx_and_gpg_decrypts() {
    if !gpg_available() {
        return;
    }
    let public = GnupgHome::new();
    public.import("pgp-public.asc");
    assert!(public.path().join("pubring.kbx").is_file());
    let backend = PgpBackend::new(public.path(), NO_GPG);
    let enc = backend
        .encrypt(FP, &data_key())
        .expect("in-process encryption");
    assert_sops_armor(&enc);
    assert_eq!(recipient_ids(&enc), vec![SUBKEY_ID.to_string()]);

    let secret = GnupgHome::new();
    secret.import("pgp-secret.asc");
    assert_eq!(secret.gpg_ok(&["-d"], enc.as_bytes()), data_key());
}

#[test]
fn keybox_lists_every_imported_key() {
    if !gpg_available() {
        return;
    }
    let home = GnupgHome::new();
    home.import("pgp-public.asc");
    home.import("rsa2048-public.asc");
    home.import("rsa1024-public.asc");
    let ring = Keyring::load_public(home.path());
    assert!(ring.problems().is_empty(), "{:?}", ring.problems());
    let mut fps: Vec<String> = ring
        .certs()
        .iter()
        .map(|c| format!("{:X}", c.fingerprint()))
        .collect();
    fps.sort();
    let mut want = vec![FP, KEY1, KEY2];
    want.sort_unstable();
    assert_eq!(fps, want);
    let backend = PgpBackend::new(home.path(), NO_GPG);
    assert_eq!(
        backend
            .public_key_fingerprint(&KEY1.to_lowercase())
            .as_deref(),
        Some(KEY1)
    );
    assert_eq!(
        backend.public_key_fingerprint(KEY1_SUBKEY_ID).as_deref(),
        Some(KEY1)
    );
    assert_eq!(backend.public_key_fingerprint("0123456789ABCDEF"), None);
}

#[test]
fn encrypts_to_key_in_legacy_pubring_gpg() {
    if !gpg_available() {
        return;
    }
    let gnupg = GnupgHome::new();
    gnupg.import("pgp-public.asc");
    let exported = gnupg.gpg_ok(&["--export", FP], b"");
    let legacy = GnupgHome::new();
    std::fs::write(legacy.path().join("pubring.gpg"), exported).expect("pubring.gpg");
    let backend =
        PgpBackend::new(legacy.path(), NO_GPG).with_secret_key_file(corpus("keys/pgp-secret.asc"));
    assert_eq!(backend.public_key_fingerprint(FP).as_deref(), Some(FP));
    // Fingerprint in lower case, long key ID, the subkey's ID.
    for spec in [
        FP.to_lowercase(),
        FP[24..].to_lowercase(),
        SUBKEY_ID.to_string(),
    ] {
        let enc = backend
            .encrypt(&spec, &data_key())
            .expect("in-process encryption");
        assert_eq!(recipient_ids(&enc), vec![SUBKEY_ID.to_string()], "{spec}");
        let plain = backend.decrypt(&spec, &enc).expect("in-process decryption");
        assert_eq!(*plain, data_key());
    }
}

#[test]
fn decrypts_sops_written_enc_with_gpg_and_in_process() {
    let enc = corpus_enc("cases/pgp_yaml/encrypted.yaml", 0);
    let in_process = PgpBackend::new(GnupgHome::new().path(), NO_GPG)
        .with_secret_key_file(corpus("keys/pgp-secret.asc"))
        .decrypt(FP, &enc)
        .expect("in-process decryption");
    assert_eq!(in_process.len(), 32);
    if !gpg_available() {
        return;
    }
    let home = GnupgHome::new();
    home.import("pgp-secret.asc");
    let via_agent = home
        .backend()
        .decrypt(FP, &enc)
        .expect("decryption via gpg");
    assert_eq!(*via_agent, *in_process);
}

/// A compressed message whose plaintext is 1 MB of zeros (2.4 KB armored):
/// refused by the in-process decryption and by gpg, without decompressing
/// it all.
#[test]
fn a_compression_bomb_is_refused() {
    if !gpg_available() {
        return;
    }
    let home = GnupgHome::new();
    home.import("pgp-secret.asc");
    let bomb = home.gpg_ok(
        &[
            "--trust-model",
            "always",
            "-e",
            "-a",
            "-r",
            FP,
            "--compress-algo",
            "zlib",
            "-z",
            "9",
        ],
        &vec![0u8; 1 << 20],
    );
    let enc = String::from_utf8(bomb).expect("armor");
    assert!(enc.len() < 4096, "{}", enc.len());
    let in_process = PgpBackend::new(GnupgHome::new().path(), NO_GPG)
        .with_secret_key_file(corpus("keys/pgp-secret.asc"))
        .decrypt(FP, &enc)
        .map(|_| ())
        .expect_err("in-process");
    assert!(
        in_process.to_string().contains("larger than 4096 bytes"),
        "{in_process}"
    );
    let via_gpg = home
        .backend()
        .decrypt(FP, &enc)
        .map(|_| ())
        .expect_err("gpg");
    assert!(via_gpg.to_string().contains("too large"), "{via_gpg}");
}

#[test]
fn decrypts_legacy_second_key_with_old_format_packets() {
    let file = "cases/pgp_two_keys_old_format/encrypted.yaml";
    let enc = corpus_enc(file, 1);
    assert!(enc.contains("\n\nhIwD"), "old-format packet expected");
    let in_process = PgpBackend::new(GnupgHome::new().path(), NO_GPG)
        .with_secret_key_file(corpus("keys/rsa1024-secret.asc"))
        .decrypt(KEY2, &enc)
        .expect("in-process decryption");
    assert_eq!(in_process.len(), 32);
    if !gpg_available() {
        return;
    }
    let home = GnupgHome::new();
    home.import("rsa1024-secret.asc");
    let backend = home.backend();
    assert_eq!(*backend.decrypt(KEY2, &enc).expect("via gpg"), *in_process);
    // The first key's message cannot be opened with key 2 alone.
    let first = corpus_enc(file, 0);
    let err = backend.decrypt(KEY1, &first).expect_err("no secret key 1");
    assert!(matches!(err, KeyError::NoIdentity(_)), "{err}");
}

#[test]
fn decrypts_gnupg_written_old_format_rsa2048_message() {
    let enc = corpus_enc("cases/pgp_comments_old_format/encrypted.yaml", 0);
    assert!(enc.contains("\n\nhQEM"), "old-format packet expected");
    let in_process = PgpBackend::new(GnupgHome::new().path(), NO_GPG)
        .with_secret_key_file(corpus("keys/rsa2048-secret.asc"))
        .decrypt(KEY1, &enc)
        .expect("in-process decryption");
    assert_eq!(in_process.len(), 32);
    if !gpg_available() {
        return;
    }
    let home = GnupgHome::new();
    home.import("rsa2048-secret.asc");
    assert_eq!(
        *home.backend().decrypt(KEY1, &enc).expect("via gpg"),
        *in_process
    );
}

#[test]
fn decrypts_with_legacy_secring_gpg_without_running_gpg() {
    if !gpg_available() {
        return;
    }
    let gnupg = GnupgHome::new();
    gnupg.import("pgp-secret.asc");
    let secret = gnupg.gpg_ok(&["--export-secret-keys", FP], b"");
    let legacy = GnupgHome::new();
    std::fs::write(legacy.path().join("secring.gpg"), secret).expect("secring.gpg");
    let enc = corpus_enc("cases/pgp_yaml/encrypted.yaml", 0);
    let plain = PgpBackend::new(legacy.path(), NO_GPG)
        .decrypt(FP, &enc)
        .expect("decryption with secring.gpg");
    assert_eq!(*plain, *gnupg.backend().decrypt(FP, &enc).expect("via gpg"));
}

#[test]
fn passphrase_key_preset_in_agent_decrypts_without_terminal() {
    if !gpg_available() {
        return;
    }
    let home = GnupgHome::new();
    // No pinentry may ever run: a missing passphrase must fail, not prompt.
    std::fs::write(
        home.path().join("gpg-agent.conf"),
        "allow-preset-passphrase\npinentry-program /bin/false\n",
    )
    .expect("gpg-agent.conf");
    home.gpg_ok(
        &[
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "pass",
            "--quick-gen-key",
            "Protected <protected@example.invalid>",
            "future-default",
            "default",
            "never",
        ],
        b"",
    );
    let colons = String::from_utf8(home.gpg_ok(&["--with-colons", "--with-keygrip", "-K"], b""))
        .expect("utf-8 listing");
    let fpr = colon_field_after(&colons, "sec", "fpr").expect("primary fingerprint");
    let keygrip = colon_field_after(&colons, "ssb", "grp").expect("subkey keygrip");

    // Forget the passphrase cached while generating.
    kill_agent(home.path());

    let backend = home.backend();
    let enc = backend
        .encrypt(&fpr, &data_key())
        .expect("in-process encryption (cv25519)");
    assert_sops_armor(&enc);
    let err = backend
        .decrypt(&fpr, &enc)
        .expect_err("passphrase not available");
    assert!(err.to_string().contains("could not use it"), "{err}");

    let launch = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home.path())
        .args(["--launch", "gpg-agent"])
        .status()
        .expect("gpgconf");
    assert!(launch.success());
    let preset = Command::new(preset_passphrase_program())
        .env("GNUPGHOME", home.path())
        .args(["--preset", "-P", "pass", &keygrip])
        .status()
        .expect("gpg-preset-passphrase");
    assert!(preset.success());
    let plain = backend.decrypt(&fpr, &enc).expect("decryption via agent");
    assert_eq!(*plain, data_key());
}

/// In `--with-colons` output: field 10 of the first `want` record after the
/// first `after` record.
fn colon_field_after(listing: &str, after: &str, want: &str) -> Option<String> {
    let mut seen = false;
    for line in listing.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.first() {
            Some(&t) if t == after => seen = true,
            Some(&t) if seen && t == want => return fields.get(9).map(|s| s.to_string()),
            _ => {}
        }
    }
    None
}

/// `gpg-preset-passphrase`, which lives in GnuPG's libexec directory.
fn preset_passphrase_program() -> PathBuf {
    let out = Command::new("gpgconf")
        .args(["--list-dirs", "libexecdir"])
        .output()
        .expect("gpgconf");
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    PathBuf::from(dir).join("gpg-preset-passphrase")
}

/// Stops the gpg-agent of `home`.
fn kill_agent(home: &Path) {
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home)
        .args(["--kill", "gpg-agent"])
        .status();
}

#[test]
fn missing_secret_key_gives_one_helpful_line() {
    if !gpg_available() {
        return;
    }
    let home = GnupgHome::new();
    home.import("pgp-public.asc");
    let enc = corpus_enc("cases/pgp_yaml/encrypted.yaml", 0);
    let err = home.backend().decrypt(FP, &enc).expect_err("no secret key");
    let text = err.to_string();
    let KeyError::NoIdentity(NoIdentity::Pgp(missing)) = &err else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(missing.fingerprint, FP);
    assert_eq!(missing.recipients, vec![Some(SUBKEY_ID.to_string())]);
    assert_eq!(missing.gpg_spawn, None);
    assert!(
        text.starts_with(&format!("no secret key for any of: {FP}")),
        "{text}"
    );
    assert!(text.contains(SUBKEY_ID), "{text}");
    assert!(text.contains("is gpg-agent running?"), "{text}");
    assert!(!text.contains('\n'), "{text}");
}

#[test]
fn missing_gpg_is_named_in_the_no_key_error() {
    let enc = corpus_enc("cases/pgp_yaml/encrypted.yaml", 0);
    let home = GnupgHome::new();
    let err = PgpBackend::new(home.path(), NO_GPG)
        .decrypt(FP, &enc)
        .expect_err("no key, no gpg");
    let text = err.to_string();
    assert!(text.starts_with("no secret key for any of:"), "{text}");
    assert!(text.contains(NO_GPG), "{text}");
    let KeyError::NoIdentity(NoIdentity::Pgp(missing)) = &err else {
        panic!("unexpected {err:?}");
    };
    assert!(
        missing
            .gpg_spawn
            .as_deref()
            .is_some_and(|e| e.contains(NO_GPG)),
        "{missing:?}"
    );
}

#[test]
fn passphrase_protected_key_file_is_not_used_in_process() {
    // The key file holds only a public key here: nothing usable in-process.
    let enc = corpus_enc("cases/pgp_yaml/encrypted.yaml", 0);
    let err = PgpBackend::new(GnupgHome::new().path(), NO_GPG)
        .with_secret_key_file(corpus("keys/pgp-public.asc"))
        .decrypt(FP, &enc)
        .expect_err("public key only");
    assert!(matches!(err, KeyError::NoIdentity(_)), "{err}");
}

#[test]
fn garbage_enc_is_a_decrypt_error() {
    let err = PgpBackend::new(GnupgHome::new().path(), NO_GPG)
        .decrypt(FP, "not an OpenPGP message")
        .expect_err("garbage");
    let text = err.to_string();
    assert!(
        matches!(
            &err,
            KeyError::Decrypt(DecryptFailure::Pgp(PgpDecryptError::Malformed {
                fingerprint,
                gpg: GpgError::Spawn { .. },
                ..
            })) if fingerprint == FP
        ),
        "{err:?}"
    );
    assert!(text.contains("not a readable OpenPGP message"), "{text}");
}

#[test]
fn unknown_key_without_gpg_fails_clearly() {
    let home = GnupgHome::new();
    let err = PgpBackend::new(home.path(), NO_GPG)
        .encrypt(FP, &data_key())
        .expect_err("no key, no gpg");
    let text = err.to_string();
    assert!(
        matches!(
            &err,
            KeyError::Encrypt(EncryptFailure::Pgp(PgpEncryptError {
                in_process: Some(PgpKeyProblem::NotFound { .. }),
                gpg: GpgError::Spawn { .. },
                ..
            }))
        ),
        "{err:?}"
    );
    assert!(text.contains(&format!("key {FP} not found in")), "{text}");
    assert!(text.contains("gpg fallback failed"), "{text}");
}

#[cfg(unix)]
#[test]
fn unknown_key_falls_back_to_the_gpg_command() {
    use std::os::unix::fs::PermissionsExt;
    let home = GnupgHome::new();
    let script = home.path().join("fake-gpg");
    let args = home.path().join("args");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s ' \"$@\" > '{}'\ncat >/dev/null\nprintf -- '-----BEGIN PGP MESSAGE-----\\n\\nhQ\\n-----END PGP MESSAGE-----\\n'\n",
            args.display()
        ),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let backend = PgpBackend::new(home.path(), script.as_os_str());
    for spec in [FP, "someone@example.invalid"] {
        let enc = backend.encrypt(spec, &data_key()).expect("fake gpg");
        assert_eq!(
            enc,
            "-----BEGIN PGP MESSAGE-----\n\nhQ\n-----END PGP MESSAGE-----"
        );
        let seen = std::fs::read_to_string(&args).expect("args");
        assert!(
            seen.starts_with(&format!("--homedir {} ", home.path().display())),
            "{seen}"
        );
        assert!(
            seen.contains(&format!("-r {spec} --trusted-key ")),
            "{seen}"
        );
    }
}

#[test]
fn rsa1024_key_is_encrypted_by_gpg_and_roundtrips() {
    if !gpg_available() {
        return;
    }
    let home = GnupgHome::new();
    home.import("rsa1024-public.asc");
    let backend = home
        .backend()
        .with_secret_key_file(corpus("keys/rsa1024-secret.asc"));
    let enc = backend.encrypt(KEY2, &data_key()).expect("encryption");
    assert_eq!(recipient_ids(&enc), vec![KEY2_SUBKEY_ID.to_string()]);
    assert_eq!(
        *backend.decrypt(KEY2, &enc).expect("decryption"),
        data_key()
    );
}

#[test]
fn from_env_uses_gnupghome_or_home() {
    let backend = PgpBackend::from_env();
    match std::env::var_os(crate::env::GNUPGHOME).filter(|v| !v.is_empty()) {
        Some(home) => assert_eq!(backend.home(), Path::new(&home)),
        None => assert!(backend.home().ends_with(".gnupg")),
    }
    assert!(!backend.gpg_program().is_empty());
}

#[test]
fn old_go_message_falls_back_to_gpg_when_sequoia_rejects_it() {
    // Key 1's message is framed like the Go OpenPGP code of sops before 3.7
    // wrote it (see scripts/make-fixtures.sh): a non-minimal MPI and an
    // encrypted data packet in short partial chunks (both repaired before
    // parsing), and literal data inside in partial body chunks shorter than
    // 512 bytes, which sequoia rejects; gpg decrypts it.
    let file = "cases/pgp_two_keys_old_format/encrypted.yaml";
    let enc = corpus_enc(file, 0);
    assert_eq!(recipient_ids(&enc), vec![KEY1_SUBKEY_ID.to_string()]);
    let in_process = PgpBackend::new(GnupgHome::new().path(), NO_GPG)
        .with_secret_key_file(corpus("keys/rsa2048-secret.asc"))
        .decrypt(KEY1, &enc)
        .expect_err("sequoia rejects the inner partial body chunks");
    assert!(
        matches!(
            in_process,
            KeyError::Decrypt(DecryptFailure::Pgp(PgpDecryptError::InProcess { .. }))
        ),
        "{in_process}"
    );
    if !gpg_available() {
        return;
    }
    let home = GnupgHome::new();
    home.import("rsa2048-secret.asc");
    let key1 = home
        .backend()
        .with_secret_key_file(corpus("keys/rsa2048-secret.asc"))
        .decrypt(KEY1, &enc)
        .expect("gpg after the in-process attempt failed");
    // Both master keys of the file wrap the same data key.
    let key2 = PgpBackend::new(GnupgHome::new().path(), NO_GPG)
        .with_secret_key_file(corpus("keys/rsa1024-secret.asc"))
        .decrypt(KEY2, &corpus_enc(file, 1))
        .expect("key 2");
    assert_eq!(*key1, *key2);
}

#[test]
fn decrypt_input_is_never_shown() {
    let marker = "MARKERSECRETDATA";
    let backend = PgpBackend::new(GnupgHome::new().path(), NO_GPG);
    for enc in [
        format!("-----BEGIN PGP MESSAGE-----\n\n{marker}\n-----END PGP MESSAGE-----"),
        format!("{marker} not a message"),
    ] {
        let err = backend.decrypt(FP, &enc).expect_err("garbage");
        assert!(!err.to_string().contains(marker), "{err}");
        assert!(!format!("{err:?}").contains(marker), "{err:?}");
    }
}
