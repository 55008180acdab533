//! The settings each command runs with, resolved from the parsed command
//! line ([`crate::cli`]) and the environment variables clap reads. Commands
//! take these structs and never see a clap type; the legacy forms
//! (`-e/-d/-r/--set`, `--add-*`/`--rm-*`, plain `FILE` as edit) resolve to
//! the same settings as the subcommands. `.sops.yaml` is read by the
//! commands themselves, at the point sops reads it (its errors must come in
//! sops's order).

use std::path::{Path, PathBuf};

use rsops_core::config::SelectionFields;
use rsops_core::keyspec;
use rsops_format::Format;
use rsops_keys::{KeyOptions, MasterKey};

use crate::cli::flags::{CommonFlags, OutputFlags, SelectionFlags};
use crate::cli::keys::{KeyChangeFlags, KeySpec};
use crate::cli::{self, Cli, Command, NewFileKeys};
use crate::error::{CmdResult, Error, Usage};

/// Flags every command that reads or writes files shares.
#[derive(Debug, Clone, Default)]
pub struct Common {
    /// `--config` / `SOPS_CONFIG` (the last one given).
    pub config: Option<PathBuf>,
    /// `--input-type` (an unknown name means: from the extension).
    pub input_type: Option<Format>,
    /// `--output-type`.
    pub output_type: Option<Format>,
    /// `--filename-override`.
    pub filename_override: Option<PathBuf>,
    /// `--indent`.
    pub indent: Option<i64>,
    /// `--keyservice` / `SOPS_KEYSERVICE`.
    pub keyservice: Vec<String>,
    /// `--enable-local-keyservice` / `SOPS_ENABLE_LOCAL_KEYSERVICE`.
    pub enable_local_keyservice: bool,
    /// `--verbose`.
    pub verbose: bool,
}

impl From<CommonFlags> for Common {
    fn from(f: CommonFlags) -> Common {
        Common {
            config: f.config.filter(|p| !p.as_os_str().is_empty()),
            input_type: f
                .input_type
                .input_type
                .as_deref()
                .and_then(Format::from_name),
            output_type: f.output_type.as_deref().and_then(Format::from_name),
            filename_override: f.filename_override,
            indent: f.indent,
            keyservice: f.keyservice,
            enable_local_keyservice: f.enable_local_keyservice,
            verbose: f.verbose,
        }
    }
}

/// `rsops keyservice`.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "keyservice"), allow(dead_code))]
pub struct KeyserviceSettings {
    /// `--network`: tcp, tcp4, tcp6 or unix.
    pub network: String,
    /// `--address`.
    pub address: String,
    /// `--prompt`.
    pub prompt: bool,
    /// `--verbose`.
    pub verbose: bool,
}

/// Where the result goes.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// `-i`: over the input file.
    pub in_place: bool,
    /// `--output`.
    pub output: Option<PathBuf>,
}

impl From<OutputFlags> for Output {
    fn from(f: OutputFlags) -> Output {
        Output {
            in_place: f.in_place,
            output: f.output,
        }
    }
}

/// What `ksops` (or `rsops ksops`) does, chosen from its arguments as
/// ksops chooses: `install [--with-kustomize] DIR`; one argument, the
/// generator file of a legacy exec plugin; none, with stdin not a
/// terminal, a KRM function; anything else prints the usage (exit 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KsopsSettings {
    /// A KRM function: a `ResourceList` on stdin and stdout.
    Krm,
    /// A legacy exec plugin: the generator's path.
    Legacy(PathBuf),
    /// `install`: the destination (`None`: missing).
    Install {
        /// Where the binary is copied.
        dir: Option<PathBuf>,
        /// `--with-kustomize`.
        with_kustomize: bool,
    },
    /// The usage text.
    Help,
}

impl KsopsSettings {
    /// The mode for ksops's arguments (without the program name).
    pub fn from_args(args: Vec<std::ffi::OsString>, stdin_is_terminal: bool) -> KsopsSettings {
        if args.first().is_some_and(|a| a == "install") {
            let with_kustomize = args.iter().skip(1).any(|a| a == "--with-kustomize");
            let dir = args
                .into_iter()
                .skip(1)
                .find(|a| a != "--with-kustomize")
                .map(PathBuf::from);
            return KsopsSettings::Install {
                dir,
                with_kustomize,
            };
        }
        match <[_; 1]>::try_from(args) {
            Ok([config]) => KsopsSettings::Legacy(config.into()),
            Err(args) if args.is_empty() && !stdin_is_terminal => KsopsSettings::Krm,
            Err(_) => KsopsSettings::Help,
        }
    }
}

/// The keys of a new file, as given by flags (parsed when the command
/// needs them, after the configuration is read, as sops does).
#[derive(Debug, Clone, Default)]
pub struct NewKeys {
    /// The key lists, in sops's order.
    pub specs: Vec<KeySpec>,
    /// `--encryption-context` for the KMS keys.
    pub encryption_context: Option<String>,
    /// `--aws-profile` for the KMS keys.
    pub aws_profile: Option<String>,
    /// `--shamir-secret-sharing-threshold` (0 and absent: from the rule).
    pub shamir_threshold: Option<usize>,
}

