//! `rsops rotate`: Generate a new data key and re-encrypt every value.

use clap::Args;

use crate::args::CommonArgs;
use crate::exit::{self, CmdResult, Failure};

/// Arguments of `rsops rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The file.
    pub file: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `rsops rotate`.
pub fn run(args: &RotateArgs) -> CmdResult {
    let _ = args;
    Err(Failure::new(
        exit::GENERIC,
        "rsops rotate is not implemented yet",
    ))
}
