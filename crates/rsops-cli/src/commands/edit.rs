//! `rsops edit FILE` (and the legacy `rsops FILE`): decrypt into a private
//! temporary file, run the editor, re-encrypt with the same data key and
//! write the file back.
//!
//! The temporary file is 0600 in a fresh 0700 directory under `$TMPDIR`
//! (never in the working tree) and goes away on every exit path: success,
//! errors, editor failure, and SIGINT/SIGTERM/SIGHUP ([`crate::signals`]).
//! Unchanged values keep their exact `ENC[...]` strings, and when no value
//! changed `lastmodified` and the MAC stay as well, so the diff of an edit
//! shows the edit and nothing else.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use rsops_core::datakey::{self, DataKey};
use rsops_core::env;
use rsops_core::file::{self, Opened};
use rsops_core::metadata::Metadata;
use rsops_core::walk::IvStash;
use rsops_format::{store, Format, Map, SecretBytes};

use super::encrypt::Binary;
use super::open::{self, Decrypted, Loaded};
use super::stores;
use crate::error::{CmdResult, EditorError, Error};
use crate::settings::{Common, EditSettings};
use crate::signals::{self, Policy};
use crate::tempdir::{self, PrivateDir};

/// Runs `rsops edit FILE`, or the legacy form `rsops [flags] FILE`: like
/// `rsops edit`, except that the creation rules are loaded first, so a
/// broken or non-matching `.sops.yaml` aborts even for an existing file (as
/// sops does).
pub fn run(req: &EditSettings) -> CmdResult {
    let file = req.file.as_path();
    if req.legacy {
        let config = load_config(file, &req.common)?;
        crate::config::creation_rule(config.as_ref(), match_name(file, &req.common))?;
    }
    if req.show_master_keys {
        crate::warn("--show-master-keys is not supported: the editor shows the values only");
    }
    let original = match std::fs::read(file) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(Error::ReadFile {
                path: file.into(),
                source,
            })
        }
    };
    let decrypted = match original {
        Some(_) => open::decrypt(
            Some(file),
            &req.common,
            req.decryption_order.as_deref(),
            req.ignore_mac,
        )?,
        None => new_file(file, req)?,
    };
    let sealed = edit_decrypted(file, decrypted)?;
    if original.as_deref() == Some(sealed.as_slice()) {
        return Ok(());
    }
    open::write_back(file, &sealed)
}

/// Runs the editor on the plaintext of `d` until the result is valid, then
/// re-encrypts it. The temporary directory is gone when this returns.
fn edit_decrypted(target: &Path, mut d: Decrypted) -> CmdResult<Vec<u8>> {
    let editor = editor_command()?;
    let plain = SecretBytes::from(
        store::emit_plain(d.file.output_format, &d.file.docs, &d.file.emit)
            .map_err(Error::Marshal)?,
    );
    signals::install(Policy::Cancel).map_err(Error::Signals)?;
    let dir = PrivateDir::new().map_err(|source| Error::TempDir {
        source,
        editing: true,
    })?;
    let path = dir
        .write_file(&tempdir::name_for(target), &plain)
        .map_err(Error::TempFile)?;
    d.file.docs = edit_until_valid(&editor, &path, &plain, &d.file)?;
    drop(dir);
    raise_version(&mut d.file.metadata)?;
    d.seal()
}

/// How many times the editor is opened on invalid content when there is
/// no terminal to ask whether to go on (an editor run by a script that
/// keeps writing the same invalid content would otherwise loop forever).
const ATTEMPTS_WITHOUT_TERMINAL: usize = 3;

/// The editor loop: reopen while the content does not parse or is not
/// valid for encryption, so that the edits are never lost. Without a
/// terminal on stdin it gives up after [`ATTEMPTS_WITHOUT_TERMINAL`]
/// attempts, and with one when stdin ends (the file is then untouched).
fn edit_until_valid(
    editor: &[String],
    path: &Path,
    original: &[u8],
    file: &Loaded,
) -> CmdResult<Vec<Map>> {
    let terminal = std::io::stdin().is_terminal();
    let mut attempts = 0;
    loop {
        run_editor(editor, path)?;
        attempts += 1;
        let edited = SecretBytes::from(std::fs::read(path).map_err(Error::ReadEdited)?);
        if edited.as_slice() == original {
            return Err(Error::NotModified);
        }
        let problem = match check_edited(file, &edited) {
            Ok(docs) => return Ok(docs),
            Err(problem) => problem,
        };
        if !terminal {
            if attempts >= ATTEMPTS_WITHOUT_TERMINAL {
                return Err(Error::EditInvalid { attempts, problem });
            }
            eprintln!(
                "rsops: error: {problem}. Returning to the editor (attempt {} of {ATTEMPTS_WITHOUT_TERMINAL}: standard input is not a terminal).",
                attempts + 1
            );
            continue;
        }
        eprintln!(
            "rsops: error: {problem}. Press a key to return to the editor, or Ctrl+C to exit."
        );
        if !wait_for_key() {
            return Err(Error::EditInvalid { attempts, problem });
        }
    }
}

