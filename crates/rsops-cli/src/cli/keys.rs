//! The key-type flags (`--age`, `--pgp`, `--kms`, `--gcp-kms`,
//! `--azure-kv`, `--hc-vault-transit`, `--hckms`), their `--add-*`/`--rm-*`
//! forms and their environment variables: the only place that names them.
//!
//! Each group turns its flags into a list of [`KeySpec`]s, (key kind
//! identifier, spec string) pairs in the order sops reads them; the
//! settings turn those into master keys (`settings::keys`), so nothing
//! else in the binary spells a key-type flag out.

use clap::Args;
use rsops_core::env;

/// One key-type flag's value: the key kind's identifier (as
/// `rsops_keys::KeyKind::identifier` spells it) and what was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// `age`, `pgp`, `kms`, `gcp_kms`, `hckms`, `azure_kv` or `hc_vault`.
    pub kind: &'static str,
    /// The comma-separated list (or single key) as given.
    pub spec: String,
}

/// The key lists of a new file (encrypt, edit of a new file).
#[derive(Debug, Args, Default, Clone)]
pub struct KeyFlags {
    /// age recipients, comma-separated.
    #[arg(short = 'a', long, env = env::SOPS_AGE_RECIPIENTS)]
    pub age: Option<String>,
    /// OpenPGP fingerprints, comma-separated.
    #[arg(short = 'p', long, env = env::SOPS_PGP_FP)]
    pub pgp: Option<String>,
    /// AWS KMS ARNs, comma-separated.
    #[arg(short = 'k', long, env = env::SOPS_KMS_ARN)]
    pub kms: Option<String>,
    /// GCP KMS resource IDs, comma-separated.
    #[arg(long, env = env::SOPS_GCP_KMS_IDS)]
    pub gcp_kms: Option<String>,
    /// HuaweiCloud KMS key IDs, comma-separated.
    #[arg(long, env = env::SOPS_HUAWEICLOUD_KMS_IDS)]
    pub hckms: Option<String>,
    /// Azure Key Vault key URLs, comma-separated.
    #[arg(long, env = env::SOPS_AZURE_KEYVAULT_URLS)]
    pub azure_kv: Option<String>,
    /// HashiCorp Vault transit URIs, comma-separated.
    #[arg(long, env = env::SOPS_VAULT_URIS)]
    pub hc_vault_transit: Option<String>,
}

impl KeyFlags {
    /// The non-blank lists, in sops's order: kms, gcp_kms, hckms, azure_kv,
    /// pgp, hc_vault, age.
    pub fn specs(&self) -> Vec<KeySpec> {
        non_blank([
            ("kms", &self.kms),
            ("gcp_kms", &self.gcp_kms),
            ("hckms", &self.hckms),
            ("azure_kv", &self.azure_kv),
            ("pgp", &self.pgp),
            ("hc_vault", &self.hc_vault_transit),
            ("age", &self.age),
        ])
    }
}

/// The `--add-*` / `--rm-*` flags (comma-separated lists), as sops has them.
#[derive(Debug, Args, Default, Clone)]
pub struct KeyChangeFlags {
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

impl KeyChangeFlags {
    /// The non-blank `--add-*` lists, in sops's order: kms, pgp, gcp_kms,
    /// hckms, azure_kv, hc_vault, age.
    pub fn adds(&self) -> Vec<KeySpec> {
        non_blank([
            ("kms", &self.add_kms),
            ("pgp", &self.add_pgp),
            ("gcp_kms", &self.add_gcp_kms),
            ("hckms", &self.add_hckms),
            ("azure_kv", &self.add_azure_kv),
            ("hc_vault", &self.add_hc_vault_transit),
            ("age", &self.add_age),
        ])
    }

    /// The non-blank `--rm-*` lists, in the same order.
    pub fn removes(&self) -> Vec<KeySpec> {
        non_blank([
            ("kms", &self.rm_kms),
            ("pgp", &self.rm_pgp),
            ("gcp_kms", &self.rm_gcp_kms),
            ("hckms", &self.rm_hckms),
            ("azure_kv", &self.rm_azure_kv),
            ("hc_vault", &self.rm_hc_vault_transit),
            ("age", &self.rm_age),
        ])
    }

    /// Whether any `--add-*`/`--rm-*` flag is non-empty.
    pub fn any(&self) -> bool {
        [
            &self.add_kms,
            &self.add_pgp,
            &self.add_gcp_kms,
            &self.add_hckms,
            &self.add_azure_kv,
            &self.add_hc_vault_transit,
            &self.add_age,
            &self.rm_kms,
            &self.rm_pgp,
            &self.rm_gcp_kms,
            &self.rm_hckms,
            &self.rm_azure_kv,
            &self.rm_hc_vault_transit,
            &self.rm_age,
        ]
        .iter()
        .any(|v| v.as_deref().is_some_and(|s| !s.is_empty()))
    }
}

/// The keys of a new key group (`groups add`): each flag repeatable, no
/// environment variables (as sops).
#[derive(Debug, Args, Default, Clone)]
pub struct GroupKeyFlags {
    /// OpenPGP fingerprints of the new group (repeatable).
    #[arg(long)]
    pub pgp: Vec<String>,
    /// AWS KMS ARNs of the new group (repeatable).
    #[arg(long)]
    pub kms: Vec<String>,
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
}

impl GroupKeyFlags {
    /// Every value, in sops's order: pgp, kms, gcp_kms, hckms, hc_vault,
    /// azure_kv, age.
    pub fn specs(&self) -> Vec<KeySpec> {
        [
            ("pgp", &self.pgp),
            ("kms", &self.kms),
            ("gcp_kms", &self.gcp_kms),
            ("hckms", &self.hckms),
            ("hc_vault", &self.hc_vault_transit),
            ("azure_kv", &self.azure_kv),
            ("age", &self.age),
        ]
        .into_iter()
        .flat_map(|(kind, values)| {
            values.iter().map(move |spec| KeySpec {
                kind,
                spec: spec.clone(),
            })
        })
        .collect()
    }
}

/// The lists that are set and not blank, in the given order.
fn non_blank<const N: usize>(lists: [(&'static str, &Option<String>); N]) -> Vec<KeySpec> {
    lists
        .into_iter()
        .filter_map(|(kind, value)| {
            let spec = value.as_deref().filter(|s| !s.trim().is_empty())?;
            Some(KeySpec {
                kind,
                spec: spec.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind named here is one the key crate knows.
    #[test]
    fn kinds_are_key_kind_identifiers() {
        let all = KeyChangeFlags {
            add_age: Some("a".into()),
            add_pgp: Some("p".into()),
            add_kms: Some("k".into()),
            add_gcp_kms: Some("g".into()),
            add_hckms: Some("h".into()),
            add_azure_kv: Some("z".into()),
            add_hc_vault_transit: Some("v".into()),
            ..KeyChangeFlags::default()
        };
        let adds = all.adds();
        assert_eq!(adds.len(), 7);
        for s in adds {
            assert!(
                rsops_keys::KeyKind::from_identifier(s.kind).is_some(),
                "{}",
                s.kind
            );
        }
        assert!(all.removes().is_empty());
    }

    #[test]
    fn blank_lists_are_left_out_in_sops_order() {
        let flags = KeyFlags {
            age: Some("age1x".into()),
            pgp: Some("  ".into()),
            kms: Some("arn".into()),
            ..KeyFlags::default()
        };
        let kinds: Vec<&str> = flags.specs().iter().map(|s| s.kind).collect();
        assert_eq!(kinds, ["kms", "age"]);
    }
}
