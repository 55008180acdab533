//! `rsops exec-env`: Run a command with the file's values in its environment.

use clap::Args;

use crate::args::CommonArgs;
use crate::exit::{self, CmdResult, Failure};

/// Arguments of `rsops exec-env`.
#[derive(Debug, Args)]
pub struct ExecEnvArgs {
    /// The file.
    pub file: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `rsops exec-env`.
pub fn run(args: &ExecEnvArgs) -> CmdResult {
    let _ = args;
    Err(Failure::new(
        exit::GENERIC,
        "rsops exec-env is not implemented yet",
    ))
}
