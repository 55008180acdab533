//! The client-certificate credential of the environment
//! (`AZURE_CLIENT_CERTIFICATE_PATH`): a JWT client assertion signed with
//! the certificate's RSA key (RS256, `x5t` = the certificate's SHA-1
//! thumbprint, `x5c` = the chain when `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`
//! is set), exchanged for a token by `azure_identity`'s client-assertion
//! credential.
//!
//! The file is PEM with the certificate (chain) and an unencrypted PKCS#8
//! or PKCS#1 RSA key, as the Go SDK reads without a password. PKCS#12
//! (`.pfx`, and the password the Go SDK takes for it) is refused with a
//! conversion hint: reading it needs a PKCS#12 implementation rsops does
//! not carry. Signing and hashing are aws-lc-rs's; PEM parsing is
//! rustls-pki-types's.

use std::fmt;
use std::path::Path;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use azure_core::http::ClientMethodOptions;
use azure_identity::ClientAssertion;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rustls_pki_types::pem::{PemObject, SectionKind};

/// How long a client assertion is valid (the Go SDK's 10 minutes).
const ASSERTION_LIFETIME_SECS: u64 = 600;

/// Signs client assertions for one certificate.
pub(crate) struct CertificateAssertion {
    key: RsaKeyPair,
    /// The JWT header, base64url.
    header: String,
    /// The token endpoint (`aud`).
    audience: String,
    /// The application (`iss`, `sub`).
    client_id: String,
}

impl fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("audience", &self.audience)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl CertificateAssertion {
    /// Reads the certificate file; `send_chain` puts the certificates in
    /// the assertion. The error says what is wrong with the file (never
    /// its contents).
    pub(crate) fn load(
        path: &Path,
        send_chain: bool,
        audience: String,
        client_id: String,
    ) -> Result<CertificateAssertion, String> {
        let data = std::fs::read(path)
            .map_err(|e| format!("cannot read the certificate {}: {e}", path.display()))?;
        let parsed = parse(&data).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": URL_SAFE_NO_PAD.encode(parsed.thumbprint),
        });
        if send_chain {
            header["x5c"] = parsed
                .chain
                .iter()
                .map(|c| serde_json::Value::String(STANDARD.encode(c)))
                .collect();
        }
        Ok(CertificateAssertion {
            key: parsed.key,
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
            audience,
            client_id,
        })
    }

    /// A signed assertion, valid from now for ten minutes.
    fn assertion(&self) -> Result<String, String> {
        let rng = SystemRandom::new();
        let mut id = [0u8; 16];
        rng.fill(&mut id)
            .map_err(|_| "no randomness for the assertion id".to_owned())?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let claims = serde_json::json!({
            "aud": self.audience,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": hex_id(&id),
            "nbf": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let signed = format!(
            "{}.{}",
            self.header,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &rng, signed.as_bytes(), &mut signature)
            .map_err(|_| "signing the client assertion failed".to_owned())?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        self.assertion().map_err(|message| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, message)
        })
    }
}

/// A UUID-shaped hex id.
fn hex_id(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The contents of a certificate file.
struct Parsed {
    key: RsaKeyPair,
    /// SHA-1 of the leaf certificate's DER.
    thumbprint: Vec<u8>,
    /// The leaf certificate first, then the others in file order (DER).
    chain: Vec<Vec<u8>>,
}

/// Parses PEM: certificates and one RSA private key.
fn parse(data: &[u8]) -> Result<Parsed, String> {
    if !data.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(
            "not a PEM file; PKCS#12 (.pfx) certificates are not supported by rsops \
             (convert one with `openssl pkcs12 -in cert.pfx -nodes -out cert.pem`)"
                .into(),
        );
    }
    if data.windows(21).any(|w| w == b"ENCRYPTED PRIVATE KEY")
        || data.windows(9).any(|w| w == b"DEK-Info:")
    {
        return Err(
            "the private key is encrypted; rsops reads unencrypted PEM keys only \
             (decrypt it with `openssl pkey -in key.pem -out plain.pem`)"
                .into(),
        );
    }
    let mut certificates = Vec::new();
    let mut key = None;
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(data) {
        let (kind, der) = section.map_err(|e| format!("not valid PEM: {e}"))?;
        let parsed = match kind {
            SectionKind::Certificate => {
                certificates.push(der);
                continue;
            }
            SectionKind::PrivateKey => RsaKeyPair::from_pkcs8(&der),
            SectionKind::RsaPrivateKey => RsaKeyPair::from_der(&der),
            SectionKind::EcPrivateKey => {
                return Err("only RSA private keys are supported (found an EC key)".into())
            }
            _ => continue,
        };
        if key.is_some() {
            return Err("more than one private key".into());
        }
        key = Some(parsed.map_err(|e| format!("the private key is not a usable RSA key: {e}"))?);
    }
    let key = key.ok_or("no private key (\"PRIVATE KEY\" or \"RSA PRIVATE KEY\")")?;
    if certificates.is_empty() {
        return Err("no certificate (\"CERTIFICATE\")".into());
    }
    // The leaf is the certificate that holds the key's public key.
    let public = aws_lc_rs::signature::KeyPair::public_key(&key)
        .as_ref()
        .to_vec();
    let leaf = certificates
        .iter()
        .position(|c| c.windows(public.len()).any(|w| w == public.as_slice()))
        .ok_or("no certificate in the file matches the private key")?;
    let leaf_der = certificates.remove(leaf);
    let thumbprint =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &leaf_der)
            .as_ref()
            .to_vec();
    let mut chain = vec![leaf_der];
    chain.extend(certificates);
    Ok(Parsed {
        key,
        thumbprint,
        chain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_are_not_usable_pem_are_explained() {
        let err = |data: &[u8]| parse(data).err().unwrap_or_default();
        assert!(err(b"\x30\x82\x01\x00").contains("PKCS#12 (.pfx) certificates are not supported"));
        assert!(err(
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
        )
        .contains("the private key is encrypted"));
        assert!(
            err(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .starts_with("no private key")
        );
        assert!(
            err(b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")
                .starts_with("only RSA private keys")
        );
        assert!(
            err(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .starts_with("the private key is not a usable RSA key")
        );
    }

    #[test]
    fn ids_look_like_uuids() {
        let id = hex_id(&[0xab; 16]);
        assert_eq!(id, "abababab-abab-abab-abab-abababababab");
    }
}
