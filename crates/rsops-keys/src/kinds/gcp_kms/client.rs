//! GCP Cloud KMS `encrypt` / `decrypt` over REST.
//!
//! sops talks gRPC by default and REST with `SOPS_GCP_KMS_CLIENT_TYPE=rest`;
//! both carry the same messages and give the same ciphertexts, so rsops
//! always uses REST (`POST {endpoint}/v1/{resource_id}:encrypt`). The data
//! key travels as raw bytes (base64 in the JSON body); `enc` is the standard
//! base64 of the returned ciphertext.
//!
//! Credentials, in sops's order: `GOOGLE_CREDENTIALS` (a path to a JSON file
//! if that file exists, else the JSON itself), `GOOGLE_OAUTH_ACCESS_TOKEN`
//! (a static bearer token), Application Default Credentials
//! (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's ADC file, the metadata
//! server).
//!
//! 503 and 504 replies are retried as the Go client's call options say
//! ([`crate::retry`]).

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use google_cloud_auth::credentials::{self, CacheableResource, Credentials};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use zeroize::Zeroizing;

use super::{CredentialSource, GcpCall, GcpKmsError, GcpKmsKey};
use crate::env::{self as vars};
use crate::retry::{self, Policy};
use crate::runtime;

/// The public Cloud KMS endpoint.
const DEFAULT_ENDPOINT: &str = "https://cloudkms.googleapis.com";

/// How long a metadata-server or token-endpoint round trip may take.
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(30);

/// Encrypts `plaintext` with the key; returns `enc`.
pub(crate) fn encrypt(key: &GcpKmsKey, plaintext: &[u8]) -> Result<String, GcpKmsError> {
    check_resource_id(key)?;
    let body = serde_json::json!({
        "name": key.resource_id,
        "plaintext": STANDARD.encode(plaintext),
    });
    let reply = call(key, GcpCall::Encrypt, body)?;
    let ciphertext = field_bytes(&reply, "ciphertext").ok_or_else(|| GcpKmsError::Response {
        key: key.resource_id.clone(),
        call: GcpCall::Encrypt,
        reason: "no base64 `ciphertext` in the reply".into(),
    })?;
    Ok(STANDARD.encode(ciphertext))
}

