//! `rsops decrypt` (and legacy `-d`), for one file or, with `-i`, for many
//! files in one process (sops issue #1079).
//!
//! Several files are processed in parallel by [`for_each_file`]; each
//! distinct data key is unwrapped once and shared ([`KeyCache`]), so the
//! cost of a master key (an age X25519 or an OpenPGP operation) is paid once
//! per key, not once per file. Every file still has its MAC checked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rsops_core::datakey::{self, DataKey};
use rsops_core::file;
use rsops_core::metadata::Metadata;
use rsops_core::treepath::{self, Component};
use rsops_format::tree::Wipe;
use rsops_format::{chunk, store, EmitOptions, SecretBytes, Value};
use rsops_keys::{KeyKind, KeyService};

use super::{decryption_order, deliver, stores};
use crate::error::{CmdResult, Error};
use crate::io::{CommitBatch, Sensitivity};
use crate::parallel::KEY_CALLS_IN_FLIGHT;
use crate::settings::{Common, DecryptSettings, Output};

/// Runs `decrypt` on the file (or stdin).
pub fn run(req: &DecryptSettings) -> CmdResult {
    let file = req.files.first().map(PathBuf::as_path);
    super::check_output_flags(&req.output, file)?;
    let session = Session::new(req, file)?;
    let out = SecretBytes::from(session.decrypt_file(file)?);
    deliver(
        &req.output,
        file,
        &out,
        Sensitivity::Plaintext,
        crate::io::Commit::Now,
    )
}

/// Runs `decrypt -i` on several files: in parallel, each written in place;
/// one line per failing file, and the exit code of the first failing file
/// (in argument order). Without `-i` and `--output` they go to standard
/// output ([`run_many_to_stdout`]); with `--output` or `--extract` they are
/// refused (exit 8).
pub fn run_many(req: &DecryptSettings) -> CmdResult {
    if !req.output.in_place && req.output.output.is_none() && req.extract.is_none() {
        return run_many_to_stdout(req);
    }
    let files = &req.files;
    check_many(&req.output, files.len())?;
    let session = Session::new(req, files.first().map(PathBuf::as_path))?;
    for_each_file(files, |file, commit| {
        let out = SecretBytes::from(session.decrypt_file(Some(file))?);
        deliver(
            &req.output,
            Some(file),
            &out,
            Sensitivity::Plaintext,
            commit,
        )
    })
}

/// Several files to standard output (sops issue #945), in argument order:
/// YAML as one stream of documents separated by `---`, JSON and dotenv one
/// after the other (each ending with a newline; `jq` reads such a JSON
/// stream, and in dotenv a later value overrides an earlier one). All files
/// must have one output type; INI and binary output are refused (exit 8).
/// The files are decrypted in parallel with shared data keys, and nothing
/// is written unless every file decrypts.
fn run_many_to_stdout(req: &DecryptSettings) -> CmdResult {
    use rsops_format::Format;
    let files = &req.files;
    let formats: Vec<Format> = files
        .iter()
        .map(|f| stores(&req.common, Some(f)).1)
        .collect();
    let format = formats.first().copied().unwrap_or(Format::Yaml);
    if formats.iter().any(|f| *f != format) || matches!(format, Format::Ini | Format::Binary) {
        return Err(Error::ManyToStdout(files.len()));
    }
    let session = Session::new(req, files.first().map(PathBuf::as_path))?;
    type Slot = Mutex<Option<CmdResult<SecretBytes>>>;
    let slots: Vec<Slot> = files.iter().map(|_| Mutex::new(None)).collect();
    let tasks: Vec<rsops_format::parallel::Task<'_>> = files
        .iter()
        .zip(&slots)
        .map(|(file, slot)| {
            let session = &session;
            Box::new(move || {
                let r = session.decrypt_file(Some(file)).map(SecretBytes::from);
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
            }) as rsops_format::parallel::Task<'_>
        })
        .collect();
    rsops_format::Parallelism::run(crate::parallel::threads(), tasks);
    let mut outputs = Vec::new();
    let mut failures = Vec::new();
    for (file, slot) in files.iter().zip(slots) {
        let result = slot
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .unwrap_or(Err(Error::WorkerPanicked));
        match result {
            Ok(data) => outputs.push(data),
            Err(e) => failures.push((file.clone(), e)),
        }
    }
    if !failures.is_empty() {
        return Err(Error::Files(failures));
    }
    // Written as they are, with the separators between them (not copied
    // into one buffer).
    let mut parts: Vec<&[u8]> = Vec::new();
    for (i, data) in outputs.iter().enumerate() {
        if i > 0 && format == Format::Yaml {
            parts.push(b"---\n");
        }
        parts.push(data);
        if !data.is_empty() && !data.ends_with(b"\n") {
            parts.push(b"\n");
        }
    }
    crate::io::write_stdout_parts(&parts)
}

