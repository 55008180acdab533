//! Reading inputs and writing outputs. Files are never written partially:
//! output goes to a temporary file in the target's directory, which is
//! made durable (`fsync`) and only then renamed over the target.
//!
//! # Guarantee
//!
//! Whatever happens (an error, a crash, a power loss), a target file holds
//! either its complete old content or its complete new content, never a
//! mix, a truncation or an empty file: the new bytes and the permissions
//! are written to a temporary file in the same directory (same file
//! system), that file is `fsync`ed (data and inode), and only then is it
//! renamed over the target (an atomic replace). If anything fails before
//! the rename, the temporary file is removed and the target is untouched.
//! The replacement keeps the target's mode, owner and group; the temporary
//! file stays 0600 until just before the rename.
//!
//! # In-place writes
//!
//! A rename would break what makes some files special, so these are
//! written in place instead (the new content is complete in memory first,
//! then written over the old with one `write`, truncated to its length and
//! `fsync`ed; durable, but not atomic):
//!
//! * a file with several hard links (a rename would detach the name from
//!   the other links);
//! * a file whose owner or group this process cannot give to a new file
//!   (not root, and not its owner or not in its group);
//! * a file in a directory where no temporary file can be created (no
//!   write permission) although the file itself is writable — as sops
//!   does, where it succeeds.
//!
//! The last two are announced on stderr. The file is opened without
//! following a symbolic link and must still be the regular file that was
//! examined (same device and inode), so a file swapped in meanwhile is
//! never written.
//!
//! # Commit batches (`-i` with many files)
//!
//! One `fsync` per file, issued one after the other, costs a journal commit
//! and a disk-cache flush each (~100 µs to several ms), which was most of
//! the time of `rsops decrypt -i` on many small files. A write given
//! [`Commit::Batched`] (handed out by [`CommitBatch::run`]) stops after
//! writing the temporary file; the batch later commits many
//! files at once, each with the same `fsync`-then-rename sequence, from
//! several threads at the same time, so that the file system groups their
//! `fsync`s into a few journal commits. The guarantee above is unchanged:
//! every rename still follows the `fsync` of its own file. What changes is
//! only *when* a file is replaced: at most [`BATCH_LIMIT`] files after it
//! was written, or at the end of the batch.

use std::fs::{self, File, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use nix::fcntl::OFlag;
use nix::unistd::{Gid, Uid};
use rsops_format::SecretBytes;
use tempfile::NamedTempFile;

use crate::error::{CmdResult, Error};

/// Reads the input file, or stdin when `path` is `None`.
pub fn read_input<P: AsRef<Path>>(path: Option<P>) -> CmdResult<Vec<u8>> {
    match path.as_ref().map(AsRef::as_ref) {
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(Error::ReadStdin)?;
            Ok(buf)
        }
        // The existence check only runs when reading fails (one `stat` less
        // per file); the messages are those of checking first.
        Some(p) => fs::read(p).map_err(|source| {
            if p.exists() {
                Error::ReadFile {
                    path: p.to_path_buf(),
                    source,
                }
            } else {
                Error::NonExistentFile(p.to_path_buf())
            }
        }),
    }
}

/// How restrictive a newly created output file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitivity {
    /// Encrypted content: 0644 for a new file.
    Encrypted,
    /// Plaintext: 0600 for a new file.
    Plaintext,
}

/// How an atomic write ends: committed (`fsync`, then rename over the
/// target) before it returns, or staged for a [`CommitBatch`] to commit
/// later.
#[derive(Clone, Copy)]
pub enum Commit<'a> {
    /// The target is replaced before the write returns.
    Now,
    /// The temporary file is written and left in the stage of a
    /// [`CommitBatch::run`], which commits it with the batch (or removes it
    /// when that run's work fails).
    Batched(&'a Stage),
}