/// Parses the edited plaintext; `Err` says why it cannot be used.
fn check_edited(file: &Loaded, edited: &[u8]) -> Result<Vec<Map>, String> {
    let docs = store::load_plain_with(
        file.input_format,
        edited,
        &file.emit,
        crate::parallel::threads(),
    )
    .map_err(|e| format!("Could not load tree, probably due to invalid syntax ({e})"))?;
    if store::has_metadata(file.output_format, &docs) {
        return Err("Tree not valid for encryption: the top-level key 'sops' (dotenv: any key starting with 'sops_') is reserved for the metadata; rename it".into());
    }
    Ok(docs)
}

/// Reads one byte from stdin; `false` at the end of input or on an error.
fn wait_for_key() -> bool {
    let mut byte = [0u8; 1];
    matches!(std::io::stdin().read(&mut byte), Ok(1))
}

/// The editor command: `$SOPS_EDITOR`, else `$EDITOR` (split shell-style),
/// else the first of vim, nano, vi found in `PATH`.
fn editor_command() -> CmdResult<Vec<String>> {
    for var in [env::SOPS_EDITOR, env::EDITOR] {
        let Some(value) = std::env::var_os(var) else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let invalid = || Error::Editor(EditorError::Invalid { var });
        let text = value.into_string().map_err(|_| invalid())?;
        let parts = shell_words::split(&text).map_err(|_| invalid())?;
        if parts.is_empty() {
            return Err(invalid());
        }
        return Ok(parts);
    }
    for name in ["vim", "nano", "vi"] {
        if let Some(p) = find_in_path(name) {
            return Ok(vec![p.to_string_lossy().into_owned()]);
        }
    }
    Err(Error::Editor(EditorError::NotFound))
}

/// The first executable file `name` in `PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Runs the editor on `path`; a failure to start it or a non-zero exit is
/// exit 201.
fn run_editor(editor: &[String], path: &Path) -> CmdResult {
    let Some((program, args)) = editor.split_first() else {
        return Err(Error::Editor(EditorError::Empty));
    };
    let status = signals::run_child(Command::new(program).args(args).arg(path))
        .map_err(|e| Error::Editor(EditorError::Spawn(e)))?;
    if status.success() {
        return Ok(());
    }
    Err(Error::Editor(EditorError::Failed(status)))
}

/// Raises `version` to ours when the file's is older (exit 202 when it is
/// not a semantic version).
fn raise_version(md: &mut Metadata) -> CmdResult {
    if md.version.starts_with("1.") {
        md.version = rsops_core::SOPS_VERSION.to_owned();
        return Ok(());
    }
    let ours = parse_semver(rsops_core::SOPS_VERSION);
    let theirs = parse_semver(&md.version);
    match (ours, theirs) {
        (Some(a), Some(b)) => {
            if a > b {
                md.version = rsops_core::SOPS_VERSION.to_owned();
            }
            Ok(())
        }
        _ => Err(Error::CompareVersions {
            file: md.version.clone(),
            ours: rsops_core::SOPS_VERSION,
        }),
    }
}

/// A semantic version for ordering: (major, minor, patch, is-release,
/// pre-release identifiers). Build metadata is ignored.
type Semver = (u64, u64, u64, bool, Vec<PreId>);

/// A pre-release identifier: numeric ones sort before alphanumeric ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum PreId {
    Num(u64),
    Text(String),
}

/// Parses `MAJOR.MINOR.PATCH[-pre][+build]` (an optional leading `v`).
fn parse_semver(text: &str) -> Option<Semver> {
    let text = text.strip_prefix('v').unwrap_or(text);
    let core_and_pre = text.split('+').next()?;
    let (core, pre) = match core_and_pre.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (core_and_pre, None),
    };
    let nums: Vec<u64> = core
        .split('.')
        .map(|p| {
            let ok = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
            ok.then(|| p.parse().ok()).flatten()
        })
        .collect::<Option<_>>()?;
    let [major, minor, patch] = nums.as_slice() else {
        return None;
    };
    let pre_ids = match pre {
        None => Vec::new(),
        Some(p) => p
            .split('.')
            .map(|id| match id.parse::<u64>() {
                _ if id.is_empty() => None,
                Ok(n) => Some(PreId::Num(n)),
                Err(_) => Some(PreId::Text(id.to_owned())),
            })
            .collect::<Option<_>>()?,
    };
    Some((*major, *minor, *patch, pre.is_none(), pre_ids))
}

/// The `.sops.yaml` for `file` (as `open::load` finds it).
fn load_config(file: &Path, common: &Common) -> CmdResult<Option<crate::config::Loaded>> {
    crate::config::load_for_file(common.config.as_deref(), Some(match_name(file, common)))
}

/// The name creation rules are matched against.
fn match_name<'a>(file: &'a Path, common: &'a Common) -> &'a Path {
    common.filename_override.as_deref().unwrap_or(file)
}

