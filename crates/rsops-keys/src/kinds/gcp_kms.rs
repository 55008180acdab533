//! GCP Cloud KMS master keys: `projects/…/locations/…/keyRings/…/cryptoKeys/…`
//! resource IDs.
//!
//! `--gcp-kms` / `SOPS_GCP_KMS_IDS` take resource IDs, comma-separated (all
//! spaces removed); `.sops.yaml` has `gcp_kms` in rules and key groups
//! (`resource_id`); a metadata entry is `resource_id`, `created_at`, `enc`.
//!
//! With the `gcp` feature the key wraps and unwraps data keys through the
//! Cloud KMS REST API (`client`); without it, key operations fail with
//! [`GcpKmsError::NotBuilt`].

use std::convert::Infallible;
use std::fmt;

use thiserror::Error;
use zeroize::Zeroizing;

#[cfg(feature = "gcp")]
mod client;
#[cfg(feature = "gcp")]
pub use client::authorization;

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

impl GcpKmsKey {
    /// Encrypts `plaintext` (the data key or a Shamir share) with Cloud
    /// KMS; returns `enc` (standard base64 of the ciphertext).
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, GcpKmsError> {
        #[cfg(feature = "gcp")]
        return client::encrypt(self, plaintext);
        #[cfg(not(feature = "gcp"))]
        {
            let _ = plaintext;
            Err(GcpKmsError::NotBuilt)
        }
    }

    /// Decrypts `enc` with Cloud KMS.
    pub fn decrypt(&self, enc: &str) -> Result<Zeroizing<Vec<u8>>, GcpKmsError> {
        #[cfg(feature = "gcp")]
        return client::decrypt(self, enc);
        #[cfg(not(feature = "gcp"))]
        {
            let _ = enc;
            Err(GcpKmsError::NotBuilt)
        }
    }
}

/// A Cloud KMS call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcpCall {
    /// `cryptoKeys.encrypt`.
    Encrypt,
    /// `cryptoKeys.decrypt`.
    Decrypt,
}

impl GcpCall {
    /// The REST method suffix (`encrypt`, `decrypt`).
    pub fn method(self) -> &'static str {
        match self {
            GcpCall::Encrypt => "encrypt",
            GcpCall::Decrypt => "decrypt",
        }
    }
}

impl fmt::Display for GcpCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.method())
    }
}

/// Where GCP credentials were taken from (the first configured, in sops's
/// order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    /// `GOOGLE_CREDENTIALS`: credentials JSON, or the path of a file.
    GoogleCredentials,
    /// `GOOGLE_OAUTH_ACCESS_TOKEN`: a static bearer token.
    OAuthAccessToken,
    /// Application Default Credentials from a file
    /// (`GOOGLE_APPLICATION_CREDENTIALS`, or gcloud's ADC file).
    ApplicationDefault,
    /// Application Default Credentials from the metadata server: nothing
    /// else is configured.
    MetadataServer,
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialSource::GoogleCredentials => "GOOGLE_CREDENTIALS",
            CredentialSource::OAuthAccessToken => "GOOGLE_OAUTH_ACCESS_TOKEN",
            CredentialSource::ApplicationDefault => {
                "application default credentials (GOOGLE_APPLICATION_CREDENTIALS or \
                 gcloud's ADC file)"
            }
            CredentialSource::MetadataServer => {
                "the metadata server (GOOGLE_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN and \
                 GOOGLE_APPLICATION_CREDENTIALS are not set and there is no gcloud ADC file)"
            }
        })
    }
}

/// Why a GCP KMS key operation failed. Never holds a token, a credential
/// or key material.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GcpKmsError {
    /// rsops was built without the `gcp` feature.
    #[error("rsops was built without GCP KMS support (feature `gcp`)")]
    NotBuilt,
    /// Not `projects/…/locations/…/keyRings/…/cryptoKeys/…`.
    #[error("no valid resource ID found in {0:?}")]
    InvalidResourceId(String),
    /// The `enc` value is not standard base64.
    #[error("GCP KMS key {key}: the enc value is not base64: {reason}")]
    Enc {
        /// The resource ID.
        key: String,
        /// The decoder's reason.
        reason: String,
    },
    /// The credentials could not be loaded or produced no token.
    #[error("GCP KMS key {key}: cannot get credentials from {from}: {reason}")]
    Credentials {
        /// The resource ID.
        key: String,
        /// The source used.
        from: CredentialSource,
        /// Why it failed.
        reason: String,
    },
    /// Nothing is configured and the metadata server gave no token.
    #[error(
        "GCP KMS key {key}: no credentials; sources tried:\n    - GOOGLE_CREDENTIALS: not set\n    \
         - GOOGLE_OAUTH_ACCESS_TOKEN: not set\n    - application default credentials: \
         GOOGLE_APPLICATION_CREDENTIALS not set, no gcloud file \
         (~/.config/gcloud/application_default_credentials.json)\n    - metadata server \
         (GCE_METADATA_HOST): {reason}"
    )]
    NoCredentials {
        /// The resource ID.
        key: String,
        /// Why the metadata server gave no token.
        reason: String,
    },
    /// The request could not be sent or its reply not read (connection
    /// refused, TLS, timeout).
    #[error("GCP KMS key {key}: {call} request failed: {reason}")]
    Transport {
        /// The resource ID.
        key: String,
        /// The call.
        call: GcpCall,
        /// Why.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("GCP KMS key {key}: {call} failed with HTTP {status}{}: {message}", attempts_note(.tries))]
    Http {
        /// The resource ID.
        key: String,
        /// The call.
        call: GcpCall,
        /// The HTTP status.
        status: u16,
        /// The server's error text.
        message: String,
        /// How many times the request was sent (503 and 504 are retried).
        tries: u32,
    },
    /// The reply is not what Cloud KMS returns.
    #[error("GCP KMS key {key}: unexpected {call} reply: {reason}")]
    Response {
        /// The resource ID.
        key: String,
        /// The call.
        call: GcpCall,
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
