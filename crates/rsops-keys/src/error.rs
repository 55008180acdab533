//! The error type of the keys crate. Messages never contain key material.
//!
//! [`KeyError`] says which operation failed; its payloads say why, as typed
//! data (paths, variable names, fingerprints, the underlying error as
//! `source`), never the contents of an identity, a key file or a decrypted
//! value. Each payload's `Display` already includes the text of its cause,
//! so a printer shows one error's `Display` and does not walk the chain.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;

use thiserror::Error;

use crate::env;

/// A master key operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key type is recorded in the file but rsops cannot use it yet
    /// (cloud KMS, Vault, ...).
    #[error("{0} master keys are not supported by rsops yet")]
    Unsupported(&'static str),
    /// A recipient, fingerprint or key string could not be parsed.
    #[error("invalid {kind} key {key:?}: {reason}")]
    InvalidKey {
        /// Key type.
        kind: &'static str,
        /// The public key string (recipients are public).
        key: String,
        /// Why.
        reason: InvalidKeyReason,
    },
    /// No identity/secret key that could decrypt was available.
    #[error("{0}")]
    NoIdentity(#[source] NoIdentity),
    /// Encryption failed.
    #[error("failed to encrypt the data key: {0}")]
    Encrypt(#[source] EncryptFailure),
    /// Decryption failed.
    #[error("failed to decrypt the data key: {0}")]
    Decrypt(#[source] DecryptFailure),
    /// An identity source (file, command, environment) could not be read.
    #[error("{0}")]
    Source(#[source] IdentitySourceError),
    /// A HashiCorp Vault transit call failed.
    #[error("{0}")]
    HcVault(#[source] crate::kinds::hc_vault::VaultError),
    /// A HuaweiCloud KMS call failed.
    #[error("{0}")]
    Hckms(#[source] crate::kinds::hckms::HckmsError),
    /// A key service could not be reached or answered with an error.
    #[error("{0}")]
    Service(#[source] ServiceError),
    /// Every key service failed for the key (each one's error, in order).
    #[error("{0}")]
    Services(ServicesFailed),
    /// No key service is enabled (`--enable-local-keyservice=false` and no
    /// `--keyservice`).
    #[error("no key services provided, cannot update master keys (the local key service is disabled and no --keyservice is given)")]
    NoKeyServices,
    /// A GCP Cloud KMS key operation failed.
    #[error("{0}")]
    GcpKms(#[source] crate::kinds::gcp_kms::GcpKmsError),
    /// An Azure Key Vault key operation failed.
    #[error("{0}")]
    AzureKv(#[source] crate::kinds::azure_kv::AzureKvError),
    /// An AWS KMS key operation failed.
    #[error("{0}")]
    Kms(#[source] crate::kinds::kms::KmsError),
}

impl KeyError {
    /// The identifier of the key kind the error is about (`age`, `pgp`, …),
    /// when it is known.
    pub fn kind(&self) -> Option<&'static str> {
        match self {
            KeyError::Unsupported(kind) | KeyError::InvalidKey { kind, .. } => Some(kind),
            KeyError::NoIdentity(NoIdentity::Age { .. })
            | KeyError::Encrypt(EncryptFailure::Age(_))
            | KeyError::Decrypt(DecryptFailure::Age(_))
            | KeyError::Source(_) => Some("age"),
            KeyError::NoIdentity(NoIdentity::Pgp(_))
            | KeyError::Encrypt(EncryptFailure::Pgp(_))
            | KeyError::Decrypt(DecryptFailure::Pgp(_)) => Some("pgp"),
            KeyError::HcVault(_) => Some("hc_vault"),
            KeyError::Hckms(_) => Some("hckms"),
            KeyError::Service(e) => Some(e.kind),
            KeyError::Services(f) => f.attempts.iter().find_map(|(_, e)| e.kind()),
            KeyError::NoKeyServices => None,
            KeyError::GcpKms(_) => Some("gcp_kms"),
            KeyError::AzureKv(_) => Some("azure_kv"),
            KeyError::Kms(_) => Some("kms"),
        }
    }

    /// Whether only remote key services failed (no local key was tried),
    /// so that what to fix is the service, not this process's keys.
    pub fn is_remote_service_failure(&self) -> bool {
        match self {
            KeyError::Service(_) => true,
            KeyError::Services(f) => f
                .attempts
                .iter()
                .all(|(_, e)| e.is_remote_service_failure()),
            _ => false,
        }
    }
}

/// A key service (`--keyservice URL`) failed for one key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("key service {service}: {problem}")]
#[non_exhaustive]
pub struct ServiceError {
    /// The service's URL, as given.
    pub service: String,
    /// The identifier of the key's kind (`age`, `pgp`, …).
    pub kind: &'static str,
    /// What went wrong.
    pub problem: ServiceProblem,
}

impl ServiceError {
    /// An error of `service` about a key of kind `kind`.
    pub fn new(service: impl Into<String>, kind: &'static str, problem: ServiceProblem) -> Self {
        ServiceError {
            service: service.into(),
            kind,
            problem,
        }
    }
}

/// What went wrong with a key service.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ServiceProblem {
    /// No connection could be made (nothing listens, refused, timed out).
    #[error(
        "cannot connect: {0}; is the key service running (sops keyservice / rsops keyservice)?"
    )]
    Connect(String),
    /// The service answered with a gRPC error (its own message, e.g. the
    /// server-side key error, and the status code).
    #[error("{message} (gRPC status {code})")]
    Status {
        /// The gRPC status code's name.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The service answered the connection but not the operation in time
    /// (`RSOPS_KEYSERVICE_TIMEOUT`).
    #[error(
        "no answer within {} (set {} to wait longer)",
        Seconds(*.0),
        env::RSOPS_KEYSERVICE_TIMEOUT
    )]
    TimedOut(std::time::Duration),
    /// Connected, but the service sent nothing at all in time: not a gRPC
    /// server, or a hung one (`RSOPS_KEYSERVICE_CONNECT_TIMEOUT`).
    #[error(
        "connected, but the service sent nothing within {} (not a key service, or hung; set {} \
         to wait longer)",
        Seconds(*.0),
        env::RSOPS_KEYSERVICE_CONNECT_TIMEOUT
    )]
    Silent(std::time::Duration),
    /// The connection broke or the service's answer is not gRPC over
    /// HTTP/2 (the local transport's reason).
    #[error("the connection failed: {0} (is the address a key service: sops keyservice / rsops keyservice?)")]
    Protocol(String),
    /// The answer is not a usable `enc` value.
    #[error("the answer is not text (the ciphertext of a key service must be the enc string)")]
    NotText,
    /// The async runtime could not be started.
    #[error("{0}")]
    Runtime(String),
}

impl ServiceProblem {
    /// Whether the service failed below gRPC (not reachable, silent, not
    /// gRPC, no answer in time), so that asking it again is pointless.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ServiceProblem::Connect(_)
                | ServiceProblem::Silent(_)
                | ServiceProblem::Protocol(_)
                | ServiceProblem::TimedOut(_)
        )
    }
}

/// A duration in seconds for messages: `20 seconds`, `1.5 seconds`.
struct Seconds(std::time::Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs_f64();
        if secs == 1.0 {
            f.write_str("1 second")
        } else {
            write!(f, "{secs} seconds")
        }
    }
}

