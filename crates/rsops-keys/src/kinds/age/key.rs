//! The age key kind: recipient syntax (`age1…` X25519, `age1pq1…`
//! ML-KEM-768 + X25519 hybrid, `age1<plugin>1…` plugin, `ssh-ed25519`/`ssh-rsa`
//! authorized-key lines), its flags, `.sops.yaml` fields and metadata entry
//! (`recipient`, `enc`).

use base64::Engine as _;
use thiserror::Error;

use crate::kind::{
    CliSpec, ConfigSpec, Fields, FlatField, FlatShape, GroupEntry, GroupField, GroupShape,
    KeyOptions, Kind, MetadataSpec,
};

/// An age recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeKey {
    /// The recipient string as given (trimmed).
    pub recipient: String,
}

/// An age recipient that sops would refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AgeSpecError {
    /// Neither `age1…` nor `ssh-…`.
    #[error("failed to parse input, unknown recipient type: {0:?}")]
    UnknownRecipientType(String),
    /// An `age1…` recipient that is not a valid Bech32 X25519 (or hybrid) key.
    #[error("failed to parse input as Bech32-encoded age public key: malformed recipient {recipient:?}: {reason}")]
    Malformed {
        /// The recipient as given (trimmed).
        recipient: String,
        /// What is wrong with its encoding.
        reason: String,
    },
    /// An `age1<plugin>1…` recipient whose encoding is invalid.
    #[error("failed to parse input as age key from age plugin: {0}")]
    Plugin(String),
    /// An `ssh-…` recipient that is not a usable authorized-key line.
    #[error("failed to parse input as age-ssh public key: {0}")]
    Ssh(String),
}

impl Kind for AgeKey {
    const ID: &'static str = "age";
    const CLI: CliSpec = CliSpec {
        flag: "age",
        short: Some('a'),
        env: "SOPS_AGE_RECIPIENTS",
        noun: "age recipients",
    };
    const CONFIG: ConfigSpec = ConfigSpec {
        flat: FlatField {
            name: "age",
            shape: FlatShape::StringOrList { outer: "age" },
        },
        group: GroupField {
            name: "age",
            shape: GroupShape::Strings,
        },
    };
    const METADATA: MetadataSpec = MetadataSpec {
        flat_after_mac: false,
        group_first: false,
        group_always: true,
        read_last: true,
    };
    type SpecError = AgeSpecError;

    /// An empty spec gives no keys. Otherwise every part is trimmed and must
    /// be a recipient; like sops, an empty part (`a,,b`) is an error.
    fn parse_spec(spec: &str, _options: &KeyOptions) -> Result<Vec<Self>, AgeSpecError> {
        if spec.is_empty() {
            return Ok(Vec::new());
        }
        spec.split(',')
            .map(|part| {
                let recipient = part.trim();
                check_age_recipient(recipient)?;
                Ok(AgeKey {
                    recipient: recipient.to_owned(),
                })
            })
            .collect()
    }

    /// Each key-group element is itself a comma-separated list.
    fn from_group_entry(entry: GroupEntry<'_>) -> Result<Vec<Self>, AgeSpecError> {
        match entry {
            GroupEntry::Str(s) => Self::parse_spec(s, &KeyOptions::default()),
            GroupEntry::Struct(_) => Ok(Vec::new()),
        }
    }

    fn key_string(&self) -> String {
        self.recipient.clone()
    }

    fn from_metadata(entry: &Fields) -> Self {
        AgeKey {
            recipient: entry.str("recipient"),
        }
    }

    /// age entries have no `created_at`.
    fn to_metadata(&self, enc: &str, _created_at: &str) -> Fields {
        let mut f = Fields::new();
        f.push_str("recipient", &self.recipient);
        f.push_str("enc", enc);
        f
    }
}

/// Checks that a (trimmed) recipient has one of the shapes sops accepts.
fn check_age_recipient(recipient: &str) -> Result<(), AgeSpecError> {
    if recipient.starts_with("age1pq1") {
        check_age_bech32(recipient, "age1pq", HYBRID_KEY_LEN, "MLKEM768-X25519")
    } else if recipient.starts_with("age1") && recipient.matches('1').count() > 1 {
        check_age_plugin(recipient)
    } else if recipient.starts_with("age1") {
        check_age_bech32(recipient, "age", 32, "X25519")
    } else if recipient.starts_with("ssh-") {
        check_ssh_recipient(recipient).map_err(AgeSpecError::Ssh)
    } else {
        Err(AgeSpecError::UnknownRecipientType(recipient.to_owned()))
    }
}

