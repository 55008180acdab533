//! `rsops groups add` / `rsops groups delete` (CLI.md §2, KEYS.md §10):
//! append or remove a key group and re-split the file's existing data key.
//! Only the data key is decrypted; values, `lastmodified` and `mac` are left
//! as they are. Output goes to stdout unless `-i`/`--output`.
//!
//! Also the key-group helpers `rotate` and `updatekeys` share: the master
//! keys of a file's groups, and re-wrapping a data key for new groups.

use clap::{Args, Subcommand};
use rsops_core::datakey::{self, DataKey};
use rsops_core::file::timestamp;
use rsops_core::keyspec;
use rsops_core::metadata::{KeyGroup, Metadata};
use rsops_keys::{KeyService, MasterKey};

use super::{core_failure, deliver};
use crate::args::{CommonArgs, OutputArgs};
use crate::exit::{self, CmdResult, Failure};
use crate::io::Sensitivity;

/// Arguments of `rsops groups`.
#[derive(Debug, Args)]
pub struct GroupsArgs {
    /// `add` or `delete`.
    #[command(subcommand)]
    pub action: GroupsAction,
}

/// The `groups` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupsAction {
    /// Append a key group and re-split the data key (Shamir).
    Add(GroupsAddArgs),
    /// Delete the key group at INDEX (0-based) and re-split the data key.
    Delete(GroupsDeleteArgs),
}

