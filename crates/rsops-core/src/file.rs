//! Whole-file operations: encrypt plaintext documents, open an encrypted
//! file, and re-encrypt edited plaintext with the file's own data key.

use std::io::Write;

use rsops_format::parallel::Parallelism;
use rsops_format::tree::{Map, MapItem};
use rsops_format::{chunk, store, EmitOptions, Format, FormatError, SecretBytes};
use rsops_keys::{KeyKind, KeyService, MasterKey};
use time::OffsetDateTime;

use crate::cipher::ValueCipher;
use crate::datakey::{self, DataKey};
use crate::error::CoreError;
use crate::mac;
use crate::metadata::Metadata;
use crate::selection::Selection;
use crate::walk::{self, IvStash};

/// How to encrypt a new file.
#[derive(Debug, Clone)]
pub struct EncryptOptions {
    /// Master keys, one list per key group.
    pub key_groups: Vec<Vec<MasterKey>>,
    /// Shamir threshold (0: number of groups when there are several).
    pub shamir_threshold: usize,
    /// The selection rule to apply and record; `None` (binary files) applies
    /// the default rule and records nothing.
    pub selection: Option<Selection>,
    /// Hash only encrypted values into the MAC.
    pub mac_only_encrypted: bool,
}

/// `lastmodified` / `created_at` text for `now`: RFC 3339 UTC, seconds.
pub fn timestamp(now: OffsetDateTime) -> String {
    rsops_format::go::format_rfc3339_utc(now)
}

/// Encrypts plaintext documents in place with a new data key and returns
/// the metadata to store with them.
pub fn encrypt(
    docs: &mut [Map],
    opts: &EncryptOptions,
    service: &dyn KeyService,
    now: OffsetDateTime,
) -> Result<Metadata, CoreError> {
    let key = DataKey::generate();
    let mut md = new_metadata(opts, &key, service, now)?;
    let opened = Opened {
        key,
        stash: IvStash::default(),
        mac: String::new(),
    };
    seal(docs, &mut md, &opened, None, now)?;
    Ok(md)
}

/// The metadata of a new file: `key` wrapped for the key groups of `opts`,
/// `lastmodified` = `now`, no MAC yet.
fn new_metadata(
    opts: &EncryptOptions,
    key: &DataKey,
    service: &dyn KeyService,
    now: OffsetDateTime,
) -> Result<Metadata, CoreError> {
    let stamp = timestamp(now);
    let (key_groups, threshold) = datakey::wrap(
        &opts.key_groups,
        opts.shamir_threshold,
        key,
        service,
        &stamp,
    )?;
    let shamir_threshold = if key_groups.len() > 1 {
        threshold
    } else {
        opts.shamir_threshold
    };
    Ok(Metadata {
        key_groups,
        shamir_threshold,
        last_modified: stamp,
        mac: String::new(),
        selection: opts.selection.clone(),
        mac_only_encrypted: opts.mac_only_encrypted,
        version: crate::SOPS_VERSION.to_owned(),
    })
}

/// Where [`encrypt_streaming`] failed; each kind maps to its own sops exit
/// code. Messages never hold values.
#[derive(Debug)]
pub enum StreamError {
    /// The input could not be read by its store.
    Read(FormatError),
    /// The input has a top-level `sops` entry (it is already encrypted).
    AlreadyEncrypted,
    /// Encryption failed (a key that cannot be encrypted, a comment rule
    /// conflict, wrapping the data key).
    Core(CoreError),
    /// The output store cannot write the encrypted tree.
    Dump(FormatError),
    /// Writing the output failed.
    Io(std::io::Error),
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Read(e) | StreamError::Dump(e) => e.fmt(f),
            StreamError::AlreadyEncrypted => {
                f.write_str("the file already has a top-level sops entry")
            }
            StreamError::Core(e) => e.fmt(f),
            StreamError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StreamError {}

/// Output is handed to the sink in pieces of about this size.
const STREAM_CHUNK: usize = 1 << 16;

/// [`encrypt`] of a plaintext YAML (one document) or JSON file straight
/// into `out`, in the bytes `store::emit_encrypted` would give, without
/// ever holding the whole tree or the whole output: each item of the root
/// map is encrypted as soon as it is parsed ([`walk::ItemEncryptor`]: the
/// same selection, AAD paths, comment rules and MAC order as the whole-tree
/// walk, a fresh random IV per value), written, and dropped. The metadata,
/// whose MAC covers every value, is written last, as the last entry of the
/// root map, which is where sops puts it. The data key is wrapped for the
/// key groups once every value is encrypted.
///
/// Only for inputs [`store::can_stream`] accepts. Errors keep the order of
/// the whole-tree path where it matters: a parse error anywhere wins over
/// everything (the rest of the input is still parsed after another
/// failure), then a top-level `sops` entry
/// ([`StreamError::AlreadyEncrypted`]), then the first encryption, output
/// or write error. After an error `out` holds a partial document: write to
/// a temporary file and discard it on error.
#[allow(clippy::too_many_arguments)]
pub fn encrypt_streaming(
    input: &[u8],
    input_format: Format,
    output_format: Format,
    emit: &EmitOptions,
    opts: &EncryptOptions,
    service: &dyn KeyService,
    now: OffsetDateTime,
    par: &dyn Parallelism,
    out: &mut (dyn Write + Send),
) -> Result<(), StreamError> {
    let streamable = |f: Format| matches!(f, Format::Yaml | Format::Json);
    if input.len() >= PIECES_MIN_INPUT && streamable(input_format) && streamable(output_format) {
        if let Some(pieces) = chunk::plain(input_format, input, ENCRYPT_PIECE_BYTES) {
            if pieces.precheck().is_ok() {
                let job = EncryptJob {
                    input,
                    input_format,
                    output_format,
                    emit,
                    opts,
                    service,
                    now,
                    par,
                };
                return job.run(&pieces, out);
            }
        }
    }
    encrypt_sequential(
        input,
        (input_format, output_format),
        emit,
        opts,
        service,
        now,
        par,
        out,
    )
}

/// Plaintext pieces of about this size are encrypted by the workers of a
/// piecewise encryption (their output is about five times larger).
const ENCRYPT_PIECE_BYTES: usize = 64 * 1024;

/// How many pieces per worker a piecewise encryption may run ahead of the
/// one being written (a slow output holds no more than these).
const ENCRYPT_AHEAD_PER_WORKER: usize = 4;

/// A piecewise [`encrypt_streaming`].
struct EncryptJob<'a> {
    input: &'a [u8],
    input_format: Format,
    output_format: Format,
    emit: &'a EmitOptions,
    opts: &'a EncryptOptions,
    service: &'a dyn KeyService,
    now: OffsetDateTime,
    par: &'a dyn Parallelism,
}

