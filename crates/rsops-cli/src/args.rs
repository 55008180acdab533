//! The command line, as clap types: sops's subcommands and flags, and its
//! legacy form `rsops [flags] FILE` (CLI.md §1, §2).

use clap::builder::StyledStr;
use clap::{ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use rsops_core::env;

/// The version clap prints.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (sops ",
    "3.11.0",
    " compatible)"
);
/// What `rsops --help` says rsops is: [`Cli`]'s doc comment, as clap's
/// derive renders it (a test checks that they agree).
const ABOUT: &str = "A SOPS-compatible secrets-file encryption tool";

/// Environment variables that flags of the root command read, with their
/// value parser's check. A bad value is an error (exit 1) even when a
/// subcommand is given, as with sops; a test checks the list against the
/// definition.
const ROOT_ENV: &[(&str, bool)] = &[
    (env::SOPS_CONFIG, false),
    (env::SOPS_KEYSERVICE, false),
    (env::SOPS_ENABLE_LOCAL_KEYSERVICE, true),
    (env::SOPS_AGE_RECIPIENTS, false),
    (env::SOPS_PGP_FP, false),
    (env::SOPS_KMS_ARN, false),
    (env::SOPS_GCP_KMS_IDS, false),
    (env::SOPS_HUAWEICLOUD_KMS_IDS, false),
    (env::SOPS_AZURE_KEYVAULT_URLS, false),
    (env::SOPS_VAULT_URIS, false),
    (env::SOPS_DECRYPTION_ORDER, false),
    (env::SOPS_DISABLE_VERSION_CHECK, true),
];

/// A SOPS-compatible secrets-file encryption tool.
#[derive(Debug, Parser)]
#[command(name = "rsops", version = VERSION, disable_version_flag = true)]
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
    Encrypt(Deferred<EncryptArgs>),
    /// Decrypt a file, print it to stdout (or write it with -i/--output).
    Decrypt(Deferred<DecryptArgs>),
    /// Print whether a file is encrypted, as JSON.
    Filestatus(Deferred<FilestatusArgs>),
    /// Edit an encrypted file in $SOPS_EDITOR / $EDITOR.
    Edit(Deferred<crate::commands::edit::EditArgs>),
    /// Set one value of an encrypted file, e.g. `rsops set f.yaml '["a"]["b"]' '"v"'`.
    Set(Deferred<crate::commands::set::SetArgs>),
    /// Remove one value of an encrypted file.
    Unset(Deferred<crate::commands::unset::UnsetArgs>),
    /// Replace the plaintext of an encrypted file, keeping unchanged ciphertexts.
    Replace(Deferred<crate::commands::replace::ReplaceArgs>),
    /// Generate a new data key and re-encrypt every value.
    Rotate(Deferred<crate::commands::rotate::RotateArgs>),
    /// Re-wrap the data key for the keys the creation rules name now.
    Updatekeys(Deferred<crate::commands::updatekeys::UpdatekeysArgs>),
    /// Add or delete key groups.
    Groups(Deferred<crate::commands::groups::GroupsArgs>),
    /// Run a command with the file's values in its environment.
    #[command(name = "exec-env")]
    ExecEnv(Deferred<crate::commands::exec_env::ExecEnvArgs>),
    /// Run a command with the decrypted file at a temporary path (a FIFO).
    #[command(name = "exec-file")]
    ExecFile(Deferred<crate::commands::exec_file::ExecFileArgs>),
    /// Fail when files the creation rules select are not (fully) encrypted.
    Check(Deferred<crate::commands::check::CheckArgs>),
    /// Git integration: diff and merge drivers.
    Git(Deferred<crate::commands::git::GitArgs>),
}

/// A subcommand's flags, added to its clap command only when that
/// subcommand is parsed or its help is shown (`clap::Command::defer`).
///
/// Building the flags of all fourteen subcommands (several hundred clap
/// `Arg`s) was over a third of the instructions of a short `rsops decrypt`
/// run; only the one that runs needs them. Parsing, help, usage, errors and
/// suggestions are unchanged: clap builds a deferred command before any of
/// them looks at it. Field access and `&Deferred<T>` → `&T` go through
/// [`Deref`](std::ops::Deref).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deferred<T>(pub T);

impl<T> std::ops::Deref for Deferred<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: FromArgMatches> FromArgMatches for Deferred<T> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(matches).map(Deferred)
    }

    fn from_arg_matches_mut(matches: &mut ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(matches).map(Deferred)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }

    fn update_from_arg_matches_mut(&mut self, matches: &mut ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(matches)
    }
}

impl<T: Args> Args for Deferred<T> {
    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }

    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.defer(add_args::<T>)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd.defer(add_args_for_update::<T>)
    }
}

/// Adds `T`'s flags to a deferred subcommand. `T`'s own doc comment (an
/// `about`) would now come after the variant's, so the variant's `about`
/// and `long_about` are put back, as in an eagerly built command.
fn add_args<T: Args>(cmd: clap::Command) -> clap::Command {
    let abouts = (cmd.get_about().cloned(), cmd.get_long_about().cloned());
    with_abouts(T::augment_args(cmd), abouts)
}

