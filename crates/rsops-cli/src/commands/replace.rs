//! `rsops replace`: Replace the content of an encrypted file with a new plaintext.

use clap::Args;

use crate::args::CommonArgs;
use crate::exit::{self, CmdResult, Failure};

/// Arguments of `rsops replace`.
#[derive(Debug, Args)]
pub struct ReplaceArgs {
    /// The file.
    pub file: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `rsops replace`.
pub fn run(args: &ReplaceArgs) -> CmdResult {
    let _ = args;
    Err(Failure::new(
        exit::GENERIC,
        "rsops replace is not implemented yet",
    ))
}
