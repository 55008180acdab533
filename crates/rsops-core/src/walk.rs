//! The tree walk: encrypts or decrypts exactly the leaves the selection rule
//! picks, in document order, feeding the MAC on the way.
//!
//! Paths are never materialised per leaf: the walk keeps the AAD prefix
//! (`k1:k2:`) in one growing buffer and whether a key on the current path
//! matched the rule in a stack of booleans, so the cost per value is one
//! AES-GCM operation and one hash update.
//!
//! Decryption of a large tree (at least [`PARALLEL_MIN_VALUES`] leaves) is
//! cut into runs of root items, decrypted by tasks of the caller's
//! [`Parallelism`] (on several threads when the caller's executor has
//! them); each run records its MAC input, which is hashed in document
//! order, so the MAC, the tree and the error reported (the first in
//! document order) are those of one sequential walk. Decrypted values are written into the memory of their
//! `ENC[...]` strings (always longer), without an allocation per value.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rsops_format::parallel::{Parallelism, Task};
use rsops_format::tree::{Comment, List, ListItem, Map, MapItem, Value, Wipe};
use rsops_format::SecretBytes;
use sha2::{Digest, Sha256, Sha512};

use zeroize::Zeroizing;

use crate::cipher::{self, IvBuf, ValueCipher, ValueType};
use crate::error::CoreError;
use crate::selection::Selection;

/// IVs of the values of a decrypted file, keyed by a digest of (AAD, type,
/// plaintext), so that re-encrypting an unchanged value with the same data
/// key gives back its exact `ENC[...]` string.
#[derive(Debug, Default, Clone)]
pub struct IvStash {
    ivs: HashMap<[u8; 32], [u8; 32]>,
}

impl IvStash {
    fn digest(aad: &[u8], ty: ValueType, plaintext: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((aad.len() as u64).to_le_bytes());
        h.update(aad);
        h.update(ty.as_str().as_bytes());
        h.update([0u8]);
        h.update(plaintext);
        h.finalize().into()
    }

    fn remember(&mut self, aad: &[u8], ty: ValueType, plaintext: &[u8], iv: &[u8]) {
        if let Ok(iv) = <[u8; 32]>::try_from(iv) {
            self.ivs.insert(Self::digest(aad, ty, plaintext), iv);
        }
    }

    fn lookup(&self, aad: &[u8], ty: ValueType, plaintext: &[u8]) -> Option<[u8; 32]> {
        self.ivs.get(&Self::digest(aad, ty, plaintext)).copied()
    }

    /// Number of remembered values.
    pub fn len(&self) -> usize {
        self.ivs.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.ivs.is_empty()
    }
}

/// What the walk does to selected leaves.
enum Mode<'s> {
    Encrypt {
        stash: Option<&'s IvStash>,
    },
    /// `stash` is `None` when the caller does not need the IVs.
    Decrypt {
        stash: Option<IvStash>,
    },
}

/// One frame of the comment stack: how many of its comments matched.
#[derive(Default, Clone, Copy)]
struct Frame {
    matched: usize,
}

/// Where the MAC input goes: straight into the hash, or, for a piece of a
/// parallel walk, into a buffer hashed after the pieces before it (the
/// hash of the concatenation is the hash of the pieces in order).
enum MacSink {
    Hash(Sha512),
    Record(SecretBytes),
}

impl MacSink {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            MacSink::Hash(h) => h.update(bytes),
            MacSink::Record(buf) => buf.extend_from_slice(bytes),
        }
    }
}

struct Walker<'a> {
    cipher: &'a ValueCipher,
    selection: &'a Selection,
    mac_only_encrypted: bool,
    mode: Mode<'a>,
    mac: MacSink,
    aad: String,
    key_matched: Vec<bool>,
    frames: Vec<Frame>,
    /// The IV of the value being decrypted (reused from value to value).
    iv: IvBuf,
    /// The plaintext of the value being decrypted (reused from value to
    /// value, wiped on drop).
    plaintext: Zeroizing<Vec<u8>>,
}

/// The SHA-256 of `sops`, hashed first when `mac_only_encrypted` is set.
const MAC_ONLY_ENCRYPTED_INIT: &[u8] = b"sops";

impl<'a> Walker<'a> {
    fn new(
        cipher: &'a ValueCipher,
        selection: &'a Selection,
        mac_only_encrypted: bool,
        mode: Mode<'a>,
    ) -> Self {
        let mut mac = Sha512::new();
        if mac_only_encrypted {
            mac.update(Sha256::digest(MAC_ONLY_ENCRYPTED_INIT));
        }
        Walker {
            cipher,
            selection,
            mac_only_encrypted,
            mode,
            mac: MacSink::Hash(mac),
            aad: String::new(),
            key_matched: Vec::new(),
            frames: Vec::new(),
            iv: IvBuf::default(),
            plaintext: Zeroizing::new(Vec::new()),
        }
    }

    /// A walker whose MAC input is recorded for later hashing (the second
    /// piece of a parallel walk: see [`decrypt_chunks`]).
    fn recording(
        cipher: &'a ValueCipher,
        selection: &'a Selection,
        mac_only_encrypted: bool,
        mode: Mode<'a>,
    ) -> Self {
        let mut w = Walker::new(cipher, selection, mac_only_encrypted, mode);
        w.mac = MacSink::Record(SecretBytes::new());
        w
    }

    /// Walks root items of one document (a frame of their own), as
    /// [`Walker::walk_map`] walks all of them.
    fn walk_root_items(&mut self, items: &mut [MapItem]) -> Result<(), CoreError> {
        self.frames.push(Frame::default());
        for item in items {
            self.map_item(item)?;
        }
        self.frames.pop();
        Ok(())
    }

    /// The AAD of a comment: the path of its container (`:` at the root).
    fn container_aad(&self) -> &str {
        if self.aad.is_empty() {
            ":"
        } else {
            &self.aad
        }
    }

    fn comment_matches(&self) -> usize {
        self.frames.iter().map(|f| f.matched).sum()
    }

