//! `rsops rotate` (and the legacy `-r`/`--add-*`/`--rm-*` forms through
//! [`rotate`]): decrypt the file (MAC checked), add master keys to key
//! group 0 and remove them from every group (matched by key string), then
//! generate a new data key and re-encrypt every value with it (CLI.md §2.1,
//! FORMAT.md §8). Output to stdout unless `-i`/`--output`.

use clap::Args;
use rsops_core::file;
use rsops_core::keyspec;
use rsops_keys::MasterKey;

use super::{core_failure, deliver};
use crate::args::{CommonArgs, OutputArgs};
use crate::exit::{self, CmdResult, Failure};
use crate::io::Sensitivity;

/// The `--add-*` / `--rm-*` flags (comma-separated lists), as sops has them.
#[derive(Debug, Args, Default, Clone)]
pub struct KeyChangeArgs {
    /// age recipients to add to key group 0.
    #[arg(long)]
    pub add_age: Option<String>,
    /// age recipients to remove from every key group.
    #[arg(long)]
    pub rm_age: Option<String>,
    /// OpenPGP fingerprints to add to key group 0.
    #[arg(long)]
    pub add_pgp: Option<String>,
    /// OpenPGP fingerprints to remove from every key group.
    #[arg(long)]
    pub rm_pgp: Option<String>,
    /// AWS KMS ARNs to add to key group 0.
    #[arg(long)]
    pub add_kms: Option<String>,
    /// AWS KMS ARNs to remove from every key group.
    #[arg(long)]
    pub rm_kms: Option<String>,
    /// GCP KMS resource IDs to add to key group 0.
    #[arg(long)]
    pub add_gcp_kms: Option<String>,
    /// GCP KMS resource IDs to remove from every key group.
    #[arg(long)]
    pub rm_gcp_kms: Option<String>,
    /// HuaweiCloud KMS key IDs to add to key group 0.
    #[arg(long)]
    pub add_hckms: Option<String>,
    /// HuaweiCloud KMS key IDs to remove from every key group.
    #[arg(long)]
    pub rm_hckms: Option<String>,
    /// Azure Key Vault key URLs to add to key group 0.
    #[arg(long)]
    pub add_azure_kv: Option<String>,
    /// Azure Key Vault key URLs to remove from every key group.
    #[arg(long)]
    pub rm_azure_kv: Option<String>,
    /// HashiCorp Vault transit URIs to add to key group 0.
    #[arg(long)]
    pub add_hc_vault_transit: Option<String>,
    /// HashiCorp Vault transit URIs to remove from every key group.
    #[arg(long)]
    pub rm_hc_vault_transit: Option<String>,
}

/// One side (add or remove) of the key-change flags.
struct KeyLists<'a> {
    kms: &'a Option<String>,
    pgp: &'a Option<String>,
    gcp_kms: &'a Option<String>,
    hckms: &'a Option<String>,
    azure_kv: &'a Option<String>,
    hc_vault: &'a Option<String>,
    age: &'a Option<String>,
}

impl KeyChangeArgs {
    /// Whether any `--add-*`/`--rm-*` flag is non-empty.
    pub fn any(&self) -> bool {
        [self.adds(), self.removes()].iter().any(|side| {
            [
                side.kms,
                side.pgp,
                side.gcp_kms,
                side.hckms,
                side.azure_kv,
                side.hc_vault,
                side.age,
            ]
            .iter()
            .any(|v| v.as_deref().is_some_and(|s| !s.is_empty()))
        })
    }

    fn adds(&self) -> KeyLists<'_> {
        KeyLists {
            kms: &self.add_kms,
            pgp: &self.add_pgp,
            gcp_kms: &self.add_gcp_kms,
            hckms: &self.add_hckms,
            azure_kv: &self.add_azure_kv,
            hc_vault: &self.add_hc_vault_transit,
            age: &self.add_age,
        }
    }

    fn removes(&self) -> KeyLists<'_> {
        KeyLists {
            kms: &self.rm_kms,
            pgp: &self.rm_pgp,
            gcp_kms: &self.rm_gcp_kms,
            hckms: &self.rm_hckms,
            azure_kv: &self.rm_azure_kv,
            hc_vault: &self.rm_hc_vault_transit,
            age: &self.rm_age,
        }
    }
}

/// Master keys to add to group 0 and to remove from every group.
#[derive(Debug, Default, Clone)]
pub struct KeyChanges {
    /// Keys appended to key group 0.
    pub add: Vec<MasterKey>,
    /// Keys removed from every group (matched by key string).
    pub remove: Vec<MasterKey>,
}

