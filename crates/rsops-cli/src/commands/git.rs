//! `rsops git`: git integration (docs/git.md).
//!
//! * `rsops git install` writes a diff driver and a merge driver named
//!   `rsops` into the current repository's git config; files opt in with
//!   `diff=rsops merge=rsops` in `.gitattributes`.
//! * `rsops git textconv FILE` (the diff driver) prints the decrypted file,
//!   or the file as stored when it is not encrypted or cannot be decrypted,
//!   so `git diff` never breaks.
//! * `rsops git merge %O %A %B %P` (the merge driver) merges the three
//!   versions on their plaintext trees, key by key, and writes the result
//!   into `%A` re-encrypted with the current version's data key (unchanged
//!   values keep their ciphertext). A conflict leaves `%A` as it was (still
//!   encrypted: plaintext never reaches the work tree), names the
//!   conflicting paths on stderr and exits 1, so git reports a conflict.
//!   The two versions' key settings (recipients per group, threshold,
//!   encryption rule) must be the same: a merge never re-encrypts to
//!   recipients the current branch does not have (merging a branch that
//!   added an attacker's key would otherwise encrypt new secrets to it).

use std::path::Path;

use rsops_format::store;
use rsops_format::tree::{Comment, Entry, Key, Map, MapItem, Value, Wipe};

use super::open::{self, Decrypted};
use crate::error::{CmdResult, Error};
use crate::settings::{GitOpen, GitSettings};

/// Runs `rsops git`.
pub fn run(args: &GitSettings) -> CmdResult {
    match args {
        GitSettings::Install { absolute } => install(*absolute),
        GitSettings::Textconv { file, open } => textconv(file, open),
        GitSettings::Merge {
            ancestor,
            current,
            other,
            path,
            open,
        } => merge(&Merge {
            ancestor,
            current,
            other,
            path,
            open,
        }),
    }
}

/// The files of `rsops git merge`.
struct Merge<'a> {
    ancestor: &'a Path,
    current: &'a Path,
    other: &'a Path,
    path: &'a Path,
    open: &'a GitOpen,
}

/// The git config entries `install` writes, for the binary `bin` (already
/// shell-quoted).
pub fn driver_config(bin: &str) -> Vec<(&'static str, String)> {
    vec![
        ("diff.rsops.textconv", format!("{bin} git textconv")),
        // Never cache: git would store the plaintext in refs/notes.
        ("diff.rsops.cachetextconv", "false".to_owned()),
        (
            "merge.rsops.name",
            "rsops: three-way merge of sops-encrypted files".to_owned(),
        ),
        ("merge.rsops.driver", format!("{bin} git merge %O %A %B %P")),
    ]
}

/// `rsops git install`.
fn install(absolute: bool) -> CmdResult {
    let inside = std::process::Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(Error::Git)?;
    if !inside.success() {
        return Err(Error::NotInRepository);
    }
    let bin = if absolute {
        let exe = std::env::current_exe().map_err(Error::CurrentExe)?;
        shell_words::quote(&exe.to_string_lossy()).into_owned()
    } else {
        "rsops".to_owned()
    };
    for (key, value) in driver_config(&bin) {
        let status = std::process::Command::new("git")
            .args(["config", "--local", key, &value])
            .status()
            .map_err(Error::GitConfig)?;
        if !status.success() {
            return Err(Error::GitConfigFailed(key));
        }
        println!("{key} = {value}");
    }
    println!(
        "Installed. Mark encrypted files in .gitattributes, e.g.:\n    secrets/** diff=rsops merge=rsops"
    );
    Ok(())
}

/// `rsops git textconv FILE`: the decrypted file, else the file as stored.
fn textconv(file: &Path, args: &GitOpen) -> CmdResult {
    let raw = crate::io::read_input(Some(file))?;
    let plain = decrypted_text(file, args, &raw);
    crate::io::write_stdout(plain.as_deref().unwrap_or(&raw))
}