impl EncryptJob<'_> {
    /// Encrypts the pieces on the workers of `par` (each piece parsed,
    /// encrypted with a fresh random IV per value, written), joins them in
    /// order (MAC input hashed in document order) and writes each piece's
    /// output to `out` as soon as the pieces before it are written, from
    /// whichever worker joins it; the metadata last.
    /// If a piece cannot be read on its own after all, the rest of the
    /// input is read in one pass from the end of the last piece joined;
    /// any error is the one the sequential path gives.
    fn run(
        &self,
        pieces: &chunk::Pieces<'_>,
        out: &mut (dyn Write + Send),
    ) -> Result<(), StreamError> {
        let key = DataKey::generate();
        let cipher = ValueCipher::new(key.bytes());
        let selection = self
            .opts
            .selection
            .clone()
            .unwrap_or_else(Selection::default_rule);
        let mac_only = self.opts.mac_only_encrypted;
        let walk =
            |items: &mut [MapItem]| walk::encrypt_root_items(items, &cipher, &selection, mac_only);
        let job = PieceJob::new(pieces, self.output_format, self.emit, &walk, false);
        let mut joiner = Joiner::new(mac_only, 1 << 20);
        let ahead = self
            .par
            .workers()
            .clamp(1, crate::pipeline::MAX_WORKERS)
            .saturating_mul(ENCRYPT_AHEAD_PER_WORKER);
        let mut write_error = None;
        let ok = crate::pipeline::run_ordered_within(
            pieces.len(),
            ahead,
            self.par,
            &|k| job.work(k),
            &mut |k, piece| {
                if !joiner.join(&job, k, piece) {
                    return false;
                }
                match out.write_all(&joiner.out) {
                    Ok(()) => {
                        // Encrypted output is what the destination gets: it
                        // is freed without wiping, and the next piece's
                        // buffer takes its place.
                        drop(std::mem::take(&mut *joiner.out));
                        true
                    }
                    Err(e) => {
                        write_error = Some(e);
                        false
                    }
                }
            },
        );
        if let Some(e) = write_error {
            return Err(StreamError::Io(e));
        }
        if !ok {
            self.rest_in_one_pass(pieces, &mut joiner, &walk, out)?;
        }
        let mut writer = match joiner.prev.take() {
            Some(w) => w,
            None => return self.sequential_error(),
        };
        let computed = joiner.mac.finish();
        let mut md =
            new_metadata(self.opts, &key, self.service, self.now).map_err(StreamError::Core)?;
        md.mac =
            mac::encrypt_mac(&cipher, &computed, &md.last_modified).map_err(StreamError::Core)?;
        writer.drain_into(out).map_err(StreamError::Io)?;
        let rest = writer.finish(md.to_tree()).map_err(StreamError::Dump)?;
        out.write_all(&rest).map_err(StreamError::Io)?;
        out.flush().map_err(StreamError::Io)
    }

    /// Reads, encrypts and writes the items from the first piece not
    /// joined to the end in one pass, with the writer and MAC of the pieces
    /// joined. Root items are walked in runs that end with an entry, so
    /// that comment rules see what one walk sees.
    fn rest_in_one_pass(
        &self,
        pieces: &chunk::Pieces<'_>,
        joiner: &mut Joiner,
        walk: &PieceWalk<'_>,
        out: &mut dyn Write,
    ) -> Result<(), StreamError> {
        let from = joiner.joined;
        let mut writer = match joiner.prev.take() {
            Some(w) => w,
            None => store::RootWriter::new(self.output_format, self.emit)
                .ok_or_else(|| StreamError::Dump(FormatError::Emit("no writer".to_owned())))?,
        };
        let mut run: Vec<MapItem> = Vec::new();
        let mut failed = false;
        let mut on_item = |item: MapItem| -> Result<(), FormatError> {
            if failed {
                return Ok(());
            }
            let is_entry = matches!(item, MapItem::Entry(_));
            if is_entry {
                let keys = pieces.root_keys(std::slice::from_ref(&item));
                if keys
                    .and_then(|k| chunk::check_keys(&mut joiner.seen, k))
                    .is_err()
                {
                    failed = true;
                    return Ok(());
                }
            }
            run.push(item);
            if is_entry {
                failed = !walk_and_write(&mut run, walk, joiner, &mut writer, out);
            }
            Ok(())
        };
        let read = pieces.read_from(from, &mut on_item);
        // Comments after the last entry (they wait in the writer for the
        // metadata entry).
        if read.is_err() || failed || !walk_and_write(&mut run, walk, joiner, &mut writer, out) {
            return self.sequential_error();
        }
        joiner.prev = Some(writer);
        Ok(())
    }

    /// The error of the sequential path on this input (its output is
    /// discarded): the exact error of a broken input.
    fn sequential_error(&self) -> Result<(), StreamError> {
        encrypt_sequential(
            self.input,
            (self.input_format, self.output_format),
            self.emit,
            self.opts,
            self.service,
            self.now,
            self.par,
            &mut std::io::sink(),
        )?;
        // Only a piece that could not be read on its own, yet the whole
        // input reads: the output already written cannot be taken back.
        Err(StreamError::Dump(FormatError::Emit(
            "the input could not be encrypted in pieces".to_owned(),
        )))
    }
}

/// Walks a run of root items, feeds their MAC input to `joiner` and writes
/// them with `writer` into `out`; false on any failure. The run is emptied.
fn walk_and_write(
    run: &mut Vec<MapItem>,
    walk: &PieceWalk<'_>,
    joiner: &mut Joiner,
    writer: &mut store::RootWriter,
    out: &mut dyn Write,
) -> bool {
    if run.is_empty() {
        return true;
    }
    let ok = match walk(run) {
        Ok(recorded) => {
            joiner.mac.update(&recorded);
            run.iter().all(|i| writer.item(i).is_ok()) && writer.drain_into(out).is_ok()
        }
        Err(_) => false,
    };
    run.clear();
    ok
}