impl From<NewFileKeys> for NewKeys {
    fn from(k: NewFileKeys) -> NewKeys {
        NewKeys {
            specs: k.keys.specs(),
            encryption_context: k.encryption_context.encryption_context,
            aws_profile: k.aws_profile.aws_profile,
            shamir_threshold: k.shamir.shamir_secret_sharing_threshold,
        }
    }
}

impl NewKeys {
    /// The master keys the flags name.
    pub fn master_keys(&self) -> CmdResult<Vec<MasterKey>> {
        let context = encryption_context(self.encryption_context.as_deref())?;
        master_keys(
            &self.specs,
            &context,
            self.aws_profile.as_deref().unwrap_or(""),
        )
    }
}

/// Parses `--encryption-context` (blank: none).
pub fn encryption_context(spec: Option<&str>) -> CmdResult<Vec<(String, String)>> {
    match spec.filter(|s| !s.trim().is_empty()) {
        Some(spec) => keyspec::encryption_context(spec).ok_or(Error::EncryptionContext),
        None => Ok(Vec::new()),
    }
}

/// The master keys of key specs, in their order, each parsed by its kind.
pub fn master_keys(
    specs: &[KeySpec],
    context: &[(String, String)],
    aws_profile: &str,
) -> CmdResult<Vec<MasterKey>> {
    let options = KeyOptions {
        encryption_context: context.to_vec(),
        aws_profile: aws_profile.to_owned(),
    };
    let mut keys = Vec::new();
    for KeySpec { kind, spec } in specs {
        keys.extend(keyspec::parse(*kind, spec, &options)?);
    }
    Ok(keys)
}

/// Master keys to add to group 0 and to remove from every group.
#[derive(Debug, Default, Clone)]
pub struct KeyChanges {
    /// Keys appended to key group 0.
    pub add: Vec<MasterKey>,
    /// Keys removed from every group (matched by key string; a version-less
    /// Azure key matches every version).
    pub remove: Vec<MasterKey>,
}

impl KeyChanges {
    /// Parses the `--add-*`/`--rm-*` flags. `encryption_context` and
    /// `aws_profile` apply to the KMS ARNs.
    pub fn from_flags(
        flags: &KeyChangeFlags,
        encryption_context: Option<&str>,
        aws_profile: Option<&str>,
    ) -> CmdResult<KeyChanges> {
        let context = self::encryption_context(encryption_context)?;
        let profile = aws_profile.unwrap_or("");
        Ok(KeyChanges {
            add: master_keys(&flags.adds(), &context, profile)?,
            remove: master_keys(&flags.removes(), &context, profile)?,
        })
    }

    /// Whether there is nothing to add or remove.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// Applies the changes to key groups as sops does: additions go to
    /// group 0 (created if there is none), removals apply to every group.
    pub fn apply(&self, groups: &mut Vec<Vec<MasterKey>>) {
        if !self.add.is_empty() {
            if groups.is_empty() {
                groups.push(Vec::new());
            }
            if let Some(first) = groups.first_mut() {
                first.extend(self.add.iter().cloned());
            }
        }
        for group in groups.iter_mut() {
            group.retain(|k| !self.remove.iter().any(|r| r.removes(k)));
        }
    }
}

/// The selection flags as config selection fields.
fn selection(flags: SelectionFlags) -> SelectionFields {
    SelectionFields {
        unencrypted_suffix: flags.unencrypted_suffix,
        encrypted_suffix: flags.encrypted_suffix,
        unencrypted_regex: flags.unencrypted_regex,
        encrypted_regex: flags.encrypted_regex,
        unencrypted_comment_regex: None,
        encrypted_comment_regex: None,
    }
}

/// `rsops encrypt`, legacy `-e`.
#[derive(Debug)]
pub struct EncryptSettings {
    /// The files (none: stdin).
    pub files: Vec<PathBuf>,
    /// Shared flags.
    pub common: Common,
    /// Where the result goes.
    pub output: Output,
    /// Keys given by flags.
    pub keys: NewKeys,
    /// Selection flags (the comment rules only in legacy mode).
    pub selection: SelectionFields,
    /// `--mac-only-encrypted`.
    pub mac_only_encrypted: bool,
}

/// `rsops decrypt`, legacy `-d`.
#[derive(Debug)]
pub struct DecryptSettings {
    /// The files (none: stdin).
    pub files: Vec<PathBuf>,
    /// Shared flags.
    pub common: Common,
    /// Where the result goes.
    pub output: Output,
    /// `--extract`.
    pub extract: Option<String>,
    /// `--ignore-mac`.
    pub ignore_mac: bool,
    /// `--decryption-order` / `SOPS_DECRYPTION_ORDER`.
    pub decryption_order: Option<String>,
}

