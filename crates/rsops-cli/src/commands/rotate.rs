//! `rsops rotate` (and the legacy `-r`/`--add-*`/`--rm-*` forms through
//! the same settings): decrypt the file (MAC checked), add master keys to key
//! group 0 and remove them from every group (matched by key string), then
//! generate a new data key and re-encrypt every value with it.
//! Output to stdout unless `-i`/`--output`.

use rsops_core::file;

use super::deliver;
use crate::error::{CmdResult, Error};
use crate::io::Sensitivity;
use crate::settings::RotateSettings;

/// Rotates the data key of the file (applying the key changes) and
/// delivers the result.
pub fn run(req: &RotateSettings) -> CmdResult {
    super::check_output_flags(&req.output, Some(&req.file))?;
    if !req.file.exists() {
        return Err(if req.changes.is_empty() {
            Error::MissingFile(req.file.clone())
        } else {
            Error::ChangeKeysOfMissingFile(req.file.clone())
        });
    }
    let mut opened = super::open::decrypt(
        Some(&req.file),
        &req.common,
        req.decryption_order.as_deref(),
        req.ignore_mac,
    )?;
    let mut groups = super::groups::master_keys(&opened.file.metadata);
    req.changes.apply(&mut groups);
    super::groups::check_groups(&groups)?;
    let service = crate::key_service(&req.common)?;
    file::rotate(
        &mut opened.file.docs,
        &mut opened.file.metadata,
        &opened.opened,
        &groups,
        service.as_ref(),
        time::OffsetDateTime::now_utc(),
    )
    .map_err(Error::rotating)?;
    let out = opened.file.render()?;
    deliver(
        &req.output,
        Some(&req.file),
        &out,
        Sensitivity::Encrypted,
        crate::io::Commit::Now,
    )
}
