//! `rsops set`: Set one value of an encrypted file.

use clap::Args;

use crate::args::CommonArgs;
use crate::exit::{self, CmdResult, Failure};

/// Arguments of `rsops set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The file.
    pub file: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `rsops set`.
pub fn run(args: &SetArgs) -> CmdResult {
    let _ = args;
    Err(Failure::new(
        exit::GENERIC,
        "rsops set is not implemented yet",
    ))
}
