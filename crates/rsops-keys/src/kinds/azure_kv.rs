//! Azure Key Vault master keys: key URLs
//! `https://<vault>/keys/<name>[/<version>]`.
//!
//! `--azure-kv` / `SOPS_AZURE_KEYVAULT_URLS` take URLs, comma-separated (a
//! missing version is left empty: the caller resolves the latest one);
//! `.sops.yaml` has `azure_keyvault` in rules (URLs) and key groups
//! (`vaultUrl`, `key`, `version`); a metadata entry is `vault_url`, `name`,
//! `version`, `created_at`, `enc`.
//!
//! With the `azure` feature the key wraps and unwraps data keys with the
//! vault's `encrypt` / `decrypt` operations (`RSA-OAEP-256`), and a key
//! without version is resolved to the latest one ([`AzureKvKey::resolve`])
//! before it is first used, so files always record a concrete version, as
//! sops does. Without the feature, key operations fail with
//! [`AzureKvError::NotBuilt`].

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;
use thiserror::Error;
use zeroize::Zeroizing;

#[cfg(feature = "azure")]
mod certificate;
#[cfg(feature = "azure")]
mod client;
#[cfg(feature = "azure")]
mod credential;

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

impl AzureKvKey {
    /// Whether removing this key removes `entry`: the same vault, name and
    /// version, or any version when this key has none. (sops resolves a
    /// missing version to the latest one first, so an entry written before
    /// the key was rotated in the vault is not removed, and the removal
    /// needs vault access; matching by vault and name needs neither.)
    pub fn removes(&self, entry: &AzureKvKey) -> bool {
        self.vault_url == entry.vault_url
            && self.name == entry.name
            && (self.version.is_empty() || self.version == entry.version)
    }

    /// The key with its latest version filled in (`GET key`), or `None`
    /// when it already names a version.
    pub fn resolve(&self) -> Result<Option<AzureKvKey>, AzureKvError> {
        if !self.version.is_empty() {
            return Ok(None);
        }
        #[cfg(feature = "azure")]
        return client::resolve(self);
        #[cfg(not(feature = "azure"))]
        Err(AzureKvError::NotBuilt)
    }

    /// Encrypts `plaintext` (the data key or a Shamir share) with the key;
    /// returns `enc` (base64url without padding).
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, AzureKvError> {
        #[cfg(feature = "azure")]
        return client::encrypt(self, plaintext);
        #[cfg(not(feature = "azure"))]
        {
            let _ = plaintext;
            Err(AzureKvError::NotBuilt)
        }
    }

    /// Decrypts `enc` with the key.
    pub fn decrypt(&self, enc: &str) -> Result<Zeroizing<Vec<u8>>, AzureKvError> {
        #[cfg(feature = "azure")]
        return client::decrypt(self, enc);
        #[cfg(not(feature = "azure"))]
        {
            let _ = enc;
            Err(AzureKvError::NotBuilt)
        }
    }
}

/// A Key Vault call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AzureCall {
    /// `GET /keys/{name}/`: resolving the latest version.
    GetKey,
    /// `POST /keys/{name}/{version}/encrypt`.
    Encrypt,
    /// `POST /keys/{name}/{version}/decrypt`.
    Decrypt,
}

impl AzureCall {
    /// The operation's name in the URL and in messages.
    pub fn operation(self) -> &'static str {
        match self {
            AzureCall::GetKey => "get key",
            AzureCall::Encrypt => "encrypt",
            AzureCall::Decrypt => "decrypt",
        }
    }
}

impl fmt::Display for AzureCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.operation())
    }
}

/// What one credential of the chain said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialAttempt {
    /// The credential (`environment`, `managed identity`, `Azure CLI`, ...).
    pub credential: &'static str,
    /// Why it gave no token (never a token or secret).
    pub reason: String,
    /// Whether it ended the chain (a configured credential that failed).
    pub stopped: bool,
}

/// The attempts, one line each.
struct Attempts<'a>(&'a [CredentialAttempt]);

impl fmt::Display for Attempts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for a in self.0 {
            write!(f, "\n    - {}: {}", a.credential, a.reason)?;
        }
        Ok(())
    }
}

/// Why an Azure Key Vault key operation failed. Never holds a token, a
/// secret or key material.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AzureKvError {
    /// rsops was built without the `azure` feature.
    #[error("rsops was built without Azure Key Vault support (feature `azure`)")]
    NotBuilt,
    /// The `enc` value is not base64url.
    #[error("Azure Key Vault key {key}: the enc value is not base64url: {reason}")]
    Enc {
        /// The key URL.
        key: String,
        /// The decoder's reason.
        reason: String,
    },
    /// No credential of the chain gave a token.
    #[error("Azure Key Vault key {key}: {call}: no credential gave a token; sources tried:{}", Attempts(.attempts))]
    Credentials {
        /// The key URL.
        key: String,
        /// The call that needed the token.
        call: AzureCall,
        /// Each credential tried, in order.
        attempts: Vec<CredentialAttempt>,
    },
    /// The vault's authentication challenge is missing or not acceptable.
    #[error("Azure Key Vault key {key}: {call}: {reason}")]
    Challenge {
        /// The key URL.
        key: String,
        /// The call.
        call: AzureCall,
        /// What is wrong.
        reason: String,
    },
    /// The request could not be sent or its reply not read.
    #[error("Azure Key Vault key {key}: {call} request failed: {reason}")]
    Transport {
        /// The key URL.
        key: String,
        /// The call.
        call: AzureCall,
        /// Why.
        reason: String,
    },
    /// The vault answered with an error status.
    #[error("Azure Key Vault key {key}: {call} failed with HTTP {status}{}{}: {message}", if .code.is_empty() { String::new() } else { format!(" ({})", .code) }, attempts_note(.tries))]
    Http {
        /// The key URL.
        key: String,
        /// The call.
        call: AzureCall,
        /// The HTTP status.
        status: u16,
        /// The vault's error code (`Forbidden`, `KeyNotFound`, ...).
        code: String,
        /// The vault's message.
        message: String,
        /// How many times the request was sent (transient failures are
        /// retried).
        tries: u32,
    },
    /// The reply is not what Key Vault returns.
    #[error("Azure Key Vault key {key}: unexpected {call} reply: {reason}")]
    Response {
        /// The key URL.
        key: String,
        /// The call.
        call: AzureCall,
        /// What is wrong.
        reason: String,
    },
    /// The runtime for cloud calls could not start.
    #[error("{0}")]
    Runtime(String),
}

/// `" after N attempts"` when a request was sent more than once.
fn attempts_note(tries: &u32) -> String {
    if *tries > 1 {
        format!(" after {tries} attempts")
    } else {
        String::new()
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
        // Removal: a version-less URL removes every version of the key.
        let entry = kv("n", "0123", "https://v");
        assert!(kv("n", "", "https://v").removes(&entry));
        assert!(kv("n", "0123", "https://v").removes(&entry));
        assert!(!kv("n", "9999", "https://v").removes(&entry));
        assert!(!kv("m", "", "https://v").removes(&entry));
        assert!(!kv("n", "", "https://w").removes(&entry));
        assert!(azure_kv_urls("https://v/keys/a,").is_err());
    }
}
