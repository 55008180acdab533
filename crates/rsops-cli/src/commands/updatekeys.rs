//! `rsops updatekeys`: Re-wrap the data key for the keys the creation rules name now.

use clap::Args;

use crate::args::CommonArgs;
use crate::exit::{self, CmdResult, Failure};

/// Arguments of `rsops updatekeys`.
#[derive(Debug, Args)]
pub struct UpdatekeysArgs {
    /// The file.
    pub file: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `rsops updatekeys`.
pub fn run(args: &UpdatekeysArgs) -> CmdResult {
    let _ = args;
    Err(Failure::new(
        exit::GENERIC,
        "rsops updatekeys is not implemented yet",
    ))
}
