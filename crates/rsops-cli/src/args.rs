//! The command line, as clap types: sops's subcommands and flags, and its
//! legacy form `rsops [flags] FILE` (CLI.md §1, §2).

use clap::{Args, Parser, Subcommand};
use rsops_core::env;

/// A SOPS-compatible secrets-file encryption tool.
#[derive(Debug, Parser)]
#[command(
    name = "rsops",
    version = concat!(env!("CARGO_PKG_VERSION"), " (sops ", "3.11.0", " compatible)"),
    disable_version_flag = true,
)]
pub struct Cli {
    /// The subcommand; without one, rsops runs in sops's legacy mode on FILE.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Legacy-mode flags (`-e`, `-d`, `-i`, ...).
    #[command(flatten)]
    pub legacy: LegacyArgs,
    /// The file (legacy mode).
    pub file: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Encrypt a file, print it to stdout (or write it with -i/--output).
    Encrypt(EncryptArgs),
    /// Decrypt a file, print it to stdout (or write it with -i/--output).
    Decrypt(DecryptArgs),
    /// Print whether a file is encrypted, as JSON.
    Filestatus(FilestatusArgs),
    /// Edit an encrypted file in $SOPS_EDITOR / $EDITOR.
    Edit(crate::commands::edit::EditArgs),
    /// Set one value of an encrypted file, e.g. `rsops set f.yaml '["a"]["b"]' '"v"'`.
    Set(crate::commands::set::SetArgs),
    /// Remove one value of an encrypted file.
    Unset(crate::commands::unset::UnsetArgs),
    /// Replace the plaintext of an encrypted file, keeping unchanged ciphertexts.
    Replace(crate::commands::replace::ReplaceArgs),
    /// Generate a new data key and re-encrypt every value.
    Rotate(crate::commands::rotate::RotateArgs),
    /// Re-wrap the data key for the keys the creation rules name now.
    Updatekeys(crate::commands::updatekeys::UpdatekeysArgs),
    /// Add or delete key groups.
    Groups(crate::commands::groups::GroupsArgs),
    /// Run a command with the file's values in its environment.
    #[command(name = "exec-env")]
    ExecEnv(crate::commands::exec_env::ExecEnvArgs),
    /// Run a command with the decrypted file at a temporary path (a FIFO).
    #[command(name = "exec-file")]
    ExecFile(crate::commands::exec_file::ExecFileArgs),
    /// Fail when files the creation rules select are not (fully) encrypted.
    Check(crate::commands::check::CheckArgs),
    /// Git integration: diff and merge drivers.
    Git(crate::commands::git::GitArgs),
}

/// Flags every command that reads or writes files shares.
#[derive(Debug, Args, Default, Clone)]
pub struct CommonArgs {
    /// Path of the `.sops.yaml` to use instead of searching for one.
    #[arg(long, env = env::SOPS_CONFIG)]
    pub config: Option<String>,
    /// Input store: yaml, json, dotenv, ini or binary (default: from the extension).
    #[arg(long)]
    pub input_type: Option<String>,
    /// Output store: yaml, json, dotenv, ini or binary (default: from the extension).
    #[arg(long)]
    pub output_type: Option<String>,
    /// Use this file name to infer types and match creation rules.
    #[arg(long)]
    pub filename_override: Option<String>,
    /// Indentation of YAML/JSON output.
    #[arg(long)]
    pub indent: Option<i64>,
    /// Key services to use (accepted for compatibility; remote key services are not supported yet).
    #[arg(long, env = env::SOPS_KEYSERVICE, value_delimiter = ',')]
    pub keyservice: Vec<String>,
    /// Whether to use the local key service.
    #[arg(long, env = env::SOPS_ENABLE_LOCAL_KEYSERVICE, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub enable_local_keyservice: bool,
    /// More logging (accepted for compatibility).
    #[arg(long)]
    pub verbose: bool,
}

/// Where output goes.
#[derive(Debug, Args, Default, Clone)]
pub struct OutputArgs {
    /// Write the result over the input file.
    #[arg(short = 'i', long)]
    pub in_place: bool,
    /// Write the result to this file.
    #[arg(long)]
    pub output: Option<String>,
}

/// Master-key flags.
#[derive(Debug, Args, Default, Clone)]
pub struct KeyArgs {
    /// age recipients, comma-separated.
    #[arg(short = 'a', long, env = env::SOPS_AGE_RECIPIENTS)]
    pub age: Option<String>,
    /// OpenPGP fingerprints, comma-separated.
    #[arg(short = 'p', long, env = env::SOPS_PGP_FP)]
    pub pgp: Option<String>,
    /// AWS KMS ARNs, comma-separated.
    #[arg(short = 'k', long, env = env::SOPS_KMS_ARN)]
    pub kms: Option<String>,
    /// AWS profile for the KMS keys.
    #[arg(long)]
    pub aws_profile: Option<String>,
    /// GCP KMS resource IDs, comma-separated.
    #[arg(long, env = env::SOPS_GCP_KMS_IDS)]
    pub gcp_kms: Option<String>,
    /// HuaweiCloud KMS key IDs, comma-separated.
    #[arg(long, env = env::SOPS_HUAWEICLOUD_KMS_IDS)]
    pub hckms: Option<String>,
    /// Azure Key Vault key URLs, comma-separated.
    #[arg(long, env = env::SOPS_AZURE_KEYVAULT_URLS)]
    pub azure_kv: Option<String>,
    /// HashiCorp Vault transit URIs, comma-separated.
    #[arg(long, env = env::SOPS_VAULT_URIS)]
    pub hc_vault_transit: Option<String>,
    /// KMS encryption context, `k1:v1,k2:v2`.
    #[arg(long)]
    pub encryption_context: Option<String>,
    /// Shamir threshold for key groups.
    #[arg(long)]
    pub shamir_secret_sharing_threshold: Option<usize>,
}

