//! age recipients as sops accepts them, and encryption to one recipient with
//! the ASCII armor sops stores as `enc`.
// X25519 and SSH recipients are deprecated by the age crate (not
// post-quantum); sops keeps accepting them, and so must rsops.
#![allow(deprecated)]

use std::io::Write;

use age::armor::{ArmoredWriter, Format};
use age::{plugin, pq, ssh, x25519, Encryptor};

use super::PluginUi;
use crate::error::{
    AgeEncryptError, EncryptFailure, InvalidKeyReason, KeyError, SshRecipientProblem,
};

/// Prefix of every Bech32 age recipient.
const AGE_PREFIX: &str = "age1";
/// Prefix of a hybrid post-quantum recipient.
const PQ_PREFIX: &str = "age1pq1";
/// Prefix of SSH authorized-key recipients (`ssh-ed25519`, `ssh-rsa`).
const SSH_PREFIX: &str = "ssh-";

/// A parsed recipient.
pub(super) enum ParsedRecipient {
    /// `age1…`.
    X25519(x25519::Recipient),
    /// `age1pq1…`: hybrid post-quantum (ML-KEM-768 + X25519).
    Pq(pq::Recipient),
    /// `ssh-ed25519 …` / `ssh-rsa …`.
    Ssh(ssh::Recipient),
    /// `age1NAME1…`, handled by `age-plugin-NAME`.
    Plugin(plugin::Recipient),
}

/// An `InvalidKey` error for an age recipient.
fn invalid(recipient: &str, reason: InvalidKeyReason) -> KeyError {
    KeyError::InvalidKey {
        kind: "age",
        key: recipient.to_string(),
        reason,
    }
}

/// An `Encrypt` error for age.
fn encrypt_error(e: AgeEncryptError) -> KeyError {
    KeyError::Encrypt(EncryptFailure::Age(e))
}

/// Parses a recipient as sops does (the string is trimmed first).
pub(super) fn parse_recipient(recipient: &str) -> Result<ParsedRecipient, KeyError> {
    let recipient = recipient.trim();
    if recipient.starts_with(PQ_PREFIX) {
        return recipient
            .parse::<pq::Recipient>()
            .map(ParsedRecipient::Pq)
            .map_err(|e| invalid(recipient, InvalidKeyReason::AgeX25519(e)));
    }
    if recipient.starts_with(AGE_PREFIX) && recipient.matches('1').count() > 1 {
        return recipient
            .parse::<plugin::Recipient>()
            .map(ParsedRecipient::Plugin)
            .map_err(|e| invalid(recipient, InvalidKeyReason::AgePlugin(e)));
    }
    if recipient.starts_with(AGE_PREFIX) {
        return recipient
            .parse::<x25519::Recipient>()
            .map(ParsedRecipient::X25519)
            .map_err(|e| invalid(recipient, InvalidKeyReason::AgeX25519(e)));
    }
    if recipient.starts_with(SSH_PREFIX) {
        return recipient
            .parse::<ssh::Recipient>()
            .map(ParsedRecipient::Ssh)
            .map_err(|e| invalid(recipient, InvalidKeyReason::AgeSsh(ssh_problem(e))));
    }
    Err(invalid(recipient, InvalidKeyReason::AgeUnknownType))
}

/// Why an SSH recipient is not usable.
fn ssh_problem(error: ssh::ParseRecipientKeyError) -> SshRecipientProblem {
    match error {
        ssh::ParseRecipientKeyError::Ignore => SshRecipientProblem::NotUsable,
        ssh::ParseRecipientKeyError::Invalid(reason) => SshRecipientProblem::Invalid(reason),
        ssh::ParseRecipientKeyError::RsaModulusTooLarge => SshRecipientProblem::RsaModulusTooLarge,
        ssh::ParseRecipientKeyError::RsaModulusTooSmall => SshRecipientProblem::RsaModulusTooSmall,
        ssh::ParseRecipientKeyError::Unsupported(key_type) => {
            SshRecipientProblem::UnsupportedType(key_type)
        }
        _ => SshRecipientProblem::NotUsable,
    }
}