/// [`add_args`] for `update_from` parsing.
fn add_args_for_update<T: Args>(cmd: clap::Command) -> clap::Command {
    let abouts = (cmd.get_about().cloned(), cmd.get_long_about().cloned());
    with_abouts(T::augment_args_for_update(cmd), abouts)
}

/// Sets (or unsets) `about` and `long_about`.
fn with_abouts(
    cmd: clap::Command,
    (about, long_about): (Option<StyledStr>, Option<StyledStr>),
) -> clap::Command {
    let cmd = match about {
        Some(a) => cmd.about(a),
        None => cmd.about(None::<&'static str>),
    };
    match long_about {
        Some(l) => cmd.long_about(l),
        None => cmd.long_about(None::<&'static str>),
    }
}

/// Parses the process's command line, as `Cli::try_parse` does, but
/// without freeing the clap command definition afterwards: the process
/// ends soon, and freeing hundreds of small allocations is a measurable
/// part of a short run.
pub fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os())
}

/// [`parse`] for an explicit argument list (the first item is the program
/// name).
pub fn parse_from<I, S>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    use clap::CommandFactory;
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    if args
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(Command::has_subcommand)
        && root_env_is_valid()
    {
        return parse_subcommand(args);
    }
    let mut cmd = Cli::command();
    let parsed = cmd.try_get_matches_from_mut(args).and_then(|mut matches| {
        Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut Cli::command()))
    });
    std::mem::forget(cmd);
    parsed
}

/// Parses a command line whose first argument names a subcommand. The
/// legacy-mode flags and FILE of the root command can only come before a
/// subcommand, so here they cannot occur: the root is built without them
/// (they are most of the cost of building it), and the result holds
/// `LegacyArgs::default()`, which nothing reads when a subcommand is given
/// (only legacy mode, without one, looks at them). What clap
/// prints (help, errors, suggestions) comes from the subcommand and is the
/// same as with the whole definition.
fn parse_subcommand(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
    let mut cmd = subcommands_only();
    let parsed = cmd.try_get_matches_from_mut(args).and_then(|mut matches| {
        let command = Command::from_arg_matches_mut(&mut matches)
            .map_err(|e| e.format(&mut subcommands_only()))?;
        Ok(Cli {
            command: Some(command),
            legacy: LegacyArgs::default(),
            file: None,
        })
    });
    std::mem::forget(cmd);
    parsed
}

/// Whether every variable of [`ROOT_ENV`] that is set would pass the root
/// command's checks (UTF-8; a boolean where one is wanted). If one would
/// not, the whole definition parses the command line and reports it.
fn root_env_is_valid() -> bool {
    use clap::builder::TypedValueParser;
    ROOT_ENV
        .iter()
        .all(|(name, boolish)| match std::env::var_os(name) {
            None => true,
            Some(v) if *boolish => clap::builder::BoolishValueParser::new()
                .parse_ref(&clap::Command::new("rsops"), None, &v)
                .is_ok(),
            Some(v) => v.to_str().is_some(),
        })
}

