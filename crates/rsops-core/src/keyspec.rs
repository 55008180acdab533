//! Parsing of master key specifications (`--age`, `--pgp`, `.sops.yaml` key fields) into [`rsops_keys::MasterKey`] values.
//!
//! Each function takes the comma-separated text a user gives on the command
//! line, in an environment variable or (joined) in a flat `.sops.yaml` rule,
//! and returns the master keys in order, normalised as sops 3.11 does
//! (KEYS.md §2–§8). Validation is syntactic only: nothing here contacts a
//! key backend. Error messages follow sops's wording.

use std::sync::OnceLock;

use base64::Engine as _;
use regex::Regex;
use rsops_keys::MasterKey;
use thiserror::Error;

/// A key specification that sops would refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeySpecError {
    /// An age recipient that is neither `age1…` nor `ssh-…`.
    #[error("failed to parse input, unknown recipient type: {0:?}")]
    AgeUnknownRecipientType(String),
    /// An `age1…` recipient that is not a valid Bech32 X25519 (or hybrid) key.
    #[error("failed to parse input as Bech32-encoded age public key: malformed recipient {recipient:?}: {reason}")]
    AgeMalformed {
        /// The recipient as given (trimmed).
        recipient: String,
        /// What is wrong with its encoding.
        reason: String,
    },
    /// An `age1<plugin>1…` recipient whose encoding is invalid.
    #[error("failed to parse input as age key from age plugin: {0}")]
    AgePlugin(String),
    /// An `ssh-…` recipient that is not a usable authorized-key line.
    #[error("failed to parse input as age-ssh public key: {0}")]
    AgeSsh(String),
    /// An Azure Key Vault URL not of the form `https://vault/keys/name[/version]`.
    #[error("could not parse {0:?} into a valid Azure Key Vault MasterKey []")]
    AzureUrl(String),
    /// A Vault URI without a scheme.
    #[error("missing scheme in Vault URL (should be like this: +https://vault.example.com:8200/v1/transit/keys/keyName), got: {0}")]
    VaultMissingScheme(String),
    /// A Vault URI that is not a URL at all.
    #[error("parse {uri:?}: {reason}")]
    VaultUrl {
        /// The URI as given.
        uri: String,
        /// Why it cannot be parsed.
        reason: String,
    },
    /// A Vault URI with a path prefix before `/v1/`.
    #[error("running Vault with a prefixed URL is not supported! (Format has to be like https://vault.example.com:8200/v1/transit/keys/keyName)")]
    VaultPrefixedUrl,
    /// A Vault URI whose path is not `/v1/<engine>/keys/<name>`.
    #[error("vault path does not seem to be formatted correctly: (eg. https://vault.example.com:8200/v1/transit/keys/keyName)")]
    VaultPathFormat,
    /// A HuaweiCloud KMS key ID without `:`.
    #[error("invalid key ID format: expected 'region:key-uuid', got {0:?}")]
    HckmsFormat(String),
    /// A HuaweiCloud KMS key ID with an empty region.
    #[error("region cannot be empty in key ID: {0:?}")]
    HckmsEmptyRegion(String),
    /// A HuaweiCloud KMS key ID with an empty key UUID.
    #[error("key UUID cannot be empty in key ID: {0:?}")]
    HckmsEmptyUuid(String),
}

/// age recipients from a comma-separated list (`--age`, `SOPS_AGE_RECIPIENTS`).
///
/// An empty spec gives no keys. Otherwise every part is trimmed and must be a
/// recipient: `age1…` (Bech32 X25519 key, `age1pq1…` hybrid key or
/// `age1<plugin>1…` plugin recipient) or an `ssh-ed25519`/`ssh-rsa`
/// authorized-key line. Like sops, an empty part (`a,,b`) is an error.
pub fn age_recipients(spec: &str) -> Result<Vec<MasterKey>, KeySpecError> {
    if spec.is_empty() {
        return Ok(Vec::new());
    }
    spec.split(',')
        .map(|part| {
            let recipient = part.trim();
            check_age_recipient(recipient)?;
            Ok(MasterKey::Age {
                recipient: recipient.to_owned(),
            })
        })
        .collect()
}

/// PGP keys from a comma-separated list of fingerprints; all spaces are
/// removed from each part (an empty spec gives no keys).
pub fn pgp_fingerprints(spec: &str) -> Vec<MasterKey> {
    split_non_empty_spec(spec)
        .map(|part| MasterKey::Pgp {
            fingerprint: remove_spaces(part),
        })
        .collect()
}