/// Writes `data` to `path` atomically (temp file in the same directory,
/// then rename, now or with a batch as `commit` says). An existing file
/// keeps its permissions.
pub fn write_atomic(
    path: impl AsRef<Path>,
    data: &[u8],
    sensitivity: Sensitivity,
    commit: Commit<'_>,
) -> CmdResult {
    write_atomic_with(path, sensitivity, commit, |out| out.write_all(data))
}

/// Like [`write_atomic`], but the content is produced by `fill`, which
/// writes into the temporary file (buffered) instead of into memory first.
/// If `fill` fails, the temporary file is removed and the target is left
/// untouched.
///
/// With [`Commit::Batched`] the file is only staged here (written, not
/// yet synced nor renamed); the batch commits it.
pub fn write_atomic_with<F>(
    path: impl AsRef<Path>,
    sensitivity: Sensitivity,
    commit: Commit<'_>,
    fill: F,
) -> CmdResult
where
    F: FnOnce(&mut (dyn Write + Send)) -> std::io::Result<()>,
{
    let path = path.as_ref();
    let (target, existing) = match destination(path)? {
        Destination::Stream => return stream_into(path, fill),
        Destination::Replace { target, existing } => (target, existing),
    };
    let staged = match existing.as_ref().and_then(in_place_reason) {
        Some(reason) => stage_in_place(path, &target, reason, fill)?,
        None => stage(path, &target, existing.as_ref(), sensitivity, fill)?,
    };
    match commit {
        Commit::Now => staged.commit(),
        Commit::Batched(stage) => {
            stage.lock().push(staged);
            Ok(())
        }
    }
}

/// The failure for any step of writing `path`.
fn write_failure(path: &Path, source: std::io::Error) -> Error {
    Error::WriteFile {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a write to a path goes.
enum Destination {
    /// A regular file, or nothing yet: replaced atomically. Through a
    /// symbolic link this is the link's final target, so the link stays.
    Replace {
        /// The file to replace.
        target: PathBuf,
        /// Its metadata, when it exists.
        existing: Option<fs::Metadata>,
    },
    /// A FIFO, a device or a socket: written into as a stream, never
    /// replaced by a regular file.
    Stream,
}

/// Where a write to `path` goes; a directory, or a symbolic link whose
/// target does not exist, is refused.
fn destination(path: &Path) -> CmdResult<Destination> {
    let refuse = |what: &str| {
        write_failure(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_owned()),
        )
    };
    let meta = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Destination::Replace {
                target: path.to_path_buf(),
                existing: None,
            })
        }
        Err(e) => return Err(write_failure(path, e)),
        Ok(meta) => meta,
    };
    let (target, meta) = if meta.file_type().is_symlink() {
        let Ok(target) = fs::canonicalize(path) else {
            return Err(refuse(
                "it is a symbolic link to a file that does not exist; create the target or remove the link",
            ));
        };
        let meta = fs::metadata(&target).map_err(|e| write_failure(path, e))?;
        (target, meta)
    } else {
        (path.to_path_buf(), meta)
    };
    if meta.is_dir() {
        Err(refuse("it is a directory"))
    } else if meta.is_file() {
        Ok(Destination::Replace {
            target,
            existing: Some(meta),
        })
    } else {
        Ok(Destination::Stream)
    }
}

/// Writes into an existing FIFO, device or socket as a stream.
fn stream_into<F>(path: &Path, fill: F) -> CmdResult
where
    F: FnOnce(&mut (dyn Write + Send)) -> std::io::Result<()>,
{
    let fail = |e: std::io::Error| write_failure(path, e);
    let file = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(fail)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    fill(&mut out).map_err(fail)?;
    out.flush().map_err(fail)
}

/// Why an existing file is written in place instead of replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InPlace {
    /// It has several hard links.
    HardLinks,
    /// A new file could not be given its owner or group.
    Owner,
    /// No temporary file can be created in its directory.
    DirectoryNotWritable,
}

/// Whether the existing file `meta` must be written in place (decided
/// before anything is written).
fn in_place_reason(meta: &fs::Metadata) -> Option<InPlace> {
    if meta.nlink() > 1 {
        Some(InPlace::HardLinks)
    } else if !can_give_owner(meta.uid(), meta.gid()) {
        Some(InPlace::Owner)
    } else {
        None
    }
}

