//! Reading inputs and writing outputs. Files are never written partially:
//! output goes to a temporary file in the target's directory, which is then
//! renamed over the target.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use crate::exit::{self, CmdResult, Failure};

/// Reads the input file, or stdin when `path` is `None`.
pub fn read_input(path: Option<&str>) -> CmdResult<Vec<u8>> {
    match path {
        None => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| {
                Failure::new(
                    exit::COULD_NOT_READ_INPUT_FILE,
                    format!("Error reading from stdin: {e}"),
                )
            })?;
            Ok(buf)
        }
        Some(p) => {
            if !Path::new(p).exists() {
                return Err(Failure::new(
                    exit::NO_FILE_SPECIFIED,
                    format!("Error: cannot operate on non-existent file {p}"),
                ));
            }
            fs::read(p).map_err(|e| {
                Failure::new(
                    exit::COULD_NOT_READ_INPUT_FILE,
                    format!("Error reading file {p}: {e}"),
                )
            })
        }
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

/// Writes `data` to `path` atomically (temp file in the same directory,
/// then rename). An existing file keeps its permissions.
pub fn write_atomic(path: &str, data: &[u8], sensitivity: Sensitivity) -> CmdResult {
    write_atomic_with(path, sensitivity, |out| out.write_all(data))
}

/// Like [`write_atomic`], but the content is produced by `fill`, which
/// writes into the temporary file (buffered) instead of into memory first.
/// If `fill` fails, the temporary file is removed and the target is left
/// untouched.
pub fn write_atomic_with<F>(path: &str, sensitivity: Sensitivity, fill: F) -> CmdResult
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let target = Path::new(path);
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let fail = |e: std::io::Error| {
        Failure::new(
            exit::COULD_NOT_WRITE_OUTPUT_FILE,
            format!("Could not write output file {path}: {e}; check that the directory exists and is writable"),
        )
    };
    let existing_mode = fs::metadata(target).ok().map(|m| m.permissions());
    let mut tmp = tempfile::Builder::new()
        .prefix(".rsops-")
        .tempfile_in(dir)
        .map_err(fail)?;
    {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
        fill(&mut out).map_err(fail)?;
        out.flush().map_err(fail)?;
    }
    tmp.as_file().sync_all().map_err(fail)?;
    match existing_mode {
        Some(p) => fs::set_permissions(tmp.path(), p).map_err(fail)?,
        None => set_new_file_permissions(tmp.path(), sensitivity).map_err(fail)?,
    }
    tmp.persist(target).map_err(|e| fail(e.error))?;
    Ok(())
}

#[cfg(unix)]
fn set_new_file_permissions(path: &Path, sensitivity: Sensitivity) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match sensitivity {
        Sensitivity::Encrypted => 0o644,
        Sensitivity::Plaintext => 0o600,
    };
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_new_file_permissions(_: &Path, _: Sensitivity) -> std::io::Result<()> {
    Ok(())
}

/// Writes `data` to stdout.
pub fn write_stdout(data: &[u8]) -> CmdResult {
    let mut out = std::io::stdout().lock();
    out.write_all(data).and_then(|_| out.flush()).map_err(|e| {
        Failure::new(
            exit::COULD_NOT_WRITE_OUTPUT_FILE,
            format!("Could not write to stdout: {e}"),
        )
    })
}