/// AWS KMS keys from a comma-separated list of ARNs, each optionally
/// `<kms-arn>+<role-arn>`; every key gets `context` and `aws_profile`.
pub fn kms_arns(spec: &str, context: &[(String, String)], aws_profile: &str) -> Vec<MasterKey> {
    split_non_empty_spec(spec)
        .map(|part| {
            let spec = remove_spaces(part);
            let (arn, role) = match spec.find("+arn:") {
                Some(i) if i > 0 => (spec[..i].to_owned(), spec[i + 1..].to_owned()),
                _ => (spec, String::new()),
            };
            MasterKey::Kms {
                arn,
                role,
                context: context.to_vec(),
                aws_profile: aws_profile.to_owned(),
            }
        })
        .collect()
}

/// GCP KMS keys from a comma-separated list of resource IDs (spaces removed).
pub fn gcp_kms_ids(spec: &str) -> Vec<MasterKey> {
    split_non_empty_spec(spec)
        .map(|part| MasterKey::GcpKms {
            resource_id: remove_spaces(part),
        })
        .collect()
}

/// Azure Key Vault keys from a comma-separated list of URLs
/// `https://<vault>/keys/<name>[/<version>]` (each trimmed). A missing
/// version is left empty: the caller fetches the latest one.
pub fn azure_kv_urls(spec: &str) -> Result<Vec<MasterKey>, KeySpecError> {
    split_non_empty_spec(spec).map(azure_kv_url).collect()
}

/// HashiCorp Vault transit keys from a comma-separated list of URIs
/// `https://host:8200/v1/<engine path>/keys/<key>` (empty parts skipped).
pub fn hc_vault_uris(spec: &str) -> Result<Vec<MasterKey>, KeySpecError> {
    spec.split(',')
        .filter(|part| !part.is_empty())
        .map(hc_vault_uri)
        .collect()
}

/// HuaweiCloud KMS keys from a comma-separated list of `region:key-uuid`
/// IDs (each trimmed, empty parts skipped).
pub fn hckms_ids(spec: &str) -> Result<Vec<MasterKey>, KeySpecError> {
    spec.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(hckms_id)
        .collect()
}

/// The KMS encryption context given as `k1:v1,k2:v2`.
///
/// Every pair must split into exactly two parts at `:`; otherwise sops drops
/// the whole context (with a warning) and this returns `None`. An empty spec
/// is an empty context. A repeated key keeps its first position and its last
/// value, like the map sops builds.
pub fn encryption_context(spec: &str) -> Option<Vec<(String, String)>> {
    let mut context: Vec<(String, String)> = Vec::new();
    if spec.is_empty() {
        return Some(context);
    }
    for pair in spec.split(',') {
        let mut parts = pair.split(':');
        let (Some(key), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        match context.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => context.push((key.to_owned(), value.to_owned())),
        }
    }
    Some(context)
}

/// The parts of a comma-separated spec; none at all for an empty spec.
fn split_non_empty_spec(spec: &str) -> impl Iterator<Item = &str> {
    let parts = if spec.is_empty() {
        None
    } else {
        Some(spec.split(','))
    };
    parts.into_iter().flatten()
}

/// `s` without any ASCII space.
fn remove_spaces(s: &str) -> String {
    s.replace(' ', "")
}

// ---------------------------------------------------------------- age