/// Whether this process can make a file it creates belong to `uid` and
/// `gid` (root can; anyone else only to themselves and their groups).
fn can_give_owner(uid: u32, gid: u32) -> bool {
    let euid = nix::unistd::geteuid();
    if euid.is_root() {
        return true;
    }
    if uid != euid.as_raw() {
        return false;
    }
    gid == nix::unistd::getegid().as_raw()
        || nix::unistd::getgroups().is_ok_and(|groups| groups.contains(&Gid::from_raw(gid)))
}

/// Writes the temporary file that will replace `target` (the file `path`
/// names, through any symbolic link), content, without syncing or
/// renaming it. When the directory allows no temporary file but `target`
/// exists, the write goes in place instead ([`stage_in_place`]).
fn stage<F>(
    path: &Path,
    target: &Path,
    existing: Option<&fs::Metadata>,
    sensitivity: Sensitivity,
    fill: F,
) -> CmdResult<Staged>
where
    F: FnOnce(&mut (dyn Write + Send)) -> std::io::Result<()>,
{
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let fail = |e: std::io::Error| write_failure(path, e);
    // Removed on every catchable signal too (a listener ends the process
    // after removing every registered temporary file).
    crate::signals::ensure_listening().map_err(fail)?;
    let created = crate::signals::protect_file(
        || tempfile::Builder::new().prefix(".rsops-").tempfile_in(dir),
        |t: &NamedTempFile| t.path().to_path_buf(),
    );
    let (id, created) = match created {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && existing.is_some() => {
            return stage_in_place(path, target, InPlace::DirectoryNotWritable, fill);
        }
        Err(e) => return Err(fail(e)),
    };
    // Declared before `tmp`, so dropped after it on an early return: the
    // registration ends only once the file is gone.
    let registration = Registration(id);
    let mut tmp = created;
    {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
        fill(&mut out).map_err(fail)?;
        out.flush().map_err(fail)?;
    }
    let mode = existing
        .map(|m| m.permissions())
        .or_else(|| new_file_permissions(sensitivity));
    let owner = existing.map(|m| (Uid::from_raw(m.uid()), Gid::from_raw(m.gid())));
    Ok(Staged {
        path: path.to_path_buf(),
        target: target.to_path_buf(),
        how: How::Replace {
            tmp,
            mode,
            owner,
            _registration: registration,
        },
    })
}

/// Prepares an in-place write of `target`: the file is opened now (without
/// following a link, checked to be the same regular file), the content is
/// produced into memory (wiped when dropped); [`Staged::commit`] writes it.
fn stage_in_place<F>(path: &Path, target: &Path, reason: InPlace, fill: F) -> CmdResult<Staged>
where
    F: FnOnce(&mut (dyn Write + Send)) -> std::io::Result<()>,
{
    let fail = |e: std::io::Error| write_failure(path, e);
    let file = open_in_place(target).map_err(fail)?;
    let mut content = SecretBytes::new();
    fill(&mut *content).map_err(fail)?;
    let shown = path.display();
    match reason {
        InPlace::HardLinks => {}
        InPlace::Owner => crate::warn(&format!(
            "{shown} belongs to another user or group that a new file cannot be given: writing it in place (durable, not atomic)"
        )),
        InPlace::DirectoryNotWritable => crate::warn(&format!(
            "cannot create a temporary file next to {shown} (the directory is not writable): writing it in place (durable, not atomic)"
        )),
    }
    Ok(Staged {
        path: path.to_path_buf(),
        target: target.to_path_buf(),
        how: How::InPlace { file, content },
    })
}

/// Opens `target` for an in-place write: not through a symbolic link, not
/// blocking on a FIFO swapped in, and only if it is a regular file.
fn open_in_place(target: &Path) -> std::io::Result<File> {
    let file = fs::OpenOptions::new()
        .write(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(target)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is no longer a regular file",
        ));
    }
    Ok(file)
}

