//! HashiCorp Vault (and OpenBao) transit master keys: URIs
//! `https://host:8200/v1/<engine path>/keys/<key>`.
//!
//! `--hc-vault-transit` / `SOPS_VAULT_URIS` take URIs, comma-separated;
//! `.sops.yaml` has `hc_vault_transit_uri` in rules and `hc_vault` in key
//! groups; a metadata entry is `vault_address`, `engine_path`, `key_name`,
//! `created_at`, `enc`.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;
use thiserror::Error;

#[cfg(feature = "vault")]
pub mod kv;
#[cfg(feature = "vault")]
pub(crate) mod transit;

use crate::kind::{
    CliSpec, ConfigSpec, Fields, FlatField, FlatShape, GroupEntry, GroupField, GroupShape,
    KeyOptions, Kind, MetadataSpec,
};

/// A Vault transit key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HcVaultKey {
    /// `scheme://host[:port]`.
    pub vault_address: String,
    /// Engine path.
    pub engine_path: String,
    /// Key name.
    pub key_name: String,
}

/// A Vault transit URI that sops would refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HcVaultSpecError {
    /// A URI without a scheme.
    #[error("missing scheme in Vault URL (should be like this: +https://vault.example.com:8200/v1/transit/keys/keyName), got: {0}")]
    MissingScheme(String),
    /// A URI that is not a URL at all.
    #[error("parse {uri:?}: {reason}")]
    Url {
        /// The URI as given.
        uri: String,
        /// Why it cannot be parsed.
        reason: String,
    },
    /// A path prefix before `/v1/`.
    #[error("running Vault with a prefixed URL is not supported! (Format has to be like https://vault.example.com:8200/v1/transit/keys/keyName)")]
    PrefixedUrl,
    /// A path that is not `/v1/<engine>/keys/<name>`.
    #[error("vault path does not seem to be formatted correctly: (eg. https://vault.example.com:8200/v1/transit/keys/keyName)")]
    PathFormat,
}

/// Environment variables of the Vault client, as sops's Vault API client
/// reads them (plus sops's own allow-list).
pub mod vars {
    /// The token (before `~/.vault-token`).
    pub const VAULT_TOKEN: &str = "VAULT_TOKEN";
    /// The Vault address of `publish`'s KV destinations without a
    /// `vault_address` (transit keys carry their own).
    pub const VAULT_ADDR: &str = "VAULT_ADDR";
    /// A Vault Agent address that replaces every key's address.
    pub const VAULT_AGENT_ADDR: &str = "VAULT_AGENT_ADDR";
    /// Sent as `X-Vault-Namespace`.
    pub const VAULT_NAMESPACE: &str = "VAULT_NAMESPACE";
    /// A PEM file of CA certificates: the only roots trusted.
    pub const VAULT_CACERT: &str = "VAULT_CACERT";
    /// PEM CA certificates, inline (when `VAULT_CACERT` is unset).
    pub const VAULT_CACERT_BYTES: &str = "VAULT_CACERT_BYTES";
    /// A directory of PEM CA certificates (when neither of the above is set).
    pub const VAULT_CAPATH: &str = "VAULT_CAPATH";
    /// PEM client certificate for mutual TLS.
    pub const VAULT_CLIENT_CERT: &str = "VAULT_CLIENT_CERT";
    /// PEM private key of the client certificate.
    pub const VAULT_CLIENT_KEY: &str = "VAULT_CLIENT_KEY";
    /// Disables server certificate verification (a Go boolean).
    pub const VAULT_SKIP_VERIFY: &str = "VAULT_SKIP_VERIFY";
    /// Bound on one call, retries included (`30`, `30s`, `1m`; default 60 s).
    pub const VAULT_CLIENT_TIMEOUT: &str = "VAULT_CLIENT_TIMEOUT";
    /// Retries after a connection failure or a 412/429/5xx answer (default 2).
    pub const VAULT_MAX_RETRIES: &str = "VAULT_MAX_RETRIES";
    /// Extra request headers, a JSON object of strings.
    pub const VAULT_HEADERS: &str = "VAULT_HEADERS";
    /// HTTP proxy for Vault calls (superseded by `VAULT_PROXY_ADDR`).
    pub const VAULT_HTTP_PROXY: &str = "VAULT_HTTP_PROXY";
    /// HTTP proxy for Vault calls.
    pub const VAULT_PROXY_ADDR: &str = "VAULT_PROXY_ADDR";
    /// Do not follow the one redirect Vault clients follow (a Go boolean).
    pub const VAULT_DISABLE_REDIRECTS: &str = "VAULT_DISABLE_REDIRECTS";
    /// sops 3.13: `all` (default), `none`, or comma-separated address
    /// prefixes a file's `vault_address` must match before the token is sent.
    pub const SOPS_HC_VAULT_ALLOWLIST: &str = "SOPS_HC_VAULT_ALLOWLIST";
}

