//! HuaweiCloud KMS `encrypt-data` / `decrypt-data`, signed with
//! SDK-HMAC-SHA256, with credentials and endpoints found where the
//! HuaweiCloud SDK sops uses finds them.

use crate::error::error_chain;
use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{vars, CallFailure, HckmsError, HckmsKey, HckmsSpecError};
use crate::env::Env;
use crate::runtime;

/// The signing scheme's name.
const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// The User-Agent sent (and signed).
const USER_AGENT: &str = concat!("rsops/", env!("CARGO_PKG_VERSION"), " huaweicloud-kms");

/// Encrypts `plaintext` with the key; returns the `cipher_text`.
pub(crate) fn encrypt(key: &HckmsKey, plaintext: &[u8]) -> Result<String, HckmsError> {
    let (_, uuid) = split(key)?;
    let body = serde_json::json!({
        "key_id": uuid,
        "plain_text": base64::engine::general_purpose::STANDARD.encode(plaintext),
        "encryption_algorithm": "SYMMETRIC_DEFAULT",
    });
    let answer = call(key, true, &body, &Env::process())?;
    match answer.value.get("cipher_text") {
        Some(serde_json::Value::String(c)) => Ok(c.clone()),
        _ => Err(answer.fail("encryption response missing ciphertext")),
    }
}

/// Decrypts a `cipher_text` with the key.
pub(crate) fn decrypt(key: &HckmsKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, HckmsError> {
    let (_, uuid) = split(key)?;
    let body = serde_json::json!({
        "cipher_text": enc,
        "encryption_algorithm": "SYMMETRIC_DEFAULT",
        "key_id": uuid,
    });
    let answer = call(key, false, &body, &Env::process())?;
    let text = match answer.value.get("plain_text") {
        Some(serde_json::Value::String(p)) => Zeroizing::new(p.clone()),
        _ => return Err(answer.fail("decryption response missing plaintext")),
    };
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| answer.fail("failed to base64 decode decrypted data key"))
}

/// Region and key UUID, as sops splits them (trimmed).
fn split(key: &HckmsKey) -> Result<(&str, &str), HckmsError> {
    let id = key.key_id.trim();
    let Some((region, uuid)) = id.split_once(':') else {
        return Err(HckmsError::KeyId(HckmsSpecError::Format(id.to_owned())));
    };
    let (region, uuid) = (region.trim(), uuid.trim());
    if region.is_empty() {
        return Err(HckmsError::KeyId(HckmsSpecError::EmptyRegion(
            id.to_owned(),
        )));
    }
    if uuid.is_empty() {
        return Err(HckmsError::KeyId(HckmsSpecError::EmptyUuid(id.to_owned())));
    }
    Ok((region, uuid))
}

/// An access key pair with its project, and where it came from.
struct Credentials {
    ak: String,
    sk: Zeroizing<String>,
    security_token: Option<Zeroizing<String>>,
    project_id: Option<String>,
    source: String,
}

