//! `rsops unset`: remove one value of an encrypted file in place.
//! The file is decrypted with its data key, the value removed, and
//! the file re-sealed with the same key: untouched values keep their exact
//! `ENC[...]`.

use rsops_core::treepath;

use super::open;
use super::set::{ensure_exists, parse_path, renew_on_write};
use crate::error::{CmdResult, Error};
use crate::settings::UnsetSettings;

/// Runs `rsops unset`.
pub fn run(args: &UnsetSettings) -> CmdResult {
    let file = args.file.as_path();
    let path_arg = args.path.as_str();
    let path = parse_path(path_arg, "Invalid unset index format")?;
    ensure_exists(file)?;
    let mut decrypted = open::decrypt(
        Some(file),
        &args.common,
        args.decryption_order.as_deref(),
        args.ignore_mac,
    )?;
    let doc = decrypted
        .file
        .docs
        .first_mut()
        .ok_or(Error::NoDocumentToUnset)?;
    match treepath::unset(doc, &path) {
        Ok(()) => {}
        Err(e) if e.is_not_found() && args.idempotent => return Ok(()),
        Err(e) => return Err(Error::Edit(e)),
    }
    renew_on_write(&mut decrypted);
    let bytes = decrypted.seal()?;
    open::write_back(file, &bytes)
}
