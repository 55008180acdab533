//! The tree walk: encrypts or decrypts exactly the leaves the selection rule
//! picks, in document order, feeding the MAC on the way (FORMAT.md §4–§7).
//!
//! Paths are never materialised per leaf: the walk keeps the AAD prefix
//! (`k1:k2:`) in one growing buffer and whether a key on the current path
//! matched the rule in a stack of booleans, so the cost per value is one
//! AES-GCM operation and one hash update.

use std::collections::HashMap;

use rsops_format::tree::{Comment, List, ListItem, Map, MapItem, Value, Wipe};
use sha2::{Digest, Sha256, Sha512};

use crate::cipher::{self, ValueCipher, ValueType};
use crate::error::CoreError;
use crate::selection::Selection;

/// IVs of the values of a decrypted file, keyed by a digest of (AAD, type,
/// plaintext), so that re-encrypting an unchanged value with the same data
/// key gives back its exact `ENC[...]` string (FORMAT.md §8).
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

struct Walker<'a> {
    cipher: &'a ValueCipher,
    selection: &'a Selection,
    mac_only_encrypted: bool,
    mode: Mode<'a>,
    mac: Sha512,
    aad: String,
    key_matched: Vec<bool>,
    frames: Vec<Frame>,
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
            mac,
            aad: String::new(),
            key_matched: Vec::new(),
            frames: Vec::new(),
        }
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
                    // plain string element (FORMAT.md §7.4).
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
                let Some((plaintext, ty)) = cipher::encode_scalar(v) else {
                    return Ok(None);
                };
                let stash = *stash;
                self.hash(selected, &plaintext);
                if selected && !plaintext.is_empty() {
                    let aad = self.aad.as_bytes();
                    let iv = stash
                        .and_then(|s| s.lookup(aad, ty, &plaintext))
                        .unwrap_or_else(cipher::random_iv);
                    let enc = Value::Str(self.cipher.encrypt(&iv, &plaintext, aad, ty));
                    // The plaintext leaves memory zeroed, not just freed.
                    std::mem::replace(v, enc).wipe();
                }
                Ok(None)
            }
            Mode::Decrypt { .. } => self.decrypt_leaf(v, selected),
        }
    }

    fn decrypt_leaf(&mut self, v: &mut Value, selected: bool) -> Result<Option<String>, CoreError> {
        if !selected {
            if let Some((plaintext, _)) = cipher::encode_scalar(v) {
                self.hash(false, &plaintext);
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
        let d = self
            .cipher
            .decrypt(enc, aad)
            .map_err(|source| CoreError::Decrypt {
                path: self.aad.clone(),
                source,
            })?;
        if let Mode::Decrypt { stash: Some(stash) } = &mut self.mode {
            stash.remember(aad, d.ty, &d.plaintext, &d.iv);
        }
        if d.ty == ValueType::Comment {
            // 3.11 excludes leaves that decrypt to comments from the MAC.
            let text = String::from_utf8_lossy(&d.plaintext).into_owned();
            return Ok(Some(text));
        }
        let value =
            cipher::decode_scalar(&d.plaintext, d.ty).map_err(|source| CoreError::Decrypt {
                path: self.aad.clone(),
                source,
            })?;
        if let Some((canonical, _)) = cipher::encode_scalar(&value) {
            self.hash(true, &canonical);
        }
        *v = value;
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
                    .encrypt(&iv, text, aad.as_bytes(), ValueType::Comment);
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
        let mac = hex::encode_upper(self.mac.finalize());
        let stash = match self.mode {
            Mode::Decrypt { stash } => stash,
            Mode::Encrypt { .. } => None,
        };
        (mac, stash)
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

/// Decrypts the selected leaves of `docs` in place; returns the MAC of the
/// plaintext values and the IVs seen (for minimal-diff re-encryption).
pub fn decrypt_documents(
    docs: &mut [Map],
    cipher: &ValueCipher,
    selection: &Selection,
    mac_only_encrypted: bool,
) -> Result<(String, IvStash), CoreError> {
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
    let (mac, stash) = w.finish();
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
) -> Result<String, CoreError> {
    let mut w = Walker::new(
        cipher,
        selection,
        mac_only_encrypted,
        Mode::Decrypt { stash: None },
    );
    for doc in docs.iter_mut() {
        w.walk_map(doc)?;
    }
    Ok(w.finish().0)
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