/// A Vault transit call failed, or could not be made. Never carries the
/// token, the data key or its ciphertext.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VaultError {
    /// rsops was compiled without the `vault` feature.
    #[error("rsops was built without HashiCorp Vault support (cargo feature `vault`)")]
    NotBuilt,
    /// `SOPS_HC_VAULT_ALLOWLIST` does not allow the key's address.
    #[error("Allowlist does not allow {address} ({var} is {allowlist:?})", var = vars::SOPS_HC_VAULT_ALLOWLIST)]
    NotAllowed {
        /// The key's `vault_address`.
        address: String,
        /// The allow-list as set.
        allowlist: String,
    },
    /// An entry of `SOPS_HC_VAULT_ALLOWLIST` is empty.
    #[error("{var}'s entry {index} is empty", var = vars::SOPS_HC_VAULT_ALLOWLIST)]
    AllowlistEntryEmpty {
        /// 1-based.
        index: usize,
    },
    /// A client setting from the environment is unusable.
    #[error("cannot create Vault client: {variable}: {reason}")]
    Setting {
        /// The variable.
        variable: &'static str,
        /// Why (never the value of a token).
        reason: String,
    },
    /// `~/.vault-token` exists but cannot be read.
    #[error("cannot get Vault token: {}: {source}", .path.display())]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be built (TLS settings).
    #[error("cannot create Vault client: {0}")]
    Client(String),
    /// The transit call failed.
    #[error("failed to {op} sops data key {prep} Vault transit backend '{path}': {failure} (URL {url}; token {token})", prep = op.preposition())]
    Call {
        /// Encrypt or decrypt.
        op: VaultOp,
        /// `<engine>/<op>/<key>`.
        path: String,
        /// The URL called.
        url: String,
        /// Where the token came from.
        token: TokenSource,
        /// What went wrong.
        failure: CallFailure,
    },
    /// A KV read or write (`publish`) failed.
    #[error("failed to {op} Vault KV secret '{path}': {failure} (URL {url}; token {token})")]
    Kv {
        /// Read or write.
        op: KvOp,
        /// The path after `/v1/`.
        path: String,
        /// The URL called.
        url: String,
        /// Where the token came from.
        token: TokenSource,
        /// What went wrong.
        failure: CallFailure,
    },
}

/// Which KV operation (`publish`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvOp {
    /// Reading the current secret.
    Read,
    /// Writing the new version.
    Write,
}

impl std::fmt::Display for KvOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KvOp::Read => "read",
            KvOp::Write => "write",
        })
    }
}

/// Which transit operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultOp {
    /// `encrypt`.
    Encrypt,
    /// `decrypt`.
    Decrypt,
}

impl VaultOp {
    /// `encrypt` / `decrypt`.
    pub fn name(self) -> &'static str {
        match self {
            VaultOp::Encrypt => "encrypt",
            VaultOp::Decrypt => "decrypt",
        }
    }

    fn preposition(self) -> &'static str {
        match self {
            VaultOp::Encrypt => "to",
            VaultOp::Decrypt => "from",
        }
    }
}