/// The SDK's basic credential chain: environment, then the credentials
/// file (`[basic]` section). ECS metadata and federated (IdP) credentials
/// are not supported.
fn credentials(env: &Env) -> Result<Credentials, HckmsError> {
    let mut tried = Vec::new();
    if env.get(vars::HUAWEICLOUD_SDK_IDP_ID).is_some()
        && env.get(vars::HUAWEICLOUD_SDK_ID_TOKEN_FILE).is_some()
    {
        return Err(HckmsError::Federated {
            source_name: "the environment".into(),
        });
    }
    match (
        env.get(vars::HUAWEICLOUD_SDK_AK),
        env.get(vars::HUAWEICLOUD_SDK_SK),
    ) {
        (Some(ak), Some(sk)) => {
            return Ok(Credentials {
                ak,
                sk: Zeroizing::new(sk),
                security_token: env
                    .get(vars::HUAWEICLOUD_SDK_SECURITY_TOKEN)
                    .map(Zeroizing::new),
                project_id: env.get(vars::HUAWEICLOUD_SDK_PROJECT_ID),
                source: format!(
                    "environment ({}, {})",
                    vars::HUAWEICLOUD_SDK_AK,
                    vars::HUAWEICLOUD_SDK_SK
                ),
            })
        }
        _ => tried.push(format!(
            "environment: {} and {} are not both set",
            vars::HUAWEICLOUD_SDK_AK,
            vars::HUAWEICLOUD_SDK_SK
        )),
    }
    let path = env
        .get(vars::HUAWEICLOUD_SDK_CREDENTIALS_FILE)
        .map(PathBuf::from)
        .or_else(|| {
            env.home()
                .map(|h| h.join(".huaweicloud").join("credentials"))
        });
    if let Some(path) = path {
        match std::fs::read(&path) {
            Ok(bytes) => {
                let text = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
                let section = ini_section(&text, "basic");
                let get = |k: &str| section.get(k).filter(|v| !v.is_empty()).cloned();
                let shown = path.display().to_string();
                if get("idp_id").is_some() && get("id_token_file").is_some() {
                    return Err(HckmsError::Federated { source_name: shown });
                }
                match (get("ak"), get("sk")) {
                    (Some(ak), Some(sk)) => {
                        return Ok(Credentials {
                            ak,
                            sk: Zeroizing::new(sk),
                            security_token: get("security_token").map(Zeroizing::new),
                            project_id: get("project_id"),
                            source: format!("{shown} [basic]"),
                        })
                    }
                    _ => tried.push(format!("{shown}: no ak and sk in [basic]")),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tried.push(format!("{}: not found", path.display()));
            }
            Err(source) => return Err(HckmsError::CredentialsFile { path, source }),
        }
    }
    tried.push("ECS metadata: not supported by rsops".into());
    Err(HckmsError::NoCredentials { tried })
}

/// The `key = value` pairs of one `[section]` of an INI text.
fn ini_section(text: &str, wanted: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_owned();
            continue;
        }
        if current != wanted {
            continue;
        }
        if let Some((k, v)) = line.split_once(['=', ':']) {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            out.insert(k.trim().to_owned(), v.to_owned());
        }
    }
    out
}

/// The KMS endpoints of a region: `HUAWEICLOUD_SDK_REGION_KMS_<REGION>`
/// (comma-separated), else the SDK's table.
fn endpoints(region: &str, env: &Env) -> Result<Vec<String>, HckmsError> {
    let variable = format!(
        "{}{}",
        vars::HUAWEICLOUD_SDK_REGION_KMS_PREFIX,
        region.to_uppercase().replace('-', "_")
    );
    if let Some(list) = env.get(&variable) {
        let list: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if !list.is_empty() {
            return Ok(list);
        }
    }
    match static_endpoint(region) {
        Some(url) => Ok(vec![url]),
        None => Err(HckmsError::UnknownRegion {
            region: region.to_owned(),
            variable,
        }),
    }
}

/// The KMS regions the SDK (v0.1.187, the one in sops 3.11) knows.
fn static_endpoint(region: &str) -> Option<String> {
    const REGIONS: &[&str] = &[
        "ae-ad-1",
        "af-north-1",
        "af-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "cn-east-2",
        "cn-east-3",
        "cn-east-4",
        "cn-east-5",
        "cn-north-1",
        "cn-north-11",
        "cn-north-12",
        "cn-north-2",
        "cn-north-4",
        "cn-north-9",
        "cn-south-1",
        "cn-south-2",
        "cn-south-4",
        "cn-southwest-2",
        "cn-southwest-3",
        "eu-west-101",
        "la-north-2",
        "la-south-2",
        "me-east-1",
        "my-kualalumpur-1",
        "na-mexico-1",
        "ru-moscow-1",
        "sa-brazil-1",
        "tr-west-1",
    ];
    if !REGIONS.contains(&region) {
        return None;
    }
    let domain = match region {
        "eu-west-101" => "myhuaweicloud.eu",
        _ => "myhuaweicloud.com",
    };
    Some(format!("https://kms.{region}.{domain}"))
}