/// Several files are only accepted with `-i` (each result goes back into
/// its own file; there is no sensible single stdout or `--output` for many).
pub(crate) fn check_many(output: &Output, count: usize) -> CmdResult {
    if count > 1 && !output.in_place {
        return Err(Error::ManyWithoutInPlace(count));
    }
    if output.in_place && output.output.is_some() {
        return Err(Error::InPlaceAndOutput);
    }
    Ok(())
}

/// What is shared by every file of one `decrypt` run.
struct Session<'r> {
    req: &'r DecryptSettings,
    opts: EmitOptions,
    order: Vec<KeyKind>,
    path: Option<Vec<Component>>,
    service: LazyService<'r>,
    keys: KeyCache,
}

impl<'r> Session<'r> {
    /// Loads the configuration and checks the flags, in sops's order.
    fn new(req: &'r DecryptSettings, file: Option<&Path>) -> CmdResult<Session<'r>> {
        // With RSOPS_CONFIG_FROM_FILE_DIR the search starts at the file.
        let name = req.common.filename_override.as_deref().or(file);
        let loaded = crate::config::load_for_file(req.common.config.as_deref(), name)?;
        let opts = crate::config::emit_options(loaded.as_ref(), req.common.indent)?;
        let order = decryption_order(req.decryption_order.as_deref())?;
        let path = match req.extract.as_deref() {
            Some(p) => Some(treepath::parse(p).map_err(Error::ExtractPath)?),
            None => None,
        };
        Ok(Session {
            req,
            opts,
            order,
            path,
            service: LazyService::new(&req.common),
            keys: KeyCache::default(),
        })
    }

    /// Reads, decrypts (MAC checked unless `--ignore-mac`) and renders one
    /// file.
    fn decrypt_file(&self, file: Option<&Path>) -> CmdResult<Vec<u8>> {
        let (input_format, output_format) = stores(&self.req.common, file);
        let pieces = self.path.is_none() && streamable(input_format) && streamable(output_format);
        if let (true, Some(path)) = (pieces, file) {
            if let Some(mut out) = self.decrypt_file_in_pieces(path, input_format, output_format)? {
                return Ok(std::mem::take(&mut *out));
            }
        }
        let input = crate::io::read_input(file)?;
        if pieces && file.is_none() && input.len() >= file::PIECES_MIN_INPUT {
            let cut = chunk::encrypted(input_format, &input, chunk::DEFAULT_TARGET);
            if let Some(mut out) = self.decrypt_in_pieces(cut, output_format)? {
                return Ok(std::mem::take(&mut *out));
            }
        }
        let input_len = input.len();
        let (mut docs, meta_tree) =
            store::load_encrypted(input_format, &input, crate::parallel::threads())
                .map_err(|e| Error::unmarshal_encrypted(e, input_format))?;
        drop(input);
        let meta_tree = meta_tree.ok_or(Error::MetadataNotFound)?;
        let md = Metadata::from_tree(&meta_tree).map_err(Error::decrypting)?;
        let service = self.service.get()?;
        let key = self.keys.data_key(&md, service, &self.order)?;
        file::decrypt_with_key(
            &mut docs,
            &md,
            &key,
            self.req.ignore_mac,
            crate::parallel::threads(),
        )
        .map_err(Error::decrypting)?;
        let out = match &self.path {
            None => store::emit_plain(output_format, &docs, &self.opts).map_err(Error::Dump)?,
            Some(path) => {
                let first = docs.first().cloned().unwrap_or_default();
                let value = treepath::get(&first, path).map_err(Error::Truncate)?;
                match value {
                    Value::Str(s) => s.as_bytes().to_vec(),
                    Value::Bytes(b) => b.clone(),
                    // Like sops: the extracted map takes the place of the
                    // first document and every document is written.
                    Value::Map(m) => {
                        if let Some(d) = docs.first_mut() {
                            *d = m.clone();
                        }
                        store::emit_plain(output_format, &docs, &self.opts).map_err(Error::Dump)?
                    }
                    other => {
                        store::emit_value(output_format, other, &self.opts).map_err(Error::Dump)?
                    }
                }
            }
        };
        if input_len >= BACKGROUND_DROP_MIN_INPUT {
            drop_in_background(docs);
        } else {
            docs.wipe();
        }
        Ok(out)
    }
}

impl Session<'_> {
    /// A large YAML or JSON file decrypted in pieces, read from the file
    /// in blocks ([`chunk::encrypted_from`]): the encrypted input is never
    /// held whole, only the pieces being worked on. `None` when the file is
    /// not read that way ([`Session::decrypt_in_pieces`]; also when it
    /// cannot be opened or read: the caller reads it whole, which reports
    /// the exact error). A file whose size or modification time changed
    /// while it was read is an error: its pieces may mix two versions.
    fn decrypt_file_in_pieces(
        &self,
        path: &Path,
        input_format: rsops_format::Format,
        output_format: rsops_format::Format,
    ) -> CmdResult<Option<SecretBytes>> {
        // Only a large regular file: opening anything else (a FIFO) could
        // take input that the whole path would then miss.
        let large = |m: &std::fs::Metadata| m.is_file() && m.len() >= file::PIECES_MIN_INPUT as u64;
        if !std::fs::metadata(path).is_ok_and(|m| large(&m)) {
            return Ok(None);
        }
        let Ok(input) = InputFile::open(path) else {
            return Ok(None);
        };
        if !large(&input.opened) {
            return Ok(None);
        }
        let cut = chunk::encrypted_from(input_format, &input, chunk::DEFAULT_TARGET, READ_BLOCK);
        let out = match cut {
            Ok(cut) => self.decrypt_in_pieces(cut, output_format),
            Err(_) => Ok(None),
        };
        input.check_unchanged(path)?;
        out
    }