/// Arguments of `rsops groups add`.
#[derive(Debug, Args)]
pub struct GroupsAddArgs {
    /// The encrypted file.
    #[arg(short = 'f', long)]
    pub file: Option<String>,
    /// OpenPGP fingerprints of the new group (repeatable).
    #[arg(long)]
    pub pgp: Vec<String>,
    /// AWS KMS ARNs of the new group (repeatable).
    #[arg(long)]
    pub kms: Vec<String>,
    /// AWS profile for the KMS keys.
    #[arg(long)]
    pub aws_profile: Option<String>,
    /// GCP KMS resource IDs of the new group (repeatable).
    #[arg(long)]
    pub gcp_kms: Vec<String>,
    /// HuaweiCloud KMS key IDs (`region:key-uuid`) of the new group (repeatable).
    #[arg(long)]
    pub hckms: Vec<String>,
    /// Azure Key Vault key URLs of the new group (repeatable).
    #[arg(long)]
    pub azure_kv: Vec<String>,
    /// HashiCorp Vault transit key URIs of the new group (repeatable).
    #[arg(long)]
    pub hc_vault_transit: Vec<String>,
    /// age recipients of the new group (repeatable; each may be a comma list).
    #[arg(long)]
    pub age: Vec<String>,
    /// New Shamir threshold (default: keep the file's).
    #[arg(long)]
    pub shamir_secret_sharing_threshold: Option<usize>,
    /// KMS encryption context for the new KMS keys, `k1:v1,k2:v2`.
    #[arg(long)]
    pub encryption_context: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Arguments of `rsops groups delete`.
#[derive(Debug, Args)]
pub struct GroupsDeleteArgs {
    /// The encrypted file.
    #[arg(short = 'f', long)]
    pub file: Option<String>,
    /// Index (0-based) of the group to delete.
    pub index: String,
    /// New Shamir threshold (default: keep the file's).
    #[arg(long)]
    pub shamir_secret_sharing_threshold: Option<usize>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `rsops groups add|delete`.
pub fn run(args: &GroupsArgs) -> CmdResult {
    match &args.action {
        GroupsAction::Add(a) => add(a),
        GroupsAction::Delete(a) => delete(a),
    }
}

/// `groups add`: append the group the flags describe.
fn add(args: &GroupsAddArgs) -> CmdResult {
    let file = required_file(args.file.as_deref())?;
    super::check_output_flags(&args.output, Some(file))?;
    let group = group_from_flags(args)?;
    if group.is_empty() {
        return Err(Failure::new(
            exit::GENERIC,
            "Error: the new key group has no keys: give at least one of --age, --pgp, --kms, --gcp-kms, --hckms, --azure-kv, --hc-vault-transit",
        ));
    }
    let mut loaded = super::open::load(Some(file), &args.common)?;
    let service = crate::key_service(&args.common)?;
    let key = recover_data_key(&loaded.metadata, service.as_ref())?;
    let mut groups = master_keys(&loaded.metadata);
    groups.push(group);
    let threshold = args
        .shamir_secret_sharing_threshold
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
fn delete(args: &GroupsDeleteArgs) -> CmdResult {
    let file = required_file(args.file.as_deref())?;
    super::check_output_flags(&args.output, Some(file))?;
    let index: usize = args.index.trim().parse().map_err(|_| {
        Failure::new(
            exit::GENERIC,
            format!(
                "failed to parse [index] argument {:?}: give the 0-based index of the key group to delete",
                args.index
            ),
        )
    })?;
    let mut loaded = super::open::load(Some(file), &args.common)?;
    let count = loaded.metadata.key_groups.len();
    if index >= count {
        return Err(Failure::new(
            exit::GENERIC,
            format!(
                "Error: there is no key group {index}: the file has {count} key group(s), numbered from 0"
            ),
        ));
    }
    if count == 1 {
        return Err(Failure::new(
            exit::GENERIC,
            "Error: cannot delete the only key group of the file: nobody could decrypt it afterwards",
        ));
    }
    let service = crate::key_service(&args.common)?;
    let key = recover_data_key(&loaded.metadata, service.as_ref())?;
    let mut groups = master_keys(&loaded.metadata);
    groups.remove(index);
    let threshold = args
        .shamir_secret_sharing_threshold
        .filter(|t| *t != 0)
        .unwrap_or(loaded.metadata.shamir_threshold);
    if groups.len() < threshold {
        return Err(Failure::new(
            exit::GENERIC,
            format!(
                "removing this key group will make the Shamir threshold impossible to satisfy: Shamir threshold is {threshold}, but we only have {} key groups; lower it with --shamir-secret-sharing-threshold",
                groups.len()
            ),
        ));
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
fn required_file(file: Option<&str>) -> CmdResult<&str> {
    let file = file.filter(|f| !f.is_empty()).ok_or_else(|| {
        Failure::new(
            exit::NO_FILE_SPECIFIED,
            "Error: no file specified: give the encrypted file with --file",
        )
    })?;
    if !std::path::Path::new(file).exists() {
        return Err(super::rotate::missing_file(file));
    }
    Ok(file)
}

/// The master keys of the new group, in sops's order: pgp, kms, gcp_kms,
/// hckms, hc_vault, azure_kv, age.
fn group_from_flags(args: &GroupsAddArgs) -> CmdResult<Vec<MasterKey>> {
    let bad = |e: keyspec::KeySpecError| Failure::new(exit::GENERIC, e.to_string());
    let context = match args
        .encryption_context
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        Some(spec) => keyspec::encryption_context(spec).ok_or_else(|| {
            Failure::new(
                exit::INVALID_KMS_ENCRYPTION_CONTEXT_FORMAT,
                "Invalid KMS encryption context format: use key:value pairs separated by commas",
            )
        })?,
        None => Vec::new(),
    };
    let profile = args.aws_profile.as_deref().unwrap_or("");
    let mut group = Vec::new();
    for fp in &args.pgp {
        group.extend(keyspec::pgp_fingerprints(fp));
    }
    for arn in &args.kms {
        group.extend(keyspec::kms_arns(arn, &context, profile));
    }
    for id in &args.gcp_kms {
        group.extend(keyspec::gcp_kms_ids(id));
    }
    for id in &args.hckms {
        group.extend(keyspec::hckms_ids(id).map_err(bad)?);
    }
    for uri in &args.hc_vault_transit {
        group.extend(keyspec::hc_vault_uris(uri).map_err(bad)?);
    }
    for url in &args.azure_kv {
        group.extend(keyspec::azure_kv_urls(url).map_err(bad)?);
    }
    for recipient in &args.age {
        group.extend(keyspec::age_recipients(recipient).map_err(bad)?);
    }
    Ok(group)
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
    datakey::unwrap(md, service, &[]).map_err(|e| core_failure(e, false))
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
    let (mut wrapped, settled) = datakey::wrap(groups, threshold, key, service, &stamp)
        .map_err(|e| Failure::new(exit::GENERIC, format!("Could not generate data key: {e}")))?;
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
        return Err(Failure::new(
            exit::GENERIC,
            "Could not generate data key: no key groups provided",
        ));
    }
    if let Some(i) = groups.iter().position(Vec::is_empty) {
        return Err(Failure::new(
            exit::GENERIC,
            format!(
                "Could not generate data key: key group {i} would have no keys: keep at least one key in every group, or delete the group with rsops groups delete"
            ),
        ));
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
        MasterKey::Age {
            recipient: r.to_owned(),
        }
    }

    #[test]
    fn check_groups_names_the_empty_group() {
        let err = check_groups(&[vec![age("a")], vec![]]).unwrap_err();
        assert!(err.message.contains("key group 1"), "{}", err.message);
        assert!(check_groups(&[]).is_err());
        assert!(check_groups(&[vec![age("a")]]).is_ok());
    }

    #[test]
    fn required_file_exit_codes() {
        assert_eq!(
            required_file(None).unwrap_err().code,
            exit::NO_FILE_SPECIFIED
        );
        assert_eq!(
            required_file(Some("/nonexistent/f.yaml")).unwrap_err().code,
            exit::COULD_NOT_READ_INPUT_FILE
        );
    }
}
