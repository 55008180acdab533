//! `rsops unset`: remove one value of an encrypted file in place (CLI.md
//! §4, §5). The file is decrypted with its data key, the value removed, and
//! the file re-sealed with the same key: untouched values keep their exact
//! `ENC[...]`.

use clap::Args;
use rsops_core::env;
use rsops_core::treepath;

use super::open;
use super::set::{ensure_exists, parse_path, renew_on_write};
use crate::args::CommonArgs;
use crate::error::{CmdResult, Error, Usage};

/// Arguments of `rsops unset`.
#[derive(Debug, Args)]
pub struct UnsetArgs {
    /// The encrypted file, changed in place.
    pub file: Option<String>,
    /// The tree path to remove, e.g. `["db"]["password"]`.
    #[arg(value_name = "PATH")]
    pub rest: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Accepted for compatibility with sops; has no effect on `unset`.
    #[arg(long)]
    pub shamir_secret_sharing_threshold: Option<usize>,
    /// Do not check the MAC.
    #[arg(long)]
    pub ignore_mac: bool,
    /// Order in which key types are tried, e.g. `age,pgp`.
    #[arg(long, env = env::SOPS_DECRYPTION_ORDER)]
    pub decryption_order: Option<String>,
    /// Succeed without writing when PATH does not exist.
    #[arg(long)]
    pub idempotent: bool,
}

/// Runs `rsops unset`.
pub fn run(args: &UnsetArgs) -> CmdResult {
    let (file, path_arg) = match (args.file.as_deref(), args.rest.as_slice()) {
        (Some(f), [p]) => (f, p.as_str()),
        _ => return Err(Error::Usage(Usage::Unset)),
    };
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
