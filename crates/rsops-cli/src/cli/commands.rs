//! The arguments of each subcommand and of sops's legacy mode, built from
//! the shared groups of [`super::flags`] and [`super::keys`].

use std::path::PathBuf;

use clap::{Args, Subcommand};
use rsops_core::env;

use super::flags::{
    AwsProfile, CommentSelectionFlags, CommonFlags, DecryptionOrder, EncryptionContext, Extract,
    GroupsFile, Idempotent, IgnoreMac, InputType, MacOnlyEncrypted, OutputFlags, SelectionFlags,
    ShamirThreshold, ShowMasterKeys,
};
use super::keys::{GroupKeyFlags, KeyChangeFlags, KeyFlags};

/// The keys of a new file and how they are wrapped.
#[derive(Debug, Args, Default, Clone)]
pub struct NewFileKeys {
    #[command(flatten)]
    pub keys: KeyFlags,
    #[command(flatten)]
    pub aws_profile: AwsProfile,
    #[command(flatten)]
    pub encryption_context: EncryptionContext,
    #[command(flatten)]
    pub shamir: ShamirThreshold,
}

/// `rsops encrypt`.
#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// The plaintext file (stdin when absent; then --filename-override is
    /// required). Several files only with -i: each is encrypted in place,
    /// in parallel, in one process.
    pub file: Vec<PathBuf>,
    #[command(flatten)]
    pub common: CommonFlags,
    #[command(flatten)]
    pub output: OutputFlags,
    #[command(flatten)]
    pub keys: NewFileKeys,
    #[command(flatten)]
    pub selection: SelectionFlags,
    #[command(flatten)]
    pub mac_only_encrypted: MacOnlyEncrypted,
}

/// `rsops decrypt`.
#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// The encrypted file (stdin when absent). Several files only with -i:
    /// each is decrypted in place, in parallel, in one process, each
    /// distinct data key unwrapped once.
    pub file: Vec<PathBuf>,
    #[command(flatten)]
    pub common: CommonFlags,
    #[command(flatten)]
    pub output: OutputFlags,
    #[command(flatten)]
    pub extract: Extract,
    #[command(flatten)]
    pub ignore_mac: IgnoreMac,
    #[command(flatten)]
    pub decryption_order: DecryptionOrder,
}

/// `rsops keyservice`.
#[derive(Debug, Args)]
pub struct KeyserviceArgs {
    /// Network to listen on: tcp (also tcp4, tcp6) or unix.
    #[arg(long, visible_alias = "net", default_value = "tcp")]
    pub network: String,
    /// Address to listen on, e.g. 127.0.0.1:5000 or /tmp/sops.sock.
    #[arg(long, visible_alias = "addr", default_value = "127.0.0.1:5000")]
    pub address: String,
    /// Ask on the terminal before answering each request.
    #[arg(long)]
    pub prompt: bool,
    /// Log the listening address and each shutdown.
    #[arg(long)]
    pub verbose: bool,
}

/// `rsops filestatus`.
#[derive(Debug, Args)]
pub struct FilestatusArgs {
    /// The file to inspect.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub input_type: InputType,
}

/// `rsops edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// The encrypted file (created from the creation rules when it does not exist).
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonFlags,
    #[command(flatten)]
    pub keys: NewFileKeys,
    #[command(flatten)]
    pub selection: SelectionFlags,
    #[command(flatten)]
    pub show_master_keys: ShowMasterKeys,
    #[command(flatten)]
    pub ignore_mac: IgnoreMac,
    #[command(flatten)]
    pub decryption_order: DecryptionOrder,
}

/// `rsops set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The encrypted file, changed in place.
    pub file: Option<PathBuf>,
    /// The tree path, e.g. `["db"]["password"]`, then the JSON value (or,
    /// with --value-file, the path of a file holding it; omitted with
    /// --value-stdin).
    #[arg(allow_negative_numbers = true, value_name = "PATH [VALUE]")]
    pub rest: Vec<String>,
    #[command(flatten)]
    pub common: CommonFlags,
    /// VALUE is the path of a file holding the JSON value (keeps the secret
    /// out of process listings).
    #[arg(long)]
    pub value_file: bool,
    /// Read the JSON value from stdin (keeps the secret out of process
    /// listings); then only FILE and PATH are given.
    #[arg(long)]
    pub value_stdin: bool,
    /// Accepted for compatibility with sops; has no effect on `set`.
    #[command(flatten)]
    pub shamir: ShamirThreshold,
    #[command(flatten)]
    pub ignore_mac: IgnoreMac,
    #[command(flatten)]
    pub decryption_order: DecryptionOrder,
    #[command(flatten)]
    pub idempotent: Idempotent,
}