impl KeyChanges {
    /// Parses the flags. `encryption_context` (`--encryption-context`)
    /// applies to the KMS ARNs; `aws_profile` to them too.
    pub fn from_flags(
        flags: &KeyChangeArgs,
        encryption_context: Option<&str>,
        aws_profile: Option<&str>,
    ) -> CmdResult<KeyChanges> {
        let context = match encryption_context.filter(|s| !s.trim().is_empty()) {
            Some(spec) => keyspec::encryption_context(spec).ok_or_else(|| {
                Failure::new(
                    exit::INVALID_KMS_ENCRYPTION_CONTEXT_FORMAT,
                    "Invalid KMS encryption context format: use key:value pairs separated by commas",
                )
            })?,
            None => Vec::new(),
        };
        let profile = aws_profile.unwrap_or("");
        Ok(KeyChanges {
            add: parse_side(&flags.adds(), &context, profile)?,
            remove: parse_side(&flags.removes(), &context, profile)?,
        })
    }

    /// Whether there is nothing to add or remove.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// Applies the changes to key groups as sops does: additions go to
    /// group 0 (created if there is none), removals apply to every group.
    pub fn apply(&self, groups: &mut Vec<Vec<MasterKey>>) {
        if !self.add.is_empty() {
            if groups.is_empty() {
                groups.push(Vec::new());
            }
            if let Some(first) = groups.first_mut() {
                first.extend(self.add.iter().cloned());
            }
        }
        let removed: Vec<String> = self.remove.iter().map(MasterKey::key_string).collect();
        for group in groups.iter_mut() {
            group.retain(|k| !removed.contains(&k.key_string()));
        }
    }
}

/// The keys of one side, in sops's order: kms, pgp, gcp_kms, hckms,
/// azure_kv, hc_vault, age.
fn parse_side(
    side: &KeyLists<'_>,
    context: &[(String, String)],
    profile: &str,
) -> CmdResult<Vec<MasterKey>> {
    let bad = |e: keyspec::KeySpecError| Failure::new(exit::GENERIC, e.to_string());
    let spec = |o: &Option<String>| o.clone().filter(|s| !s.trim().is_empty());
    let mut keys = Vec::new();
    if let Some(s) = spec(side.kms) {
        keys.extend(keyspec::kms_arns(&s, context, profile));
    }
    if let Some(s) = spec(side.pgp) {
        keys.extend(keyspec::pgp_fingerprints(&s));
    }
    if let Some(s) = spec(side.gcp_kms) {
        keys.extend(keyspec::gcp_kms_ids(&s));
    }
    if let Some(s) = spec(side.hckms) {
        keys.extend(keyspec::hckms_ids(&s).map_err(bad)?);
    }
    if let Some(s) = spec(side.azure_kv) {
        keys.extend(keyspec::azure_kv_urls(&s).map_err(bad)?);
    }
    if let Some(s) = spec(side.hc_vault) {
        keys.extend(keyspec::hc_vault_uris(&s).map_err(bad)?);
    }
    if let Some(s) = spec(side.age) {
        keys.extend(keyspec::age_recipients(&s).map_err(bad)?);
    }
    Ok(keys)
}

/// Arguments of `rsops rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The encrypted file.
    pub file: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub changes: KeyChangeArgs,
    /// KMS encryption context for the added/removed KMS keys, `k1:v1,k2:v2`.
    #[arg(long)]
    pub encryption_context: Option<String>,
    /// Order in which key types are tried, e.g. `age,pgp`.
    #[arg(long, env = rsops_core::env::SOPS_DECRYPTION_ORDER)]
    pub decryption_order: Option<String>,
}

/// What a rotation needs; the entry point for legacy `rsops -r FILE` and
/// `rsops --add-age X FILE`.
pub struct RotateRequest<'a> {
    /// The encrypted file.
    pub file: &'a str,
    /// Shared flags (`--config`, stores, `--filename-override`, key service).
    pub common: &'a CommonArgs,
    /// Where the result goes.
    pub output: &'a OutputArgs,
    /// Keys to add and remove.
    pub changes: &'a KeyChanges,
    /// `--decryption-order` / `SOPS_DECRYPTION_ORDER`.
    pub decryption_order: Option<&'a str>,
    /// `--ignore-mac` (legacy mode only; the subcommand always checks it).
    pub ignore_mac: bool,
}