/// `rsops filestatus`.
#[derive(Debug)]
pub struct FilestatusSettings {
    /// The file.
    pub file: Option<PathBuf>,
    /// `--input-type`.
    pub input_type: Option<Format>,
}

/// `rsops edit`, legacy `rsops FILE`.
#[derive(Debug)]
pub struct EditSettings {
    /// The file (created when missing).
    pub file: PathBuf,
    /// Shared flags.
    pub common: Common,
    /// Keys given by flags, for a new file.
    pub keys: NewKeys,
    /// Selection flags, for a new file.
    pub selection: SelectionFields,
    /// `--mac-only-encrypted` (legacy only), for a new file.
    pub mac_only_encrypted: bool,
    /// `--ignore-mac`.
    pub ignore_mac: bool,
    /// `--decryption-order`.
    pub decryption_order: Option<String>,
    /// `-s` (warned about and ignored).
    pub show_master_keys: bool,
    /// Legacy form: the creation rules are checked first, even for an
    /// existing file.
    pub legacy: bool,
}

/// Where `set` takes the value from.
#[derive(Debug)]
pub enum SetValue {
    /// The JSON text given as an argument.
    Json(String),
    /// `--value-file`: a file holding the JSON.
    File(PathBuf),
    /// `--value-stdin`.
    Stdin,
}

/// What `set` changes.
#[derive(Debug)]
pub enum SetChange {
    /// `rsops set FILE PATH VALUE`.
    Args {
        /// The tree path, unparsed.
        path: String,
        /// The value.
        value: SetValue,
    },
    /// Legacy `--set 'PATH VALUE'`.
    Legacy(String),
}

/// `rsops set`, legacy `--set`.
#[derive(Debug)]
pub struct SetSettings {
    /// The file, changed in place.
    pub file: PathBuf,
    /// The change.
    pub change: SetChange,
    /// Shared flags.
    pub common: Common,
    /// `--ignore-mac`.
    pub ignore_mac: bool,
    /// `--decryption-order`.
    pub decryption_order: Option<String>,
    /// `--idempotent`: an unchanged value leaves the file untouched.
    pub idempotent: bool,
}

/// `rsops unset`.
#[derive(Debug)]
pub struct UnsetSettings {
    /// The file, changed in place.
    pub file: PathBuf,
    /// The tree path, unparsed.
    pub path: String,
    /// Shared flags.
    pub common: Common,
    /// `--ignore-mac`.
    pub ignore_mac: bool,
    /// `--decryption-order`.
    pub decryption_order: Option<String>,
    /// `--idempotent`.
    pub idempotent: bool,
}

/// `rsops replace`.
#[derive(Debug)]
pub struct ReplaceSettings {
    /// The encrypted file.
    pub file: PathBuf,
    /// The new plaintext (`None`: standard input, given as `-`).
    pub plaintext: Option<PathBuf>,
    /// Shared flags.
    pub common: Common,
    /// `--ignore-mac`.
    pub ignore_mac: bool,
    /// `--decryption-order`.
    pub decryption_order: Option<String>,
}

/// `rsops rotate`, legacy `-r` and `--add-*`/`--rm-*`.
#[derive(Debug)]
pub struct RotateSettings {
    /// The file.
    pub file: PathBuf,
    /// Shared flags.
    pub common: Common,
    /// Where the result goes.
    pub output: Output,
    /// Keys to add and remove.
    pub changes: KeyChanges,
    /// `--decryption-order`.
    pub decryption_order: Option<String>,
    /// `--ignore-mac` (legacy mode only).
    pub ignore_mac: bool,
}

/// `rsops updatekeys`.
#[derive(Debug)]
pub struct UpdatekeysSettings {
    /// Files or directories.
    pub files: Vec<PathBuf>,
    /// `-y`.
    pub yes: bool,
    /// Shared flags.
    pub common: Common,
    /// `--decryption-order`.
    pub decryption_order: Option<String>,
}

/// `rsops publish`.
#[derive(Debug)]
pub struct PublishSettings {
    /// The file or directory (the first positional argument).
    pub path: Option<PathBuf>,
    /// `-y`.
    pub yes: bool,
    /// `--omit-extensions`.
    pub omit_extensions: bool,
    /// `--recursive`.
    pub recursive: bool,
    /// Shared flags.
    pub common: Common,
    /// `--decryption-order`.
    pub decryption_order: Option<String>,
}

/// `rsops groups add`.
#[derive(Debug)]
pub struct GroupsAddSettings {
    /// `--file`.
    pub file: Option<PathBuf>,
    /// The keys of the new group.
    pub keys: Vec<KeySpec>,
    /// `--encryption-context`.
    pub encryption_context: Option<String>,
    /// `--aws-profile`.
    pub aws_profile: Option<String>,
    /// `--shamir-secret-sharing-threshold`.
    pub shamir_threshold: Option<usize>,
    /// Where the result goes.
    pub output: Output,
    /// Shared flags.
    pub common: Common,
}