/// Every key service failed for one key.
#[derive(Debug)]
#[non_exhaustive]
pub struct ServicesFailed {
    /// The name of each service tried (`local key service` or its URL) and
    /// its error, in order.
    pub attempts: Vec<(String, KeyError)>,
}

impl fmt::Display for ServicesFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, e)) in self.attempts.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            match e {
                // Already names its service.
                KeyError::Service(_) => write!(f, "{e}")?,
                _ => write!(f, "{name}: {e}")?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for ServicesFailed {}

/// Why a recipient string is not a usable key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InvalidKeyReason {
    /// `age1NAME1…` that the age crate rejects.
    #[error("failed to parse input as age key from age plugin: {0}")]
    AgePlugin(&'static str),
    /// `age1…` that is not a valid Bech32 X25519 (or `age1pq1…` hybrid
    /// post-quantum) recipient.
    #[error("failed to parse input as Bech32-encoded age public key: {0}")]
    AgeX25519(&'static str),
    /// `ssh-…` that is not a usable SSH public key.
    #[error("failed to parse input as age-ssh public key: {0}")]
    AgeSsh(SshRecipientProblem),
    /// Not any recipient type age knows.
    #[error("failed to parse input, unknown recipient type")]
    AgeUnknownType,
}

/// Why an SSH public key is not usable as an age recipient.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SshRecipientProblem {
    /// A key type age parses but ignores.
    #[error("not a usable SSH public key")]
    NotUsable,
    /// Not a valid SSH public key (the age crate's reason).
    #[error("{0}")]
    Invalid(&'static str),
    /// An `ssh-rsa` key with a modulus larger than age supports.
    #[error("the RSA modulus is larger than supported")]
    RsaModulusTooLarge,
    /// An `ssh-rsa` key with a modulus under 2048 bits.
    #[error("the RSA modulus is smaller than 2048 bits")]
    RsaModulusTooSmall,
    /// A key type age does not support.
    #[error("unsupported SSH key type {0}")]
    UnsupportedType(String),
}

/// No identity or secret key able to decrypt was available.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NoIdentity {
    /// age: no source held any identity.
    #[error(
        "failed to load age identities{sources} To decrypt with age, set {file} to the path of \
         an age identities file (or {key} to the identities, or {cmd} to a command printing \
         them), or create the default keys file.",
        file = env::SOPS_AGE_KEY_FILE,
        key = env::SOPS_AGE_KEY,
        cmd = env::SOPS_AGE_KEY_CMD
    )]
    Age {
        /// What each source held or why it failed.
        sources: Arc<IdentitySources>,
    },
    /// OpenPGP: neither the key files nor gpg hold a secret key for the
    /// message.
    #[error("{0}")]
    Pgp(PgpNoSecretKey),
}