/// Selection flags (which values are encrypted).
#[derive(Debug, Args, Default, Clone)]
pub struct SelectionArgs {
    /// Keys ending with this suffix stay in clear.
    #[arg(long)]
    pub unencrypted_suffix: Option<String>,
    /// Only keys ending with this suffix are encrypted.
    #[arg(long)]
    pub encrypted_suffix: Option<String>,
    /// Keys matching this regex stay in clear.
    #[arg(long)]
    pub unencrypted_regex: Option<String>,
    /// Only keys matching this regex are encrypted.
    #[arg(long)]
    pub encrypted_regex: Option<String>,
}

/// `rsops encrypt`.
#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// The plaintext file (stdin when absent; then --filename-override is
    /// required). Several files only with -i: each is encrypted in place,
    /// in parallel, in one process.
    pub file: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Hash only encrypted values into the MAC.
    #[arg(long)]
    pub mac_only_encrypted: bool,
}

/// `rsops decrypt`.
#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// The encrypted file (stdin when absent). Several files only with -i:
    /// each is decrypted in place, in parallel, in one process, each
    /// distinct data key unwrapped once.
    pub file: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Print only the value at this path, e.g. `["data"]["password"]`.
    #[arg(long)]
    pub extract: Option<String>,
    /// Do not check the MAC.
    #[arg(long)]
    pub ignore_mac: bool,
    /// Order in which key types are tried, e.g. `age,pgp`.
    #[arg(long, env = env::SOPS_DECRYPTION_ORDER)]
    pub decryption_order: Option<String>,
}

/// `rsops filestatus`.
#[derive(Debug, Args)]
pub struct FilestatusArgs {
    /// The file to inspect.
    pub file: Option<String>,
    /// Input store (default: from the extension).
    #[arg(long)]
    pub input_type: Option<String>,
}

/// sops's legacy mode: `rsops -e FILE`, `rsops -d FILE`.
#[derive(Debug, Args, Default)]
pub struct LegacyArgs {
    /// Encrypt FILE.
    #[arg(short = 'e', long)]
    pub encrypt: bool,
    /// Decrypt FILE.
    #[arg(short = 'd', long)]
    pub decrypt: bool,
    /// Generate a new data key and re-encrypt FILE (`--add-*`/`--rm-*` imply it).
    #[arg(short = 'r', long)]
    pub rotate: bool,
    /// Set one value in place: `--set '["a"]["b"] "value"'`.
    #[arg(long)]
    pub set: Option<String>,
    /// Show the master keys in the editor (accepted; rsops shows values only).
    #[arg(short = 's', long)]
    pub show_master_keys: bool,
    /// Keys to add to or remove from FILE.
    #[command(flatten)]
    pub changes: crate::commands::rotate::KeyChangeArgs,
    /// Print the version and exit.
    #[arg(short = 'v', long)]
    pub version: bool,
    /// Does nothing: rsops never checks for updates.
    #[arg(long, env = env::SOPS_DISABLE_VERSION_CHECK, value_parser = clap::builder::BoolishValueParser::new())]
    pub disable_version_check: bool,
    /// Does nothing: rsops never checks for updates.
    #[arg(long)]
    pub check_for_updates: bool,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Keys after a comment matching this regex stay in clear.
    #[arg(long)]
    pub unencrypted_comment_regex: Option<String>,
    /// Only values after a comment matching this regex are encrypted.
    #[arg(long)]
    pub encrypted_comment_regex: Option<String>,
    /// Hash only encrypted values into the MAC.
    #[arg(long)]
    pub mac_only_encrypted: bool,
    /// Print only the value at this path (with -d).
    #[arg(long)]
    pub extract: Option<String>,
    /// Do not check the MAC.
    #[arg(long)]
    pub ignore_mac: bool,
    /// Order in which key types are tried.
    #[arg(long, env = env::SOPS_DECRYPTION_ORDER)]
    pub decryption_order: Option<String>,
}

impl SelectionArgs {
    /// The flags as config selection fields (the comment rules are
    /// legacy-only flags and start unset).
    pub fn to_fields(&self) -> rsops_core::config::SelectionFields {
        rsops_core::config::SelectionFields {
            unencrypted_suffix: self.unencrypted_suffix.clone(),
            encrypted_suffix: self.encrypted_suffix.clone(),
            unencrypted_regex: self.unencrypted_regex.clone(),
            encrypted_regex: self.encrypted_regex.clone(),
            unencrypted_comment_regex: None,
            encrypted_comment_regex: None,
        }
    }
}