/// The decrypted rendering of `raw`, or `None` when it is not an encrypted
/// file or cannot be decrypted (a missing key is silent; anything else
/// gets a warning on stderr).
fn decrypted_text(file: &Path, args: &GitOpen, raw: &[u8]) -> Option<Vec<u8>> {
    let (format, _) = super::stores(&args.common, Some(file));
    match store::load_encrypted(format, raw, crate::parallel::threads()) {
        Ok((_, Some(_))) => {}
        _ => return None,
    }
    let mut opened = match open::decrypt(
        Some(file),
        &args.common,
        args.decryption_order.as_deref(),
        false,
    ) {
        Ok(d) => d,
        Err(f) => {
            if !f.is_missing_key() {
                crate::warn(&format!(
                    "{}: shown as stored: {}",
                    file.display(),
                    f.message()
                ));
            }
            return None;
        }
    };
    let f = &opened.file;
    let out = store::emit_plain(f.output_format, &f.docs, &f.emit).ok();
    opened.file.docs.wipe();
    out
}

/// `rsops git merge %O %A %B %P`. Every failure exits 1 so git records a
/// conflict and keeps `%A` (the current, encrypted version).
fn merge(args: &Merge<'_>) -> CmdResult {
    merge_files(args).map_err(|f| Error::Merge {
        path: args.path.into(),
        source: Box::new(f),
    })
}

fn merge_files(args: &Merge<'_>) -> CmdResult {
    let mut common = args.open.common.clone();
    if common.filename_override.is_none() {
        common.filename_override = Some(args.path.to_path_buf());
    }
    let order = args.open.decryption_order.as_deref();
    let open_one = |p: &Path| open::decrypt(Some(p), &common, order, false);
    let ancestor_bytes = crate::io::read_input(Some(args.ancestor))?;
    let mut base = if ancestor_bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(open_one(args.ancestor)?)
    };
    let mut ours = open_one(args.current)?;
    let mut theirs = open_one(args.other)?;

    let base_docs = base.as_ref().map(|b| b.file.docs.as_slice());
    let merged = merge_documents(base_docs, &ours.file.docs, &theirs.file.docs);
    let settings = pick_settings(&ours, &theirs);
    if let Some(b) = base.as_mut() {
        b.file.docs.wipe();
    }
    let mut merged = match (merged, settings) {
        (Ok(docs), Ok(())) => docs,
        (merged, settings) => {
            let mut paths = merged.err().unwrap_or_default();
            if let Err(what) = settings {
                paths.push(what);
            }
            ours.file.docs.wipe();
            theirs.file.docs.wipe();
            for p in &paths {
                eprintln!("rsops git merge: {}: conflict at {p}", args.path.display());
            }
            return Err(Error::MergeConflicts {
                count: paths.len(),
                path: args.path.into(),
            });
        }
    };
    let (mut sealer, mut other) = (ours, theirs);
    if sealer.opened.key.bytes() == other.opened.key.bytes() {
        sealer.opened.stash.absorb(&other.opened.stash);
    }
    other.file.docs.wipe();
    std::mem::swap(&mut sealer.file.docs, &mut merged);
    merged.wipe();
    let bytes = sealer.seal()?;
    open::write_back(args.current, &bytes)
}

/// What must agree between versions for their values to share a file: the
/// recipients (per key group), the Shamir threshold, the encryption rule
/// and `mac_only_encrypted` (not the data key itself).
#[derive(Debug, PartialEq, Eq)]
struct Settings {
    groups: Vec<Vec<String>>,
    shamir_threshold: usize,
    selection: Option<(String, String)>,
    mac_only_encrypted: bool,
}

fn settings_of(d: &Decrypted) -> Settings {
    let md = &d.file.metadata;
    Settings {
        groups: md
            .key_groups
            .iter()
            .map(|g| {
                g.keys
                    .iter()
                    .map(|k| format!("{}:{}", k.key.kind().identifier(), k.key.key_string()))
                    .collect()
            })
            .collect(),
        shamir_threshold: md.shamir_threshold,
        selection: md
            .selection
            .as_ref()
            .map(|s| (s.kind().field_name().to_owned(), s.pattern().to_owned())),
        mac_only_encrypted: md.mac_only_encrypted,
    }
}