    /// Whether the current leaf is selected. `self_match` is set for a
    /// comment leaf whose own text matched (already counted in its frame).
    fn selected(&self, comment_self_match: bool) -> bool {
        use crate::selection::SelectionKind as K;
        let any_key = self.key_matched.last().copied().unwrap_or(false);
        let mut comments = 0;
        if self.selection.kind().is_comment_rule() {
            comments = self.comment_matches();
            if comment_self_match && self.selection.kind() == K::EncryptedCommentRegex {
                comments -= 1;
            }
        }
        self.selection.encrypts(any_key, comments)
    }

    fn push_key(&mut self, key: &str) -> usize {
        let len = self.aad.len();
        self.aad.push_str(key);
        self.aad.push(':');
        let parent = self.key_matched.last().copied().unwrap_or(false);
        let matched =
            parent || (!self.selection.kind().is_comment_rule() && self.selection.matches(key));
        self.key_matched.push(matched);
        len
    }

    fn pop_key(&mut self, len: usize) {
        self.aad.truncate(len);
        self.key_matched.pop();
    }

    fn note_comment(&mut self, text: &str) -> bool {
        let m = self.selection.kind().is_comment_rule() && self.selection.matches(text);
        if m {
            if let Some(f) = self.frames.last_mut() {
                f.matched += 1;
            }
        }
        m
    }

    fn clear_frame(&mut self) {
        if let Some(f) = self.frames.last_mut() {
            f.matched = 0;
        }
    }

    fn walk_map(&mut self, map: &mut Map) -> Result<(), CoreError> {
        self.frames.push(Frame::default());
        for item in &mut map.items {
            self.map_item(item)?;
        }
        self.frames.pop();
        Ok(())
    }

    /// One item of the map whose frame is on top of the stack.
    fn map_item(&mut self, item: &mut MapItem) -> Result<(), CoreError> {
        match item {
            MapItem::Comment(c) => self.comment(c)?,
            MapItem::Entry(e) => {
                let key = match e.key.as_str() {
                    Some(k) => k,
                    None => {
                        let ty = match &e.key {
                            rsops_format::Key::Other(v) => v.type_name(),
                            rsops_format::Key::Str(_) => "str",
                        };
                        return Err(CoreError::NonStringKey { type_name: ty });
                    }
                };
                let mark = self.push_key(key);
                let r = self.value(&mut e.value);
                self.pop_key(mark);
                r?;
                self.clear_frame();
            }
        }
        Ok(())
    }

    fn walk_list(&mut self, list: &mut List) -> Result<(), CoreError> {
        self.frames.push(Frame::default());
        for item in &mut list.items {
            match item {
                ListItem::Comment(c) => {
                    // sops stores an encrypted comment inside a list as a
                    // plain string element.
                    if let Some(enc) = self.comment_in_list(c)? {
                        *item = ListItem::Value(Value::Str(enc));
                    }
                }
                ListItem::Value(v) => {
                    if let Some(text) = self.value(v)? {
                        *item = ListItem::Comment(Comment::new(text));
                    }
                    self.clear_frame();
                }
            }
        }
        self.frames.pop();
        Ok(())
    }

    /// Walks a value. Returns `Some(text)` when a list element decrypted to a
    /// comment and must become a comment item again.
    fn value(&mut self, v: &mut Value) -> Result<Option<String>, CoreError> {
        match v {
            Value::Map(m) => self.walk_map(m).map(|_| None),
            Value::List(l) => self.walk_list(l).map(|_| None),
            Value::Null => Ok(None),
            _ => self.leaf(v),
        }
    }

    fn hash(&mut self, selected: bool, plaintext: &[u8]) {
        if !self.mac_only_encrypted || selected {
            self.mac.update(plaintext);
        }
    }

    fn leaf(&mut self, v: &mut Value) -> Result<Option<String>, CoreError> {
        let selected = self.selected(false);
        match &mut self.mode {
            Mode::Encrypt { stash } => {
                let Some(ty) = cipher::scalar_type(v) else {
                    return Ok(None);
                };
                let stash = *stash;
                // The plaintext is read where it is (no copy to wipe).
                let mut sealed = Ok(None);
                cipher::with_scalar_bytes(v, |plaintext| {
                    self.hash(selected, plaintext);
                    if selected && !plaintext.is_empty() {
                        let aad = self.aad.as_bytes();
                        let iv = stash
                            .and_then(|s| s.lookup(aad, ty, plaintext))
                            .unwrap_or_else(cipher::random_iv);
                        sealed = self
                            .cipher
                            .encrypt_with(&iv, plaintext, aad, ty, &mut self.plaintext)
                            .map(Some);
                    }
                });
                let sealed = sealed.map_err(|source| CoreError::Encrypt {
                    path: self.aad.clone(),
                    source,
                })?;
                if let Some(enc) = sealed {
                    // The plaintext leaves memory zeroed, not just freed.
                    std::mem::replace(v, Value::Str(enc)).wipe();
                }
                Ok(None)
            }
            Mode::Decrypt { .. } => self.decrypt_leaf(v, selected),
        }
    }