/// OpenPGP: no secret key for the recipients of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgpNoSecretKey {
    /// The master key's fingerprint as recorded in the file.
    pub fingerprint: String,
    /// The key IDs the message is encrypted to (upper-case hex; `None` for
    /// an anonymous recipient).
    pub recipients: Vec<Option<String>>,
    /// The GnuPG home directory consulted.
    pub home: PathBuf,
    /// Whether a passphrase-protected secret key for a recipient was found in
    /// a key file (such keys are used only through gpg-agent).
    pub protected_key_in_file: bool,
    /// Why gpg could not be run, if it could not.
    pub gpg_spawn: Option<String>,
}

impl fmt::Display for PgpNoSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no secret key for any of: {} (message encrypted to {}); is the key in GNUPGHOME ({}), is gpg-agent running?",
            self.fingerprint,
            RecipientList(&self.recipients),
            self.home.display()
        )?;
        if self.protected_key_in_file {
            f.write_str(" (a passphrase-protected key was found in a key file; such keys are used only through gpg-agent)")?;
        }
        if let Some(e) = &self.gpg_spawn {
            write!(f, " ({e})")?;
        }
        Ok(())
    }
}

impl std::error::Error for PgpNoSecretKey {}

/// `key ID(s) A, B` (wildcard recipients as `an anonymous recipient`).
struct RecipientList<'a>(&'a [Option<String>]);

impl fmt::Display for RecipientList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self
            .0
            .iter()
            .map(|id| id.as_deref().unwrap_or("an anonymous recipient"))
            .collect();
        match names.len() {
            0 => f.write_str("unknown keys"),
            1 => write!(f, "key ID {}", names[0]),
            _ => write!(f, "key IDs {}", names.join(", ")),
        }
    }
}

/// Why the data key could not be encrypted.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EncryptFailure {
    /// age encryption failed.
    #[error(transparent)]
    Age(AgeEncryptError),
    /// OpenPGP encryption failed, in-process and with gpg.
    #[error(transparent)]
    Pgp(PgpEncryptError),
}