/// `rsops unset`.
#[derive(Debug, Args)]
pub struct UnsetArgs {
    /// The encrypted file, changed in place.
    pub file: Option<PathBuf>,
    /// The tree path to remove, e.g. `["db"]["password"]`.
    #[arg(value_name = "PATH")]
    pub rest: Vec<String>,
    #[command(flatten)]
    pub common: CommonFlags,
    /// Accepted for compatibility with sops; has no effect on `unset`.
    #[command(flatten)]
    pub shamir: ShamirThreshold,
    #[command(flatten)]
    pub ignore_mac: IgnoreMac,
    #[command(flatten)]
    pub decryption_order: DecryptionOrder,
    #[command(flatten)]
    pub idempotent: Idempotent,
}

/// `rsops replace`.
#[derive(Debug, Args)]
pub struct ReplaceArgs {
    /// The encrypted file to update in place.
    pub file: Option<PathBuf>,
    /// The new plaintext (`-` for standard input).
    pub plaintext: Option<PathBuf>,
    /// Shared flags; `--input-type` is the store of the plaintext (default:
    /// the encrypted file's).
    #[command(flatten)]
    pub common: CommonFlags,
    #[command(flatten)]
    pub ignore_mac: IgnoreMac,
    #[command(flatten)]
    pub decryption_order: DecryptionOrder,
}

/// `rsops rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The encrypted file.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonFlags,
    #[command(flatten)]
    pub output: OutputFlags,
    #[command(flatten)]
    pub changes: KeyChangeFlags,
    #[command(flatten)]
    pub encryption_context: EncryptionContext,
    #[command(flatten)]
    pub decryption_order: DecryptionOrder,
}

/// `rsops updatekeys`.
#[derive(Debug, Args)]
pub struct UpdatekeysArgs {
    /// Encrypted files, or directories to search for encrypted files.
    pub files: Vec<PathBuf>,
    /// Pre-approve all changes and run non-interactively.
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[command(flatten)]
    pub common: CommonFlags,
    #[command(flatten)]
    pub decryption_order: DecryptionOrder,
}

/// `rsops publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The encrypted file, or with --recursive a directory (only the first
    /// argument is used, as in sops).
    pub files: Vec<PathBuf>,
    /// Pre-approve all uploads and run non-interactively.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Omit file extensions in the destination path.
    #[arg(long)]
    pub omit_extensions: bool,
    /// If the path is a directory, publish all files under it.
    #[arg(long)]
    pub recursive: bool,
    #[command(flatten)]
    pub common: CommonFlags,
    #[command(flatten)]
    pub decryption_order: DecryptionOrder,
}

/// `rsops groups`.
#[derive(Debug, Args)]
pub struct GroupsArgs {
    /// `add` or `delete`.
    #[command(subcommand)]
    pub action: GroupsAction,
}

/// The `groups` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupsAction {
    /// Append a key group and re-split the data key (Shamir).
    Add(GroupsAddArgs),
    /// Delete the key group at INDEX (0-based) and re-split the data key.
    Delete(GroupsDeleteArgs),
}

/// `rsops groups add`.
#[derive(Debug, Args)]
pub struct GroupsAddArgs {
    #[command(flatten)]
    pub file: GroupsFile,
    #[command(flatten)]
    pub keys: GroupKeyFlags,
    #[command(flatten)]
    pub aws_profile: AwsProfile,
    /// New Shamir threshold (default: keep the file's).
    #[command(flatten)]
    pub shamir: ShamirThreshold,
    #[command(flatten)]
    pub encryption_context: EncryptionContext,
    #[command(flatten)]
    pub output: OutputFlags,
    #[command(flatten)]
    pub common: CommonFlags,
}

/// `rsops groups delete`.
#[derive(Debug, Args)]
pub struct GroupsDeleteArgs {
    #[command(flatten)]
    pub file: GroupsFile,
    /// Index (0-based) of the group to delete.
    pub index: String,
    /// New Shamir threshold (default: keep the file's).
    #[command(flatten)]
    pub shamir: ShamirThreshold,
    #[command(flatten)]
    pub output: OutputFlags,
    #[command(flatten)]
    pub common: CommonFlags,
}

/// What `exec-env` and `exec-file` share.
#[derive(Debug, Args)]
pub struct ExecFlags {
    /// Do not wait for the command (deprecated in sops).
    #[arg(long)]
    pub background: bool,
    /// Run the command as this user (needs the privilege to switch).
    #[arg(long)]
    pub user: Option<String>,
    /// Pass rsops's own key variables (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, ...)
    /// on to the command; by default they are removed from its environment.
    #[arg(long)]
    pub keep_key_env: bool,
}

