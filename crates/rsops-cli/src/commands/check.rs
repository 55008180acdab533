//! `rsops check [PATH...]`: fail when a file that a `.sops.yaml` creation
//! rule matches is not encrypted, or holds values in clear that must be
//! encrypted. The guard behind the pre-commit hook (docs/git.md).
//!
//! For each file a rule matches: no sops metadata → "not encrypted"; leaves
//! that the file's own selection rule, or the matching creation rule's, says
//! are encrypted but are not `ENC[...]` strings → "values in clear" (no key
//! needed); when a key can open the file, a MAC mismatch or an undecryptable
//! value is reported too. A missing key is not a failure. One line per
//! offending file on stderr, then a summary line and exit 1. Otherwise a
//! count on stderr; when no rule matched any file, a warning (an error with
//! `--strict`).

use std::path::{Path, PathBuf};

use rsops_core::config::{rule_match_path, ConfigError, CreationRule};
use rsops_core::file;
use rsops_core::metadata::Metadata;
use rsops_core::selection::Selection;
use rsops_core::walk::unencrypted_selected_leaves;
use rsops_core::CoreError;
use rsops_format::tree::Wipe;
use rsops_format::{store, Format};

use super::{decryption_order, stores};
use crate::error::{CmdResult, Error};
use crate::settings::{CheckSettings, Common};

/// What is wrong with one file (never a value, only paths and reasons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file has no sops metadata.
    NotEncrypted,
    /// These leaves should be encrypted and are not.
    ClearValues(Vec<String>),
    /// The file cannot be parsed with its store.
    Unreadable(String),
    /// Its metadata is invalid.
    BadMetadata(String),
    /// A key opened it but the MAC does not match.
    MacMismatch,
    /// A key opened it but a value does not decrypt.
    Undecryptable(String),
    /// The creation rule that matches it is invalid.
    BadRule(String),
}

impl Problem {
    /// One line: the file, the reason and the fix.
    pub fn line(&self, file: &str) -> String {
        match self {
            Problem::NotEncrypted => format!(
                "{file}: not encrypted, but a creation rule in .sops.yaml matches it; fix: rsops encrypt -i {file}"
            ),
            Problem::ClearValues(paths) => {
                let first = paths.first().map(String::as_str).unwrap_or("PATH");
                format!(
                    "{file}: value(s) in clear that must be encrypted: {}; fix: remove them and add them encrypted with rsops set {file} '{first}' VALUE (or rsops edit {file})",
                    paths.join(", ")
                )
            }
            Problem::Unreadable(e) => format!(
                "{file}: a creation rule matches it but it cannot be read ({e}); fix: repair the file, or pass --input-type"
            ),
            Problem::BadMetadata(e) => format!(
                "{file}: its sops metadata is invalid ({e}); fix: restore it from version control, or decrypt and re-encrypt it"
            ),
            Problem::MacMismatch => format!(
                "{file}: MAC mismatch: the file was changed outside sops/rsops; fix: review it with rsops decrypt --ignore-mac {file}, then re-encrypt it"
            ),
            Problem::Undecryptable(e) => format!(
                "{file}: a value does not decrypt ({e}); fix: restore the value from version control, or set it again with rsops set"
            ),
            Problem::BadRule(e) => format!(
                "{file}: the creation rule that matches it is invalid ({e}); fix: correct .sops.yaml"
            ),
        }
    }
}

/// Runs `rsops check`.
pub fn run(args: &CheckSettings) -> CmdResult {
    let Some(config) = crate::config::load(args.common.config.as_deref())? else {
        return nothing_checked(
            args.strict,
            "no .sops.yaml found: no creation rule, so nothing was checked".into(),
        );
    };
    let config_file = crate::config::find(args.common.config.as_deref())
        .and_then(|p| std::path::absolute(p).ok());
    let files = collect_files(&args.paths)?;
    let order = decryption_order(args.decryption_order.as_deref())?;
    let mut checker = Checker {
        common: &args.common,
        order,
        service: None,
    };
    let mut offending = 0usize;
    let mut checked = 0usize;
    let mut considered = 0usize;
    for file in &files {
        let abs = std::path::absolute(file).unwrap_or_else(|_| file.clone());
        if config_file.as_deref() == Some(abs.as_path()) {
            continue;
        }
        considered += 1;
        let name = file.to_string_lossy().into_owned();
        let rule = match config
            .config
            .creation_rule(&rule_match_path(&config.dir, &abs))
        {
            Ok(Some(rule)) => rule,
            Ok(None) | Err(ConfigError::NoMatchingRule) => continue,
            Err(e) => {
                offending += 1;
                eprintln!("{}", Problem::BadRule(e.to_string()).line(&name));
                continue;
            }
        };
        checked += 1;
        if let Some(problem) = checker.check_file(file, &name, rule)? {
            offending += 1;
            eprintln!("{}", problem.line(&name));
        } else if args.common.verbose {
            eprintln!("{name}: ok");
        }
    }
    if offending > 0 {
        return Err(Error::CheckFailed(offending));
    }
    if checked == 0 {
        return nothing_checked(
            args.strict,
            format!(
                "no creation rule of .sops.yaml matched any of the {}: nothing was checked",
                files_count(considered)
            ),
        );
    }
    eprintln!("{}", summary(checked, considered));
    Ok(())
}