    fn decrypt_leaf(&mut self, v: &mut Value, selected: bool) -> Result<Option<String>, CoreError> {
        if !selected {
            if !self.mac_only_encrypted {
                let mac = &mut self.mac;
                cipher::with_scalar_bytes(v, |bytes| mac.update(bytes));
            }
            return Ok(None);
        }
        let enc = match v {
            Value::Str(s) if s.is_empty() => return Ok(None),
            Value::Str(s) => s,
            other => {
                return Err(CoreError::NotEncrypted {
                    path: self.aad.clone(),
                    type_name: other.type_name(),
                })
            }
        };
        let aad = self.aad.as_bytes();
        let ty = self
            .cipher
            .decrypt_into(enc, aad, &mut self.iv, &mut self.plaintext)
            .map_err(|source| CoreError::Decrypt {
                path: self.aad.clone(),
                source,
            })?;
        let plaintext = self.plaintext.as_slice();
        if let Mode::Decrypt { stash: Some(stash) } = &mut self.mode {
            stash.remember(aad, ty, plaintext, self.iv.as_slice());
        }
        match ty {
            // 3.11 excludes leaves that decrypt to comments from the MAC.
            ValueType::Comment => {
                return Ok(Some(String::from_utf8_lossy(plaintext).into_owned()));
            }
            ValueType::Str | ValueType::Bytes => match std::str::from_utf8(plaintext) {
                // The plaintext is shorter than its `ENC[...]` string, so
                // it takes that string's place without an allocation.
                Ok(text) => {
                    enc.clear();
                    enc.push_str(text);
                }
                Err(_) => *v = Value::Bytes(plaintext.to_vec()),
            },
            _ => {
                *v = cipher::decode_scalar(plaintext, ty).map_err(|source| CoreError::Decrypt {
                    path: self.aad.clone(),
                    source,
                })?;
            }
        }
        let mac = &mut self.mac;
        cipher::with_scalar_bytes(v, |bytes| mac.update(bytes));
        Ok(None)
    }

    /// A comment item of a map: encrypted/decrypted in place.
    fn comment(&mut self, c: &mut Comment) -> Result<(), CoreError> {
        if let Some(enc) = self.comment_in_list(c)? {
            c.text = enc;
        }
        Ok(())
    }

    /// Handles a comment. On encryption returns the `ENC[...]` text when the
    /// comment is encrypted; on decryption rewrites `c` in place.
    fn comment_in_list(&mut self, c: &mut Comment) -> Result<Option<String>, CoreError> {
        let self_match = self.note_comment(&c.text);
        if !self.selected(self_match) || c.text.is_empty() {
            return Ok(None);
        }
        let aad = self.container_aad().to_owned();
        match &mut self.mode {
            Mode::Encrypt { stash } => {
                let text = c.text.as_bytes();
                let iv = stash
                    .and_then(|s| s.lookup(aad.as_bytes(), ValueType::Comment, text))
                    .unwrap_or_else(cipher::random_iv);
                let enc = self
                    .cipher
                    .encrypt(&iv, text, aad.as_bytes(), ValueType::Comment)
                    .map_err(|source| CoreError::Encrypt {
                        path: aad.clone(),
                        source,
                    })?;
                if let Some(rule) = self.unencrypted_comment_conflict(&enc) {
                    return Err(rule);
                }
                Ok(Some(enc))
            }
            Mode::Decrypt { stash } => {
                // A comment that does not decrypt (e.g. written in clear by
                // an old sops) is kept as it is.
                if cipher::is_encrypted(&c.text) {
                    if let Ok(d) = self.cipher.decrypt(&c.text, aad.as_bytes()) {
                        if let Some(stash) = stash {
                            stash.remember(aad.as_bytes(), d.ty, &d.plaintext, &d.iv);
                        }
                        c.text = String::from_utf8_lossy(&d.plaintext).into_owned();
                        // sops 3.13 rebuilds a decrypted comment without its
                        // end-of-line placement: it is written above its key.
                        c.inline = false;
                    }
                }
                Ok(None)
            }
        }
    }

    fn unencrypted_comment_conflict(&self, enc: &str) -> Option<CoreError> {
        use crate::selection::SelectionKind as K;
        (self.selection.kind() == K::UnencryptedCommentRegex && self.selection.matches(enc))
            .then_some(CoreError::EncryptedCommentMatchesRule)
    }

    fn finish(self) -> (String, Option<IvStash>) {
        let mac = match self.mac {
            MacSink::Hash(h) => hex::encode_upper(h.finalize()),
            // Only the pieces of a parallel walk record, and they are
            // merged, never finished.
            MacSink::Record(_) => String::new(),
        };
        let stash = match self.mode {
            Mode::Decrypt { stash } => stash,
            Mode::Encrypt { .. } => None,
        };
        (mac, stash)
    }

    /// The MAC input recorded by a recording walker.
    fn take_recorded(&mut self) -> SecretBytes {
        match &mut self.mac {
            MacSink::Record(buf) => std::mem::take(buf),
            MacSink::Hash(_) => SecretBytes::new(),
        }
    }

    /// Takes over what `later` (which walked the values right after this
    /// walker's) fed to its MAC and remembered: its MAC input is hashed
    /// after everything hashed here, and its IVs win over ours, as they
    /// would have in one sequential walk.
    fn append(&mut self, later: Walker<'_>) {
        if let MacSink::Record(buf) = &later.mac {
            self.mac.update(buf);
        }
        if let (
            Mode::Decrypt { stash: Some(mine) },
            Mode::Decrypt {
                stash: Some(theirs),
            },
        ) = (&mut self.mode, later.mode)
        {
            mine.ivs.extend(theirs.ivs);
        }
    }
}

/// Encrypts the selected leaves of `docs` in place and returns the MAC
/// (uppercase hex SHA-512) of the plaintext values. With `stash`, values
/// that were in the file before keep their IV (and so their ciphertext).
pub fn encrypt_documents(
    docs: &mut [Map],
    cipher: &ValueCipher,
    selection: &Selection,
    mac_only_encrypted: bool,
    stash: Option<&IvStash>,
) -> Result<String, CoreError> {
    let mut w = Walker::new(
        cipher,
        selection,
        mac_only_encrypted,
        Mode::Encrypt { stash },
    );
    for doc in docs.iter_mut() {
        w.walk_map(doc)?;
    }
    Ok(w.finish().0)
}

/// [`encrypt_documents`] of one document whose root map arrives item by
/// item (streaming encryption): each item is encrypted in place when it is
/// handed over, exactly as the whole-tree walk would encrypt it at that
/// point (same selection, AAD paths and comment rules), and the MAC is fed
/// in the same order, so [`ItemEncryptor::finish`] returns the MAC
/// [`encrypt_documents`] returns for the whole document. New values always
/// get fresh random IVs.
pub struct ItemEncryptor<'a> {
    walker: Walker<'a>,
}