impl std::fmt::Display for VaultOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the Vault token was taken from (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `VAULT_TOKEN`.
    Env,
    /// `~/.vault-token`.
    File(PathBuf),
    /// No token: neither is set.
    None,
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Env => write!(f, "from {}", vars::VAULT_TOKEN),
            TokenSource::File(p) => write!(f, "from {}", p.display()),
            TokenSource::None => write!(
                f,
                "not set: neither {} nor ~/.vault-token",
                vars::VAULT_TOKEN
            ),
        }
    }
}

/// Why an HTTP call to a key server failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CallFailure {
    /// The server answered with an error status.
    #[error("HTTP {status}{}", ErrorText(.message))]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The server's error text, when it sent one.
        message: Option<String>,
    },
    /// The request could not be sent or the answer not read (connection
    /// refused, TLS, DNS, …).
    #[error("{0}")]
    Transport(String),
    /// The call did not finish in time.
    #[error("no answer within {} s", .0.as_secs_f64())]
    Timeout(Duration),
    /// The answer is not what the API returns.
    #[error("{0}")]
    BadResponse(&'static str),
}

/// `: text` when there is a text.
struct ErrorText<'a>(&'a Option<String>);

impl std::fmt::Display for ErrorText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(m) if !m.is_empty() => write!(f, ": {m}"),
            _ => Ok(()),
        }
    }
}

/// Encrypts a data key (or Shamir share) with the transit key; returns the
/// `vault:v1:…` text stored as `enc`.
pub fn encrypt(key: &HcVaultKey, plaintext: &[u8]) -> Result<String, crate::KeyError> {
    #[cfg(feature = "vault")]
    let result = transit::encrypt(key, plaintext);
    #[cfg(not(feature = "vault"))]
    let result = {
        let _ = (key, plaintext);
        Err(VaultError::NotBuilt)
    };
    result.map_err(crate::KeyError::HcVault)
}

/// Decrypts an `enc` text with the transit key.
pub fn decrypt(
    key: &HcVaultKey,
    enc: &str,
) -> Result<zeroize::Zeroizing<Vec<u8>>, crate::KeyError> {
    #[cfg(feature = "vault")]
    let result = transit::decrypt(key, enc);
    #[cfg(not(feature = "vault"))]
    let result = {
        let _ = (key, enc);
        Err(VaultError::NotBuilt)
    };
    result.map_err(crate::KeyError::HcVault)
}

impl Kind for HcVaultKey {
    const ID: &'static str = "hc_vault";
    const CLI: CliSpec = CliSpec {
        flag: "hc-vault-transit",
        short: None,
        env: "SOPS_VAULT_URIS",
        noun: "HashiCorp Vault transit URIs",
    };
    const CONFIG: ConfigSpec = ConfigSpec {
        flat: FlatField {
            name: "hc_vault_transit_uri",
            shape: FlatShape::StringOrList { outer: "vault" },
        },
        group: GroupField {
            name: "hc_vault",
            shape: GroupShape::Strings,
        },
    };
    const METADATA: MetadataSpec = MetadataSpec {
        flat_after_mac: false,
        group_first: false,
        group_always: true,
        read_last: false,
    };
    type SpecError = HcVaultSpecError;

    /// Empty parts are skipped.
    fn parse_spec(spec: &str, _options: &KeyOptions) -> Result<Vec<Self>, HcVaultSpecError> {
        spec.split(',')
            .filter(|part| !part.is_empty())
            .map(transit_uri)
            .collect()
    }

    fn from_group_entry(entry: GroupEntry<'_>) -> Result<Vec<Self>, HcVaultSpecError> {
        match entry {
            GroupEntry::Str(s) => Self::parse_spec(s, &KeyOptions::default()),
            GroupEntry::Struct(_) => Ok(Vec::new()),
        }
    }

    fn key_string(&self) -> String {
        format!(
            "{}/v1/{}/keys/{}",
            self.vault_address, self.engine_path, self.key_name
        )
    }

    fn from_metadata(entry: &Fields) -> Self {
        HcVaultKey {
            vault_address: entry.str("vault_address"),
            engine_path: entry.str("engine_path"),
            key_name: entry.str("key_name"),
        }
    }

