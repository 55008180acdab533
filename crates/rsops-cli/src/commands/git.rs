//! `rsops git`: Git integration: install the diff and merge drivers.

use clap::Args;

use crate::args::CommonArgs;
use crate::exit::{self, CmdResult, Failure};

/// Arguments of `rsops git`.
#[derive(Debug, Args)]
pub struct GitArgs {
    /// The file.
    pub file: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `rsops git`.
pub fn run(args: &GitArgs) -> CmdResult {
    let _ = args;
    Err(Failure::new(
        exit::GENERIC,
        "rsops git is not implemented yet",
    ))
}