impl<'a> ItemEncryptor<'a> {
    /// Starts the walk of one document.
    pub fn new(
        cipher: &'a ValueCipher,
        selection: &'a Selection,
        mac_only_encrypted: bool,
    ) -> Self {
        let mut walker = Walker::new(
            cipher,
            selection,
            mac_only_encrypted,
            Mode::Encrypt { stash: None },
        );
        // The frame of the root map.
        walker.frames.push(Frame::default());
        ItemEncryptor { walker }
    }

    /// Encrypts the next item of the root map in place.
    pub fn item(&mut self, item: &mut MapItem) -> Result<(), CoreError> {
        self.walker.map_item(item)
    }

    /// The MAC (uppercase hex SHA-512) of the plaintext values walked.
    pub fn finish(self) -> String {
        self.walker.finish().0
    }
}

/// The MAC of a document walked in pieces ([`decrypt_root_items`],
/// [`encrypt_root_items`]): the pieces' recorded MAC inputs are fed in
/// document order, which gives the MAC of one walk over the whole document.
pub struct MacHasher {
    hash: Sha512,
}

impl MacHasher {
    /// A MAC of a document with the `mac_only_encrypted` setting.
    pub fn new(mac_only_encrypted: bool) -> Self {
        let mut hash = Sha512::new();
        if mac_only_encrypted {
            hash.update(Sha256::digest(MAC_ONLY_ENCRYPTED_INIT));
        }
        MacHasher { hash }
    }

    /// Feeds the recorded MAC input of the next piece.
    pub fn update(&mut self, recorded: &[u8]) {
        self.hash.update(recorded);
    }

    /// The MAC (uppercase hex SHA-512).
    pub fn finish(self) -> String {
        hex::encode_upper(self.hash.finalize())
    }
}

/// Decrypts one run of root items of a document in place, as the
/// whole-document walk does at that place, and returns the input it would
/// have fed to the MAC there (for [`MacHasher`]); no IV is remembered. The
/// run must start at the start of the document or right after an entry
/// (where no comment match of the root map is pending, so a walk starting
/// there selects exactly as one walk over the whole document).
pub fn decrypt_root_items(
    items: &mut [MapItem],
    cipher: &ValueCipher,
    selection: &Selection,
    mac_only_encrypted: bool,
) -> Result<SecretBytes, CoreError> {
    let mode = Mode::Decrypt { stash: None };
    let mut w = Walker::recording(cipher, selection, mac_only_encrypted, mode);
    w.walk_root_items(items)?;
    Ok(w.take_recorded())
}

/// [`decrypt_root_items`] for encryption: encrypts the selected leaves of
/// one run of root items in place (a fresh random IV per value) and returns
/// the MAC input of their plaintext values.
pub fn encrypt_root_items(
    items: &mut [MapItem],
    cipher: &ValueCipher,
    selection: &Selection,
    mac_only_encrypted: bool,
) -> Result<SecretBytes, CoreError> {
    let mode = Mode::Encrypt { stash: None };
    let mut w = Walker::recording(cipher, selection, mac_only_encrypted, mode);
    w.walk_root_items(items)?;
    Ok(w.take_recorded())
}

/// Decrypts the selected leaves of `docs` in place; returns the MAC of the
/// plaintext values and the IVs seen (for minimal-diff re-encryption). A
/// large tree is decrypted in pieces run by `par`; the result does not
/// depend on it.
pub fn decrypt_documents(
    docs: &mut [Map],
    cipher: &ValueCipher,
    selection: &Selection,
    mac_only_encrypted: bool,
    par: &dyn Parallelism,
) -> Result<(String, IvStash), CoreError> {
    let (mac, stash) = decrypt_walk(docs, cipher, selection, mac_only_encrypted, true, par)?;
    Ok((mac, stash.unwrap_or_default()))
}

/// Decrypts the selected leaves of `docs` in place like
/// [`decrypt_documents`] and returns the MAC of the plaintext values, without
/// remembering IVs: for callers that only output the plaintext (`decrypt`),
/// which saves a hash and a map insertion per value.
pub fn decrypt_documents_mac(
    docs: &mut [Map],
    cipher: &ValueCipher,
    selection: &Selection,
    mac_only_encrypted: bool,
    par: &dyn Parallelism,
) -> Result<String, CoreError> {
    Ok(decrypt_walk(docs, cipher, selection, mac_only_encrypted, false, par)?.0)
}

/// Number of leaves (scalars, nulls and comments, selected or not) from
/// which decryption is cut into pieces for the executor's workers. Below
/// it, starting a thread costs more than it saves.
pub const PARALLEL_MIN_VALUES: usize = 10_000;

/// Pieces of root items per worker thread: small enough that a worker
/// whose core is busy with other work does not hold the others up (the
/// remaining pieces go to whoever is free).
const CHUNKS_PER_WORKER: usize = 16;

/// Smallest piece worth handing to a worker, in leaves.
const MIN_CHUNK_VALUES: usize = 256;

/// Most workers used, whatever the executor offers (beyond this the
/// shared MAC hashing and memory bandwidth leave little to gain).
const MAX_WORKERS: usize = 4;

/// The decryption walk of [`decrypt_documents`] / [`decrypt_documents_mac`]:
/// cut into pieces for `par` when the documents hold at least
/// [`PARALLEL_MIN_VALUES`] leaves and `par` has several workers, one walk
/// on this thread otherwise. Either way the result (tree, MAC, IVs, and
/// the first error in document order) is that of one sequential walk.
fn decrypt_walk(
    docs: &mut [Map],
    cipher: &ValueCipher,
    selection: &Selection,
    mac_only_encrypted: bool,
    with_stash: bool,
    par: &dyn Parallelism,
) -> Result<(String, Option<IvStash>), CoreError> {
    let job = Job {
        cipher,
        selection,
        mac_only_encrypted,
        with_stash,
    };
    // Asked only for large trees: an executor may find its worker count
    // out lazily, at a cost noticeable in a short run.
    let workers = || par.workers().min(MAX_WORKERS);
    if let Some((chunks, workers)) = chunks(docs, workers) {
        return decrypt_chunks(chunks, &job, par, workers);
    }
    let mut w = job.walker(false);
    for doc in docs.iter_mut() {
        w.walk_map(doc)?;
    }
    Ok(w.finish())
}

