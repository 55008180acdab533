//! `rsops replace ENCRYPTED_FILE PLAINTEXT_FILE`: replace the content of an
//! encrypted file with a new plaintext, non-interactively, keeping the data
//! key, the metadata and the exact ciphertext of every unchanged value, so
//! that `rsops decrypt f | any tool | rsops replace f -` changes only what
//! the tool changed. When no value changed the file is left untouched.

use rsops_format::{store, SecretBytes};

use super::open;
use crate::error::{CmdResult, Error};
use crate::settings::{Common, ReplaceSettings};

/// Runs `rsops replace`.
pub fn run(args: &ReplaceSettings) -> CmdResult {
    let file = args.file.as_path();
    // The encrypted file is read with the store of its own name; the
    // `--input-type` flag only applies to the plaintext.
    let encrypted_common = Common {
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
        .unwrap_or(decrypted.file.input_format);
    let input = SecretBytes::from(crate::io::read_input(args.plaintext.as_deref())?);
    let docs = store::load_plain_with(
        plain_format,
        &input,
        &decrypted.file.emit,
        crate::parallel::threads(),
    )
    .map_err(|e| Error::unmarshal(e, plain_format))?;
    if store::has_metadata(decrypted.file.output_format, &docs) {
        return Err(Error::PlaintextHasMetadata);
    }
    decrypted.file.docs = docs;
    let sealed = decrypted.seal()?;
    if sealed == original {
        return Ok(());
    }
    open::write_back(file, &sealed)
}