/// The item-by-item [`encrypt_streaming`] on the calling thread (a
/// medium-sized YAML input parsed whole with `par`).
#[allow(clippy::too_many_arguments)]
fn encrypt_sequential(
    input: &[u8],
    (input_format, output_format): (Format, Format),
    emit: &EmitOptions,
    opts: &EncryptOptions,
    service: &dyn KeyService,
    now: OffsetDateTime,
    par: &dyn Parallelism,
    out: &mut dyn Write,
) -> Result<(), StreamError> {
    let Some(mut writer) = store::RootWriter::new(output_format, emit) else {
        return Err(StreamError::Dump(FormatError::Emit(format!(
            "the {} store is not written item by item",
            output_format.name()
        ))));
    };
    let key = DataKey::generate();
    let cipher = ValueCipher::new(key.bytes());
    let selection = opts
        .selection
        .clone()
        .unwrap_or_else(Selection::default_rule);
    let mut encryptor = walk::ItemEncryptor::new(&cipher, &selection, opts.mac_only_encrypted);
    let mut already_encrypted = false;
    let mut failure: Option<StreamError> = None;
    let mut on_item = |mut item: MapItem| -> Result<(), FormatError> {
        if is_metadata_entry(&item) {
            already_encrypted = true;
        }
        if already_encrypted || failure.is_some() {
            // Keep parsing: a parse error later in the file still wins.
            return Ok(());
        }
        failure = encrypt_and_write(&mut encryptor, &mut writer, &mut item, out).err();
        Ok(())
    };
    read_items(input_format, input, par, &mut on_item).map_err(StreamError::Read)?;
    if already_encrypted {
        return Err(StreamError::AlreadyEncrypted);
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let computed = encryptor.finish();
    let mut md = new_metadata(opts, &key, service, now).map_err(StreamError::Core)?;
    md.mac = mac::encrypt_mac(&cipher, &computed, &md.last_modified).map_err(StreamError::Core)?;
    writer.drain_into(out).map_err(StreamError::Io)?;
    let rest = writer.finish(md.to_tree()).map_err(StreamError::Dump)?;
    out.write_all(&rest).map_err(StreamError::Io)?;
    out.flush().map_err(StreamError::Io)
}

/// Inputs from this size up to [`WHOLE_PARSE_MAX_BYTES`] are parsed whole
/// (in two halves for the caller's executor, see `yaml::parse_data`)
/// before their items are encrypted and written; the tree of such an input
/// is small.
const WHOLE_PARSE_MIN_BYTES: usize = 256 * 1024;

/// Larger inputs are read item by item, so that memory stays bounded.
const WHOLE_PARSE_MAX_BYTES: usize = 4 * 1024 * 1024;

/// Hands the root items of `input` to `on_item` in order, like
/// [`store::read_root_items`] (which gives the same items as a whole
/// parse). A medium-sized YAML input is parsed whole first, which lets the
/// YAML parser share the work with `par`'s workers.
fn read_items(
    format: Format,
    input: &[u8],
    par: &dyn Parallelism,
    on_item: &mut dyn FnMut(MapItem) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let whole = (WHOLE_PARSE_MIN_BYTES..WHOLE_PARSE_MAX_BYTES).contains(&input.len());
    if !(whole && format == Format::Yaml) {
        return store::read_root_items(format, input, on_item);
    }
    for doc in store::load_plain_with(format, input, &EmitOptions::default(), par)? {
        for item in doc.items {
            on_item(item)?;
        }
    }
    Ok(())
}

/// Whether a root item is a `sops` entry.
fn is_metadata_entry(item: &MapItem) -> bool {
    matches!(item, MapItem::Entry(e) if e.key.as_str() == Some(store::METADATA_KEY))
}

/// Encrypts one root item in place, writes it and hands full chunks of
/// output to `out`.
fn encrypt_and_write(
    encryptor: &mut walk::ItemEncryptor<'_>,
    writer: &mut store::RootWriter,
    item: &mut MapItem,
    out: &mut dyn Write,
) -> Result<(), StreamError> {
    encryptor.item(item).map_err(StreamError::Core)?;
    writer.item(item).map_err(StreamError::Dump)?;
    if writer.pending_output() >= STREAM_CHUNK {
        writer.drain_into(out).map_err(StreamError::Io)?;
    }
    Ok(())
}

/// Walks the root items of a piece (decrypts or encrypts them) and returns
/// their MAC input.
type PieceWalk<'w> = dyn Fn(&mut [MapItem]) -> Result<SecretBytes, CoreError> + Sync + 'w;

/// A piece of a document walked and written by a worker
/// ([`crate::pipeline`]), waiting to be joined to the output in order.
struct Walked {
    /// The piece written by its own writer (continuing the document unless
    /// it is the first piece).
    out: SecretBytes,
    /// That writer, after the piece's items.
    writer: store::RootWriter,
    /// The walked items, kept when the piece may have to be written again
    /// by the writer of the pieces before it (see [`Joiner::join`]).
    items: Option<Wiped>,
    /// The MAC input of the piece's values.
    mac: SecretBytes,
    /// Its top-level keys (YAML), checked for duplicates across pieces.
    keys: Vec<String>,
}

/// The items of a piece; decrypted ones are wiped when dropped (their
/// values are secrets), encrypted ones just freed.
struct Wiped(Vec<MapItem>, bool);

impl Drop for Wiped {
    fn drop(&mut self) {
        use rsops_format::tree::Wipe;
        if self.1 {
            let mut map = Map {
                items: std::mem::take(&mut self.0),
            };
            map.wipe();
        }
    }
}

/// Whether the writer of each piece ended in the state a continuing
/// writer starts from: unknown yet, yes, no.
const CLEAN_UNKNOWN: u8 = 0;
const CLEAN_YES: u8 = 1;
const CLEAN_NO: u8 = 2;

/// What the workers of a piecewise walk share.
struct PieceJob<'a> {
    pieces: &'a chunk::Pieces<'a>,
    output_format: Format,
    emit: &'a EmitOptions,
    /// Walks the items of a piece (decrypts or encrypts them) and returns
    /// their MAC input.
    walk: &'a PieceWalk<'a>,
    /// Per piece, [`CLEAN_UNKNOWN`], [`CLEAN_YES`] or [`CLEAN_NO`].
    clean: Vec<std::sync::atomic::AtomicU8>,
    /// Whether walked items hold plaintext (wiped when dropped).
    wipe: bool,
}

impl PieceJob<'_> {
    fn new<'a>(
        pieces: &'a chunk::Pieces<'a>,
        output_format: Format,
        emit: &'a EmitOptions,
        walk: &'a PieceWalk<'a>,
        wipe: bool,
    ) -> PieceJob<'a> {
        PieceJob {
            wipe,
            pieces,
            output_format,
            emit,
            walk,
            clean: (0..pieces.len())
                .map(|_| std::sync::atomic::AtomicU8::new(CLEAN_UNKNOWN))
                .collect(),
        }
    }

    /// Parses and walks piece `k`; `None` on any failure.
    fn items(&self, k: usize) -> Option<(Wiped, SecretBytes, Vec<String>)> {
        let mut items = Wiped(self.pieces.parse(k).ok()?, self.wipe);
        let keys = self.pieces.root_keys(&items.0).ok()?;
        let mac = (self.walk)(&mut items.0).ok()?;
        Some((items, mac, keys))
    }

    /// The work of one worker on piece `k`: parse, walk, write.
    fn work(&self, k: usize) -> Option<Walked> {
        use std::sync::atomic::Ordering;
        let (items, mac, keys) = self.items(k)?;
        let mut writer = store::RootWriter::piece(self.output_format, self.emit, k > 0)?;
        for item in &items.0 {
            writer.item(item).ok()?;
        }
        let out = SecretBytes::from(writer.take_output());
        let clean = if writer.continues_cleanly() {
            CLEAN_YES
        } else {
            CLEAN_NO
        };
        if let Some(c) = self.clean.get(k) {
            c.store(clean, Ordering::Release);
        }
        // The items are needed again only if the piece before may not end
        // where a continuing writer starts.
        let before_clean = k
            .checked_sub(1)
            .and_then(|b| self.clean.get(b))
            .is_none_or(|c| c.load(Ordering::Acquire) == CLEAN_YES);
        Some(Walked {
            out,
            writer,
            items: (!before_clean).then_some(items),
            mac,
            keys,
        })
    }
}

/// Joins walked pieces in order: checks their keys, feeds their MAC input,
/// and appends their output, or, when the writer of the pieces before does
/// not end where a continuing writer starts, writes the piece's items
/// again with that writer (so that the bytes are those of one writer).
struct Joiner {
    /// How many pieces were joined.
    joined: usize,
    prev: Option<store::RootWriter>,
    mac: walk::MacHasher,
    seen: std::collections::HashSet<String>,
    out: SecretBytes,
    /// When the whole output is kept: the input size, and the end of the
    /// input of the pieces joined, from which its size is projected.
    projection: Option<(usize, usize)>,
}

impl Joiner {
    fn new(mac_only_encrypted: bool, capacity: usize) -> Joiner {
        Joiner {
            joined: 0,
            prev: None,
            mac: walk::MacHasher::new(mac_only_encrypted),
            seen: std::collections::HashSet::new(),
            out: SecretBytes::with_capacity(capacity),
            projection: None,
        }
    }

    /// A joiner that keeps the whole output of an input of `input_len`
    /// bytes: it starts small and, once it must grow, makes room for what
    /// the pieces joined so far project (so that the output is moved once
    /// or twice, and wiping it touches little memory it never used).
    fn keeping(mac_only_encrypted: bool, input_len: usize) -> Joiner {
        let mut joiner = Joiner::new(mac_only_encrypted, input_len / 16 + (1 << 16));
        joiner.projection = Some((input_len, 0));
        joiner
    }

    /// Joins piece `k`; false on a failure.
    fn join(&mut self, job: &PieceJob<'_>, k: usize, piece: Walked) -> bool {
        if chunk::check_keys(&mut self.seen, piece.keys).is_err() {
            return false;
        }
        if let (Some((_, done)), Some(range)) = (&mut self.projection, job.pieces.range(k)) {
            *done = range.end;
        }
        match self.prev.take() {
            Some(mut prev) if !prev.continues_cleanly() => {
                let items = match piece.items {
                    Some(items) => items,
                    None => match job.items(k) {
                        Some((items, _, _)) => items,
                        None => return false,
                    },
                };
                for item in &items.0 {
                    if prev.item(item).is_err() {
                        return false;
                    }
                }
                let mut again = SecretBytes::new();
                if prev.drain_into(&mut *again).is_err() {
                    return false;
                }
                self.append(&again);
                self.prev = Some(prev);
            }
            _ => {
                if self.out.is_empty() && self.projection.is_none() {
                    // Output that is written after each piece: the
                    // piece's buffer is taken over, not copied.
                    self.out = piece.out;
                } else {
                    self.append(&piece.out);
                }
                self.prev = Some(piece.writer);
            }
        }
        self.mac.update(&piece.mac);
        self.joined += 1;
        true
    }

