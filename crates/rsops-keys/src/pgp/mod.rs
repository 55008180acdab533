//! OpenPGP master keys (KEYS.md §3), with sequoia-openpgp (pure-Rust
//! crypto) and the `gpg` binary for what only GnuPG can do.
//!
//! * Encrypting: the public key is looked up in the GnuPG home — the keybox
//!   `pubring.kbx` of GnuPG ≥ 2.1 and the legacy `pubring.gpg` — and the
//!   data key is encrypted in-process to the encryption subkey GnuPG would
//!   pick. A key that is not there (or not usable under sequoia's standard
//!   policy) is handed to `gpg --encrypt` exactly as sops does.
//! * Decrypting: unencrypted secret keys from the legacy `secring.gpg` and
//!   from explicitly configured key files decrypt in-process; otherwise
//!   `gpg --batch -d` decrypts through gpg-agent, which holds the secret
//!   keys of GnuPG ≥ 2.1 (including passphrase-protected keys and
//!   smartcards).
//!
//! Keyrings are read once, on first use, and cached for the backend's life.
//! See `docs/openpgp.md` for the design and its limits.

mod gpg_exec;
mod key;
pub mod keybox;
mod keyring;
mod message;
mod normalize;
#[cfg(test)]
mod tests;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use openpgp::policy::StandardPolicy;
use openpgp::KeyHandle;

use crate::env;
use crate::error::KeyError;
use gpg_exec::{Gpg, GpgFailure};
pub use key::PgpKey;
use keyring::{KeySpec, Keyring};

/// The gpg program used when `SOPS_GPG_EXEC` is unset.
const DEFAULT_GPG: &str = "gpg";

/// Encrypts to OpenPGP keys from the user's GnuPG keyring and decrypts with
/// secret keys held by gpg-agent or in key files.
#[derive(Debug)]
pub struct PgpBackend {
    /// The GnuPG home directory.
    home: PathBuf,
    /// How to run gpg.
    gpg: Gpg,
    /// Extra files with (unencrypted) secret keys.
    secret_key_files: Vec<PathBuf>,
    /// Public keys, loaded on first use.
    public: OnceLock<Keyring>,
    /// Secret keys, loaded on first use.
    secret: OnceLock<Keyring>,
}

impl PgpBackend {
    /// A backend using `$GNUPGHOME` (else `~/.gnupg`) and `$SOPS_GPG_EXEC`
    /// (else `gpg` from `PATH`). gpg finds the home itself (no `--homedir`),
    /// as with sops.
    pub fn from_env() -> Self {
        let home = non_empty_var(env::GNUPGHOME)
            .map(PathBuf::from)
            .unwrap_or_else(default_gnupg_home);
        let program = non_empty_var(env::SOPS_GPG_EXEC).unwrap_or_else(|| DEFAULT_GPG.into());
        PgpBackend::build(home, program, false)
    }

    /// A backend for an explicit GnuPG home and gpg program (tests, key
    /// services); gpg is run with `--homedir home`.
    pub fn new(home: impl Into<PathBuf>, gpg: impl Into<OsString>) -> Self {
        PgpBackend::build(home.into(), gpg.into(), true)
    }

