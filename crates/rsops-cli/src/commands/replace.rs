//! `rsops replace ENCRYPTED_FILE PLAINTEXT_FILE`: replace the content of an
//! encrypted file with a new plaintext, non-interactively, keeping the data
//! key, the metadata and the exact ciphertext of every unchanged value, so
//! that `rsops decrypt f | any tool | rsops replace f -` changes only what
//! the tool changed. When no value changed the file is left untouched.

use clap::Args;
use rsops_core::env;
use rsops_format::{store, Format};
use zeroize::Zeroizing;

use super::open;
use super::read_failure;
use crate::args::CommonArgs;
use crate::exit::{self, CmdResult, Failure};

/// Arguments of `rsops replace`.
#[derive(Debug, Args)]
pub struct ReplaceArgs {
    /// The encrypted file to update in place.
    pub file: Option<String>,
    /// The new plaintext (`-` for standard input).
    pub plaintext: Option<String>,
    /// Shared flags; `--input-type` is the store of the plaintext (default:
    /// the encrypted file's).
    #[command(flatten)]
    pub common: CommonArgs,
    /// Do not check the MAC of the encrypted file.
    #[arg(long)]
    pub ignore_mac: bool,
    /// Order in which key types are tried, e.g. `age,pgp`.
    #[arg(long, env = env::SOPS_DECRYPTION_ORDER)]
    pub decryption_order: Option<String>,
}

/// Runs `rsops replace`.
pub fn run(args: &ReplaceArgs) -> CmdResult {
    let (Some(file), Some(plaintext)) = (args.file.as_deref(), args.plaintext.as_deref()) else {
        return Err(Failure::new(
            exit::NO_FILE_SPECIFIED,
            "Error: rsops replace needs two arguments: the encrypted file and the new plaintext (- for standard input)",
        ));
    };
    // The encrypted file is read with the store of its own name; the
    // `--input-type` flag only applies to the plaintext.
    let encrypted_common = CommonArgs {
        input_type: None,
        ..args.common.clone()
    };
    let original = crate::io::read_input(Some(file))?;
    let mut decrypted = open::decrypt(
        Some(file),
        &encrypted_common,
        args.decryption_order.as_deref(),
        args.ignore_mac,
    )?;
    let plain_format = args
        .common
        .input_type
        .as_deref()
        .and_then(Format::from_name)
        .unwrap_or(decrypted.file.input_format);
    let input = Zeroizing::new(crate::io::read_input(
        Some(plaintext).filter(|p| *p != "-"),
    )?);
    let docs = store::load_plain_with(
        plain_format,
        &input,
        &decrypted.file.emit,
        crate::parallel::threads(),
    )
    .map_err(|e| read_failure(e, plain_format))?;
    if store::has_metadata(decrypted.file.output_format, &docs) {
        return Err(Failure::new(
            exit::FILE_ALREADY_ENCRYPTED,
            "The new plaintext has a top-level entry called 'sops' (or, for dotenv, a key starting with 'sops_'): it is encrypted, or uses a key reserved for the metadata. Pass the decrypted content, or rename that key.",
        ));
    }
    decrypted.file.docs = docs;
    let sealed = decrypted.seal()?;
    if sealed == original {
        return Ok(());
    }
    open::write_back(file, &sealed)
}
