//! `rsops edit`: Edit an encrypted file in $EDITOR.

use clap::Args;

use crate::args::CommonArgs;
use crate::exit::{self, CmdResult, Failure};

/// Arguments of `rsops edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// The file.
    pub file: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `rsops edit`.
pub fn run(args: &EditArgs) -> CmdResult {
    let _ = args;
    Err(Failure::new(
        exit::GENERIC,
        "rsops edit is not implemented yet",
    ))
}
