//! The `rsops` binary: parses the command line, runs a command, and turns
//! any failure into one line on stderr and sops's exit code.

mod args;
mod commands;
mod config;
// The registry lists every sops exit code, including those of commands
// that are not implemented yet.
#[allow(dead_code)]
mod exit;
mod io;
mod parallel;
mod signals;
mod tempdir;

use rsops_keys::{KeyService, LocalKeyService};

use crate::args::{Cli, Command, CommonArgs};
use crate::commands::{decrypt, encrypt, filestatus};
use crate::exit::{CmdResult, Failure};

/// Prints a warning on stderr.
pub(crate) fn warn(message: &str) {
    eprintln!("rsops: warning: {message}");
}

/// The key service for a command: the local one (age, OpenPGP).
pub(crate) fn key_service(common: &CommonArgs) -> CmdResult<Box<dyn KeyService>> {
    if !common.keyservice.is_empty() {
        warn("remote key services (--keyservice) are not supported yet and are ignored");
    }
    if !common.enable_local_keyservice {
        return Err(Failure::new(
            exit::GENERIC,
            "--enable-local-keyservice=false leaves no key service: remote key services are not supported yet",
        ));
    }
    Ok(Box::new(LocalKeyService::from_env()))
}

fn run(cli: Cli) -> CmdResult {
    match &cli.command {
        Some(Command::Encrypt(a)) => {
            let req = encrypt::EncryptRequest {
                file: a.file.first().map(String::as_str),
                common: &a.common,
                output: &a.output,
                keys: &a.keys,
                selection: a.selection.to_fields(),
                mac_only_encrypted: a.mac_only_encrypted,
            };
            match a.file.len() {
                0 | 1 => encrypt::run(&req),
                _ => encrypt::run_many(&req, &a.file),
            }
        }
        Some(Command::Decrypt(a)) => {
            let req = decrypt::DecryptRequest {
                file: a.file.first().map(String::as_str),
                common: &a.common,
                output: &a.output,
                extract: a.extract.as_deref(),
                ignore_mac: a.ignore_mac,
                decryption_order: a.decryption_order.as_deref(),
            };
            match a.file.len() {
                0 | 1 => decrypt::run(&req),
                _ => decrypt::run_many(&req, &a.file),
            }
        }
        Some(Command::Filestatus(a)) => filestatus::run(a),
        Some(Command::Edit(a)) => commands::edit::run(a),
        Some(Command::Set(a)) => commands::set::run(a),
        Some(Command::Unset(a)) => commands::unset::run(a),
        Some(Command::Replace(a)) => commands::replace::run(a),
        Some(Command::Rotate(a)) => commands::rotate::run(a),
        Some(Command::Updatekeys(a)) => commands::updatekeys::run(a),
        Some(Command::Groups(a)) => commands::groups::run(a),
        Some(Command::ExecEnv(a)) => commands::exec_env::run(a),
        Some(Command::ExecFile(a)) => commands::exec_file::run(a),
        Some(Command::Check(a)) => commands::check::run(a),
        Some(Command::Git(a)) => commands::git::run(a),
        None => legacy(&cli),
    }
}

/// sops's legacy mode: `rsops -e FILE`, `-d`, `-r`, `--set`, `--add-*`/`--rm-*`,
/// and plain `rsops FILE` (edit).
fn legacy(cli: &Cli) -> CmdResult {
    let l = &cli.legacy;
    if l.version {
        return io::write_stdout(
            format!(
                "sops {} (rsops {})\n",
                rsops_core::SOPS_VERSION,
                env!("CARGO_PKG_VERSION")
            )
            .as_bytes(),
        );
    }
    let Some(file) = cli.file.as_deref() else {
        return Err(Failure::new(
            exit::NO_FILE_SPECIFIED,
            "Error: no file specified; see rsops --help",
        ));
    };
    let changes = commands::rotate::KeyChanges::from_flags(
        &l.changes,
        l.keys.encryption_context.as_deref(),
        l.keys.aws_profile.as_deref(),
    )?;
    let rotate = l.rotate || l.changes.any();
    let modes = [l.encrypt, l.decrypt, rotate, l.set.is_some()];
    if modes.iter().filter(|m| **m).count() > 1 {
        warn("More than one command (--encrypt, --decrypt, --rotate, --set) has been specified. Only the changes made by the last one will be visible.");
    }
    if let Some(spec) = l.set.as_deref() {
        return commands::set::run_legacy_set_with(
            file,
            spec,
            &l.common,
            l.ignore_mac,
            l.decryption_order.as_deref(),
        );
    }
    if rotate {
        return commands::rotate::rotate(&commands::rotate::RotateRequest {
            file,
            common: &l.common,
            output: &l.output,
            changes: &changes,
            decryption_order: l.decryption_order.as_deref(),
            ignore_mac: l.ignore_mac,
        });
    }
    if l.decrypt {
        return decrypt::run(&decrypt::DecryptRequest {
            file: Some(file),
            common: &l.common,
            output: &l.output,
            extract: l.extract.as_deref(),
            ignore_mac: l.ignore_mac,
            decryption_order: l.decryption_order.as_deref(),
        });
    }
    let mut selection = l.selection.to_fields();
    selection.unencrypted_comment_regex = l.unencrypted_comment_regex.clone();
    selection.encrypted_comment_regex = l.encrypted_comment_regex.clone();
    if l.encrypt {
        return encrypt::run(&encrypt::EncryptRequest {
            file: Some(file),
            common: &l.common,
            output: &l.output,
            keys: &l.keys,
            selection,
            mac_only_encrypted: l.mac_only_encrypted,
        });
    }
    commands::edit::run_legacy(
        file,
        &commands::edit::EditRequest {
            common: &l.common,
            keys: &l.keys,
            selection: &selection,
            mac_only_encrypted: l.mac_only_encrypted,
            ignore_mac: l.ignore_mac,
            decryption_order: l.decryption_order.as_deref(),
            show_master_keys: l.show_master_keys,
        },
    )
}

fn main() {
    let cli = match args::parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::GENERIC } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if let Err(f) = run(cli) {
        eprintln!("{}", f.message);
        std::process::exit(f.code);
    }
}
