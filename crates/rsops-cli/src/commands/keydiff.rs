//! What `updatekeys` and `publish` show before they re-encrypt a file for
//! other keys: the key groups old against new, in sops's layout, and the
//! `y`/`n` question that follows.

use std::io::{BufRead, Write};

use rsops_core::metadata::KeyGroup;
use rsops_keys::MasterKey;

use crate::error::{CmdResult, Error};

/// The difference between one old and one new key group (by key string).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct GroupDiff {
    /// Keys in both.
    pub(crate) common: Vec<String>,
    /// Keys only in the new group.
    pub(crate) added: Vec<String>,
    /// Keys only in the old group.
    pub(crate) removed: Vec<String>,
}

/// Compares the file's groups with the new ones, group by group (as many
/// diffs as the longer list has groups), like sops.
pub(crate) fn diff_key_groups(old: &[KeyGroup], new: &[Vec<MasterKey>]) -> Vec<GroupDiff> {
    (0..old.len().max(new.len()))
        .map(|i| {
            let ours: Vec<String> = old
                .get(i)
                .map(super::groups::key_strings)
                .unwrap_or_default();
            let theirs: Vec<String> = new
                .get(i)
                .map(|g| g.iter().map(MasterKey::key_string).collect())
                .unwrap_or_default();
            let mut d = GroupDiff::default();
            for k in &theirs {
                if ours.contains(k) {
                    d.common.push(k.clone());
                } else {
                    d.added.push(k.clone());
                }
            }
            d.removed = ours.into_iter().filter(|k| !theirs.contains(k)).collect();
            d
        })
        .collect()
}

/// Appends sops's per-group listing: `Group N`, then the common keys
/// indented, `+++ added`, `--- removed`.
pub(crate) fn push_groups(s: &mut String, diffs: &[GroupDiff]) {
    for (i, d) in diffs.iter().enumerate() {
        s.push_str(&format!("Group {}\n", i + 1));
        for k in &d.common {
            s.push_str(&format!("    {k}\n"));
        }
        for k in &d.added {
            s.push_str(&format!("+++ {k}\n"));
        }
        for k in &d.removed {
            s.push_str(&format!("--- {k}\n"));
        }
    }
}

/// Writes `prompt` to `out` and reads lines from `input` until one is `y`
/// or `n`; `None` when `input` ends first (no terminal, nothing piped).
pub(crate) fn ask(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    prompt: &str,
) -> CmdResult<Option<bool>> {
    loop {
        let _ = write!(out, "{prompt}");
        let _ = out.flush();
        let mut line = String::new();
        let read = input.read_line(&mut line).map_err(Error::ReadAnswer)?;
        if read == 0 {
            let _ = writeln!(out);
            return Ok(None);
        }
        match line.trim() {
            "y" => return Ok(Some(true)),
            "n" => return Ok(Some(false)),
            _ => {}
        }
    }
}