    /// A large YAML or JSON file decrypted to YAML or JSON in pieces
    /// ([`file::decrypt_pieces`]): the whole tree is never built, and the
    /// output is complete (MAC checked) before anything is written.
    /// `None` when the file is not read that way or anything failed on the
    /// way (except a MAC mismatch, and a data key that cannot be recovered
    /// from a file whose pieces parse): the caller then reads it whole,
    /// which reports the exact error (a failed key unwrap is remembered by
    /// the key cache, so it is not tried twice).
    fn decrypt_in_pieces(
        &self,
        cut: Option<(chunk::Pieces<'_>, rsops_format::Map)>,
        output_format: rsops_format::Format,
    ) -> CmdResult<Option<SecretBytes>> {
        let Some((pieces, meta_tree)) = cut else {
            return Ok(None);
        };
        let Ok(md) = Metadata::from_tree(&meta_tree) else {
            return Ok(None);
        };
        let Ok(service) = self.service.get() else {
            return Ok(None);
        };
        let key = match self.keys.data_key(&md, service, &self.order) {
            Ok(key) => key,
            // The whole-file path parses the whole document, then meets
            // this same error (the key cache remembers it): once the
            // pieces are known to parse, it is reported without that read.
            Err(e) if file::pieces_parse(&pieces, crate::parallel::threads()) => return Err(e),
            Err(_) => return Ok(None),
        };
        file::decrypt_pieces(
            &pieces,
            &md,
            &key,
            output_format,
            &self.opts,
            self.req.ignore_mac,
            crate::parallel::threads(),
        )
        .map_err(Error::decrypting)
    }
}

/// Whether a store is read and written in pieces.
fn streamable(format: rsops_format::Format) -> bool {
    matches!(
        format,
        rsops_format::Format::Yaml | rsops_format::Format::Json
    )
}

/// Reads of an input file in pieces are at most this large (the blocks of
/// the first pass that finds the pieces).
const READ_BLOCK: usize = 1 << 20;

/// An input file read with positioned reads, and what it looked like when
/// it was opened.
struct InputFile {
    file: std::fs::File,
    opened: std::fs::Metadata,
}

impl InputFile {
    fn open(path: &Path) -> std::io::Result<InputFile> {
        let file = std::fs::File::open(path)?;
        let opened = file.metadata()?;
        Ok(InputFile { file, opened })
    }