/// A file that does not exist yet: the example content of its store, with a
/// new data key wrapped for the keys of the flags or the creation rule.
fn new_file(file: &Path, req: &EditSettings) -> CmdResult<Decrypted> {
    let config = load_config(file, &req.common)?;
    let emit = crate::config::emit_options(config.as_ref(), req.common.indent)?;
    let (input_format, output_format) = stores(&req.common, Some(file));
    let rule = crate::config::creation_rule(config.as_ref(), match_name(file, &req.common))?;
    let binary = input_format == Format::Binary;
    let plan = super::encrypt::options(
        rule,
        &req.keys,
        &req.selection,
        req.mac_only_encrypted,
        binary.then_some(Binary::Quiet),
    )?;
    let docs = store::load_plain_with(
        input_format,
        example(input_format).as_bytes(),
        &emit,
        crate::parallel::threads(),
    )
    .map_err(|e| Error::unmarshal(e, input_format))?;
    let service = crate::key_service(&req.common)?;
    let key = DataKey::generate();
    let stamp = file::timestamp(time::OffsetDateTime::now_utc());
    let (key_groups, threshold) = datakey::wrap(
        &plan.key_groups,
        plan.shamir_threshold,
        &key,
        service.as_ref(),
        &stamp,
    )
    .map_err(Error::WrapDataKey)?;
    let shamir_threshold = if key_groups.len() > 1 {
        threshold
    } else {
        plan.shamir_threshold
    };
    let metadata = Metadata {
        key_groups,
        shamir_threshold,
        last_modified: stamp,
        mac: String::new(),
        selection: plan.selection,
        mac_only_encrypted: plan.mac_only_encrypted,
        version: rsops_core::SOPS_VERSION.to_owned(),
    };
    Ok(Decrypted {
        file: Loaded {
            docs,
            metadata,
            input_format,
            output_format,
            emit,
        },
        opened: Opened {
            key,
            stash: IvStash::default(),
            mac: String::new(),
        },
    })
}

/// The example content sops offers for a new file of `format`.
fn example(format: Format) -> &'static str {
    match format {
        Format::Yaml => "hello: Welcome to SOPS! Edit this file as you please!\nexample_key: example_value\n# Example comment\nexample_array:\n    - example_value1\n    - example_value2\nexample_number: 1234.56789\nexample_booleans:\n    - true\n    - false\n",
        Format::Json => "{\n\t\"hello\": \"Welcome to SOPS! Edit this file as you please!\",\n\t\"example_key\": \"example_value\",\n\t\"example_array\": [\n\t\t\"example_value1\",\n\t\t\"example_value2\"\n\t],\n\t\"example_number\": 1234.56789,\n\t\"example_booleans\": [\n\t\ttrue,\n\t\tfalse\n\t]\n}",
        Format::Dotenv => "# This is an example file.\nhello=Welcome to SOPS! Edit this file as you please!\nexample_key=example_value\nexample_multiline=foo\\nbar\\nbaz\n",
        Format::Ini => "; This is an example file.\n[Welcome!]\nhello       = Welcome to SOPS! Edit this file as you please!\nexample_key = example_value\n",
        Format::Binary => "Welcome to SOPS! Edit this file as you please!",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_ordering() {
        let v = |s| parse_semver(s).unwrap();
        assert!(v("3.11.0") > v("3.7.3"));
        assert!(v("3.11.0") > v("3.11.0-rc.1"));
        assert!(v("3.11.0-rc.2") > v("3.11.0-rc.1"));
        assert!(v("3.11.0-rc.a") > v("3.11.0-rc.9"));
        assert_eq!(v("v3.11.0"), v("3.11.0+build.5"));
        for bad in [
            "",
            "3",
            "3.11",
            "3.x.0",
            "3.11.0-",
            "3.11.0-a..b",
            "a.b.c",
            "3.11.0.1",
        ] {
            assert!(parse_semver(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn version_raised_only_when_older() {
        let mut md = Metadata {
            key_groups: Vec::new(),
            shamir_threshold: 0,
            last_modified: String::new(),
            mac: String::new(),
            selection: None,
            mac_only_encrypted: false,
            version: "3.7.3".into(),
        };
        raise_version(&mut md).unwrap();
        assert_eq!(md.version, rsops_core::SOPS_VERSION);
        md.version = "3.14.0".into();
        raise_version(&mut md).unwrap();
        assert_eq!(md.version, "3.14.0");
        md.version = "1.14".into();
        raise_version(&mut md).unwrap();
        assert_eq!(md.version, rsops_core::SOPS_VERSION);
        md.version = "garbage".into();
        let e = raise_version(&mut md).unwrap_err();
        assert_eq!(
            e.exit_code(),
            crate::error::code::FAILED_TO_COMPARE_VERSIONS
        );
    }

    #[test]
    fn examples_parse_in_their_store() {
        for f in [
            Format::Yaml,
            Format::Json,
            Format::Dotenv,
            Format::Ini,
            Format::Binary,
        ] {
            let docs = store::load_plain(f, example(f).as_bytes()).unwrap();
            assert_eq!(docs.len(), 1, "{f:?}");
            assert!(!store::has_metadata(f, &docs));
        }
    }
}
