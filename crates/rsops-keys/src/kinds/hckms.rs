//! HuaweiCloud KMS master keys: `region:key-uuid` IDs.
//!
//! `--hckms` / `SOPS_HUAWEICLOUD_KMS_IDS` take IDs, comma-separated (each
//! trimmed, empty parts skipped); `.sops.yaml` has `hckms` in rules (a list
//! of strings) and key groups (`key_id`); a metadata entry is `key_id`,
//! `created_at`, `enc`.

use std::path::PathBuf;

use thiserror::Error;

pub use super::hc_vault::CallFailure;

#[cfg(feature = "hckms")]
pub(crate) mod client;

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

/// Environment variables of the HuaweiCloud SDK that sops's KMS client
/// reads.
pub mod vars {
    /// Access key ID.
    pub const HUAWEICLOUD_SDK_AK: &str = "HUAWEICLOUD_SDK_AK";
    /// Secret access key.
    pub const HUAWEICLOUD_SDK_SK: &str = "HUAWEICLOUD_SDK_SK";
    /// Project ID (the `{project_id}` of the KMS URLs).
    pub const HUAWEICLOUD_SDK_PROJECT_ID: &str = "HUAWEICLOUD_SDK_PROJECT_ID";
    /// Security token of temporary credentials.
    pub const HUAWEICLOUD_SDK_SECURITY_TOKEN: &str = "HUAWEICLOUD_SDK_SECURITY_TOKEN";
    /// Identity provider of federated credentials (with the token file).
    pub const HUAWEICLOUD_SDK_IDP_ID: &str = "HUAWEICLOUD_SDK_IDP_ID";
    /// OpenID Connect token file of federated credentials.
    pub const HUAWEICLOUD_SDK_ID_TOKEN_FILE: &str = "HUAWEICLOUD_SDK_ID_TOKEN_FILE";
    /// The credentials file (default `~/.huaweicloud/credentials`).
    pub const HUAWEICLOUD_SDK_CREDENTIALS_FILE: &str = "HUAWEICLOUD_SDK_CREDENTIALS_FILE";
    /// Prefix of the per-region endpoint variables:
    /// `HUAWEICLOUD_SDK_REGION_KMS_<REGION>` (upper case, `-` as `_`).
    pub const HUAWEICLOUD_SDK_REGION_KMS_PREFIX: &str = "HUAWEICLOUD_SDK_REGION_KMS_";
}

/// A HuaweiCloud KMS call failed, or could not be made. Names credential
/// sources, never a secret key, token or data key.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HckmsError {
    /// rsops was compiled without the `hckms` feature.
    #[error("rsops was built without HuaweiCloud KMS support (cargo feature `hckms`)")]
    NotBuilt,
    /// The key ID is not `region:key-uuid`.
    #[error(transparent)]
    KeyId(HckmsSpecError),
    /// No source held credentials.
    #[error("failed to get HuaweiCloud credentials: {}", .tried.join("; "))]
    NoCredentials {
        /// What each source lacked.
        tried: Vec<String>,
    },
    /// Federated (IdP) credentials, which need a token exchange rsops does
    /// not implement.
    #[error("failed to get HuaweiCloud credentials: {source_name} sets an identity provider and token file; federated credentials are not supported by rsops yet (use an AK/SK pair)")]
    Federated {
        /// The environment or the credentials file.
        source_name: String,
    },
    /// The credentials file exists but cannot be read.
    #[error("failed to get HuaweiCloud credentials: {}: {source}", .path.display())]
    CredentialsFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Credentials without a project ID.
    #[error("no HuaweiCloud project ID for region {region:?} in {credentials}: set {var} (rsops does not look it up at IAM)", var = vars::HUAWEICLOUD_SDK_PROJECT_ID)]
    NoProject {
        /// The key's region.
        region: String,
        /// Where the credentials came from.
        credentials: String,
    },
    /// A region without a known KMS endpoint.
    #[error("invalid region {region:?}: no KMS endpoint known; set {variable} to its URL")]
    UnknownRegion {
        /// The key's region.
        region: String,
        /// The variable that would name the endpoint.
        variable: String,
    },
    /// The HTTP client could not be built.
    #[error("failed to create HuaweiCloud KMS client: {0}")]
    Client(String),
    /// The call failed.
    #[error("failed to {op} sops data key with HuaweiCloud KMS: {failure} (URL {url}; credentials from {credentials})", op = if *.encrypt { "encrypt" } else { "decrypt" })]
    Call {
        /// Encrypt (else decrypt).
        encrypt: bool,
        /// The URL called.
        url: String,
        /// Where the credentials came from.
        credentials: String,
        /// What went wrong.
        failure: CallFailure,
    },
}

/// Encrypts a data key (or Shamir share) with the KMS key; returns the
/// `cipher_text` stored as `enc`.
pub fn encrypt(key: &HckmsKey, plaintext: &[u8]) -> Result<String, crate::KeyError> {
    #[cfg(feature = "hckms")]
    let result = client::encrypt(key, plaintext);
    #[cfg(not(feature = "hckms"))]
    let result = {
        let _ = (key, plaintext);
        Err(HckmsError::NotBuilt)
    };
    result.map_err(crate::KeyError::Hckms)
}

/// Decrypts an `enc` text with the KMS key.
pub fn decrypt(key: &HckmsKey, enc: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, crate::KeyError> {
    #[cfg(feature = "hckms")]
    let result = client::decrypt(key, enc);
    #[cfg(not(feature = "hckms"))]
    let result = {
        let _ = (key, enc);
        Err(HckmsError::NotBuilt)
    };
    result.map_err(crate::KeyError::Hckms)
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

    #[cfg(not(feature = "hckms"))]
    #[test]
    fn without_the_feature_key_calls_say_so() {
        let key = hckms_ids("tr-west-1:k").unwrap().remove(0);
        let err = encrypt(&key, b"data key").unwrap_err();
        assert_eq!(
            err.to_string(),
            "rsops was built without HuaweiCloud KMS support (cargo feature `hckms`)"
        );
        assert!(decrypt(&key, "x").is_err());
        assert_eq!(err.kind(), Some("hckms"));
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