/// Runs `rsops rotate`.
pub fn run(args: &RotateArgs) -> CmdResult {
    let Some(file) = args.file.as_deref() else {
        return Err(Failure::new(
            exit::NO_FILE_SPECIFIED,
            "Error: no file specified",
        ));
    };
    super::check_output_flags(&args.output, Some(file))?;
    if args.changes.any() && !std::path::Path::new(file).exists() {
        return Err(missing_with_changes(file));
    }
    let changes = KeyChanges::from_flags(&args.changes, args.encryption_context.as_deref(), None)?;
    rotate(&RotateRequest {
        file,
        common: &args.common,
        output: &args.output,
        changes: &changes,
        decryption_order: args.decryption_order.as_deref(),
        ignore_mac: false,
    })
}

/// Rotates the data key of `req.file` (applying the key changes) and
/// delivers the result.
pub fn rotate(req: &RotateRequest<'_>) -> CmdResult {
    super::check_output_flags(req.output, Some(req.file))?;
    if !std::path::Path::new(req.file).exists() {
        return Err(if req.changes.is_empty() {
            missing_file(req.file)
        } else {
            missing_with_changes(req.file)
        });
    }
    let mut opened = super::open::decrypt(
        Some(req.file),
        req.common,
        req.decryption_order,
        req.ignore_mac,
    )?;
    let mut groups = super::groups::master_keys(&opened.file.metadata);
    req.changes.apply(&mut groups);
    super::groups::check_groups(&groups)?;
    let service = crate::key_service(req.common)?;
    file::rotate(
        &mut opened.file.docs,
        &mut opened.file.metadata,
        &opened.opened,
        &groups,
        service.as_ref(),
        time::OffsetDateTime::now_utc(),
    )
    .map_err(|e| match e {
        rsops_core::CoreError::KeyWrap { .. } | rsops_core::CoreError::KeyGroups(_) => {
            Failure::new(exit::GENERIC, format!("Could not generate data key: {e}"))
        }
        other => core_failure(other, true),
    })?;
    let out = opened.file.render()?;
    deliver(
        req.output,
        Some(req.file),
        &out,
        Sensitivity::Encrypted,
        crate::io::Commit::Now,
    )
}

/// sops's exit 2 for a missing file without key changes.
pub(crate) fn missing_file(file: &str) -> Failure {
    Failure::new(
        exit::COULD_NOT_READ_INPUT_FILE,
        format!("Error reading file {file}: no such file or directory"),
    )
}

/// sops's exit 49 for `--add-*`/`--rm-*` on a missing file.
fn missing_with_changes(file: &str) -> Failure {
    Failure::new(
        exit::CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE,
        format!(
            "Error: cannot add or remove keys on non-existent file {file:?}, use the `edit` subcommand instead."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_adds_to_group_zero_and_removes_everywhere() {
        let mut groups = vec![
            vec![MasterKey::age("a"), MasterKey::pgp("P")],
            vec![MasterKey::age("b"), MasterKey::pgp("P")],
        ];
        let changes = KeyChanges {
            add: vec![MasterKey::age("c")],
            remove: vec![MasterKey::pgp("P"), MasterKey::age("zzz")],
        };
        changes.apply(&mut groups);
        assert_eq!(
            groups,
            vec![
                vec![MasterKey::age("a"), MasterKey::age("c")],
                vec![MasterKey::age("b")]
            ]
        );
    }

    #[test]
    fn flags_parse_in_sops_order() {
        let flags = KeyChangeArgs {
            add_age: Some("age19zt9lpwdukeu0vakyklywey3p54tpxj3lc4z39v6hem3e6fkuyhqf7rlyw".into()),
            add_pgp: Some("E43F4C44E69FA1FBD74FA85A40B881A36B576BD1".into()),
            rm_pgp: Some("AAAA".into()),
            ..KeyChangeArgs::default()
        };
        assert!(flags.any());
        let changes = KeyChanges::from_flags(&flags, None, None).expect("parse");
        assert_eq!(changes.add.len(), 2);
        assert_eq!(changes.add[0].kind(), rsops_keys::KeyKind::Pgp);
        assert_eq!(changes.remove, vec![MasterKey::pgp("AAAA")]);
        assert!(!KeyChangeArgs::default().any());
    }

    #[test]
    fn bad_recipient_and_context_are_errors() {
        let flags = KeyChangeArgs {
            add_age: Some("not-a-recipient".into()),
            ..KeyChangeArgs::default()
        };
        assert_eq!(
            KeyChanges::from_flags(&flags, None, None).unwrap_err().code,
            exit::GENERIC
        );
        assert_eq!(
            KeyChanges::from_flags(&KeyChangeArgs::default(), Some("nocolon"), None)
                .unwrap_err()
                .code,
            exit::INVALID_KMS_ENCRYPTION_CONTEXT_FORMAT
        );
    }
}