/// What every walker of one decryption needs.
struct Job<'a> {
    cipher: &'a ValueCipher,
    selection: &'a Selection,
    mac_only_encrypted: bool,
    with_stash: bool,
}

impl<'a> Job<'a> {
    /// A decryption walker, hashing or (for a piece) recording its MAC input.
    fn walker(&self, recording: bool) -> Walker<'a> {
        let mode = Mode::Decrypt {
            stash: self.with_stash.then(IvStash::default),
        };
        if recording {
            Walker::recording(self.cipher, self.selection, self.mac_only_encrypted, mode)
        } else {
            Walker::new(self.cipher, self.selection, self.mac_only_encrypted, mode)
        }
    }
}

/// The root items of `docs` cut into about `CHUNKS_PER_WORKER` runs of
/// similar leaf counts per worker (`workers()` of them, asked only once the
/// documents hold [`PARALLEL_MIN_VALUES`] leaves), in document order, each
/// within one document, with that worker count; `None` below that size or
/// with a single worker. A run starts at a document start or right after an
/// entry: there the root frame holds no comment matches, so a fresh walker
/// starting there selects exactly like the sequential one.
fn chunks(
    docs: &mut [Map],
    workers: impl FnOnce() -> usize,
) -> Option<(Vec<&mut [MapItem]>, usize)> {
    let counts: Vec<Vec<usize>> = docs
        .iter()
        .map(|d| d.items.iter().map(item_leaves).collect())
        .collect();
    let total: usize = counts.iter().flatten().sum();
    if total < PARALLEL_MIN_VALUES {
        return None;
    }
    let workers = workers();
    if workers < 2 {
        return None;
    }
    let target = (total / (workers * CHUNKS_PER_WORKER)).max(MIN_CHUNK_VALUES);
    let mut out = Vec::new();
    for (doc, doc_counts) in docs.iter_mut().zip(&counts) {
        let mut cuts = Vec::new();
        let mut run = 0usize;
        for (k, count) in doc_counts.iter().enumerate() {
            let clean = k > 0 && matches!(doc.items.get(k - 1), Some(MapItem::Entry(_)));
            if run >= target && clean {
                cuts.push(k);
                run = 0;
            }
            run += count;
        }
        let mut rest: &mut [MapItem] = &mut doc.items;
        let mut done = 0;
        for cut in cuts {
            let (piece, tail) = std::mem::take(&mut rest).split_at_mut(cut - done);
            out.push(piece);
            rest = tail;
            done = cut;
        }
        out.push(rest);
    }
    Some((out, workers))
}

/// Leaves of one root item.
fn item_leaves(item: &MapItem) -> usize {
    match item {
        MapItem::Comment(_) => 1,
        MapItem::Entry(e) => value_leaves(&e.value),
    }
}

/// Leaves of a value.
fn value_leaves(v: &Value) -> usize {
    match v {
        Value::Map(m) => m.items.iter().map(item_leaves).sum(),
        Value::List(l) => l
            .items
            .iter()
            .map(|i| match i {
                ListItem::Comment(_) => 1,
                ListItem::Value(v) => value_leaves(v),
            })
            .sum(),
        _ => 1,
    }
}

/// A walked piece: its outcome and its walker (recorded MAC input, IVs).
type Walked<'a> = (Result<(), CoreError>, Walker<'a>);

/// The hashing side of [`decrypt_chunks`]: the walker that hashes the
/// recorded MAC inputs in document order, how many pieces it has taken,
/// and the first failure met.
struct Merge<'a> {
    merged: Walker<'a>,
    upto: usize,
    failure: Option<CoreError>,
}

