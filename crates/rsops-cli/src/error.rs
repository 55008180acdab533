//! The error type of the binary: every way a command can fail, with typed
//! data and the library error it came from.
//!
//! Each variant's `Display` is the message sops-compatible scripts match on
//! (one line), followed, where there is something to do, by a line
//! starting with `hint: ` (the recommendation, as rage prints it). The
//! exit code of each variant is decided in [`Error::exit_code`], the only
//! place that knows sops's exit-code table. No message holds a
//! secret: values never reach an error, only paths, key names and public
//! key strings.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;

use rsops_core::config::ConfigError;
use rsops_core::datakey::DataKeyReport;
use rsops_core::keyspec::KeySpecError;
use rsops_core::selection::SelectionError;
use rsops_core::treepath::{EditError, PathError};
use rsops_core::CoreError;
use rsops_format::{Format, FormatError};

/// sops's exit codes. Only [`Error::exit_code`] (and tests)
/// use them.
pub mod code {
    /// Any error not listed below.
    pub const GENERIC: i32 = 1;
    /// The input could not be read or parsed.
    pub const COULD_NOT_READ_INPUT_FILE: i32 = 2;
    /// The output could not be written.
    pub const COULD_NOT_WRITE_OUTPUT_FILE: i32 = 3;
    /// The output store cannot render the tree.
    pub const ERROR_DUMPING_TREE: i32 = 4;
    /// `--encryption-context` could not be parsed.
    pub const INVALID_KMS_ENCRYPTION_CONTEXT_FORMAT: i32 = 6;
    /// A `set`/`unset` path or value is malformed.
    pub const INVALID_SET_FORMAT: i32 = 7;
    /// Flags that cannot be used together.
    pub const CONFLICTING_PARAMETERS: i32 = 8;
    /// The MAC could not be encrypted.
    #[allow(dead_code)]
    pub const ERROR_ENCRYPTING_MAC: i32 = 21;
    /// The tree could not be encrypted.
    pub const ERROR_ENCRYPTING_TREE: i32 = 23;
    /// The tree could not be decrypted.
    pub const ERROR_DECRYPTING_TREE: i32 = 25;
    /// `--add-*`/`--rm-*` on a file that does not exist.
    pub const CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE: i32 = 49;
    /// MAC mismatch, missing or undecryptable.
    pub const MAC_MISMATCH: i32 = 51;
    /// `--extract` path syntax error.
    pub const INVALID_TREE_PATH_FORMAT: i32 = 91;
    /// Empty YAML input.
    pub const NEED_AT_LEAST_ONE_DOCUMENT: i32 = 92;
    /// No file / file does not exist / wrong argument count.
    pub const NO_FILE_SPECIFIED: i32 = 100;
    /// `--decryption-order` names a key type twice.
    pub const DUPLICATE_DECRYPTION_KEY_TYPE: i32 = 112;
    /// No master key could recover the data key.
    pub const COULD_NOT_RETRIEVE_KEY: i32 = 128;
    /// `edit`: nothing changed.
    pub const FILE_HAS_NOT_BEEN_MODIFIED: i32 = 200;
    /// `edit`: no editor, or the editor failed.
    pub const NO_EDITOR_FOUND: i32 = 201;
    /// `edit`: the file's version is not valid semver.
    pub const FAILED_TO_COMPARE_VERSIONS: i32 = 202;
    /// `encrypt` of a file that already has sops metadata.
    pub const FILE_ALREADY_ENCRYPTED: i32 = 203;
}

/// Result of a command.
pub type CmdResult<T = ()> = Result<T, Error>;

/// Which side of a command a core error happened on: sops gives tree
/// errors different exit codes when encrypting and when decrypting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Encrypting (encrypt, re-seal, rotate).
    Encrypting,
    /// Decrypting (decrypt, open).
    Decrypting,
}

/// Commands whose positional arguments are missing or miscounted (exit
/// 100), each with sops's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// A subcommand without its FILE.
    File,
    /// Legacy mode without FILE.
    Legacy,
    /// `edit` without FILE.
    Edit,
    /// `groups` without `--file`.
    Groups,
    /// `set` without all three positionals.
    Set,
    /// `set --value-stdin` without both positionals.
    SetStdin,
    /// `unset` without FILE and PATH.
    Unset,
    /// `replace` without both files.
    Replace,
}

impl Usage {
    fn message(self) -> &'static str {
        match self {
            Usage::File => "Error: no file specified",
            Usage::Legacy => "Error: no file specified; see rsops --help",
            Usage::Edit => "Error: no file specified: rsops edit FILE",
            Usage::Groups => "Error: no file specified: give the encrypted file with --file",
            Usage::Set => "Error: no file specified, or index and value are missing. Need precisely 3 positional arguments.",
            Usage::SetStdin => "Error: file specified, or index and value are missing. Need precisely 2 positional arguments since --value-stdin is used.",
            Usage::Unset => "Error: no file specified, or index is missing: use rsops unset FILE PATH",
            Usage::Replace => "Error: rsops replace needs two arguments: the encrypted file and the new plaintext (- for standard input)",
        }
    }
}

/// What an editor run failed on (exit 201).
#[derive(Debug)]
pub enum EditorError {
    /// `$SOPS_EDITOR`/`$EDITOR` is not a valid shell command line.
    Invalid {
        /// The variable's name.
        var: &'static str,
    },
    /// No editor is set and none is found in `PATH`.
    NotFound,
    /// The editor command is empty.
    Empty,
    /// The editor could not be started.
    Spawn(io::Error),
    /// The editor ended with a failure status.
    Failed(ExitStatus),
}

impl std::fmt::Display for EditorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditorError::Invalid { var } => {
                write!(f, "invalid ${var}: quote it as a shell command line")
            }
            EditorError::NotFound => f.write_str("no editor available: rsops uses the editor named by SOPS_EDITOR or EDITOR, else the first of vim, nano, vi found in PATH, but none of them could be found"),
            EditorError::Empty => f.write_str("empty editor command"),
            EditorError::Spawn(e) => e.fmt(f),
            EditorError::Failed(status) => f.write_str(&describe_status(*status)),
        }
    }
}