    /// An error when the file's size or modification time is no longer
    /// what it was when it was opened.
    fn check_unchanged(&self, path: &Path) -> CmdResult {
        let now = self.file.metadata().map_err(|source| Error::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
        if now.len() == self.opened.len() && now.modified().ok() == self.opened.modified().ok() {
            return Ok(());
        }
        Err(Error::ReadFile {
            path: path.to_path_buf(),
            source: std::io::Error::other("the file changed while it was read"),
        })
    }
}

impl chunk::Source for InputFile {
    fn len(&self) -> u64 {
        self.opened.len()
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.read_exact_at(buf, offset)
    }
}

/// Input size from which a file's tree is freed on another thread (below
/// it, starting a thread costs more than the freeing).
pub(crate) const BACKGROUND_DROP_MIN_INPUT: usize = 1 << 20;

/// Frees `value` on another thread: freeing the hundreds of thousands of
/// small allocations of a large tree takes a noticeable part of a run, and
/// nothing needs to wait for it (the process may even exit first). When no
/// thread can be started, the closure, and `value` with it, is dropped here.
pub(crate) fn drop_in_background<T: Wipe + Send + 'static>(mut value: T) {
    // A failed spawn drops the closure, and so `value`, right here (unwiped:
    // only if the system cannot start a thread).
    let _ = std::thread::Builder::new()
        .name("drop".into())
        .spawn(move || value.wipe());
}

/// The key service of a run, created on first use (so that a file that
/// cannot be read fails as it would without a key service) and shared by
/// all files.
pub(crate) struct LazyService<'a> {
    common: &'a Common,
    cell: OnceLock<Result<Box<dyn KeyService>, Arc<Error>>>,
}

impl<'a> LazyService<'a> {
    /// A lazy key service for these flags.
    pub(crate) fn new(common: &'a Common) -> Self {
        LazyService {
            common,
            cell: OnceLock::new(),
        }
    }

    /// The key service (created, and its warnings printed, once).
    pub(crate) fn get(&self) -> CmdResult<&dyn KeyService> {
        let made = self.cell.get_or_init(|| {
            crate::key_service(self.common)
                .map(|s| Box::new(crate::parallel::Overlapping(s)) as Box<dyn KeyService>)
                .map_err(Arc::new)
        });
        match made {
            Ok(s) => Ok(s.as_ref()),
            Err(e) => Err(Error::Shared(Arc::clone(e))),
        }
    }
}

/// The outcome of unwrapping one data key, kept for the other files.
type Unwrapped = Result<DataKey, Arc<Error>>;

/// Data keys already unwrapped in this process, by the identity of the
/// metadata's key groups (every `enc` string with its master key, and the
/// Shamir threshold): files encrypted with the same data key share the
/// unwrap. Concurrent requests for one key wait for a single unwrap. A
/// failure is remembered too: every file of that key reports it.
#[derive(Default)]
pub(crate) struct KeyCache {
    slots: Mutex<HashMap<String, Arc<OnceLock<Unwrapped>>>>,
}

impl KeyCache {
    /// The data key of `md`: from the cache, or unwrapped with `service`
    /// trying keys in `order`.
    pub(crate) fn data_key(
        &self,
        md: &Metadata,
        service: &dyn KeyService,
        order: &[KeyKind],
    ) -> CmdResult<DataKey> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(slots.entry(key_groups_id(md)).or_default())
        };
        // Waiting for another file's unwrap of this key is a wait too: a
        // CPU slot held meanwhile could be the one that file needs back.
        let unwrapped = match slot.get() {
            Some(done) => done,
            None => crate::parallel::waiting(|| {
                slot.get_or_init(|| {
                    datakey::unwrap(md, service, order).map_err(|e| Arc::new(Error::decrypting(e)))
                })
            }),
        };
        match unwrapped {
            Ok(k) => Ok(k.clone()),
            Err(e) => Err(Error::Shared(Arc::clone(e))),
        }
    }

    /// How many distinct key groups were looked up.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The cache identity of a file's data key: its key groups' master keys and
