//! OpenPGP messages with sequoia: encrypting the data key to one key and
//! decrypting with unencrypted secret keys held in memory.
//!
//! Encryption writes what sops's built-in step writes: an ASCII-armored
//! `PGP MESSAGE` (no armor headers, CRC line present), one public-key
//! encrypted session key for the chosen (sub)key, a symmetrically encrypted
//! integrity-protected packet and a binary literal data packet, no
//! compression. Decryption accepts anything GnuPG writes: old- and
//! new-format packets, compressed data (ZIP, ZLIB, BZip2), legacy ciphers.

use std::io::{Read, Write};

use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use openpgp::armor;
use openpgp::cert::prelude::ValidErasedKeyAmalgamation;
use openpgp::crypto::SessionKey;
use openpgp::packet::key::PublicParts;
use openpgp::packet::{PKESK, SKESK};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageStructure, VerificationHelper,
};
use openpgp::parse::{PacketParser, PacketParserResult, Parse};
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message};
use openpgp::types::{DataFormat, SymmetricAlgorithm};
use openpgp::{Cert, KeyHandle, Packet};

use super::keyring::SecretCandidate;
use super::normalize::normalize_pkesk_mpis;

/// Encrypts `plaintext` to `key`; returns the armored message with
/// surrounding whitespace trimmed (as sops stores gpg's output).
pub(crate) fn encrypt_to(
    key: ValidErasedKeyAmalgamation<'_, PublicParts>,
    plaintext: &[u8],
) -> Result<String, String> {
    let mut sink = Vec::new();
    write_message(&mut sink, key, plaintext).map_err(|e| e.to_string())?;
    let text = String::from_utf8(sink).map_err(|_| "armor is not UTF-8".to_string())?;
    Ok(text.trim().to_string())
}

/// The streaming writer stack: armor → encryption → literal data.
fn write_message(
    sink: &mut Vec<u8>,
    key: ValidErasedKeyAmalgamation<'_, PublicParts>,
    plaintext: &[u8],
) -> openpgp::Result<()> {
    let message = Message::new(sink);
    let message = Armorer::new(message).kind(armor::Kind::Message).build()?;
    let message = Encryptor::for_recipients(message, [key]).build()?;
    let mut literal = LiteralWriter::new(message)
        .format(DataFormat::Binary)
        .build()?;
    literal.write_all(plaintext)?;
    literal.finalize()
}

/// The binary message of an `enc` value: dearmored (armor with or without
/// CRC, any line endings) and with the session-key packets' MPIs repaired
/// (see [`super::normalize`]).
pub(crate) fn message_bytes(enc: &str) -> Result<Vec<u8>, String> {
    let text = enc.trim();
    let binary = if text.starts_with("-----BEGIN") {
        let mut reader = armor::Reader::from_bytes(
            text.as_bytes(),
            armor::ReaderMode::Tolerant(Some(armor::Kind::Message)),
        );
        let mut out = Vec::new();
        reader
            .read_to_end(&mut out)
            .map_err(|e| format!("invalid armor: {e}"))?;
        out
    } else {
        text.as_bytes().to_vec()
    };
    if binary.is_empty() {
        return Err("empty message".to_string());
    }
    Ok(normalize_pkesk_mpis(&binary))
}

/// The recipients of the public-key encrypted session keys at the start of
/// a binary message; `None` stands for a wildcard recipient. Errors if the
/// data is not an encrypted OpenPGP message.
pub(crate) fn recipients(message: &[u8]) -> Result<Vec<Option<KeyHandle>>, String> {
    let mut ppr = PacketParser::from_bytes(message).map_err(|e| root_cause(&e))?;
    let mut out = Vec::new();
    let mut saw_encrypted_data = false;
    while let PacketParserResult::Some(pp) = ppr {
        match &pp.packet {
            Packet::PKESK(pkesk) => out.push(pkesk.recipient()),
            Packet::SKESK(_) | Packet::Marker(_) => {}
            Packet::SEIP(_) => {
                saw_encrypted_data = true;
                break;
            }
            other => {
                return Err(format!(
                    "unexpected {} packet, not an encrypted message",
                    other.tag()
                ))
            }
        }
        ppr = pp.next().map_err(|e| root_cause(&e))?.1;
    }
    if !saw_encrypted_data {
        return Err("no encrypted data in the message".to_string());
    }
    Ok(out)
}