/// Why age encryption failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AgeEncryptError {
    /// The age crate refused (a plugin binary missing, a plugin failure, …).
    #[error("{0}")]
    Age(#[source] age::EncryptError),
    /// Writing the encrypted or armored output failed.
    #[error("{0}")]
    Io(#[source] std::io::Error),
    /// The armored output is not UTF-8.
    #[error("the armored output is not text")]
    NotText,
}

/// Why OpenPGP encryption failed: what the in-process step found, and how
/// the gpg fallback failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgpEncryptError {
    /// The master key's fingerprint (or whatever key spec the file holds).
    pub fingerprint: String,
    /// Why the key could not be used in-process (`None` when the key spec is
    /// not a fingerprint or key ID, so only gpg could resolve it).
    pub in_process: Option<PgpKeyProblem>,
    /// How gpg failed.
    pub gpg: GpgError,
}

impl fmt::Display for PgpEncryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fingerprint = &self.fingerprint;
        match &self.in_process {
            None => {}
            Some(PgpKeyProblem::NotFound { home, problem }) => {
                write!(
                    f,
                    "key {fingerprint} not found in {} (pubring.kbx, pubring.gpg)",
                    home.display()
                )?;
                if let Some(problem) = problem {
                    write!(f, " [{problem}]")?;
                }
                f.write_str("; ")?;
            }
            Some(PgpKeyProblem::NoEncryptionKey) => write!(
                f,
                "key {fingerprint} has no valid encryption subkey (expired, revoked, sign-only or weak algorithm); "
            )?,
            Some(PgpKeyProblem::Failed { reason }) => write!(f, "key {fingerprint}: {reason}; ")?,
        }
        match &self.gpg {
            GpgError::Spawn { reason } => write!(f, "gpg fallback failed: {reason}"),
            other => write!(f, "{other}"),
        }
    }
}

impl std::error::Error for PgpEncryptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.gpg)
    }
}

/// Why a public key could not be used in-process.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PgpKeyProblem {
    /// No such key in the public keyrings.
    NotFound {
        /// The GnuPG home searched.
        home: PathBuf,
        /// The first problem met while reading the keyrings, if any.
        problem: Option<String>,
    },
    /// Found, but no usable encryption key under the policy.
    NoEncryptionKey,
    /// sequoia failed to encrypt.
    Failed {
        /// sequoia's reason.
        reason: String,
    },
}

/// How a gpg run failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GpgError {
    /// The program could not be run.
    #[error("{reason}")]
    Spawn {
        /// The program and the operating system's reason.
        reason: String,
    },
    /// gpg holds no secret key for the message.
    #[error("{stderr}")]
    NoSecretKey {
        /// gpg's summary.
        stderr: String,
    },
    /// gpg holds the secret key but could not use it.
    #[error("{line}")]
    KeyUnusable {
        /// gpg's `public key decryption failed` line.
        line: String,
    },
    /// gpg failed otherwise.
    #[error("{summary}")]
    Failed {
        /// Exit status and the last line of gpg's standard error.
        summary: String,
    },
}

/// Why the data key could not be decrypted.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DecryptFailure {
    /// age decryption failed.
    #[error(transparent)]
    Age(AgeDecryptError),
    /// OpenPGP decryption failed.
    #[error(transparent)]
    Pgp(PgpDecryptError),
}

/// Why age decryption failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AgeDecryptError {
    /// The `enc` value is not an age file (bad armor, bad header).
    #[error("failed to create reader for decrypting sops data key with age: {source}")]
    Malformed {
        /// The age crate's error.
        #[source]
        source: age::DecryptError,
    },
    /// The age file is encrypted with a passphrase.
    #[error("the age file is encrypted with a passphrase (scrypt), not to a recipient")]
    Passphrase,
    /// Identities were loaded but none matches a recipient.
    #[error("no identity matched any of the recipients{}{sources}", MissingPlugins(.missing_plugins))]
    NoMatchingIdentity {
        /// Plugin binaries (`age-plugin-NAME`) not found on `PATH`.
        missing_plugins: Vec<String>,
        /// What each identity source held or why it failed.
        sources: Arc<IdentitySources>,
    },
    /// Unwrapping the file key failed otherwise.
    #[error("failed to create reader for decrypting sops data key with age: {source}{sources}")]
    Unwrap {
        /// The age crate's error.
        #[source]
        source: age::DecryptError,
        /// What each identity source held or why it failed.
        sources: Arc<IdentitySources>,
    },
    /// The payload could not be read (corrupt or truncated).
    #[error("failed to read the age decrypted data: {source}")]
    Read {
        /// The reader's error.
        #[source]
        source: std::io::Error,
    },
}