/// Whether the result can be written with the current version's metadata:
/// only when both versions have the same key settings. When they differ —
/// whichever side changed them — it is a conflict, never a silent switch to
/// the other branch's recipients and data key.
fn pick_settings(ours: &Decrypted, theirs: &Decrypted) -> Result<(), String> {
    if settings_of(ours) == settings_of(theirs) {
        return Ok(());
    }
    Err("the sops metadata (the branches have different recipients, Shamir threshold or encryption rule; merge the key change first, e.g. with rsops updatekeys on both branches)".to_owned())
}

/// Merges the documents of three versions of a file. `Err` lists the
/// conflicting paths (key names and positions only).
pub fn merge_documents(
    base: Option<&[Map]>,
    ours: &[Map],
    theirs: &[Map],
) -> Result<Vec<Map>, Vec<String>> {
    let mut m = Merger::default();
    let same_shape = ours.len() == theirs.len() && base.is_none_or(|b| b.len() == ours.len());
    let merged = if same_shape {
        let multi = ours.len() > 1;
        ours.iter()
            .zip(theirs)
            .enumerate()
            .map(|(i, (o, t))| {
                let prefix = if multi {
                    format!("(document {}) ", i + 1)
                } else {
                    String::new()
                };
                m.map(&prefix, base.and_then(|b| b.get(i)), o, t)
            })
            .collect()
    } else {
        m.pick(
            "the list of documents".to_owned(),
            base.map(<[Map]>::to_vec).as_ref(),
            &ours.to_vec(),
            &theirs.to_vec(),
        )
    };
    if m.conflicts.is_empty() {
        Ok(merged)
    } else {
        Err(m.conflicts)
    }
}

/// A map entry with the comments right above it; `entry` is `None` for the
/// comments after the last entry.
#[derive(Clone, PartialEq)]
struct Segment {
    comments: Vec<Comment>,
    entry: Option<Entry>,
}

/// The identity of an entry within its map: its key and which occurrence
/// of that key it is (JSON may repeat keys).
type SegmentId = (String, usize);

fn segments(map: &Map) -> (Vec<(SegmentId, Segment)>, Vec<Comment>) {
    let mut out = Vec::new();
    let mut pending = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for item in &map.items {
        match item {
            MapItem::Comment(c) => pending.push(c.clone()),
            MapItem::Entry(e) => {
                let name = key_name(&e.key);
                let n = seen.entry(name.clone()).or_insert(0);
                let id = (name, *n);
                *n += 1;
                out.push((
                    id,
                    Segment {
                        comments: std::mem::take(&mut pending),
                        entry: Some(e.clone()),
                    },
                ));
            }
        }
    }
    (out, pending)
}

fn key_name(key: &Key) -> String {
    match key {
        Key::Str(s) => s.clone(),
        Key::Other(v) => format!("\u{0}{v:?}"),
    }
}

/// The structural three-way merge, collecting conflicts as it goes.
#[derive(Default)]
struct Merger {
    conflicts: Vec<String>,
}

impl Merger {
    /// Takes the side that changed; both changed differently → conflict
    /// (and the current side's version).
    fn pick<T: PartialEq + Clone>(
        &mut self,
        what: String,
        base: Option<&T>,
        ours: &T,
        theirs: &T,
    ) -> T {
        if ours == theirs || base == Some(theirs) {
            return ours.clone();
        }
        if base == Some(ours) {
            return theirs.clone();
        }
        self.conflicts.push(what);
        ours.clone()
    }

