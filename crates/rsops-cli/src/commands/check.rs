//! `rsops check`: Fail when files that should be encrypted are not.

use clap::Args;

use crate::args::CommonArgs;
use crate::exit::{self, CmdResult, Failure};

/// Arguments of `rsops check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The file.
    pub file: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `rsops check`.
pub fn run(args: &CheckArgs) -> CmdResult {
    let _ = args;
    Err(Failure::new(
        exit::GENERIC,
        "rsops check is not implemented yet",
    ))
}
