//! Every environment variable rsops reads, in one place, except the key
//! kinds' key-list variables (`SOPS_AGE_RECIPIENTS`, `SOPS_PGP_FP`, ...),
//! which each kind's module declares ([`crate::kind::CliSpec::env`]).
//!
//! The names and meanings are sops's; rsops reads no variable
//! that is not listed here.

/// Path of the `.sops.yaml` to use (same as `--config`).
pub const SOPS_CONFIG: &str = "SOPS_CONFIG";
/// age identities, as text.
pub const SOPS_AGE_KEY: &str = "SOPS_AGE_KEY";
/// Path of an age identities file.
pub const SOPS_AGE_KEY_FILE: &str = "SOPS_AGE_KEY_FILE";
/// Command whose standard output is age identities.
pub const SOPS_AGE_KEY_CMD: &str = "SOPS_AGE_KEY_CMD";
/// Path of an OpenSSH private key used as an age identity.
pub const SOPS_AGE_SSH_PRIVATE_KEY_FILE: &str = "SOPS_AGE_SSH_PRIVATE_KEY_FILE";
/// Command whose standard output is an OpenSSH private key (sops 3.12+).
pub const SOPS_AGE_SSH_PRIVATE_KEY_CMD: &str = "SOPS_AGE_SSH_PRIVATE_KEY_CMD";
/// Set for `SOPS_AGE_KEY_CMD`: the recipient being decrypted.
pub const SOPS_AGE_RECIPIENT: &str = "SOPS_AGE_RECIPIENT";
/// The gpg binary to use as a fallback.
pub const SOPS_GPG_EXEC: &str = "SOPS_GPG_EXEC";
/// GnuPG home directory.
pub const GNUPGHOME: &str = "GNUPGHOME";
/// Order in which key types are tried when decrypting.
pub const SOPS_DECRYPTION_ORDER: &str = "SOPS_DECRYPTION_ORDER";
/// Remote key services.
pub const SOPS_KEYSERVICE: &str = "SOPS_KEYSERVICE";
/// Whether the in-process key service is used.
pub const SOPS_ENABLE_LOCAL_KEYSERVICE: &str = "SOPS_ENABLE_LOCAL_KEYSERVICE";
/// `--version` never checks for updates in rsops; accepted for compatibility.
pub const SOPS_DISABLE_VERSION_CHECK: &str = "SOPS_DISABLE_VERSION_CHECK";
/// The editor for `edit` (before `EDITOR`).
pub const SOPS_EDITOR: &str = "SOPS_EDITOR";
/// The editor for `edit` when `SOPS_EDITOR` is unset.
pub const EDITOR: &str = "EDITOR";
/// Base of the user configuration directory (age default key file).
pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
/// The user's home directory.
pub const HOME: &str = "HOME";
/// Windows: the roaming application data directory (age default key file).
pub const APPDATA: &str = "APPDATA";
/// rsops extension (sops issue #242): when `1`/`true`/`yes`/`on`, `.sops.yaml`
/// is searched from the processed file's directory upwards instead of from
/// the current directory. Unset (the default) keeps sops's behaviour.
pub const RSOPS_CONFIG_FROM_FILE_DIR: &str = "RSOPS_CONFIG_FROM_FILE_DIR";
/// rsops extension: the longest time, in seconds, one AWS KMS or STS call
/// may take with its retries (default 30; each attempt at most 10).
pub const RSOPS_AWS_TIMEOUT: &str = "RSOPS_AWS_TIMEOUT";
