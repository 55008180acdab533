//! GCP Cloud KMS master keys: `projects/…/locations/…/keyRings/…/cryptoKeys/…`
//! resource IDs.
//!
//! `--gcp-kms` / `SOPS_GCP_KMS_IDS` take resource IDs, comma-separated (all
//! spaces removed); `.sops.yaml` has `gcp_kms` in rules and key groups
//! (`resource_id`); a metadata entry is `resource_id`, `created_at`, `enc`.

use std::convert::Infallible;

use crate::kind::{
    remove_spaces, split_non_empty_spec, CliSpec, ConfigSpec, FieldType, Fields, FlatField,
    FlatShape, GroupEntry, GroupField, GroupShape, KeyOptions, Kind, MetadataSpec,
};

/// A GCP KMS key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcpKmsKey {
    /// `projects/…/cryptoKeys/…`.
    pub resource_id: String,
}

impl Kind for GcpKmsKey {
    const ID: &'static str = "gcp_kms";
    const CLI: CliSpec = CliSpec {
        flag: "gcp-kms",
        short: None,
        env: "SOPS_GCP_KMS_IDS",
        noun: "GCP KMS resource IDs",
    };
    const CONFIG: ConfigSpec = ConfigSpec {
        flat: FlatField {
            name: "gcp_kms",
            shape: FlatShape::StringOrList { outer: "gcpkms" },
        },
        group: GroupField {
            name: "gcp_kms",
            shape: GroupShape::Structs {
                go_type: "gcpKmsKey",
                fields: &[("resource_id", FieldType::Str)],
            },
        },
    };
    const METADATA: MetadataSpec = MetadataSpec::IN_ORDER;
    type SpecError = Infallible;

    fn parse_spec(spec: &str, _options: &KeyOptions) -> Result<Vec<Self>, Infallible> {
        Ok(split_non_empty_spec(spec)
            .map(|part| GcpKmsKey {
                resource_id: remove_spaces(part),
            })
            .collect())
    }

    fn from_group_entry(entry: GroupEntry<'_>) -> Result<Vec<Self>, Infallible> {
        Ok(match entry {
            GroupEntry::Struct(f) => vec![GcpKmsKey {
                resource_id: remove_spaces(&f.str("resource_id")),
            }],
            GroupEntry::Str(s) => Self::parse_spec(s, &KeyOptions::default())?,
        })
    }

    fn key_string(&self) -> String {
        self.resource_id.clone()
    }

    fn from_metadata(entry: &Fields) -> Self {
        GcpKmsKey {
            resource_id: entry.str("resource_id"),
        }
    }

    fn to_metadata(&self, enc: &str, created_at: &str) -> Fields {
        let mut f = Fields::new();
        f.push_str("resource_id", &self.resource_id);
        f.push_str("created_at", created_at);
        f.push_str("enc", enc);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcp_removes_spaces() {
        let keys = GcpKmsKey::parse_spec(
            "projects/p/locations/global/keyRings/r/cryptoKeys/k , x y",
            &KeyOptions::default(),
        );
        assert_eq!(
            keys,
            Ok(vec![
                GcpKmsKey {
                    resource_id: "projects/p/locations/global/keyRings/r/cryptoKeys/k".into()
                },
                GcpKmsKey {
                    resource_id: "xy".into()
                },
            ])
        );
    }
}