/// `enc` strings, and the threshold. (`enc` strings are public.)
fn key_groups_id(md: &Metadata) -> String {
    let mut id = format!("t{}", md.shamir_threshold);
    for group in &md.key_groups {
        id.push('|');
        for entry in &group.keys {
            id.push_str(entry.key.kind().identifier());
            id.push('\u{1f}');
            id.push_str(&entry.key.key_string());
            id.push('\u{1f}');
            id.push_str(&entry.enc);
            id.push('\u{1e}');
        }
    }
    id
}

/// How many files [`for_each_file`] works on at once, whatever their size
/// (or the number of cores, if more).
const FILES_IN_FLIGHT: usize = 8;

/// How much input (bytes) the files in flight beyond [`FILES_IN_FLIGHT`]
/// may add up to: bounds the memory of the files held while they wait for
/// their keys.
const IN_FLIGHT_BYTES: u64 = 64 << 20;

/// Admits files into flight: always up to `always` of them, more while
/// their sizes add up to at most [`IN_FLIGHT_BYTES`].
struct Admission {
    always: usize,
    /// Files in flight and the sum of their sizes.
    state: Mutex<(usize, u64)>,
    left: std::sync::Condvar,
}

impl Admission {
    fn new(always: usize) -> Admission {
        Admission {
            always,
            state: Mutex::new((0, 0)),
            left: std::sync::Condvar::new(),
        }
    }

    /// Waits until a file of `size` bytes may start; it is done when the
    /// returned guard is dropped.
    fn enter(&self, size: u64) -> Admitted<'_> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.0 >= self.always && state.1.saturating_add(size) > IN_FLIGHT_BYTES {
            state = self
                .left
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.0 += 1;
        state.1 = state.1.saturating_add(size);
        Admitted {
            admission: self,
            size,
        }
    }
}

/// A file in flight (see [`Admission::enter`]).
struct Admitted<'a> {
    admission: &'a Admission,
    size: u64,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        let mut state = self
            .admission
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.0 -= 1;
        state.1 = state.1.saturating_sub(self.size);
        drop(state);
        self.admission.left.notify_all();
    }
}

