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
pub mod open;
pub mod replace;
pub mod rotate;
pub mod set;
pub mod unset;
pub mod updatekeys;

use rsops_core::datakey::{self, DataKeyReport};
use rsops_core::CoreError;
use rsops_format::{Format, FormatError};
use rsops_keys::KeyKind;

use crate::args::{CommonArgs, OutputArgs};
use crate::exit::{self, CmdResult, Failure};

/// The input and output stores of a command (CLI.md §3): the flags, else
/// the extension of `--filename-override` or of the file.
pub fn stores(common: &CommonArgs, file: Option<&str>) -> (Format, Format) {
    let path = common.filename_override.as_deref().or(file).unwrap_or("");
    let inferred = Format::from_path(path);
    let pick = |flag: &Option<String>| {
        flag.as_deref()
            .and_then(Format::from_name)
            .unwrap_or(inferred)
    };
    (pick(&common.input_type), pick(&common.output_type))
}

/// Checks `-i`/`--output` against each other and against stdin.
pub fn check_output_flags(output: &OutputArgs, file: Option<&str>) -> CmdResult {
    if output.in_place && output.output.is_some() {
        return Err(Failure::new(
            exit::CONFLICTING_PARAMETERS,
            "Error: cannot operate on both --output and --in-place",
        ));
    }
    if output.in_place && file.is_none() {
        return Err(Failure::new(
            exit::CONFLICTING_PARAMETERS,
            "Error: cannot use --in-place with standard input; give a file name",
        ));
    }
    Ok(())
}

/// The key-type order for decryption (`--decryption-order` or
/// `SOPS_DECRYPTION_ORDER`, default `age,pgp`).
pub fn decryption_order(spec: Option<&str>) -> CmdResult<Vec<KeyKind>> {
    match spec.filter(|s| !s.trim().is_empty()) {
        None => Ok(datakey::DEFAULT_DECRYPTION_ORDER.to_vec()),
        Some(s) => datakey::parse_decryption_order(s)
            .map_err(|m| Failure::new(exit::DUPLICATE_DECRYPTION_KEY_TYPE, m)),
    }
}

/// The failure for a file the input store cannot parse.
pub fn read_failure(e: FormatError, format: Format) -> Failure {
    match e {
        FormatError::NoDocument => Failure::new(exit::NEED_AT_LEAST_ONE_DOCUMENT, e.to_string()),
        other => {
            let what = match format {
                Format::Binary => "JSON (the binary store keeps encrypted files as JSON; pass --input-type if the file is YAML, dotenv or INI)",
                _ => format.name(),
            };
            Failure::new(
                exit::COULD_NOT_READ_INPUT_FILE,
                format!("Error unmarshalling input file: {other}; check that the file is valid {what} (or pass --input-type)"),
            )
        }
    }
}

/// The failure for a tree the output store cannot render.
pub fn dump_failure(e: FormatError) -> Failure {
    Failure::new(exit::ERROR_DUMPING_TREE, format!("Error dumping file: {e}"))
}

/// One line summarising why no data key could be recovered, with a hint.
fn data_key_line(report: &DataKeyReport) -> String {
    let mut parts = Vec::new();
    for (i, g) in report.groups.iter().enumerate() {
        for k in &g.keys {
            if let Some(e) = &k.error {
                parts.push(format!("group {i}: {}: {e}", k.key));
            }
        }
        if g.keys.is_empty() && !g.ok {
            parts.push(format!("group {i}: not tried"));
        }
    }
    let needed = if report.groups.len() > 1 {
        format!(
            " (Shamir threshold {}, {} part(s) recovered)",
            report.threshold, report.recovered
        )
    } else {
        String::new()
    };
    let mut reasons = parts.join("; ");
    if !reasons.ends_with(['.', '?', '!']) {
        reasons.push('.');
    }
    format!(
        "Failed to get the data key required to decrypt the SOPS file{needed}: {reasons} Make the private key of one of these recipients available (SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, the GnuPG keyring, ...)."
    )
}

/// Maps a core error to sops's exit code. `encrypting` selects between the
/// encrypt-side and decrypt-side codes where sops distinguishes them.
pub fn core_failure(e: CoreError, encrypting: bool) -> Failure {
    let tree = if encrypting {
        exit::ERROR_ENCRYPTING_TREE
    } else {
        exit::ERROR_DECRYPTING_TREE
    };
    match e {
        CoreError::DataKey(report) => Failure::new(exit::COULD_NOT_RETRIEVE_KEY, data_key_line(&report)),
        CoreError::MacMismatch { .. } | CoreError::MacMissing { .. } | CoreError::MacDecrypt(_) => {
            Failure::new(
                exit::MAC_MISMATCH,
                format!("{e}. The file was modified outside sops/rsops or is corrupted; use --ignore-mac only if you trust its content"),
            )
        }
        CoreError::NonStringKey { .. } | CoreError::NotEncrypted { .. } | CoreError::Decrypt { .. } => {
            Failure::new(tree, e.to_string())
        }
        CoreError::EncryptedCommentMatchesRule => Failure::new(tree, e.to_string()),
        CoreError::SelectionConflict => Failure::new(exit::GENERIC, e.to_string()),
        other => Failure::new(exit::GENERIC, other.to_string()),
    }
}

/// Writes the result where the flags say: in place, `--output`, or stdout
/// (a file committed as `commit` says).
pub fn deliver(
    output: &OutputArgs,
    file: Option<&str>,
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
