//! Azure Key Vault key operations over REST: `GET key` (to resolve the
//! latest version), `encrypt` and `decrypt` with `RSA-OAEP-256`, as sops's
//! `azkeys` client sends them (api-version 7.6).
//!
//! Authentication follows the Key Vault challenge protocol: the first
//! request goes out without body and token; the `401` reply's
//! `WWW-Authenticate` header names the tenant and the resource; the request
//! is sent again with the body and a token for `<resource>/.default` from
//! the credential chain ([`super::credential`]). As in the Go client, the
//! challenge's resource must be a parent domain of the vault's host.
//! Each request is retried on transient failures as azcore's retry policy
//! does ([`crate::retry`]).

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use zeroize::Zeroizing;

use super::credential;
use super::{AzureCall, AzureKvError, AzureKvKey};
use crate::kind::Kind as _;
use crate::retry::{self, Policy};
use crate::runtime;

/// The Key Vault REST API version sops's client (azkeys 1.4) uses.
const API_VERSION: &str = "7.6";

/// The algorithm sops uses for `encrypt` / `decrypt`.
const ALGORITHM: &str = "RSA-OAEP-256";

/// The key with its version resolved: `None` when it already has one.
pub(crate) fn resolve(key: &AzureKvKey) -> Result<Option<AzureKvKey>, AzureKvError> {
    if !key.version.is_empty() {
        return Ok(None);
    }
    let url = format!(
        "{}/keys/{}/?api-version={API_VERSION}",
        key.vault_url, key.name
    );
    let reply = call(key, AzureCall::GetKey, Method::GET, &url, None)?;
    let kid = reply
        .get("key")
        .and_then(|k| k.get("kid"))
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| AzureKvError::Response {
            key: key.key_string(),
            call: AzureCall::GetKey,
            reason: "no `key.kid` in the reply".into(),
        })?;
    let version = kid_version(kid).ok_or_else(|| AzureKvError::Response {
        key: key.key_string(),
        call: AzureCall::GetKey,
        reason: format!("the key id {kid:?} has no version"),
    })?;
    Ok(Some(AzureKvKey {
        version: version.to_owned(),
        ..key.clone()
    }))
}

/// The version of a key id `https://vault/keys/name/version`.
fn kid_version(kid: &str) -> Option<&str> {
    let path = kid.split_once("://").map_or(kid, |(_, rest)| rest);
    let mut parts = path.split('/').skip(1);
    match (parts.next(), parts.next(), parts.next()) {
        (Some("keys"), Some(_), Some(version)) if !version.is_empty() => Some(version),
        _ => None,
    }
}

/// Encrypts `plaintext`; returns `enc` (base64url without padding).
pub(crate) fn encrypt(key: &AzureKvKey, plaintext: &[u8]) -> Result<String, AzureKvError> {
    let result = operation(key, AzureCall::Encrypt, plaintext)?;
    Ok(URL_SAFE_NO_PAD.encode(&*result))
}

/// Decrypts `enc`.
pub(crate) fn decrypt(key: &AzureKvKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, AzureKvError> {
    let raw = URL_SAFE_NO_PAD.decode(enc).map_err(|e| AzureKvError::Enc {
        key: key.key_string(),
        reason: e.to_string(),
    })?;
    operation(key, AzureCall::Decrypt, &raw)
}

/// `POST {vault}/keys/{name}/{version}/{encrypt|decrypt}`: the operation's
/// result bytes.
fn operation(
    key: &AzureKvKey,
    which: AzureCall,
    value: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AzureKvError> {
    let url = format!(
        "{}/keys/{}/{}/{}?api-version={API_VERSION}",
        key.vault_url,
        key.name,
        key.version,
        which.operation()
    );
    let body = Zeroizing::new(
        serde_json::json!({ "alg": ALGORITHM, "value": URL_SAFE_NO_PAD.encode(value) }).to_string(),
    );
    let reply = call(key, which, Method::POST, &url, Some(&body))?;
    let text = reply
        .get("value")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| AzureKvError::Response {
            key: key.key_string(),
            call: which,
            reason: "no `value` in the reply".into(),
        })?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(text))
        .map(Zeroizing::new)
        .map_err(|e| AzureKvError::Response {
            key: key.key_string(),
            call: which,
            reason: format!("`value` is not base64url: {e}"),
        })
}