/// `rsops groups delete`.
#[derive(Debug)]
pub struct GroupsDeleteSettings {
    /// `--file`.
    pub file: Option<PathBuf>,
    /// The index, unparsed.
    pub index: String,
    /// `--shamir-secret-sharing-threshold`.
    pub shamir_threshold: Option<usize>,
    /// Where the result goes.
    pub output: Output,
    /// Shared flags.
    pub common: Common,
}

/// `rsops groups`.
#[derive(Debug)]
pub enum GroupsSettings {
    /// `add`.
    Add(GroupsAddSettings),
    /// `delete`.
    Delete(GroupsDeleteSettings),
}

/// What `exec-env` and `exec-file` share.
#[derive(Debug)]
pub struct ExecSettings {
    /// The encrypted file.
    pub file: PathBuf,
    /// The shell command.
    pub command: String,
    /// Shared flags.
    pub common: Common,
    /// `--background`.
    pub background: bool,
    /// `--user`.
    pub user: Option<String>,
    /// `--keep-key-env`.
    pub keep_key_env: bool,
    /// `--decryption-order`.
    pub decryption_order: Option<String>,
}

/// `rsops exec-env`.
#[derive(Debug)]
pub struct ExecEnvSettings {
    /// File, command and shared flags.
    pub exec: ExecSettings,
    /// Further files (`exec-env A B ... COMMAND`), read after `exec.file`.
    pub more_files: Vec<PathBuf>,
    /// `--pristine`.
    pub pristine: bool,
    /// `--same-process`.
    pub same_process: bool,
}

/// `rsops exec-file`.
#[derive(Debug)]
pub struct ExecFileSettings {
    /// File, command and shared flags.
    pub exec: ExecSettings,
    /// `--no-fifo`.
    pub no_fifo: bool,
    /// `--filename`.
    pub filename: Option<String>,
}

/// `rsops check`.
#[derive(Debug)]
pub struct CheckSettings {
    /// Files or directories (none: the git-tracked files).
    pub paths: Vec<PathBuf>,
    /// `--strict`: fail when no creation rule matches any file.
    pub strict: bool,
    /// `--decryption-order`.
    pub decryption_order: Option<String>,
    /// Shared flags.
    pub common: Common,
}

/// `rsops git textconv` and `merge`: how files are opened.
#[derive(Debug, Clone)]
pub struct GitOpen {
    /// `--decryption-order`.
    pub decryption_order: Option<String>,
    /// Shared flags.
    pub common: Common,
}

/// `rsops git`.
#[derive(Debug)]
pub enum GitSettings {
    /// `install [--absolute]`.
    Install {
        /// Write the binary's absolute path.
        absolute: bool,
    },
    /// `textconv FILE`.
    Textconv {
        /// The file.
        file: PathBuf,
        /// How it is opened.
        open: GitOpen,
    },
    /// `merge %O %A %B %P`.
    Merge {
        /// The ancestor's version.
        ancestor: PathBuf,
        /// The current version (receives the result).
        current: PathBuf,
        /// The other branch's version.
        other: PathBuf,
        /// The path in the repository.
        path: PathBuf,
        /// How the versions are opened.
        open: GitOpen,
    },
}

/// What to run.
#[derive(Debug)]
pub enum Settings {
    /// `encrypt`, legacy `-e`.
    Encrypt(EncryptSettings),
    /// `decrypt`, legacy `-d`.
    Decrypt(DecryptSettings),
    /// `filestatus`.
    Filestatus(FilestatusSettings),
    /// `edit`, legacy `FILE`.
    Edit(EditSettings),
    /// `set`, legacy `--set`.
    Set(SetSettings),
    /// `unset`.
    Unset(UnsetSettings),
    /// `replace`.
    Replace(ReplaceSettings),
    /// `rotate`, legacy `-r`, `--add-*`, `--rm-*`.
    Rotate(RotateSettings),
    /// `updatekeys`.
    Updatekeys(UpdatekeysSettings),
    /// `groups`.
    Groups(GroupsSettings),
    /// `publish`.
    Publish(PublishSettings),
    /// `exec-env`.
    ExecEnv(ExecEnvSettings),
    /// `exec-file`.
    ExecFile(ExecFileSettings),
    /// `check`.
    Check(CheckSettings),
    /// `git`.
    Git(GitSettings),
    /// `ksops`.
    Ksops(KsopsSettings),
    /// `keyservice`.
    Keyservice(KeyserviceSettings),
    /// `completion SHELL`.
    Completion(clap_complete::Shell),
    /// `man`.
    Man,
    /// Legacy `--version`.
    Version,
}