/// Decrypts `enc` with the key.
pub(crate) fn decrypt(key: &GcpKmsKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, GcpKmsError> {
    check_resource_id(key)?;
    let ciphertext = STANDARD.decode(enc).map_err(|e| GcpKmsError::Enc {
        key: key.resource_id.clone(),
        reason: e.to_string(),
    })?;
    let body = serde_json::json!({
        "name": key.resource_id,
        "ciphertext": STANDARD.encode(ciphertext),
    });
    let reply = call(key, GcpCall::Decrypt, body)?;
    let plaintext = field_bytes(&reply, "plaintext").ok_or_else(|| GcpKmsError::Response {
        key: key.resource_id.clone(),
        call: GcpCall::Decrypt,
        reason: "no base64 `plaintext` in the reply".into(),
    })?;
    Ok(Zeroizing::new(plaintext))
}

/// sops's check: `projects/…/locations/…/keyRings/…/cryptoKeys/…`.
fn check_resource_id(key: &GcpKmsKey) -> Result<(), GcpKmsError> {
    let parts: Vec<&str> = key.resource_id.split('/').collect();
    let shape = [
        "projects",
        "",
        "locations",
        "",
        "keyRings",
        "",
        "cryptoKeys",
        "",
    ];
    let ok = parts.len() == shape.len()
        && parts
            .iter()
            .zip(shape)
            .all(|(part, want)| !part.is_empty() && (want.is_empty() || *part == want));
    if ok {
        Ok(())
    } else {
        Err(GcpKmsError::InvalidResourceId(key.resource_id.clone()))
    }
}

/// The base URL of the KMS API: `SOPS_GCP_KMS_ENDPOINT` (a URL, or
/// `host[:port]` meaning https), else `https://cloudkms.<domain>` for
/// `SOPS_GCP_KMS_UNIVERSE_DOMAIN`, else the public endpoint.
pub(crate) fn endpoint(get: impl Fn(&str) -> Option<String>) -> String {
    let non_empty = |name: &str| get(name).filter(|v| !v.is_empty());
    if let Some(endpoint) = non_empty(vars::SOPS_GCP_KMS_ENDPOINT) {
        let endpoint = endpoint.trim_end_matches('/');
        if endpoint.contains("://") {
            endpoint.to_owned()
        } else {
            format!("https://{endpoint}")
        }
    } else if let Some(domain) = non_empty(vars::SOPS_GCP_KMS_UNIVERSE_DOMAIN) {
        format!("https://cloudkms.{}", domain.trim_end_matches('/'))
    } else {
        DEFAULT_ENDPOINT.to_owned()
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// One REST call; the parsed JSON reply.
fn call(
    key: &GcpKmsKey,
    which: GcpCall,
    body: serde_json::Value,
) -> Result<serde_json::Value, GcpKmsError> {
    let url = format!(
        "{}/v1/{}:{}",
        endpoint(env_var),
        key.resource_id,
        which.method()
    );
    let future = async {
        let auth = auth_headers(key).await?;
        let client =
            runtime::http_client_builder()
                .build()
                .map_err(|e| GcpKmsError::Transport {
                    key: key.resource_id.clone(),
                    call: which,
                    reason: error_chain(&e),
                })?;
        let body = body.to_string();
        let sent = retry::send(Policy::Gcp, || {
            client
                .post(&url)
                .headers(auth.clone())
                .header(CONTENT_TYPE, "application/json")
                .header("x-goog-request-params", format!("name={}", key.resource_id))
                .body(body.clone())
        })
        .await;
        let tries = sent.tries;
        let response = sent.result.map_err(|e| GcpKmsError::Transport {
            key: key.resource_id.clone(),
            call: which,
            reason: error_chain(&e),
        })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| GcpKmsError::Transport {
            key: key.resource_id.clone(),
            call: which,
            reason: error_chain(&e),
        })?;
        if !status.is_success() {
            return Err(GcpKmsError::Http {
                key: key.resource_id.clone(),
                call: which,
                status: status.as_u16(),
                message: server_message(&bytes),
                tries,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| GcpKmsError::Response {
            key: key.resource_id.clone(),
            call: which,
            reason: format!("the reply is not JSON: {e}"),
        })
    };
    runtime::block_on(future).map_err(|e| GcpKmsError::Runtime(e.to_string()))?
}

/// The authentication headers, from the first configured source.
async fn auth_headers(key: &GcpKmsKey) -> Result<HeaderMap, GcpKmsError> {
    authorization(&key.resource_id).await
}

/// The authentication headers of the GCP key kind's credentials, for any
/// Google API (Cloud Storage for `publish`); `name` is what a failure
/// names (the key, or the bucket).
pub async fn authorization(name: &str) -> Result<HeaderMap, GcpKmsError> {
    let fail = |source: CredentialSource, reason: String| GcpKmsError::Credentials {
        key: name.to_owned(),
        from: source,
        reason,
    };
    let (source, credentials) = match credentials_from_env() {
        Ok(Some(found)) => found,
        Ok(None) => {
            // A static token: sops's oauth2.StaticTokenSource.
            let token = env_var(vars::GOOGLE_OAUTH_ACCESS_TOKEN).unwrap_or_default();
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                fail(
                    CredentialSource::OAuthAccessToken,
                    "the token is not a valid header value".into(),
                )
            })?;
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, value);
            return Ok(headers);
        }
        Err((source, reason)) => return Err(fail(source, reason)),
    };
    // Nothing configured: the metadata server was the last source.
    let failed = |reason: String| {
        if source == CredentialSource::MetadataServer {
            GcpKmsError::NoCredentials {
                key: name.to_owned(),
                reason,
            }
        } else {
            fail(source, reason)
        }
    };
    let headers = tokio::time::timeout(
        CREDENTIALS_TIMEOUT,
        credentials.headers(http::Extensions::new()),
    )
    .await
    .map_err(|_| {
        failed(format!(
            "no token within {} s",
            CREDENTIALS_TIMEOUT.as_secs()
        ))
    })?
    .map_err(|e| failed(credential_failure(source, &e)))?;
    match headers {
        CacheableResource::New { data, .. } => Ok(data),
        CacheableResource::NotModified => Err(fail(source, "no headers returned".into())),
    }
}

/// The credentials to use: `GOOGLE_CREDENTIALS`, else ADC; `Ok(None)` when
/// `GOOGLE_OAUTH_ACCESS_TOKEN` is to be used.
fn credentials_from_env(
) -> Result<Option<(CredentialSource, Credentials)>, (CredentialSource, String)> {
    let universe = env_var(vars::SOPS_GCP_KMS_UNIVERSE_DOMAIN).filter(|d| !d.is_empty());
    if let Some(value) = env_var(vars::GOOGLE_CREDENTIALS).filter(|v| !v.is_empty()) {
        let source = CredentialSource::GoogleCredentials;
        // sops: a path if the file exists, else the JSON itself.
        let text = if std::path::Path::new(&value).exists() {
            std::fs::read_to_string(&value)
                .map_err(|e| (source, format!("cannot read the file it names: {e}")))?
        } else {
            value
        };
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            (
                source,
                format!("neither an existing file nor credentials JSON ({e})"),
            )
        })?;
        return build_from_json(json, universe)
            .map(|c| Some((source, c)))
            .map_err(|reason| (source, reason));
    }
    if env_var(vars::GOOGLE_OAUTH_ACCESS_TOKEN).is_some_and(|t| !t.is_empty()) {
        return Ok(None);
    }
    let source = if adc_file_configured() {
        CredentialSource::ApplicationDefault
    } else {
        CredentialSource::MetadataServer
    };
    let mut builder = credentials::Builder::default();
    if let Some(domain) = universe {
        builder = builder.with_universe_domain(domain);
    }
    builder
        .build()
        .map(|c| Some((source, c)))
        .map_err(|e| (source, error_chain(&e)))
}

