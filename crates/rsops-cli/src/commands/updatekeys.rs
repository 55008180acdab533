//! `rsops updatekeys FILE|DIR...`: replace a file's key groups by those of
//! the creation rule that matches it now and re-wrap the **same** data key
//!. Values, `lastmodified` and `mac` are not
//! touched. The changes are shown per group (`+++ key` / `--- key`) and
//! confirmed with `Is this okay? (y/n):` unless `-y`.
//!
//! Beyond sops (its issue #1071): a directory argument updates every sops
//! file under it that a creation rule matches; files that are not sops
//! files are skipped silently, sops files no rule matches are reported as
//! skipped.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use rsops_core::config::{rule_match_path, ConfigError};
use rsops_core::datakey;
use rsops_core::metadata::Metadata;
use rsops_format::{store, Format};

use super::decrypt::LazyService;
use super::decryption_order;
use super::keydiff::{ask, diff_key_groups, push_groups, GroupDiff};
use super::open::Loaded;
use crate::error::{CmdResult, Error, Usage};
use crate::settings::{Common, UpdatekeysSettings};

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// New key groups written.
    Updated,
    /// The file already has the rule's keys: nothing written.
    UpToDate,
    /// The user answered `n`.
    Declined,
    /// Directory mode: not updated, with the reason (`None`: not a sops
    /// file, not reported).
    Skipped(Option<String>),
}

/// How a file was named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Named directly: every problem is an error.
    Explicit,
    /// Found under a directory argument: files that are not sops files or
    /// that no rule matches are skipped.
    Walked,
}

/// Runs `rsops updatekeys`.
pub fn run(args: &UpdatekeysSettings) -> CmdResult {
    if !crate::config::from_file_dir_enabled()
        && crate::config::find(args.common.config.as_deref()).is_none()
    {
        return Err(Error::NoConfig);
    }
    if args.files.is_empty() {
        return Err(Error::Usage(Usage::File));
    }
    let order = decryption_order(args.decryption_order.as_deref())?;
    let targets = targets(&args.files)?;
    let single = args.files.len() == 1 && targets.len() == 1 && targets[0].1 == Origin::Explicit;
    // One key service for every file: clients and credentials are made once.
    let service = LazyService::new(&args.common);
    let mut failed = 0usize;
    let mut done = |(path, _): &(PathBuf, Origin), (log, result): (Log, CmdResult<Outcome>)| {
        log.print();
        match result {
            Ok(outcome) => report(path, &outcome),
            Err(f) => {
                failed += 1;
                eprintln!("{}: {f}", path.display());
            }
        }
    };
    if single {
        let (path, origin) = &targets[0];
        let outcome = update_file(path, *origin, args, &order, &service, &mut Log::Direct)?;
        report(path, &outcome);
    } else if args.yes {
        // Nothing to ask: the files are updated several at once (their key
        // calls overlap), and each file's lines are printed in order, once
        // the files before it are done, as they would be one by one.
        crate::parallel::in_order(
            &targets,
            crate::parallel::KEY_CALLS_IN_FLIGHT,
            |(path, origin)| {
                let mut log = Log::Buffered(String::new());
                let r = update_file(path, *origin, args, &order, &service, &mut log);
                (log, r)
            },
            &mut done,
        );
    } else {
        for target in &targets {
            let (path, origin) = target;
            let r = update_file(path, *origin, args, &order, &service, &mut Log::Direct);
            done(target, (Log::Direct, r));
        }
    }
    if failed > 0 {
        return Err(Error::UpdatekeysFailed(failed));
    }
    Ok(())
}

/// Expands the arguments: files as given, directories into the files under
/// them (sorted, `.git` and symbolic links to directories skipped).
fn targets(args: &[PathBuf]) -> CmdResult<Vec<(PathBuf, Origin)>> {
    let mut out = Vec::new();
    for arg in args {
        let path = arg.clone();
        if path.is_dir() {
            walk(&path, &mut out).map_err(|source| Error::ReadDir {
                path: path.clone(),
                source,
            })?;
        } else {
            out.push((path, Origin::Explicit));
        }
    }
    Ok(out)
}

/// Collects the regular files under `dir`, depth first, in name order.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, Origin)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            if entry.file_name() != ".git" {
                walk(&path, out)?;
            }
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            out.push((path, Origin::Walked));
        }
    }
    Ok(())
}