/// "1 file", "3 files".
fn files_count(n: usize) -> String {
    if n == 1 {
        "1 file".into()
    } else {
        format!("{n} files")
    }
}

/// The line of a passing check: how many files a rule matched, and how
/// many it did not.
fn summary(checked: usize, considered: usize) -> String {
    let mut line = format!(
        "rsops check: {} checked, all encrypted",
        files_count(checked)
    );
    let unmatched = considered - checked;
    if unmatched > 0 {
        line.push_str(&format!(
            " ({} matched no creation rule)",
            files_count(unmatched)
        ));
    }
    line
}

/// Nothing was checked: a warning, or with `--strict` an error.
fn nothing_checked(strict: bool, why: String) -> CmdResult {
    if strict {
        return Err(Error::CheckNothingChecked(why));
    }
    crate::warn(&why);
    Ok(())
}

/// Checks files one by one, opening the key service only when needed.
struct Checker<'a> {
    common: &'a Common,
    order: Vec<rsops_keys::KeyKind>,
    service: Option<Box<dyn rsops_keys::KeyService>>,
}

impl Checker<'_> {
    /// The problem of one file a rule matches, if any.
    fn check_file(
        &mut self,
        file: &Path,
        name: &str,
        rule: &CreationRule,
    ) -> CmdResult<Option<Problem>> {
        let (format, _) = stores(self.common, Some(file));
        let input = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                crate::warn(&format!("{name}: cannot be read ({e}); skipped"));
                return Ok(None);
            }
        };
        let (docs, meta) = match store::load_encrypted(format, &input, crate::parallel::threads()) {
            Ok(x) => x,
            Err(e) => return Ok(Some(Problem::Unreadable(e.to_string()))),
        };
        let Some(meta) = meta else {
            return Ok(Some(Problem::NotEncrypted));
        };
        let md = match Metadata::from_tree(&meta) {
            Ok(md) => md,
            Err(e) => return Ok(Some(Problem::BadMetadata(e.to_string()))),
        };
        let clear = clear_leaves(&docs, &md, rule, format)?;
        if !clear.is_empty() {
            return Ok(Some(Problem::ClearValues(clear)));
        }
        self.verify(docs, &md)
    }

    /// With a key: decrypt and check the MAC. Without one: nothing to say.
    fn verify(
        &mut self,
        mut docs: Vec<rsops_format::Map>,
        md: &Metadata,
    ) -> CmdResult<Option<Problem>> {
        if self.service.is_none() {
            // No usable key service: the structural check is all there is.
            match crate::key_service(self.common) {
                Ok(s) => self.service = Some(s),
                Err(_) => return Ok(None),
            }
        }
        let Some(service) = self.service.as_deref() else {
            return Ok(None);
        };
        let result = file::decrypt(
            &mut docs,
            md,
            service,
            &self.order,
            false,
            crate::parallel::threads(),
        );
        docs.wipe();
        Ok(match result {
            Ok(_) | Err(CoreError::DataKey(_)) => None,
            Err(
                CoreError::MacMismatch { .. }
                | CoreError::MacMissing { .. }
                | CoreError::MacDecrypt(_),
            ) => Some(Problem::MacMismatch),
            Err(e @ (CoreError::Decrypt { .. } | CoreError::NotEncrypted { .. })) => {
                Some(Problem::Undecryptable(e.to_string()))
            }
            Err(e) => Some(Problem::BadMetadata(e.to_string())),
        })
    }
}

