//! Signal handling for the commands that put plaintext in a temporary
//! directory (`edit`, `exec-file`), run a child (`exec-*`) or write files;
//! and the process-wide protection of secrets in memory ([`harden`]).
//!
//! Every catchable signal whose default action ends the process is
//! handled ([`handled`]: SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1,
//! SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGXCPU, SIGIO, SIGPWR,
//! SIGSTKFLT and the real-time signals), so that none of them ends rsops
//! with plaintext left on disk. SIGXFSZ is caught and ignored: a write
//! beyond `RLIMIT_FSIZE` then fails with an error (`EFBIG`) that rsops
//! reports, the original file untouched. SIGKILL, SIGSTOP and the
//! synchronous fault signals cannot be handled; what a SIGKILL leaves
//! behind is removed by the next run ([`crate::tempdir`]).
//!
//! A listener thread (signal-hook, no unsafe code here) receives the
//! signals. Two policies:
//! * [`Policy::Cancel`] (`edit`): the running editor gets SIGTERM, rsops
//!   waits a moment for it to end (so that it cannot recreate files after
//!   the cleanup), removes every protected directory, prints `User canceled
//!   operation` and exits 1, as sops 3.13 does.
//! * [`Policy::Forward`] (`exec-env`, `exec-file`): the signal is passed on
//!   to the running child and rsops goes on waiting for it, so that the
//!   normal path cleans up and passes the child's status on. Without a
//!   running child it cleans up and exits `128 + signal`.
//!
//! Protected directories are registered here ([`protect`]) and removed
//! either by their owner ([`remove`]) or by the listener, never both.
//!
//! Commands that write files (`encrypt`/`decrypt` with `--output` or `-i`,
//! and every in-place rewrite) register their temporary files the same way
//! ([`protect_file`]) and start the listener if no command did
//! ([`ensure_listening`]: [`Policy::Forward`], so a signal removes them and
//! exits `128 + signal`): an interrupted run never leaves a temporary file
//! (plaintext, for `decrypt`) next to its targets.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag};
use nix::unistd::Pid;
use signal_hook::consts::{SIGTERM, SIGXFSZ};
use signal_hook::iterator::Signals;

/// The signals handled: every catchable one whose default action ends the
/// process, except the synchronous fault signals (SIGBUS, SIGTRAP, SIGSYS,
/// SIGABRT), whose handler could not run before the process ends anyway.
fn handled() -> Vec<i32> {
    let mut sigs: Vec<i32> = [
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGALRM,
        Signal::SIGVTALRM,
        Signal::SIGPROF,
        Signal::SIGXCPU,
        Signal::SIGIO,
        Signal::SIGPWR,
        Signal::SIGSTKFLT,
    ]
    .iter()
    .map(|s| *s as i32)
    .collect();
    sigs.extend(nix::libc::SIGRTMIN()..=nix::libc::SIGRTMAX());
    sigs.push(SIGXFSZ);
    sigs
}

/// Limits what a crash or a debugger could read of the secrets in this
/// process's memory, for the whole run: the core size limit is set to 0
/// (children — the editor, `exec-*` commands — inherit it; the hard limit
/// is kept, so they may raise it again) and the process is marked
/// non-dumpable (no core file, no `ptrace` or `/proc/PID/mem` access by
/// other processes of the same user; not inherited across `exec`).
/// Failures are ignored: these are defences in depth.
pub fn harden() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_CORE) {
        let _ = setrlimit(Resource::RLIMIT_CORE, 0, hard);
    }
    let _ = nix::sys::prctl::set_dumpable(false);
}

/// What a signal does while a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Stop the child, remove the protected directories, exit 1.
    Cancel,
    /// Pass the signal on to the child and keep waiting for it.
    Forward,
}

/// How long a cancelled editor gets to end before its directory goes.
const GRACE: Duration = Duration::from_secs(3);
/// Exit code after a cancelled edit (sops: a plain error).
const CANCEL_EXIT: i32 = 1;

struct State {
    installed: bool,
    policy: Policy,
    dirs: Vec<(u64, PathBuf)>,
    next_id: u64,
    child: Option<u32>,
    cancelling: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    installed: false,
    policy: Policy::Cancel,
    dirs: Vec::new(),
    next_id: 0,
    child: None,
    cancelling: false,
});
static CHILD_GONE: Condvar = Condvar::new();

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the listener (once per process) and sets the policy.
pub fn install(policy: Policy) -> io::Result<()> {
    let mut s = state();
    s.policy = policy;
    if s.installed {
        return Ok(());
    }
    let mut signals = Signals::new(handled())?;
    std::thread::Builder::new()
        .name("rsops-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                on_signal(sig);
            }
        })?;
    s.installed = true;
    Ok(())
}

/// Starts the listener with [`Policy::Forward`] unless a command already
/// started it (with its own policy, which is kept).
pub fn ensure_listening() -> io::Result<()> {
    if state().installed {
        return Ok(());
    }
    install(Policy::Forward)
}