/// Prints the result line for a file (stderr, like sops's log lines).
fn report(path: &Path, outcome: &Outcome) {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let shown = abs.display();
    match outcome {
        Outcome::Updated => eprintln!("File {shown} synced with new keys"),
        Outcome::UpToDate => eprintln!("File {shown} already up to date"),
        Outcome::Declined => eprintln!("File {shown} left unchanged"),
        Outcome::Skipped(Some(reason)) => eprintln!("Skipping {shown}: {reason}"),
        Outcome::Skipped(None) => {}
    }
}

/// Where the lines of one file's update go: straight to stderr, or kept
/// to be printed in file order.
enum Log {
    Direct,
    Buffered(String),
}

impl Log {
    fn write(&mut self, text: &str) {
        match self {
            Log::Direct => eprint!("{text}"),
            Log::Buffered(kept) => kept.push_str(text),
        }
    }

    /// Prints what was kept.
    fn print(self) {
        if let Log::Buffered(kept) = self {
            if !kept.is_empty() {
                eprint!("{kept}");
            }
        }
    }
}

/// Updates one file.
fn update_file(
    path: &Path,
    origin: Origin,
    args: &UpdatekeysSettings,
    order: &[rsops_keys::KeyKind],
    service: &LazyService<'_>,
    log: &mut Log,
) -> CmdResult<Outcome> {
    let walked = origin == Origin::Walked;
    let abs = std::path::absolute(path).map_err(|source| Error::Absolute {
        path: path.to_path_buf(),
        source,
    })?;
    if !abs.exists() {
        return Err(Error::Stat(abs));
    }
    let common = &args.common;
    let match_path = common
        .filename_override
        .as_deref()
        .map(PathBuf::from)
        .unwrap_or_else(|| abs.clone());
    let config = crate::config::load_for_file(common.config.as_deref(), Some(&match_path))?
        .ok_or(Error::NoConfig)?;
    let format = input_format(common, &match_path);
    let bytes = std::fs::read(&abs).map_err(|source| Error::ReadFile {
        path: abs.clone(),
        source,
    })?;
    let parsed = store::load_encrypted(format, &bytes, crate::parallel::threads());
    let (docs, meta) = match parsed {
        Ok((docs, Some(meta))) => (docs, meta),
        _ if walked => return Ok(Outcome::Skipped(None)),
        Ok((_, None)) => return Err(Error::MetadataNotFound),
        Err(e) => return Err(Error::unmarshal_encrypted(e, format)),
    };
    if !walked {
        log.write(&format!("Syncing keys for file {}\n", abs.display()));
    }
    let metadata = match Metadata::from_tree(&meta) {
        Ok(md) => md,
        Err(_) if walked => return Ok(Outcome::Skipped(None)),
        Err(e) => return Err(Error::decrypting(e)),
    };
    let match_abs = std::path::absolute(&match_path).unwrap_or(match_path);
    let rule = match config
        .config
        .creation_rule(&rule_match_path(&config.dir, &match_abs))
    {
        Ok(Some(rule)) => rule,
        Ok(None) => return Err(Error::NoCreationRules(config.path.clone())),
        Err(ConfigError::NoMatchingRule) if walked => {
            return Ok(Outcome::Skipped(Some(
                "no creation rule matches it".to_owned(),
            )))
        }
        Err(source) => {
            return Err(Error::ConfigRule {
                config: config.path.clone(),
                file: match_abs.clone(),
                source,
            })
        }
    };
    if walked {
        log.write(&format!("Syncing keys for file {}\n", abs.display()));
    }
    if rule.key_groups.is_empty() || rule.key_groups.iter().any(Vec::is_empty) {
        return Err(Error::EmptyRuleGroup {
            file: abs,
            config: config.path.clone(),
        });
    }
    // Keys the service pins down (an Azure key without version) are
    // compared in the form they would be written.
    let service = service.get()?;
    let resolved =
        datakey::resolve_groups(&rule.key_groups, service).map_err(Error::GenerateDataKey)?;
    let new_groups = &resolved;
    let diffs = diff_key_groups(&metadata.key_groups, new_groups);
    let old_threshold = metadata.shamir_threshold;
    let threshold = old_threshold.min(new_groups.len());
    let keys_change = diffs
        .iter()
        .any(|d| !d.added.is_empty() || !d.removed.is_empty());
    if !keys_change && threshold == old_threshold {
        return Ok(Outcome::UpToDate);
    }
    log.write(&render_changes(old_threshold, threshold, &diffs));
    if !args.yes && !confirm()? {
        return Ok(Outcome::Declined);
    }
    let key = datakey::unwrap(&metadata, service, order).map_err(Error::decrypting)?;
    let emit = crate::config::emit_options(Some(&config), common.indent)?;
    let mut loaded = Loaded {
        docs,
        metadata,
        input_format: format,
        output_format: format,
        emit,
    };
    super::groups::rewrap(
        &mut loaded.metadata,
        new_groups,
        threshold,
        &key,
        service,
        false,
    )?;
    let out = loaded.render()?;
    super::open::write_back(&abs, &out)?;
    Ok(Outcome::Updated)
}