/// Checks that a (trimmed) recipient has one of the shapes sops accepts.
fn check_age_recipient(recipient: &str) -> Result<(), KeySpecError> {
    if recipient.starts_with("age1pq1") {
        check_age_bech32(recipient, "age1pq", HYBRID_KEY_LEN, "MLKEM768-X25519")
    } else if recipient.starts_with("age1") && recipient.matches('1').count() > 1 {
        check_age_plugin(recipient)
    } else if recipient.starts_with("age1") {
        check_age_bech32(recipient, "age", 32, "X25519")
    } else if recipient.starts_with("ssh-") {
        check_ssh_recipient(recipient).map_err(KeySpecError::AgeSsh)
    } else {
        Err(KeySpecError::AgeUnknownRecipientType(recipient.to_owned()))
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
) -> Result<(), KeySpecError> {
    let malformed = |reason: String| KeySpecError::AgeMalformed {
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
fn check_age_plugin(recipient: &str) -> Result<(), KeySpecError> {
    let (hrp, _) = bech32_decode(recipient)
        .map_err(|e| KeySpecError::AgePlugin(format!("invalid recipient encoding: {e}")))?;
    if hrp.starts_with("age1") {
        Ok(())
    } else {
        Err(KeySpecError::AgePlugin("not a plugin recipient".to_owned()))
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

// ---------------------------------------------------------------- Azure

/// One Azure Key Vault URL (trimmed).
fn azure_kv_url(part: &str) -> Result<MasterKey, KeySpecError> {
    let url = part.trim();
    let caps = azure_url_regex()
        .and_then(|re| re.captures(url))
        .ok_or_else(|| KeySpecError::AzureUrl(url.to_owned()))?;
    let group = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let version = group(3).strip_prefix('/').unwrap_or_default();
    Ok(MasterKey::AzureKv {
        vault_url: group(1).to_owned(),
        name: group(2).to_owned(),
        version: version.to_owned(),
    })
}

/// `^(https://[^/]+)/keys/([^/]+)(/[^/]*)?$`, compiled once.
fn azure_url_regex() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(https://[^/]+)/keys/([^/]+)(/[^/]*)?$").ok())
        .as_ref()
}

// ---------------------------------------------------------------- Vault

/// One Vault transit URI.
fn hc_vault_uri(uri: &str) -> Result<MasterKey, KeySpecError> {
    let (scheme, rest) = split_url_scheme(uri)?;
    let (authority, path) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            after.split_at(end)
        }
        None => ("", rest),
    };
    let request_uri = request_uri(path);
    let (engine_path, key_name) = engine_and_key_from_path(&request_uri)?;
    let vault_address = if rest.starts_with("//") {
        format!("{scheme}://{authority}")
    } else {
        format!("{scheme}:")
    };
    Ok(MasterKey::HcVault {
        vault_address,
        engine_path,
        key_name,
    })
}

/// Splits `scheme:rest`; a URI without a scheme is refused like sops does.
fn split_url_scheme(uri: &str) -> Result<(&str, &str), KeySpecError> {
    let url_error = |reason: &str| KeySpecError::VaultUrl {
        uri: uri.to_owned(),
        reason: reason.to_owned(),
    };
    if uri.chars().any(|c| c.is_ascii_control()) {
        return Err(url_error("net/url: invalid control character in URL"));
    }
    let Some(colon) = uri.find(':') else {
        return Err(KeySpecError::VaultMissingScheme(uri.to_owned()));
    };
    let (scheme, rest) = uri.split_at(colon);
    let valid_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if scheme.is_empty() {
        return Err(url_error("missing protocol scheme"));
    }
    if !valid_scheme {
        if scheme.contains('/') {
            return Err(KeySpecError::VaultMissingScheme(uri.to_owned()));
        }
        return Err(url_error("first path segment in URL cannot contain colon"));
    }
    Ok((scheme, rest.get(1..).unwrap_or_default()))
}

/// The request URI of a URL path part (path plus query, fragment dropped;
/// `/` when empty).
fn request_uri(path_and_query: &str) -> String {
    let without_fragment = path_and_query
        .split_once('#')
        .map_or(path_and_query, |(before, _)| before);
    if without_fragment.is_empty() || without_fragment.starts_with('?') {
        format!("/{without_fragment}")
    } else {
        without_fragment.to_owned()
    }
}

/// Engine path and key name from `/v1/<engine path>/keys/<key>`.
fn engine_and_key_from_path(full_path: &str) -> Result<(String, String), KeySpecError> {
    let (prefixed, well_formed) = vault_path_regexes();
    if prefixed.is_some_and(|re| re.is_match(full_path)) {
        return Err(KeySpecError::VaultPrefixedUrl);
    }
    if !well_formed.is_some_and(|re| re.is_match(full_path)) {
        return Err(KeySpecError::VaultPathFormat);
    }
    let dirs: Vec<&str> = full_path.trim_matches('/').split('/').collect();
    let (Some(key_name), Some(engine_dirs)) = (
        dirs.last(),
        dirs.get(1..dirs.len().saturating_sub(2).max(1)),
    ) else {
        return Err(KeySpecError::VaultPathFormat);
    };
    Ok((clean_joined_path(engine_dirs), (*key_name).to_owned()))
}

/// The two path checks sops applies to a Vault URI, compiled once.
fn vault_path_regexes() -> (Option<&'static Regex>, Option<&'static Regex>) {
    static PREFIXED: OnceLock<Option<Regex>> = OnceLock::new();
    static WELL_FORMED: OnceLock<Option<Regex>> = OnceLock::new();
    (
        PREFIXED
            .get_or_init(|| Regex::new(r"/[^/]+/v[0-9]+/[^/]+/[^/]+/[^/]+").ok())
            .as_ref(),
        WELL_FORMED
            .get_or_init(|| Regex::new(r"/v[0-9]+/[^/]+/[^/]+/[^/]+").ok())
            .as_ref(),
    )
}

/// Joins path segments and cleans the result (`.`/empty dropped, `..`
/// resolved), like Go's `path.Join`.
fn clean_joined_path(segments: &[&str]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in segments.iter().flat_map(|s| s.split('/')) {
        match seg {
            "" | "." => {}
            ".." if out.last().is_some_and(|last| *last != "..") => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.join("/")
}

// ---------------------------------------------------------------- HuaweiCloud

/// One `region:key-uuid` ID (already trimmed).
fn hckms_id(key_id: &str) -> Result<MasterKey, KeySpecError> {
    let Some((region, uuid)) = key_id.split_once(':') else {
        return Err(KeySpecError::HckmsFormat(key_id.to_owned()));
    };
    if region.trim().is_empty() {
        return Err(KeySpecError::HckmsEmptyRegion(key_id.to_owned()));
    }
    if uuid.trim().is_empty() {
        return Err(KeySpecError::HckmsEmptyUuid(key_id.to_owned()));
    }
    Ok(MasterKey::Hckms {
        key_id: key_id.to_owned(),
    })
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

    fn age(r: &str) -> MasterKey {
        MasterKey::Age {
            recipient: r.to_owned(),
        }
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

    #[test]
    fn pgp_removes_all_spaces() {
        let keys = pgp_fingerprints("85D7 7543 B3D6, abc ,");
        assert_eq!(
            keys,
            vec![
                MasterKey::Pgp {
                    fingerprint: "85D77543B3D6".into()
                },
                MasterKey::Pgp {
                    fingerprint: "abc".into()
                },
                MasterKey::Pgp {
                    fingerprint: String::new()
                },
            ]
        );
        assert!(pgp_fingerprints("").is_empty());
    }

    #[test]
    fn kms_splits_role_and_applies_context_and_profile() {
        let ctx = vec![("app".to_owned(), "x".to_owned())];
        let keys = kms_arns(
            "arn:aws:kms:us-east-1:1:key/a+arn:aws:iam::1:role/r, arn:aws:kms:eu-west-1:1:alias/b",
            &ctx,
            "prof",
        );
        assert_eq!(
            keys,
            vec![
                MasterKey::Kms {
                    arn: "arn:aws:kms:us-east-1:1:key/a".into(),
                    role: "arn:aws:iam::1:role/r".into(),
                    context: ctx.clone(),
                    aws_profile: "prof".into(),
                },
                MasterKey::Kms {
                    arn: "arn:aws:kms:eu-west-1:1:alias/b".into(),
                    role: String::new(),
                    context: ctx.clone(),
                    aws_profile: "prof".into(),
                },
            ]
        );
        // A role in another partition is split too; a leading "+arn:" is not a role.
        let cn = kms_arns("arn:aws-cn:kms:r:1:key/a+arn:aws-cn:iam::1:role/r", &[], "");
        assert!(
            matches!(&cn[..], [MasterKey::Kms { role, .. }] if role == "arn:aws-cn:iam::1:role/r")
        );
        let lead = kms_arns("+arn:x", &[], "");
        assert!(
            matches!(&lead[..], [MasterKey::Kms { arn, role, .. }] if arn == "+arn:x" && role.is_empty())
        );
        assert!(kms_arns("", &ctx, "").is_empty());
    }

    #[test]
    fn gcp_removes_spaces() {
        assert_eq!(
            gcp_kms_ids("projects/p/locations/global/keyRings/r/cryptoKeys/k , x y"),
            vec![
                MasterKey::GcpKms {
                    resource_id: "projects/p/locations/global/keyRings/r/cryptoKeys/k".into()
                },
                MasterKey::GcpKms {
                    resource_id: "xy".into()
                },
            ]
        );
    }

    #[test]
    fn azure_urls_with_and_without_version() {
        let keys = azure_kv_urls(
            " https://v.vault.azure.net/keys/k/0123 ,https://v/keys/n,https://v/keys/n/",
        )
        .unwrap();
        let kv = |name: &str, version: &str, url: &str| MasterKey::AzureKv {
            vault_url: url.into(),
            name: name.into(),
            version: version.into(),
        };
        assert_eq!(
            keys,
            vec![
                kv("k", "0123", "https://v.vault.azure.net"),
                kv("n", "", "https://v"),
                kv("n", "", "https://v"),
            ]
        );
        assert_eq!(
            azure_kv_urls("http://v/keys/n").unwrap_err().to_string(),
            "could not parse \"http://v/keys/n\" into a valid Azure Key Vault MasterKey []"
        );
        assert!(azure_kv_urls("https://v/keys/n/1/2").is_err());
        assert!(azure_kv_urls("https://v/keys/a,").is_err());
    }

    #[test]
    fn vault_uris_parse_engine_and_key() {
        let keys =
            hc_vault_uris("https://vault:8200/v1/transit/keys/k,,http://127.0.0.1/v1/a/b/keys/n")
                .unwrap();
        assert_eq!(
            keys,
            vec![
                MasterKey::HcVault {
                    vault_address: "https://vault:8200".into(),
                    engine_path: "transit".into(),
                    key_name: "k".into(),
                },
                MasterKey::HcVault {
                    vault_address: "http://127.0.0.1".into(),
                    engine_path: "a/b".into(),
                    key_name: "n".into(),
                },
            ]
        );
    }

    #[test]
    fn vault_uri_errors_match_sops() {
        assert_eq!(
            hc_vault_uris("vault/v1/transit/keys/k").unwrap_err().to_string(),
            "missing scheme in Vault URL (should be like this: +https://vault.example.com:8200/v1/transit/keys/keyName), got: vault/v1/transit/keys/k"
        );
        assert_eq!(
            hc_vault_uris("https://h/prefix/v1/transit/keys/k").unwrap_err(),
            KeySpecError::VaultPrefixedUrl
        );
        assert_eq!(
            hc_vault_uris("https://h/v1/transit").unwrap_err(),
            KeySpecError::VaultPathFormat
        );
        assert_eq!(
            hc_vault_uris("https://h").unwrap_err(),
            KeySpecError::VaultPathFormat
        );
        assert!(matches!(
            hc_vault_uris(":x").unwrap_err(),
            KeySpecError::VaultUrl { .. }
        ));
    }

    #[test]
    fn hckms_ids_are_validated() {
        assert_eq!(
            hckms_ids(" cn-north-4:0123 ,, ").unwrap(),
            vec![MasterKey::Hckms {
                key_id: "cn-north-4:0123".into()
            }]
        );
        assert_eq!(
            hckms_ids("abc").unwrap_err().to_string(),
            "invalid key ID format: expected 'region:key-uuid', got \"abc\""
        );
        assert_eq!(
            hckms_ids(":u").unwrap_err(),
            KeySpecError::HckmsEmptyRegion(":u".into())
        );
        assert_eq!(
            hckms_ids("r: ").unwrap_err(),
            KeySpecError::HckmsEmptyUuid("r:".into())
        );
    }

    #[test]
    fn encryption_context_pairs() {
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(
            encryption_context("a:1,b:2,a:3"),
            Some(vec![pair("a", "3"), pair("b", "2")])
        );
        assert_eq!(encryption_context(""), Some(vec![]));
        assert_eq!(encryption_context("a:1:2"), None);
        assert_eq!(encryption_context("a:1,b"), None);
        assert_eq!(encryption_context("a:1,"), None);
        assert_eq!(encryption_context(" a : 1"), Some(vec![pair(" a ", " 1")]));
    }

    proptest! {
        #[test]
        fn keyspec_functions_never_panic(spec in ".{0,200}") {
            let _ = age_recipients(&spec);
            let _ = pgp_fingerprints(&spec);
            let _ = kms_arns(&spec, &[], "p");
            let _ = gcp_kms_ids(&spec);
            let _ = azure_kv_urls(&spec);
            let _ = hc_vault_uris(&spec);
            let _ = hckms_ids(&spec);
            let _ = encryption_context(&spec);
        }

        #[test]
        fn age_like_specs_never_panic(tail in "[a-z0-9A-Z1]{0,80}", pq in any::<bool>()) {
            let spec = if pq { format!("age1pq1{tail}") } else { format!("age1{tail}") };
            let _ = age_recipients(&spec);
            let _ = age_recipients(&format!("ssh-ed25519 {tail}"));
        }

        #[test]
        fn vault_like_specs_never_panic(path in "[a-z/.?#:v0-9]{0,60}") {
            let _ = hc_vault_uris(&format!("https://h{path}"));
            let _ = hc_vault_uris(&path);
        }
    }
}