    /// Appends to the output; when it must grow, the old buffer is wiped
    /// (not just freed).
    fn append(&mut self, bytes: &[u8]) {
        if self.out.capacity() - self.out.len() < bytes.len() {
            let need = self.out.len() + bytes.len();
            let grown = match self.projection {
                // What the output per input byte so far gives for the
                // whole input, and a little more; at least a quarter more.
                Some((total, done)) if done > 0 => {
                    let projected = u128::try_from(need).unwrap_or(u128::MAX)
                        * u128::try_from(total).unwrap_or(u128::MAX)
                        / u128::try_from(done).unwrap_or(1).max(1);
                    let projected = usize::try_from(projected).unwrap_or(usize::MAX);
                    let more = self.out.capacity().saturating_add(self.out.capacity() / 4);
                    projected.saturating_add(projected / 8).max(more)
                }
                _ => self.out.capacity().saturating_mul(2),
            };
            let want = need.max(grown);
            let mut grown = SecretBytes::with_capacity(want);
            grown.extend_from_slice(&self.out);
            // The old buffer is wiped when `self.out` is replaced.
            self.out = grown;
        }
        self.out.extend_from_slice(bytes);
    }
}

/// Input from this size up is decrypted in pieces ([`decrypt_pieces`]) by
/// callers; below it one whole parse is as fast.
pub const PIECES_MIN_INPUT: usize = 256 * 1024;

/// Decrypts an encrypted YAML or JSON file cut into pieces at its root
/// items ([`chunk::encrypted`], which also gave `md`) into the bytes
/// `store::emit_plain` gives the whole decrypted document in
/// `output_format` (YAML or JSON), without ever building the whole tree:
/// the pieces are parsed, decrypted and written by the workers of `par`,
/// and joined in order (their MAC input hashed in document order) as they
/// complete. The MAC is checked (unless `ignore_mac`) before the output is
/// returned; nothing is written anywhere here.
///
/// `Ok(None)` when the file must be read whole instead: a piece that does
/// not parse on its own, a duplicate top-level key, a value that does not
/// decrypt, ... — the whole-file path then reports the exact error of a
/// broken file. A MAC that does not match is reported here (every piece
/// parsed and decrypted, so the whole-file path would find the same MAC).
pub fn decrypt_pieces(
    pieces: &chunk::Pieces<'_>,
    md: &Metadata,
    key: &DataKey,
    output_format: Format,
    emit: &EmitOptions,
    ignore_mac: bool,
    par: &dyn Parallelism,
) -> Result<Option<SecretBytes>, CoreError> {
    let cipher = ValueCipher::new(key.bytes());
    let selection = md.effective_selection();
    let walk = |items: &mut [MapItem]| {
        walk::decrypt_root_items(items, &cipher, &selection, md.mac_only_encrypted)
    };
    let job = PieceJob::new(pieces, output_format, emit, &walk, true);
    // The plaintext is about a fifth of the encrypted input.
    let mut joiner = Joiner::keeping(md.mac_only_encrypted, pieces.input_len());
    let count = pieces.len();
    let joined = crate::pipeline::run_ordered(count, par, &|k| job.work(k), &mut |k, piece| {
        joiner.join(&job, k, piece)
    });
    if !joined {
        return Ok(None);
    }
    let Some(last) = joiner.prev.take() else {
        return Ok(None);
    };
    let Ok(tail) = last.finish_plain() else {
        return Ok(None);
    };
    let tail = SecretBytes::from(tail);
    joiner.append(&tail);
    if !ignore_mac {
        mac::verify_mac(&cipher, &md.mac, &md.last_modified, &joiner.mac.finish())?;
    }
    Ok(Some(std::mem::take(&mut joiner.out)))
}

/// Whether every piece parses on its own, with no top-level key in two
/// pieces: then the whole document parses to those items (pieces hold
/// exactly the items the whole document has in their place), so an error
/// met after parsing, such as a data key that cannot be recovered, is the
/// error the whole-file path reports. The pieces are parsed by the workers
/// of `par` and dropped (their values are still encrypted).
pub fn pieces_parse(pieces: &chunk::Pieces<'_>, par: &dyn Parallelism) -> bool {
    let mut seen = std::collections::HashSet::new();
    let keys = |k: usize| {
        let items = pieces.parse(k).ok()?;
        pieces.root_keys(&items).ok()
    };
    crate::pipeline::run_ordered(pieces.len(), par, &keys, &mut |_, keys| {
        chunk::check_keys(&mut seen, keys).is_ok()
    })
}

/// An opened file: its data key and the IVs of its values.
#[derive(Debug)]
pub struct Opened {
    /// The data key.
    pub key: DataKey,
    /// IVs of the values as they were in the file.
    pub stash: IvStash,
    /// The MAC of the plaintext as it was in the file (uppercase hex).
    pub mac: String,
}

/// Decrypts `docs` in place: recovers the data key through `service`
/// (keys tried in `order`), decrypts the selected values (a large tree in
/// pieces run by `par`) and checks the MAC unless `ignore_mac`.
pub fn decrypt(
    docs: &mut [Map],
    md: &Metadata,
    service: &dyn KeyService,
    order: &[KeyKind],
    ignore_mac: bool,
    par: &dyn Parallelism,
) -> Result<Opened, CoreError> {
    let key = datakey::unwrap(md, service, order)?;
    let cipher = ValueCipher::new(key.bytes());
    let (computed, stash) = walk::decrypt_documents(
        docs,
        &cipher,
        &md.effective_selection(),
        md.mac_only_encrypted,
        par,
    )?;
    if !ignore_mac {
        mac::verify_mac(&cipher, &md.mac, &md.last_modified, &computed)?;
    }
    Ok(Opened {
        key,
        stash,
        mac: computed,
    })
}

/// Decrypts `docs` in place with an already recovered data key and checks
/// the MAC unless `ignore_mac`: [`decrypt`] for read-only uses, without the
/// IV stash that only re-encryption needs.
pub fn decrypt_with_key(
    docs: &mut [Map],
    md: &Metadata,
    key: &DataKey,
    ignore_mac: bool,
    par: &dyn Parallelism,
) -> Result<(), CoreError> {
    let cipher = ValueCipher::new(key.bytes());
    let computed = walk::decrypt_documents_mac(
        docs,
        &cipher,
        &md.effective_selection(),
        md.mac_only_encrypted,
        par,
    )?;
    if !ignore_mac {
        mac::verify_mac(&cipher, &md.mac, &md.last_modified, &computed)?;
    }
    Ok(())
}

/// Re-encrypts edited plaintext with the file's data key: values whose path
/// and plaintext did not change keep their exact ciphertext. `lastmodified`
/// and the MAC are renewed only when the values changed, so rewriting an
/// unchanged file gives back the same bytes.
pub fn reencrypt(
    docs: &mut [Map],
    md: &mut Metadata,
    opened: &Opened,
    now: OffsetDateTime,
) -> Result<(), CoreError> {
    seal(docs, md, opened, Some(&opened.stash), now)
}

fn seal(
    docs: &mut [Map],
    md: &mut Metadata,
    opened: &Opened,
    stash: Option<&IvStash>,
    now: OffsetDateTime,
) -> Result<(), CoreError> {
    let cipher = ValueCipher::new(opened.key.bytes());
    let computed = walk::encrypt_documents(
        docs,
        &cipher,
        &md.effective_selection(),
        md.mac_only_encrypted,
        stash,
    )?;
    if stash.is_some() && computed == opened.mac && !md.mac.is_empty() {
        return Ok(());
    }
    md.last_modified = timestamp(now);
    md.mac = mac::encrypt_mac(&cipher, &computed, &md.last_modified)?;
    Ok(())
}