/// Length of an ML-KEM-768 + X25519 hybrid public key.
const HYBRID_KEY_LEN: usize = 1184 + 32;

/// Checks an X25519 (`hrp` `age`, 32 bytes) or hybrid (`age1pq`) recipient
/// of `expected_len` bytes (`kind` names the key type in the message).
fn check_age_bech32(
    recipient: &str,
    expected_hrp: &str,
    expected_len: usize,
    kind: &str,
) -> Result<(), AgeSpecError> {
    let malformed = |reason: String| AgeSpecError::Malformed {
        recipient: recipient.to_owned(),
        reason,
    };
    let (hrp, data) = bech32_decode(recipient).map_err(malformed)?;
    if hrp != expected_hrp {
        return Err(malformed(format!("invalid type {hrp:?}")));
    }
    if data.len() == expected_len {
        Ok(())
    } else {
        Err(malformed(format!("invalid {kind} public key")))
    }
}

/// Checks a plugin recipient `age1<name>1<data>`.
fn check_age_plugin(recipient: &str) -> Result<(), AgeSpecError> {
    let (hrp, _) = bech32_decode(recipient)
        .map_err(|e| AgeSpecError::Plugin(format!("invalid recipient encoding: {e}")))?;
    if hrp.starts_with("age1") {
        Ok(())
    } else {
        Err(AgeSpecError::Plugin("not a plugin recipient".to_owned()))
    }
}

/// The Bech32 alphabet.
const BECH32_CHARSET: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// Decodes Bech32 text (no length limit, as age's decoder) into its
/// human-readable part and 8-bit data. Errors are worded like age's.
fn bech32_decode(s: &str) -> Result<(String, Vec<u8>), String> {
    if s.to_lowercase() != s && s.to_uppercase() != s {
        return Err("mixed case".to_owned());
    }
    let pos = s.rfind('1');
    let pos = match pos {
        Some(p) if p >= 1 && p + 7 <= s.len() => p,
        _ => {
            let shown = pos.map_or(-1, |p| p as i64);
            return Err(format!(
                "separator '1' at invalid position: pos={shown}, len={}",
                s.len()
            ));
        }
    };
    let (hrp, rest) = s.split_at(pos);
    if let Some((p, c)) = hrp.char_indices().find(|(_, c)| !('!'..='~').contains(c)) {
        return Err(format!(
            "invalid character human-readable part: s[{p}]={}",
            u32::from(c)
        ));
    }
    let hrp = hrp.to_lowercase();
    let mut values = Vec::with_capacity(rest.len());
    for (p, c) in rest
        .get(1..)
        .unwrap_or_default()
        .to_lowercase()
        .char_indices()
    {
        match BECH32_CHARSET.find(c) {
            Some(d) => values.push(d as u8),
            None => {
                return Err(format!(
                    "invalid character data part: s[{p}]={}",
                    u32::from(c)
                ))
            }
        }
    }
    if bech32_polymod(&hrp, &values) != 1 {
        return Err("invalid checksum".to_owned());
    }
    let payload = values.get(..values.len().saturating_sub(6)).unwrap_or(&[]);
    Ok((hrp, convert_5_to_8_bits(payload)?))
}