/// Runs `work` on every file, several at once: up to
/// [`KEY_CALLS_IN_FLIGHT`] files (threads taking the next file from a shared
/// queue), of which at most one per core computes at a time: `work` runs
/// in a [`crate::parallel::cpu_slot`], which the key service of
/// [`LazyService`] gives up while a key call waits, so that the key calls
/// of many files overlap. Beyond [`FILES_IN_FLIGHT`] files, a file starts
/// only while the files in flight add up to at most [`IN_FLIGHT_BYTES`].
/// Files that `work` writes atomically with the
/// [`crate::io::Commit`] it is given are committed
/// in batches (`io::CommitBatch`: their `fsync`s run in parallel and are
/// grouped by the file system; every file is still synced before it
/// replaces its target). Failures are reported one line per file,
/// `FILE: message`, in argument order: all but the last on stderr here, the
/// last as the returned failure (which `main` prints), whose exit code is
/// that of the first failing file.
pub(crate) fn for_each_file<F>(files: &[PathBuf], work: F) -> CmdResult
where
    F: Fn(&Path, crate::io::Commit<'_>) -> CmdResult + Sync,
{
    // One file needs no core count (asking reads cgroup files).
    let (workers, always) = if files.len() > 1 {
        use rsops_format::Parallelism;
        let cores = crate::parallel::threads().workers();
        (
            cores.max(KEY_CALLS_IN_FLIGHT).min(files.len()),
            cores.max(FILES_IN_FLIGHT),
        )
    } else {
        (1, 1)
    };
    let next = AtomicUsize::new(0);
    let batch = CommitBatch::new();
    let admission = Admission::new(always);
    let run_queue = || {
        let mut failed = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(file) = files.get(i) else { break };
            let size = if workers > always {
                std::fs::metadata(file).map_or(0, |m| m.len())
            } else {
                0
            };
            let admitted = admission.enter(size);
            // One thread computes alone: no slot (asking for the core
            // count reads cgroup files, a noticeable part of a short run).
            let r = if workers > 1 {
                batch.run(i, |commit| crate::parallel::cpu_slot(|| work(file, commit)))
            } else {
                batch.run(i, |commit| work(file, commit))
            };
            drop(admitted);
            if let Err(f) = r {
                failed.push((i, f));
            }
        }
        failed
    };
    let mut failures: Vec<(usize, Error)> = std::thread::scope(|scope| {
        // Fewer workers if the system cannot start more threads.
        let handles: Vec<_> = (1..workers)
            .map_while(|_| {
                std::thread::Builder::new()
                    .spawn_scoped(scope, run_queue)
                    .ok()
            })
            .collect();
        let mut all = run_queue();
        for h in handles {
            match h.join() {
                Ok(mut f) => all.append(&mut f),
                Err(_) => all.push((files.len(), Error::WorkerPanicked)),
            }
        }
        all
    });
    failures.extend(batch.finish());
    failures.sort_by_key(|(i, _)| *i);
    if failures.is_empty() {
        return Ok(());
    }
    Err(Error::Files(
        failures
            .into_iter()
            .map(|(i, e)| (files.get(i).cloned().unwrap_or_default(), e))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsops_core::metadata::{KeyEntry, KeyGroup};
    use rsops_keys::{KeyError, MasterKey};
    use std::sync::atomic::AtomicUsize;
    use zeroize::Zeroizing;

    /// A key service that returns a fixed key and counts unwraps.
    struct Counting {
        calls: AtomicUsize,
    }

    impl KeyService for Counting {
        fn encrypt(&self, _: &MasterKey, _: &[u8]) -> Result<String, KeyError> {
            Ok("wrapped".into())
        }
        fn decrypt(&self, _: &MasterKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let byte = enc.bytes().last().unwrap_or(0);
            Ok(Zeroizing::new(vec![byte; 32]))
        }
    }

    fn metadata(enc: &str) -> Metadata {
        Metadata {
            key_groups: vec![KeyGroup {
                keys: vec![KeyEntry {
                    key: MasterKey::Age(rsops_keys::age::AgeKey {
                        recipient: "age1test".into(),
                    }),
                    enc: enc.into(),
                    created_at: String::new(),
                }],
            }],
            shamir_threshold: 0,
            last_modified: "2024-01-01T00:00:00Z".into(),
            mac: String::new(),
            selection: None,
            mac_only_encrypted: false,
            version: "3.11.0".into(),
        }
    }

    #[test]
    fn each_distinct_data_key_is_unwrapped_once() {
        let service = Counting {
            calls: AtomicUsize::new(0),
        };
        let cache = KeyCache::default();
        let order = datakey::DEFAULT_DECRYPTION_ORDER;
        let (a, b) = (metadata("enc-a"), metadata("enc-b"));
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10 {
                        let ka = cache.data_key(&a, &service, &order).unwrap();
                        assert_eq!(ka.bytes(), &[b'a'; 32]);
                        let kb = cache.data_key(&b, &service, &order).unwrap();
                        assert_eq!(kb.bytes(), &[b'b'; 32]);
                    }
                });
            }
        });
        assert_eq!(service.calls.load(Ordering::SeqCst), 2);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn a_failed_unwrap_is_remembered_with_its_exit_code() {
        struct Failing(AtomicUsize);
        impl KeyService for Failing {
            fn encrypt(&self, _: &MasterKey, _: &[u8]) -> Result<String, KeyError> {
                Ok(String::new())
            }
            fn decrypt(&self, _: &MasterKey, _: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
                self.0.fetch_add(1, Ordering::SeqCst);
                Err(KeyError::Unsupported("test"))
            }
        }
        let service = Failing(AtomicUsize::new(0));
        let cache = KeyCache::default();
        let md = metadata("enc");
        for _ in 0..3 {
            let f = cache.data_key(&md, &service, &[]).unwrap_err();
            assert_eq!(f.exit_code(), crate::error::code::COULD_NOT_RETRIEVE_KEY);
        }
        assert_eq!(service.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn key_groups_id_tells_keys_apart() {
        let a = metadata("x");
        let mut b = metadata("x");
        assert_eq!(key_groups_id(&a), key_groups_id(&b));
        b.shamir_threshold = 2;
        assert_ne!(key_groups_id(&a), key_groups_id(&b));
        assert_ne!(key_groups_id(&a), key_groups_id(&metadata("y")));
    }

    #[test]
    fn for_each_file_commits_every_written_file_and_reports_commit_failures() {
        let dir = tempfile::tempdir().unwrap();
        let mut files: Vec<String> = (0..150)
            .map(|i| {
                dir.path()
                    .join(format!("f{i}"))
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        // A target that cannot be replaced (a non-empty directory) fails at
        // commit time and is reported under its own name.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir_all(blocked.join("inner")).unwrap();
        files.insert(40, blocked.to_string_lossy().into_owned());
        let paths: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
        let r = for_each_file(&paths, |f, commit| {
            if f.ends_with("f7") {
                return Err(Error::decrypting(rsops_core::CoreError::MacMissing {}));
            }
            let name = f.to_string_lossy().into_owned();
            crate::io::write_atomic(f, name.as_bytes(), Sensitivity::Plaintext, commit)
        });
        let failure = r.unwrap_err();
        assert_eq!(failure.exit_code(), crate::error::code::MAC_MISMATCH);
        let text = failure.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with(&format!("{}: MAC mismatch", files[7])));
        assert!(lines[1].starts_with(&format!("{}: Could not write output file", files[40])));
        for f in files
            .iter()
            .filter(|f| !f.ends_with("/f7") && !f.ends_with("blocked"))
        {
            assert_eq!(std::fs::read(f).unwrap(), f.as_bytes());
        }
        assert!(!dir.path().join("f7").exists());
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 150);
    }

    /// An encrypted-looking YAML file of `n` items (the metadata is not
    /// checked by the cutting).
    fn big_yaml(n: usize) -> String {
        let mut s = String::new();
        for i in 0..n {
            s.push_str(&format!(
                "key_{i}:\n    a: ENC[AES256_GCM,data:x{i},type:str]\n"
            ));
        }
        s.push_str("sops:\n    version: 3.11.0\n");
        s
    }

    #[test]
    fn an_input_file_is_read_in_pieces_and_a_change_while_read_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.enc.yaml");
        let text = big_yaml(5000);
        std::fs::write(&path, &text).unwrap();
        let input = InputFile::open(&path).unwrap();
        let (pieces, meta) = chunk::encrypted_from(rsops_format::Format::Yaml, &input, 4096, 1000)
            .unwrap()
            .unwrap();
        assert!(meta.get("version").is_some());
        assert!(pieces.len() > 20);
        assert!(pieces.parse(pieces.len() - 1).is_ok());
        input.check_unchanged(&path).unwrap();
        // Cut short after the pieces were found: the last piece cannot be
        // read, and the file is reported as changed.
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(text.len() as u64 / 2).unwrap();
        assert!(pieces.parse(pieces.len() - 1).is_err());
        let e = input.check_unchanged(&path).unwrap_err();
        assert!(matches!(e, Error::ReadFile { .. }), "{e}");
        assert!(e.to_string().contains("changed while it was read"), "{e}");
        // Opened again, shorter than it claimed: finding the pieces fails.
        let input = InputFile::open(&path).unwrap();
        f.set_len(100).unwrap();
        assert!(chunk::encrypted_from(rsops_format::Format::Yaml, &input, 4096, 1000).is_err());
        assert!(input.check_unchanged(&path).is_err());
    }

    #[test]
    fn failures_are_one_line_per_file_in_argument_order() {
        let files: Vec<PathBuf> = (0..20).map(|i| format!("f{i}").into()).collect();
        let r = for_each_file(&files, |f, _| {
            if f == Path::new("f3") || f == Path::new("f17") {
                Err(if f == Path::new("f3") {
                    Error::WriteStdout(std::io::Error::other("bad"))
                } else {
                    Error::NonExistentFile(f.into())
                })
            } else {
                Ok(())
            }
        });
        let f = r.unwrap_err();
        assert_eq!(f.exit_code(), 3);
        assert_eq!(
            f.to_string(),
            "f3: Could not write to stdout: bad\nf17: Error: cannot operate on non-existent file f17"
        );
        assert!(for_each_file(&files, |_, _| Ok(())).is_ok());
    }
}
