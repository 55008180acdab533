//! Whole-file operations: encrypt plaintext documents, open an encrypted
//! file, and re-encrypt edited plaintext with the file's own data key.

use std::io::Write;

use rsops_format::parallel::Parallelism;
use rsops_format::tree::{Map, MapItem};
use rsops_format::{store, EmitOptions, Format, FormatError};
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