/// One authenticated request (challenge first); the parsed JSON reply.
fn call(
    key: &AzureKvKey,
    which: AzureCall,
    method: Method,
    url: &str,
    body: Option<&str>,
) -> Result<serde_json::Value, AzureKvError> {
    let shown = key.key_string();
    let transport_after = |e: reqwest::Error, tries: u32| AzureKvError::Transport {
        key: shown.clone(),
        call: which,
        reason: format!(
            "{}{}",
            credential::error_chain(&e),
            retry::attempts_note(tries)
        ),
    };
    let transport = |e: reqwest::Error| transport_after(e, 1);
    let future = async {
        let client = runtime::http_client_builder().build().map_err(transport)?;
        // The challenge request: no body, no token.
        let first = retry::send(Policy::Azure, || {
            client
                .request(method.clone(), url)
                .header(CONTENT_LENGTH, "0")
        })
        .await;
        let mut tries = first.tries;
        let first = first.result.map_err(|e| transport_after(e, tries))?;
        let response = if first.status() == StatusCode::UNAUTHORIZED {
            let header = first
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let challenge = Challenge::parse(&header).ok_or_else(|| AzureKvError::Challenge {
                key: shown.clone(),
                call: which,
                reason: format!("HTTP 401 without a usable Bearer challenge ({header:?})"),
            })?;
            let request_host = first.url().host_str().map(|h| match first.url().port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            });
            challenge
                .check_resource(request_host.as_deref().unwrap_or_default())
                .map_err(|reason| AzureKvError::Challenge {
                    key: shown.clone(),
                    call: which,
                    reason,
                })?;
            let token = credential::token(&challenge.scope, challenge.tenant.as_deref())
                .await
                .map_err(|attempts| AzureKvError::Credentials {
                    key: shown.clone(),
                    call: which,
                    attempts,
                })?;
            let authorization = Zeroizing::new(format!("Bearer {}", token.as_str()));
            let sent = retry::send(Policy::Azure, || {
                let request = client
                    .request(method.clone(), url)
                    .header(AUTHORIZATION, authorization.as_str());
                match body {
                    Some(b) => request
                        .header(CONTENT_TYPE, "application/json")
                        .body(b.to_owned()),
                    None => request.header(CONTENT_LENGTH, "0"),
                }
            })
            .await;
            tries = sent.tries;
            sent.result.map_err(|e| transport_after(e, tries))?
        } else {
            first
        };
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            let (code, message) = server_error(&bytes);
            return Err(AzureKvError::Http {
                key: shown.clone(),
                call: which,
                status: status.as_u16(),
                code,
                message,
                tries,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| AzureKvError::Response {
            key: shown.clone(),
            call: which,
            reason: format!("the reply is not JSON: {e}"),
        })
    };
    runtime::block_on(future).map_err(|e| AzureKvError::Runtime(e.to_string()))?
}

/// A Key Vault authentication challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Challenge {
    /// The token scope: `scope`, else `resource` + `/.default`.
    scope: String,
    /// The tenant: the first path segment of `authorization` /
    /// `authorization_uri`.
    tenant: Option<String>,
}

impl Challenge {
    /// Parses `Bearer k="v", k="v"`.
    fn parse(header: &str) -> Option<Challenge> {
        let rest = header.trim();
        let (scheme, params) = rest.split_once(' ').unwrap_or((rest, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let mut scope = None;
        let mut resource = None;
        let mut authorization = None;
        for part in params.split(',') {
            let Some((name, value)) = part.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"').to_owned();
            match name.trim().to_ascii_lowercase().as_str() {
                "scope" => scope = Some(value),
                "resource" => resource = Some(value),
                "authorization" | "authorization_uri" => authorization = Some(value),
                _ => {}
            }
        }
        let scope = match (scope, resource) {
            (Some(s), _) if !s.is_empty() => s,
            (_, Some(r)) if !r.is_empty() => format!("{}/.default", r.trim_end_matches('/')),
            _ => return None,
        };
        let tenant = authorization.and_then(|a| {
            let path = a.split_once("://").map_or(a.as_str(), |(_, rest)| rest);
            path.split('/')
                .nth(1)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        });
        Some(Challenge { scope, tenant })
    }

    /// The Go client's check: the request's host (with port) ends with
    /// `"." + host(resource)`.
    fn check_resource(&self, request_host: &str) -> Result<(), String> {
        let resource = self.scope.trim_end_matches("/.default");
        let host = resource
            .split_once("://")
            .map_or(resource, |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default();
        if !host.is_empty() && request_host.ends_with(&format!(".{host}")) {
            Ok(())
        } else {
            Err(format!(
                "challenge resource {resource:?} doesn't match the requested domain {request_host:?}"
            ))
        }
    }
}

/// `(error.code, error.message)` of a Key Vault error reply, else the
/// start of the body.
fn server_error(body: &[u8]) -> (String, String) {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(err) = v.get("error") {
            let text = |name: &str| {
                err.get(name)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            return (text("code"), text("message"));
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let cut = match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    };
    (String::new(), cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_give_scope_and_tenant() {
        let c = Challenge::parse(
            r#"Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1", resource="https://vault.azure.net""#,
        )
        .unwrap();
        assert_eq!(c.scope, "https://vault.azure.net/.default");
        assert_eq!(c.tenant.as_deref(), Some("72f988bf-86f1"));
        assert!(c.check_resource("myvault.vault.azure.net").is_ok());
        assert!(c.check_resource("evil.example").is_err());
        assert!(c.check_resource("vault.azure.net").is_err());
        let c = Challenge::parse(
            r#"Bearer authorization_uri="https://login.example/t1/", scope="https://0.0.1:8443/.default""#,
        )
        .unwrap();
        assert_eq!(c.scope, "https://0.0.1:8443/.default");
        assert_eq!(c.tenant.as_deref(), Some("t1"));
        assert!(c.check_resource("127.0.0.1:8443").is_ok());
        assert!(c.check_resource("127.0.0.1:8444").is_err());
        assert_eq!(Challenge::parse("Basic realm=\"x\""), None);
        assert_eq!(
            Challenge::parse("Bearer authorization=\"https://l/t\""),
            None
        );
    }

    #[test]
    fn versions_come_from_key_ids() {
        assert_eq!(
            kid_version("https://v.vault.azure.net/keys/k/0123abcd"),
            Some("0123abcd")
        );
        assert_eq!(kid_version("https://v/keys/k"), None);
        assert_eq!(kid_version("https://v/keys/k/"), None);
        assert_eq!(kid_version("https://v/secrets/k/1"), None);
    }

    #[test]
    fn server_errors_show_code_and_message() {
        assert_eq!(
            server_error(br#"{"error":{"code":"Forbidden","message":"no access"}}"#),
            ("Forbidden".into(), "no access".into())
        );
        assert_eq!(server_error(b"oops"), (String::new(), "oops".into()));
    }
}
