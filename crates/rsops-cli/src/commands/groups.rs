//! `rsops groups add` / `rsops groups delete`:
//! append or remove a key group and re-split the file's existing data key.
//! Only the data key is decrypted; values, `lastmodified` and `mac` are left
//! as they are. Output goes to stdout unless `-i`/`--output`.
//!
//! Also the key-group helpers `rotate` and `updatekeys` share: the master
//! keys of a file's groups, and re-wrapping a data key for new groups.

use std::path::Path;

use rsops_core::datakey::{self, DataKey};
use rsops_core::file::timestamp;
use rsops_core::metadata::{KeyGroup, Metadata};
use rsops_keys::{KeyService, MasterKey};

use super::deliver;
use crate::error::{CmdResult, Error, Usage};
use crate::io::Sensitivity;
use crate::settings::{self, GroupsAddSettings, GroupsDeleteSettings, GroupsSettings};

/// Runs `rsops groups add|delete`.
pub fn run(args: &GroupsSettings) -> CmdResult {
    match args {
        GroupsSettings::Add(a) => add(a),
        GroupsSettings::Delete(a) => delete(a),
    }
}

/// `groups add`: append the group the flags describe.
fn add(args: &GroupsAddSettings) -> CmdResult {
    let file = required_file(args.file.as_deref())?;
    super::check_output_flags(&args.output, Some(file))?;
    let group = group_from_flags(args)?;
    if group.is_empty() {
        return Err(Error::EmptyNewGroup);
    }
    let mut loaded = super::open::load(Some(file), &args.common)?;
    let service = crate::key_service(&args.common)?;
    let key = recover_data_key(&loaded.metadata, service.as_ref())?;
    let mut groups = master_keys(&loaded.metadata);
    groups.push(group);
    let threshold = args
        .shamir_threshold
        .filter(|t| *t != 0)
        .unwrap_or(loaded.metadata.shamir_threshold);
    rewrap(
        &mut loaded.metadata,
        &groups,
        threshold,
        &key,
        service.as_ref(),
        true,
    )?;
    let out = loaded.render()?;
    deliver(
        &args.output,
        Some(file),
        &out,
        Sensitivity::Encrypted,
        crate::io::Commit::Now,
    )
}

/// `groups delete`: remove the group at the index.
fn delete(args: &GroupsDeleteSettings) -> CmdResult {
    let file = required_file(args.file.as_deref())?;
    super::check_output_flags(&args.output, Some(file))?;
    let index: usize = args
        .index
        .trim()
        .parse()
        .map_err(|_| Error::GroupIndex(args.index.clone()))?;
    let mut loaded = super::open::load(Some(file), &args.common)?;
    let count = loaded.metadata.key_groups.len();
    if index >= count {
        return Err(Error::NoSuchGroup { index, count });
    }
    if count == 1 {
        return Err(Error::OnlyGroup);
    }
    let service = crate::key_service(&args.common)?;
    let key = recover_data_key(&loaded.metadata, service.as_ref())?;
    let mut groups = master_keys(&loaded.metadata);
    groups.remove(index);
    let threshold = args
        .shamir_threshold
        .filter(|t| *t != 0)
        .unwrap_or(loaded.metadata.shamir_threshold);
    if groups.len() < threshold {
        return Err(Error::ThresholdUnreachable {
            threshold,
            groups: groups.len(),
        });
    }
    rewrap(
        &mut loaded.metadata,
        &groups,
        threshold,
        &key,
        service.as_ref(),
        true,
    )?;
    let out = loaded.render()?;
    deliver(
        &args.output,
        Some(file),
        &out,
        Sensitivity::Encrypted,
        crate::io::Commit::Now,
    )
}

/// The `--file` argument: required, and the file must exist (exit 2 as
/// sops otherwise).
fn required_file(file: Option<&Path>) -> CmdResult<&Path> {
    let file = file
        .filter(|f| !f.as_os_str().is_empty())
        .ok_or(Error::Usage(Usage::Groups))?;
    if !file.exists() {
        return Err(Error::MissingFile(file.into()));
    }
    Ok(file)
}

/// The master keys of the new group, kinds in registry order.
fn group_from_flags(args: &GroupsAddSettings) -> CmdResult<Vec<MasterKey>> {
    let context = settings::encryption_context(args.encryption_context.as_deref())?;
    let profile = args.aws_profile.as_deref().unwrap_or("");
    settings::master_keys(&args.keys, &context, profile)
}

/// The master keys of every key group of the file, in file order.
pub(crate) fn master_keys(md: &Metadata) -> Vec<Vec<MasterKey>> {
    md.key_groups
        .iter()
        .map(|g| g.keys.iter().map(|e| e.key.clone()).collect())
        .collect()
}

/// Recovers the data key, trying keys in file order (sops passes no
/// decryption order to `groups`). Failure → exit 128 with the report.
fn recover_data_key(md: &Metadata, service: &dyn KeyService) -> CmdResult<DataKey> {
    datakey::unwrap(md, service, &[]).map_err(Error::decrypting)
}

/// Wraps `key` for `groups` (Shamir shares when there are several) and
/// stores them in `md` with the resulting threshold: `threshold` as given
/// with one group, else the threshold `wrap` settled on (0 → number of
/// groups). With `keep_dates`, keys already in the file keep their
/// `created_at`. Values, `lastmodified` and `mac` are not touched.
pub(crate) fn rewrap(
    md: &mut Metadata,
    groups: &[Vec<MasterKey>],
    threshold: usize,
    key: &DataKey,
    service: &dyn KeyService,
    keep_dates: bool,
) -> CmdResult {
    check_groups(groups)?;
    let stamp = timestamp(time::OffsetDateTime::now_utc());
    let (mut wrapped, settled) =
        datakey::wrap(groups, threshold, key, service, &stamp).map_err(Error::GenerateDataKey)?;
    if keep_dates {
        datakey::keep_created_at(&md.key_groups, &mut wrapped);
    }
    md.shamir_threshold = if wrapped.len() > 1 {
        settled
    } else {
        threshold
    };
    md.key_groups = wrapped;
    Ok(())
}

/// Rejects key-group layouts that would make the file unreadable, with a
/// message saying which group is at fault.
pub(crate) fn check_groups(groups: &[Vec<MasterKey>]) -> CmdResult {
    if groups.is_empty() {
        return Err(Error::NoKeyGroups);
    }
    if let Some(i) = groups.iter().position(Vec::is_empty) {
        return Err(Error::EmptyKeyGroup(i));
    }
    Ok(())
}

/// The key strings of a key group, for diffs and messages.
pub(crate) fn key_strings(group: &KeyGroup) -> Vec<String> {
    group.keys.iter().map(|e| e.key.key_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(r: &str) -> MasterKey {
        MasterKey::Age(rsops_keys::age::AgeKey {
            recipient: r.to_owned(),
        })
    }

    #[test]
    fn check_groups_names_the_empty_group() {
        let err = check_groups(&[vec![age("a")], vec![]]).unwrap_err();
        assert!(
            err.to_string().contains("key group 1"),
            "{}",
            err.to_string()
        );
        assert!(check_groups(&[]).is_err());
        assert!(check_groups(&[vec![age("a")]]).is_ok());
    }

    #[test]
    fn required_file_exit_codes() {
        assert_eq!(
            required_file(None).unwrap_err().exit_code(),
            crate::error::code::NO_FILE_SPECIFIED
        );
        assert_eq!(
            required_file(Some(Path::new("/nonexistent/f.yaml")))
                .unwrap_err()
                .exit_code(),
            crate::error::code::COULD_NOT_READ_INPUT_FILE
        );
    }
}