/// Why a credential gave no token: for the metadata server only the root
/// cause (the client's advice around it restates what the source says).
fn credential_failure(source: CredentialSource, e: &(dyn std::error::Error + 'static)) -> String {
    let chain = error_chain(e);
    if source != CredentialSource::MetadataServer {
        return chain;
    }
    let mut root = e;
    while let Some(next) = root.source() {
        root = next;
    }
    let root = root.to_string();
    if root.trim().is_empty() {
        chain
    } else {
        root.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Whether Application Default Credentials come from a file
/// (`GOOGLE_APPLICATION_CREDENTIALS`, or gcloud's well-known file) rather
/// than from the metadata server.
fn adc_file_configured() -> bool {
    if env_var(vars::GOOGLE_APPLICATION_CREDENTIALS).is_some() {
        return true;
    }
    env_var(vars::HOME).is_some_and(|home| {
        std::path::Path::new(&home)
            .join(".config/gcloud/application_default_credentials.json")
            .exists()
    })
}

/// Credentials from a credentials JSON document, by its `type`.
fn build_from_json(
    json: serde_json::Value,
    universe: Option<String>,
) -> Result<Credentials, String> {
    use google_cloud_auth::credentials::{
        external_account, external_account_authorized_user, impersonated, service_account,
        user_account,
    };
    let kind = json
        .get("type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let built = match kind.as_str() {
        "service_account" => {
            let mut b = service_account::Builder::new(json);
            if let Some(d) = universe {
                b = b.with_universe_domain(d);
            }
            b.build()
        }
        "authorized_user" => user_account::Builder::new(json).build(),
        "external_account" => external_account::Builder::new(json).build(),
        "external_account_authorized_user" => {
            external_account_authorized_user::Builder::new(json).build()
        }
        "impersonated_service_account" => impersonated::Builder::new(json).build(),
        "" => return Err("the credentials JSON has no `type`".into()),
        other => return Err(format!("unsupported credentials type {other:?}")),
    };
    built.map_err(|e| error_chain(&e))
}

/// A base64 field of a reply (standard or URL-safe alphabet, as protobuf
/// JSON allows).
fn field_bytes(reply: &serde_json::Value, name: &str) -> Option<Vec<u8>> {
    let text = reply.get(name)?.as_str()?;
    STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .ok()
}

/// The server's error text: `error.status: error.message` of a Google API
/// error, else the start of the body.
fn server_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let err = v.get("error").unwrap_or(&v);
        let message = err.get("message").and_then(serde_json::Value::as_str);
        let status = err.get("status").and_then(serde_json::Value::as_str);
        match (status, message) {
            (Some(s), Some(m)) => return format!("{s}: {m}"),
            (None, Some(m)) => return m.to_owned(),
            _ => {}
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// An error and its causes, joined with `: `, on one line, without the
/// Google client's retry commentary.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    const NOISE: [&str; 3] = [
        " but future attempts may succeed",
        " Subsequent calls with this credential might succeed.",
        "Fetching the token resulted in transient errors.",
    ];
    let clean = |text: String| {
        let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for noise in NOISE {
            text = text.replace(noise, "");
        }
        text.trim().to_owned()
    };
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = next {
        let text = clean(c.to_string());
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = c.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_follows_sops_3_13() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(endpoint(env(&[])), DEFAULT_ENDPOINT);
        assert_eq!(
            endpoint(env(&[(vars::SOPS_GCP_KMS_UNIVERSE_DOMAIN, "s3nsapis.fr")])),
            "https://cloudkms.s3nsapis.fr"
        );
        assert_eq!(
            endpoint(env(&[
                (vars::SOPS_GCP_KMS_UNIVERSE_DOMAIN, "s3nsapis.fr"),
                (vars::SOPS_GCP_KMS_ENDPOINT, "http://127.0.0.1:9/"),
            ])),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            endpoint(env(&[(vars::SOPS_GCP_KMS_ENDPOINT, "kms.example:443")])),
            "https://kms.example:443"
        );
        assert_eq!(
            endpoint(env(&[(vars::SOPS_GCP_KMS_ENDPOINT, "")])),
            DEFAULT_ENDPOINT
        );
    }

    #[test]
    fn resource_ids_are_checked_like_sops() {
        let key = |id: &str| GcpKmsKey {
            resource_id: id.into(),
        };
        assert!(check_resource_id(&key("projects/p/locations/l/keyRings/r/cryptoKeys/k")).is_ok());
        for bad in [
            "projects/p/locations/l/keyRings/r/cryptoKeys/",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
            "project/p/locations/l/keyRings/r/cryptoKeys/k",
            "",
        ] {
            let err = check_resource_id(&key(bad)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("no valid resource ID found in {bad:?}")
            );
        }
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1
                .as_deref()
                .map(|l| l as &(dyn std::error::Error + 'static))
        }
    }

    #[test]
    fn error_chains_are_one_deduplicated_line() {
        let e = Layer(
            "cannot fetch\ntoken but future attempts may succeed",
            Some(Box::new(Layer(
                "token",
                Some(Box::new(Layer("dns error", None))),
            ))),
        );
        assert_eq!(error_chain(&e), "cannot fetch token: dns error");
    }

    #[test]
    fn server_errors_show_status_and_message() {
        let body = br#"{"error":{"code":403,"message":"Permission denied on key","status":"PERMISSION_DENIED"}}"#;
        assert_eq!(
            server_message(body),
            "PERMISSION_DENIED: Permission denied on key"
        );
        assert_eq!(server_message(b"  plain text\n"), "plain text");
        let long = "x".repeat(500);
        assert_eq!(server_message(long.as_bytes()).chars().count(), 201);
    }
}