/// ` (plugin binaries not found in PATH: a, b)` when any.
struct MissingPlugins<'a>(&'a [String]);

impl fmt::Display for MissingPlugins<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        write!(
            f,
            " (plugin binaries not found in PATH: {})",
            self.0.join(", ")
        )
    }
}

/// Why OpenPGP decryption failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PgpDecryptError {
    /// The `enc` value is not a readable OpenPGP message, and gpg failed too.
    #[error("the enc value for {fingerprint} is not a readable OpenPGP message ({reason}); {gpg}")]
    Malformed {
        /// The master key's fingerprint.
        fingerprint: String,
        /// What is wrong with the message.
        reason: String,
        /// How gpg failed.
        #[source]
        gpg: GpgError,
    },
    /// A secret key from a key file failed to decrypt, and gpg failed too.
    #[error("{reason}; {gpg}")]
    InProcess {
        /// sequoia's reason.
        reason: String,
        /// How gpg failed.
        #[source]
        gpg: GpgError,
    },
    /// gpg holds the secret key but could not use it.
    #[error("gpg holds a secret key for {fingerprint} but could not use it ({line}); unlock it in gpg-agent (pinentry with GPG_TTY set, or a cached/preset passphrase) or insert the card")]
    KeyLocked {
        /// The master key's fingerprint.
        fingerprint: String,
        /// gpg's `public key decryption failed` line.
        line: String,
    },
    /// gpg failed.
    #[error("{0}")]
    Gpg(#[source] GpgError),
}

/// What the age identity sources held: the ones consulted that had no
/// identity and what went wrong. Displayed as sops's suffix
/// `. Errors while loading age identities: …. Did not find keys in
/// locations '…', and '…'.` (each part only when not empty).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct IdentitySources {
    /// Problems met while loading, in source order.
    pub errors: Vec<IdentitySourceError>,
    /// Sources consulted that had no identity (variable names and paths).
    pub unused_locations: Vec<String>,
    /// Sources that gave identities, in source order: a label (the
    /// variable, with the file it names, or the path) and how many.
    pub loaded: Vec<(String, usize)>,
}

impl IdentitySources {
    /// The short account of the age identity report: where identities were
    /// loaded from and how many (`1 loaded from SOPS_AGE_KEY_FILE (k.txt)`),
    /// then the problems met while loading; when nothing was loaded, the
    /// problems and the sources consulted instead. Never key material.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        if self.loaded.is_empty() {
            let text = self.to_string();
            return text
                .trim_start_matches(". ")
                .trim_end_matches('.')
                .to_owned();
        }
        let mut out = String::new();
        for (i, (label, count)) in self.loaded.iter().enumerate() {
            out.push_str(if i == 0 { "" } else { ", " });
            let _ = write!(out, "{count} loaded from {label}");
        }
        if !self.errors.is_empty() {
            out.push_str("; errors while loading: ");
            for (i, e) in self.errors.iter().enumerate() {
                out.push_str(if i == 0 { "" } else { "; " });
                let _ = write!(out, "{e}");
            }
        }
        out
    }
}

impl fmt::Display for IdentitySources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.errors.is_empty() {
            f.write_str(". Errors while loading age identities: ")?;
            for (i, e) in self.errors.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{e}")?;
            }
        }
        if !self.unused_locations.is_empty() {
            write!(
                f,
                ". Did not find keys in location{}.",
                quoted_list(&self.unused_locations)
            )?;
        }
        Ok(())
    }
}

/// `" 'a'"`, `"s 'a' and 'b'"`, `"s 'a', 'b', and 'c'"` (sops's wording).
pub(crate) fn quoted_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => format!(" '{one}'"),
        [a, b] => format!("s '{a}' and '{b}'"),
        [init @ .., last] => format!("s '{}', and '{last}'", init.join("', '")),
    }
}