    fn value(&mut self, path: &str, base: Option<&Value>, ours: &Value, theirs: &Value) -> Value {
        if ours == theirs || base == Some(theirs) {
            return ours.clone();
        }
        if base == Some(ours) {
            return theirs.clone();
        }
        match (base, ours, theirs) {
            (None | Some(Value::Map(_)), Value::Map(o), Value::Map(t)) => {
                let b = match base {
                    Some(Value::Map(b)) => Some(b),
                    _ => None,
                };
                Value::Map(self.map(path, b, o, t))
            }
            _ => {
                self.conflicts.push(display_path(path));
                ours.clone()
            }
        }
    }

    fn map(&mut self, path: &str, base: Option<&Map>, ours: &Map, theirs: &Map) -> Map {
        let empty = Map::new();
        let (b_segs, b_tail) = segments(base.unwrap_or(&empty));
        let (o_segs, o_tail) = segments(ours);
        let (t_segs, t_tail) = segments(theirs);
        let find = |segs: &[(SegmentId, Segment)], id: &SegmentId| {
            segs.iter().find(|(i, _)| i == id).map(|(_, s)| s.clone())
        };
        let mut result: Vec<(SegmentId, Segment)> = Vec::new();
        for (id, o) in &o_segs {
            let b = find(&b_segs, id);
            match find(&t_segs, id) {
                Some(t) => result.push((id.clone(), self.segment(path, &id.0, b.as_ref(), o, &t))),
                None => match b {
                    Some(b) if &b == o => {}
                    Some(_) => {
                        self.conflicts.push(format!(
                            "{} (changed on one branch, removed on the other)",
                            child(path, &id.0)
                        ));
                        result.push((id.clone(), o.clone()));
                    }
                    None => result.push((id.clone(), o.clone())),
                },
            }
        }
        for (pos, (id, t)) in t_segs.iter().enumerate() {
            if o_segs.iter().any(|(i, _)| i == id) {
                continue;
            }
            match find(&b_segs, id) {
                Some(b) if &b == t => {}
                Some(_) => self.conflicts.push(format!(
                    "{} (removed on one branch, changed on the other)",
                    child(path, &id.0)
                )),
                None => {
                    let after = t_segs[..pos]
                        .iter()
                        .rev()
                        .find_map(|(prev, _)| result.iter().position(|(i, _)| i == prev));
                    let at = after.map_or(0, |p| p + 1);
                    result.insert(at, (id.clone(), t.clone()));
                }
            }
        }
        let tail = self.pick(
            format!("the comments at the end of {}", display_path(path)),
            base.map(|_| &b_tail),
            &o_tail,
            &t_tail,
        );
        let mut out = Map::new();
        for (_, seg) in result {
            out.items
                .extend(seg.comments.into_iter().map(MapItem::Comment));
            if let Some(e) = seg.entry {
                out.items.push(MapItem::Entry(e));
            }
        }
        out.items.extend(tail.into_iter().map(MapItem::Comment));
        out
    }

    fn segment(
        &mut self,
        path: &str,
        key: &str,
        base: Option<&Segment>,
        ours: &Segment,
        theirs: &Segment,
    ) -> Segment {
        let here = child(path, key);
        let comments = self.pick(
            format!("the comments above {here}"),
            base.map(|b| &b.comments),
            &ours.comments,
            &theirs.comments,
        );
        let entry = match (&ours.entry, &theirs.entry) {
            (Some(o), Some(t)) => {
                let b = base.and_then(|b| b.entry.as_ref()).map(|e| &e.value);
                let value = self.value(&here, b, &o.value, &t.value);
                Some(Entry {
                    key: o.key.clone(),
                    value,
                    source: None,
                })
            }
            (o, _) => o.clone(),
        };
        Segment { comments, entry }
    }
}

fn child(path: &str, key: &str) -> String {
    format!("{path}[\"{key}\"]")
}