/// A successful answer and what is needed to report a malformed one.
struct Answer {
    value: serde_json::Value,
    encrypt: bool,
    url: String,
    credentials: String,
}

impl Answer {
    fn fail(&self, what: &'static str) -> HckmsError {
        HckmsError::Call {
            encrypt: self.encrypt,
            url: self.url.clone(),
            credentials: self.credentials.clone(),
            failure: CallFailure::BadResponse(what),
        }
    }
}

fn call(
    key: &HckmsKey,
    encrypt: bool,
    body: &serde_json::Value,
    env: &Env,
) -> Result<Answer, HckmsError> {
    let (region, _) = split(key)?;
    let creds = credentials(env)?;
    let Some(project) = creds.project_id.clone() else {
        return Err(HckmsError::NoProject {
            region: region.to_owned(),
            credentials: creds.source.clone(),
        });
    };
    let endpoints = endpoints(region, env)?;
    let client = runtime::http_client_builder()
        .build()
        .map_err(|e| HckmsError::Client(error_chain(&e)))?;
    let path = format!(
        "/v1.0/{project}/kms/{}",
        if encrypt {
            "encrypt-data"
        } else {
            "decrypt-data"
        }
    );
    let body = Zeroizing::new(serde_json::to_vec(body).unwrap_or_default());
    let mut last = None;
    for endpoint in &endpoints {
        let url = format!("{}{path}", endpoint.trim_end_matches('/'));
        let fail = |failure| HckmsError::Call {
            encrypt,
            url: url.clone(),
            credentials: creds.source.clone(),
            failure,
        };
        let signed = sign(&creds, &project, &path, &body, &now_sdk_date());
        let outcome = runtime::block_on(send(&client, &url, signed, &body))
            .map_err(|e| fail(CallFailure::Transport(e.to_string())))?;
        match outcome {
            Ok(value) => {
                return Ok(Answer {
                    value,
                    encrypt,
                    url,
                    credentials: creds.source.clone(),
                })
            }
            // The SDK moves on to the next endpoint when one cannot be
            // reached.
            Err((failure, true)) => last = Some(fail(failure)),
            Err((failure, false)) => return Err(fail(failure)),
        }
    }
    Err(last.unwrap_or_else(|| HckmsError::UnknownRegion {
        region: region.to_owned(),
        variable: vars::HUAWEICLOUD_SDK_REGION_KMS_PREFIX.to_owned(),
    }))
}

