//! `rsops exec-file FILE 'COMMAND {}'`: run `/bin/sh -c COMMAND` with every
//! `{}` replaced by the path of the decrypted file.
//!
//! By default the path is a FIFO in a private 0700 directory under
//! `$TMPDIR`: a writer thread feeds the plaintext into it while the child
//! reads, so the plaintext never lands on disk. `--no-fifo` writes a 0600
//! regular file instead. The directory is removed afterwards, also when a
//! signal interrupts rsops. The child's exit status is rsops's.
//!
//! With `--user`, rsops switches the whole process to that user after
//! decrypting and before creating anything (as sops does): the directory,
//! the file and the FIFO belong to the user and nothing is done with root's
//! privileges inside a directory that user controls. The path put in for
//! `{}` is quoted for the shell when it needs quotes.

use std::io::Write;
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use rsops_format::{store, SecretBytes};

use super::exec_env::{become_user, child_environment, shell_command, status_result};
use super::open;
use crate::error::{CmdResult, Error};
use crate::settings::ExecFileSettings;
use crate::signals::{self, Policy};
use crate::tempdir::{self, FifoWriter, PrivateDir};

/// How often a background run checks whether the child went away.
const POLL: Duration = Duration::from_millis(50);

/// Runs `rsops exec-file`.
pub fn run(s: &ExecFileSettings) -> CmdResult {
    let args = &s.exec;
    let (file, command) = (args.file.as_path(), args.command.as_str());
    let name = s
        .filename
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(tempdir::FALLBACK_NAME);
    if !tempdir::is_plain_name(name) {
        return Err(Error::NotLocalFilename);
    }
    let decrypted = open::decrypt(
        Some(file),
        &args.common,
        args.decryption_order.as_deref(),
        false,
    )?;
    let plaintext = SecretBytes::from(
        store::emit_plain(
            decrypted.file.output_format,
            &decrypted.file.docs,
            &decrypted.file.emit,
        )
        .map_err(Error::Dump)?,
    );
    drop(decrypted);
    if args.background {
        crate::warn("exec-file's --background option is deprecated and will be removed in a future version of sops");
    }
    let mut cmd_env = Vec::new();
    if let Some(user) = args.user.as_deref() {
        cmd_env = become_user(user)?;
    }
    signals::install(Policy::Forward).map_err(Error::Signals)?;
    let dir = PrivateDir::new().map_err(|source| Error::TempDir {
        source,
        editing: false,
    })?;
    let temp_failure = Error::ExecTempFile;
    let path = if s.no_fifo {
        dir.write_file(name, &plaintext).map_err(temp_failure)?
    } else {
        dir.make_fifo(name).map_err(temp_failure)?
    };
    let shown = path.to_string_lossy();
    let mut cmd = shell_command(&command.replace("{}", &shell_words::quote(&shown)));
    child_environment(&mut cmd, args.keep_key_env);
    cmd.envs(cmd_env);
    let written = if s.no_fifo {
        None
    } else {
        let writer = dir.fifo_writer(name).map_err(Error::ExecTempFile)?;
        Some(feed_fifo(writer, plaintext))
    };
    if args.background {
        let child = cmd.spawn().map_err(Error::Shell)?;
        wait_for_delivery(child, written);
        return Ok(());
    }
    let status = signals::run_child(&mut cmd).map_err(Error::Shell)?;
    drop(dir);
    status_result(status)
}

/// Starts the thread that writes `plaintext` into the FIFO once a reader
/// opens it; the receiver gets a message when it is done.
fn feed_fifo(writer: FifoWriter, plaintext: SecretBytes) -> mpsc::Receiver<()> {
    let (done, rx) = mpsc::channel();
    std::thread::spawn(move || {
        write_fifo(writer, &plaintext);
        let _ = done.send(());
    });
    rx
}

/// Opens the FIFO for writing (blocks until the child opens it for reading)
/// and writes the plaintext. A reader that goes away early is fine.
fn write_fifo(writer: FifoWriter, plaintext: &[u8]) {
    if let Ok(mut pipe) = writer.open() {
        let _ = pipe.write_all(plaintext);
    }
}

/// `--background`: stay until the child has read the FIFO (or ended), so
/// that the plaintext can still reach it, then leave it running.
fn wait_for_delivery(mut child: Child, written: Option<mpsc::Receiver<()>>) {
    let Some(rx) = written else {
        crate::warn("with --background --no-fifo the temporary file is removed when rsops exits, possibly before the command reads it");
        return;
    };
    loop {
        match rx.recv_timeout(POLL) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
    }
}
