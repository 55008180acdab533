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
    fn encrypt(&self, key: &MasterKey, plaintext: &[u8]) -> Result<String, KeyError> {
        match key {
            MasterKey::Age(k) => self.age.encrypt(&k.recipient, plaintext),
            MasterKey::Pgp(k) => self.pgp.encrypt(&k.fingerprint, plaintext),
            #[cfg(feature = "aws")]
            MasterKey::Kms(k) => self.aws.encrypt(k, plaintext).map_err(KeyError::Kms),
            #[cfg(not(feature = "aws"))]
            MasterKey::Kms(k) => Err(KeyError::Kms(crate::kinds::kms::KmsError::NotBuilt {
                arn: k.arn.clone(),
                op: crate::kinds::kms::KmsOperation::Encrypt,
            })),
            other => Err(KeyError::Unsupported(other.kind().identifier())),
        }
    }

    fn decrypt(&self, key: &MasterKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        match key {
            MasterKey::Age(_) => self.age.decrypt(enc),
            MasterKey::Pgp(k) => self.pgp.decrypt(&k.fingerprint, enc),
            #[cfg(feature = "aws")]
            MasterKey::Kms(k) => self.aws.decrypt(k, enc).map_err(KeyError::Kms),
            #[cfg(not(feature = "aws"))]
            MasterKey::Kms(k) => Err(KeyError::Kms(crate::kinds::kms::KmsError::NotBuilt {
                arn: k.arn.clone(),
                op: crate::kinds::kms::KmsOperation::Decrypt,
            })),
            other => Err(KeyError::Unsupported(other.kind().identifier())),
        }
    }
}
