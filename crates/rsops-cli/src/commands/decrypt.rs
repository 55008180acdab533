//! `rsops decrypt` (and legacy `-d`).

use rsops_core::file;
use rsops_core::metadata::Metadata;
use rsops_core::treepath;
use rsops_format::{store, Value};

use super::{core_failure, decryption_order, deliver, dump_failure, read_failure, stores};
use crate::args::{CommonArgs, OutputArgs};
use crate::exit::{self, CmdResult, Failure};
use crate::io::Sensitivity;

/// What `decrypt` needs from the command line.
pub struct DecryptRequest<'a> {
    /// The file (stdin when `None`).
    pub file: Option<&'a str>,
    /// Shared flags.
    pub common: &'a CommonArgs,
    /// Output flags.
    pub output: &'a OutputArgs,
    /// `--extract`.
    pub extract: Option<&'a str>,
    /// `--ignore-mac`.
    pub ignore_mac: bool,
    /// `--decryption-order`.
    pub decryption_order: Option<&'a str>,
}

/// Runs `decrypt`.
pub fn run(req: &DecryptRequest<'_>) -> CmdResult {
    super::check_output_flags(req.output, req.file)?;
    let loaded = crate::config::load(req.common.config.as_deref())?;
    let opts = crate::config::emit_options(loaded.as_ref(), req.common.indent)?;
    let (input_format, output_format) = stores(req.common, req.file);
    let order = decryption_order(req.decryption_order)?;
    let path = match req.extract {
        Some(p) => Some(treepath::parse(p).map_err(|e| {
            Failure::new(
                exit::INVALID_TREE_PATH_FORMAT,
                format!("error parsing --extract path: {e}"),
            )
        })?),
        None => None,
    };
    let input = crate::io::read_input(req.file)?;
    let (mut docs, meta_tree) =
        store::load_encrypted(input_format, &input).map_err(|e| read_failure(e, input_format))?;
    let meta_tree = meta_tree.ok_or_else(|| {
        Failure::new(
            exit::GENERIC,
            "sops metadata not found: the file is not encrypted (or not a sops file of this type; try --input-type)",
        )
    })?;
    let md = Metadata::from_tree(&meta_tree).map_err(|e| core_failure(e, false))?;
    let service = crate::key_service(req.common)?;
    file::decrypt(&mut docs, &md, service.as_ref(), &order, req.ignore_mac)
        .map_err(|e| core_failure(e, false))?;
    let out = match &path {
        None => store::emit_plain(output_format, &docs, &opts).map_err(dump_failure)?,
        Some(path) => {
            let first = docs.first().cloned().unwrap_or_default();
            let value = treepath::get(&first, path)
                .map_err(|e| Failure::new(exit::GENERIC, format!("error truncating tree: {e}")))?;
            match value {
                Value::Str(s) => s.as_bytes().to_vec(),
                Value::Bytes(b) => b.clone(),
                other => store::emit_value(output_format, other, &opts).map_err(dump_failure)?,
            }
        }
    };
    deliver(req.output, req.file, &out, Sensitivity::Plaintext)
}