/// An age identity source could not be used. Names the file or variable,
/// never its contents.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IdentitySourceError {
    /// The home directory (for `~/.ssh`) is unknown.
    #[error("could not determine the user home directory")]
    NoHome,
    /// An SSH key file or the default keys file could not be read.
    #[error("failed to open file: {}: {source}", .path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file named by a variable (`SOPS_AGE_KEY_FILE`) could not be read.
    #[error("failed to open {variable} file: {}: {source}", .path.display())]
    ReadVariableFile {
        /// The variable.
        variable: &'static str,
        /// The file it names.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An SSH private key file could not be used.
    #[error(transparent)]
    SshKey(#[from] SshKeyError),
    /// The key command line could not be split into words.
    #[error("failed to parse command {command} from {variable}: {source}")]
    CommandParse {
        /// The command line.
        command: String,
        /// The variable holding it.
        variable: &'static str,
        /// Why.
        #[source]
        source: shell_words::ParseError,
    },
    /// The key command line is empty.
    #[error("failed to parse command from {variable}: empty command")]
    CommandEmpty {
        /// The variable holding it.
        variable: &'static str,
    },
    /// The key command could not be started.
    #[error("failed to execute command {command} from {variable}: {source}")]
    CommandSpawn {
        /// The command line.
        command: String,
        /// The variable holding it.
        variable: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key command exited unsuccessfully.
    #[error("failed to execute command {command} from {variable}: {status}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// The variable holding it.
        variable: &'static str,
        /// Its exit status.
        status: ExitStatus,
    },
    /// The user configuration directory (for the default keys file) is
    /// unknown.
    #[error("user config directory could not be determined: {0}")]
    ConfigDir(ConfigDirError),
    /// A text source is not UTF-8.
    #[error("failed to parse '{location}' age identities: not valid UTF-8")]
    NotUtf8 {
        /// The variable name or path.
        location: String,
    },
    /// A text source is an age file, but not encrypted with a passphrase.
    #[error(
        "'{location}' is an age-encrypted file that is not protected by a passphrase: \
         an identity file must be plain text or encrypted with age -p"
    )]
    PassphraseEncrypted {
        /// The variable name or path.
        location: String,
    },
    /// A passphrase-protected identity file cannot be read.
    #[error("failed to read the passphrase-protected age identity file '{location}': {source}")]
    EncryptedIdentityFile {
        /// The variable name or path.
        location: String,
        /// The age crate's reason.
        #[source]
        source: age::DecryptError,
    },
    /// A text source holds something that is not an identity.
    #[error("failed to parse '{location}' age identities: {source}")]
    Parse {
        /// The variable name or path.
        location: String,
        /// The line and the problem.
        #[source]
        source: IdentityParseError,
    },
}

/// Why the user configuration directory is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigDirError {
    /// No home directory.
    #[error("the home directory is not defined")]
    NoHome,
    /// `$XDG_CONFIG_HOME` is a relative path.
    #[error("path in ${} is relative", env::XDG_CONFIG_HOME)]
    RelativeXdgConfigHome,
}

/// An SSH private key file that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SshKeyError {
    /// Not a parseable SSH private key.
    #[error("malformed SSH identity in {path:?}: {source}")]
    Malformed {
        /// The file, as shown.
        path: String,
        /// The parser's error.
        #[source]
        source: std::io::Error,
    },
    /// Protected by a passphrase (no prompt yet).
    #[error(
        "the SSH private key {path:?} is protected by a passphrase, and rsops cannot ask \
         for it (no terminal prompt yet); use an unencrypted key or an age identity"
    )]
    Encrypted {
        /// The file, as shown.
        path: String,
    },
    /// A key age cannot use.
    #[error("the SSH private key {path:?} is not supported: {reason}")]
    Unsupported {
        /// The file, as shown.
        path: String,
        /// Why.
        reason: UnsupportedSshKey,
    },
}

