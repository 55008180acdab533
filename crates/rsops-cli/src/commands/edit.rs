//! `rsops edit FILE` (and the legacy `rsops FILE`): decrypt into a private
//! temporary file, run the editor, re-encrypt with the same data key and
//! write the file back (CLI.md §6).
//!
//! The temporary file is 0600 in a fresh 0700 directory under `$TMPDIR`
//! (never in the working tree) and goes away on every exit path: success,
//! errors, editor failure, and SIGINT/SIGTERM/SIGHUP ([`crate::signals`]).
//! Unchanged values keep their exact `ENC[...]` strings, and when no value
//! changed `lastmodified` and the MAC stay as well, so the diff of an edit
//! shows the edit and nothing else.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use clap::Args;
use rsops_core::config::{rule_match_path, CreationRule, SelectionFields};
use rsops_core::datakey::{self, DataKey};
use rsops_core::env;
use rsops_core::file::{self, Opened};
use rsops_core::metadata::Metadata;
use rsops_core::selection::Selection;
use rsops_core::walk::IvStash;
use rsops_format::{store, Format, Map};
use zeroize::Zeroizing;

use super::encrypt::{keys_from_flags, selection_of};
use super::open::{self, Decrypted, Loaded};
use super::{read_failure, stores};
use crate::args::{CommonArgs, KeyArgs, SelectionArgs};
use crate::exit::{self, CmdResult, Failure};
use crate::signals::{self, Policy};
use crate::tempdir::{self, PrivateDir};

/// Arguments of `rsops edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// The encrypted file (created from the creation rules when it does not exist).
    pub file: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Show the master keys in the editor (accepted for compatibility and ignored).
    #[arg(short = 's', long)]
    pub show_master_keys: bool,
    /// Do not check the MAC.
    #[arg(long)]
    pub ignore_mac: bool,
    /// Order in which key types are tried, e.g. `age,pgp`.
    #[arg(long, env = env::SOPS_DECRYPTION_ORDER)]
    pub decryption_order: Option<String>,
}

/// What an edit needs besides the file name (shared by `rsops edit` and
/// the legacy `rsops FILE`).
#[derive(Debug, Clone, Copy)]
pub struct EditRequest<'a> {
    /// Shared flags (`--config`, `--input-type`, `--output-type`, ...).
    pub common: &'a CommonArgs,
    /// Key flags, used when the file is new.
    pub keys: &'a KeyArgs,
    /// Selection flags, used when the file is new.
    pub selection: &'a SelectionFields,
    /// `--mac-only-encrypted` (legacy mode only), used when the file is new.
    pub mac_only_encrypted: bool,
    /// `--ignore-mac`.
    pub ignore_mac: bool,
    /// `--decryption-order`.
    pub decryption_order: Option<&'a str>,
    /// `-s/--show-master-keys` (warned about and ignored).
    pub show_master_keys: bool,
}

/// Runs `rsops edit`.
pub fn run(args: &EditArgs) -> CmdResult {
    let Some(file) = args.file.as_deref() else {
        return Err(Failure::new(
            exit::NO_FILE_SPECIFIED,
            "Error: no file specified: rsops edit FILE",
        ));
    };
    let selection = args.selection.to_fields();
    let req = EditRequest {
        common: &args.common,
        keys: &args.keys,
        selection: &selection,
        mac_only_encrypted: false,
        ignore_mac: args.ignore_mac,
        decryption_order: args.decryption_order.as_deref(),
        show_master_keys: args.show_master_keys,
    };
    edit_file(file, &req)
}

/// The legacy form `rsops [flags] FILE`: like `rsops edit`, except that the
/// creation rules are loaded first, so a broken or non-matching
/// `.sops.yaml` aborts even for an existing file (as sops does).
pub fn run_legacy(file: &str, req: &EditRequest<'_>) -> CmdResult {
    let config = load_config(file, req.common)?;
    matching_rule(config.as_ref(), match_name(file, req.common))?;
    edit_file(file, req)
}