/// The leaves in clear that the file's selection rule, or the creation
/// rule's (not for binary files, whose rule selection is ignored), says
/// must be encrypted. Paths in walk order, without duplicates.
fn clear_leaves(
    docs: &[rsops_format::Map],
    md: &Metadata,
    rule: &CreationRule,
    format: Format,
) -> CmdResult<Vec<String>> {
    let mut found = unencrypted_selected_leaves(docs, &md.effective_selection());
    if format != Format::Binary {
        let rule_selection =
            super::encrypt::selection_of(&rule.selection)?.unwrap_or_else(Selection::default_rule);
        for p in unencrypted_selected_leaves(docs, &rule_selection) {
            if !found.contains(&p) {
                found.push(p);
            }
        }
    }
    Ok(found)
}

/// The files to check: the arguments (directories walked), or by default
/// the files git tracks under the current directory.
fn collect_files(paths: &[PathBuf]) -> CmdResult<Vec<PathBuf>> {
    if paths.is_empty() {
        if let Some(tracked) = git_tracked_files() {
            return Ok(tracked);
        }
        let mut out = Vec::new();
        walk_dir(Path::new("."), &mut out)?;
        return Ok(out);
    }
    let mut out = Vec::new();
    for p in paths {
        let path = p.as_path();
        if path.is_dir() {
            walk_dir(path, &mut out)?;
        } else if path.exists() {
            out.push(path.to_path_buf());
        } else {
            crate::warn(&format!("{}: no such file; skipped", p.display()));
        }
    }
    Ok(out)
}

/// `git ls-files` under the current directory, or `None` outside a work
/// tree (or without git).
fn git_tracked_files() -> Option<Vec<PathBuf>> {
    let out = std::process::Command::new("git")
        .args(["ls-files", "-z", "--cached"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        out.stdout
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| PathBuf::from(String::from_utf8_lossy(s).into_owned()))
            .filter(|p| p.is_file())
            .collect(),
    )
}

/// Every file below `dir`, skipping `.git` directories and symlinks.
fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> CmdResult {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::ListDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            walk_dir(&path, out)?;
        } else if meta.is_file() {
            out.push(
                path.strip_prefix("./")
                    .map(Path::to_path_buf)
                    .unwrap_or(path),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_file_and_the_fix() {
        let l = Problem::NotEncrypted.line("secrets/a.yaml");
        assert!(l.starts_with("secrets/a.yaml: not encrypted"));
        assert!(l.ends_with("fix: rsops encrypt -i secrets/a.yaml"));
        let l = Problem::ClearValues(vec![r#"["data"]["user"]"#.into()]).line("s.yaml");
        assert!(l.contains(r#"["data"]["user"]"#));
        assert!(l.contains(r#"rsops set s.yaml '["data"]["user"]' VALUE"#));
        assert!(!l.contains('\n'));
    }

    #[test]
    fn summary_counts_checked_and_unmatched_files() {
        assert_eq!(summary(1, 1), "rsops check: 1 file checked, all encrypted");
        assert_eq!(
            summary(3, 4),
            "rsops check: 3 files checked, all encrypted (1 file matched no creation rule)"
        );
    }

    #[test]
    fn rule_and_metadata_selections_are_united() {
        use rsops_core::config::SelectionFields;
        use rsops_core::selection::SelectionKind;
        use rsops_format::{Map, Value};
        let mut doc = Map::new();
        let mut data = Map::new();
        data.push("k", Value::Str("clear".into()));
        doc.push("data", Value::Map(data));
        doc.push("other", Value::Str("clear".into()));
        let md = Metadata {
            key_groups: Vec::new(),
            shamir_threshold: 0,
            last_modified: String::new(),
            mac: String::new(),
            selection: Some(Selection::new(SelectionKind::EncryptedRegex, "^data$").unwrap()),
            mac_only_encrypted: false,
            version: String::new(),
        };
        let mut rule = CreationRule::default();
        rule.selection = SelectionFields {
            encrypted_regex: Some("^other$".into()),
            ..SelectionFields::default()
        };
        let found = clear_leaves(&[doc.clone()], &md, &rule, Format::Yaml).unwrap();
        assert_eq!(found, vec![r#"["data"]["k"]"#, r#"["other"]"#]);
        let found = clear_leaves(&[doc], &md, &rule, Format::Binary).unwrap();
        assert_eq!(found, vec![r#"["data"]["k"]"#]);
    }
}
