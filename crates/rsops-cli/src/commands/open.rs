//! Opening an encrypted file for a command that rewrites it (set, unset,
//! edit, rotate, groups, updatekeys, exec-*), and writing it back.

use rsops_core::file::{self, Opened};
use rsops_core::metadata::Metadata;
use rsops_format::{store, EmitOptions, Format, Map};

use super::{core_failure, decryption_order, dump_failure, read_failure};
use crate::args::CommonArgs;
use crate::exit::{self, CmdResult, Failure};
use crate::io::Sensitivity;

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
pub fn load(path: Option<&str>, common: &CommonArgs) -> CmdResult<Loaded> {
    let name = common.filename_override.as_deref().or(path);
    let config =
        crate::config::load_for_file(common.config.as_deref(), name.map(std::path::Path::new))?;
    let emit = crate::config::emit_options(config.as_ref(), common.indent)?;
    let (input_format, output_format) = super::stores(common, path);
    let input = crate::io::read_input(path)?;
    let (docs, meta) = store::load_encrypted(input_format, &input, crate::parallel::threads())
        .map_err(|e| read_failure(e, input_format))?;
    let meta = meta.ok_or_else(|| {
        Failure::new(
            exit::GENERIC,
            "sops metadata not found: the file is not encrypted (or not a sops file of this type; try --input-type)",
        )
    })?;
    let metadata = Metadata::from_tree(&meta).map_err(|e| core_failure(e, false))?;
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
    path: Option<&str>,
    common: &CommonArgs,
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
    .map_err(|e| core_failure(e, false))?;
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
        .map_err(|e| core_failure(e, true))?;
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
        .map_err(dump_failure)
    }
}

/// Writes encrypted bytes over `path` atomically.
pub fn write_back(path: &str, data: &[u8]) -> CmdResult {
    crate::io::write_atomic(path, data, Sensitivity::Encrypted, crate::io::Commit::Now)
}
