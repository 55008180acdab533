//! `rsops groups`: Add or delete key groups.

use clap::Args;

use crate::args::CommonArgs;
use crate::exit::{self, CmdResult, Failure};

/// Arguments of `rsops groups`.
#[derive(Debug, Args)]
pub struct GroupsArgs {
    /// The file.
    pub file: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `rsops groups`.
pub fn run(args: &GroupsArgs) -> CmdResult {
    let _ = args;
    Err(Failure::new(
        exit::GENERIC,
        "rsops groups is not implemented yet",
    ))
}
