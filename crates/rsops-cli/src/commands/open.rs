//! Opening an encrypted file for a command that rewrites it (set, unset,
//! edit, rotate, groups, updatekeys, exec-*), and writing it back.

use rsops_core::file::{self, Opened};
use rsops_core::metadata::Metadata;
use rsops_format::{store, EmitOptions, Format, Map};

use super::decryption_order;
use std::path::Path;

use crate::error::{CmdResult, Error};
use crate::io::Sensitivity;
use crate::settings::Common;

/// An encrypted file as read from disk, before decryption.
pub struct Loaded {
    /// The documents, values still encrypted.
    pub docs: Vec<Map>,
    /// The parsed metadata.
    pub metadata: Metadata,
    /// The store the file is read with.
    pub input_format: Format,
    /// The store the file is written with.
    pub output_format: Format,
    /// Output formatting.
    pub emit: EmitOptions,
}

/// A decrypted file, ready to be changed and written back.
pub struct Decrypted {
    /// The file as loaded (its `docs` are now plaintext).
    pub file: Loaded,
    /// Its data key and the IVs of its values.
    pub opened: Opened,
}

/// Reads and parses an encrypted file (no decryption).
pub fn load(path: Option<&Path>, common: &Common) -> CmdResult<Loaded> {
    let name = common.filename_override.as_deref().or(path);
    let config = crate::config::load_for_file(common.config.as_deref(), name)?;
    let emit = crate::config::emit_options(config.as_ref(), common.indent)?;
    let (input_format, output_format) = super::stores(common, path);
    let input = crate::io::read_input(path)?;
    let (docs, meta) = store::load_encrypted(input_format, &input, crate::parallel::threads())
        .map_err(|e| Error::unmarshal_encrypted(e, input_format))?;
    let meta = meta.ok_or(Error::MetadataNotFound)?;
    let metadata = Metadata::from_tree(&meta).map_err(Error::decrypting)?;
    Ok(Loaded {
        docs,
        metadata,
        input_format,
        output_format,
        emit,
    })
}

/// Reads and decrypts an encrypted file, checking its MAC unless
/// `ignore_mac`.
pub fn decrypt(
    path: Option<&Path>,
    common: &Common,
    order: Option<&str>,
    ignore_mac: bool,
) -> CmdResult<Decrypted> {
    let order = decryption_order(order)?;
    let mut loaded = load(path, common)?;
    let service = crate::key_service(common)?;
    let opened = file::decrypt(
        &mut loaded.docs,
        &loaded.metadata,
        service.as_ref(),
        &order,
        ignore_mac,
        crate::parallel::threads(),
    )
    .map_err(Error::decrypting)?;
    Ok(Decrypted {
        file: loaded,
        opened,
    })
}

impl Decrypted {
    /// Re-encrypts the (possibly changed) plaintext with the file's data
    /// key — unchanged values keep their ciphertext — and renders it.
    pub fn seal(mut self) -> CmdResult<Vec<u8>> {
        file::reencrypt(
            &mut self.file.docs,
            &mut self.file.metadata,
            &self.opened,
            time::OffsetDateTime::now_utc(),
        )
        .map_err(Error::encrypting)?;
        self.file.render()
    }
}

impl Loaded {
    /// Renders the (encrypted) documents with their metadata.
    pub fn render(&self) -> CmdResult<Vec<u8>> {
        store::emit_encrypted(
            self.output_format,
            &self.docs,
            &self.metadata.to_tree(),
            &self.emit,
        )
        .map_err(Error::Dump)
    }
}

/// Writes encrypted bytes over `path` atomically.
pub fn write_back(path: &Path, data: &[u8]) -> CmdResult {
    crate::io::write_atomic(path, data, Sensitivity::Encrypted, crate::io::Commit::Now)
}