/// The headers of a signed request.
struct Signed {
    headers: Vec<(&'static str, String)>,
    authorization: String,
}

/// Signs a POST of `body` to `path` (SDK-HMAC-SHA256 as in the HuaweiCloud
/// SDKs: every header the SDK sets is signed, Host is not).
fn sign(creds: &Credentials, project: &str, path: &str, body: &[u8], date: &str) -> Signed {
    let mut headers: Vec<(&'static str, String)> = vec![
        ("user-agent", USER_AGENT.to_owned()),
        ("x-project-id", project.to_owned()),
        ("x-sdk-date", date.to_owned()),
    ];
    if let Some(token) = &creds.security_token {
        headers.push(("x-security-token", token.as_str().to_owned()));
    }
    headers.sort_by(|a, b| a.0.cmp(b.0));
    let signed_names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    let canonical_headers: String = headers
        .iter()
        .map(|(n, v)| format!("{n}:{}\n", v.trim()))
        .collect();
    let canonical = format!(
        "POST\n{}\n\n{canonical_headers}\n{}\n{}",
        canonical_uri(path),
        signed_names.join(";"),
        hex::encode(Sha256::digest(body)),
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{date}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let signature = match Hmac::<Sha256>::new_from_slice(creds.sk.as_bytes()) {
        Ok(mut mac) => {
            mac.update(string_to_sign.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC accepts keys of any length.
        Err(_) => String::new(),
    };
    Signed {
        authorization: format!(
            "{ALGORITHM} Access={}, SignedHeaders={}, Signature={signature}",
            creds.ak,
            signed_names.join(";")
        ),
        headers,
    }
}

/// Each path segment percent-encoded (unreserved characters kept), with a
/// trailing `/`.
fn canonical_uri(path: &str) -> String {
    let mut out: String = path
        .split('/')
        .map(|seg| {
            seg.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'~' | b'.') {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/");
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// `YYYYMMDDTHHMMSSZ`, now, UTC.
fn now_sdk_date() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Sends the request; on failure, also says whether the next endpoint may
/// be tried (connection failures).
async fn send(
    client: &reqwest::Client,
    url: &str,
    signed: Signed,
    body: &[u8],
) -> Result<serde_json::Value, (CallFailure, bool)> {
    let mut request = client
        .post(url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/json;charset=UTF-8",
        )
        .header(reqwest::header::AUTHORIZATION, signed.authorization)
        .body(body.to_vec());
    for (name, value) in signed.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            (CallFailure::Timeout(runtime::REQUEST_TIMEOUT), false)
        } else {
            (CallFailure::Transport(error_chain(&e)), e.is_connect())
        }
    })?;
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response.bytes().await.map_err(|e| {
        if e.is_timeout() {
            (CallFailure::Timeout(runtime::REQUEST_TIMEOUT), false)
        } else {
            (CallFailure::Transport(error_chain(&e)), false)
        }
    })?;
    if status >= 400 {
        return Err((
            CallFailure::Status {
                status,
                message: error_text(&bytes, request_id.as_deref()),
            },
            false,
        ));
    }
    serde_json::from_slice(&bytes)
        .map_err(|_| (CallFailure::BadResponse("the answer is not JSON"), false))
}

/// `error_code: error_msg (request id …)` of a HuaweiCloud error answer
/// (top level or under `error`), else the raw body (shortened).
fn error_text(body: &[u8], request_id: Option<&str>) -> Option<String> {
    let suffix = request_id
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default();
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(body) {
        let inner = match m.get("error") {
            Some(serde_json::Value::Object(e)) => e,
            _ => &m,
        };
        let field = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| inner.get(*n).and_then(|v| v.as_str()))
                .map(str::to_owned)
        };
        let code = field(&["error_code", "code"]);
        let msg = field(&["error_msg", "error_message", "message"]);
        if code.is_some() || msg.is_some() {
            let text = match (code, msg) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(x), None) | (None, Some(x)) => x,
                (None, None) => String::new(),
            };
            return Some(format!("{text}{suffix}"));
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return request_id.map(|id| format!("request id {id}"));
    }
    let short: String = text.chars().take(300).collect();
    Some(format!("{short}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(token: Option<&str>) -> Credentials {
        Credentials {
            ak: "AKEXAMPLE".into(),
            sk: Zeroizing::new("sk-example".into()),
            security_token: token.map(|t| Zeroizing::new(t.to_owned())),
            project_id: Some("p1".into()),
            source: "test".into(),
        }
    }

    #[test]
    fn signature_covers_the_sdk_headers() {
        let s = sign(
            &creds(None),
            "p1",
            "/v1.0/p1/kms/encrypt-data",
            b"{}",
            "20261206T120000Z",
        );
        let names: Vec<&str> = s.headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["user-agent", "x-project-id", "x-sdk-date"]);
        assert!(s
            .authorization
            .starts_with("SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=user-agent;x-project-id;x-sdk-date, Signature="));
        // Independent computation of the same signature.
        let canonical = format!(
            "POST\n/v1.0/p1/kms/encrypt-data/\n\nuser-agent:{USER_AGENT}\nx-project-id:p1\nx-sdk-date:20261206T120000Z\n\nuser-agent;x-project-id;x-sdk-date\n{}",
            hex::encode(Sha256::digest(b"{}"))
        );
        let sts = format!(
            "SDK-HMAC-SHA256\n20261206T120000Z\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(b"sk-example").unwrap();
        mac.update(sts.as_bytes());
        let want = hex::encode(mac.finalize().into_bytes());
        assert!(s.authorization.ends_with(&format!("Signature={want}")));
        // Temporary credentials sign their token too.
        let t = sign(&creds(Some("tok")), "p1", "/x", b"", "20261206T120000Z");
        assert!(t
            .authorization
            .contains("SignedHeaders=user-agent;x-project-id;x-sdk-date;x-security-token,"));
        assert!(!t.authorization.contains("tok,") && !t.authorization.contains("sk-example"));
    }

    #[test]
    fn canonical_uri_escapes_segments() {
        assert_eq!(canonical_uri("/v1.0/p 1/kms/x"), "/v1.0/p%201/kms/x/");
        assert_eq!(canonical_uri("/"), "/");
    }

    #[test]
    fn endpoints_come_from_the_region_variable_then_the_table() {
        let env = Env::fixed(&[(
            "HUAWEICLOUD_SDK_REGION_KMS_TR_WEST_1",
            "http://127.0.0.1:1, http://127.0.0.1:2",
        )]);
        assert_eq!(
            endpoints("tr-west-1", &env).unwrap(),
            ["http://127.0.0.1:1", "http://127.0.0.1:2"]
        );
        assert_eq!(
            endpoints("cn-north-4", &Env::fixed(&[])).unwrap(),
            ["https://kms.cn-north-4.myhuaweicloud.com"]
        );
        assert_eq!(
            endpoints("eu-west-101", &Env::fixed(&[])).unwrap(),
            ["https://kms.eu-west-101.myhuaweicloud.eu"]
        );
        let err = endpoints("xx-nowhere-9", &Env::fixed(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid region \"xx-nowhere-9\": no KMS endpoint known; set HUAWEICLOUD_SDK_REGION_KMS_XX_NOWHERE_9 to its URL"
        );
    }

    #[test]
    fn credentials_follow_the_basic_chain() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        let env = Env::fixed(&[
            ("HOME", h),
            (vars::HUAWEICLOUD_SDK_AK, "A"),
            (vars::HUAWEICLOUD_SDK_SK, "S"),
            (vars::HUAWEICLOUD_SDK_PROJECT_ID, "P"),
        ]);
        let c = credentials(&env).unwrap();
        assert_eq!((c.ak.as_str(), c.sk.as_str()), ("A", "S"));
        assert_eq!(c.project_id.as_deref(), Some("P"));

        let err = credentials(&Env::fixed(&[("HOME", h)])).err().unwrap();
        let text = err.to_string();
        assert!(
            text.contains("HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK are not both set"),
            "{text}"
        );
        assert!(
            text.contains(".huaweicloud/credentials: not found"),
            "{text}"
        );

        std::fs::create_dir_all(home.path().join(".huaweicloud")).unwrap();
        std::fs::write(
            home.path().join(".huaweicloud/credentials"),
            "[global]\nak = G\n\n[basic]\nak = FA\nsk = FS\nproject_id = FP\n",
        )
        .unwrap();
        let c = credentials(&Env::fixed(&[("HOME", h)])).unwrap();
        assert_eq!((c.ak.as_str(), c.sk.as_str()), ("FA", "FS"));
        assert_eq!(c.project_id.as_deref(), Some("FP"));
        assert!(c.source.ends_with("credentials [basic]"), "{}", c.source);

        let fed = credentials(&Env::fixed(&[
            (vars::HUAWEICLOUD_SDK_IDP_ID, "idp"),
            (vars::HUAWEICLOUD_SDK_ID_TOKEN_FILE, "/t"),
        ]));
        assert!(matches!(fed, Err(HckmsError::Federated { .. })));
    }

    #[test]
    fn error_text_reads_huaweicloud_errors() {
        assert_eq!(
            error_text(
                br#"{"error":{"error_code":"KMS.0303","error_msg":"denied"}}"#,
                Some("r1")
            )
            .as_deref(),
            Some("KMS.0303: denied (request id r1)")
        );
        assert_eq!(
            error_text(
                br#"{"error_code":"APIGW.0301","error_msg":"bad sig"}"#,
                None
            )
            .as_deref(),
            Some("APIGW.0301: bad sig")
        );
        assert_eq!(error_text(b"", None), None);
    }
}
