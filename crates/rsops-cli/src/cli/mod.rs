//! The command line, as clap types: sops's subcommands and flags, and its
//! legacy form `rsops [flags] FILE`. This module is the
//! only one that defines clap types; `crate::settings` turns them into the
//! settings each command runs with, so commands never see them.
//!
//! * [`flags`]: flag groups several commands share, each defined once;
//! * [`keys`]: the key-type flags, turned into (key kind, spec) pairs;
//! * [`commands`]: the arguments of each subcommand and of legacy mode.

pub mod commands;
pub mod flags;
pub mod keys;
pub mod ksops;

use clap::builder::StyledStr;
use clap::{ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use rsops_core::env;

pub use commands::*;
use flags::CommonFlags;

/// The version clap prints.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (sops ",
    "3.13.2",
    " compatible)"
);
/// What `rsops --help` says rsops is: [`Cli`]'s doc comment, as clap's
/// derive renders it (a test checks that they agree).
const ABOUT: &str = "A SOPS-compatible secrets-file encryption tool";

/// Environment variables that flags of the root command read, besides the
/// key kinds' variables, with their value parser's check. A bad value is an
/// error (exit 1) even when a subcommand is given, as with sops; a test
/// checks [`root_env`] against the definition.
const ROOT_ENV: &[(&str, bool)] = &[
    (env::SOPS_CONFIG, false),
    (env::SOPS_KEYSERVICE, false),
    (env::SOPS_ENABLE_LOCAL_KEYSERVICE, true),
    (env::SOPS_DECRYPTION_ORDER, false),
    (env::SOPS_DISABLE_VERSION_CHECK, true),
];

/// Every variable the root command's flags read: [`ROOT_ENV`] and each key
/// kind's list variable (a string).
fn root_env() -> impl Iterator<Item = (&'static str, bool)> {
    let kinds = rsops_keys::KeyKind::ALL
        .iter()
        .map(|kind| (kind.cli().env, false));
    ROOT_ENV.iter().copied().chain(kinds)
}

/// A SOPS-compatible secrets-file encryption tool.
#[derive(Debug, Parser)]
#[command(
    name = "rsops",
    version = VERSION,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Cli {
    /// The subcommand; without one, rsops runs in sops's legacy mode on FILE.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Legacy-mode flags (`-e`, `-d`, `-i`, ...).
    #[command(flatten)]
    pub legacy: LegacyArgs,
    /// The file (legacy mode). As in sops, flags must come before it:
    /// reading flags stops at the first positional argument, and what
    /// follows it is kept (and ignored with a warning) even if it looks like
    /// a flag.
    #[arg(value_name = "FILE", num_args = 0.., trailing_var_arg = true)]
    pub file: Vec<std::path::PathBuf>,
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
    Edit(Deferred<EditArgs>),
    /// Set one value of an encrypted file, e.g. `rsops set f.yaml '["a"]["b"]' '"v"'`.
    Set(Deferred<SetArgs>),
    /// Remove one value of an encrypted file.
    Unset(Deferred<UnsetArgs>),
    /// Replace the plaintext of an encrypted file, keeping unchanged ciphertexts.
    Replace(Deferred<ReplaceArgs>),
    /// Generate a new data key and re-encrypt every value.
    Rotate(Deferred<RotateArgs>),
    /// Re-wrap the data key for the keys the creation rules name now.
    Updatekeys(Deferred<UpdatekeysArgs>),
    /// Add or delete key groups.
    Groups(Deferred<GroupsArgs>),
    /// Run a command with the file's values in its environment.
    #[command(name = "exec-env")]
    ExecEnv(Deferred<ExecEnvArgs>),
    /// Run a command with the decrypted file at a temporary path (a FIFO).
    #[command(name = "exec-file")]
    ExecFile(Deferred<ExecFileArgs>),
    /// Fail when files the creation rules select are not (fully) encrypted.
    Check(Deferred<CheckArgs>),
    /// Git integration: diff and merge drivers.
    Git(Deferred<GitArgs>),
    /// Run as the ksops kustomize generator (exec plugin or KRM function).
    Ksops(Deferred<ksops::KsopsArgs>),
    /// Publish an encrypted file (or a directory, --recursive) to the
    /// destination its `destination_rules` entry names (S3, GCS, Vault KV).
    Publish(Deferred<PublishArgs>),
    /// Start a key service server (sops's gRPC protocol) for this machine's keys.
    Keyservice(Deferred<KeyserviceArgs>),
    /// Print a shell completion script (bash, zsh, fish, powershell).
    Completion(Deferred<CompletionArgs>),
    /// Print the manual page (roff).
    #[command(hide = true)]
    Man(Deferred<ManArgs>),
}

