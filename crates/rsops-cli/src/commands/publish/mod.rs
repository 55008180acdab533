//! `rsops publish FILE` (or `--recursive DIR`): upload encrypted files to
//! the destination that their `destination_rules` entry in `.sops.yaml`
//! names, as sops does:
//!
//! * S3 and GCS get the encrypted file as it is, or, when the rule has a
//!   `recreation_rule` with keys, re-encrypted for those keys with a new
//!   data key (the key-group changes are shown first);
//! * Vault gets the **decrypted** values, written as a KV secret (v1, or
//!   v2's `{"data": …}` envelope); an unchanged v2 secret is not rewritten.
//!
//! The rule is matched against the path as given (or as walked); the
//! destination name is the file's base name, or with `--recursive` its path
//! below the directory, without its extension with `--omit-extensions` or
//! `omit_extensions`. Each upload is confirmed with `uploading X to Y ?
//! (y/n):` unless `-y`. The first failure ends the run (nothing after it is
//! published).

mod gcs;
mod s3;
mod vault;

use std::io::{BufRead, Write};
use std::path::{Component, Path, PathBuf};

use rsops_core::config::{Destination, DestinationRule};
use rsops_core::file;
use rsops_core::metadata::Metadata;
use rsops_core::selection::{Selection, SelectionKind};
use rsops_keys::KeyKind;

use super::decryption_order;
use super::keydiff::{ask, diff_key_groups, push_groups, GroupDiff};
use super::open::{self, Loaded};
use crate::error::{CmdResult, Error, Usage};
use crate::settings::PublishSettings;

/// Why an upload failed (never holds a value of the file).
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// rsops was built without the back end's cargo feature.
    #[cfg_attr(
        all(feature = "aws", feature = "gcp", feature = "vault"),
        allow(dead_code)
    )]
    #[error("rsops was built without {0} support (cargo feature `{1}`)")]
    NotBuilt(&'static str, &'static str),
    /// The S3 `PutObject` call failed.
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    #[error("{0}")]
    S3(String),
    /// The GCS upload failed.
    #[cfg_attr(not(feature = "gcp"), allow(dead_code))]
    #[error("{0}")]
    Gcs(String),
    /// The Vault KV write failed (or its client could not be made).
    #[error(transparent)]
    Vault(#[from] rsops_keys::kinds::hc_vault::VaultError),
    /// The decrypted values cannot be sent to Vault.
    #[cfg_attr(not(feature = "vault"), allow(dead_code))]
    #[error("{0}")]
    VaultData(String),
}

/// What is sent.
enum Payload {
    /// The (encrypted) file's bytes, for S3 and GCS.
    File(Vec<u8>),
    /// The decrypted documents, for Vault.
    Plain(Vec<rsops_format::Map>),
}

/// Runs `rsops publish`.
pub fn run(args: &PublishSettings) -> CmdResult {
    // sops looks for the config first, then at the argument.
    let config_path =
        crate::config::find(args.common.config.as_deref()).ok_or(Error::PublishNoConfig)?;
    let Some(root) = &args.path else {
        return Err(Error::Usage(Usage::File));
    };
    let meta = std::fs::metadata(root).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::Stat(root.clone()),
        _ => Error::ReadFile {
            path: root.clone(),
            source,
        },
    })?;
    if meta.is_dir() && !args.recursive {
        return Err(Error::PublishDirectory);
    }
    let order = decryption_order(args.decryption_order.as_deref())?;
    let config = crate::config::load(Some(&config_path))?.ok_or(Error::PublishNoConfig)?;
    let files = if meta.is_dir() {
        let mut files = Vec::new();
        walk(root, &mut files).map_err(|source| Error::ReadDir {
            path: root.clone(),
            source,
        })?;
        files
    } else {
        vec![(root.clone(), None)]
    };
    for (file, below_root) in files {
        publish_file(args, &config.config, &file, below_root.as_deref(), &order)?;
    }
    Ok(())
}

/// The files under `dir` in lexical order, depth first, as Go's
/// `filepath.Walk` visits them (directories behind symbolic links are not
/// entered), each with its path relative to `dir`.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, Option<PathBuf>)>) -> std::io::Result<()> {
    fn inner(
        dir: &Path,
        rel: &Path,
        out: &mut Vec<(PathBuf, Option<PathBuf>)>,
    ) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = clean(&dir.join(entry.file_name()));
            let rel = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                inner(&path, &rel, out)?;
            } else {
                out.push((path, Some(rel)));
            }
        }
        Ok(())
    }
    inner(dir, Path::new(""), out)
}

