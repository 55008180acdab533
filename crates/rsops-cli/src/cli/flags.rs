//! Flag groups several commands share, each defined once and added to a
//! command with `#[command(flatten)]`.

use std::path::PathBuf;

use clap::Args;
use rsops_core::env;

/// Flags every command that reads or writes files shares.
#[derive(Debug, Args, Default, Clone)]
pub struct CommonFlags {
    /// Path of the `.sops.yaml` to use instead of searching for one.
    #[arg(long, env = env::SOPS_CONFIG)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub input_type: InputType,
    /// Output store: yaml, json, dotenv, ini or binary (default: from the extension).
    #[arg(long)]
    pub output_type: Option<String>,
    /// Use this file name to infer types and match creation rules.
    #[arg(long)]
    pub filename_override: Option<PathBuf>,
    /// Indentation of YAML/JSON output.
    #[arg(long)]
    pub indent: Option<i64>,
    /// Key services to use after the local one, e.g. tcp://host:5000 or unix:///path.sock (repeatable).
    #[arg(long, env = env::SOPS_KEYSERVICE, value_delimiter = ',')]
    pub keyservice: Vec<String>,
    /// Whether to use the local key service (this process's own keys).
    #[arg(long, env = env::SOPS_ENABLE_LOCAL_KEYSERVICE, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub enable_local_keyservice: bool,
    /// More logging (accepted for compatibility).
    #[arg(long)]
    pub verbose: bool,
}

/// `--input-type`.
#[derive(Debug, Args, Default, Clone)]
pub struct InputType {
    /// Input store: yaml, json, dotenv, ini or binary (default: from the extension).
    #[arg(long)]
    pub input_type: Option<String>,
}

/// `--extract`.
#[derive(Debug, Args, Default, Clone)]
pub struct Extract {
    /// Print only the value at this path, e.g. `["data"]["password"]`.
    #[arg(long)]
    pub extract: Option<String>,
}

/// `-s`/`--show-master-keys`.
#[derive(Debug, Args, Default, Clone)]
pub struct ShowMasterKeys {
    /// Show the master keys in the editor (accepted for compatibility and ignored).
    #[arg(short = 's', long)]
    pub show_master_keys: bool,
}

/// `--idempotent` (set, unset).
#[derive(Debug, Args, Default, Clone)]
pub struct Idempotent {
    /// Succeed without writing when nothing changes (set: PATH already
    /// holds VALUE; unset: PATH does not exist).
    #[arg(long)]
    pub idempotent: bool,
}

/// `-f`/`--file` (groups).
#[derive(Debug, Args, Default, Clone)]
pub struct GroupsFile {
    /// The encrypted file.
    #[arg(short = 'f', long)]
    pub file: Option<PathBuf>,
}

/// Where output goes.
#[derive(Debug, Args, Default, Clone)]
pub struct OutputFlags {
    /// Write the result over the input file.
    #[arg(short = 'i', long)]
    pub in_place: bool,
    /// Write the result to this file.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// The order in which key types are tried when decrypting.
#[derive(Debug, Args, Default, Clone)]
pub struct DecryptionOrder {
    /// Order in which key types are tried, e.g. `age,pgp`.
    #[arg(long, env = env::SOPS_DECRYPTION_ORDER)]
    pub decryption_order: Option<String>,
}

/// `--ignore-mac`.
#[derive(Debug, Args, Default, Clone)]
pub struct IgnoreMac {
    /// Do not check the MAC.
    #[arg(long)]
    pub ignore_mac: bool,
}

/// Selection flags (which values are encrypted).
#[derive(Debug, Args, Default, Clone)]
pub struct SelectionFlags {
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

/// The comment selection rules (legacy mode only, as in sops).
#[derive(Debug, Args, Default, Clone)]
pub struct CommentSelectionFlags {
    /// Keys after a comment matching this regex stay in clear.
    #[arg(long)]
    pub unencrypted_comment_regex: Option<String>,
    /// Only values after a comment matching this regex are encrypted.
    #[arg(long)]
    pub encrypted_comment_regex: Option<String>,
}

/// `--mac-only-encrypted`.
#[derive(Debug, Args, Default, Clone)]
pub struct MacOnlyEncrypted {
    /// Hash only encrypted values into the MAC.
    #[arg(long)]
    pub mac_only_encrypted: bool,
}

/// `--shamir-secret-sharing-threshold`.
#[derive(Debug, Args, Default, Clone)]
pub struct ShamirThreshold {
    /// Shamir threshold for key groups.
    #[arg(long)]
    pub shamir_secret_sharing_threshold: Option<usize>,
}

/// `--encryption-context` (for the KMS keys given by flags).
#[derive(Debug, Args, Default, Clone)]
pub struct EncryptionContext {
    /// KMS encryption context, `k1:v1,k2:v2`.
    #[arg(long)]
    pub encryption_context: Option<String>,
}

/// `--aws-profile` (for the KMS keys given by flags).
#[derive(Debug, Args, Default, Clone)]
pub struct AwsProfile {
    /// AWS profile for the KMS keys.
    #[arg(long)]
    pub aws_profile: Option<String>,
}