/// Creates a temporary file with `create` and registers `path_of` it for
/// removal on a signal, atomically with respect to the listener. The
/// registration ends with [`forget`] (after the file was renamed or
/// removed).
pub fn protect_file<T>(
    create: impl FnOnce() -> io::Result<T>,
    path_of: impl FnOnce(&T) -> PathBuf,
) -> io::Result<(u64, T)> {
    let mut s = state();
    let file = create()?;
    let id = s.next_id;
    s.next_id += 1;
    s.dirs.push((id, path_of(&file)));
    Ok((id, file))
}

/// Forgets a registration without removing anything.
pub fn forget(id: u64) {
    state().dirs.retain(|(i, _)| *i != id);
}

/// Creates a directory with `create` and registers it for removal on a
/// signal, atomically with respect to the listener.
pub fn protect(create: impl FnOnce() -> io::Result<PathBuf>) -> io::Result<(u64, PathBuf)> {
    let mut s = state();
    let path = create()?;
    let id = s.next_id;
    s.next_id += 1;
    s.dirs.push((id, path.clone()));
    Ok((id, path))
}

/// Removes a protected directory and forgets it.
pub fn remove(id: u64, path: &Path) -> io::Result<()> {
    let mut s = state();
    s.dirs.retain(|(i, _)| *i != id);
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Spawns `cmd` and waits for it; a signal meanwhile follows the policy.
pub fn run_child(cmd: &mut Command) -> io::Result<ExitStatus> {
    let mut child = spawn(cmd)?;
    wait(&mut child)
}

/// Spawns `cmd` as the child the listener knows about.
pub fn spawn(cmd: &mut Command) -> io::Result<Child> {
    let mut s = state();
    if s.cancelling {
        drop(s);
        park_forever();
    }
    let child = cmd.spawn()?;
    s.child = Some(child.id());
    Ok(child)
}

/// Waits for a child started with [`spawn`]. The child is reaped only after
/// the listener has forgotten it, so a signal never reaches a recycled pid.
pub fn wait(child: &mut Child) -> io::Result<ExitStatus> {
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    while let Err(nix::errno::Errno::EINTR) =
        waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT)
    {}
    {
        let mut s = state();
        s.child = None;
        CHILD_GONE.notify_all();
        if s.cancelling {
            drop(s);
            park_forever();
        }
    }
    child.wait()
}

/// Lets the listener end the process.
fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}

fn on_signal(sig: i32) {
    if sig == SIGXFSZ {
        // The write that exceeded the limit fails with EFBIG instead.
        return;
    }
    let mut s = state();
    if s.policy == Policy::Forward {
        if let Some(pid) = s.child {
            send(pid, sig);
            return;
        }
    }
    s.cancelling = true;
    if let Some(pid) = s.child {
        send(pid, SIGTERM);
        s = CHILD_GONE
            .wait_timeout_while(s, GRACE, |st| st.child.is_some())
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
    }
    for (_, path) in s.dirs.drain(..) {
        let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        let _ = if is_dir {
            std::fs::remove_dir_all(path)
        } else {
            std::fs::remove_file(path)
        };
    }
    let code = match s.policy {
        Policy::Cancel => {
            eprintln!("User canceled operation");
            CANCEL_EXIT
        }
        Policy::Forward => 128 + sig,
    };
    std::process::exit(code);
}

fn send(pid: u32, sig: i32) {
    if let (Ok(pid), Ok(sig)) = (i32::try_from(pid), Signal::try_from(sig)) {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protect_and_remove_a_directory() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("d");
        let (id, path) = protect(|| {
            std::fs::create_dir(&target)?;
            Ok(target.clone())
        })
        .unwrap();
        assert!(path.is_dir());
        assert!(state().dirs.iter().any(|(i, _)| *i == id));
        remove(id, &path).unwrap();
        assert!(!path.exists());
        assert!(!state().dirs.iter().any(|(i, _)| *i == id));
        // Removing twice is fine.
        remove(id, &path).unwrap();
    }

    #[test]
    fn protect_and_forget_a_file() {
        let base = tempfile::tempdir().unwrap();
        let (id, file) = protect_file(
            || tempfile::NamedTempFile::new_in(base.path()),
            |f| f.path().to_path_buf(),
        )
        .unwrap();
        assert!(state()
            .dirs
            .iter()
            .any(|(i, p)| *i == id && p == file.path()));
        forget(id);
        assert!(!state().dirs.iter().any(|(i, _)| *i == id));
        assert!(file.path().exists());
    }

    #[test]
    fn run_child_passes_the_status_on() {
        let status = run_child(Command::new("/bin/sh").args(["-c", "exit 7"])).unwrap();
        assert_eq!(status.code(), Some(7));
        assert!(state().child.is_none());
    }
}