impl Command {
    /// The flags every file command shares, for the commands that have them.
    pub fn common_mut(&mut self) -> Option<&mut CommonFlags> {
        Some(match self {
            Command::Encrypt(a) => &mut a.0.common,
            Command::Decrypt(a) => &mut a.0.common,
            Command::Edit(a) => &mut a.0.common,
            Command::Set(a) => &mut a.0.common,
            Command::Unset(a) => &mut a.0.common,
            Command::Replace(a) => &mut a.0.common,
            Command::Rotate(a) => &mut a.0.common,
            Command::Updatekeys(a) => &mut a.0.common,
            Command::Publish(a) => &mut a.0.common,
            Command::Groups(a) => match &mut a.0.action {
                GroupsAction::Add(g) => &mut g.common,
                GroupsAction::Delete(g) => &mut g.common,
            },
            Command::ExecEnv(a) => &mut a.0.common,
            Command::ExecFile(a) => &mut a.0.common,
            Command::Check(a) => &mut a.0.common,
            Command::Git(a) => match &mut a.0.action {
                GitAction::Textconv(g) => &mut g.common,
                GitAction::Merge(g) => &mut g.common,
                GitAction::Install(_) => return None,
            },
            Command::Filestatus(_)
            | Command::Ksops(_)
            | Command::Keyservice(_)
            | Command::Completion(_)
            | Command::Man(_) => return None,
        })
    }
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
    with_abouts(T::augment_args(cmd), abouts).args_override_self(true)
}

/// [`add_args`] for `update_from` parsing.
fn add_args_for_update<T: Args>(cmd: clap::Command) -> clap::Command {
    let abouts = (cmd.get_about().cloned(), cmd.get_long_about().cloned());
    with_abouts(T::augment_args_for_update(cmd), abouts).args_override_self(true)
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
    if let Some(e) = args
        .get(1)
        .and_then(|a| a.to_str())
        .and_then(mistyped_subcommand)
    {
        return Err(e);
    }
    let mut cmd = Cli::command();
    let parsed = cmd.try_get_matches_from_mut(args).and_then(|mut matches| {
        Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut Cli::command()))
    });
    std::mem::forget(cmd);
    parsed
}

/// Legacy mode's FILE that is a typo of a subcommand (`rsops decrpyt
/// secret.yaml`): not an existing path, not a flag, and within edit
/// distance 2 of a subcommand's name. Its error is clap's own for an
/// unknown subcommand, with the suggestion. An existing file stays
/// legacy mode's FILE (`rsops FILE` edits it).
fn mistyped_subcommand(arg: &str) -> Option<clap::Error> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if arg.is_empty() || arg.starts_with('-') || std::path::Path::new(arg).exists() {
        return None;
    }
    let mut cmd = subcommands_only();
    let suggestion = cmd
        .get_subcommands()
        .map(|c| c.get_name())
        .map(|name| (edit_distance(arg, name), name))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name.to_owned())?;
    let mut err = clap::Error::new(ErrorKind::InvalidSubcommand).with_cmd(&cmd);
    err.insert(
        ContextKind::InvalidSubcommand,
        ContextValue::String(arg.to_owned()),
    );
    err.insert(
        ContextKind::SuggestedSubcommand,
        ContextValue::Strings(vec![suggestion]),
    );
    err.insert(
        ContextKind::Usage,
        ContextValue::StyledStr(cmd.render_usage()),
    );
    Some(err)
}

