//! Master key specifications (`--age`, `--pgp`, … and `.sops.yaml` key
//! fields) parsed into [`MasterKey`] values, through the key-kind registry.
//!
//! Validation is syntactic only: nothing here contacts a key backend.

use rsops_keys::{KeyKind, KeyOptions, MasterKey};

pub use rsops_keys::kms::parse_encryption_context as encryption_context;
pub use rsops_keys::KeySpecError;

/// Keys of `kind` from a comma-separated list, qualified by `options`.
pub fn parse(
    kind: KeyKind,
    spec: &str,
    options: &KeyOptions,
) -> Result<Vec<MasterKey>, KeySpecError> {
    kind.parse_spec(spec, options)
}

/// age recipients from a comma-separated list.
pub fn age_recipients(spec: &str) -> Result<Vec<MasterKey>, KeySpecError> {
    parse(KeyKind::Age, spec, &KeyOptions::default())
}

/// OpenPGP fingerprints from a comma-separated list.
pub fn pgp_fingerprints(spec: &str) -> Vec<MasterKey> {
    parse(KeyKind::Pgp, spec, &KeyOptions::default()).unwrap_or_default()
}

/// AWS KMS keys from a comma-separated list, with a context and profile.
pub fn kms_arns(spec: &str, context: &[(String, String)], aws_profile: &str) -> Vec<MasterKey> {
    let options = KeyOptions {
        encryption_context: context.to_vec(),
        aws_profile: aws_profile.to_owned(),
    };
    parse(KeyKind::Kms, spec, &options).unwrap_or_default()
}

/// GCP KMS keys from a comma-separated list.
pub fn gcp_kms_ids(spec: &str) -> Vec<MasterKey> {
    parse(KeyKind::GcpKms, spec, &KeyOptions::default()).unwrap_or_default()
}

/// Azure Key Vault keys from a comma-separated list.
pub fn azure_kv_urls(spec: &str) -> Result<Vec<MasterKey>, KeySpecError> {
    parse(KeyKind::AzureKv, spec, &KeyOptions::default())
}

/// Vault transit keys from a comma-separated list.
pub fn hc_vault_uris(spec: &str) -> Result<Vec<MasterKey>, KeySpecError> {
    parse(KeyKind::HcVault, spec, &KeyOptions::default())
}

/// HuaweiCloud KMS keys from a comma-separated list.
pub fn hckms_ids(spec: &str) -> Result<Vec<MasterKey>, KeySpecError> {
    parse(KeyKind::Hckms, spec, &KeyOptions::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_kind_parses_any_text_without_panicking(spec in ".{0,200}") {
            let options = KeyOptions { encryption_context: Vec::new(), aws_profile: "p".into() };
            for kind in KeyKind::ALL {
                let _ = parse(*kind, &spec, &options);
            }
            let _ = encryption_context(&spec);
        }
    }
}