impl Settings {
    /// Resolves the parsed command line into what to run.
    pub fn resolve(cli: Cli) -> CmdResult<Settings> {
        let Some(mut command) = cli.command else {
            return legacy(cli.legacy, cli.file);
        };
        // `--config` before the subcommand is sops's global flag: it applies
        // unless the subcommand was given its own (the environment variable
        // fills both).
        if let (Some(global), Some(common)) = (cli.legacy.common.config, command.common_mut()) {
            let from_env = std::env::var_os(rsops_core::env::SOPS_CONFIG).map(PathBuf::from);
            if common.config.is_none() || common.config == from_env {
                common.config = Some(global);
            }
        }
        Ok(match command {
            Command::Encrypt(a) => {
                let a = a.0;
                Settings::Encrypt(EncryptSettings {
                    files: a.file,
                    common: a.common.into(),
                    output: a.output.into(),
                    keys: a.keys.into(),
                    selection: selection(a.selection),
                    mac_only_encrypted: a.mac_only_encrypted.mac_only_encrypted,
                })
            }
            Command::Decrypt(a) => {
                let a = a.0;
                Settings::Decrypt(DecryptSettings {
                    files: a.file,
                    common: a.common.into(),
                    output: a.output.into(),
                    extract: a.extract.extract,
                    ignore_mac: a.ignore_mac.ignore_mac,
                    decryption_order: a.decryption_order.decryption_order,
                })
            }
            Command::Filestatus(a) => Settings::Filestatus(FilestatusSettings {
                file: a.0.file,
                input_type: a
                    .0
                    .input_type
                    .input_type
                    .as_deref()
                    .and_then(Format::from_name),
            }),
            Command::Edit(a) => {
                let a = a.0;
                let file = a.file.ok_or(Error::Usage(Usage::Edit))?;
                Settings::Edit(EditSettings {
                    file,
                    common: a.common.into(),
                    keys: a.keys.into(),
                    selection: selection(a.selection),
                    mac_only_encrypted: false,
                    ignore_mac: a.ignore_mac.ignore_mac,
                    decryption_order: a.decryption_order.decryption_order,
                    show_master_keys: a.show_master_keys.show_master_keys,
                    legacy: false,
                })
            }
            Command::Set(a) => Settings::Set(set(a.0)?),
            Command::Unset(a) => {
                let a = a.0;
                let (file, path) = match (a.file, <[String; 1]>::try_from(a.rest)) {
                    (Some(f), Ok([p])) => (f, p),
                    _ => return Err(Error::Usage(Usage::Unset)),
                };
                Settings::Unset(UnsetSettings {
                    file,
                    path,
                    common: a.common.into(),
                    ignore_mac: a.ignore_mac.ignore_mac,
                    decryption_order: a.decryption_order.decryption_order,
                    idempotent: a.idempotent.idempotent,
                })
            }
            Command::Replace(a) => {
                let a = a.0;
                let (Some(file), Some(plaintext)) = (a.file, a.plaintext) else {
                    return Err(Error::Usage(Usage::Replace));
                };
                Settings::Replace(ReplaceSettings {
                    file,
                    plaintext: Some(plaintext).filter(|p| p.as_os_str() != "-"),
                    common: a.common.into(),
                    ignore_mac: a.ignore_mac.ignore_mac,
                    decryption_order: a.decryption_order.decryption_order,
                })
            }
            Command::Rotate(a) => {
                let a = a.0;
                let file = a.file.ok_or(Error::Usage(Usage::File))?;
                let output: Output = a.output.into();
                check_output(&output, Some(&file))?;
                if a.changes.any() && !file.exists() {
                    return Err(Error::ChangeKeysOfMissingFile(file));
                }
                let changes = KeyChanges::from_flags(
                    &a.changes,
                    a.encryption_context.encryption_context.as_deref(),
                    None,
                )?;
                Settings::Rotate(RotateSettings {
                    file,
                    common: a.common.into(),
                    output,
                    changes,
                    decryption_order: a.decryption_order.decryption_order,
                    ignore_mac: false,
                })
            }
            Command::Updatekeys(a) => Settings::Updatekeys(UpdatekeysSettings {
                files: a.0.files,
                yes: a.0.yes,
                common: a.0.common.into(),
                decryption_order: a.0.decryption_order.decryption_order,
            }),
            Command::Publish(a) => {
                let mut files = a.0.files.into_iter();
                let path = files.next();
                warn_ignored_positionals(&files.collect::<Vec<_>>());
                Settings::Publish(PublishSettings {
                    path,
                    yes: a.0.yes,
                    omit_extensions: a.0.omit_extensions,
                    recursive: a.0.recursive,
                    common: a.0.common.into(),
                    decryption_order: a.0.decryption_order.decryption_order,
                })
            }
            Command::Groups(a) => Settings::Groups(match a.0.action {
                cli::GroupsAction::Add(a) => GroupsSettings::Add(GroupsAddSettings {
                    file: a.file.file,
                    keys: a.keys.specs(),
                    encryption_context: a.encryption_context.encryption_context,
                    aws_profile: a.aws_profile.aws_profile,
                    shamir_threshold: a.shamir.shamir_secret_sharing_threshold,
                    output: a.output.into(),
                    common: a.common.into(),
                }),
                cli::GroupsAction::Delete(a) => GroupsSettings::Delete(GroupsDeleteSettings {
                    file: a.file.file,
                    index: a.index,
                    shamir_threshold: a.shamir.shamir_secret_sharing_threshold,
                    output: a.output.into(),
                    common: a.common.into(),
                }),
            }),
            Command::ExecEnv(a) => {
                let mut a = a.0;
                let (Some(file), Some(mut command)) = (a.file, a.command) else {
                    return Err(Error::ExecArguments);
                };
                // `FILE... COMMAND`: the last argument is the command.
                let mut more_files = Vec::new();
                if let Some(last) = a.more.pop() {
                    more_files.push(PathBuf::from(std::mem::replace(&mut command, last)));
                    more_files.extend(a.more.into_iter().map(PathBuf::from));
                }
                Settings::ExecEnv(ExecEnvSettings {
                    more_files,
                    exec: ExecSettings {
                        file,
                        command,
                        common: a.common.into(),
                        background: a.exec.background,
                        user: a.exec.user,
                        keep_key_env: a.exec.keep_key_env,
                        decryption_order: a.decryption_order.decryption_order,
                    },
                    pristine: a.pristine,
                    same_process: a.same_process,
                })
            }
            Command::ExecFile(a) => {
                let a = a.0;
                let (Some(file), Some(command)) = (a.file, a.command) else {
                    return Err(Error::ExecArguments);
                };
                Settings::ExecFile(ExecFileSettings {
                    exec: ExecSettings {
                        file,
                        command,
                        common: a.common.into(),
                        background: a.exec.background,
                        user: a.exec.user,
                        keep_key_env: a.exec.keep_key_env,
                        decryption_order: a.decryption_order.decryption_order,
                    },
                    no_fifo: a.no_fifo,
                    filename: a.filename,
                })
            }
            Command::Ksops(a) => Settings::Ksops(KsopsSettings::from_args(
                a.0.args,
                std::io::IsTerminal::is_terminal(&std::io::stdin()),
            )),
            Command::Check(a) => Settings::Check(CheckSettings {
                paths: a.0.paths,
                strict: a.0.strict,
                decryption_order: a.0.decryption_order.decryption_order,
                common: a.0.common.into(),
            }),
            Command::Git(a) => Settings::Git(match a.0.action {
                cli::GitAction::Install(a) => GitSettings::Install {
                    absolute: a.absolute,
                },
                cli::GitAction::Textconv(a) => GitSettings::Textconv {
                    file: a.file,
                    open: GitOpen {
                        decryption_order: a.decryption_order.decryption_order,
                        common: a.common.into(),
                    },
                },
                cli::GitAction::Merge(a) => GitSettings::Merge {
                    ancestor: a.ancestor,
                    current: a.current,
                    other: a.other,
                    path: a.path,
                    open: GitOpen {
                        decryption_order: a.decryption_order.decryption_order,
                        common: a.common.into(),
                    },
                },
            }),
            Command::Keyservice(a) => Settings::Keyservice(KeyserviceSettings {
                network: a.0.network,
                address: a.0.address,
                prompt: a.0.prompt,
                verbose: a.0.verbose,
            }),
            Command::Completion(a) => Settings::Completion(a.0.shell),
            Command::Man(_) => Settings::Man,
        })
    }
}

