//! `rsops unset`: Remove one value of an encrypted file.

use clap::Args;

use crate::args::CommonArgs;
use crate::exit::{self, CmdResult, Failure};

/// Arguments of `rsops unset`.
#[derive(Debug, Args)]
pub struct UnsetArgs {
    /// The file.
    pub file: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `rsops unset`.
pub fn run(args: &UnsetArgs) -> CmdResult {
    let _ = args;
    Err(Failure::new(
        exit::GENERIC,
        "rsops unset is not implemented yet",
    ))
}