/// The innermost cause of a sequoia error, one line.
fn root_cause(e: &openpgp::anyhow::Error) -> String {
    e.root_cause().to_string()
}

/// The most a decrypted data key may take. sops data keys are 32 bytes (33
/// for a Shamir part); a message may be compressed, and a few KB of it can
/// expand to gigabytes, so decompression stops here with an error.
pub(crate) const MAX_DATA_KEY_BYTES: usize = 4096;

/// Decrypts a binary message with the first candidate key that opens a
/// session key; at most [`MAX_DATA_KEY_BYTES`] of plaintext.
pub(crate) fn decrypt_with(
    message: &[u8],
    candidates: &[SecretCandidate],
) -> Result<Zeroizing<Vec<u8>>, String> {
    let policy = decryption_policy();
    let helper = Helper { candidates };
    let mut decryptor = DecryptorBuilder::from_bytes(message)
        .and_then(|b| b.with_policy(&policy, None, helper))
        .map_err(|e| root_cause(&e))?;
    let mut plaintext = Zeroizing::new(Vec::new());
    let limit = u64::try_from(MAX_DATA_KEY_BYTES).unwrap_or(u64::MAX);
    decryptor
        .by_ref()
        .take(limit + 1)
        .read_to_end(&mut plaintext)
        .map_err(|e| format!("reading the decrypted data: {e}"))?;
    if plaintext.len() > MAX_DATA_KEY_BYTES {
        return Err(format!(
            "the decrypted data key is larger than {MAX_DATA_KEY_BYTES} bytes (a compression bomb?); refused"
        ));
    }
    Ok(plaintext)
}

/// The standard policy, plus the legacy ciphers GnuPG still decrypts
/// (messages written years ago must stay readable). Only decryption uses
/// this; encryption never picks these ciphers.
#[allow(deprecated)] // the legacy cipher variants are deprecated in sequoia
fn decryption_policy() -> StandardPolicy<'static> {
    let mut policy = StandardPolicy::new();
    for algo in [
        SymmetricAlgorithm::IDEA,
        SymmetricAlgorithm::TripleDES,
        SymmetricAlgorithm::CAST5,
        SymmetricAlgorithm::Blowfish,
    ] {
        policy.accept_symmetric_algo(algo);
    }
    policy
}

/// Supplies session keys from in-memory secret keys; verifies nothing (the
/// data key is not signed).
struct Helper<'a> {
    candidates: &'a [SecretCandidate],
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(Vec::new())
    }

    fn check(&mut self, _structure: MessageStructure) -> openpgp::Result<()> {
        Ok(())
    }
}

impl DecryptionHelper for Helper<'_> {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        for pkesk in pkesks {
            let recipient = pkesk.recipient();
            let matching = self.candidates.iter().filter(|c| match &recipient {
                Some(r) => c.key.key_handle().aliases(r),
                None => true,
            });
            for candidate in matching {
                let Ok(mut keypair) = candidate.key.clone().into_keypair() else {
                    continue;
                };
                if let Some((algo, session_key)) = pkesk.decrypt(&mut keypair, sym_algo) {
                    if decrypt(algo, &session_key) {
                        return Ok(Some(candidate.cert.clone()));
                    }
                }
            }
        }
        Err(openpgp::Error::MissingSessionKey(
            "none of the available secret keys opens the message".into(),
        )
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_not_a_message_is_rejected() {
        let parse = |s: &str| message_bytes(s).and_then(|b| recipients(&b));
        assert!(parse("").is_err());
        assert!(parse("hello").is_err());
        assert!(parse("-----BEGIN PGP MESSAGE-----\n\n!!!\n-----END PGP MESSAGE-----").is_err());
    }

    #[test]
    fn recipients_of_a_gpg_message_in_old_format() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/sops/cases/pgp_yaml/encrypted.yaml"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let enc = super::super::tests::first_enc(&text).expect("an enc block");
        let ids = message_bytes(&enc)
            .and_then(|b| recipients(&b))
            .expect("parses");
        let hex: Vec<String> = ids
            .iter()
            .map(|h| h.as_ref().map(|h| format!("{h:X}")).unwrap_or_default())
            .collect();
        assert!(enc.contains("\n\nhQGM"), "GnuPG's old-format header: {enc}");
        assert_eq!(hex, vec!["AAE8085301D58555".to_string()]);
    }
}
