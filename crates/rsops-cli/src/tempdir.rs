//! Private temporary directories for plaintext: mode 0700, under the system
//! temporary directory (`$TMPDIR`, else `/tmp`, so never inside the working
//! tree), holding 0600 files or FIFOs, and removed when dropped or when a
//! signal ends the process (see [`crate::signals`]).
//!
//! Everything inside is created and opened through the directory's file
//! descriptor, never following a symbolic link (`O_NOFOLLOW`, `O_EXCL`).
//!
//! # Left-overs of a killed run
//!
//! A process killed with SIGKILL (or by a fault signal) cannot clean up.
//! Each directory therefore holds a lock file, `.lock`, locked (`flock`)
//! by its process for as long as it lives; the kernel releases the lock
//! when the process ends, however it ends. Every new private directory
//! first removes the directories of this user whose lock is free: an
//! earlier run's plaintext stays on disk (0600, in a 0700 directory) only
//! until the next `edit` or `exec-file`.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;

use crate::signals;

/// Name used when no better one is known (sops's `tmp-file`).
pub const FALLBACK_NAME: &str = "tmp-file";

/// The name prefix of private directories.
const PREFIX: &str = ".rsops-";

/// The lock file inside a private directory.
const LOCK: &str = ".lock";

/// The lock file's name until it is locked (a sweeping process ignores a
/// directory without [`LOCK`]).
const LOCK_NEW: &str = ".lock.new";

/// A private directory, removed on drop.
#[derive(Debug)]
pub struct PrivateDir {
    id: u64,
    path: PathBuf,
    /// The directory, open: everything inside is made relative to it.
    dir: File,
    /// The lock that marks the directory as in use.
    _lock: Flock<File>,
}

/// Opens `name` in `dir` with `flags` (plus `O_NOFOLLOW | O_CLOEXEC`).
fn open_at(dir: &File, name: &str, flags: OFlag, mode: Mode) -> io::Result<File> {
    let fd = nix::fcntl::openat(
        dir.as_fd(),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        mode,
    )
    .map_err(io::Error::from)?;
    Ok(File::from(fd))
}

/// Owner read and write.
fn private_mode() -> Mode {
    Mode::S_IRUSR | Mode::S_IWUSR
}

impl PrivateDir {
    /// Creates a fresh 0700 directory in the system temporary directory,
    /// after removing abandoned ones of this user.
    pub fn new() -> io::Result<PrivateDir> {
        PrivateDir::new_in(&std::env::temp_dir())
    }

    /// Like [`PrivateDir::new`], in `base`.
    fn new_in(base: &Path) -> io::Result<PrivateDir> {
        sweep_abandoned(base);
        let mut opened = None;
        let (id, path) = signals::protect(|| {
            let dir = tempfile::Builder::new()
                .prefix(PREFIX)
                .permissions(Permissions::from_mode(0o700))
                .tempdir_in(base)?;
            let handles = open_and_lock(dir.path())?;
            opened = Some(handles);
            // From here on the registration removes it.
            Ok(dir.keep())
        })?;
        let (dir, lock) = opened.ok_or_else(|| io::Error::other("private directory not opened"))?;
        Ok(PrivateDir {
            id,
            path,
            dir,
            _lock: lock,
        })
    }

    /// The directory's path.
    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates `name` in the directory with mode 0600 and writes `data`.
    pub fn write_file(&self, name: &str, data: &[u8]) -> io::Result<PathBuf> {
        let mut f = open_at(
            &self.dir,
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
            private_mode(),
        )?;
        f.set_permissions(Permissions::from_mode(0o600))?;
        f.write_all(data)?;
        f.sync_all()?;
        Ok(self.path.join(name))
    }

    /// Creates a FIFO `name` in the directory with mode 0600.
    pub fn make_fifo(&self, name: &str) -> io::Result<PathBuf> {
        nix::unistd::mkfifoat(self.dir.as_fd(), name, private_mode()).map_err(io::Error::from)?;
        // The mode on the FIFO itself (a umask may have removed bits),
        // through a descriptor: opening the read side without blocking.
        let fifo = open_at(
            &self.dir,
            name,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK,
            Mode::empty(),
        )?;
        if !fifo.metadata()?.file_type().is_fifo() {
            return Err(io::Error::other("the FIFO was replaced"));
        }
        fifo.set_permissions(Permissions::from_mode(0o600))?;
        Ok(self.path.join(name))
    }

    /// A handle that opens the FIFO `name` for writing (from another
    /// thread; blocks until a reader opens it).
    pub fn fifo_writer(&self, name: &str) -> io::Result<FifoWriter> {
        Ok(FifoWriter {
            dir: self.dir.try_clone()?,
            name: name.to_owned(),
        })
    }
}

/// Opens a FIFO of a [`PrivateDir`] for writing.
#[derive(Debug)]
pub struct FifoWriter {
    dir: File,
    name: String,
}

impl FifoWriter {
    /// Opens the FIFO for writing: blocks until a reader opens it; never
    /// through a link, and only if it still is a FIFO.
    pub fn open(self) -> io::Result<File> {
        let file = open_at(&self.dir, &self.name, OFlag::O_WRONLY, Mode::empty())?;
        if !file.metadata()?.file_type().is_fifo() {
            return Err(io::Error::other("not a FIFO"));
        }
        Ok(file)
    }
}

