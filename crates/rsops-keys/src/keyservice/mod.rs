//! sops's key service, both ways: a gRPC client that sends key operations
//! to a `sops keyservice` (or `rsops keyservice`) over tcp or a unix socket
//! ([`RemoteKeyService`]), and the server that answers them with a local
//! [`KeyService`](crate::KeyService) ([`server`]).
//!
//! The protocol is sops's `keyservice.proto` (proto3, no package; methods
//! `/KeyService/Encrypt` and `/KeyService/Decrypt`), over HTTP/2 cleartext
//! with no authentication, as sops speaks it. The messages are in
//! [`proto`]; a [`MasterKey`] travels as the `Key` oneof exactly as sops's
//! `KeyFromMasterKey` builds it (no `created_at`), and the ciphertext is the
//! bytes of the `enc` string.

pub mod client;
pub mod proto;
pub mod server;

pub use client::{KeyServiceUrl, RemoteKeyService, UrlError};

use crate::kinds::{age, azure_kv, gcp_kms, hc_vault, hckms, kms, pgp, MasterKey};
use proto::key::KeyType;

/// The protocol's `Key` for a master key (sops's `KeyFromMasterKey`).
pub fn key_from_master_key(key: &MasterKey) -> proto::Key {
    let key_type = match key {
        MasterKey::Pgp(k) => KeyType::PgpKey(proto::PgpKey {
            fingerprint: k.fingerprint.clone(),
        }),
        MasterKey::GcpKms(k) => KeyType::GcpKmsKey(proto::GcpKmsKey {
            resource_id: k.resource_id.clone(),
        }),
        MasterKey::HcVault(k) => KeyType::VaultKey(proto::VaultKey {
            vault_address: k.vault_address.clone(),
            engine_path: k.engine_path.clone(),
            key_name: k.key_name.clone(),
        }),
        MasterKey::Kms(k) => KeyType::KmsKey(proto::KmsKey {
            arn: k.arn.clone(),
            role: k.role.clone(),
            context: k.context.iter().cloned().collect(),
            aws_profile: k.aws_profile.clone(),
        }),
        MasterKey::AzureKv(k) => KeyType::AzureKeyvaultKey(proto::AzureKeyVaultKey {
            vault_url: k.vault_url.clone(),
            name: k.name.clone(),
            version: k.version.clone(),
        }),
        MasterKey::Age(k) => KeyType::AgeKey(proto::AgeKey {
            recipient: k.recipient.clone(),
        }),
        MasterKey::Hckms(k) => KeyType::HckmsKey(proto::HckmsKey {
            key_id: k.key_id.clone(),
        }),
    };
    proto::Key {
        key_type: Some(key_type),
    }
}

/// The master key a request's `Key` names, as sops's server rebuilds it
/// (from these fields only).
pub fn master_key_from_key(key: &KeyType) -> MasterKey {
    match key {
        KeyType::PgpKey(k) => MasterKey::Pgp(pgp::PgpKey {
            fingerprint: k.fingerprint.clone(),
        }),
        KeyType::KmsKey(k) => MasterKey::Kms(kms::KmsKey {
            arn: k.arn.clone(),
            role: k.role.clone(),
            context: k
                .context
                .iter()
                .map(|(a, b)| (a.clone(), b.clone()))
                .collect(),
            aws_profile: k.aws_profile.clone(),
        }),
        KeyType::GcpKmsKey(k) => MasterKey::GcpKms(gcp_kms::GcpKmsKey {
            resource_id: k.resource_id.clone(),
        }),
        KeyType::AzureKeyvaultKey(k) => MasterKey::AzureKv(azure_kv::AzureKvKey {
            vault_url: k.vault_url.clone(),
            name: k.name.clone(),
            version: k.version.clone(),
        }),
        KeyType::VaultKey(k) => MasterKey::HcVault(hc_vault::HcVaultKey {
            vault_address: k.vault_address.clone(),
            engine_path: k.engine_path.clone(),
            key_name: k.key_name.clone(),
        }),
        KeyType::AgeKey(k) => MasterKey::Age(age::AgeKey {
            recipient: k.recipient.clone(),
        }),
        KeyType::HckmsKey(k) => MasterKey::Hckms(hckms::HckmsKey {
            key_id: k.key_id.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::KeyOptions;
    use crate::kinds::KeyKind;
    use prost::Message;

    /// Every kind maps to its own oneof field and back unchanged.
    #[test]
    fn every_kind_round_trips_through_the_protocol_key() {
        let options = KeyOptions {
            encryption_context: vec![("a".into(), "1".into()), ("b".into(), "2".into())],
            aws_profile: "prof".into(),
        };
        let specs = [
            (
                KeyKind::Kms,
                "arn:aws:kms:us-east-1:1:key/x+arn:aws:iam::1:role/r",
                1,
            ),
            (
                KeyKind::GcpKms,
                "projects/p/locations/l/keyRings/r/cryptoKeys/k",
                3,
            ),
            (KeyKind::Hckms, "tr-west-1:0000-1111", 7),
            (KeyKind::AzureKv, "https://v.vault.azure.net/keys/k/123", 4),
            (KeyKind::HcVault, "https://vault:8200/v1/transit/keys/k", 5),
            (
                KeyKind::Age,
                "age19zt9lpwdukeu0vakyklywey3p54tpxj3lc4z39v6hem3e6fkuyhqf7rlyw",
                6,
            ),
            (KeyKind::Pgp, "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4", 2),
        ];
        assert_eq!(specs.len(), KeyKind::ALL.len());
        for (kind, spec, tag) in specs {
            let mk = kind.parse_spec(spec, &options).unwrap().remove(0);
            let key = key_from_master_key(&mk);
            // The first byte of the encoded Key is the oneof field's tag
            // with wire type 2 (length-delimited).
            let bytes = key.encode_to_vec();
            assert_eq!(bytes[0], (tag << 3) | 2, "{spec}");
            let back = proto::Key::decode(bytes.as_slice()).unwrap();
            assert_eq!(master_key_from_key(back.key_type.as_ref().unwrap()), mk);
        }
    }

    /// The captured request of sops 3.11 for a KMS key with a role, an
    /// encryption context and a profile decodes to the same key.
    #[test]
    fn a_kms_request_matches_the_wire_format_of_sops() {
        let req = proto::EncryptRequest {
            key: Some(key_from_master_key(&MasterKey::Kms(kms::KmsKey {
                arn: "A".into(),
                role: "R".into(),
                context: vec![("a".into(), "b".into())],
                aws_profile: "P".into(),
            }))),
            plaintext: vec![7; 2],
        };
        // Hand-assembled: EncryptRequest{1: Key{1: KmsKey{1:"A", 2:"R",
        // 3: {1:"a", 2:"b"}, 4:"P"}}, 2: [7, 7]}.
        let kms = [
            0x0a, 1, b'A', 0x12, 1, b'R', 0x1a, 6, 0x0a, 1, b'a', 0x12, 1, b'b', 0x22, 1, b'P',
        ];
        let mut key = vec![0x0a, kms.len() as u8];
        key.extend_from_slice(&kms);
        let mut want = vec![0x0a, key.len() as u8];
        want.extend_from_slice(&key);
        want.extend_from_slice(&[0x12, 2, 7, 7]);
        assert_eq!(req.encode_to_vec(), want);
    }
}