/// The Bech32 checksum polynomial over the expanded `hrp` and the values.
fn bech32_polymod(hrp: &str, values: &[u8]) -> u32 {
    const GENERATOR: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let expanded = hrp
        .bytes()
        .map(|c| c >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.bytes().map(|c| c & 31));
    let mut chk: u32 = 1;
    for v in expanded.chain(values.iter().copied()) {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GENERATOR.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// Regroups 5-bit values into bytes, refusing padding as age does.
fn convert_5_to_8_bits(values: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(values.len() * 5 / 8);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for &v in values {
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        while bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if bits >= 5 {
        return Err("illegal zero padding".to_owned());
    }
    if (acc << (8 - bits)) & 0xff != 0 {
        return Err("non-zero padding".to_owned());
    }
    Ok(out)
}

/// Checks an SSH authorized-key line usable as an age recipient
/// (`ssh-ed25519` or `ssh-rsa`). Returns the error text on failure.
fn check_ssh_recipient(line: &str) -> Result<(), String> {
    let malformed = |reason: &str| format!("malformed SSH recipient: {line:?}: {reason}");
    let mut fields = line.split_whitespace();
    let (Some(_), Some(blob)) = (fields.next(), fields.next()) else {
        return Err(malformed("ssh: no key found"));
    };
    let blob = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .map_err(|_| malformed("ssh: no key found"))?;
    let mut reader = SshReader(&blob);
    let key_type = reader
        .string()
        .and_then(|t| String::from_utf8(t.to_vec()).ok())
        .ok_or_else(|| malformed("ssh: no key found"))?;
    let well_formed = match key_type.as_str() {
        "ssh-ed25519" => reader.string().is_some_and(|k| k.len() == 32),
        "ssh-rsa" => {
            let modulus = reader.string().and_then(|_exponent| reader.string());
            match modulus {
                Some(n) if mpint_bits(n) < 2048 => {
                    return Err(malformed("RSA key size is too small"))
                }
                Some(_) => true,
                None => false,
            }
        }
        _ => return Err(format!("unknown SSH recipient type: {key_type:?}")),
    };
    if well_formed && reader.0.is_empty() {
        Ok(())
    } else {
        Err(malformed("ssh: no key found"))
    }
}

/// The bit length of an SSH `mpint` (big-endian, possibly zero-padded).
fn mpint_bits(n: &[u8]) -> usize {
    let Some(first) = n.iter().position(|b| *b != 0) else {
        return 0;
    };
    let leading = n.get(first).map_or(0, |b| b.leading_zeros() as usize);
    (n.len() - first) * 8 - leading
}

/// Reads SSH wire-format strings (u32 big-endian length, bytes).
struct SshReader<'a>(&'a [u8]);

impl<'a> SshReader<'a> {
    /// The next length-prefixed string, if complete.
    fn string(&mut self) -> Option<&'a [u8]> {
        let len_bytes: [u8; 4] = self.0.get(..4)?.try_into().ok()?;
        let len = usize::try_from(u32::from_be_bytes(len_bytes)).ok()?;
        let end = len.checked_add(4)?;
        let s = self.0.get(4..end)?;
        self.0 = self.0.get(end..)?;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const AGE1: &str = "age19zt9lpwdukeu0vakyklywey3p54tpxj3lc4z39v6hem3e6fkuyhqf7rlyw";
    const AGE2: &str = "age1e7wrpcqp55cnk8ph80s6xxkmg4dvrpq7tkuddz6s4kdp2nzvuvuqm7vdc3";
    const SSH_ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH82riDyyPx9gSz7cWO5KjyOMshKqwtW7yrwDMkMgwT8 me@host";
    const SSH_RSA_2048: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC9+pmKXqbMLVOM6WSeHcxL3MNikiuxrWVP9LSOMeFjzVf6XfAN+AWGickWTTcS37UAPTC5mNF0dfTaqhsd1p21ytY17WxcEWSent1jmHrvBcX0mCRINEvDZw365UQFLpm9GgT4Z+K00MUVCB9+esBCsLRA2NvgRmAhCy3a96i++C4csGp3HEeOcsAVwrUcZ084ZZGHoA7xZH+aBxuAPJzwNJDlnt+OYYJQbvxJJXFeswcZQQwD27ich0m70ZjFMVSuPilSH9TtZZDF2NXxoen7dV0cazlkeu1Qz6KDbaBIV3EKPO4/FjmOd8OBGXJeyU8ECW/5Q0qWtdfWZmq+hO2l root@vm";
    const SSH_RSA_1024_PREFIX: &str =
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDgVaWfShuQyfY96CqdSKqX";
    /// Valid Bech32 (checksum computed independently) for plugin `yubikey`.
    const PLUGIN: &str = "age1yubikey1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0jqmenk29";

    fn age(r: &str) -> AgeKey {
        AgeKey {
            recipient: r.to_owned(),
        }
    }

    fn age_recipients(spec: &str) -> Result<Vec<AgeKey>, AgeSpecError> {
        AgeKey::parse_spec(spec, &KeyOptions::default())
    }

    fn err_text(spec: &str) -> String {
        match age_recipients(spec) {
            Err(e) => e.to_string(),
            Ok(keys) => panic!("expected an error for {spec:?}, got {keys:?}"),
        }
    }

    #[test]
    fn age_list_is_split_and_trimmed() {
        let keys = age_recipients(&format!(" {AGE1} ,\t{AGE2}\n")).unwrap();
        assert_eq!(keys, vec![age(AGE1), age(AGE2)]);
        assert_eq!(age_recipients("").unwrap(), vec![]);
    }

    #[test]
    fn age_accepts_ssh_and_plugin_recipients() {
        let spec = format!("{SSH_ED25519},{SSH_RSA_2048},{PLUGIN}");
        let keys = age_recipients(&spec).unwrap();
        assert_eq!(keys, vec![age(SSH_ED25519), age(SSH_RSA_2048), age(PLUGIN)]);
    }

    #[test]
    fn age_unknown_type_messages_match_sops() {
        assert_eq!(
            err_text("foo"),
            "failed to parse input, unknown recipient type: \"foo\""
        );
        assert_eq!(
            err_text(&AGE1.to_uppercase()),
            format!(
                "failed to parse input, unknown recipient type: \"{}\"",
                AGE1.to_uppercase()
            )
        );
        // sops does not drop empty parts on the command line.
        assert_eq!(
            err_text(" , ,"),
            "failed to parse input, unknown recipient type: \"\""
        );
        assert!(age_recipients(&format!("{AGE1},")).is_err());
    }

    #[test]
    fn age_bech32_errors_match_sops() {
        assert_eq!(
            err_text("age1abc"),
            "failed to parse input as Bech32-encoded age public key: malformed recipient \"age1abc\": separator '1' at invalid position: pos=3, len=7"
        );
        let bad_checksum = AGE1.replace("rlyw", "rlyx");
        assert_eq!(
            err_text(&bad_checksum),
            format!("failed to parse input as Bech32-encoded age public key: malformed recipient \"{bad_checksum}\": invalid checksum")
        );
        assert_eq!(
            err_text("age1QQ"),
            "failed to parse input as Bech32-encoded age public key: malformed recipient \"age1QQ\": mixed case"
        );
        let short = "age1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc535lh4";
        assert_eq!(
            err_text(short),
            format!("failed to parse input as Bech32-encoded age public key: malformed recipient \"{short}\": invalid X25519 public key")
        );
        let pq = "age1pq1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0jqgfzyvjz2f385857ay";
        assert!(err_text(pq).ends_with("invalid MLKEM768-X25519 public key"));
        assert_eq!(
            err_text("age1pq1abc"),
            "failed to parse input as Bech32-encoded age public key: malformed recipient \"age1pq1abc\": separator '1' at invalid position: pos=6, len=10"
        );
    }

    #[test]
    fn age_plugin_errors_match_sops() {
        assert_eq!(
            err_text("age1yubikey1qabc"),
            "failed to parse input as age key from age plugin: invalid recipient encoding: separator '1' at invalid position: pos=11, len=16"
        );
        let bad = PLUGIN.replace("k29", "k2q");
        assert_eq!(
            err_text(&bad),
            "failed to parse input as age key from age plugin: invalid recipient encoding: invalid checksum"
        );
    }

    #[test]
    fn age_ssh_errors_match_sops() {
        assert_eq!(
            err_text("ssh-ed25519 AAAA"),
            "failed to parse input as age-ssh public key: malformed SSH recipient: \"ssh-ed25519 AAAA\": ssh: no key found"
        );
        assert!(err_text("ssh-rsa xyz").contains("malformed SSH recipient"));
        assert!(err_text(SSH_RSA_1024_PREFIX).contains("ssh: no key found"));
        // A complete 1024-bit key is refused for its size.
        let blob = {
            let mut b = Vec::new();
            for part in [&b"ssh-rsa"[..], &[1, 0, 1], &[0x80; 128]] {
                b.extend_from_slice(&(part.len() as u32).to_be_bytes());
                b.extend_from_slice(part);
            }
            base64::engine::general_purpose::STANDARD.encode(b)
        };
        assert!(err_text(&format!("ssh-rsa {blob}")).ends_with("RSA key size is too small"));
        let dss = {
            let mut b = Vec::new();
            b.extend_from_slice(&7u32.to_be_bytes());
            b.extend_from_slice(b"ssh-dss");
            base64::engine::general_purpose::STANDARD.encode(b)
        };
        assert_eq!(
            err_text(&format!("ssh-dss {dss}")),
            "failed to parse input as age-ssh public key: unknown SSH recipient type: \"ssh-dss\""
        );
    }

    proptest! {
        #[test]
        fn age_like_specs_never_panic(tail in "[a-z0-9A-Z1]{0,80}", pq in any::<bool>()) {
            let spec = if pq { format!("age1pq1{tail}") } else { format!("age1{tail}") };
            let _ = age_recipients(&spec);
            let _ = age_recipients(&format!("ssh-ed25519 {tail}"));
        }

    }
}