fn display_path(path: &str) -> String {
    if path.trim().is_empty() {
        "the top level".to_owned()
    } else {
        path.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsops_format::store::{load_plain, Format};

    fn yaml(s: &str) -> Vec<Map> {
        load_plain(Format::Yaml, s.as_bytes()).unwrap()
    }

    fn merged(base: &str, ours: &str, theirs: &str) -> Result<Vec<Map>, Vec<String>> {
        merge_documents(Some(&yaml(base)), &yaml(ours), &yaml(theirs))
    }

    #[test]
    fn different_values_merge() {
        let out = merged(
            "a: 1\nb: 2\nc: 3\n",
            "a: 10\nb: 2\nc: 3\n",
            "a: 1\nb: 20\nc: 3\n",
        )
        .unwrap();
        assert_eq!(out, yaml("a: 10\nb: 20\nc: 3\n"));
    }

    #[test]
    fn same_value_changed_twice_conflicts() {
        let err = merged("x:\n  a: 1\n", "x:\n  a: 2\n", "x:\n  a: 3\n").unwrap_err();
        assert_eq!(err, vec![r#"["x"]["a"]"#.to_string()]);
        // The same change on both sides is no conflict.
        assert_eq!(
            merged("x:\n  a: 1\n", "x:\n  a: 2\n", "x:\n  a: 2\n").unwrap(),
            yaml("x:\n  a: 2\n")
        );
    }

    #[test]
    fn additions_and_removals() {
        let out = merged(
            "a: 1\nb: 2\nc: 3\n",
            "a: 1\nc: 3\nd: 4\n",
            "a: 1\nb: 2\nnew: 5\nc: 3\n",
        )
        .unwrap();
        assert_eq!(out, yaml("a: 1\nnew: 5\nc: 3\nd: 4\n"));
        let err = merged("a: 1\nb: 2\n", "a: 1\n", "a: 1\nb: 3\n").unwrap_err();
        assert_eq!(err.len(), 1);
        assert!(err[0].starts_with(r#"["b"]"#));
    }

    #[test]
    fn comments_travel_with_their_entry() {
        let out = merged(
            "# about a\na: 1\nb: 2\n",
            "# about a, edited\na: 1\nb: 2\n",
            "# about a\na: 1\nb: 3\n",
        )
        .unwrap();
        assert_eq!(out, yaml("# about a, edited\na: 1\nb: 3\n"));
    }

    #[test]
    fn lists_are_merged_as_one_value() {
        let err = merged("l: [1, 2]\n", "l: [1, 3]\n", "l: [0, 2]\n").unwrap_err();
        assert_eq!(err, vec![r#"["l"]"#.to_string()]);
        assert_eq!(
            merged("l: [1, 2]\n", "l: [1, 3]\n", "l: [1, 2]\n").unwrap(),
            yaml("l: [1, 3]\n")
        );
    }

    #[test]
    fn no_ancestor_merges_disjoint_additions() {
        let out = merge_documents(None, &yaml("a: 1\n"), &yaml("b: 2\n")).unwrap();
        assert_eq!(out, yaml("b: 2\na: 1\n"));
        let err = merge_documents(None, &yaml("a: 1\n"), &yaml("a: 2\n")).unwrap_err();
        assert_eq!(err, vec![r#"["a"]"#.to_string()]);
    }

    #[test]
    fn documents_merge_one_by_one() {
        let out = merged(
            "a: 1\n---\nb: 1\n",
            "a: 2\n---\nb: 1\n",
            "a: 1\n---\nb: 2\n",
        )
        .unwrap();
        assert_eq!(out, yaml("a: 2\n---\nb: 2\n"));
        let err = merged(
            "a: 1\n---\nb: 1\n",
            "a: 1\n---\nb: 3\n",
            "a: 1\n---\nb: 2\n",
        )
        .unwrap_err();
        assert_eq!(err, vec![r#"(document 2) ["b"]"#.to_string()]);
    }

    #[test]
    fn drivers_use_the_given_binary() {
        let cfg = driver_config("/opt/rsops");
        assert!(cfg.contains(&(
            "merge.rsops.driver",
            "/opt/rsops git merge %O %A %B %P".to_owned()
        )));
        assert!(cfg.contains(&("diff.rsops.textconv", "/opt/rsops git textconv".to_owned())));
        assert!(cfg.contains(&("diff.rsops.cachetextconv", "false".to_owned())));
    }
}
