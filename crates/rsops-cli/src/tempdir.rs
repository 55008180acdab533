//! Private temporary directories for plaintext: mode 0700, under the system
//! temporary directory (`$TMPDIR`, else `/tmp`, so never inside the working
//! tree), holding 0600 files or FIFOs, and removed when dropped or when a
//! signal ends the process (see [`crate::signals`]).

use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};

use crate::signals;

/// Name used when no better one is known (sops's `tmp-file`).
pub const FALLBACK_NAME: &str = "tmp-file";

/// A private directory, removed on drop.
#[derive(Debug)]
pub struct PrivateDir {
    id: u64,
    path: PathBuf,
}

impl PrivateDir {
    /// Creates a fresh 0700 directory in the system temporary directory.
    pub fn new() -> io::Result<PrivateDir> {
        let (id, path) = signals::protect(|| {
            let dir = tempfile::Builder::new()
                .prefix(".rsops-")
                .permissions(Permissions::from_mode(0o700))
                .tempdir_in(std::env::temp_dir())?;
            let path = dir.keep();
            fs::set_permissions(&path, Permissions::from_mode(0o700))?;
            Ok(path)
        })?;
        Ok(PrivateDir { id, path })
    }

    /// Creates `name` in the directory with mode 0600 and writes `data`.
    pub fn write_file(&self, name: &str, data: &[u8]) -> io::Result<PathBuf> {
        let path = self.path.join(name);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.set_permissions(Permissions::from_mode(0o600))?;
        f.write_all(data)?;
        f.sync_all()?;
        Ok(path)
    }

    /// Creates a FIFO `name` in the directory with mode 0600.
    pub fn make_fifo(&self, name: &str) -> io::Result<PathBuf> {
        let path = self.path.join(name);
        nix::unistd::mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR).map_err(io::Error::from)?;
        fs::set_permissions(&path, Permissions::from_mode(0o600))?;
        Ok(path)
    }

    /// Hands the directory and `file` over to another user (`--user`).
    pub fn give_to(&self, file: &Path, uid: Uid, gid: Gid) -> io::Result<()> {
        nix::unistd::chown(&self.path, Some(uid), Some(gid)).map_err(io::Error::from)?;
        nix::unistd::chown(file, Some(uid), Some(gid)).map_err(io::Error::from)
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