/// A failed command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- Command line -------------------------------------------------
    /// Missing or miscounted positional arguments.
    #[error("{}", .0.message())]
    Usage(Usage),
    /// `-i` together with `--output`.
    #[error("Error: cannot operate on both --output and --in-place")]
    InPlaceAndOutput,
    /// `-i` without a file.
    #[error("Error: cannot use --in-place with standard input; give a file name")]
    InPlaceStdin,
    /// Several files without `-i`.
    #[error("Error: {0} files given: several files can only be processed in place; add -i (--in-place), or give one file")]
    ManyWithoutInPlace(usize),
    /// `decrypt` of several files to stdout in a type that cannot hold them.
    #[error("Error: {0} files given: several files are written to standard output only as YAML (one stream), JSON or dotenv, all of one type; add --output-type, or -i (--in-place)")]
    ManyToStdout(usize),
    /// `encrypt` from stdin without `--filename-override`.
    #[error("Error: --filename-override is required when encrypting from standard input (it selects the creation rule and the file type)")]
    StdinNeedsFilenameOverride,
    /// More than one selection rule among flags and creation rule.
    #[error("Error: cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex")]
    SelectionConflict,
    /// `exec-env --same-process --background`.
    #[error("Error: The --same-process flag cannot be used with --background")]
    SameProcessBackground,
    /// `set --value-file --value-stdin`.
    #[error("Error: cannot use both --value-file and --value-stdin")]
    ValueFileAndStdin,
    /// `rsops keyservice` could not listen or stopped on an error.
    #[error("Error running keyservice: {0}")]
    Keyservice(String),
    /// `--decryption-order` names a key type twice (core's message).
    #[error("{0}\nhint: name each key type once, e.g. --decryption-order age,pgp")]
    DecryptionOrder(String),
    /// `--encryption-context` is malformed.
    #[error("Invalid KMS encryption context format: use key:value pairs separated by commas")]
    EncryptionContext,
    /// A key given by a flag or variable is malformed.
    #[error(transparent)]
    KeySpec(#[from] KeySpecError),
    /// A selection regex does not compile.
    #[error(transparent)]
    Selection(#[from] SelectionError),
    /// `--extract` is not a tree path.
    #[error("error parsing --extract path: {0}\nhint: write the path like [\"key\"][0], e.g. --extract '[\"data\"][\"password\"]'")]
    ExtractPath(#[source] PathError),
    /// A `set`/`unset` path is empty.
    #[error("{context}: the path is empty; write it like [\"key\"][0]")]
    EmptySetPath {
        /// Which argument (`Invalid set index format`, ...).
        context: &'static str,
    },
    /// A `set`/`unset` path does not parse.
    #[error("{context}: {source}; write the path like [\"key\"][0]")]
    SetPath {
        /// Which argument.
        context: &'static str,
        /// The parser's error.
        source: PathError,
    },
    /// Legacy `--set` without `] ` between path and value.
    #[error("Invalid --set format: expected a path and a JSON value separated by a space, e.g. --set '[\"key\"] \"value\"'")]
    LegacySetFormat,
    /// A `set` value that is not JSON.
    #[error("Value for --set is not valid JSON: give a JSON value, e.g. '\"text\"', 5, true or {{\"k\": \"v\"}}")]
    SetValueNotJson,
    /// A `set` value that is a JSON array.
    #[error("Invalid --set value format: a JSON array cannot be set as a whole; set its elements one by one")]
    SetValueArray,
    /// `exec-file --filename` with directories.
    #[error("The provided filename is not a local path: --filename takes a plain file name, without directories")]
    NotLocalFilename,
    /// `exec-*` without FILE or COMMAND.
    #[error("error: missing file to decrypt: pass FILE and COMMAND")]
    ExecArguments,
    /// `groups delete` with an index that is not a number.
    #[error(
        "failed to parse [index] argument {0:?}: give the 0-based index of the key group to delete"
    )]
    GroupIndex(String),

    // --- Configuration --------------------------------------------------
    /// `.sops.yaml` cannot be read.
    #[error("error loading config: could not read {}: {source}", path.display())]
    ConfigRead {
        /// The config path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// `.sops.yaml` does not parse.
    #[error("{source} (in {})\nhint: correct {}, or name another file with --config (or SOPS_CONFIG)", path.display(), path.display())]
    ConfigParse {
        /// The config path.
        path: PathBuf,
        /// Why.
        source: ConfigError,
    },
    /// A creation-rule lookup failed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The creation-rule lookup for a file failed: sops's message, then a
    /// hint naming the config and the file.
    #[error("{source}\nhint: {}", rule_hint(source, config, file))]
    ConfigRule {
        /// The config path.
        config: PathBuf,
        /// The file whose rule was looked up (as given).
        file: PathBuf,
        /// Why.
        source: ConfigError,
    },
    /// A negative YAML indentation.
    #[error("YAML Negative indentation not accepted")]
    YamlIndent,
    /// A JSON indentation below -1.
    #[error("JSON Indentation parameter smaller than -1 is not accepted")]
    JsonIndent,
    /// No key from the flags and none from a creation rule.
    #[error("config file not found, or has no creation rules, and no keys provided through command line options: pass --age/--pgp (or SOPS_AGE_RECIPIENTS) or add a creation rule to .sops.yaml")]
    NoKeys,
    /// `updatekeys` without a config.
    #[error("config file not found: updatekeys takes the keys from the creation rules of .sops.yaml; create one (or pass --config)")]
    NoConfig,
    /// `updatekeys`: the config has no creation rules.
    #[error("The config file {} does not contain any creation rule\nhint: add a creation_rules entry with the keys to {}", .0.display(), .0.display())]
    NoCreationRules(PathBuf),
    /// `updatekeys`: the matching rule has an empty key group.
    #[error("the creation rule matching {} has an empty key group (or no keys): add keys to it in {}", file.display(), config.display())]
    EmptyRuleGroup {
        /// The file.
        file: PathBuf,
        /// The config.
        config: PathBuf,
    },

    // --- Input and output ---------------------------------------------
    /// Standard input cannot be read.
    #[error("Error reading from stdin: {0}")]
    ReadStdin(#[source] io::Error),
    /// A file cannot be read.
    #[error("Error reading file {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file to operate on does not exist.
    #[error("Error: cannot operate on non-existent file {}", .0.display())]
    NonExistentFile(PathBuf),
    /// The file to rewrite does not exist (rotate, groups).
    #[error("Error reading file {}: no such file or directory", .0.display())]
    MissingFile(PathBuf),
    /// The file to change does not exist (set, unset; sops's wording).
    #[error("Error reading file: {}: no such file or directory", .0.display())]
    MissingFileToChange(PathBuf),
    /// `updatekeys`: the file does not exist.
    #[error("stat {}: no such file or directory", .0.display())]
    Stat(PathBuf),
    /// `updatekeys`: the path cannot be made absolute.
    #[error("Error: {}: {source}", path.display())]
    Absolute {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// `updatekeys`: a directory cannot be listed.
    #[error("Error reading directory {}: {source}", path.display())]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// `check`: a directory cannot be listed.
    #[error("cannot list {}: {source}", path.display())]
    ListDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// `--add-*`/`--rm-*` on a missing file.
    #[error("Error: cannot add or remove keys on non-existent file {:?}, use the `edit` subcommand instead.", .0.display().to_string())]
    ChangeKeysOfMissingFile(PathBuf),
    /// The output file cannot be written.
    #[error("Could not write output file {}: {source}{}", path.display(), write_file_advice(source))]
    WriteFile {
        /// The target.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Standard output cannot be written.
    #[error("Could not write to stdout: {0}")]
    WriteStdout(#[source] io::Error),
    /// `set --value-stdin`: stdin cannot be read.
    #[error("Error reading the value from stdin: {0}")]
    ReadValueStdin(#[source] io::Error),
    /// `set --value-file`: the file cannot be read.
    #[error("Error reading the value file {}: {source}", path.display())]
    ReadValueFile {
        /// The value file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// `updatekeys`: the answer cannot be read.
    #[error("Error reading the answer: {0}")]
    ReadAnswer(#[source] io::Error),
    /// `updatekeys`: stdin closed before an answer.
    #[error("Error: no answer to \"Is this okay?\" (standard input is closed): pass -y to update without asking")]
    NoAnswer,

    // --- Stores -----------------------------------------------------------
    /// The input does not parse with its store.
    #[error("Error unmarshalling input file: {source}; check that the file is valid {} (or pass --input-type)", store_description(*format))]
    Unmarshal {
        /// The input store.
        format: Format,
        /// The parser's error.
        source: FormatError,
    },
    /// An encrypted file does not parse with its store (sops: a generic
    /// error, exit 1, where the same on a plaintext is exit 2).
    #[error("Error unmarshalling input file: {source}; check that the file is valid {} (or pass --input-type)", store_description(*format))]
    UnmarshalEncrypted {
        /// The input store.
        format: Format,
        /// The parser's error.
        source: FormatError,
    },
    /// The YAML input has no document.
    #[error(transparent)]
    NoDocument(FormatError),
    /// The output store cannot render the tree.
    #[error("Error dumping file: {0}")]
    Dump(#[source] FormatError),
    /// `edit`: the plaintext cannot be rendered for the editor.
    #[error("Could not marshal tree: {0}")]
    Marshal(#[source] FormatError),
    /// `filestatus`: the file cannot be read.
    #[error("cannot check file status: {0}")]
    FilestatusRead(Box<Error>),
    /// `filestatus`: the file does not parse.
    #[error("cannot read {} as {}: {source}", path.display(), format.name())]
    Filestatus {
        /// The file.
        path: PathBuf,
        /// The store tried.
        format: Format,
        /// The parser's error.
        source: FormatError,
    },
    /// The file has no sops metadata.
    #[error("sops metadata not found: the file is not encrypted (or not a sops file of this type; try --input-type)")]
    MetadataNotFound,
    /// The plaintext to encrypt already has a `sops` entry.
    #[error("The file you have provided contains a top-level entry called 'sops' (or, for dotenv, a key starting with 'sops_'): it is already encrypted, or uses a reserved key. Decrypt it first, or rename that key.")]
    AlreadyEncrypted,
    /// `replace`: the new plaintext has a `sops` entry.
    #[error("The new plaintext has a top-level entry called 'sops' (or, for dotenv, a key starting with 'sops_'): it is encrypted, or uses a key reserved for the metadata. Pass the decrypted content, or rename that key.")]
    PlaintextHasMetadata,

    // --- Trees --------------------------------------------------------------
    /// `--extract` names no value.
    #[error("error truncating tree: {0}")]
    Truncate(#[source] PathError),
    /// A `set`/`unset` path cannot be applied.
    #[error(transparent)]
    Edit(#[from] EditError),
    /// `set` on a file without a document.
    #[error("the file has no document to set a value in")]
    NoDocumentToSet,
    /// `unset` on a file without a document.
    #[error("the file has no document to remove a value from")]
    NoDocumentToUnset,

    // --- Keys and cryptography ------------------------------------------
    /// A core operation failed.
    #[error("{}", core_message(source))]
    Core {
        /// The error.
        source: CoreError,
        /// Encrypting or decrypting.
        side: Side,
    },
    /// A new data key could not be wrapped or split.
    #[error("Could not generate data key: {}", wrap_failure(.0))]
    GenerateDataKey(#[source] CoreError),
    /// A data key could not be wrapped for a new file.
    #[error("Error encrypting the data key with one or more master keys: {}", wrap_failure(.0))]
    WrapDataKey(#[source] CoreError),
    /// A key-group change leaves no group.
    #[error("Could not generate data key: no key groups provided")]
    NoKeyGroups,
    /// A key-group change leaves a group without keys.
    #[error("Could not generate data key: key group {0} would have no keys: keep at least one key in every group, or delete the group with rsops groups delete")]
    EmptyKeyGroup(usize),
    /// `groups add` without keys.
    #[error(
        "Error: the new key group has no keys: give at least one of {}",
        key_flags()
    )]
    EmptyNewGroup,
    /// `groups delete` of a group that does not exist.
    #[error(
        "Error: there is no key group {index}: the file has {count} key group(s), numbered from 0"
    )]
    NoSuchGroup {
        /// The index given.
        index: usize,
        /// How many groups the file has.
        count: usize,
    },
    /// `groups delete` of the last group.
    #[error(
        "Error: cannot delete the only key group of the file: nobody could decrypt it afterwards"
    )]
    OnlyGroup,
    /// `groups delete` below the threshold.
    #[error("removing this key group will make the Shamir threshold impossible to satisfy: Shamir threshold is {threshold}, but we only have {groups} key groups; lower it with --shamir-secret-sharing-threshold")]
    ThresholdUnreachable {
        /// The threshold.
        threshold: usize,
        /// The groups left.
        groups: usize,
    },
    /// `edit`: the file's version is not a semantic version.
    #[error("Failed to compare document version {file:?} with program version {ours:?}: not a semantic version")]
    CompareVersions {
        /// The file's version.
        file: String,
        /// Ours.
        ours: &'static str,
    },

    // --- Editor and child processes -----------------------------------------
    /// `edit`: the editor could not be run or failed.
    #[error("Could not run editor: {}{}", .0, editor_hint(.0))]
    Editor(EditorError),
    /// `edit`: the edited file is unchanged.
    #[error("File has not changed, exiting.")]
    NotModified,
    /// `edit`: the edited content is still invalid and there is no one to
    /// ask whether to go on (no terminal, or standard input ended).
    #[error("the edited content is not valid after {attempts} attempt(s): {problem}; the file was not changed\nhint: fix the content in an interactive session, or use rsops set / rsops replace in scripts")]
    EditInvalid {
        /// How many times the editor ran.
        attempts: usize,
        /// What is wrong with the content (positions and key names only).
        problem: String,
    },
    /// `edit`: the edited file cannot be read back.
    #[error("Could not read edited file: {0}")]
    ReadEdited(#[source] io::Error),
    /// The private temporary directory cannot be created.
    #[error("Could not create temporary directory: {source}; check that $TMPDIR is writable")]
    TempDir {
        /// Why.
        source: io::Error,
        /// For `edit` (exit 3) or `exec-file` (exit 1).
        editing: bool,
    },
    /// `edit`: the temporary file cannot be written.
    #[error("Could not create temporary file: {0}")]
    TempFile(#[source] io::Error),
    /// `exec-file`: the temporary file or FIFO cannot be made.
    #[error("Could not create the temporary file: {0}")]
    ExecTempFile(#[source] io::Error),
    /// `exec-* --user`: the process cannot switch to the user.
    #[error("could not switch to user {user}: {source}\nhint: --user needs the privilege to change user (run rsops as root)")]
    SwitchUser {
        /// The user.
        user: String,
        /// Why.
        source: io::Error,
    },
    /// The signal handlers cannot be installed.
    #[error("Could not install the signal handlers: {0}")]
    Signals(#[source] io::Error),
    /// `/bin/sh` cannot be started.
    #[error("could not run /bin/sh: {0}")]
    Shell(#[source] io::Error),
    /// `--user` cannot be looked up.
    #[error("user: {0}")]
    UserLookup(#[source] nix::Error),
    /// `--user` names no user.
    #[error("user: unknown user {0}\nhint: give --user the name of an existing account")]
    UnknownUser(String),
    /// The child command failed: rsops exits with its code.
    #[error("{}", describe_status(*.0))]
    Child(ExitStatus),
    /// `exec-env`: a non-string key.
    #[error("cannot use non-string keys in environment, got {0}")]
    EnvNonStringKey(&'static str),
    /// `exec-env`: a map or list value.
    #[error("cannot use complex value in environment; offending key {0}")]
    EnvComplexValue(String),
    /// `exec-env`: a key with `=`.
    #[error("cannot use keys with '=' in environment: {0}")]
    EnvKeyWithEquals(String),
    /// `exec-env`: a value the dotenv writer refuses.
    #[error("cannot use value in environment: {0}")]
    EnvValue(#[source] FormatError),

    // --- git and check --------------------------------------------------
    /// `git` cannot be run.
    #[error("cannot run git ({0}); install git and make sure it is on PATH")]
    Git(#[source] io::Error),
    /// `git install` outside a repository.
    #[error("not inside a git repository: run rsops git install from the repository's work tree")]
    NotInRepository,
    /// `git install --absolute` without our own path.
    #[error("cannot find the path of this rsops binary ({0}); run without --absolute")]
    CurrentExe(#[source] io::Error),
    /// `git config` cannot be run.
    #[error("cannot run git config ({0})")]
    GitConfig(#[source] io::Error),
    /// `git config` failed.
    #[error("git config --local {0} failed; check that .git/config is writable")]
    GitConfigFailed(&'static str),
    /// `git merge`: a failure, for git to record a conflict.
    #[error("rsops git merge: {}: {source}", path.to_string_lossy())]
    Merge {
        /// The file's path in the repository.
        path: OsString,
        /// What failed.
        source: Box<Error>,
    },
    /// `git merge`: conflicting changes.
    #[error("{count} conflict(s); the file keeps the current branch's version (encrypted): apply the other branch's changes with rsops edit {}, then git add it", path.to_string_lossy())]
    MergeConflicts {
        /// How many paths conflict.
        count: usize,
        /// The file's path in the repository.
        path: OsString,
    },
    /// `check` found files to encrypt (they are listed above).
    #[error("rsops check: {0} file(s) must be encrypted before they are committed (see above)")]
    CheckFailed(usize),
    /// `check --strict`: no creation rule matched any file.
    #[error("rsops check: {0}\nhint: correct the creation rules of .sops.yaml (path_regex), or pass the files they should match")]
    CheckNothingChecked(String),
    /// `updatekeys`: some files failed (they are listed above).
    #[error("failed updating {0} key(s)")]
    UpdatekeysFailed(usize),

    // --- publish --------------------------------------------------------
    /// `publish` without a config.
    #[error("config file not found: publish takes its destinations from the destination_rules of .sops.yaml; create one (or pass --config)")]
    PublishNoConfig,
    /// `publish` of a directory without `--recursive`.
    #[error("can't operate on a directory without --recursive flag.")]
    PublishDirectory,
    /// The matching destination rule names no destination.
    #[error("no destination configured for this file\nhint: give the matching destination rule one of s3_bucket, gcs_bucket or vault_path")]
    NoDestination,
    /// The user answered `n`.
    #[error("Publication of {} canceled", .0.display())]
    PublishCanceled(PathBuf),
    /// Standard input ended before an answer.
    #[error("Error: no answer to \"uploading ... ? (y/n)\" (standard input is closed): pass -y to publish without asking")]
    PublishNoAnswer,
    /// The upload failed.
    #[error("could not publish to {destination}: {source}")]
    Publish {
        /// The destination as shown in the prompt.
        destination: String,
        /// Why.
        source: Box<crate::commands::publish::UploadError>,
    },

    // --- Several files, shared failures -------------------------------------
    /// Several files failed, one line each (`FILE: message`), in argument
    /// order; the exit code is the first file's.
    #[error("{}", files_message(.0))]
    Files(Vec<(PathBuf, Error)>),
    /// One failure reported for several files (a data key that could not
    /// be unwrapped is the failure of every file that needs it).
    #[error(transparent)]
    Shared(Arc<Error>),
    /// A worker thread panicked.
    #[error("internal error: a worker thread failed")]
    WorkerPanicked,
    /// `ksops`: any failure (exit code 1, as ksops).
    #[error(transparent)]
    Ksops(#[from] crate::commands::ksops::KsopsError),
}

impl Error {
    /// sops's exit code for this failure: the only place the
    /// table is applied.
    pub fn exit_code(&self) -> i32 {
        use code::*;
        match self {
            Error::Usage(_) | Error::NonExistentFile(_) => NO_FILE_SPECIFIED,
            Error::InPlaceAndOutput
            | Error::InPlaceStdin
            | Error::ManyWithoutInPlace(_)
            | Error::ManyToStdout(_)
            | Error::StdinNeedsFilenameOverride
            | Error::SelectionConflict
            | Error::SameProcessBackground => CONFLICTING_PARAMETERS,
            Error::DecryptionOrder(_) => DUPLICATE_DECRYPTION_KEY_TYPE,
            Error::EncryptionContext => INVALID_KMS_ENCRYPTION_CONTEXT_FORMAT,
            Error::ExtractPath(_) => INVALID_TREE_PATH_FORMAT,
            Error::EmptySetPath { .. }
            | Error::SetPath { .. }
            | Error::LegacySetFormat
            | Error::SetValueNotJson
            | Error::SetValueArray => INVALID_SET_FORMAT,
            Error::ReadStdin(_)
            | Error::ReadFile { .. }
            | Error::MissingFile(_)
            | Error::MissingFileToChange(_)
            | Error::ListDir { .. }
            | Error::Unmarshal { .. }
            | Error::ReadEdited(_) => COULD_NOT_READ_INPUT_FILE,
            Error::NoDocument(_) => NEED_AT_LEAST_ONE_DOCUMENT,
            Error::ChangeKeysOfMissingFile(_) => CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE,
            Error::WriteFile { .. } | Error::WriteStdout(_) | Error::TempFile(_) => {
                COULD_NOT_WRITE_OUTPUT_FILE
            }
            Error::TempDir { editing, .. } => {
                if *editing {
                    COULD_NOT_WRITE_OUTPUT_FILE
                } else {
                    GENERIC
                }
            }
            Error::Dump(_) | Error::Marshal(_) => ERROR_DUMPING_TREE,
            Error::AlreadyEncrypted | Error::PlaintextHasMetadata => FILE_ALREADY_ENCRYPTED,
            Error::Core { source, side } => core_exit_code(source, *side),
            Error::WrapDataKey(_) => COULD_NOT_RETRIEVE_KEY,
            Error::CompareVersions { .. } => FAILED_TO_COMPARE_VERSIONS,
            Error::Editor(_) => NO_EDITOR_FOUND,
            Error::NotModified => FILE_HAS_NOT_BEEN_MODIFIED,
            Error::Child(status) => status.code().unwrap_or(255),
            Error::Files(files) => files.first().map_or(GENERIC, |(_, e)| e.exit_code()),
            Error::Shared(e) => e.exit_code(),
            Error::ValueFileAndStdin
            | Error::Keyservice(_)
            | Error::KeySpec(_)
            | Error::Selection(_)
            | Error::NotLocalFilename
            | Error::ExecArguments
            | Error::GroupIndex(_)
            | Error::ConfigRead { .. }
            | Error::ConfigParse { .. }
            | Error::Config(_)
            | Error::ConfigRule { .. }
            | Error::YamlIndent
            | Error::JsonIndent
            | Error::NoKeys
            | Error::NoConfig
            | Error::NoCreationRules(_)
            | Error::EmptyRuleGroup { .. }
            | Error::Stat(_)
            | Error::Absolute { .. }
            | Error::ReadDir { .. }
            | Error::ReadValueStdin(_)
            | Error::ReadValueFile { .. }
            | Error::ReadAnswer(_)
            | Error::NoAnswer
            | Error::Filestatus { .. }
            | Error::FilestatusRead(_)
            | Error::UnmarshalEncrypted { .. }
            | Error::MetadataNotFound
            | Error::Truncate(_)
            | Error::Edit(_)
            | Error::NoDocumentToSet
            | Error::NoDocumentToUnset
            | Error::GenerateDataKey(_)
            | Error::NoKeyGroups
            | Error::EmptyKeyGroup(_)
            | Error::EmptyNewGroup
            | Error::NoSuchGroup { .. }
            | Error::OnlyGroup
            | Error::ThresholdUnreachable { .. }
            | Error::ExecTempFile(_)
            | Error::SwitchUser { .. }
            | Error::EditInvalid { .. }
            | Error::Signals(_)
            | Error::Shell(_)
            | Error::UserLookup(_)
            | Error::UnknownUser(_)
            | Error::EnvNonStringKey(_)
            | Error::EnvComplexValue(_)
            | Error::EnvKeyWithEquals(_)
            | Error::EnvValue(_)
            | Error::Git(_)
            | Error::NotInRepository
            | Error::Ksops(_)
            | Error::CurrentExe(_)
            | Error::GitConfig(_)
            | Error::GitConfigFailed(_)
            | Error::Merge { .. }
            | Error::MergeConflicts { .. }
            | Error::CheckFailed(_)
            | Error::CheckNothingChecked(_)
            | Error::UpdatekeysFailed(_)
            | Error::PublishNoConfig
            | Error::PublishDirectory
            | Error::NoDestination
            | Error::PublishCanceled(_)
            | Error::PublishNoAnswer
            | Error::Publish { .. }
            | Error::WorkerPanicked => GENERIC,
        }
    }

    /// A core error on the decrypting side.
    pub fn decrypting(source: CoreError) -> Error {
        Error::Core {
            source,
            side: Side::Decrypting,
        }
    }

    /// A core error on the encrypting side.
    pub fn encrypting(source: CoreError) -> Error {
        Error::Core {
            source,
            side: Side::Encrypting,
        }
    }

    /// A failure of `file::rotate`: wrapping the new data key for the keys
    /// is sops's "Could not generate data key", anything else an
    /// encrypting error.
    pub fn rotating(source: CoreError) -> Error {
        match source {
            CoreError::KeyWrap { .. } | CoreError::KeyGroups(_) => Error::GenerateDataKey(source),
            other => Error::encrypting(other),
        }
    }

    /// The failure for a file the input store cannot parse.
    pub fn unmarshal(source: FormatError, format: Format) -> Error {
        match source {
            FormatError::NoDocument => Error::NoDocument(source),
            source => Error::Unmarshal { format, source },
        }
    }

    /// An encrypted file that does not parse: exit 1 as in sops; a YAML
    /// file without a document has no metadata.
    pub fn unmarshal_encrypted(source: FormatError, format: Format) -> Error {
        match source {
            FormatError::NoDocument => Error::MetadataNotFound,
            source => Error::UnmarshalEncrypted { format, source },
        }
    }

    /// Whether no key could recover the data key (exit 128).
    pub fn is_missing_key(&self) -> bool {
        self.exit_code() == code::COULD_NOT_RETRIEVE_KEY
    }

    /// The message without its recommendation lines.
    pub fn message(&self) -> String {
        let text = self.to_string();
        let mut lines: Vec<&str> = text.lines().collect();
        while lines.last().is_some_and(|l| l.starts_with("hint: ")) {
            lines.pop();
        }
        lines.join("\n")
    }
}

/// The recommendation for a failed creation-rule lookup of `file` in the
/// config at `config`.
fn rule_hint(source: &ConfigError, config: &Path, file: &Path) -> String {
    let (config, file) = (config.display(), file.display());
    match source {
        ConfigError::NoMatchingRule => format!(
            "no creation rule in {config} matches '{file}'; add a path_regex that matches it, or pass --config"
        ),
        ConfigError::Regex(_) => format!(
            "fix the path_regex in {config} (rules are tried in order for '{file}'), or pass --config"
        ),
        _ => format!(
            "fix the creation rule in {config} that matches '{file}', or pass --config"
        ),
    }
}

/// The recommendation for an editor that could not run.
fn editor_hint(e: &EditorError) -> &'static str {
    match e {
        EditorError::Spawn(_) | EditorError::Empty => {
            "\nhint: set SOPS_EDITOR (or EDITOR) to an installed editor, e.g. SOPS_EDITOR=nano"
        }
        EditorError::Invalid { .. } | EditorError::NotFound | EditorError::Failed(_) => "",
    }
}

/// Every key kind's flag, `--age, --pgp, ...` in sops's order of mention
/// (age and OpenPGP first).
fn key_flags() -> String {
    let kinds = rsops_keys::KeyKind::ALL;
    let (first, rest): (Vec<&rsops_keys::KeyKind>, Vec<_>) = kinds
        .iter()
        .partition(|k| matches!(k, rsops_keys::KeyKind::Age | rsops_keys::KeyKind::Pgp));
    first
        .iter()
        .chain(rest.iter())
        .map(|k| format!("--{}", k.cli().flag))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What to check when a file cannot be written: the directory, where that
/// is what failed.
fn write_file_advice(source: &io::Error) -> &'static str {
    match source.kind() {
        io::ErrorKind::InvalidInput => "",
        _ => "; check that the directory exists and is writable",
    }
}

/// What the input store expects, for [`Error::Unmarshal`].
fn store_description(format: Format) -> &'static str {
    match format {
        Format::Binary => "JSON (the binary store keeps encrypted files as JSON; pass --input-type if the file is YAML, dotenv or INI)",
        _ => format.name(),
    }
}

/// Why a new data key could not be wrapped: key-group problems in
/// brackets, as sops prints its list of errors (`[empty key group
/// provided]`).
fn wrap_failure(e: &CoreError) -> String {
    match e {
        CoreError::KeyGroups(g) => format!("[{g}]"),
        // sops's list of key errors, without the prefix the caller adds.
        CoreError::KeyWrap { key, source } => {
            format!("[failed to encrypt new data key with master key {key:?}: {source}]")
        }
        other => other.to_string(),
    }
}

/// The message of a core error.
fn core_message(e: &CoreError) -> String {
    match e {
        CoreError::KeyGroups(_) => format!("Could not generate data key: {}", wrap_failure(e)),
        CoreError::DataKey(report) => data_key_line(report),
        CoreError::MacMismatch { .. } | CoreError::MacMissing { .. } | CoreError::MacDecrypt(_) => {
            format!("{e}. The file was modified outside sops/rsops or is corrupted; use --ignore-mac only if you trust its content")
        }
        other => other.to_string(),
    }
}

/// The exit code of a core error.
fn core_exit_code(e: &CoreError, side: Side) -> i32 {
    let tree = match side {
        Side::Encrypting => code::ERROR_ENCRYPTING_TREE,
        Side::Decrypting => code::ERROR_DECRYPTING_TREE,
    };
    match e {
        CoreError::DataKey(_) => code::COULD_NOT_RETRIEVE_KEY,
        CoreError::MacMismatch { .. } | CoreError::MacMissing { .. } | CoreError::MacDecrypt(_) => {
            code::MAC_MISMATCH
        }
        CoreError::NonStringKey { .. }
        | CoreError::NotEncrypted { .. }
        | CoreError::Decrypt { .. }
        | CoreError::EncryptedCommentMatchesRule => tree,
        // sops fails on the first value it decrypts with such a key.
        CoreError::DataKeySize { .. } => code::ERROR_DECRYPTING_TREE,
        CoreError::Encrypt { .. } => code::ERROR_ENCRYPTING_TREE,
        CoreError::MacEncrypt(_) => code::ERROR_ENCRYPTING_MAC,
        _ => code::GENERIC,
    }
}

/// Why no data key could be recovered, short: a title line, one line per
/// key group and key with the reason, which age identities were loaded from
/// where, or which sources held none (once, as every age key tried the same
/// ones), and one hint. sops prints
/// a longer report of the same shape; the exit code is sops's (128).
fn data_key_line(report: &DataKeyReport) -> String {
    use rsops_keys::error::{AgeDecryptError, DecryptFailure, NoIdentity};
    use rsops_keys::KeyError;
    let mut out = String::from("Failed to get the data key required to decrypt the SOPS file");
    if report.groups.len() > 1 {
        let _ = write!(
            out,
            " (Shamir threshold {}, {} part(s) recovered)",
            report.threshold, report.recovered
        );
    }
    out.push('.');
    let mut age_sources: Option<String> = None;
    for (i, g) in report.groups.iter().enumerate() {
        let state = if g.ok { "ok" } else { "FAILED" };
        let _ = write!(out, "\nGroup {i}: {state}");
        if g.keys.is_empty() && !g.ok {
            out.push_str(" (not tried)");
        }
        for k in &g.keys {
            let reason = match k.error.as_deref() {
                None => "ok".to_owned(),
                Some(KeyError::NoIdentity(NoIdentity::Age { sources })) => {
                    age_sources.get_or_insert_with(|| sources.summary());
                    "no age identity available".to_owned()
                }
                Some(KeyError::Decrypt(DecryptFailure::Age(
                    AgeDecryptError::NoMatchingIdentity { sources, .. },
                ))) => {
                    age_sources.get_or_insert_with(|| sources.summary());
                    "none of the age identities loaded matches this recipient".to_owned()
                }
                Some(e) => e.to_string(),
            };
            let _ = write!(out, "\n  {}: {reason}", k.key);
        }
    }
    if let Some(sources) = age_sources {
        if !sources.is_empty() {
            let _ = write!(out, "\nage identities: {sources}.");
        }
    }
    out.push_str(&data_key_hint(report));
    out
}

/// The one hint line of a data-key failure: what to provide for the kinds
/// of the keys that failed (local keys: the private key; cloud keys and key
/// services: credentials and access, whose failures the lines above name).
fn data_key_hint(report: &DataKeyReport) -> String {
    let mut errors = report
        .groups
        .iter()
        .flat_map(|g| g.keys.iter())
        .filter_map(|k| k.error.as_deref())
        .peekable();
    if errors.peek().is_some() && errors.all(|e| e.is_remote_service_failure()) {
        return "\nhint: only key services were asked (--keyservice, SOPS_KEYSERVICE): check that \
                they run at these addresses and hold the keys"
            .to_owned();
    }
    let failed_kinds: Vec<Option<&'static str>> = report
        .groups
        .iter()
        .flat_map(|g| g.keys.iter())
        .filter_map(|k| k.error.as_deref().map(|e| e.kind()))
        .collect();
    let has = |kind: &str| failed_kinds.contains(&Some(kind));
    let mut parts: Vec<&str> = Vec::new();
    if has("age") {
        parts.push("for age, SOPS_AGE_KEY_FILE (a keys file), SOPS_AGE_KEY or SOPS_AGE_KEY_CMD, or the default keys file");
    }
    if has("pgp") {
        parts.push("for OpenPGP, the GnuPG keyring (GNUPGHOME)");
    }
    if has("kms") {
        parts.push("for AWS KMS, credentials (environment, ~/.aws, AWS_PROFILE or the key's aws_profile) allowed to use the key and a reachable endpoint");
    }
    let remote = failed_kinds
        .iter()
        .any(|k| !matches!(k, Some("age") | Some("pgp")));
    if failed_kinds
        .iter()
        .any(|k| !matches!(k, Some("age") | Some("pgp") | Some("kms")))
    {
        parts.push("for GCP KMS, Azure Key Vault, Vault, HuaweiCloud and key-service keys, credentials allowed to use the key (the lines above say what failed)");
    }
    if parts.is_empty() {
        parts.push("for age, SOPS_AGE_KEY_FILE (a keys file), SOPS_AGE_KEY or SOPS_AGE_KEY_CMD, or the default keys file; for OpenPGP, the GnuPG keyring (GNUPGHOME)");
    }
    let lead = if remote {
        "make one of these keys usable"
    } else {
        "make the private key of one of these recipients available"
    };
    format!("\nhint: {lead}: {}", parts.join("; "))
}

/// Lines `FILE: message` for [`Error::Files`]; recommendation lines are
/// given once, after all files.
fn files_message(files: &[(PathBuf, Error)]) -> String {
    let mut out = String::new();
    let mut hints: Vec<String> = Vec::new();
    for (i, (path, e)) in files.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let text = e.to_string();
        if !path.as_os_str().is_empty() {
            let _ = write!(out, "{}: ", path.display());
        }
        out.push_str(&e.message());
        for hint in text.lines().filter(|l| l.starts_with("hint: ")) {
            if !hints.iter().any(|h| h == hint) {
                hints.push(hint.to_owned());
            }
        }
    }
    for hint in hints {
        out.push('\n');
        out.push_str(&hint);
    }
    out
}

/// A failed child's status as Go prints it (`exit status 1`, `signal: killed`).
pub fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    let name = match status.signal() {
        Some(1) => "hangup".to_owned(),
        Some(2) => "interrupt".to_owned(),
        Some(6) => "aborted".to_owned(),
        Some(9) => "killed".to_owned(),
        Some(11) => "segmentation fault".to_owned(),
        Some(13) => "broken pipe".to_owned(),
        Some(15) => "terminated".to_owned(),
        Some(n) => format!("signal {n}"),
        None => "unknown status".to_owned(),
    };
    format!("signal: {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(errors: Vec<rsops_keys::KeyError>) -> DataKeyReport {
        use rsops_core::datakey::{GroupAttempt, KeyAttempt};
        DataKeyReport {
            groups: vec![GroupAttempt {
                ok: false,
                keys: errors
                    .into_iter()
                    .map(|e| KeyAttempt {
                        key: "k".into(),
                        error: Some(std::sync::Arc::new(e)),
                    })
                    .collect(),
            }],
            threshold: 0,
            recovered: 0,
        }
    }

    #[test]
    fn the_data_key_hint_names_what_the_failed_kinds_need() {
        use rsops_keys::KeyError;
        let cloud = data_key_hint(&report(vec![KeyError::Unsupported("azure_kv")]));
        assert!(cloud.starts_with("\nhint: make one of these keys usable: for GCP KMS"));
        assert!(!cloud.contains("SOPS_AGE_KEY_FILE"), "{cloud}");
        let pgp = data_key_hint(&report(vec![KeyError::Unsupported("pgp")]));
        assert!(pgp.contains("private key of one of these recipients available: for OpenPGP"));
        assert!(!pgp.contains("age"), "{pgp}");
        let mixed = data_key_hint(&report(vec![
            KeyError::Unsupported("age"),
            KeyError::Unsupported("hc_vault"),
        ]));
        assert!(mixed.contains("for age, SOPS_AGE_KEY_FILE"), "{mixed}");
        assert!(mixed.contains("; for GCP KMS"), "{mixed}");
        let aws = data_key_hint(&report(vec![KeyError::Unsupported("kms")]));
        assert!(aws.contains("usable: for AWS KMS, credentials"), "{aws}");
        assert!(!aws.contains("GCP"), "{aws}");
    }

    #[test]
    fn value_cipher_failures_map_to_sops_exit_codes() {
        use rsops_core::cipher::CipherError;
        let encrypt = || CoreError::Encrypt {
            path: "a:".into(),
            source: CipherError::TooLong,
        };
        assert_eq!(Error::encrypting(encrypt()).exit_code(), 23);
        assert_eq!(Error::decrypting(encrypt()).exit_code(), 23);
        let mac = CoreError::MacEncrypt(CipherError::TooLong);
        assert_eq!(Error::encrypting(mac).exit_code(), 21);
        let iv = || CoreError::Decrypt {
            path: "a:".into(),
            source: CipherError::InvalidIvLength(65),
        };
        assert_eq!(Error::decrypting(iv()).exit_code(), 25);
        assert!(Error::decrypting(iv()).to_string().contains("IV length 65"));
    }
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn statuses_read_like_go() {
        assert_eq!(
            describe_status(ExitStatus::from_raw(1 << 8)),
            "exit status 1"
        );
        assert_eq!(describe_status(ExitStatus::from_raw(9)), "signal: killed");
        assert_eq!(
            describe_status(ExitStatus::from_raw(15)),
            "signal: terminated"
        );
    }

    #[test]
    fn a_child_status_is_the_exit_code() {
        assert_eq!(Error::Child(ExitStatus::from_raw(7 << 8)).exit_code(), 7);
        assert_eq!(Error::Child(ExitStatus::from_raw(9)).exit_code(), 255);
    }

    #[test]
    fn hints_follow_the_message_on_their_own_line() {
        let e = Error::DecryptionOrder("Duplicate decryption key type: age".into());
        let text = e.to_string();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("Duplicate decryption key type: age"));
        assert!(lines.next().is_some_and(|l| l.starts_with("hint: ")));
        assert_eq!(e.message(), "Duplicate decryption key type: age");
        assert_eq!(e.exit_code(), code::DUPLICATE_DECRYPTION_KEY_TYPE);
    }

    #[test]
    fn rule_lookup_errors_keep_sops_line_and_name_config_and_file() {
        let e = Error::ConfigRule {
            config: PathBuf::from("/p/.sops.yaml"),
            file: PathBuf::from("secret.yaml"),
            source: ConfigError::NoMatchingRule,
        };
        assert_eq!(
            e.to_string(),
            "error loading config: no matching creation rules found\n\
             hint: no creation rule in /p/.sops.yaml matches 'secret.yaml'; add a path_regex that matches it, or pass --config"
        );
        assert_eq!(e.message(), ConfigError::NoMatchingRule.to_string());
        assert_eq!(
            e.exit_code(),
            Error::Config(ConfigError::NoMatchingRule).exit_code()
        );
        let e = Error::ConfigRule {
            config: PathBuf::from("c.yaml"),
            file: PathBuf::from("f.yaml"),
            source: ConfigError::ConflictingSelection,
        };
        assert!(e.to_string().ends_with(
            "\nhint: fix the creation rule in c.yaml that matches 'f.yaml', or pass --config"
        ));
    }

    #[test]
    fn several_files_give_one_line_each_and_the_first_code() {
        let e = Error::Files(vec![
            (PathBuf::from("a.yaml"), Error::MetadataNotFound),
            (
                PathBuf::from("b.yaml"),
                Error::DecryptionOrder("Duplicate decryption key type: age".into()),
            ),
            (PathBuf::from("c.yaml"), Error::UnknownUser("nobody".into())),
        ]);
        assert_eq!(e.exit_code(), code::GENERIC);
        let text = e.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[0].starts_with("a.yaml: sops metadata not found"));
        assert!(lines[1].starts_with("b.yaml: Duplicate"));
        assert!(lines[2].starts_with("c.yaml: user: unknown user nobody"));
        assert!(lines[3].starts_with("hint: name each key type once"));
        assert!(lines[4].starts_with("hint: give --user"));
    }

    #[test]
    fn a_shared_failure_keeps_its_message_and_code() {
        let e = Error::Shared(Arc::new(Error::NoDocumentToSet));
        assert_eq!(e.to_string(), "the file has no document to set a value in");
        assert_eq!(e.exit_code(), code::GENERIC);
    }

    #[test]
    fn empty_yaml_is_its_own_code() {
        let e = Error::unmarshal(FormatError::NoDocument, Format::Yaml);
        assert_eq!(e.exit_code(), code::NEED_AT_LEAST_ONE_DOCUMENT);
    }
}
