//! The `rsops` binary: parses the command line ([`cli`]), resolves the
//! settings of the command ([`settings`]), runs it ([`commands`]), and turns
//! any failure into its message on stderr and sops's exit code ([`error`]).

mod cli;
mod commands;
mod config;
mod error;
mod io;
mod parallel;
mod settings;
mod signals;
mod tempdir;

use rsops_keys::KeyService;

use crate::commands::{decrypt, encrypt};
use crate::error::CmdResult;
use crate::settings::{Common, Settings};

/// Prints a warning on stderr.
pub(crate) fn warn(message: &str) {
    eprintln!("rsops: warning: {message}");
}

/// The key services of a command, in sops's order (local, then each
/// `--keyservice`).
pub(crate) fn key_service(common: &Common) -> CmdResult<Box<dyn KeyService>> {
    Ok(commands::keyservice::services(common))
}

fn run(settings: Settings) -> CmdResult {
    match settings {
        Settings::Encrypt(s) => match s.files.len() {
            0 | 1 => encrypt::run(&s),
            _ => encrypt::run_many(&s),
        },
        Settings::Decrypt(s) => match s.files.len() {
            0 | 1 => decrypt::run(&s),
            _ => decrypt::run_many(&s),
        },
        Settings::Filestatus(s) => commands::filestatus::run(&s),
        Settings::Edit(s) => commands::edit::run(&s),
        Settings::Set(s) => commands::set::run(&s),
        Settings::Unset(s) => commands::unset::run(&s),
        Settings::Replace(s) => commands::replace::run(&s),
        Settings::Rotate(s) => commands::rotate::run(&s),
        Settings::Updatekeys(s) => commands::updatekeys::run(&s),
        Settings::Groups(s) => commands::groups::run(&s),
        Settings::Publish(s) => commands::publish::run(&s),
        Settings::ExecEnv(s) => commands::exec_env::run(&s),
        Settings::ExecFile(s) => commands::exec_file::run(&s),
        Settings::Check(s) => commands::check::run(&s),
        Settings::Ksops(s) => commands::ksops::run(&s),
        Settings::Git(s) => commands::git::run(&s),
        Settings::Keyservice(s) => commands::keyservice::run(&s),
        Settings::Completion(shell) => io::write_stdout(&cli::completion(shell)),
        Settings::Man => io::write_stdout(&cli::man_page()),
        Settings::Version => io::write_stdout(
            format!(
                "sops {} (rsops {})\n",
                rsops_core::SOPS_VERSION,
                env!("CARGO_PKG_VERSION")
            )
            .as_bytes(),
        ),
    }
}

fn main() {
    signals::harden();
    if commands::ksops::invoked_as_ksops() {
        std::process::exit(commands::ksops::main_as_ksops());
    }
    let parsed = match cli::parse() {
        Ok(parsed) => parsed,
        Err(e) => {
            let code = if e.use_stderr() {
                error::code::GENERIC
            } else {
                0
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if let Err(e) = Settings::resolve(parsed).and_then(run) {
        eprintln!("{e}");
        std::process::exit(e.exit_code());
    }
}
