//! OpenPGP master keys, with sequoia-openpgp (pure-Rust
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
use crate::error::{
    DecryptFailure, EncryptFailure, GpgError, KeyError, NoIdentity, PgpDecryptError,
    PgpEncryptError, PgpKeyProblem, PgpNoSecretKey,
};
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
            KeyError::Encrypt(EncryptFailure::Pgp(self.encrypt_error(
                fingerprint,
                builtin,
                failure,
            )))
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
            self.decrypt_error(fingerprint, &recipients, builtin_error.as_deref(), failure)
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

    /// Why encryption failed both in-process and with gpg.
    fn encrypt_error(
        &self,
        fingerprint: &str,
        builtin: Builtin,
        failure: GpgFailure,
    ) -> PgpEncryptError {
        let in_process = match builtin {
            Builtin::NotAKeyId | Builtin::Done(_) => None,
            Builtin::NotFound => Some(PgpKeyProblem::NotFound {
                home: self.home.clone(),
                problem: self.public_keyring().problems().first().cloned(),
            }),
            Builtin::Unusable => Some(PgpKeyProblem::NoEncryptionKey),
            Builtin::Failed(reason) => Some(PgpKeyProblem::Failed { reason }),
        };
        PgpEncryptError {
            fingerprint: fingerprint.to_string(),
            in_process,
            gpg: gpg_error(failure),
        }
    }

    /// Why decryption failed (no key material, no nested chains).
    fn decrypt_error(
        &self,
        fingerprint: &str,
        recipients: &Result<Vec<Option<KeyHandle>>, String>,
        builtin_error: Option<&str>,
        failure: GpgFailure,
    ) -> KeyError {
        let failed = |e: PgpDecryptError| KeyError::Decrypt(DecryptFailure::Pgp(e));
        let ids = match recipients {
            Ok(ids) => ids.as_slice(),
            Err(_) if matches!(failure, GpgFailure::NoSecretKey(_)) => &[],
            Err(e) => {
                return failed(PgpDecryptError::Malformed {
                    fingerprint: fingerprint.to_string(),
                    reason: e.clone(),
                    gpg: gpg_error(failure),
                })
            }
        };
        if let Some(e) = builtin_error {
            if !matches!(failure, GpgFailure::NoSecretKey(_)) {
                return failed(PgpDecryptError::InProcess {
                    reason: e.to_string(),
                    gpg: gpg_error(failure),
                });
            }
        }
        match failure {
            GpgFailure::Failed(summary) => {
                failed(PgpDecryptError::Gpg(GpgError::Failed { summary }))
            }
            GpgFailure::KeyUnusable(line) => failed(PgpDecryptError::KeyLocked {
                fingerprint: fingerprint.to_string(),
                line,
            }),
            GpgFailure::NoSecretKey(_) | GpgFailure::Spawn(_) => {
                KeyError::NoIdentity(NoIdentity::Pgp(PgpNoSecretKey {
                    fingerprint: fingerprint.to_string(),
                    recipients: ids
                        .iter()
                        .map(|id| id.as_ref().map(|h| format!("{h:X}")))
                        .collect(),
                    home: self.home.clone(),
                    protected_key_in_file: self.secret_keyring().has_encrypted_secret_for(ids),
                    gpg_spawn: match failure {
                        GpgFailure::Spawn(reason) => Some(reason),
                        _ => None,
                    },
                }))
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

/// The public form of a gpg failure.
fn gpg_error(failure: GpgFailure) -> GpgError {
    let text = failure.describe().to_owned();
    match failure {
        GpgFailure::Spawn(_) => GpgError::Spawn { reason: text },
        GpgFailure::NoSecretKey(_) => GpgError::NoSecretKey { stderr: text },
        GpgFailure::KeyUnusable(_) => GpgError::KeyUnusable { line: text },
        GpgFailure::Failed(_) => GpgError::Failed { summary: text },
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