/// A path cleaned lexically as Go's `filepath.Join` cleans it (`.`
/// components dropped, `x/..` removed).
fn clean(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for comp in path.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// The name of the file at its destination: the base name (or, from a
/// walk, the path below the directory), without the extension when asked.
fn destination_name(file: &Path, below_root: Option<&Path>, omit_extension: bool) -> String {
    let name = match below_root {
        Some(rel) => rel.to_string_lossy().into_owned(),
        None => file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if !omit_extension {
        return name;
    }
    // Go's filepath.Ext of the file: from the last dot of its last element.
    let last = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match last.rfind('.') {
        Some(i) => name
            .strip_suffix(&last[i..])
            .map(str::to_owned)
            .unwrap_or(name),
        None => name,
    }
}

/// Publishes one file.
fn publish_file(
    args: &PublishSettings,
    config: &rsops_core::config::Config,
    file: &Path,
    below_root: Option<&Path>,
    order: &[KeyKind],
) -> CmdResult {
    let abs = std::path::absolute(file).map_err(|source| Error::Absolute {
        path: file.to_path_buf(),
        source,
    })?;
    let rule = config.destination_rule(&file.to_string_lossy())?;
    let destination = rule.destination()?.ok_or(Error::NoDestination)?;
    let name = destination_name(
        file,
        below_root,
        args.omit_extensions || rule.omit_extensions,
    );
    let mut loaded = open::load(Some(file), &args.common)?;
    let payload = match &destination {
        Destination::S3 { .. } | Destination::Gcs { .. } => {
            if rule
                .recreation_rule
                .key_groups
                .first()
                .is_some_and(|g| !g.is_empty())
            {
                Payload::File(recreate(args, rule, &mut loaded, order)?)
            } else {
                Payload::File(std::fs::read(&abs).map_err(|source| Error::ReadFile {
                    path: abs.clone(),
                    source,
                })?)
            }
        }
        Destination::Vault { .. } => {
            decrypt(args, &mut loaded, order)?;
            Payload::Plain(std::mem::take(&mut loaded.docs))
        }
    };
    let shown = display_path(&destination, &name);
    if !args.yes {
        let stdin = std::io::stdin();
        let prompt = format!("uploading {} to {shown} ? (y/n): ", abs.display());
        if !confirm(&mut stdin.lock(), &mut std::io::stdout(), &prompt)? {
            let canceled = Error::PublishCanceled(abs.clone());
            if below_root.is_some() {
                println!("{canceled}");
                return Ok(());
            }
            return Err(canceled);
        }
    }
    let uploaded = match (&destination, payload) {
        (Destination::S3 { bucket, prefix }, Payload::File(bytes)) => {
            s3::upload(bucket, &format!("{prefix}{name}"), bytes)
        }
        (Destination::Gcs { bucket, prefix }, Payload::File(bytes)) => {
            gcs::upload(bucket, &format!("{prefix}{name}"), bytes)
        }
        (
            Destination::Vault {
                address,
                path,
                mount,
                version,
            },
            Payload::Plain(docs),
        ) => vault::upload(
            address,
            &vault::secret_path(mount, path, &name, *version),
            *version,
            &docs,
            args.common.verbose,
        ),
        _ => unreachable!("the payload is built for the destination"),
    };
    uploaded.map_err(|source| Error::Publish {
        destination: shown,
        source: Box::new(source),
    })
}

/// How sops shows a destination: `s3://bucket/prefix+name`,
/// `gcs://bucket/prefix+name`, `<address>/v1/<secret path>`.
fn display_path(destination: &Destination, name: &str) -> String {
    match destination {
        Destination::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}{name}"),
        Destination::Gcs { bucket, prefix } => format!("gcs://{bucket}/{prefix}{name}"),
        Destination::Vault {
            address,
            path,
            mount,
            version,
        } => format!(
            "{}/v1/{}",
            vault::address(address),
            vault::secret_path(mount, path, name, *version)
        ),
    }
}

/// Decrypts `loaded` in place (the MAC checked); returns the data key and
/// the key service it was recovered with.
fn decrypt(
    args: &PublishSettings,
    loaded: &mut Loaded,
    order: &[KeyKind],
) -> CmdResult<(file::Opened, Box<dyn rsops_keys::KeyService>)> {
    let service = crate::key_service(&args.common)?;
    let opened = file::decrypt(
        &mut loaded.docs,
        &loaded.metadata,
        service.as_ref(),
        order,
        false,
        crate::parallel::threads(),
    )
    .map_err(Error::decrypting)?;
    Ok((opened, service))
}

/// Decrypts the file and encrypts it again for the recreation rule's keys
/// with a new data key, as sops does: the key-group changes are printed
/// first; the new metadata has the rule's key groups, Shamir threshold and
/// suffix setting (`unencrypted_suffix` or `encrypted_suffix`) and
/// nothing else of the file's.
fn recreate(
    args: &PublishSettings,
    rule: &DestinationRule,
    loaded: &mut Loaded,
    order: &[KeyKind],
) -> CmdResult<Vec<u8>> {
    let (opened, service) = decrypt(args, loaded, order)?;
    let recreation = &rule.recreation_rule;
    let diffs = diff_key_groups(&loaded.metadata.key_groups, &recreation.key_groups);
    if diffs
        .iter()
        .any(|d| !d.added.is_empty() || !d.removed.is_empty())
    {
        print!("{}", render_diffs(&diffs));
    }
    loaded.metadata = Metadata {
        key_groups: Vec::new(),
        shamir_threshold: recreation.shamir_threshold,
        last_modified: String::new(),
        mac: String::new(),
        selection: suffix_selection(recreation)?,
        mac_only_encrypted: false,
        version: rsops_core::SOPS_VERSION.to_owned(),
    };
    file::rotate(
        &mut loaded.docs,
        &mut loaded.metadata,
        &opened,
        &recreation.key_groups,
        service.as_ref(),
        time::OffsetDateTime::now_utc(),
    )
    .map_err(Error::rotating)?;
    // Written back in the file's own format, whatever --output-type says.
    loaded.output_format = loaded.input_format;
    loaded.render()
}

/// The selection of a re-encrypted file: the rule's `unencrypted_suffix`
/// or `encrypted_suffix` (sops keeps only these two), else none recorded.
fn suffix_selection(rule: &rsops_core::config::CreationRule) -> CmdResult<Option<Selection>> {
    let pairs = [
        (
            SelectionKind::UnencryptedSuffix,
            &rule.selection.unencrypted_suffix,
        ),
        (
            SelectionKind::EncryptedSuffix,
            &rule.selection.encrypted_suffix,
        ),
    ];
    for (kind, value) in pairs {
        if let Some(suffix) = value.as_deref().filter(|s| !s.is_empty()) {
            return Selection::new(kind, suffix)
                .map(Some)
                .map_err(Error::Selection);
        }
    }
    Ok(None)
}

/// sops's listing of the key-group changes before a re-encryption.
fn render_diffs(diffs: &[GroupDiff]) -> String {
    let mut s = String::from("The following changes will be made to the file's key groups:\n");
    push_groups(&mut s, diffs);
    s
}

/// Asks `prompt` until the answer is `y` or `n`; standard input at its
/// end (no terminal, nothing piped) is an error.
fn confirm(input: &mut dyn BufRead, out: &mut dyn Write, prompt: &str) -> CmdResult<bool> {
    ask(input, out, prompt)?.ok_or(Error::PublishNoAnswer)
}

#[cfg(test)]
mod tests {
    use rsops_core::metadata::KeyGroup;
    use rsops_keys::MasterKey;

    use super::*;

    #[test]
    fn destination_names_like_sops() {
        let f = Path::new("dir/sub/app.enc.yaml");
        assert_eq!(destination_name(f, None, false), "app.enc.yaml");
        assert_eq!(destination_name(f, None, true), "app.enc");
        let rel = Path::new("sub/app.enc.yaml");
        assert_eq!(destination_name(f, Some(rel), true), "sub/app.enc");
        assert_eq!(destination_name(Path::new("noext"), None, true), "noext");
        assert_eq!(destination_name(Path::new(".env"), None, true), "");
    }

    #[test]
    fn walked_paths_are_cleaned_like_go() {
        assert_eq!(clean(Path::new("./a/./b")), PathBuf::from("a/b"));
        assert_eq!(clean(Path::new("a/../b")), PathBuf::from("b"));
        assert_eq!(clean(Path::new("../a")), PathBuf::from("../a"));
        assert_eq!(clean(Path::new("./")), PathBuf::from("."));
    }

    #[test]
    fn display_paths() {
        let s3 = Destination::S3 {
            bucket: "b".into(),
            prefix: "p/".into(),
        };
        assert_eq!(display_path(&s3, "f.yaml"), "s3://b/p/f.yaml");
        let gcs = Destination::Gcs {
            bucket: "b".into(),
            prefix: String::new(),
        };
        assert_eq!(display_path(&gcs, "f"), "gcs://b/f");
        let v2 = Destination::Vault {
            address: "http://v:1".into(),
            path: "app/".into(),
            mount: "secret/".into(),
            version: 2,
        };
        assert_eq!(display_path(&v2, "f"), "http://v:1/v1/secret/data/app/f");
    }

    #[test]
    fn prompt_repeats_until_y_or_n_and_fails_at_end_of_input() {
        let mut out = Vec::new();
        assert!(confirm(&mut &b"x\n\ny\n"[..], &mut out, "Q? ").unwrap());
        assert_eq!(out, b"Q? Q? Q? ");
        assert!(!confirm(&mut &b"n\n"[..], &mut Vec::new(), "Q? ").unwrap());
        let err = confirm(&mut &b""[..], &mut Vec::new(), "Q? ").unwrap_err();
        assert_eq!(err.exit_code(), crate::error::code::GENERIC);
        assert!(err.to_string().contains("-y"), "{err}");
    }

    #[test]
    fn key_group_changes_are_listed_like_sops() {
        let age = |r: &str| {
            MasterKey::Age(rsops_keys::age::AgeKey {
                recipient: r.to_owned(),
            })
        };
        let old = vec![KeyGroup {
            keys: vec![rsops_core::metadata::KeyEntry {
                key: age("a1"),
                enc: String::new(),
                created_at: String::new(),
            }],
        }];
        let diffs = diff_key_groups(&old, &[vec![age("a2")]]);
        assert_eq!(
            render_diffs(&diffs),
            "The following changes will be made to the file's key groups:\nGroup 1\n+++ a2\n--- a1\n"
        );
    }
}
