//! The key kinds, one module each, and their registry: the one list of
//! every kind rsops knows.
//!
//! [`KeyKind`], [`MasterKey`] and [`KeySpecError`] are generated from the
//! list below, with one variant per kind, and their methods dispatch to the
//! kind's [`Kind`] implementation. Metadata, `.sops.yaml` and the command
//! line iterate over [`KeyKind::ALL`]. Adding a kind is one module that
//! implements [`Kind`] and one line here.
//!
//! The list is in the order of sops's metadata struct, which is the order
//! key lists are written in (see [`crate::kind::MetadataSpec`] for the
//! exceptions each kind declares).

pub mod age;
pub mod azure_kv;
pub mod gcp_kms;
pub mod hc_vault;
pub mod hckms;
pub mod kms;
pub mod pgp;

use std::fmt;

use crate::kind::{CliSpec, ConfigSpec, Fields, GroupEntry, KeyOptions, Kind, MetadataSpec};

macro_rules! registry {
    ($( $(#[$doc:meta])* $variant:ident => $ty:ty, )*) => {
        /// The kinds of master key.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum KeyKind {
            $( $(#[$doc])* $variant, )*
        }

        /// A master key: which key, never its secret. This is what the
        /// metadata records next to the wrapped data key, and what a key
        /// service request carries.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum MasterKey {
            $( $(#[$doc])* $variant($ty), )*
        }

        /// A key string that sops would refuse, by kind.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum KeySpecError {
            $( $(#[$doc])* $variant(<$ty as Kind>::SpecError), )*
        }

        impl KeyKind {
            /// Every kind, in registry order.
            pub const ALL: &'static [KeyKind] = &[$( KeyKind::$variant, )*];

            /// The kind's identifier: its metadata list name and its name in
            /// `--decryption-order`.
            pub fn identifier(self) -> &'static str {
                match self { $( KeyKind::$variant => <$ty as Kind>::ID, )* }
            }

            /// Its command-line flags and environment variable.
            pub fn cli(self) -> CliSpec {
                match self { $( KeyKind::$variant => <$ty as Kind>::CLI, )* }
            }

            /// Its `.sops.yaml` fields.
            pub fn config(self) -> ConfigSpec {
                match self { $( KeyKind::$variant => <$ty as Kind>::CONFIG, )* }
            }

            /// Its placement in the metadata block.
            pub fn metadata(self) -> MetadataSpec {
                match self { $( KeyKind::$variant => <$ty as Kind>::METADATA, )* }
            }

            /// Keys of this kind from a comma-separated list.
            pub fn parse_spec(
                self,
                spec: &str,
                options: &KeyOptions,
            ) -> Result<Vec<MasterKey>, KeySpecError> {
                match self {
                    $( KeyKind::$variant => <$ty as Kind>::parse_spec(spec, options)
                        .map(|keys| keys.into_iter().map(MasterKey::$variant).collect())
                        .map_err(KeySpecError::$variant), )*
                }
            }

            /// Keys of this kind from one element of its key-group field.
            pub fn from_group_entry(
                self,
                entry: GroupEntry<'_>,
            ) -> Result<Vec<MasterKey>, KeySpecError> {
                match self {
                    $( KeyKind::$variant => <$ty as Kind>::from_group_entry(entry)
                        .map(|keys| keys.into_iter().map(MasterKey::$variant).collect())
                        .map_err(KeySpecError::$variant), )*
                }
            }

            /// The key of a metadata entry of this kind.
            pub fn from_metadata(self, entry: &Fields) -> MasterKey {
                match self {
                    $( KeyKind::$variant => MasterKey::$variant(<$ty as Kind>::from_metadata(entry)), )*
                }
            }
        }

        impl MasterKey {
            /// The key's kind.
            pub fn kind(&self) -> KeyKind {
                match self { $( MasterKey::$variant(_) => KeyKind::$variant, )* }
            }

            /// The string sops identifies the key by.
            pub fn key_string(&self) -> String {
                match self { $( MasterKey::$variant(k) => k.key_string(), )* }
            }

            /// The key's metadata entry, with `enc` and `created_at`.
            pub fn to_metadata(&self, enc: &str, created_at: &str) -> Fields {
                match self { $( MasterKey::$variant(k) => k.to_metadata(enc, created_at), )* }
            }
        }

        impl fmt::Display for KeySpecError {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self { $( KeySpecError::$variant(e) => fmt::Display::fmt(e, f), )* }
            }
        }

        impl std::error::Error for KeySpecError {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self { $( KeySpecError::$variant(e) => e.source(), )* }
            }
        }
    };
}

registry! {
    /// AWS KMS.
    Kms => kms::KmsKey,
    /// GCP Cloud KMS.
    GcpKms => gcp_kms::GcpKmsKey,
    /// HuaweiCloud KMS.
    Hckms => hckms::HckmsKey,
    /// Azure Key Vault.
    AzureKv => azure_kv::AzureKvKey,
    /// HashiCorp Vault transit.
    HcVault => hc_vault::HcVaultKey,
    /// age (X25519, post-quantum hybrid, SSH, plugins).
    Age => age::AgeKey,
    /// OpenPGP.
    Pgp => pgp::PgpKey,
}

impl KeyKind {
    /// The kind named by an identifier, if any.
    pub fn from_identifier(id: &str) -> Option<KeyKind> {
        KeyKind::ALL.iter().copied().find(|k| k.identifier() == id)
    }

    /// The kind whose key-group field (in `.sops.yaml`) is `name`.
    pub fn from_group_field(name: &str) -> Option<KeyKind> {
        KeyKind::ALL
            .iter()
            .copied()
            .find(|k| k.config().group.name == name)
    }

    /// The kind whose rule-level field (in `.sops.yaml`) is `name`.
    pub fn from_flat_field(name: &str) -> Option<KeyKind> {
        KeyKind::ALL
            .iter()
            .copied()
            .find(|k| k.config().flat.name == name)
    }

    /// The kinds in the order their metadata lists are read, which is the
    /// order keys are tried when recovering the data key.
    pub fn read_order() -> impl Iterator<Item = KeyKind> {
        let first = KeyKind::ALL.iter().filter(|k| !k.metadata().read_last);
        let last = KeyKind::ALL.iter().filter(|k| k.metadata().read_last);
        first.chain(last).copied()
    }
}

impl MasterKey {
    /// An age master key for `recipient` (not checked).
    pub fn age(recipient: impl Into<String>) -> MasterKey {
        MasterKey::Age(age::AgeKey {
            recipient: recipient.into(),
        })
    }

    /// An OpenPGP master key for `fingerprint` (not checked).
    pub fn pgp(fingerprint: impl Into<String>) -> MasterKey {
        MasterKey::Pgp(pgp::PgpKey {
            fingerprint: fingerprint.into(),
        })
    }

    /// Whether removing `self` (`--rm-*`) removes the file's `entry`: the
    /// same key string, or, for an Azure key given without version, any
    /// version of that vault's key.
    pub fn removes(&self, entry: &MasterKey) -> bool {
        match (self, entry) {
            (MasterKey::AzureKv(rm), MasterKey::AzureKv(e)) => rm.removes(e),
            _ => self.key_string() == entry.key_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_flags_and_fields_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in KeyKind::ALL {
            let cli = kind.cli();
            let config = kind.config();
            for name in [
                format!("id:{}", kind.identifier()),
                format!("flag:{}", cli.flag),
                format!("env:{}", cli.env),
                format!("flat:{}", config.flat.name),
                format!("group:{}", config.group.name),
            ] {
                assert!(seen.insert(name.clone()), "{name} is used twice");
            }
            assert_eq!(KeyKind::from_identifier(kind.identifier()), Some(*kind));
        }
    }

    #[test]
    fn read_order_puts_read_last_kinds_last() {
        let order: Vec<_> = KeyKind::read_order().map(KeyKind::identifier).collect();
        assert_eq!(
            order,
            ["kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp", "age"]
        );
    }

    #[test]
    fn metadata_round_trips_for_every_kind() {
        let options = KeyOptions {
            encryption_context: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
            aws_profile: "prof".into(),
        };
        let specs = [
            (
                KeyKind::Kms,
                "arn:aws:kms:us-east-1:1:key/x+arn:aws:iam::1:role/r",
            ),
            (
                KeyKind::GcpKms,
                "projects/p/locations/l/keyRings/r/cryptoKeys/k",
            ),
            (KeyKind::Hckms, "tr-west-1:0000-1111"),
            (KeyKind::AzureKv, "https://v.vault.azure.net/keys/k/123"),
            (KeyKind::HcVault, "https://vault:8200/v1/transit/keys/k"),
            (
                KeyKind::Age,
                "age19zt9lpwdukeu0vakyklywey3p54tpxj3lc4z39v6hem3e6fkuyhqf7rlyw",
            ),
            (KeyKind::Pgp, "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"),
        ];
        assert_eq!(specs.len(), KeyKind::ALL.len());
        for (kind, spec) in specs {
            let keys = kind.parse_spec(spec, &options).expect("spec parses");
            assert_eq!(keys.len(), 1, "{spec}");
            let key = &keys[0];
            assert_eq!(key.kind(), kind);
            let entry = key.to_metadata("ENC", "2024-01-01T00:00:00Z");
            assert_eq!(entry.str("enc"), "ENC", "{spec}");
            assert_eq!(&kind.from_metadata(&entry), key, "{spec}");
        }
    }
}
