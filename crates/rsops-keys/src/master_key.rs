//! Master key descriptors and the one trait every key backend implements.

use zeroize::Zeroizing;

use crate::error::KeyError;

/// The master key types sops knows, with their identifiers as used in
/// `--decryption-order` (KEYS.md §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// age (X25519, SSH, plugins).
    Age,
    /// OpenPGP.
    Pgp,
    /// AWS KMS.
    Kms,
    /// GCP Cloud KMS.
    GcpKms,
    /// HuaweiCloud KMS.
    Hckms,
    /// Azure Key Vault.
    AzureKv,
    /// HashiCorp Vault transit.
    HcVault,
}

impl KeyKind {
    /// The identifier sops uses (`age`, `pgp`, `kms`, `gcp_kms`, `hckms`,
    /// `azure_kv`, `hc_vault`).
    pub fn identifier(self) -> &'static str {
        match self {
            KeyKind::Age => "age",
            KeyKind::Pgp => "pgp",
            KeyKind::Kms => "kms",
            KeyKind::GcpKms => "gcp_kms",
            KeyKind::Hckms => "hckms",
            KeyKind::AzureKv => "azure_kv",
            KeyKind::HcVault => "hc_vault",
        }
    }

    /// The kind named by an identifier, if any.
    pub fn from_identifier(id: &str) -> Option<KeyKind> {
        [
            KeyKind::Age,
            KeyKind::Pgp,
            KeyKind::Kms,
            KeyKind::GcpKms,
            KeyKind::Hckms,
            KeyKind::AzureKv,
            KeyKind::HcVault,
        ]
        .into_iter()
        .find(|k| k.identifier() == id)
    }
}

/// A master key: which key, not its secret. This is what the metadata
/// records next to `enc` (and what a key service request carries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKey {
    /// An age recipient (`age1…`, `ssh-ed25519 …`, `ssh-rsa …`, plugin).
    Age {
        /// The recipient string as given.
        recipient: String,
    },
    /// An OpenPGP key.
    Pgp {
        /// The fingerprint (or long key ID) as given, spaces removed.
        fingerprint: String,
    },
    /// An AWS KMS key.
    Kms {
        /// Key ARN.
        arn: String,
        /// Role to assume (may be empty).
        role: String,
        /// Encryption context, in file order.
        context: Vec<(String, String)>,
        /// AWS profile (may be empty).
        aws_profile: String,
    },
    /// A GCP KMS key.
    GcpKms {
        /// `projects/…/cryptoKeys/…`.
        resource_id: String,
    },
    /// A HuaweiCloud KMS key.
    Hckms {
        /// `region:key-uuid`.
        key_id: String,
    },
    /// An Azure Key Vault key.
    AzureKv {
        /// Vault URL.
        vault_url: String,
        /// Key name.
        name: String,
        /// Key version.
        version: String,
    },
    /// A HashiCorp Vault transit key.
    HcVault {
        /// `scheme://host[:port]`.
        vault_address: String,
        /// Engine path.
        engine_path: String,
        /// Key name.
        key_name: String,
    },
}

impl MasterKey {
    /// An age master key for `recipient`.
    pub fn age(recipient: impl Into<String>) -> MasterKey {
        MasterKey::Age {
            recipient: recipient.into(),
        }
    }

    /// An OpenPGP master key for `fingerprint`.
    pub fn pgp(fingerprint: impl Into<String>) -> MasterKey {
        MasterKey::Pgp {
            fingerprint: fingerprint.into(),
        }
    }

    /// The key's type.
    pub fn kind(&self) -> KeyKind {
        match self {
            MasterKey::Age { .. } => KeyKind::Age,
            MasterKey::Pgp { .. } => KeyKind::Pgp,
            MasterKey::Kms { .. } => KeyKind::Kms,
            MasterKey::GcpKms { .. } => KeyKind::GcpKms,
            MasterKey::Hckms { .. } => KeyKind::Hckms,
            MasterKey::AzureKv { .. } => KeyKind::AzureKv,
            MasterKey::HcVault { .. } => KeyKind::HcVault,
        }
    }

    /// The key string sops compares keys by (KEYS.md §1.3).
    pub fn key_string(&self) -> String {
        match self {
            MasterKey::Age { recipient } => recipient.clone(),
            MasterKey::Pgp { fingerprint } => fingerprint.clone(),
            MasterKey::Kms {
                arn,
                role,
                context,
                aws_profile,
            } => {
                let mut s = arn.clone();
                if !role.is_empty() {
                    s.push('+');
                    s.push_str(role);
                }
                let mut ctx: Vec<_> = context.iter().collect();
                ctx.sort();
                let ctx: Vec<String> = ctx.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                if !ctx.is_empty() || !aws_profile.is_empty() {
                    s.push('|');
                    s.push_str(&ctx.join(","));
                }
                if !aws_profile.is_empty() {
                    s.push('|');
                    s.push_str(aws_profile);
                }
                s
            }
            MasterKey::GcpKms { resource_id } => resource_id.clone(),
            MasterKey::Hckms { key_id } => key_id.clone(),
            MasterKey::AzureKv {
                vault_url,
                name,
                version,
            } => format!("{vault_url}/keys/{name}/{version}"),
            MasterKey::HcVault {
                vault_address,
                engine_path,
                key_name,
            } => format!("{vault_address}/v1/{engine_path}/keys/{key_name}"),
        }
    }
}

/// Wraps and unwraps data keys with master keys.
///
/// This is the one seam between the core crate and key material: the core
/// asks a `KeyService` to encrypt the data key (or a Shamir share) for a
/// [`MasterKey`], and to decrypt an `enc` string. The local implementation
/// talks to age and OpenPGP; a remote sops key service client or a cloud KMS
/// backend is another implementation.
pub trait KeyService: Send + Sync {
    /// Encrypts `plaintext` for `key`; returns the text stored as `enc`.
    fn encrypt(&self, key: &MasterKey, plaintext: &[u8]) -> Result<String, KeyError>;

    /// Decrypts the `enc` text stored for `key`.
    fn decrypt(&self, key: &MasterKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError>;
}