/// `rsops exec-env`.
#[derive(Debug, Args)]
pub struct ExecEnvArgs {
    /// The encrypted file.
    pub file: Option<PathBuf>,
    /// The command, run with `/bin/sh -c`.
    pub command: Option<String>,
    /// With several files (`FILE... COMMAND`): the others, then the
    /// command; a later file's value overrides an earlier one's.
    #[arg(value_name = "MORE")]
    pub more: Vec<String>,
    #[command(flatten)]
    pub common: CommonFlags,
    #[command(flatten)]
    pub exec: ExecFlags,
    /// Give the command only the file's values, not rsops's environment.
    #[arg(long)]
    pub pristine: bool,
    /// Replace rsops by the command instead of running a child.
    #[arg(long)]
    pub same_process: bool,
    #[command(flatten)]
    pub decryption_order: DecryptionOrder,
}

/// `rsops exec-file`.
#[derive(Debug, Args)]
pub struct ExecFileArgs {
    /// The encrypted file.
    pub file: Option<PathBuf>,
    /// The command, run with `/bin/sh -c`; every `{}` becomes the path of the plaintext.
    pub command: Option<String>,
    #[command(flatten)]
    pub common: CommonFlags,
    #[command(flatten)]
    pub exec: ExecFlags,
    /// Use a regular 0600 file instead of a FIFO.
    #[arg(long)]
    pub no_fifo: bool,
    /// Name of the temporary file (default: tmp-file); a plain file name.
    #[arg(long)]
    pub filename: Option<String>,
    #[command(flatten)]
    pub decryption_order: DecryptionOrder,
}

/// `rsops check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or directories to check (directories recursively, skipping
    /// `.git`). Without any: the files git tracks under the current
    /// directory, or every file below it outside a git work tree.
    pub paths: Vec<PathBuf>,
    /// Fail (exit 1) when no creation rule matches any of the files, so
    /// that nothing was checked (a misconfigured guard).
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub decryption_order: DecryptionOrder,
    #[command(flatten)]
    pub common: CommonFlags,
}

/// `rsops git`.
#[derive(Debug, Args)]
pub struct GitArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: GitAction,
}

/// The `rsops git` subcommands.
#[derive(Debug, Subcommand)]
pub enum GitAction {
    /// Write the `rsops` diff and merge drivers into this repository's git config.
    Install(GitInstallArgs),
    /// Print a file decrypted (the diff driver's textconv; git passes FILE).
    Textconv(GitTextconvArgs),
    /// Three-way merge of an encrypted file (git passes %O %A %B %P).
    Merge(GitMergeArgs),
}

/// `rsops git install`.
#[derive(Debug, Args)]
pub struct GitInstallArgs {
    /// Write the absolute path of this rsops binary into the drivers
    /// instead of `rsops` (looked up on PATH when git runs them).
    #[arg(long)]
    pub absolute: bool,
}

/// `rsops git textconv`.
#[derive(Debug, Args)]
pub struct GitTextconvArgs {
    /// The file to show.
    pub file: PathBuf,
    #[command(flatten)]
    pub decryption_order: DecryptionOrder,
    #[command(flatten)]
    pub common: CommonFlags,
}

/// `rsops git merge`.
#[derive(Debug, Args)]
pub struct GitMergeArgs {
    /// The common ancestor's version (%O; empty when there is none).
    pub ancestor: PathBuf,
    /// The current branch's version (%A); receives the result.
    pub current: PathBuf,
    /// The other branch's version (%B).
    pub other: PathBuf,
    /// The file's path in the repository (%P): selects the store.
    pub path: PathBuf,
    #[command(flatten)]
    pub decryption_order: DecryptionOrder,
    #[command(flatten)]
    pub common: CommonFlags,
}

/// `rsops completion SHELL`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `rsops man` (hidden).
#[derive(Debug, Args)]
pub struct ManArgs {}

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
    #[command(flatten)]
    pub show_master_keys: ShowMasterKeys,
    /// Keys to add to or remove from FILE.
    #[command(flatten)]
    pub changes: KeyChangeFlags,
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
    pub common: CommonFlags,
    #[command(flatten)]
    pub output: OutputFlags,
    #[command(flatten)]
    pub keys: NewFileKeys,
    #[command(flatten)]
    pub selection: SelectionFlags,
    #[command(flatten)]
    pub comment_selection: CommentSelectionFlags,
    #[command(flatten)]
    pub mac_only_encrypted: MacOnlyEncrypted,
    #[command(flatten)]
    pub extract: Extract,
    #[command(flatten)]
    pub ignore_mac: IgnoreMac,
    #[command(flatten)]
    pub decryption_order: DecryptionOrder,
}