impl<'a> Merge<'a> {
    /// Hashes the pieces that are done, in order, from `upto`, until one is
    /// not done yet or a failure was met.
    fn ready(&mut self, results: &[Mutex<Option<Walked<'a>>>]) {
        while self.failure.is_none() {
            let Some(done) = results
                .get(self.upto)
                .and_then(|cell| cell.lock().ok().and_then(|mut c| c.take()))
            else {
                return;
            };
            match done {
                (Ok(()), w) => self.merged.append(w),
                (Err(e), _) => self.failure = Some(e),
            }
            self.upto += 1;
        }
    }
}

/// Decrypts the pieces with `workers` tasks run by `par`, each piece with
/// its own walker recording its MAC input; pieces are taken in order by
/// whichever task is free. The recorded inputs are hashed in document
/// order, as they complete, by whichever task finds the hasher free after
/// its piece (and the rest here at the end), so the MAC is the sequential
/// one; the error of the first failing piece is returned, which is the
/// first error in document order (pieces after a failing one are skipped).
fn decrypt_chunks<'a>(
    chunks: Vec<&mut [MapItem]>,
    job: &Job<'a>,
    par: &dyn Parallelism,
    workers: usize,
) -> Result<(String, Option<IvStash>), CoreError> {
    let slots: Vec<Mutex<Option<&mut [MapItem]>>> =
        chunks.into_iter().map(|c| Mutex::new(Some(c))).collect();
    let results: Vec<Mutex<Option<Walked<'a>>>> = slots.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let failed_at = AtomicUsize::new(usize::MAX);
    let merge = Mutex::new(Merge {
        merged: job.walker(false),
        upto: 0,
        failure: None,
    });
    // Takes and walks pieces until none is left; false when none was left.
    let work_one = || -> bool {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = slots.get(i) else {
            return false;
        };
        if i > failed_at.load(Ordering::Relaxed) {
            return true;
        }
        let Some(items) = slot.lock().ok().and_then(|mut s| s.take()) else {
            return true;
        };
        let mut w = job.walker(true);
        let r = w.walk_root_items(items);
        if r.is_err() {
            failed_at.fetch_min(i, Ordering::Relaxed);
        }
        if let Some(Ok(mut cell)) = results.get(i).map(Mutex::lock) {
            *cell = Some((r, w));
        }
        true
    };
    let worker = || {
        while work_one() {
            // Whoever finds the hasher free hashes what is ready; the
            // others go on decrypting.
            if let Ok(mut m) = merge.try_lock() {
                m.ready(&results);
            }
        }
    };
    let tasks: Vec<Task<'_>> = (0..workers.max(1))
        .map(|_| Box::new(worker) as Task<'_>)
        .collect();
    par.run(tasks);
    let Ok(mut merge) = merge.into_inner() else {
        // A task panicked while hashing; `run` has panicked then.
        return Err(CoreError::Decrypt {
            path: String::new(),
            source: cipher::CipherError::Malformed,
        });
    };
    merge.ready(&results);
    if let Some(e) = merge.failure {
        return Err(e);
    }
    if merge.upto != slots.len() {
        // Every piece before the first failing one is walked; with no
        // failure every piece is, so this cannot happen.
        return Err(CoreError::Decrypt {
            path: String::new(),
            source: cipher::CipherError::Malformed,
        });
    }
    Ok(merge.merged.finish())
}

/// Merges the IVs of `other` into `self` (entries of `self` win). Used when
/// two versions of a file share one data key, e.g. by a merge, so that a
/// value taken from either version keeps its ciphertext. Each entry is keyed
/// by (AAD, type, plaintext), so an IV is only ever reused for the very same
/// value at the very same path.
impl IvStash {
    /// Adds the entries of `other` that `self` does not have.
    pub fn absorb(&mut self, other: &IvStash) {
        for (k, v) in &other.ivs {
            self.ivs.entry(*k).or_insert(*v);
        }
    }
}

/// The paths of the leaves of an *encrypted* tree that `selection` says are
/// encrypted but that are not: anything but an `ENC[...]` string or the empty
/// string. Needs no key: this is the structural check of `rsops check`.
///
/// The walk decides selection exactly as decryption does (key stack, and the
/// comment stack holding the comments as stored, so only comments in clear
/// can match a comment rule). Comments themselves are not reported (sops
/// keeps comments in clear when they do not decrypt), nor nulls.
///
/// Paths are written like `["data"]["user"]` (list positions as `[0]`); when
/// there is more than one document, a path is prefixed with its document
/// number, `(document 2) ["a"]`. Only key names and positions appear, never
/// values.
pub fn unencrypted_selected_leaves(docs: &[Map], selection: &Selection) -> Vec<String> {
    let mut inspector = Inspector {
        selection,
        path: String::new(),
        key_matched: Vec::new(),
        frames: Vec::new(),
        found: Vec::new(),
    };
    for (i, doc) in docs.iter().enumerate() {
        inspector.path = if docs.len() > 1 {
            format!("(document {}) ", i + 1)
        } else {
            String::new()
        };
        inspector.map(doc);
    }
    inspector.found
}

/// The read-only walk behind [`unencrypted_selected_leaves`].
struct Inspector<'a> {
    selection: &'a Selection,
    path: String,
    key_matched: Vec<bool>,
    frames: Vec<usize>,
    found: Vec<String>,
}