/// The signal listener's registration of a temporary file; dropped after
/// the file was renamed or removed (fields drop in declaration order, so
/// the temporary file goes first).
struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        crate::signals::forget(self.0);
    }
}

#[cfg(unix)]
fn new_file_permissions(sensitivity: Sensitivity) -> Option<Permissions> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match sensitivity {
        Sensitivity::Encrypted => 0o644,
        Sensitivity::Plaintext => 0o600,
    };
    Some(Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn new_file_permissions(_: Sensitivity) -> Option<Permissions> {
    None
}

/// A staged write waiting to be committed. Dropping it removes the
/// temporary file (or forgets the in-memory content) and leaves the target
/// untouched.
struct Staged {
    /// The target as the user named it (for messages).
    path: PathBuf,
    /// The file to replace.
    target: PathBuf,
    /// How it is written.
    how: How,
}

/// The two ways of writing a target.
enum How {
    /// Rename a temporary file over it.
    Replace {
        /// The complete new content, in the target's directory (0600).
        tmp: NamedTempFile,
        /// The mode to give it just before the rename.
        mode: Option<Permissions>,
        /// The owner and group to give it (those of the file it replaces).
        owner: Option<(Uid, Gid)>,
        /// Its registration for removal on a signal.
        _registration: Registration,
    },
    /// Write over the open file.
    InPlace {
        /// The target, opened for writing (not truncated).
        file: File,
        /// The complete new content.
        content: SecretBytes,
    },
}

impl Staged {
    /// Makes the new content durable and puts it in place: `fsync`, owner
    /// and mode, then rename over the target; or, in place, one write,
    /// truncation to the new length, `fsync`.
    fn commit(self) -> CmdResult {
        let Staged { path, target, how } = self;
        let fail = |e: std::io::Error| write_failure(&path, e);
        match how {
            How::Replace {
                tmp,
                mode,
                owner,
                _registration,
            } => {
                tmp.as_file().sync_all().map_err(fail)?;
                if let Some((uid, gid)) = owner {
                    give_owner(tmp.as_file(), uid, gid).map_err(fail)?;
                }
                // Last, so that a temporary file left behind by a crash
                // (SIGKILL) is 0600 all along but for this instant.
                if let Some(mode) = mode {
                    tmp.as_file().set_permissions(mode).map_err(fail)?;
                }
                tmp.persist(&target).map_err(|e| fail(e.error))?;
                Ok(())
            }
            How::InPlace { mut file, content } => {
                file.write_all(&content).map_err(fail)?;
                let len = u64::try_from(content.len()).unwrap_or(u64::MAX);
                file.set_len(len).map_err(fail)?;
                file.sync_all().map_err(fail)
            }
        }
    }
}

/// Gives `file` the owner and group `uid`/`gid` when it has others (a
/// change of owner can clear set-id bits: the mode is set afterwards).
fn give_owner(file: &File, uid: Uid, gid: Gid) -> std::io::Result<()> {
    let meta = file.metadata()?;
    if meta.uid() == uid.as_raw() && meta.gid() == gid.as_raw() {
        return Ok(());
    }
    nix::unistd::fchown(file, Some(uid), Some(gid)).map_err(std::io::Error::from)
}

/// How many staged files a batch holds before committing them (bounds the
/// open temporary files, and how long a written file waits for its rename).
pub const BATCH_LIMIT: usize = 64;

/// How many threads commit (fsync + rename) the files of a batch at once.
const COMMIT_THREADS: usize = 16;

/// Atomic writes whose commit (`fsync`, then rename) is deferred and done
/// for many files at once, in parallel; see the module documentation.
/// Failures are kept with the caller's tag (e.g. the file's position in
/// the argument list).
#[derive(Default)]
pub struct CommitBatch {
    /// Staged files of finished work, with their tags.
    pending: Mutex<Vec<(usize, Staged)>>,
    /// Commit failures with their tags.
    failures: Mutex<Vec<(usize, Error)>>,
}

/// The files staged by the work of one [`CommitBatch::run`] (handed to it
/// as [`Commit::Batched`]). Dropping it removes them.
#[derive(Default)]
pub struct Stage {
    files: Mutex<Vec<Staged>>,
}

impl Stage {
    fn lock(&self) -> MutexGuard<'_, Vec<Staged>> {
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl CommitBatch {
    /// An empty batch.
    pub fn new() -> CommitBatch {
        CommitBatch::default()
    }

    /// Runs `work`, whose atomic writes given the [`Commit`] it receives
    /// are staged into this batch under `tag`. When `work` fails (or
    /// panics), what it staged is discarded and its targets stay untouched,
    /// as without a batch. When the batch is full afterwards, it is
    /// committed here.
    pub fn run(&self, tag: usize, work: impl FnOnce(Commit<'_>) -> CmdResult) -> CmdResult {
        let stage = Stage::default();
        let result = work(Commit::Batched(&stage));
        let staged = if result.is_ok() {
            std::mem::take(&mut *stage.lock())
        } else {
            Vec::new()
        };
        // Removes what a failed `work` staged.
        drop(stage);
        let full = {
            let mut pending = self.lock_pending();
            pending.extend(staged.into_iter().map(|s| (tag, s)));
            if pending.len() >= BATCH_LIMIT {
                std::mem::take(&mut *pending)
            } else {
                Vec::new()
            }
        };
        self.commit(full);
        result
    }

    /// Commits every file still staged and returns all commit failures
    /// (tag and failure), in no particular order.
    pub fn finish(&self) -> Vec<(usize, Error)> {
        let rest = std::mem::take(&mut *self.lock_pending());
        self.commit(rest);
        std::mem::take(&mut *self.lock_failures())
    }

    /// Commits `files`, each `fsync` then rename, on up to
    /// [`COMMIT_THREADS`] threads; failures are recorded.
    fn commit(&self, files: Vec<(usize, Staged)>) {
        if files.is_empty() {
            return;
        }
        let threads = files.len().min(COMMIT_THREADS);
        let queue = Mutex::new(files.into_iter());
        let drain = || loop {
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((tag, staged)) = next else { break };
            if let Err(f) = staged.commit() {
                self.lock_failures().push((tag, f));
            }
        };
        std::thread::scope(|scope| {
            for _ in 1..threads {
                // Without another thread the calling one commits all.
                if std::thread::Builder::new()
                    .name("rsops-commit".into())
                    .spawn_scoped(scope, drain)
                    .is_err()
                {
                    break;
                }
            }
            drain();
        });
    }

    fn lock_pending(&self) -> MutexGuard<'_, Vec<(usize, Staged)>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_failures(&self) -> MutexGuard<'_, Vec<(usize, Error)>> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Writes `data` to stdout.
pub fn write_stdout(data: &[u8]) -> CmdResult {
    write_stdout_parts(&[data])
}

/// Writes `parts` one after the other to stdout, then flushes.
pub fn write_stdout_parts(parts: &[&[u8]]) -> CmdResult {
    let mut out = std::io::stdout().lock();
    parts
        .iter()
        .try_for_each(|part| out.write_all(part))
        .and_then(|()| out.flush())
        .map_err(Error::WriteStdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::code;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Names in `dir` other than `keep` (leftover temporary files).
    fn others(dir: &Path, keep: &[&str]) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !keep.contains(&n.as_str()))
            .collect()
    }

    fn path_in(dir: &tempfile::TempDir, name: &str) -> String {
        dir.path().join(name).to_string_lossy().into_owned()
    }

    #[test]
    fn a_new_file_gets_the_mode_of_its_sensitivity() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, enc) = (path_in(&dir, "p"), path_in(&dir, "e"));
        write_atomic(&plain, b"secret", Sensitivity::Plaintext, Commit::Now).unwrap();
        write_atomic(&enc, b"ENC", Sensitivity::Encrypted, Commit::Now).unwrap();
        assert_eq!(fs::read(&plain).unwrap(), b"secret");
        assert_eq!(mode(Path::new(&plain)), 0o600);
        assert_eq!(mode(Path::new(&enc)), 0o644);
        assert!(others(dir.path(), &["p", "e"]).is_empty());
    }

    #[test]
    fn an_existing_file_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(&dir, "f");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"new", Sensitivity::Plaintext, Commit::Now).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(mode(Path::new(&path)), 0o640);
    }

    #[test]
    fn a_failing_fill_leaves_the_target_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(&dir, "f");
        fs::write(&path, b"old").unwrap();
        let f = write_atomic_with(&path, Sensitivity::Plaintext, Commit::Now, |out| {
            out.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        })
        .unwrap_err();
        assert_eq!(f.exit_code(), code::COULD_NOT_WRITE_OUTPUT_FILE);
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert!(others(dir.path(), &["f"]).is_empty());
    }

    #[test]
    fn a_batch_replaces_targets_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["a", "b", "c"];
        for n in names {
            fs::write(path_in(&dir, n), b"old").unwrap();
        }
        let batch = CommitBatch::new();
        for (i, n) in names.iter().enumerate() {
            let path = path_in(&dir, n);
            batch
                .run(i, |commit| {
                    write_atomic(&path, n.as_bytes(), Sensitivity::Plaintext, commit)
                })
                .unwrap();
            // Staged: the target still has its old content.
            assert_eq!(fs::read(&path).unwrap(), b"old");
        }
        assert!(batch.finish().is_empty());
        for n in names {
            assert_eq!(fs::read(path_in(&dir, n)).unwrap(), n.as_bytes());
        }
        assert!(others(dir.path(), &names).is_empty());
    }

    #[test]
    fn a_full_batch_is_committed_without_waiting_for_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let batch = CommitBatch::new();
        for i in 0..BATCH_LIMIT {
            let path = path_in(&dir, &format!("f{i}"));
            batch
                .run(i, |commit| {
                    write_atomic(&path, b"x", Sensitivity::Encrypted, commit)
                })
                .unwrap();
        }
        assert_eq!(fs::read(path_in(&dir, "f0")).unwrap(), b"x");
        assert!(batch.finish().is_empty());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), BATCH_LIMIT);
    }

    #[test]
    fn failed_or_panicking_work_discards_what_it_staged() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (path_in(&dir, "a"), path_in(&dir, "b"));
        fs::write(&a, b"old").unwrap();
        fs::write(&b, b"old").unwrap();
        let batch = CommitBatch::new();
        let f = batch
            .run(0, |commit| {
                write_atomic(&a, b"new", Sensitivity::Plaintext, commit)?;
                Err(Error::NoDocumentToSet)
            })
            .unwrap_err();
        assert!(matches!(f, Error::NoDocumentToSet), "{f}");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            batch.run(1, |commit| {
                write_atomic(&b, b"new", Sensitivity::Plaintext, commit)?;
                panic!("bug after staging");
            })
        }));
        assert!(panicked.is_err());
        // Given `Commit::Now`, writes commit at once.
        let c = path_in(&dir, "c");
        write_atomic(&c, b"c", Sensitivity::Plaintext, Commit::Now).unwrap();
        assert_eq!(fs::read(&c).unwrap(), b"c");
        assert!(batch.finish().is_empty());
        assert_eq!(fs::read(&a).unwrap(), b"old");
        assert_eq!(fs::read(&b).unwrap(), b"old");
        assert!(others(dir.path(), &["a", "b", "c"]).is_empty());
    }

    #[test]
    fn a_commit_failure_is_reported_with_its_tag() {
        let dir = tempfile::tempdir().unwrap();
        // A rename over a non-empty directory fails at commit time: the
        // file staged for is replaced by one before the batch commits.
        let target = path_in(&dir, "d");
        fs::write(&target, b"old").unwrap();
        let ok = path_in(&dir, "ok");
        let batch = CommitBatch::new();
        batch
            .run(7, |commit| {
                write_atomic(&target, b"new", Sensitivity::Plaintext, commit)
            })
            .unwrap();
        fs::remove_file(&target).unwrap();
        fs::create_dir(&target).unwrap();
        fs::write(dir.path().join("d").join("inner"), b"x").unwrap();
        batch
            .run(8, |commit| {
                write_atomic(&ok, b"fine", Sensitivity::Plaintext, commit)
            })
            .unwrap();
        let failures = batch.finish();
        assert_eq!(failures.len(), 1);
        let (tag, f) = &failures[0];
        assert_eq!(*tag, 7);
        assert_eq!(f.exit_code(), code::COULD_NOT_WRITE_OUTPUT_FILE);
        assert!(f
            .to_string()
            .starts_with(&format!("Could not write output file {target}: ")));
        assert_eq!(fs::read(&ok).unwrap(), b"fine");
        assert!(others(dir.path(), &["d", "ok"]).is_empty());
    }

    #[test]
    fn a_hard_linked_file_is_written_in_place_also_in_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (path_in(&dir, "a"), path_in(&dir, "b"));
        fs::write(&a, b"old and long content").unwrap();
        fs::hard_link(&a, &b).unwrap();
        let ino = fs::metadata(&a).unwrap().ino();
        write_atomic(&a, b"new", Sensitivity::Plaintext, Commit::Now).unwrap();
        assert_eq!(fs::read(&b).unwrap(), b"new");
        let batch = CommitBatch::new();
        batch
            .run(0, |commit| {
                write_atomic(&b, b"newer", Sensitivity::Plaintext, commit)
            })
            .unwrap();
        // Staged in memory: not written before the batch commits.
        assert_eq!(fs::read(&a).unwrap(), b"new");
        assert!(batch.finish().is_empty());
        assert_eq!(fs::read(&a).unwrap(), b"newer");
        let meta = fs::metadata(&a).unwrap();
        assert_eq!((meta.ino(), meta.nlink()), (ino, 2));
        assert!(others(dir.path(), &["a", "b"]).is_empty());
    }

    #[test]
    fn an_in_place_write_never_opens_what_replaced_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        fs::write(&target, b"old").unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::write(&elsewhere, b"keep").unwrap();
        fs::remove_file(&target).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &target).unwrap();
        let f = stage_in_place(&target, &target, InPlace::HardLinks, |out| {
            out.write_all(b"secret")
        })
        .err()
        .expect("a link is not opened");
        assert_eq!(f.exit_code(), code::COULD_NOT_WRITE_OUTPUT_FILE);
        fs::remove_file(&target).unwrap();
        nix::unistd::mkfifo(&target, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let f = stage_in_place(&target, &target, InPlace::HardLinks, |out| {
            out.write_all(b"secret")
        })
        .err()
        .expect("a FIFO is not written (and opening it does not block)");
        assert_eq!(f.exit_code(), code::COULD_NOT_WRITE_OUTPUT_FILE);
        assert_eq!(fs::read(&elsewhere).unwrap(), b"keep");
    }

    #[test]
    fn read_input_tells_a_missing_file_from_an_unreadable_one() {
        let dir = tempfile::tempdir().unwrap();
        let missing = path_in(&dir, "missing");
        let f = read_input(Some(Path::new(&missing))).unwrap_err();
        assert_eq!(f.exit_code(), code::NO_FILE_SPECIFIED);
        assert_eq!(
            f.to_string(),
            format!("Error: cannot operate on non-existent file {missing}")
        );
        let d = dir.path().to_string_lossy().into_owned();
        let f = read_input(Some(Path::new(&d))).unwrap_err();
        assert_eq!(f.exit_code(), code::COULD_NOT_READ_INPUT_FILE);
        assert!(f
            .to_string()
            .starts_with(&format!("Error reading file {d}: ")));
        let file = path_in(&dir, "f");
        fs::write(&file, b"content").unwrap();
        assert_eq!(read_input(Some(Path::new(&file))).unwrap(), b"content");
    }
}