/// `rsops set`: the positionals, counted as sops counts them (exit 100).
fn set(a: cli::SetArgs) -> CmdResult<SetSettings> {
    if a.value_file && a.value_stdin {
        return Err(Error::ValueFileAndStdin);
    }
    let wanted = if a.value_stdin { 2 } else { 3 };
    let count = usize::from(a.file.is_some()) + a.rest.len();
    let usage = Error::Usage(if a.value_stdin {
        Usage::SetStdin
    } else {
        Usage::Set
    });
    if count != wanted {
        return Err(usage);
    }
    let (Some(file), mut rest) = (a.file, a.rest.into_iter()) else {
        return Err(usage);
    };
    let path = rest.next().unwrap_or_default();
    let value = if a.value_stdin {
        SetValue::Stdin
    } else if a.value_file {
        SetValue::File(rest.next().unwrap_or_default().into())
    } else {
        SetValue::Json(rest.next().unwrap_or_default())
    };
    Ok(SetSettings {
        file,
        change: SetChange::Args { path, value },
        common: a.common.into(),
        ignore_mac: a.ignore_mac.ignore_mac,
        decryption_order: a.decryption_order.decryption_order,
        idempotent: a.idempotent.idempotent,
    })
}

/// Checks `-i`/`--output` against each other and against stdin.
pub fn check_output(output: &Output, file: Option<&Path>) -> CmdResult {
    if output.in_place && output.output.is_some() {
        return Err(Error::InPlaceAndOutput);
    }
    if output.in_place && file.is_none() {
        return Err(Error::InPlaceStdin);
    }
    Ok(())
}