impl Inspector<'_> {
    fn note_comment(&mut self, text: &str) {
        if self.selection.kind().is_comment_rule() && self.selection.matches(text) {
            if let Some(f) = self.frames.last_mut() {
                *f += 1;
            }
        }
    }

    fn clear_frame(&mut self) {
        if let Some(f) = self.frames.last_mut() {
            *f = 0;
        }
    }

    fn selected(&self) -> bool {
        let any_key = self.key_matched.last().copied().unwrap_or(false);
        let comments = if self.selection.kind().is_comment_rule() {
            self.frames.iter().sum()
        } else {
            0
        };
        self.selection.encrypts(any_key, comments)
    }

    fn map(&mut self, map: &Map) {
        self.frames.push(0);
        for item in &map.items {
            match item {
                MapItem::Comment(c) => self.note_comment(&c.text),
                MapItem::Entry(e) => {
                    // Non-string keys are refused by decryption itself.
                    if let Some(key) = e.key.as_str() {
                        let mark = self.path.len();
                        self.path.push_str(&format!("[\"{key}\"]"));
                        let parent = self.key_matched.last().copied().unwrap_or(false);
                        let matched = parent
                            || (!self.selection.kind().is_comment_rule()
                                && self.selection.matches(key));
                        self.key_matched.push(matched);
                        self.value(&e.value);
                        self.key_matched.pop();
                        self.path.truncate(mark);
                    }
                    self.clear_frame();
                }
            }
        }
        self.frames.pop();
    }

    fn list(&mut self, list: &List) {
        self.frames.push(0);
        let mut index = 0usize;
        for item in &list.items {
            match item {
                ListItem::Comment(c) => self.note_comment(&c.text),
                ListItem::Value(v) => {
                    let mark = self.path.len();
                    self.path.push_str(&format!("[{index}]"));
                    self.value(v);
                    self.path.truncate(mark);
                    index += 1;
                    self.clear_frame();
                }
            }
        }
        self.frames.pop();
    }

    fn value(&mut self, v: &Value) {
        match v {
            Value::Map(m) => self.map(m),
            Value::List(l) => self.list(l),
            Value::Null => {}
            Value::Str(s) if s.is_empty() || cipher::is_encrypted(s) => {}
            _ => {
                if self.selected() {
                    self.found.push(self.path.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod inspector_tests {
    use super::*;
    use crate::selection::SelectionKind;
    use rsops_format::tree::Map;

    fn enc() -> Value {
        Value::Str("ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]".into())
    }

    #[test]
    fn reports_clear_selected_leaves_only() {
        let mut data = Map::new();
        data.push("password", enc());
        data.push("user", Value::Str("YWRtaW4=".into()));
        data.push("empty", Value::Str(String::new()));
        data.push("none", Value::Null);
        let mut doc = Map::new();
        doc.push("kind", Value::Str("Secret".into()));
        doc.push("data", Value::Map(data));
        doc.push("port", Value::Int(5432));
        let sel = Selection::new(SelectionKind::EncryptedRegex, "^data$").unwrap();
        assert_eq!(
            unencrypted_selected_leaves(std::slice::from_ref(&doc), &sel),
            vec![r#"["data"]["user"]"#.to_string()]
        );
        let all = Selection::default_rule();
        assert_eq!(
            unencrypted_selected_leaves(&[doc], &all),
            vec![
                r#"["kind"]"#.to_string(),
                r#"["data"]["user"]"#.to_string(),
                r#"["port"]"#.to_string()
            ]
        );
    }

    #[test]
    fn lists_suffixes_and_documents() {
        let mut doc = Map::new();
        doc.push(
            "hosts",
            Value::List(List {
                items: vec![ListItem::Value(enc()), ListItem::Value(Value::Bool(true))],
            }),
        );
        doc.push("note_unencrypted", Value::Str("clear".into()));
        let sel = Selection::default_rule();
        assert_eq!(
            unencrypted_selected_leaves(&[doc.clone(), doc], &sel),
            vec![
                r#"(document 1) ["hosts"][1]"#.to_string(),
                r#"(document 2) ["hosts"][1]"#.to_string()
            ]
        );
    }

    #[test]
    fn comment_rules_follow_the_stored_comments() {
        let mut doc = Map::new();
        doc.push_comment(" sops:enc");
        doc.push("secret", Value::Str("clear".into()));
        doc.push("plain", Value::Str("clear".into()));
        let sel = Selection::new(SelectionKind::EncryptedCommentRegex, "sops:enc").unwrap();
        assert_eq!(
            unencrypted_selected_leaves(&[doc], &sel),
            vec![r#"["secret"]"#.to_string()]
        );
    }

    #[test]
    fn absorb_keeps_own_entries() {
        let mut a = IvStash::default();
        a.remember(b"k:", ValueType::Str, b"v", &[1u8; 32]);
        let mut b = IvStash::default();
        b.remember(b"k:", ValueType::Str, b"v", &[2u8; 32]);
        b.remember(b"j:", ValueType::Str, b"w", &[3u8; 32]);
        a.absorb(&b);
        assert_eq!(a.len(), 2);
        assert_eq!(a.lookup(b"k:", ValueType::Str, b"v"), Some([1u8; 32]));
        assert_eq!(a.lookup(b"j:", ValueType::Str, b"w"), Some([3u8; 32]));
    }
}

#[cfg(test)]
mod parallel_tests {
    use super::*;
    use crate::selection::SelectionKind;
    use rsops_format::parallel::Sequential;

    use rsops_format::parallel::TestThreads as Threads;

    /// Claims `.0` workers but runs the tasks on the calling thread, last
    /// one first: the first task then walks every piece.
    struct Backwards(usize);

    impl Parallelism for Backwards {
        fn workers(&self) -> usize {
            self.0
        }

        fn run(&self, tasks: Vec<Task<'_>>) {
            for task in tasks.into_iter().rev() {
                task();
            }
        }
    }

    /// Executors for the comparisons: no helper thread, one, three.
    fn executors() -> Vec<Box<dyn Parallelism>> {
        vec![
            Box::new(Sequential),
            Box::new(Threads(2)),
            Box::new(Threads(4)),
        ]
    }

    /// Root entries of mixed leaves (strings, numbers, booleans, nulls,
    /// comments, nested lists and maps, an unencrypted suffix), enough of
    /// them for the parallel walk.
    fn big_doc(tag: &str, services: usize) -> Map {
        let mut doc = Map::new();
        for i in 0..services {
            if i % 7 == 0 {
                doc.push_comment(format!(" sops:enc service {i}"));
            }
            let mut svc = Map::new();
            svc.push("name", Value::Str(format!("{tag}-svc-{i}")));
            svc.push("replicas", Value::Int(i as i64 - 50));
            svc.push("ratio", Value::Float(i as f64 / 3.0));
            svc.push("enabled", Value::Bool(i % 2 == 0));
            svc.push("nothing", Value::Null);
            svc.push("empty", Value::Str(String::new()));
            svc.push("note_unencrypted", Value::Str(format!("clear {i}")));
            svc.push_comment(" inner comment");
            let ports = (0..3)
                .map(|p| ListItem::Value(Value::Int(8000 + p)))
                .chain(std::iter::once(ListItem::Comment(Comment::new(" in list"))))
                .collect();
            svc.push("ports", Value::List(List { items: ports }));
            doc.push(format!("service_{i:05}"), Value::Map(svc));
        }
        doc
    }

    fn sequential(
        docs: &mut [Map],
        cipher: &ValueCipher,
        selection: &Selection,
        mac_only_encrypted: bool,
    ) -> Result<(String, Option<IvStash>), CoreError> {
        let mut w = Walker::new(
            cipher,
            selection,
            mac_only_encrypted,
            Mode::Decrypt {
                stash: Some(IvStash::default()),
            },
        );
        for doc in docs.iter_mut() {
            w.walk_map(doc)?;
        }
        Ok(w.finish())
    }

    fn encrypted(docs: &[Map], cipher: &ValueCipher, selection: &Selection, mo: bool) -> Vec<Map> {
        let mut enc = docs.to_vec();
        encrypt_documents(&mut enc, cipher, selection, mo, None).expect("encrypt");
        enc
    }

    /// The pieces of `docs` for two workers.
    fn pieces_of(docs: &mut [Map]) -> Option<Vec<&mut [MapItem]>> {
        chunks(docs, || 2).map(|(pieces, _)| pieces)
    }

    fn check_same_as_sequential(plain: Vec<Map>, selection: &Selection, mo: bool) {
        let cipher = ValueCipher::new(&[5u8; 32]);
        let enc = encrypted(&plain, &cipher, selection, mo);
        let pieces = pieces_of(&mut enc.clone()).map_or(0, |c| c.len());
        assert!(pieces > 4, "test data must be cut into pieces");
        let mut seq = enc.clone();
        let (seq_mac, seq_stash) = sequential(&mut seq, &cipher, selection, mo).expect("seq");
        let seq_stash = seq_stash.expect("stash");
        for exec in executors() {
            let mut par = enc.clone();
            let par_mac =
                decrypt_documents_mac(&mut par, &cipher, selection, mo, &*exec).expect("par");
            assert_eq!(par_mac, seq_mac);
            assert_eq!(par, seq);
            assert_eq!(par, plain);
            let mut par2 = enc.clone();
            let (mac2, stash2) =
                decrypt_documents(&mut par2, &cipher, selection, mo, &*exec).expect("par");
            assert_eq!(mac2, seq_mac);
            assert!(stash2.ivs == seq_stash.ivs, "same IVs");
        }
        // Any number of tasks, on any number of threads, gives the same.
        let runs: [(usize, &dyn Parallelism); 4] = [
            (1, &Sequential),
            (2, &Threads(2)),
            (4, &Threads(4)),
            (3, &Backwards(3)),
        ];
        for (tasks, exec) in runs {
            let job = Job {
                cipher: &cipher,
                selection,
                mac_only_encrypted: mo,
                with_stash: true,
            };
            let mut docs = enc.clone();
            let pieces = pieces_of(&mut docs).expect("pieces");
            let (mac, stash) = decrypt_chunks(pieces, &job, exec, tasks).expect("chunks");
            assert_eq!(mac, seq_mac);
            assert!(stash.expect("stash").ivs == seq_stash.ivs, "same IVs");
            assert_eq!(docs, plain);
        }
        // The MAC is the one encryption computed.
        let mut again = plain.clone();
        let enc_mac = encrypt_documents(&mut again, &cipher, selection, mo, None).expect("enc");
        assert_eq!(enc_mac, seq_mac);
    }

    #[test]
    fn parallel_walk_matches_sequential_walk() {
        let rule = Selection::new(SelectionKind::UnencryptedSuffix, "_unencrypted")
            .unwrap_or_else(|_| Selection::default_rule());
        check_same_as_sequential(vec![big_doc("a", 1500)], &rule, false);
        check_same_as_sequential(vec![big_doc("a", 1500)], &rule, true);
    }

    #[test]
    fn parallel_walk_over_several_documents_and_comment_rules() {
        let docs = vec![big_doc("a", 300), big_doc("b", 700), big_doc("c", 900)];
        let rule = Selection::new(SelectionKind::EncryptedCommentRegex, "sops:enc").expect("rule");
        check_same_as_sequential(docs.clone(), &rule, false);
        check_same_as_sequential(docs.clone(), &rule, true);
        check_same_as_sequential(docs, &Selection::default_rule(), false);
    }

    #[test]
    fn small_trees_are_not_split() {
        assert!(pieces_of(&mut [big_doc("a", 100)]).is_none());
        // A single worker never splits.
        assert!(pieces_of(&mut [big_doc("a", 2000)]).is_some());
        assert!(chunks(&mut [big_doc("a", 2000)], || 1).is_none());
        assert!(pieces_of(&mut []).is_none());
        // One huge root entry cannot be cut between root items.
        let mut doc = Map::new();
        doc.push("all", Value::Map(big_doc("a", 2000)));
        assert_eq!(pieces_of(&mut [doc]).map(|c| c.len()), Some(1));
        // Pieces follow documents, cover every item and never start after a
        // comment.
        let mut docs = vec![big_doc("a", 900), big_doc("b", 900)];
        let pieces = pieces_of(&mut docs).expect("pieces");
        assert!(pieces.len() > 4);
        let total: usize = pieces.iter().map(|p| p.len()).sum();
        assert_eq!(total, 2 * big_doc("a", 900).items.len());
    }

    fn broken(v: &mut Value) {
        if let Value::Map(m) = v {
            if let Some(Value::Str(s)) = m.get_mut("name") {
                *s = s.replacen("data:", "data:!", 1);
            }
        }
    }

    /// The path of the decryption error, the same with every executor.
    fn error_path(docs: &mut [Map], cipher: &ValueCipher) -> String {
        let paths: Vec<String> = executors()
            .iter()
            .map(|exec| {
                let mut docs = docs.to_vec();
                let r = decrypt_documents_mac(
                    &mut docs,
                    cipher,
                    &Selection::default_rule(),
                    false,
                    &**exec,
                );
                match r {
                    Err(CoreError::Decrypt { path, .. }) => path,
                    other => panic!("expected a decryption error, got {other:?}"),
                }
            })
            .collect();
        assert!(paths.iter().all(|p| *p == paths[0]), "{paths:?}");
        paths[0].clone()
    }

    #[test]
    fn first_error_in_document_order_is_reported() {
        let cipher = ValueCipher::new(&[9u8; 32]);
        let sel = Selection::default_rule();
        let enc = encrypted(&[big_doc("a", 1500)], &cipher, &sel, false);
        // Both halves broken: the first half's value is reported.
        let mut both = enc.clone();
        broken(both[0].get_mut("service_00010").expect("entry"));
        broken(both[0].get_mut("service_01400").expect("entry"));
        assert_eq!(error_path(&mut both, &cipher), "service_00010:name:");
        // Only the second half broken: reported too.
        let mut second = enc.clone();
        broken(second[0].get_mut("service_01400").expect("entry"));
        assert_eq!(error_path(&mut second, &cipher), "service_01400:name:");
        // Two values in the second half: the earlier one.
        let mut two = enc;
        broken(two[0].get_mut("service_01499").expect("entry"));
        broken(two[0].get_mut("service_01300").expect("entry"));
        assert_eq!(error_path(&mut two, &cipher), "service_01300:name:");
    }

    #[test]
    fn wrong_key_fails_in_parallel_too() {
        let sel = Selection::default_rule();
        let enc = encrypted(
            &[big_doc("a", 1500)],
            &ValueCipher::new(&[1u8; 32]),
            &sel,
            false,
        );
        let mut docs = enc;
        assert_eq!(
            error_path(&mut docs, &ValueCipher::new(&[2u8; 32])),
            "service_00000:name:"
        );
    }
}