/// Encrypts `plaintext` to one recipient; returns the armored age file with
/// `\n` line endings and a final newline (as `age -a` and sops write it).
pub(super) fn encrypt_armored(
    recipient: &ParsedRecipient,
    plaintext: &[u8],
) -> Result<String, KeyError> {
    let plugin_recipient;
    let wrapper: &dyn age::Recipient = match recipient {
        ParsedRecipient::X25519(r) => r,
        ParsedRecipient::Pq(r) => r,
        ParsedRecipient::Ssh(r) => r,
        ParsedRecipient::Plugin(r) => {
            plugin_recipient =
                plugin::RecipientPluginV1::new(r.plugin(), std::slice::from_ref(r), &[], PluginUi)
                    .map_err(|e| {
                        encrypt_error(AgeEncryptError::Age(age::EncryptError::PluginResolve(e)))
                    })?;
            &plugin_recipient
        }
    };
    let encryptor = Encryptor::with_recipients(std::iter::once(wrapper))
        .map_err(|e| encrypt_error(AgeEncryptError::Age(e)))?;
    let io_error = |e: std::io::Error| encrypt_error(AgeEncryptError::Io(e));
    let mut armored = Vec::new();
    let armor = ArmoredWriter::wrap_output(&mut armored, Format::AsciiArmor).map_err(io_error)?;
    let mut writer = encryptor.wrap_output(armor).map_err(io_error)?;
    writer.write_all(plaintext).map_err(io_error)?;
    writer
        .finish()
        .and_then(|armor| armor.finish())
        .map_err(io_error)?;
    let text = String::from_utf8(armored).map_err(|_| encrypt_error(AgeEncryptError::NotText))?;
    // The age crate ends lines with CRLF on Windows; sops always writes LF.
    Ok(text.replace("\r\n", "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::age::identities::tests::TEST_SSH_ED25519_PUBLIC;

    /// The reason of an `InvalidKey` error.
    fn reason(result: Result<ParsedRecipient, KeyError>) -> String {
        match result {
            Err(KeyError::InvalidKey { kind, reason, .. }) => {
                assert_eq!(kind, "age");
                reason.to_string()
            }
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("parsed"),
        }
    }

    #[test]
    fn recipient_forms_are_recognised() {
        let x = x25519::Identity::generate().to_public().to_string();
        assert!(matches!(
            parse_recipient(&format!("  {x} ")),
            Ok(ParsedRecipient::X25519(_))
        ));
        assert!(matches!(
            parse_recipient(TEST_SSH_ED25519_PUBLIC),
            Ok(ParsedRecipient::Ssh(_))
        ));
    }

    #[test]
    fn unknown_recipient_type_is_an_error() {
        for input in ["", "pgp:ABCDEF", "AGE1XYZ", " ecdsa-sha2-nistp256 AAAA"] {
            assert_eq!(
                reason(parse_recipient(input)),
                "failed to parse input, unknown recipient type",
                "{input:?}"
            );
        }
    }

    #[test]
    fn unknown_recipient_error_message_names_the_recipient() {
        let err = parse_recipient("bogus").err().expect("error");
        assert_eq!(
            err.to_string(),
            "invalid age key \"bogus\": failed to parse input, unknown recipient type"
        );
    }

    #[test]
    fn post_quantum_recipients_are_parsed() {
        let r = pq::Identity::generate().to_public().to_string();
        assert!(r.starts_with("age1pq1"), "{r}");
        assert!(matches!(parse_recipient(&r), Ok(ParsedRecipient::Pq(_))));
        let r = reason(parse_recipient("age1pq1qqqqqqqqqqqqqqqqqqqq"));
        assert!(
            r.starts_with("failed to parse input as Bech32-encoded age public key"),
            "{r}"
        );
    }

    #[test]
    fn malformed_recipients_are_errors() {
        let r = reason(parse_recipient("age1abc"));
        assert!(
            r.starts_with("failed to parse input as Bech32-encoded age public key"),
            "{r}"
        );
        let r = reason(parse_recipient("age0"));
        assert_eq!(r, "failed to parse input, unknown recipient type");
        let r = reason(parse_recipient("age1foo1qqqq"));
        assert!(
            r.starts_with("failed to parse input as age key from age plugin"),
            "{r}"
        );
        let r = reason(parse_recipient("ssh-ed25519 !!!"));
        assert!(
            r.starts_with("failed to parse input as age-ssh public key"),
            "{r}"
        );
    }

    #[test]
    fn x25519_recipient_with_bad_checksum_is_an_error() {
        let mut x = x25519::Identity::generate().to_public().to_string();
        // Replace the last character: the Bech32 checksum no longer matches.
        let last = x.pop().unwrap_or('q');
        x.push(if last == 'q' { 'p' } else { 'q' });
        let r = reason(parse_recipient(&x));
        assert!(r.starts_with("failed to parse input as"), "{r}");
    }

    #[test]
    fn plugin_recipient_is_parsed() {
        let recipient = plugin_recipient("yubikey");
        assert!(recipient.starts_with("age1yubikey1"), "{recipient}");
        match parse_recipient(&recipient) {
            Ok(ParsedRecipient::Plugin(r)) => assert_eq!(r.plugin(), "yubikey"),
            Ok(_) => panic!("not a plugin recipient"),
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn missing_plugin_binary_is_an_encrypt_error() {
        let Ok(parsed) = parse_recipient(&plugin_recipient("rsopsnonexistent")) else {
            panic!("plugin recipient should parse");
        };
        match encrypt_armored(&parsed, b"k") {
            Err(KeyError::Encrypt(EncryptFailure::Age(AgeEncryptError::Age(
                age::EncryptError::PluginResolve(age::plugin::ResolveError::MissingPlugin {
                    binary_name,
                }),
            )))) => assert_eq!(binary_name, "age-plugin-rsopsnonexistent"),
            other => panic!("unexpected {:?}", other.map(|_| ())),
        }
    }

    /// A valid Bech32 plugin recipient `age1NAME1…` (computed checksum).
    fn plugin_recipient(name: &str) -> String {
        bech32_encode(&format!("age1{name}"), &[0u8; 8])
    }

    /// Minimal Bech32 encoder (BIP 173) for test vectors only.
    fn bech32_encode(hrp: &str, data: &[u8]) -> String {
        const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
        fn polymod(values: &[u8]) -> u32 {
            const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
            let mut chk: u32 = 1;
            for v in values {
                let b = chk >> 25;
                chk = ((chk & 0x1ffffff) << 5) ^ u32::from(*v);
                for (i, g) in GEN.iter().enumerate() {
                    if (b >> i) & 1 == 1 {
                        chk ^= g;
                    }
                }
            }
            chk
        }
        // 8-bit to 5-bit groups.
        let mut five = Vec::new();
        let (mut acc, mut bits) = (0u32, 0u32);
        for byte in data {
            acc = (acc << 8) | u32::from(*byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                five.push(((acc >> bits) & 31) as u8);
            }
        }
        if bits > 0 {
            five.push(((acc << (5 - bits)) & 31) as u8);
        }
        let mut values: Vec<u8> = hrp.bytes().map(|b| b >> 5).collect();
        values.push(0);
        values.extend(hrp.bytes().map(|b| b & 31));
        values.extend(&five);
        values.extend([0u8; 6]);
        let checksum = polymod(&values) ^ 1;
        let mut out = format!("{hrp}1");
        for v in &five {
            out.push(char::from(CHARSET[usize::from(*v)]));
        }
        for i in 0..6 {
            out.push(char::from(
                CHARSET[((checksum >> (5 * (5 - i))) & 31) as usize],
            ));
        }
        out
    }
}