fn edit_file(file: &str, req: &EditRequest<'_>) -> CmdResult {
    if req.show_master_keys {
        crate::warn("--show-master-keys is not supported: the editor shows the values only");
    }
    let original = match std::fs::read(file) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Failure::new(
                exit::COULD_NOT_READ_INPUT_FILE,
                format!("Error reading file {file}: {e}"),
            ))
        }
    };
    let decrypted = match original {
        Some(_) => open::decrypt(Some(file), req.common, req.decryption_order, req.ignore_mac)?,
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
fn edit_decrypted(target: &str, mut d: Decrypted) -> CmdResult<Vec<u8>> {
    let editor = editor_command()?;
    let plain = Zeroizing::new(
        store::emit_plain(d.file.output_format, &d.file.docs, &d.file.emit).map_err(|e| {
            Failure::new(
                exit::ERROR_DUMPING_TREE,
                format!("Could not marshal tree: {e}"),
            )
        })?,
    );
    signals::install(Policy::Cancel).map_err(|e| {
        Failure::new(
            exit::GENERIC,
            format!("Could not install the signal handlers: {e}"),
        )
    })?;
    let dir = PrivateDir::new().map_err(|e| {
        Failure::new(
            exit::COULD_NOT_WRITE_OUTPUT_FILE,
            format!("Could not create temporary directory: {e}; check that $TMPDIR is writable"),
        )
    })?;
    let path = dir
        .write_file(&tempdir::name_for(target), &plain)
        .map_err(|e| {
            Failure::new(
                exit::COULD_NOT_WRITE_OUTPUT_FILE,
                format!("Could not create temporary file: {e}"),
            )
        })?;
    d.file.docs = edit_until_valid(&editor, &path, &plain, &d.file)?;
    drop(dir);
    raise_version(&mut d.file.metadata)?;
    d.seal()
}

/// The editor loop: reopen while the content does not parse or is not
/// valid for encryption, so that the edits are never lost.
fn edit_until_valid(
    editor: &[String],
    path: &Path,
    original: &[u8],
    file: &Loaded,
) -> CmdResult<Vec<Map>> {
    loop {
        run_editor(editor, path)?;
        let edited = Zeroizing::new(std::fs::read(path).map_err(|e| {
            Failure::new(
                exit::COULD_NOT_READ_INPUT_FILE,
                format!("Could not read edited file: {e}"),
            )
        })?);
        if edited.as_slice() == original {
            return Err(Failure::new(
                exit::FILE_HAS_NOT_BEEN_MODIFIED,
                "File has not changed, exiting.",
            ));
        }
        match check_edited(file, &edited) {
            Ok(docs) => return Ok(docs),
            Err(problem) => {
                eprintln!(
                    "rsops: error: {problem}. Press a key to return to the editor, or Ctrl+C to exit."
                );
                wait_for_key();
            }
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

/// Reads one byte from stdin (returns at once at end of input).
fn wait_for_key() {
    let mut byte = [0u8; 1];
    let _ = std::io::stdin().read(&mut byte);
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
        let invalid = || {
            Failure::new(
                exit::NO_EDITOR_FOUND,
                format!("Could not run editor: invalid ${var}: quote it as a shell command line"),
            )
        };
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
    Err(Failure::new(
        exit::NO_EDITOR_FOUND,
        "Could not run editor: no editor available: rsops uses the editor named by SOPS_EDITOR or EDITOR, else the first of vim, nano, vi found in PATH, but none of them could be found",
    ))
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
        return Err(Failure::new(
            exit::NO_EDITOR_FOUND,
            "Could not run editor: empty editor command",
        ));
    };
    let status = signals::run_child(Command::new(program).args(args).arg(path))
        .map_err(|e| Failure::new(exit::NO_EDITOR_FOUND, format!("Could not run editor: {e}")))?;
    if status.success() {
        return Ok(());
    }
    Err(Failure::new(
        exit::NO_EDITOR_FOUND,
        format!("Could not run editor: {}", describe_status(status)),
    ))
}

/// A failed child's status as Go prints it (`exit status 1`, `signal: killed`).
pub fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    let name = match status.signal() {
        Some(1) => "hangup".to_owned(),
        Some(2) => "interrupt".to_owned(),
        Some(6) => "aborted".to_owned(),
        Some(9) => "killed".to_owned(),
        Some(11) => "segmentation fault".to_owned(),
        Some(13) => "broken pipe".to_owned(),
        Some(15) => "terminated".to_owned(),
        Some(n) => format!("signal {n}"),
        None => "unknown status".to_owned(),
    };
    format!("signal: {name}")
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
        _ => Err(Failure::new(
            exit::FAILED_TO_COMPARE_VERSIONS,
            format!(
                "Failed to compare document version {:?} with program version {:?}: not a semantic version",
                md.version,
                rsops_core::SOPS_VERSION
            ),
        )),
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
fn load_config(file: &str, common: &CommonArgs) -> CmdResult<Option<crate::config::Loaded>> {
    crate::config::load_for_file(
        common.config.as_deref(),
        Some(Path::new(match_name(file, common))),
    )
}

/// The name creation rules are matched against.
fn match_name<'a>(file: &'a str, common: &'a CommonArgs) -> &'a str {
    common.filename_override.as_deref().unwrap_or(file)
}

/// The creation rule for `name`, as `encrypt` finds it.
fn matching_rule<'c>(
    config: Option<&'c crate::config::Loaded>,
    name: &str,
) -> CmdResult<Option<&'c CreationRule>> {
    let Some(l) = config else {
        return Ok(None);
    };
    let abs = std::path::absolute(name).unwrap_or_else(|_| name.into());
    l.config
        .creation_rule(&rule_match_path(&l.dir, &abs))
        .map_err(|e| Failure::new(exit::GENERIC, e.to_string()))
}

/// How a new file is encrypted: flags over the creation rule, as `encrypt`.
struct Plan {
    key_groups: Vec<Vec<rsops_keys::MasterKey>>,
    shamir_threshold: usize,
    selection: Option<Selection>,
    mac_only_encrypted: bool,
}

const SELECTION_CONFLICT: &str = "Error: cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex";

fn plan(rule: Option<&CreationRule>, req: &EditRequest<'_>, binary: bool) -> CmdResult<Plan> {
    let cli_keys = keys_from_flags(req.keys)?;
    let key_groups = if cli_keys.is_empty() {
        rule.map(|r| r.key_groups.clone()).unwrap_or_default()
    } else {
        vec![cli_keys]
    };
    if key_groups.iter().all(|g| g.is_empty()) {
        return Err(Failure::new(
            exit::GENERIC,
            "config file not found, or has no creation rules, and no keys provided through command line options: pass --age/--pgp (or SOPS_AGE_RECIPIENTS) or add a creation rule to .sops.yaml",
        ));
    }
    if req.selection.count_set() > 1 {
        return Err(Failure::new(
            exit::CONFLICTING_PARAMETERS,
            SELECTION_CONFLICT,
        ));
    }
    let fields = match rule {
        Some(r) => r.selection.merged_over(req.selection),
        None => req.selection.clone(),
    };
    if fields.count_set() > 1 {
        return Err(Failure::new(
            exit::CONFLICTING_PARAMETERS,
            SELECTION_CONFLICT,
        ));
    }
    let selection = if binary {
        None
    } else {
        Some(selection_of(&fields)?.unwrap_or_else(Selection::default_rule))
    };
    Ok(Plan {
        key_groups,
        shamir_threshold: req
            .keys
            .shamir_secret_sharing_threshold
            .filter(|t| *t != 0)
            .or(rule.map(|r| r.shamir_threshold))
            .unwrap_or(0),
        selection,
        mac_only_encrypted: !binary
            && (req.mac_only_encrypted || rule.is_some_and(|r| r.mac_only_encrypted)),
    })
}

/// A file that does not exist yet: the example content of its store, with a
/// new data key wrapped for the keys of the flags or the creation rule.
fn new_file(file: &str, req: &EditRequest<'_>) -> CmdResult<Decrypted> {
    let config = load_config(file, req.common)?;
    let emit = crate::config::emit_options(config.as_ref(), req.common.indent)?;
    let (input_format, output_format) = stores(req.common, Some(file));
    let rule = matching_rule(config.as_ref(), match_name(file, req.common))?;
    let plan = plan(rule, req, input_format == Format::Binary)?;
    let docs = store::load_plain_with(
        input_format,
        example(input_format).as_bytes(),
        &emit,
        &rsops_format::Sequential,
    )
    .map_err(|e| read_failure(e, input_format))?;
    let service = crate::key_service(req.common)?;
    let key = DataKey::generate();
    let stamp = file::timestamp(time::OffsetDateTime::now_utc());
    let (key_groups, threshold) = datakey::wrap(
        &plan.key_groups,
        plan.shamir_threshold,
        &key,
        service.as_ref(),
        &stamp,
    )
    .map_err(|e| {
        Failure::new(
            exit::COULD_NOT_RETRIEVE_KEY,
            format!("Error encrypting the data key with one or more master keys: {e}"),
        )
    })?;
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

/// The example content sops offers for a new file of `format` (STORES.md §7).
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
    use std::os::unix::process::ExitStatusExt;

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
        md.version = "3.13.0".into();
        raise_version(&mut md).unwrap();
        assert_eq!(md.version, "3.13.0");
        md.version = "1.14".into();
        raise_version(&mut md).unwrap();
        assert_eq!(md.version, rsops_core::SOPS_VERSION);
        md.version = "garbage".into();
        let e = raise_version(&mut md).unwrap_err();
        assert_eq!(e.code, exit::FAILED_TO_COMPARE_VERSIONS);
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

    #[test]
    fn statuses_read_like_go() {
        assert_eq!(
            describe_status(ExitStatus::from_raw(1 << 8)),
            "exit status 1"
        );
        assert_eq!(describe_status(ExitStatus::from_raw(9)), "signal: killed");
        assert_eq!(
            describe_status(ExitStatus::from_raw(15)),
            "signal: terminated"
        );
    }
}