/// The root command with its settings (those of [`Cli`]'s attributes) and
/// subcommands only.
fn subcommands_only() -> clap::Command {
    // After the subcommands: their enum's doc comment would set `about`.
    Command::augment_subcommands(clap::Command::new("rsops"))
        .version(VERSION)
        .disable_version_flag(true)
        .about(ABOUT)
        .long_about(None::<&'static str>)
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_definition_is_consistent() {
        // Builds every deferred subcommand and runs clap's own checks.
        Cli::command().debug_assert();
    }

    /// The cheaper root used when a subcommand comes first has the same
    /// settings and subcommands as the whole definition, so every
    /// subcommand parses and prints the same.
    #[test]
    fn subcommand_root_matches_the_whole_definition() {
        let mut whole = Cli::command();
        let mut lean = subcommands_only();
        whole.build();
        lean.build();
        assert_eq!(lean.get_name(), whole.get_name());
        assert_eq!(lean.get_version(), whole.get_version());
        assert_eq!(
            lean.get_about().map(|s| s.to_string()),
            whole.get_about().map(|s| s.to_string())
        );
        assert_eq!(
            lean.get_long_about().map(|s| s.to_string()),
            whole.get_long_about().map(|s| s.to_string())
        );
        assert_eq!(
            lean.is_disable_version_flag_set(),
            whole.is_disable_version_flag_set()
        );
        let names = |c: &clap::Command| -> Vec<String> {
            c.get_subcommands()
                .map(|s| s.get_name().to_owned())
                .collect()
        };
        assert_eq!(names(&lean), names(&whole));
        for name in names(&whole) {
            let a = whole.find_subcommand_mut(&name).unwrap().render_long_help();
            let b = lean.find_subcommand_mut(&name).unwrap().render_long_help();
            assert_eq!(a.to_string(), b.to_string(), "{name}");
        }
    }

    /// [`ROOT_ENV`] lists exactly the variables the root command's flags
    /// read, and marks exactly the boolean ones.
    #[test]
    fn root_env_lists_the_root_flags_variables() {
        let mut whole = Cli::command();
        whole.build();
        let mut from_definition: Vec<(String, bool)> = whole
            .get_arguments()
            .filter_map(|a| {
                let name = a.get_env()?.to_str()?.to_owned();
                let parser = a.get_value_parser().type_id();
                let boolish = parser == std::any::TypeId::of::<bool>();
                // Other checked types would need a check in root_env_is_valid.
                assert!(
                    boolish || parser == std::any::TypeId::of::<String>(),
                    "{name}"
                );
                Some((name, boolish))
            })
            .collect();
        let mut listed: Vec<(String, bool)> = ROOT_ENV
            .iter()
            .map(|(n, b)| ((*n).to_owned(), *b))
            .collect();
        from_definition.sort();
        from_definition.dedup();
        listed.sort();
        assert_eq!(listed, from_definition);
    }

    /// Command lines starting with a subcommand give what the whole
    /// definition gives: the same parse, the same errors.
    #[test]
    fn subcommand_first_parses_like_the_whole_definition() {
        let lines: &[&[&str]] = &[
            &["rsops", "decrypt", "f.yaml"],
            &["rsops", "decrypt", "--extract", "[\"a\"]", "-i", "f.yaml"],
            &[
                "rsops",
                "encrypt",
                "--age",
                "age1x",
                "--encrypted-regex",
                "^data$",
                "f.yaml",
            ],
            &["rsops", "exec-env", "f.yaml", "env"],
            &["rsops", "decrypt", "--no-such-flag", "f.yaml"],
            &["rsops", "decrypt", "--outptu", "x", "f.yaml"],
            &["rsops", "encrypt", "--help"],
            &["rsops", "groups", "add"],
            &["rsops", "rotate", "-i", "--add-age", "age1x", "f.yaml"],
        ];
        for line in lines {
            let whole = Cli::try_parse_from(line.iter());
            let lean = parse_from(line.iter());
            match (whole, lean) {
                (Ok(a), Ok(b)) => {
                    let (a, b) = (format!("{:?}", a.command), format!("{:?}", b.command));
                    assert_eq!(a, b, "{line:?}");
                }
                (Err(a), Err(b)) => {
                    assert_eq!(a.kind(), b.kind(), "{line:?}");
                    assert_eq!(a.render().to_string(), b.render().to_string(), "{line:?}");
                }
                (a, b) => panic!("{line:?}: {:?} vs {:?}", a.is_ok(), b.is_ok()),
            }
        }
    }

    #[test]
    fn deferred_subcommands_keep_the_variant_about() {
        let unbuilt = Cli::command();
        let mut built = Cli::command();
        built.build();
        let mut names = Vec::new();
        for sub in unbuilt.get_subcommands() {
            let name = sub.get_name();
            let after = built.find_subcommand(name).unwrap();
            assert!(sub.get_about().is_some(), "{name} has an about");
            assert_eq!(
                sub.get_about().map(|s| s.to_string()),
                after.get_about().map(|s| s.to_string()),
                "{name}"
            );
            assert_eq!(
                sub.get_long_about().map(|s| s.to_string()),
                after.get_long_about().map(|s| s.to_string()),
                "{name}"
            );
            names.push(name.to_owned());
        }
        assert_eq!(names.len(), 14);
        let decrypt = built.find_subcommand("decrypt").unwrap();
        assert!(decrypt.get_arguments().any(|a| a.get_id() == "extract"));
    }

    #[test]
    fn a_deferred_subcommand_parses_its_flags() {
        let cli =
            parse_from(["rsops", "decrypt", "-i", "a.yaml", "b.yaml", "--ignore-mac"]).unwrap();
        let Some(Command::Decrypt(d)) = &cli.command else {
            panic!("not decrypt: {cli:?}");
        };
        assert_eq!(d.file, ["a.yaml", "b.yaml"]);
        assert!(d.output.in_place && d.ignore_mac);
        assert!(d.common.enable_local_keyservice);

        let cli = parse_from(["rsops", "groups", "add", "--file", "f.yaml", "--pgp", "FP"]);
        assert!(matches!(
            cli,
            Ok(Cli {
                command: Some(Command::Groups(_)),
                ..
            })
        ));

        let cli = parse_from(["rsops", "-d", "f.yaml"]).unwrap();
        assert!(cli.command.is_none() && cli.legacy.decrypt);
        assert_eq!(cli.file.as_deref(), Some("f.yaml"));
    }

    #[test]
    fn errors_and_help_of_a_deferred_subcommand_name_its_flags() {
        let e = parse_from(["rsops", "decrypt", "--extrac", "x"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
        assert!(e.to_string().contains("--extract"), "{e}");
        let help = parse_from(["rsops", "decrypt", "--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        let text = help.to_string();
        assert!(
            text.starts_with("Decrypt a file, print it to stdout"),
            "{text}"
        );
        assert!(text.contains("--decryption-order"), "{text}");
    }
}