/// sops's legacy mode: `rsops -e FILE`, `-d`, `-r`, `--set`,
/// `--add-*`/`--rm-*`, and plain `rsops FILE` (edit). `files` holds the
/// positional arguments: the first is FILE, the others are ignored with
/// sops's warnings.
fn legacy(l: cli::LegacyArgs, files: Vec<PathBuf>) -> CmdResult<Settings> {
    if l.version {
        return Ok(Settings::Version);
    }
    let mut files = files.into_iter();
    let Some(file) = files.next() else {
        return Err(Error::Usage(Usage::Legacy));
    };
    warn_ignored_positionals(files.as_slice());
    let keys: NewKeys = l.keys.into();
    let changes = KeyChanges::from_flags(
        &l.changes,
        keys.encryption_context.as_deref(),
        keys.aws_profile.as_deref(),
    )?;
    let rotate = l.rotate || l.changes.any();
    let modes = [l.encrypt, l.decrypt, rotate, l.set.is_some()];
    if modes.iter().filter(|m| **m).count() > 1 {
        crate::warn("More than one command (--encrypt, --decrypt, --rotate, --set) has been specified. Only the changes made by the last one will be visible. Note that this behavior is deprecated and will cause an error eventually.");
    }
    let common: Common = l.common.into();
    let ignore_mac = l.ignore_mac.ignore_mac;
    let decryption_order = l.decryption_order.decryption_order;
    if let Some(spec) = l.set {
        return Ok(Settings::Set(SetSettings {
            file,
            change: SetChange::Legacy(spec),
            common,
            ignore_mac,
            decryption_order,
            idempotent: false,
        }));
    }
    if rotate {
        return Ok(Settings::Rotate(RotateSettings {
            file,
            common,
            output: l.output.into(),
            changes,
            decryption_order,
            ignore_mac,
        }));
    }
    if l.decrypt {
        return Ok(Settings::Decrypt(DecryptSettings {
            files: vec![file],
            common,
            output: l.output.into(),
            extract: l.extract.extract,
            ignore_mac,
            decryption_order,
        }));
    }
    let mut selection = selection(l.selection);
    selection.unencrypted_comment_regex = l.comment_selection.unencrypted_comment_regex;
    selection.encrypted_comment_regex = l.comment_selection.encrypted_comment_regex;
    let mac_only_encrypted = l.mac_only_encrypted.mac_only_encrypted;
    if l.encrypt {
        return Ok(Settings::Encrypt(EncryptSettings {
            files: vec![file],
            common,
            output: l.output.into(),
            keys,
            selection,
            mac_only_encrypted,
        }));
    }
    Ok(Settings::Edit(EditSettings {
        file,
        common,
        keys,
        selection,
        mac_only_encrypted,
        ignore_mac,
        decryption_order,
        show_master_keys: l.show_master_keys.show_master_keys,
        legacy: true,
    }))
}

/// sops's warnings for positional arguments after the first, which it
/// ignores; the second names the last of them that starts with `-` (a flag
/// given too late).
fn warn_ignored_positionals(ignored: &[PathBuf]) {
    if ignored.is_empty() {
        return;
    }
    crate::warn("More than one positional argument provided. Only the first one will be used!");
    let looks_like_flag = ignored
        .iter()
        .rev()
        .find(|a| a.as_os_str().as_encoded_bytes().starts_with(b"-"));
    if let Some(flag) = looks_like_flag {
        crate::warn(&format!(
            "Note that one of the ignored positional argument is {}, which looks like a flag. Flags must always be provided before the first positional argument!",
            go_quote(&flag.to_string_lossy())
        ));
    }
}