/// Rotates the data key of an opened file: generates a new data key, wraps
/// it for `key_groups` (the metadata's Shamir threshold is kept; 0 with
/// several groups becomes the number of groups) and re-encrypts the
/// plaintext `docs` in place with it. Values keep their IVs (sops reuses
/// them with the new key), so every `ENC[...]` changes; `lastmodified` and
/// the MAC are renewed. Entries of keys that were already in the file keep
/// their `created_at`. `version` is left as it was.
pub fn rotate(
    docs: &mut [Map],
    md: &mut Metadata,
    opened: &Opened,
    key_groups: &[Vec<MasterKey>],
    service: &dyn KeyService,
    now: OffsetDateTime,
) -> Result<(), CoreError> {
    let key = DataKey::generate();
    let stamp = timestamp(now);
    let (mut groups, threshold) =
        datakey::wrap(key_groups, md.shamir_threshold, &key, service, &stamp)?;
    datakey::keep_created_at(&md.key_groups, &mut groups);
    if groups.len() > 1 {
        md.shamir_threshold = threshold;
    }
    md.key_groups = groups;
    let cipher = ValueCipher::new(key.bytes());
    let computed = walk::encrypt_documents(
        docs,
        &cipher,
        &md.effective_selection(),
        md.mac_only_encrypted,
        Some(&opened.stash),
    )?;
    md.last_modified = stamp;
    md.mac = mac::encrypt_mac(&cipher, &computed, &md.last_modified)?;
    Ok(())
}

#[cfg(test)]
mod rotate_tests {
    use super::*;
    use rsops_format::parallel::Sequential;
    use rsops_format::tree::Value;
    use rsops_keys::error::{AgeDecryptError, DecryptFailure};
    use rsops_keys::KeyError;
    use zeroize::Zeroizing;

    /// Wraps by hex-encoding behind the key string, so the wrong key fails
    /// (deterministic output; also used by `stream_tests`).
    pub(super) struct HexService;

    impl KeyService for HexService {
        fn encrypt(&self, key: &MasterKey, plaintext: &[u8]) -> Result<String, KeyError> {
            Ok(format!("{}:{}", key.key_string(), hex::encode(plaintext)))
        }
        fn decrypt(&self, key: &MasterKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
            let (who, data) = enc.split_once(':').ok_or_else(malformed)?;
            if who != key.key_string() {
                return Err(KeyError::Decrypt(DecryptFailure::Age(
                    AgeDecryptError::NoMatchingIdentity {
                        missing_plugins: Vec::new(),
                        sources: Default::default(),
                    },
                )));
            }
            hex::decode(data)
                .map(Zeroizing::new)
                .map_err(|_| malformed())
        }
    }

    /// A `Decrypt` error for a value that is not one of this service's.
    fn malformed() -> KeyError {
        KeyError::Decrypt(DecryptFailure::Age(AgeDecryptError::Malformed {
            source: age::DecryptError::InvalidHeader,
        }))
    }

    fn doc() -> Map {
        let mut m = Map::new();
        m.push("a", Value::Str("secret".into()));
        m.push("b", Value::Int(7));
        m
    }

    fn encrypted(groups: Vec<Vec<MasterKey>>, threshold: usize) -> (Vec<Map>, Metadata) {
        let mut docs = vec![doc()];
        let md = encrypt(
            &mut docs,
            &EncryptOptions {
                key_groups: groups,
                shamir_threshold: threshold,
                selection: Some(Selection::default_rule()),
                mac_only_encrypted: false,
            },
            &HexService,
            OffsetDateTime::UNIX_EPOCH,
        )
        .expect("encrypt");
        (docs, md)
    }

    #[test]
    fn rotate_changes_key_and_values_and_keeps_plaintext() {
        let groups = vec![
            vec![MasterKey::age("a1")],
            vec![MasterKey::age("a2"), MasterKey::pgp("P1")],
            vec![MasterKey::age("a3")],
        ];
        let (mut docs, mut md) = encrypted(groups.clone(), 2);
        let old_docs = docs.clone();
        let old_md = md.clone();
        let opened =
            decrypt(&mut docs, &md, &HexService, &[], false, &Sequential).expect("decrypt");
        let later = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        rotate(&mut docs, &mut md, &opened, &groups, &HexService, later).expect("rotate");
        assert_eq!(md.shamir_threshold, 2);
        assert_eq!(md.key_groups.len(), 3);
        assert_ne!(md.mac, old_md.mac);
        assert_eq!(md.last_modified, "1970-01-02T00:00:00Z");
        assert_ne!(docs, old_docs, "every value ciphertext changes");
        // The pgp entry existed before: its created_at is kept.
        let created = |m: &Metadata| {
            m.key_groups[1]
                .keys
                .iter()
                .find(|e| e.key == MasterKey::pgp("P1"))
                .map(|e| e.created_at.clone())
        };
        assert_eq!(created(&md), created(&old_md));
        let reopened =
            decrypt(&mut docs, &md, &HexService, &[], false, &Sequential).expect("decrypt new");
        assert_ne!(reopened.key.bytes(), opened.key.bytes());
        assert_eq!(docs, vec![doc()]);
    }

    #[test]
    fn rotate_with_empty_group_fails() {
        let (mut docs, mut md) = encrypted(vec![vec![MasterKey::age("a1")]], 0);
        let opened =
            decrypt(&mut docs, &md, &HexService, &[], false, &Sequential).expect("decrypt");
        let err = rotate(
            &mut docs,
            &mut md,
            &opened,
            &[vec![]],
            &HexService,
            OffsetDateTime::UNIX_EPOCH,
        );
        assert!(matches!(
            err,
            Err(CoreError::KeyGroups(
                crate::error::KeyGroupsError::EmptyGroup
            ))
        ));
    }
}

#[cfg(test)]
mod stream_tests {
    //! [`encrypt_streaming`] against the whole-tree [`encrypt`]: same layout
    //! (every `ENC[...]` masked, since IVs are random), same plaintext and
    //! MAC after decryption, same errors.

    use super::rotate_tests::HexService;
    use super::*;
    use crate::selection::SelectionKind;
    use rsops_format::parallel::Sequential;
    use rsops_format::tree::Value;

