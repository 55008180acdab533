//! The in-process key service: age and OpenPGP on this machine, and the
//! cloud key kinds this build supports (AWS KMS with feature `aws`).

use zeroize::Zeroizing;

use crate::age::AgeBackend;
use crate::error::KeyError;
use crate::kinds::MasterKey;
use crate::master_key::KeyService;
use crate::pgp::PgpBackend;

/// Wraps and unwraps data keys with the age identities and OpenPGP keys
/// available to this process (environment, files, gpg-agent).
pub struct LocalKeyService {
    age: AgeBackend,
    pgp: PgpBackend,
    #[cfg(feature = "aws")]
    aws: crate::kinds::kms::aws::AwsKms,
}

impl LocalKeyService {
    /// A key service that finds identities as sops does, from the process
    /// environment (read lazily, on first use).
    pub fn from_env() -> Self {
        LocalKeyService::new(AgeBackend::from_env(), PgpBackend::from_env())
    }

    /// A key service built from explicit backends (tests, embedding).
    pub fn new(age: AgeBackend, pgp: PgpBackend) -> Self {
        LocalKeyService {
            age,
            pgp,
            #[cfg(feature = "aws")]
            aws: crate::kinds::kms::aws::AwsKms::new(),
        }
    }
}

impl KeyService for LocalKeyService {
    fn resolve(&self, key: &MasterKey) -> Result<Option<MasterKey>, KeyError> {
        match key {
            MasterKey::AzureKv(k) => k
                .resolve()
                .map(|r| r.map(MasterKey::AzureKv))
                .map_err(KeyError::AzureKv),
            _ => Ok(None),
        }
    }

    fn encrypt(&self, key: &MasterKey, plaintext: &[u8]) -> Result<String, KeyError> {
        match key {
            MasterKey::Age(k) => self.age.encrypt(&k.recipient, plaintext),
            MasterKey::Pgp(k) => self.pgp.encrypt(&k.fingerprint, plaintext),
            MasterKey::HcVault(k) => crate::kinds::hc_vault::encrypt(k, plaintext),
            MasterKey::Hckms(k) => crate::kinds::hckms::encrypt(k, plaintext),
            MasterKey::GcpKms(k) => k.encrypt(plaintext).map_err(KeyError::GcpKms),
            MasterKey::AzureKv(k) => k.encrypt(plaintext).map_err(KeyError::AzureKv),
            #[cfg(feature = "aws")]
            MasterKey::Kms(k) => self.aws.encrypt(k, plaintext).map_err(KeyError::Kms),
            #[cfg(not(feature = "aws"))]
            MasterKey::Kms(k) => Err(KeyError::Kms(crate::kinds::kms::KmsError::NotBuilt {
                arn: k.arn.clone(),
                op: crate::kinds::kms::KmsOperation::Encrypt,
            })),
        }
    }

    fn decrypt(&self, key: &MasterKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        match key {
            MasterKey::Age(k) => self.age.decrypt_for(&k.recipient, enc),
            MasterKey::Pgp(k) => self.pgp.decrypt(&k.fingerprint, enc),
            MasterKey::HcVault(k) => crate::kinds::hc_vault::decrypt(k, enc),
            MasterKey::Hckms(k) => crate::kinds::hckms::decrypt(k, enc),
            MasterKey::GcpKms(k) => k.decrypt(enc).map_err(KeyError::GcpKms),
            MasterKey::AzureKv(k) => k.decrypt(enc).map_err(KeyError::AzureKv),
            #[cfg(feature = "aws")]
            MasterKey::Kms(k) => self.aws.decrypt(k, enc).map_err(KeyError::Kms),
            #[cfg(not(feature = "aws"))]
            MasterKey::Kms(k) => Err(KeyError::Kms(crate::kinds::kms::KmsError::NotBuilt {
                arn: k.arn.clone(),
                op: crate::kinds::kms::KmsOperation::Decrypt,
            })),
        }
    }
}