    fn to_metadata(&self, enc: &str, created_at: &str) -> Fields {
        let mut f = Fields::new();
        f.push_str("vault_address", &self.vault_address);
        f.push_str("engine_path", &self.engine_path);
        f.push_str("key_name", &self.key_name);
        f.push_str("created_at", created_at);
        f.push_str("enc", enc);
        f
    }
}

/// One Vault transit URI.
fn transit_uri(uri: &str) -> Result<HcVaultKey, HcVaultSpecError> {
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
    Ok(HcVaultKey {
        vault_address,
        engine_path,
        key_name,
    })
}

/// Splits `scheme:rest`; a URI without a scheme is refused like sops does.
fn split_url_scheme(uri: &str) -> Result<(&str, &str), HcVaultSpecError> {
    let url_error = |reason: &str| HcVaultSpecError::Url {
        uri: uri.to_owned(),
        reason: reason.to_owned(),
    };
    if uri.chars().any(|c| c.is_ascii_control()) {
        return Err(url_error("net/url: invalid control character in URL"));
    }
    let Some(colon) = uri.find(':') else {
        return Err(HcVaultSpecError::MissingScheme(uri.to_owned()));
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
            return Err(HcVaultSpecError::MissingScheme(uri.to_owned()));
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
fn engine_and_key_from_path(full_path: &str) -> Result<(String, String), HcVaultSpecError> {
    let (prefixed, well_formed) = vault_path_regexes();
    if prefixed.is_some_and(|re| re.is_match(full_path)) {
        return Err(HcVaultSpecError::PrefixedUrl);
    }
    if !well_formed.is_some_and(|re| re.is_match(full_path)) {
        return Err(HcVaultSpecError::PathFormat);
    }
    let dirs: Vec<&str> = full_path.trim_matches('/').split('/').collect();
    let (Some(key_name), Some(engine_dirs)) = (
        dirs.last(),
        dirs.get(1..dirs.len().saturating_sub(2).max(1)),
    ) else {
        return Err(HcVaultSpecError::PathFormat);
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hc_vault_uris(spec: &str) -> Result<Vec<HcVaultKey>, HcVaultSpecError> {
        HcVaultKey::parse_spec(spec, &KeyOptions::default())
    }

    #[test]
    fn vault_uris_parse_engine_and_key() {
        let keys =
            hc_vault_uris("https://vault:8200/v1/transit/keys/k,,http://127.0.0.1/v1/a/b/keys/n")
                .unwrap();
        assert_eq!(
            keys,
            vec![
                HcVaultKey {
                    vault_address: "https://vault:8200".into(),
                    engine_path: "transit".into(),
                    key_name: "k".into(),
                },
                HcVaultKey {
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
            HcVaultSpecError::PrefixedUrl
        );
        assert_eq!(
            hc_vault_uris("https://h/v1/transit").unwrap_err(),
            HcVaultSpecError::PathFormat
        );
        assert_eq!(
            hc_vault_uris("https://h").unwrap_err(),
            HcVaultSpecError::PathFormat
        );
        assert!(matches!(
            hc_vault_uris(":x").unwrap_err(),
            HcVaultSpecError::Url { .. }
        ));
    }

    #[cfg(not(feature = "vault"))]
    #[test]
    fn without_the_feature_key_calls_say_so() {
        let key = hc_vault_uris("http://127.0.0.1:1/v1/t/keys/k")
            .unwrap()
            .remove(0);
        let err = encrypt(&key, b"data key").unwrap_err();
        assert_eq!(
            err.to_string(),
            "rsops was built without HashiCorp Vault support (cargo feature `vault`)"
        );
        assert!(decrypt(&key, "vault:v1:x").is_err());
        assert_eq!(err.kind(), Some("hc_vault"));
    }

    proptest! {
        #[test]
        fn vault_like_specs_never_panic(path in "[a-z/.?#:v0-9]{0,60}") {
            let _ = hc_vault_uris(&format!("https://h{path}"));
            let _ = hc_vault_uris(&path);
        }
    }
}