    fn options(selection: Selection, mac_only_encrypted: bool) -> EncryptOptions {
        EncryptOptions {
            key_groups: vec![vec![MasterKey::age("age1test")]],
            shamir_threshold: 0,
            selection: Some(selection),
            mac_only_encrypted,
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::days(20000)
    }

    /// Streams `input`; the output bytes.
    fn streamed(
        input: &[u8],
        formats: (Format, Format),
        opts: &EncryptOptions,
    ) -> Result<Vec<u8>, StreamError> {
        let mut out = Vec::new();
        encrypt_streaming(
            input,
            formats.0,
            formats.1,
            &EmitOptions::default(),
            opts,
            &HexService,
            now(),
            &Sequential,
            &mut out,
        )?;
        Ok(out)
    }

    /// The whole-tree path of the CLI: load, encrypt, emit.
    fn whole(input: &[u8], formats: (Format, Format), opts: &EncryptOptions) -> Vec<u8> {
        let mut docs = store::load_plain(formats.0, input).expect("parse");
        let md = encrypt(&mut docs, opts, &HexService, now()).expect("encrypt");
        store::emit_encrypted_in_place(formats.1, &mut docs, md.to_tree(), &EmitOptions::default())
            .expect("emit")
    }

    /// The text with every `ENC[...]` reduced to its type.
    fn masked(out: &[u8]) -> String {
        let text = String::from_utf8_lossy(out);
        let mut rest = text.as_ref();
        let mut masked = String::new();
        while let Some(at) = rest.find("ENC[AES256_GCM,") {
            masked.push_str(&rest[..at]);
            let tail = &rest[at..];
            let end = tail.find(']').map_or(tail.len(), |e| e + 1);
            let ty = tail[..end].rsplit("type:").next().unwrap_or("");
            masked.push_str("ENC<");
            masked.push_str(ty);
            rest = &tail[end..];
        }
        masked.push_str(rest);
        // The wrapped data key (a new random key each time).
        let mut out = String::new();
        let mut rest = masked.as_str();
        while let Some(at) = rest.find("age1test:") {
            let (head, tail) = rest.split_at(at + "age1test:".len());
            out.push_str(head);
            out.push_str("KEY");
            rest = tail.trim_start_matches(|c: char| c.is_ascii_hexdigit());
        }
        out.push_str(rest);
        out
    }

    /// Decrypts an output: the plaintext documents and the computed MAC
    /// (an error when the output store lost what the MAC covers, e.g.
    /// comments written as JSON).
    fn opened(out: &[u8], format: Format) -> Result<(Vec<Map>, String), CoreError> {
        let (mut docs, md) = store::load_encrypted(format, out, &Sequential).expect("reload");
        let md = Metadata::from_tree(&md.expect("metadata")).expect("metadata parses");
        let o = decrypt(&mut docs, &md, &HexService, &[], false, &Sequential)?;
        Ok((docs, o.mac))
    }

    /// Checks streaming against the whole-tree path on one input.
    fn check(input: &str, formats: (Format, Format), opts: &EncryptOptions) {
        let s = streamed(input.as_bytes(), formats, opts).expect("streaming encrypt");
        let w = whole(input.as_bytes(), formats, opts);
        assert_eq!(masked(&s), masked(&w), "layout of {input:?}");
        match (opened(&s, formats.1), opened(&w, formats.1)) {
            (Ok((s_docs, s_mac)), Ok((w_docs, w_mac))) => {
                assert_eq!(s_docs, w_docs, "plaintext of {input:?}");
                assert_eq!(s_mac, w_mac, "MAC of {input:?}");
            }
            (Err(_), Err(_)) => assert_ne!(formats.0, formats.1, "{input:?}"),
            (s, w) => panic!("{input:?}: streamed {:?}, whole {:?}", s.err(), w.err()),
        }
    }

    #[test]
    fn streamed_files_decrypt_to_their_plaintext() {
        for (selection, mac_only) in selections() {
            let opts = options(selection, mac_only);
            let y = (Format::Yaml, Format::Yaml);
            let out = streamed(YAML.as_bytes(), y, &opts).expect("encrypt");
            let (docs, _) = opened(&out, Format::Yaml).expect("decrypt");
            assert_eq!(
                docs,
                store::load_plain(Format::Yaml, YAML.as_bytes()).expect("parse")
            );
        }
    }

    #[test]
    fn medium_and_large_inputs_stream_like_the_whole_tree_path() {
        // Below, inside and above the sizes parsed whole (and on two cores).
        let mut sizes = Vec::new();
        for copies in [100, 5_000, 70_000] {
            let mut input = String::new();
            for i in 0..copies {
                input.push_str(&format!(
                    "# c{i}\nkey{i}:\n  user_unencrypted: u{i}\n  list:\n  - {i}\n  - x y\n"
                ));
            }
            let opts = options(Selection::default_rule(), false);
            check(&input, (Format::Yaml, Format::Yaml), &opts);
            sizes.push(input.len());
        }
        assert!(sizes[0] < WHOLE_PARSE_MIN_BYTES);
        assert!((WHOLE_PARSE_MIN_BYTES..WHOLE_PARSE_MAX_BYTES).contains(&sizes[1]));
        assert!(sizes[2] > WHOLE_PARSE_MAX_BYTES);
    }

    const YAML: &str = "# head\napi_key: s3cret # why\nport: 5432\nlist:\n- a\n# in list\n- 1.5\n# before nested\nnested:\n  user_unencrypted: admin\n  # sops:enc\n  password: pw\n  when: 2024-01-02T00:00:00Z\n  none: null\nempty: ''\n# tail\n";

    fn selections() -> Vec<(Selection, bool)> {
        let rule = |k, p| Selection::new(k, p).expect("valid rule");
        vec![
            (Selection::default_rule(), false),
            (Selection::default_rule(), true),
            (
                rule(SelectionKind::EncryptedRegex, "^(api_key|password)$"),
                true,
            ),
            (rule(SelectionKind::UnencryptedRegex, "^port$"), false),
            (rule(SelectionKind::EncryptedSuffix, "_key"), false),
            (
                rule(SelectionKind::EncryptedCommentRegex, "sops:enc"),
                false,
            ),
            // Anchored at the end: an `ENC[...]` text ends with `]`, so a
            // ciphertext never matches by chance (which sops refuses).
            (rule(SelectionKind::UnencryptedCommentRegex, "why$"), false),
        ]
    }

    #[test]
    fn yaml_and_json_stream_like_the_whole_tree_path() {
        let json = "{\"a\": \"x\", \"n\": {\"k\": [1, true, null, \"y\"]}, \"e\": {}, \"l\": []}";
        for (selection, mac_only) in selections() {
            let opts = options(selection, mac_only);
            for out in [Format::Yaml, Format::Json] {
                check(YAML, (Format::Yaml, out), &opts);
                check(json, (Format::Json, out), &opts);
            }
        }
    }

    #[test]
    fn corpus_inputs_stream_like_the_whole_tree_path() {
        let cases = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sops/cases");
        let dirs = std::fs::read_dir(cases).expect("testdata/sops/cases");
        let mut checked = 0;
        for dir in dirs.flatten() {
            for name in ["input.yaml", "input.json"] {
                let path = dir.path().join(name);
                let Ok(input) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let format = Format::from_path(name);
                if !store::can_stream(format, format, input.as_bytes()) {
                    continue;
                }
                let Ok(docs) = store::load_plain(format, input.as_bytes()) else {
                    continue;
                };
                if docs.is_empty() || store::has_metadata(format, &docs) {
                    continue;
                }
                for (selection, mac_only) in selections() {
                    check(&input, (format, format), &options(selection, mac_only));
                }
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} corpus inputs checked");
    }

    #[test]
    fn errors_match_the_whole_tree_path() {
        let opts = options(Selection::default_rule(), false);
        let y = (Format::Yaml, Format::Yaml);
        // A top-level sops entry, even after other entries.
        assert!(matches!(
            streamed(b"a: 1\nsops: {}\n", y, &opts),
            Err(StreamError::AlreadyEncrypted)
        ));
        // ... but a parse error later in the file wins.
        assert!(matches!(
            streamed(b"sops: 1\nb: [\n", y, &opts),
            Err(StreamError::Read(_))
        ));
        // Keys that cannot be encrypted, then a parse error: the parse error.
        assert!(matches!(
            streamed(b"a:\n  1: x\n", y, &opts),
            Err(StreamError::Core(CoreError::NonStringKey { .. }))
        ));
        assert!(matches!(
            streamed(b"a:\n  1: x\nb: [\n", y, &opts),
            Err(StreamError::Read(_))
        ));
        assert!(matches!(
            streamed(b"a: 1\na: 2\n", y, &opts),
            Err(StreamError::Read(_))
        ));
        assert!(matches!(
            streamed(b"", y, &opts),
            Err(StreamError::Read(FormatError::NoDocument))
        ));
        assert!(matches!(
            streamed(b"{\"sops\": 1}", (Format::Json, Format::Json), &opts),
            Err(StreamError::AlreadyEncrypted)
        ));
        // An empty key group fails when the data key is wrapped.
        let mut no_keys = opts.clone();
        no_keys.key_groups = vec![vec![]];
        assert!(matches!(
            streamed(b"a: 1\n", y, &no_keys),
            Err(StreamError::Core(CoreError::KeyGroups(
                crate::error::KeyGroupsError::EmptyGroup
            )))
        ));
        // Stores that are not written item by item.
        assert!(matches!(
            streamed(b"a: 1\n", (Format::Yaml, Format::Dotenv), &opts),
            Err(StreamError::Dump(_))
        ));
    }

    #[test]
    fn every_value_gets_its_own_iv() {
        let opts = options(Selection::default_rule(), false);
        let input = "a: same\nb: same\n";
        let one = streamed(input.as_bytes(), (Format::Yaml, Format::Yaml), &opts).expect("encrypt");
        let two = streamed(input.as_bytes(), (Format::Yaml, Format::Yaml), &opts).expect("encrypt");
        assert_ne!(one, two);
        let docs = store::load_encrypted(Format::Yaml, &one, &Sequential)
            .expect("reload")
            .0;
        let values: Vec<&Value> = docs[0].entries().map(|e| &e.value).collect();
        assert_ne!(values[0], values[1]);
    }
}

#[cfg(test)]
mod piece_tests {
    //! Decryption and encryption in pieces against the whole-tree paths:
    //! the same bytes (decryption) or the same plaintext and MAC
    //! (encryption), whichever executor runs the pieces; errors left to
    //! the whole-file path, except a MAC mismatch.

    use super::rotate_tests::HexService;
    use super::*;
    use crate::selection::SelectionKind;
    use rsops_format::parallel::Sequential;

    use rsops_format::parallel::TestThreads as Threads;

    fn executors() -> [&'static dyn Parallelism; 3] {
        [&Sequential, &Threads(2), &Threads(3)]
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::days(20000)
    }

    fn options(selection: Selection) -> EncryptOptions {
        EncryptOptions {
            key_groups: vec![vec![MasterKey::age("age1test")]],
            shamir_threshold: 0,
            selection: Some(selection),
            mac_only_encrypted: false,
        }
    }

    /// A plaintext YAML document of `n` top-level items with comments,
    /// lists, block scalars and values of every type.
    fn plaintext(n: usize) -> String {
        let mut s = String::from("# head\n");
        for i in 0..n {
            s.push_str(&format!(
                "# before {i}\nsvc_{i}:\n  name: n{i} # inline {i}\n  port: {i}\n  ratio: 0.5\n  on: true\n  none: null\n  when: 2024-01-02T00:00:00Z\n  # sops:enc\n  password: pw{i}\n  user_unencrypted: u{i}\n  text: |\n    line one\n    line two\n  list:\n  - a\n  # in list\n  - {i}\n  nested:\n    deep: [1, x]\n"
            ));
            if i % 7 == 3 {
                s.push_str(&format!("flat_{i}: value {i}\n"));
            }
        }
        // A comment right before the metadata would make it no cut: such
        // a file is read whole.
        s.push_str("last:\n  k: v\n");
        s
    }

    /// Encrypted with the whole-tree path.
    fn encrypted(plain: &str, input: Format, output: Format, selection: Selection) -> Vec<u8> {
        let mut docs = store::load_plain(input, plain.as_bytes()).expect("parse");
        let md = encrypt(&mut docs, &options(selection), &HexService, now()).expect("encrypt");
        store::emit_encrypted_in_place(output, &mut docs, md.to_tree(), &EmitOptions::default())
            .expect("emit")
    }

    /// What the whole-file path of `decrypt` writes.
    fn decrypted_whole(
        enc: &[u8],
        format: Format,
        output: Format,
        opts: &EmitOptions,
        ignore_mac: bool,
    ) -> Vec<u8> {
        let (mut docs, md) = store::load_encrypted(format, enc, &Sequential).expect("load");
        let md = Metadata::from_tree(&md.expect("metadata")).expect("metadata");
        let key = datakey::unwrap(&md, &HexService, &[]).expect("key");
        decrypt_with_key(&mut docs, &md, &key, ignore_mac, &Sequential).expect("decrypt");
        store::emit_plain(output, &docs, opts).expect("emit")
    }

    /// Decrypted in pieces of `target` bytes.
    fn decrypted_in_pieces(
        enc: &[u8],
        format: Format,
        output: Format,
        opts: &EmitOptions,
        target: usize,
        par: &dyn Parallelism,
        ignore_mac: bool,
    ) -> Result<Option<SecretBytes>, CoreError> {
        let (pieces, meta) = chunk::encrypted(format, enc, target).expect("pieces");
        let md = Metadata::from_tree(&meta).expect("metadata");
        let key = datakey::unwrap(&md, &HexService, &[]).expect("key");
        let in_memory = decrypt_pieces(&pieces, &md, &key, output, opts, ignore_mac, par);
        // Read from a source in small blocks (values and lines straddle
        // them), the pieces reading their text as they are parsed: the
        // same outcome.
        let source: &[u8] = enc;
        for block in [5, 4096] {
            let (pieces, meta) = chunk::encrypted_from(format, &source, target, block)
                .expect("read")
                .expect("pieces");
            let md = Metadata::from_tree(&meta).expect("metadata");
            let streamed = decrypt_pieces(&pieces, &md, &key, output, opts, ignore_mac, par);
            assert_eq!(
                format!("{streamed:?}"),
                format!("{in_memory:?}"),
                "block {block}"
            );
        }
        in_memory
    }

    fn rule(kind: SelectionKind, pattern: &str) -> Selection {
        Selection::new(kind, pattern).expect("rule")
    }

    #[test]
    fn pieces_decrypt_to_the_bytes_of_the_whole_file_path() {
        let plain = plaintext(40);
        let selections = [
            Selection::default_rule(),
            rule(SelectionKind::EncryptedCommentRegex, "sops:enc"),
            rule(SelectionKind::EncryptedRegex, "^(password|text)$"),
        ];
        for selection in selections {
            for (input, indent) in [(Format::Yaml, 4), (Format::Yaml, 2), (Format::Json, 0)] {
                let enc_opts = EmitOptions {
                    yaml_indent: indent,
                    ..EmitOptions::default()
                };
                let mut docs = store::load_plain(Format::Yaml, plain.as_bytes()).unwrap();
                let md =
                    encrypt(&mut docs, &options(selection.clone()), &HexService, now()).unwrap();
                let enc = store::emit_encrypted_in_place(input, &mut docs, md.to_tree(), &enc_opts)
                    .unwrap();
                for output in [Format::Yaml, Format::Json] {
                    for opts in [
                        EmitOptions::default(),
                        EmitOptions {
                            yaml_indent: 2,
                            json_indent: Some(2),
                            ..EmitOptions::default()
                        },
                    ] {
                        // Written as JSON, the file lost its comments,
                        // which the MAC covers.
                        let ignore_mac = input == Format::Json;
                        let whole = decrypted_whole(&enc, input, output, &opts, ignore_mac);
                        for par in executors() {
                            for target in [1, 700, 1 << 20] {
                                let pieces = decrypted_in_pieces(
                                    &enc, input, output, &opts, target, par, ignore_mac,
                                )
                                .expect("no MAC error")
                                .expect("read in pieces");
                                assert_eq!(
                                    String::from_utf8_lossy(&pieces),
                                    String::from_utf8_lossy(&whole),
                                    "{input:?} -> {output:?}, target {target}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_kept_output_grows_once_to_its_projected_size() {
        // 160 pieces of 100 KB of input giving 20 KB of output each.
        let total = 160 * 100_000;
        let mut joiner = Joiner::keeping(false, total);
        let piece = vec![7u8; 20_000];
        let mut capacities = vec![joiner.out.capacity()];
        for k in 1..=160 {
            joiner.projection = Some((total, k * 100_000));
            joiner.append(&piece);
            if joiner.out.capacity() != *capacities.last().unwrap() {
                capacities.push(joiner.out.capacity());
            }
        }
        assert_eq!(joiner.out.len(), 160 * 20_000);
        assert!(joiner.out.iter().all(|b| *b == 7));
        // Started at a sixteenth of the input, grew once to a little more
        // than the output (not to a third of the input, nor by doubling).
        assert_eq!(capacities.len(), 2, "{capacities:?}");
        assert!(
            capacities[1] <= 160 * 20_000 * 9 / 8 + 20_000,
            "{capacities:?}"
        );
    }

    #[test]
    fn a_mac_mismatch_is_reported_and_a_broken_value_left_to_the_whole_path() {
        let plain = plaintext(10);
        let enc = encrypted(
            &plain,
            Format::Yaml,
            Format::Yaml,
            Selection::default_rule(),
        );
        let text = String::from_utf8(enc).unwrap();
        // Another file's MAC, encrypted with the same key: it decrypts but
        // does not match.
        let (_, meta) = chunk::encrypted(Format::Yaml, text.as_bytes(), 1).unwrap();
        let md = Metadata::from_tree(&meta).unwrap();
        let key = datakey::unwrap(&md, &HexService, &[]).unwrap();
        let cipher = ValueCipher::new(key.bytes());
        let other = mac::encrypt_mac(&cipher, "00", &md.last_modified).unwrap();
        let tampered = text.replace(&md.mac, &other);
        assert_ne!(tampered, text);
        let opts = EmitOptions::default();
        for par in executors() {
            let r = decrypted_in_pieces(
                tampered.as_bytes(),
                Format::Yaml,
                Format::Yaml,
                &opts,
                300,
                par,
                false,
            );
            assert!(matches!(r, Err(CoreError::MacMismatch {})), "{r:?}");
            let ignored = decrypted_in_pieces(
                tampered.as_bytes(),
                Format::Yaml,
                Format::Yaml,
                &opts,
                300,
                par,
                true,
            );
            assert!(matches!(ignored, Ok(Some(_))));
        }
        // A value whose ciphertext was changed: the whole path reports it.
        // (Not a comment: one that does not decrypt is kept as it is.)
        let at = text.find("password: ENC[AES256_GCM,data:").unwrap() + 30;
        let mut broken = text.clone();
        broken.replace_range(
            at..at + 2,
            if &text[at..at + 2] == "AA" {
                "BB"
            } else {
                "AA"
            },
        );
        for par in executors() {
            let r = decrypted_in_pieces(
                broken.as_bytes(),
                Format::Yaml,
                Format::Yaml,
                &opts,
                300,
                par,
                false,
            );
            assert!(matches!(r, Ok(None)), "{r:?}");
        }
    }

    /// The text with every `ENC[...]` and wrapped data key reduced.
    fn masked(out: &[u8]) -> String {
        let text = String::from_utf8_lossy(out);
        let mut rest = text.as_ref();
        let mut masked = String::new();
        while let Some(at) = rest.find("ENC[AES256_GCM,") {
            masked.push_str(&rest[..at]);
            let tail = &rest[at..];
            let end = tail.find(']').map_or(tail.len(), |e| e + 1);
            masked.push_str("ENC");
            rest = &tail[end..];
        }
        masked.push_str(rest);
        masked
            .lines()
            .filter(|l| !l.contains("age1test:") && !l.contains("lastmodified"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn pieces_encrypt_like_the_sequential_path() {
        // Large enough to be cut into pieces.
        let plain = plaintext(1200);
        assert!(plain.len() > PIECES_MIN_INPUT);
        let selections = [
            Selection::default_rule(),
            rule(SelectionKind::EncryptedCommentRegex, "sops:enc"),
            rule(SelectionKind::UnencryptedRegex, "^port$"),
        ];
        for selection in selections {
            let opts = options(selection.clone());
            for (input, output) in [(Format::Yaml, Format::Yaml), (Format::Yaml, Format::Json)] {
                if output == Format::Json && selection.kind().is_comment_rule() {
                    // JSON drops the comments the rule selects by: such a
                    // file does not decrypt to its plaintext either way.
                    continue;
                }
                let whole = encrypted(&plain, input, output, selection.clone());
                let (whole_docs, whole_md) =
                    store::load_encrypted(output, &whole, &Sequential).unwrap();
                let whole_md = Metadata::from_tree(&whole_md.unwrap()).unwrap();
                let mut whole_docs = whole_docs;
                // Written as JSON, the file lost its comments, which the
                // MAC covers: compare the computed MACs.
                let ignore_mac = output == Format::Json;
                let whole_mac = decrypt(
                    &mut whole_docs,
                    &whole_md,
                    &HexService,
                    &[],
                    ignore_mac,
                    &Sequential,
                )
                .unwrap()
                .mac;
                for par in [&Sequential as &dyn Parallelism, &Threads(2)] {
                    let mut out = Vec::new();
                    encrypt_streaming(
                        plain.as_bytes(),
                        input,
                        output,
                        &EmitOptions::default(),
                        &opts,
                        &HexService,
                        now(),
                        par,
                        &mut out,
                    )
                    .expect("encrypt in pieces");
                    assert_eq!(masked(&out), masked(&whole));
                    let (mut docs, md) = store::load_encrypted(output, &out, &Sequential).unwrap();
                    let md = Metadata::from_tree(&md.unwrap()).unwrap();
                    let opened =
                        decrypt(&mut docs, &md, &HexService, &[], ignore_mac, &Sequential).unwrap();
                    assert_eq!(docs, whole_docs, "{selection:?} {output:?}");
                    assert_eq!(opened.mac, whole_mac, "{selection:?} {output:?}");
                }
            }
        }
    }

    #[test]
    fn pieces_encrypt_json_and_errors_are_those_of_the_sequential_path() {
        let plain = plaintext(1200);
        let docs = store::load_plain(Format::Yaml, plain.as_bytes()).unwrap();
        let json = String::from_utf8(
            store::emit_plain(Format::Json, &docs, &EmitOptions::default()).unwrap(),
        )
        .unwrap();
        assert!(json.len() > PIECES_MIN_INPUT);
        let opts = options(Selection::default_rule());
        for par in executors() {
            let mut out = Vec::new();
            encrypt_streaming(
                json.as_bytes(),
                Format::Json,
                Format::Json,
                &EmitOptions::default(),
                &opts,
                &HexService,
                now(),
                par,
                &mut out,
            )
            .expect("encrypt");
            let (mut back, md) = store::load_encrypted(Format::Json, &out, &Sequential).unwrap();
            let md = Metadata::from_tree(&md.unwrap()).unwrap();
            decrypt(&mut back, &md, &HexService, &[], false, &Sequential).unwrap();
            let plain_docs = store::load_plain(Format::Json, json.as_bytes()).unwrap();
            assert_eq!(back, plain_docs);
        }
        // Errors late in the input: the sequential path's error.
        for (bad, what) in [
            (format!("{plain}broken: [\n"), "parse"),
            (format!("{plain}svc_3:\n  dup: 1\n"), "duplicate"),
            (format!("{plain}odd:\n  1: x\n"), "non-string key"),
        ] {
            for par in executors() {
                let mut out = Vec::new();
                let r = encrypt_streaming(
                    bad.as_bytes(),
                    Format::Yaml,
                    Format::Yaml,
                    &EmitOptions::default(),
                    &opts,
                    &HexService,
                    now(),
                    par,
                    &mut out,
                );
                let mut seq_out = Vec::new();
                let seq = encrypt_sequential(
                    bad.as_bytes(),
                    (Format::Yaml, Format::Yaml),
                    &EmitOptions::default(),
                    &opts,
                    &HexService,
                    now(),
                    &Sequential,
                    &mut seq_out,
                );
                assert_eq!(
                    r.map_err(|e| e.to_string()),
                    seq.map_err(|e| e.to_string()),
                    "{what}"
                );
            }
        }
    }
}