/// A string quoted as Go's `%q` quotes it, for the usual cases: `"` and
/// backslash escaped, control characters as `\n`, `\t`, `\r`, `\xNN`.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(args: &[&str]) -> CmdResult<Settings> {
        Settings::resolve(cli::parse_from(args.iter()).expect("parse"))
    }

    #[test]
    fn a_repeated_flag_takes_its_last_value() {
        // The VS Code sops extension passes `--config /dev/null --config X`.
        let s = resolve(&[
            "rsops",
            "decrypt",
            "--config",
            "/dev/null",
            "--config",
            "x/.sops.yaml",
            "--input-type",
            "json",
            "--input-type",
            "yaml",
            "f.yaml",
        ])
        .unwrap();
        let Settings::Decrypt(d) = s else {
            panic!("{s:?}")
        };
        assert_eq!(d.common.config.as_deref(), Some(Path::new("x/.sops.yaml")));
        assert_eq!(d.common.input_type, Some(Format::Yaml));

        let s = resolve(&["rsops", "--config", "/dev/null", "--config", "y", "-d", "f"]).unwrap();
        let Settings::Decrypt(d) = s else {
            panic!("{s:?}")
        };
        assert_eq!(d.common.config.as_deref(), Some(Path::new("y")));

        let s = resolve(&[
            "rsops", "groups", "add", "--file", "a", "--file", "b", "--age", "x", "--age", "y",
        ])
        .unwrap();
        let Settings::Groups(GroupsSettings::Add(g)) = s else {
            panic!("{s:?}")
        };
        assert_eq!(g.file.as_deref(), Some(Path::new("b")));
        // A repeatable flag still collects every value.
        assert_eq!(g.keys.len(), 2);
    }

    #[test]
    fn legacy_forms_resolve_to_the_subcommand_settings() {
        assert!(matches!(
            resolve(&["rsops", "-e", "f.yaml"]),
            Ok(Settings::Encrypt(EncryptSettings { ref files, .. })) if files == &[PathBuf::from("f.yaml")]
        ));
        assert!(matches!(
            resolve(&["rsops", "-d", "--extract", "[\"a\"]", "f.yaml"]),
            Ok(Settings::Decrypt(DecryptSettings {
                extract: Some(_),
                ..
            }))
        ));
        assert!(matches!(
            resolve(&["rsops", "-r", "f.yaml"]),
            Ok(Settings::Rotate(_))
        ));
        assert!(matches!(
            resolve(&["rsops", "--set", "[\"a\"] 1", "f.yaml"]),
            Ok(Settings::Set(SetSettings {
                change: SetChange::Legacy(_),
                ..
            }))
        ));
        assert!(matches!(
            resolve(&["rsops", "f.yaml"]),
            Ok(Settings::Edit(EditSettings { legacy: true, .. }))
        ));
        assert!(matches!(
            resolve(&["rsops", "--encrypted-comment-regex", "x", "-e", "f.yaml"]),
            Ok(Settings::Encrypt(EncryptSettings { ref selection, .. }))
                if selection.encrypted_comment_regex.as_deref() == Some("x")
        ));
        assert!(matches!(resolve(&["rsops", "-v"]), Ok(Settings::Version)));
        assert!(matches!(
            resolve(&["rsops"]),
            Err(Error::Usage(Usage::Legacy))
        ));
    }

    #[test]
    fn set_positionals_are_counted_like_sops() {
        assert!(matches!(
            resolve(&["rsops", "set", "f.yaml", "[\"a\"]"]),
            Err(Error::Usage(Usage::Set))
        ));
        assert!(matches!(
            resolve(&["rsops", "set", "--value-stdin", "f.yaml", "[\"a\"]"]),
            Ok(Settings::Set(SetSettings {
                change: SetChange::Args {
                    value: SetValue::Stdin,
                    ..
                },
                ..
            }))
        ));
        assert!(matches!(
            resolve(&["rsops", "set", "--value-file", "--value-stdin", "f", "p"]),
            Err(Error::ValueFileAndStdin)
        ));
    }

    #[test]
    fn key_changes_parse_in_registry_order() {
        use rsops_keys::KeyKind;
        let flags = KeyChangeFlags {
            add: vec![
                (
                    KeyKind::Age,
                    Some("age19zt9lpwdukeu0vakyklywey3p54tpxj3lc4z39v6hem3e6fkuyhqf7rlyw".into()),
                ),
                (
                    KeyKind::Pgp,
                    Some("E43F4C44E69FA1FBD74FA85A40B881A36B576BD1".into()),
                ),
            ],
            remove: vec![(KeyKind::Pgp, Some("AAAA".into()))],
        };
        assert!(flags.any());
        let changes = KeyChanges::from_flags(&flags, None, None).expect("parse");
        assert_eq!(changes.add.len(), 2);
        assert_eq!(changes.add[0].kind(), KeyKind::Age);
        assert_eq!(changes.remove, vec![MasterKey::pgp("AAAA")]);
        assert!(!KeyChangeFlags::default().any());
    }

    #[test]
    fn bad_recipient_and_context_are_errors() {
        let flags = KeyChangeFlags {
            add: vec![(rsops_keys::KeyKind::Age, Some("not-a-recipient".into()))],
            remove: Vec::new(),
        };
        assert!(matches!(
            KeyChanges::from_flags(&flags, None, None),
            Err(Error::KeySpec(_))
        ));
        assert!(matches!(
            KeyChanges::from_flags(&KeyChangeFlags::default(), Some("nocolon"), None),
            Err(Error::EncryptionContext)
        ));
    }

    #[test]
    fn apply_adds_to_group_zero_and_removes_everywhere() {
        let mut groups = vec![
            vec![MasterKey::age("a"), MasterKey::pgp("P")],
            vec![MasterKey::age("b"), MasterKey::pgp("P")],
        ];
        let changes = KeyChanges {
            add: vec![MasterKey::age("c")],
            remove: vec![MasterKey::pgp("P"), MasterKey::age("zzz")],
        };
        changes.apply(&mut groups);
        assert_eq!(
            groups,
            vec![
                vec![MasterKey::age("a"), MasterKey::age("c")],
                vec![MasterKey::age("b")]
            ]
        );
    }
}