/// The Levenshtein distance of two strings (by characters).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
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
            file: Vec::new(),
        })
    });
    std::mem::forget(cmd);
    parsed
}

/// Whether every variable of [`root_env`] that is set would pass the root
/// command's checks (UTF-8; a boolean where one is wanted). If one would
/// not, the whole definition parses the command line and reports it.
fn root_env_is_valid() -> bool {
    use clap::builder::TypedValueParser;
    root_env().all(|(name, boolish)| match std::env::var_os(name) {
        None => true,
        Some(v) if boolish => clap::builder::BoolishValueParser::new()
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
        .args_override_self(true)
        .about(ABOUT)
        .long_about(None::<&'static str>)
}

/// The completion script for `shell` (`rsops completion SHELL`).
pub fn completion(shell: clap_complete::Shell) -> Vec<u8> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "rsops", &mut out);
    out
}

/// The manual page, as roff (`rsops man`).
pub fn man_page() -> Vec<u8> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    let mut cmd = Cli::command();
    cmd.build();
    // Writing to a Vec cannot fail.
    let _ = clap_mangen::Man::new(cmd).render(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_version_names_the_sops_version() {
        let expected = format!(" (sops {} compatible)", rsops_core::SOPS_VERSION);
        assert!(VERSION.ends_with(&expected), "{VERSION}");
    }

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

    /// [`root_env`] lists exactly the variables the root command's flags
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
                    boolish
                        || parser == std::any::TypeId::of::<String>()
                        || parser == std::any::TypeId::of::<std::path::PathBuf>(),
                    "{name}"
                );
                Some((name, boolish))
            })
            .collect();
        let mut listed: Vec<(String, bool)> = root_env().map(|(n, b)| (n.to_owned(), b)).collect();
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
        assert_eq!(names.len(), 19);
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
        assert_eq!(
            d.file,
            [
                std::path::Path::new("a.yaml"),
                std::path::Path::new("b.yaml")
            ]
        );
        assert!(d.output.in_place && d.ignore_mac.ignore_mac);
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
        assert_eq!(cli.file, [std::path::Path::new("f.yaml")]);
    }

    /// Legacy mode stops reading flags at the first positional argument,
    /// as sops (urfave/cli) does: later flags are positional arguments.
    #[test]
    fn legacy_flags_after_the_file_are_positional_arguments() {
        let cli = parse_from([
            "rsops",
            "-e",
            "/dev/stdin",
            "-i",
            "-",
            "-o",
            "new-sec.enc.json",
        ])
        .unwrap();
        assert!(cli.command.is_none() && cli.legacy.encrypt);
        assert!(!cli.legacy.output.in_place);
        assert_eq!(
            cli.file,
            ["/dev/stdin", "-i", "-", "-o", "new-sec.enc.json"].map(std::path::PathBuf::from)
        );
        // An unknown flag before the file is still an error.
        let e = parse_from(["rsops", "--no-such-flag", "f.yaml"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
        // A subcommand's name after the file is a positional argument too.
        let cli = parse_from(["rsops", "-d", "f.yaml", "decrypt"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.file.len(), 2);
    }

    #[test]
    fn a_mistyped_subcommand_is_an_error_with_a_suggestion() {
        assert_eq!(edit_distance("decrpyt", "decrypt"), 2);
        assert_eq!(edit_distance("", "set"), 3);
        assert_eq!(edit_distance("updatekey", "updatekeys"), 1);
        let e = parse_from(["rsops", "decrpyt", "secret.yaml"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidSubcommand);
        let text = e.to_string();
        assert!(text.contains("unrecognized subcommand 'decrpyt'"), "{text}");
        assert!(text.contains("'decrypt'"), "{text}");
        let e = parse_from(["rsops", "rotat"]).unwrap_err();
        assert!(e.to_string().contains("'rotate'"), "{e}");
        // Far from every name: legacy mode's FILE, as before.
        let cli = parse_from(["rsops", "secrets.yaml"]).unwrap();
        assert!(cli.command.is_none());
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