/// The input store: `--input-type`, else from the file name.
fn input_format(common: &Common, path: &Path) -> Format {
    common
        .input_type
        .unwrap_or_else(|| Format::from_path(&path.to_string_lossy()))
}

/// The change listing sops prints before asking (threshold line, then per
/// group `Group N` with common keys indented, `+++ added`, `--- removed`).
fn render_changes(old_threshold: usize, threshold: usize, diffs: &[GroupDiff]) -> String {
    let mut s = String::from("The following changes will be made to the file's groups:\n");
    if old_threshold > 0 && old_threshold == threshold {
        s.push_str(&format!("shamir_threshold: {threshold}\n"));
    } else {
        if threshold > 0 {
            s.push_str(&format!("+++ shamir_threshold: {threshold}\n"));
        }
        if old_threshold > 0 {
            s.push_str(&format!("--- shamir_threshold: {old_threshold}\n"));
        }
    }
    push_groups(&mut s, diffs);
    s
}

/// Asks `Is this okay? (y/n):` until the answer is `y` or `n`; stdin at
/// end of file is an error.
fn confirm() -> CmdResult<bool> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock();
    answer(&mut lines, &mut std::io::stderr())
}

/// The prompt loop over any input (testable).
fn answer(input: &mut dyn BufRead, prompt: &mut dyn std::io::Write) -> CmdResult<bool> {
    ask(input, prompt, "Is this okay? (y/n):")?.ok_or(Error::NoAnswer)
}

#[cfg(test)]
mod tests {
    use rsops_core::metadata::KeyGroup;
    use rsops_keys::MasterKey;

    use super::*;
    use rsops_core::metadata::KeyEntry;

    fn age(r: &str) -> MasterKey {
        MasterKey::Age(rsops_keys::age::AgeKey {
            recipient: r.to_owned(),
        })
    }

    fn group(keys: &[&str]) -> KeyGroup {
        KeyGroup {
            keys: keys
                .iter()
                .map(|k| KeyEntry {
                    key: age(k),
                    enc: String::new(),
                    created_at: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn diff_per_group_like_sops() {
        let old = vec![group(&["a1"]), group(&["a2"]), group(&["a3"])];
        let new = vec![vec![age("a1"), age("a3")], vec![age("a2")]];
        let diffs = diff_key_groups(&old, &new);
        assert_eq!(diffs.len(), 3);
        assert_eq!(diffs[0].common, vec!["a1"]);
        assert_eq!(diffs[0].added, vec!["a3"]);
        assert_eq!(diffs[2].removed, vec!["a3"]);
        let text = render_changes(2, 2, &diffs);
        assert_eq!(
            text,
            "The following changes will be made to the file's groups:\nshamir_threshold: 2\nGroup 1\n    a1\n+++ a3\nGroup 2\n    a2\nGroup 3\n--- a3\n"
        );
        assert!(render_changes(2, 1, &[])
            .contains("+++ shamir_threshold: 1\n--- shamir_threshold: 2\n"));
        assert_eq!(
            render_changes(0, 0, &[]),
            "The following changes will be made to the file's groups:\n"
        );
    }

    #[test]
    fn prompt_loops_until_y_or_n_and_fails_on_eof() {
        let mut out = Vec::new();
        assert!(answer(&mut &b"maybe\ny\n"[..], &mut out).unwrap());
        assert_eq!(out, b"Is this okay? (y/n):Is this okay? (y/n):");
        assert!(!answer(&mut &b"n\n"[..], &mut Vec::new()).unwrap());
        let err = answer(&mut &b""[..], &mut Vec::new()).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::code::GENERIC);
        assert!(err.to_string().contains("-y"));
    }
}
