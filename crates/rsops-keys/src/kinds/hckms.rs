//! HuaweiCloud KMS master keys: `region:key-uuid` IDs.
//!
//! `--hckms` / `SOPS_HUAWEICLOUD_KMS_IDS` take IDs, comma-separated (each
//! trimmed, empty parts skipped); `.sops.yaml` has `hckms` in rules (a list
//! of strings) and key groups (`key_id`); a metadata entry is `key_id`,
//! `created_at`, `enc`.

use thiserror::Error;

use crate::kind::{
    CliSpec, ConfigSpec, FieldType, Fields, FlatField, FlatShape, GroupEntry, GroupField,
    GroupShape, KeyOptions, Kind, MetadataSpec,
};

/// A HuaweiCloud KMS key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HckmsKey {
    /// `region:key-uuid`.
    pub key_id: String,
}

/// A key ID that is not `region:key-uuid`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HckmsSpecError {
    /// No `:` in the ID.
    #[error("invalid key ID format: expected 'region:key-uuid', got {0:?}")]
    Format(String),
    /// An empty region.
    #[error("region cannot be empty in key ID: {0:?}")]
    EmptyRegion(String),
    /// An empty key UUID.
    #[error("key UUID cannot be empty in key ID: {0:?}")]
    EmptyUuid(String),
}

impl Kind for HckmsKey {
    const ID: &'static str = "hckms";
    const CLI: CliSpec = CliSpec {
        flag: "hckms",
        short: None,
        env: "SOPS_HUAWEICLOUD_KMS_IDS",
        noun: "HuaweiCloud KMS key IDs",
    };
    const CONFIG: ConfigSpec = ConfigSpec {
        flat: FlatField {
            name: "hckms",
            shape: FlatShape::StringList,
        },
        group: GroupField {
            name: "hckms",
            shape: GroupShape::Structs {
                go_type: "hckmsKey",
                fields: &[("key_id", FieldType::Str)],
            },
        },
    };
    const METADATA: MetadataSpec = MetadataSpec::IN_ORDER;
    type SpecError = HckmsSpecError;

    fn parse_spec(spec: &str, _options: &KeyOptions) -> Result<Vec<Self>, HckmsSpecError> {
        spec.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(key_id)
            .collect()
    }

    /// A key-group `key_id` must not be blank.
    fn from_group_entry(entry: GroupEntry<'_>) -> Result<Vec<Self>, HckmsSpecError> {
        let id = match entry {
            GroupEntry::Struct(f) => f.str("key_id"),
            GroupEntry::Str(s) => s.to_owned(),
        };
        if id.trim().is_empty() {
            return Err(HckmsSpecError::Format(id.trim().to_owned()));
        }
        Self::parse_spec(&id, &KeyOptions::default())
    }

    fn key_string(&self) -> String {
        self.key_id.clone()
    }

    fn from_metadata(entry: &Fields) -> Self {
        HckmsKey {
            key_id: entry.str("key_id"),
        }
    }

    fn to_metadata(&self, enc: &str, created_at: &str) -> Fields {
        let mut f = Fields::new();
        f.push_str("key_id", &self.key_id);
        f.push_str("created_at", created_at);
        f.push_str("enc", enc);
        f
    }
}

/// One `region:key-uuid` ID (already trimmed).
fn key_id(key_id: &str) -> Result<HckmsKey, HckmsSpecError> {
    let Some((region, uuid)) = key_id.split_once(':') else {
        return Err(HckmsSpecError::Format(key_id.to_owned()));
    };
    if region.trim().is_empty() {
        return Err(HckmsSpecError::EmptyRegion(key_id.to_owned()));
    }
    if uuid.trim().is_empty() {
        return Err(HckmsSpecError::EmptyUuid(key_id.to_owned()));
    }
    Ok(HckmsKey {
        key_id: key_id.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hckms_ids(spec: &str) -> Result<Vec<HckmsKey>, HckmsSpecError> {
        HckmsKey::parse_spec(spec, &KeyOptions::default())
    }

    #[test]
    fn hckms_ids_are_validated() {
        assert_eq!(
            hckms_ids(" cn-north-4:0123 ,, ").unwrap(),
            vec![HckmsKey {
                key_id: "cn-north-4:0123".into()
            }]
        );
        assert_eq!(
            hckms_ids("abc").unwrap_err().to_string(),
            "invalid key ID format: expected 'region:key-uuid', got \"abc\""
        );
        assert_eq!(
            hckms_ids(":u").unwrap_err(),
            HckmsSpecError::EmptyRegion(":u".into())
        );
        assert_eq!(
            hckms_ids("r: ").unwrap_err(),
            HckmsSpecError::EmptyUuid("r:".into())
        );
    }

    #[test]
    fn blank_group_key_id_is_refused() {
        let mut f = Fields::new();
        f.push_str("key_id", "  ");
        assert_eq!(
            HckmsKey::from_group_entry(GroupEntry::Struct(&f)),
            Err(HckmsSpecError::Format(String::new()))
        );
    }
}