/// Why an SSH private key is not supported.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UnsupportedSshKey {
    /// An encrypted PEM key.
    #[error("encrypted PEM keys are not supported")]
    EncryptedPem,
    /// An OpenSSH key encrypted with a cipher age lacks.
    #[error("the key is encrypted with the unsupported cipher {0}")]
    Cipher(String),
    /// A hardware security key.
    #[error("hardware security key type {0} (use an age plugin instead)")]
    Hardware(String),
    /// Another key type.
    #[error("unsupported key type {0}")]
    Type(String),
}

/// A line of identities text that is not an identity. Gives the line number
/// and the kind of problem, never the text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {problem}")]
#[non_exhaustive]
pub struct IdentityParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub problem: IdentityProblem,
}

/// What is wrong with one identity string.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdentityProblem {
    /// `AGE-PLUGIN-…` the age crate rejects.
    #[error("malformed plugin identity: {0}")]
    MalformedPlugin(&'static str),
    /// `AGE-SECRET-KEY-1…` the age crate rejects.
    #[error("malformed secret key: {0}")]
    MalformedSecretKey(&'static str),
    /// Anything else.
    #[error("unknown identity type")]
    UnknownType,
}

/// An error and its causes, `a: b: c`, without a cause whose text the
/// line already contains (HTTP and gRPC clients' `Display` often omits the
/// interesting cause, e.g. "connection refused").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_the_key_kind() {
        let age = KeyError::Decrypt(DecryptFailure::Age(AgeDecryptError::Passphrase));
        assert_eq!(age.kind(), Some("age"));
        let pgp = KeyError::Decrypt(DecryptFailure::Pgp(PgpDecryptError::Gpg(
            GpgError::Failed {
                summary: "gpg exited with exit status: 2".into(),
            },
        )));
        assert_eq!(pgp.kind(), Some("pgp"));
        assert_eq!(KeyError::Unsupported("azure_kv").kind(), Some("azure_kv"));
    }

    #[test]
    fn messages_match_the_former_wording() {
        let sources = Arc::new(IdentitySources {
            errors: vec![IdentitySourceError::NoHome],
            unused_locations: vec!["SOPS_AGE_KEY".into(), "SOPS_AGE_KEY_FILE".into()],
            loaded: Vec::new(),
        });
        let no_match =
            KeyError::Decrypt(DecryptFailure::Age(AgeDecryptError::NoMatchingIdentity {
                missing_plugins: vec!["age-plugin-a".into(), "age-plugin-b".into()],
                sources,
            }));
        assert_eq!(
            no_match.to_string(),
            "failed to decrypt the data key: no identity matched any of the recipients \
             (plugin binaries not found in PATH: age-plugin-a, age-plugin-b). Errors while \
             loading age identities: could not determine the user home directory. Did not find \
             keys in locations 'SOPS_AGE_KEY' and 'SOPS_AGE_KEY_FILE'."
        );
        let no_key = KeyError::NoIdentity(NoIdentity::Pgp(PgpNoSecretKey {
            fingerprint: "FP".into(),
            recipients: vec![Some("AB".into()), None],
            home: PathBuf::from("/h"),
            protected_key_in_file: true,
            gpg_spawn: Some("cannot run gpg: not found".into()),
        }));
        assert_eq!(
            no_key.to_string(),
            "no secret key for any of: FP (message encrypted to key IDs AB, an anonymous \
             recipient); is the key in GNUPGHOME (/h), is gpg-agent running? (a \
             passphrase-protected key was found in a key file; such keys are used only through \
             gpg-agent) (cannot run gpg: not found)"
        );
        let encrypt = KeyError::Encrypt(EncryptFailure::Pgp(PgpEncryptError {
            fingerprint: "FP".into(),
            in_process: Some(PgpKeyProblem::NotFound {
                home: PathBuf::from("/h"),
                problem: Some("cannot read /h/pubring.kbx: denied".into()),
            }),
            gpg: GpgError::Spawn {
                reason: "cannot run gpg: not found".into(),
            },
        }));
        assert_eq!(
            encrypt.to_string(),
            "failed to encrypt the data key: key FP not found in /h (pubring.kbx, pubring.gpg) \
             [cannot read /h/pubring.kbx: denied]; gpg fallback failed: cannot run gpg: not found"
        );
    }
}
