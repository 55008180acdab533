//! The commands, and what they share: store selection, key service, the
//! decryption order, and the mapping of library errors to sops's exit codes.

pub mod check;
pub mod decrypt;
pub mod edit;
pub mod encrypt;
pub mod exec_env;
pub mod exec_file;
pub mod filestatus;
pub mod git;
pub mod groups;
mod keydiff;
pub mod keyservice;
pub mod ksops;
pub mod open;
pub mod publish;
pub mod replace;
pub mod rotate;
pub mod set;
pub mod unset;
pub mod updatekeys;

use rsops_core::datakey;
use rsops_format::Format;
use rsops_keys::KeyKind;

use std::path::Path;

use crate::error::{CmdResult, Error};
use crate::settings::{Common, Output};

/// The input and output stores of a command: the flags, else
/// the extension of `--filename-override` or of the file.
pub fn stores(common: &Common, file: Option<&Path>) -> (Format, Format) {
    let path = common.filename_override.as_deref().or(file);
    let inferred = Format::from_path(&path.map(Path::to_string_lossy).unwrap_or_default());
    (
        common.input_type.unwrap_or(inferred),
        common.output_type.unwrap_or(inferred),
    )
}

pub use crate::settings::check_output as check_output_flags;

/// The key-type order for decryption (`--decryption-order` or
/// `SOPS_DECRYPTION_ORDER`, default `age,pgp`).
pub fn decryption_order(spec: Option<&str>) -> CmdResult<Vec<KeyKind>> {
    match spec.filter(|s| !s.trim().is_empty()) {
        None => Ok(datakey::DEFAULT_DECRYPTION_ORDER.to_vec()),
        Some(s) => datakey::parse_decryption_order(s).map_err(Error::DecryptionOrder),
    }
}

/// Writes the result where the flags say: in place, `--output`, or stdout
/// (a file committed as `commit` says).
pub fn deliver(
    output: &Output,
    file: Option<&Path>,
    data: &[u8],
    sensitivity: crate::io::Sensitivity,
    commit: crate::io::Commit<'_>,
) -> CmdResult {
    if output.in_place {
        if let Some(f) = file {
            return crate::io::write_atomic(f, data, sensitivity, commit);
        }
    }
    match output.output.as_deref() {
        Some(path) => crate::io::write_atomic(path, data, sensitivity, commit),
        None => crate::io::write_stdout(data),
    }
}
