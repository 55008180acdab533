//! The messages of sops's key service protocol (`keyservice.proto`: proto3,
//! no package), written with prost's derives so that no code generator or
//! `protoc` is needed. Field numbers and types are the wire contract.

#![allow(missing_docs)]

use std::collections::BTreeMap;

/// A master key, without its secret: one of the kinds sops knows.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Key {
    #[prost(oneof = "key::KeyType", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub key_type: Option<key::KeyType>,
}

/// The `key_type` oneof of [`Key`].
pub mod key {
    /// Which kind of master key.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum KeyType {
        #[prost(message, tag = "1")]
        KmsKey(super::KmsKey),
        #[prost(message, tag = "2")]
        PgpKey(super::PgpKey),
        #[prost(message, tag = "3")]
        GcpKmsKey(super::GcpKmsKey),
        #[prost(message, tag = "4")]
        AzureKeyvaultKey(super::AzureKeyVaultKey),
        #[prost(message, tag = "5")]
        VaultKey(super::VaultKey),
        #[prost(message, tag = "6")]
        AgeKey(super::AgeKey),
        #[prost(message, tag = "7")]
        HckmsKey(super::HckmsKey),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PgpKey {
    #[prost(string, tag = "1")]
    pub fingerprint: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct KmsKey {
    #[prost(string, tag = "1")]
    pub arn: String,
    #[prost(string, tag = "2")]
    pub role: String,
    #[prost(btree_map = "string, string", tag = "3")]
    pub context: BTreeMap<String, String>,
    #[prost(string, tag = "4")]
    pub aws_profile: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GcpKmsKey {
    #[prost(string, tag = "1")]
    pub resource_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct VaultKey {
    #[prost(string, tag = "1")]
    pub vault_address: String,
    #[prost(string, tag = "2")]
    pub engine_path: String,
    #[prost(string, tag = "3")]
    pub key_name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AzureKeyVaultKey {
    #[prost(string, tag = "1")]
    pub vault_url: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AgeKey {
    #[prost(string, tag = "1")]
    pub recipient: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HckmsKey {
    #[prost(string, tag = "1")]
    pub key_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct EncryptRequest {
    #[prost(message, optional, tag = "1")]
    pub key: Option<Key>,
    #[prost(bytes = "vec", tag = "2")]
    pub plaintext: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct EncryptResponse {
    #[prost(bytes = "vec", tag = "1")]
    pub ciphertext: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DecryptRequest {
    #[prost(message, optional, tag = "1")]
    pub key: Option<Key>,
    #[prost(bytes = "vec", tag = "2")]
    pub ciphertext: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DecryptResponse {
    #[prost(bytes = "vec", tag = "1")]
    pub plaintext: Vec<u8>,
}

/// The gRPC path of `KeyService.Encrypt` (no package prefix).
pub const ENCRYPT_PATH: &str = "/KeyService/Encrypt";
/// The gRPC path of `KeyService.Decrypt`.
pub const DECRYPT_PATH: &str = "/KeyService/Decrypt";
