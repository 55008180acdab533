//! sops's exit codes (CLI.md §8), and the error type of the binary: every
//! failure becomes one message line and one of these codes, here and only
//! here.

use std::fmt;

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

/// A failed command: what to print and which code to exit with.
#[derive(Debug)]
pub struct Failure {
    /// Exit code (sops's table).
    pub code: i32,
    /// One line: what is wrong and what to do. Never a secret value.
    pub message: String,
}

impl Failure {
    /// A failure with `code` and `message`.
    pub fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Result of a command.
pub type CmdResult<T = ()> = Result<T, Failure>;