/// Opens the fresh directory `path` and creates and locks its lock file.
fn open_and_lock(path: &Path) -> io::Result<(File, Flock<File>)> {
    let dir = OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW).bits())
        .open(path)?;
    let meta = dir.metadata()?;
    if !meta.is_dir() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(io::Error::other("the temporary directory is not ours"));
    }
    dir.set_permissions(Permissions::from_mode(0o700))?;
    let lock_file = open_at(
        &dir,
        LOCK_NEW,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
        private_mode(),
    )?;
    let lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock)
        .map_err(|(_, errno)| io::Error::from(errno))?;
    nix::fcntl::renameat(dir.as_fd(), LOCK_NEW, dir.as_fd(), LOCK).map_err(io::Error::from)?;
    Ok((dir, lock))
}

/// Removes the private directories in `base` that belong to this user and
/// whose process is gone (their lock is free). Directories without a lock
/// file, of other users, or in use are left alone; failures are ignored.
fn sweep_abandoned(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    let euid = nix::unistd::geteuid().as_raw();
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let path = entry.path();
        let ours = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && m.uid() == euid);
        if ours && is_abandoned(&path) {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// Whether the private directory `dir` has a lock file that no process
/// holds.
fn is_abandoned(dir: &Path) -> bool {
    let lock = OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(dir.join(LOCK));
    match lock {
        Ok(file) => Flock::lock(file, FlockArg::LockExclusiveNonblock).is_ok(),
        Err(_) => false,
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if let Err(e) = signals::remove(self.id, &self.path) {
            crate::warn(&format!(
                "could not remove the temporary directory {}: {e}; remove it by hand",
                self.path.display()
            ));
        }
    }
}

/// Whether `name` can be used as a file name inside a private directory:
/// one plain component (no `/`, `..`, absolute path or empty name).
pub fn is_plain_name(name: &str) -> bool {
    let mut parts = Path::new(name).components();
    matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    )
}

/// The temporary file name for editing `target`: its base name (so that the
/// editor sees the extension), else [`FALLBACK_NAME`].
pub fn name_for(target: impl AsRef<Path>) -> String {
    target
        .as_ref()
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| is_plain_name(n))
        .unwrap_or(FALLBACK_NAME)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directory_and_files_are_private_and_removed_on_drop() {
        let dir = PrivateDir::new().unwrap();
        let root = dir.path.clone();
        assert_eq!(mode(&root), 0o700);
        let f = dir.write_file("a.yaml", b"x: 1\n").unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(fs::read(&f).unwrap(), b"x: 1\n");
        let p = dir.make_fifo("pipe").unwrap();
        assert!(fs::metadata(&p).unwrap().file_type().is_fifo());
        assert_eq!(mode(&p), 0o600);
        drop(dir);
        assert!(!root.exists());
    }

    #[test]
    fn abandoned_directories_are_removed_by_the_next_one() {
        let base = tempfile::tempdir().unwrap();
        let alive = PrivateDir::new_in(base.path()).unwrap();
        alive.write_file("a.yaml", b"x: 1\n").unwrap();
        // What a killed run leaves: a directory whose lock nobody holds.
        let dead = base.path().join(".rsops-dead");
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join(LOCK), b"").unwrap();
        fs::write(dead.join("secret.yaml"), b"password: hunter2\n").unwrap();
        // Not ours to judge: no lock file, or not a private directory.
        let unlocked = base.path().join(".rsops-nolock");
        fs::create_dir(&unlocked).unwrap();
        let other = base.path().join("other");
        fs::create_dir(&other).unwrap();
        fs::write(other.join(LOCK), b"").unwrap();
        let next = PrivateDir::new_in(base.path()).unwrap();
        assert!(!dead.exists());
        assert!(alive.path().join("a.yaml").exists());
        assert!(unlocked.exists() && other.exists());
        assert!(next.path().join(LOCK).exists());
        assert!(!next.path().join(LOCK_NEW).exists());
        drop(alive);
        drop(next);
        let left: Vec<_> = fs::read_dir(base.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }

    #[test]
    fn files_are_never_created_through_a_link() {
        let dir = PrivateDir::new().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("a.yaml")).unwrap();
        assert!(dir.write_file("a.yaml", b"secret").is_err());
        assert!(dir.make_fifo("a.yaml").is_err());
        std::os::unix::fs::symlink(&victim, dir.path().join("p")).unwrap();
        assert!(dir.fifo_writer("p").unwrap().open().is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }

    /// A bug that panics while plaintext is on disk still removes it: the
    /// panic unwinds (through the unwinder the build script links
    /// statically) and drops the directory.
    #[test]
    fn a_panic_unwinds_and_removes_the_directory() {
        let root = std::sync::Mutex::new(None);
        let outcome = std::panic::catch_unwind(|| {
            let dir = PrivateDir::new().unwrap();
            dir.write_file("secret.yaml", b"password: hunter2\n")
                .unwrap();
            *root.lock().unwrap() = Some(dir.path.clone());
            panic!("simulated bug");
        });
        assert!(outcome.is_err());
        let root = root.lock().unwrap().take().expect("directory was made");
        assert!(!root.exists());
    }

    #[test]
    fn names() {
        assert_eq!(name_for("dir/secrets.yaml"), "secrets.yaml");
        assert_eq!(name_for("with space.json"), "with space.json");
        assert_eq!(name_for("/"), FALLBACK_NAME);
        assert_eq!(name_for(".."), FALLBACK_NAME);
        assert!(is_plain_name("x.env"));
        assert!(!is_plain_name("a/b"));
        assert!(!is_plain_name("/etc/passwd"));
        assert!(!is_plain_name("../x"));
        assert!(!is_plain_name(""));
        assert!(!is_plain_name("."));
    }
}