    /// Adds a file of secret keys (OpenPGP transferable secret keys, armored
    /// or binary) used in-process before gpg. Passphrase-protected keys in it
    /// are ignored (they are used only through gpg-agent).
    pub fn with_secret_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.secret_key_files.push(path.into());
        self.secret = OnceLock::new();
        self
    }

    /// The GnuPG home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The gpg program run as fallback.
    pub fn gpg_program(&self) -> &OsStr {
        &self.gpg.program
    }

    /// The primary-key fingerprint (upper-case hex) of the public key that
    /// `fingerprint` (40-hex fingerprint or 16-hex key ID of the key or of
    /// one of its subkeys) names in the keyrings read in-process, if any.
    pub fn public_key_fingerprint(&self, fingerprint: &str) -> Option<String> {
        let spec = KeySpec::parse(fingerprint)?;
        let ring = self.public_keyring();
        let cert = ring.find(&spec.handle).next()?;
        Some(format!("{:X}", cert.fingerprint()))
    }

    /// Encrypts `plaintext` to the key with `fingerprint`; returns the armored
    /// OpenPGP message (`-----BEGIN PGP MESSAGE-----` … `-----END PGP
    /// MESSAGE-----`, no final newline, as sops stores it).
    pub fn encrypt(&self, fingerprint: &str, plaintext: &[u8]) -> Result<String, KeyError> {
        let builtin = self.encrypt_builtin(fingerprint, plaintext);
        if let Builtin::Done(text) = builtin {
            return Ok(text);
        }
        self.gpg.encrypt(fingerprint, plaintext).map_err(|failure| {
            KeyError::Encrypt(self.encrypt_error(fingerprint, &builtin, &failure))
        })
    }

    /// Decrypts an armored OpenPGP message stored for `fingerprint`.
    pub fn decrypt(&self, fingerprint: &str, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let binary = message::message_bytes(enc);
        let recipients = binary
            .as_deref()
            .map_err(Clone::clone)
            .and_then(message::recipients);
        let mut builtin_error = None;
        if let (Ok(ids), Ok(binary)) = (&recipients, &binary) {
            let candidates = self.secret_keyring().unencrypted_candidates(ids);
            if !candidates.is_empty() {
                match message::decrypt_with(binary, &candidates) {
                    Ok(plaintext) => return Ok(plaintext),
                    Err(e) => builtin_error = Some(e),
                }
            }
        }
        self.gpg.decrypt(enc).map_err(|failure| {
            self.decrypt_error(fingerprint, &recipients, builtin_error.as_deref(), &failure)
        })
    }

    /// Shared constructor.
    fn build(home: PathBuf, program: OsString, pass_homedir: bool) -> Self {
        let homedir = pass_homedir.then(|| home.clone());
        PgpBackend {
            home,
            gpg: Gpg { program, homedir },
            secret_key_files: Vec::new(),
            public: OnceLock::new(),
            secret: OnceLock::new(),
        }
    }

    /// The public keyring, read on first use.
    fn public_keyring(&self) -> &Keyring {
        self.public.get_or_init(|| Keyring::load_public(&self.home))
    }

    /// The secret keyring, read on first use.
    fn secret_keyring(&self) -> &Keyring {
        self.secret
            .get_or_init(|| Keyring::load_secret(&self.home, &self.secret_key_files))
    }

    /// The in-process encryption step.
    fn encrypt_builtin(&self, fingerprint: &str, plaintext: &[u8]) -> Builtin {
        let Some(spec) = KeySpec::parse(fingerprint) else {
            return Builtin::NotAKeyId;
        };
        let ring = self.public_keyring();
        if ring.find(&spec.handle).next().is_none() {
            return Builtin::NotFound;
        }
        let policy = StandardPolicy::new();
        let Some(key) = ring.encryption_key(&spec, &policy) else {
            return Builtin::Unusable;
        };
        match message::encrypt_to(key, plaintext) {
            Ok(text) => Builtin::Done(text),
            Err(e) => Builtin::Failed(e),
        }
    }

    /// One line: why encryption failed both in-process and with gpg.
    fn encrypt_error(&self, fingerprint: &str, builtin: &Builtin, failure: &GpgFailure) -> String {
        let home = self.home.display();
        let first = match builtin {
            Builtin::NotAKeyId | Builtin::Done(_) => String::new(),
            Builtin::NotFound => {
                let mut s = format!("key {fingerprint} not found in {home} (pubring.kbx, pubring.gpg)");
                if let Some(problem) = self.public_keyring().problems().first() {
                    s.push_str(&format!(" [{problem}]"));
                }
                s
            }
            Builtin::Unusable => format!(
                "key {fingerprint} has no valid encryption subkey (expired, revoked, sign-only or weak algorithm)"
            ),
            Builtin::Failed(e) => format!("key {fingerprint}: {e}"),
        };
        let second = match failure {
            GpgFailure::Spawn(e) => format!("gpg fallback failed: {e}"),
            other => other.describe().to_string(),
        };
        if first.is_empty() {
            second
        } else {
            format!("{first}; {second}")
        }
    }

    /// One line: why decryption failed (no key material, no nested chains).
    fn decrypt_error(
        &self,
        fingerprint: &str,
        recipients: &Result<Vec<Option<KeyHandle>>, String>,
        builtin_error: Option<&str>,
        failure: &GpgFailure,
    ) -> KeyError {
        let home = self.home.display();
        let ids = match recipients {
            Ok(ids) => ids.as_slice(),
            Err(_) if matches!(failure, GpgFailure::NoSecretKey(_)) => &[],
            Err(e) => {
                return KeyError::Decrypt(format!(
                    "the enc value for {fingerprint} is not a readable OpenPGP message ({e}); {}",
                    failure.describe()
                ))
            }
        };
        if let Some(e) = builtin_error {
            if !matches!(failure, GpgFailure::NoSecretKey(_)) {
                return KeyError::Decrypt(format!("{e}; {}", failure.describe()));
            }
        }
        match failure {
            GpgFailure::Failed(summary) => KeyError::Decrypt(summary.clone()),
            GpgFailure::KeyUnusable(line) => KeyError::Decrypt(format!(
                "gpg holds a secret key for {fingerprint} but could not use it ({line}); unlock it in gpg-agent (pinentry with GPG_TTY set, or a cached/preset passphrase) or insert the card"
            )),
            GpgFailure::NoSecretKey(_) | GpgFailure::Spawn(_) => {
                let mut msg = format!(
                    "no secret key for any of: {fingerprint} (message encrypted to {}); is the key in GNUPGHOME ({home}), is gpg-agent running?",
                    describe_recipients(ids)
                );
                if self.secret_keyring().has_encrypted_secret_for(ids) {
                    msg.push_str(" (a passphrase-protected key was found in a key file; such keys are used only through gpg-agent)");
                }
                if let GpgFailure::Spawn(e) = failure {
                    msg.push_str(&format!(" ({e})"));
                }
                KeyError::NoIdentity(msg)
            }
        }
    }
}

/// Outcome of the in-process encryption step.
#[derive(Debug)]
enum Builtin {
    /// Encrypted.
    Done(String),
    /// The key spec is not a fingerprint/key ID (only gpg can resolve it).
    NotAKeyId,
    /// No such key in the keyrings.
    NotFound,
    /// Found, but no usable encryption key under the policy.
    Unusable,
    /// sequoia failed.
    Failed(String),
}

/// `key ID(s) A, B` (wildcard recipients as `an anonymous recipient`).
fn describe_recipients(ids: &[Option<KeyHandle>]) -> String {
    let names: Vec<String> = ids
        .iter()
        .map(|id| match id {
            Some(h) => format!("{h:X}"),
            None => "an anonymous recipient".to_string(),
        })
        .collect();
    match names.len() {
        0 => "unknown keys".to_string(),
        1 => format!("key ID {}", names.join("")),
        _ => format!("key IDs {}", names.join(", ")),
    }
}

/// An environment variable's value, if set and not empty.
fn non_empty_var(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// `~/.gnupg` (`.gnupg` relative to the working directory without `HOME`).
fn default_gnupg_home() -> PathBuf {
    non_empty_var(env::HOME)
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".gnupg")
}
