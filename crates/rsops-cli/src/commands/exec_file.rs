//! `rsops exec-file`: Run a command with the decrypted file at a temporary path.

use clap::Args;

use crate::args::CommonArgs;
use crate::exit::{self, CmdResult, Failure};

/// Arguments of `rsops exec-file`.
#[derive(Debug, Args)]
pub struct ExecFileArgs {
    /// The file.
    pub file: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `rsops exec-file`.
pub fn run(args: &ExecFileArgs) -> CmdResult {
    let _ = args;
    Err(Failure::new(
        exit::GENERIC,
        "rsops exec-file is not implemented yet",
    ))
}
