//! Azure Key Vault master keys: key URLs
//! `https://<vault>/keys/<name>[/<version>]`.
//!
//! `--azure-kv` / `SOPS_AZURE_KEYVAULT_URLS` take URLs, comma-separated (a
//! missing version is left empty: the caller resolves the latest one);
//! `.sops.yaml` has `azure_keyvault` in rules (URLs) and key groups
//! (`vaultUrl`, `key`, `version`); a metadata entry is `vault_url`, `name`,
//! `version`, `created_at`, `enc`.

use std::sync::OnceLock;

use regex::Regex;
use thiserror::Error;

use crate::kind::{
    split_non_empty_spec, CliSpec, ConfigSpec, FieldType, Fields, FlatField, FlatShape, GroupEntry,
    GroupField, GroupShape, KeyOptions, Kind, MetadataSpec,
};

/// An Azure Key Vault key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureKvKey {
    /// Vault URL.
    pub vault_url: String,
    /// Key name.
    pub name: String,
    /// Key version (empty: the latest, resolved when the key is used).
    pub version: String,
}

/// A key URL that is not `https://vault/keys/name[/version]`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("could not parse {0:?} into a valid Azure Key Vault MasterKey []")]
pub struct AzureKvSpecError(pub String);

impl Kind for AzureKvKey {
    const ID: &'static str = "azure_kv";
    const CLI: CliSpec = CliSpec {
        flag: "azure-kv",
        short: None,
        env: "SOPS_AZURE_KEYVAULT_URLS",
        noun: "Azure Key Vault key URLs",
    };
    const CONFIG: ConfigSpec = ConfigSpec {
        flat: FlatField {
            name: "azure_keyvault",
            shape: FlatShape::StringOrList {
                outer: "azure_keyvault",
            },
        },
        group: GroupField {
            name: "azure_keyvault",
            shape: GroupShape::Structs {
                go_type: "azureKVKey",
                fields: &[
                    ("vaultUrl", FieldType::Str),
                    ("key", FieldType::Str),
                    ("version", FieldType::Str),
                ],
            },
        },
    };
    const METADATA: MetadataSpec = MetadataSpec::IN_ORDER;
    type SpecError = AzureKvSpecError;

    fn parse_spec(spec: &str, _options: &KeyOptions) -> Result<Vec<Self>, AzureKvSpecError> {
        split_non_empty_spec(spec).map(key_url).collect()
    }

    fn from_group_entry(entry: GroupEntry<'_>) -> Result<Vec<Self>, AzureKvSpecError> {
        match entry {
            GroupEntry::Struct(f) => Ok(vec![AzureKvKey {
                vault_url: f.str("vaultUrl"),
                name: f.str("key"),
                version: f.str("version"),
            }]),
            GroupEntry::Str(s) => Self::parse_spec(s, &KeyOptions::default()),
        }
    }

    fn key_string(&self) -> String {
        format!("{}/keys/{}/{}", self.vault_url, self.name, self.version)
    }

    fn from_metadata(entry: &Fields) -> Self {
        AzureKvKey {
            vault_url: entry.str("vault_url"),
            name: entry.str("name"),
            version: entry.str("version"),
        }
    }

    fn to_metadata(&self, enc: &str, created_at: &str) -> Fields {
        let mut f = Fields::new();
        f.push_str("vault_url", &self.vault_url);
        f.push_str("name", &self.name);
        f.push_str("version", &self.version);
        f.push_str("created_at", created_at);
        f.push_str("enc", enc);
        f
    }
}

/// One key URL (trimmed).
fn key_url(part: &str) -> Result<AzureKvKey, AzureKvSpecError> {
    let url = part.trim();
    let caps = url_regex()
        .and_then(|re| re.captures(url))
        .ok_or_else(|| AzureKvSpecError(url.to_owned()))?;
    let group = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let version = group(3).strip_prefix('/').unwrap_or_default();
    Ok(AzureKvKey {
        vault_url: group(1).to_owned(),
        name: group(2).to_owned(),
        version: version.to_owned(),
    })
}

/// `^(https://[^/]+)/keys/([^/]+)(/[^/]*)?$`, compiled once.
fn url_regex() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(https://[^/]+)/keys/([^/]+)(/[^/]*)?$").ok())
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn azure_kv_urls(spec: &str) -> Result<Vec<AzureKvKey>, AzureKvSpecError> {
        AzureKvKey::parse_spec(spec, &KeyOptions::default())
    }

    #[test]
    fn azure_urls_with_and_without_version() {
        let keys = azure_kv_urls(
            " https://v.vault.azure.net/keys/k/0123 ,https://v/keys/n,https://v/keys/n/",
        )
        .unwrap();
        let kv = |name: &str, version: &str, url: &str| AzureKvKey {
            vault_url: url.into(),
            name: name.into(),
            version: version.into(),
        };
        assert_eq!(
            keys,
            vec![
                kv("k", "0123", "https://v.vault.azure.net"),
                kv("n", "", "https://v"),
                kv("n", "", "https://v"),
            ]
        );
        assert_eq!(
            azure_kv_urls("http://v/keys/n").unwrap_err().to_string(),
            "could not parse \"http://v/keys/n\" into a valid Azure Key Vault MasterKey []"
        );
        assert!(azure_kv_urls("https://v/keys/n/1/2").is_err());
        assert!(azure_kv_urls("https://v/keys/a,").is_err());
    }
}
