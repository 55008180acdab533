//! The Vault transit calls: `PUT /v1/<engine>/encrypt/<key>` and
//! `/decrypt/<key>`, configured from the environment the way the Vault API
//! client sops uses reads it.

use crate::error::error_chain;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use zeroize::Zeroizing;

use super::{vars, CallFailure, HcVaultKey, TokenSource, VaultError, VaultOp};
use crate::env::Env;
use crate::runtime;

/// Default bound on one call, retries included (the Vault client's).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default number of retries (the Vault client's).
const DEFAULT_MAX_RETRIES: u32 = 2;
/// The Vault client waits between 1 s and 1.5 s (times the attempt number)
/// before a retry.
const RETRY_WAIT_MIN: Duration = Duration::from_millis(1000);
const RETRY_WAIT_MAX: Duration = Duration::from_millis(1500);

/// Encrypts `plaintext` with the transit key; returns `vault:v1:…`.
pub(crate) fn encrypt(key: &HcVaultKey, plaintext: &[u8]) -> Result<String, VaultError> {
    let body = serde_json::json!({
        "plaintext": base64::engine::general_purpose::STANDARD.encode(plaintext),
    });
    let data = call(key, VaultOp::Encrypt, &body, &Env::process())?;
    match data.get("ciphertext") {
        Some(serde_json::Value::String(c)) => Ok(c.clone()),
        Some(_) => Err(data.fail("encrypted ciphertext cannot be cast to string")),
        None => Err(data.fail("no encrypted data")),
    }
}

/// Decrypts a `vault:v1:…` ciphertext with the transit key.
pub(crate) fn decrypt(key: &HcVaultKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let body = serde_json::json!({ "ciphertext": enc });
    let data = call(key, VaultOp::Decrypt, &body, &Env::process())?;
    let text = match data.get("plaintext") {
        Some(serde_json::Value::String(p)) => Zeroizing::new(p.clone()),
        Some(_) => return Err(data.fail("decrypted plaintext data cannot be cast to string")),
        None => return Err(data.fail("no decrypted data")),
    };
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| data.fail("cannot decode base64 plaintext into data key bytes"))
}

/// The `data` object of a successful answer, with what is needed to report
/// a malformed one.
struct Data {
    data: Option<serde_json::Map<String, serde_json::Value>>,
    op: VaultOp,
    path: String,
    url: String,
    token: TokenSource,
}

impl Data {
    fn get(&self, field: &str) -> Option<&serde_json::Value> {
        self.data.as_ref().and_then(|d| d.get(field))
    }

    fn fail(&self, what: &'static str) -> VaultError {
        let what = if self.data.is_none() {
            "transit backend is empty"
        } else {
            what
        };
        VaultError::Call {
            op: self.op,
            path: self.path.clone(),
            url: self.url.clone(),
            token: self.token.clone(),
            failure: CallFailure::BadResponse(what),
        }
    }
}

/// The client settings read from the environment.
pub(super) struct Settings {
    pub(super) base: String,
    token: Option<Zeroizing<String>>,
    pub(super) token_source: TokenSource,
    namespace: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Duration,
    max_retries: u32,
    disable_redirects: bool,
    client: reqwest::Client,
}

fn call(
    key: &HcVaultKey,
    op: VaultOp,
    body: &serde_json::Value,
    env: &Env,
) -> Result<Data, VaultError> {
    let settings = settings(key, env)?;
    let path = join_path(&[&key.engine_path, op.name(), &key.key_name]);
    let url = format!("{}/v1/{path}", settings.base.trim_end_matches('/'));
    let fail = |failure: CallFailure| VaultError::Call {
        op,
        path: path.clone(),
        url: url.clone(),
        token: settings.token_source.clone(),
        failure,
    };
    let body = Zeroizing::new(serde_json::to_vec(body).map_err(|_| {
        fail(CallFailure::BadResponse(
            "the request body cannot be encoded",
        ))
    })?);
    let outcome = runtime::block_on(send_with_retries(
        &settings,
        reqwest::Method::PUT,
        &url,
        Some(&body),
    ))
    .map_err(|e| fail(CallFailure::Transport(e.to_string())))?;
    let answer = outcome.map_err(fail)?;
    let data = match answer.get("data") {
        Some(serde_json::Value::Object(m)) => Some(m.clone()),
        _ => None,
    };
    Ok(Data {
        data,
        op,
        path: path.clone(),
        url: url.clone(),
        token: settings.token_source.clone(),
    })
}

/// Sends the request (with a JSON body, if any), retrying as the Vault
/// client does, within the timeout. An answer without a body is `null`.
pub(super) async fn send_with_retries(
    settings: &Settings,
    method: reqwest::Method,
    url: &str,
    body: Option<&[u8]>,
) -> Result<serde_json::Value, CallFailure> {
    let deadline = Instant::now() + settings.timeout;
    let attempts = async {
        let mut attempt = 0u32;
        loop {
            let result = send_once(settings, method.clone(), url, body).await;
            let retry = match &result {
                Err(Attempt::Connect(_)) => true,
                Err(Attempt::Status { status, .. }) => {
                    *status == 412 || *status == 429 || (*status >= 500 && *status != 501)
                }
                _ => false,
            };
            if !retry || attempt >= settings.max_retries {
                return result.map_err(|a| a.into_failure(settings.timeout));
            }
            attempt += 1;
            tokio::time::sleep(retry_wait(attempt)).await;
        }
    };
    match tokio::time::timeout_at(deadline.into(), attempts).await {
        Ok(r) => r,
        Err(_) => Err(CallFailure::Timeout(settings.timeout)),
    }
}

/// Linear back-off with jitter: `attempt × [1 s, 1.5 s)`.
fn retry_wait(attempt: u32) -> Duration {
    let spread = RETRY_WAIT_MAX - RETRY_WAIT_MIN;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = spread.mul_f64(f64::from(nanos % 1000) / 1000.0);
    (RETRY_WAIT_MIN + jitter) * attempt
}

/// One attempt's failure.
enum Attempt {
    Timeout,
    Connect(String),
    Other(String),
    Status {
        status: u16,
        message: Option<String>,
    },
    Body(&'static str),
}

impl Attempt {
    fn into_failure(self, timeout: Duration) -> CallFailure {
        match self {
            Attempt::Timeout => CallFailure::Timeout(timeout),
            Attempt::Connect(m) | Attempt::Other(m) => CallFailure::Transport(m),
            Attempt::Status { status, message } => CallFailure::Status { status, message },
            Attempt::Body(m) => CallFailure::BadResponse(m),
        }
    }
}

async fn send_once(
    settings: &Settings,
    method: reqwest::Method,
    url: &str,
    body: Option<&[u8]>,
) -> Result<serde_json::Value, Attempt> {
    let mut request = settings
        .client
        .request(method, url)
        .header("X-Vault-Request", "true");
    if let Some(body) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec());
    }
    for (name, value) in &settings.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(ns) = &settings.namespace {
        request = request.header("X-Vault-Namespace", ns.as_str());
    }
    if let Some(token) = &settings.token {
        request = request.header("X-Vault-Token", token.as_str());
    }
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            Attempt::Timeout
        } else if e.is_connect() {
            Attempt::Connect(error_chain(&e))
        } else {
            Attempt::Other(error_chain(&e))
        }
    })?;
    let status = response.status();
    let redirect = status.is_redirection();
    let bytes = response.bytes().await.map_err(|e| {
        if e.is_timeout() {
            Attempt::Timeout
        } else {
            Attempt::Other(error_chain(&e))
        }
    })?;
    if redirect && !settings.disable_redirects {
        // reqwest follows the one permitted redirect itself; a second one
        // ends here like in the Vault client.
        return Err(Attempt::Status {
            status: status.as_u16(),
            message: Some("too many redirects".into()),
        });
    }
    if !(200..400).contains(&status.as_u16()) {
        return Err(Attempt::Status {
            status: status.as_u16(),
            message: vault_error_text(&bytes),
        });
    }
    if bytes.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|_| Attempt::Body("the answer is not JSON"))
}

/// The `errors` of a Vault error answer, joined; else the raw body
/// (shortened).
fn vault_error_text(body: &[u8]) -> Option<String> {
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(serde_json::Value::Array(errors)) = m.get("errors") {
            let texts: Vec<&str> = errors.iter().filter_map(|e| e.as_str()).collect();
            return Some(texts.join("; "));
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    Some(short)
}

/// `path.Join` of non-empty segments.
fn join_path(parts: &[&str]) -> String {
    parts
        .iter()
        .flat_map(|p| p.split('/'))
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

fn settings(key: &HcVaultKey, env: &Env) -> Result<Settings, VaultError> {
    check_allowlist(&key.vault_address, env)?;
    let base = env
        .get(vars::VAULT_AGENT_ADDR)
        .unwrap_or_else(|| key.vault_address.clone());
    client_settings(base, env)
}

/// The client for the Vault at `base`, configured from the environment
/// (TLS, token, namespace, headers, retries, timeout, proxy).
pub(super) fn client_settings(base: String, env: &Env) -> Result<Settings, VaultError> {
    let setting = |variable: &'static str, reason: String| VaultError::Setting { variable, reason };
    if base.starts_with("unix://") {
        return Err(setting(
            vars::VAULT_AGENT_ADDR,
            "unix:// addresses are not supported by rsops".into(),
        ));
    }

    let max_retries = match env.get(vars::VAULT_MAX_RETRIES) {
        None => DEFAULT_MAX_RETRIES,
        Some(v) => v
            .parse::<u32>()
            .map_err(|e| setting(vars::VAULT_MAX_RETRIES, e.to_string()))?,
    };
    let timeout = match env.get(vars::VAULT_CLIENT_TIMEOUT) {
        None => DEFAULT_TIMEOUT,
        Some(v) => match parse_duration_second(&v) {
            Some(d) if !d.is_zero() => d,
            Some(_) => DEFAULT_TIMEOUT,
            None => {
                return Err(setting(
                    vars::VAULT_CLIENT_TIMEOUT,
                    format!("could not parse {v:?}"),
                ))
            }
        },
    };
    let skip_verify = go_bool(env, vars::VAULT_SKIP_VERIFY)?;
    let disable_redirects = go_bool(env, vars::VAULT_DISABLE_REDIRECTS)?;

    let mut builder = runtime::http_client_builder().timeout(timeout);
    builder = builder.redirect(if disable_redirects {
        reqwest::redirect::Policy::none()
    } else {
        reqwest::redirect::Policy::custom(|attempt| {
            let downgrade = attempt
                .previous()
                .last()
                .is_some_and(|prev| prev.scheme() == "https")
                && attempt.url().scheme() != "https";
            if downgrade {
                attempt.error("redirect would cause protocol downgrade")
            } else if attempt.previous().len() > 1 {
                attempt.stop()
            } else {
                attempt.follow()
            }
        })
    });

    // TLS, as the Vault client's `ConfigureTLS`.
    let client_cert = env.get(vars::VAULT_CLIENT_CERT);
    let client_key = env.get(vars::VAULT_CLIENT_KEY);
    match (&client_cert, &client_key) {
        (Some(cert), Some(key)) => {
            let mut pem = read_file(vars::VAULT_CLIENT_CERT, Path::new(cert))?;
            pem.push(b'\n');
            pem.extend_from_slice(&read_file(vars::VAULT_CLIENT_KEY, Path::new(key))?);
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|e| setting(vars::VAULT_CLIENT_CERT, error_chain(&e)))?;
            builder = builder.identity(identity);
        }
        (None, None) => {}
        _ => {
            return Err(setting(
                if client_cert.is_none() {
                    vars::VAULT_CLIENT_CERT
                } else {
                    vars::VAULT_CLIENT_KEY
                },
                "both client cert and client key must be provided".into(),
            ))
        }
    }
    if let Some(roots) = ca_roots(env)? {
        builder = builder.tls_certs_only(roots);
    }
    if skip_verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    let proxy = env
        .get(vars::VAULT_PROXY_ADDR)
        .map(|p| (vars::VAULT_PROXY_ADDR, p))
        .or_else(|| {
            env.get(vars::VAULT_HTTP_PROXY)
                .map(|p| (vars::VAULT_HTTP_PROXY, p))
        });
    if let Some((variable, proxy)) = proxy {
        let proxy = reqwest::Proxy::all(&proxy).map_err(|e| setting(variable, error_chain(&e)))?;
        builder = builder.proxy(proxy);
    }
    let client = builder
        .build()
        .map_err(|e| VaultError::Client(error_chain(&e)))?;

    let headers = match env.get(vars::VAULT_HEADERS) {
        None => Vec::new(),
        Some(json) => extra_headers(&json)?,
    };
    let (token, token_source) = token(env)?;
    Ok(Settings {
        base,
        token,
        token_source,
        namespace: env.get(vars::VAULT_NAMESPACE),
        headers,
        timeout,
        max_retries,
        disable_redirects,
        client,
    })
}

/// `VAULT_TOKEN`, else `~/.vault-token` (trimmed; a missing file is no
/// token).
fn token(env: &Env) -> Result<(Option<Zeroizing<String>>, TokenSource), VaultError> {
    if let Some(t) = env.get(vars::VAULT_TOKEN) {
        check_token(&t)?;
        return Ok((Some(Zeroizing::new(t)), TokenSource::Env));
    }
    let Some(home) = env.home() else {
        return Ok((None, TokenSource::None));
    };
    let path = home.join(".vault-token");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            let text = Zeroizing::new(String::from_utf8_lossy(&bytes).trim().to_owned());
            if text.is_empty() {
                return Ok((None, TokenSource::None));
            }
            check_token(&text)?;
            Ok((Some(text), TokenSource::File(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((None, TokenSource::None)),
        Err(source) => Err(VaultError::TokenFile { path, source }),
    }
}

/// The Vault client refuses tokens with non-printable characters.
fn check_token(token: &str) -> Result<(), VaultError> {
    if token.chars().any(|c| c.is_control()) {
        return Err(VaultError::Setting {
            variable: vars::VAULT_TOKEN,
            reason: "configured Vault token contains non-printable characters and cannot be used"
                .into(),
        });
    }
    Ok(())
}

/// The CA roots from `VAULT_CACERT`, `VAULT_CACERT_BYTES` or `VAULT_CAPATH`
/// (first set wins), which replace the system roots.
fn ca_roots(env: &Env) -> Result<Option<Vec<reqwest::Certificate>>, VaultError> {
    let parse = |variable: &'static str, pem: &[u8]| {
        let certs =
            reqwest::Certificate::from_pem_bundle(pem).map_err(|e| VaultError::Setting {
                variable,
                reason: error_chain(&e),
            })?;
        if certs.is_empty() {
            return Err(VaultError::Setting {
                variable,
                reason: "no PEM certificate found".into(),
            });
        }
        Ok(certs)
    };
    if let Some(file) = env.get(vars::VAULT_CACERT) {
        let pem = read_file(vars::VAULT_CACERT, Path::new(&file))?;
        return parse(vars::VAULT_CACERT, &pem).map(Some);
    }
    if let Some(text) = env.get(vars::VAULT_CACERT_BYTES) {
        return parse(vars::VAULT_CACERT_BYTES, text.as_bytes()).map(Some);
    }
    if let Some(dir) = env.get(vars::VAULT_CAPATH) {
        let mut all = Vec::new();
        let mut files = Vec::new();
        collect_files(Path::new(&dir), &mut files).map_err(|e| VaultError::Setting {
            variable: vars::VAULT_CAPATH,
            reason: format!("{dir}: {e}"),
        })?;
        files.sort();
        for f in files {
            let pem = read_file(vars::VAULT_CAPATH, &f)?;
            all.extend(parse(vars::VAULT_CAPATH, &pem)?);
        }
        if all.is_empty() {
            return Err(VaultError::Setting {
                variable: vars::VAULT_CAPATH,
                reason: format!("{dir}: no certificate files"),
            });
        }
        return Ok(Some(all));
    }
    Ok(None)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn read_file(variable: &'static str, path: &Path) -> Result<Vec<u8>, VaultError> {
    std::fs::read(path).map_err(|e| VaultError::Setting {
        variable,
        reason: format!("{}: {e}", path.display()),
    })
}

/// `VAULT_HEADERS`: a JSON object of strings; `X-Vault-*` names refused.
fn extra_headers(json: &str) -> Result<Vec<(String, String)>, VaultError> {
    let fail = |reason: &str| VaultError::Setting {
        variable: vars::VAULT_HEADERS,
        reason: reason.to_owned(),
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(json) else {
        return Err(fail("could not unmarshal environment-supplied headers"));
    };
    let mut out = Vec::new();
    let mut forbidden = Vec::new();
    for (name, value) in map {
        if name.starts_with("X-Vault-") {
            forbidden.push(name);
            continue;
        }
        let serde_json::Value::String(value) = value else {
            return Err(fail(
                "environment-supplied headers include non-string values",
            ));
        };
        out.push((name, value));
    }
    if !forbidden.is_empty() {
        return Err(fail(&format!(
            "failed to setup Headers[{}]: Header starting by 'X-Vault-' are for internal usage only",
            forbidden.join(", ")
        )));
    }
    Ok(out)
}

/// Go's `strconv.ParseBool` on a variable (unset = false).
fn go_bool(env: &Env, variable: &'static str) -> Result<bool, VaultError> {
    match env.get(variable).as_deref() {
        None => Ok(false),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
        Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
        Some(_) => Err(VaultError::Setting {
            variable,
            reason: format!("could not parse {variable}"),
        }),
    }
}

/// `parseutil.ParseDurationSecond`: a bare number is seconds; otherwise a Go
/// duration (`1m30s`, `500ms`, `2h`).
fn parse_duration_second(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let value: f64 = number.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += Duration::try_from_secs_f64(value * scale).ok()?;
        rest = tail;
    }
    Some(total)
}

/// sops 3.13's `SOPS_HC_VAULT_ALLOWLIST`.
fn check_allowlist(address: &str, env: &Env) -> Result<(), VaultError> {
    let raw = env
        .get(vars::SOPS_HC_VAULT_ALLOWLIST)
        .unwrap_or_else(|| "all".into());
    match raw.as_str() {
        "all" => return Ok(()),
        "none" => {
            return Err(VaultError::NotAllowed {
                address: address.to_owned(),
                allowlist: raw,
            })
        }
        _ => {}
    }
    let mut prefixes = Vec::new();
    for (i, entry) in raw.split(',').enumerate() {
        let entry = entry.trim_matches(' ');
        if entry.is_empty() {
            return Err(VaultError::AllowlistEntryEmpty { index: i + 1 });
        }
        prefixes.push(with_slash(entry));
    }
    let address_slash = with_slash(address);
    if prefixes
        .iter()
        .any(|p| address_slash.starts_with(p.as_str()))
    {
        Ok(())
    } else {
        Err(VaultError::NotAllowed {
            address: address.to_owned(),
            allowlist: raw,
        })
    }
}

fn with_slash(s: &str) -> String {
    if s.ends_with('/') {
        s.to_owned()
    } else {
        format!("{s}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(addr: &str) -> HcVaultKey {
        HcVaultKey {
            vault_address: addr.into(),
            engine_path: "sops/nested".into(),
            key_name: "k".into(),
        }
    }

    #[test]
    fn allowlist_follows_sops_3_13() {
        let env = |v: &str| Env::fixed(&[(vars::SOPS_HC_VAULT_ALLOWLIST, v)]);
        assert!(check_allowlist("https://v:8200", &Env::fixed(&[])).is_ok());
        assert!(check_allowlist("https://v:8200", &env("all")).is_ok());
        assert!(matches!(
            check_allowlist("https://v:8200", &env("none")),
            Err(VaultError::NotAllowed { .. })
        ));
        assert!(check_allowlist("https://v:8200", &env("https://x, https://v:8200")).is_ok());
        // A prefix is matched on whole segments: `https://v` does not allow
        // `https://v2`.
        assert!(check_allowlist("https://v2", &env("https://v")).is_err());
        assert!(check_allowlist("https://v", &env("https://v/")).is_ok());
        assert!(matches!(
            check_allowlist("https://v", &env("https://v,,x")),
            Err(VaultError::AllowlistEntryEmpty { index: 2 })
        ));
        let err = check_allowlist("https://v", &env("none")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Allowlist does not allow https://v (SOPS_HC_VAULT_ALLOWLIST is \"none\")"
        );
    }

    #[test]
    fn durations_parse_like_parseutil() {
        assert_eq!(parse_duration_second("5"), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_duration_second("1m30s"),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration_second("250ms"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_duration_second("1.5h"),
            Some(Duration::from_secs(5400))
        );
        assert_eq!(parse_duration_second("x"), None);
        assert_eq!(parse_duration_second("5 parsecs"), None);
    }

    #[test]
    fn token_comes_from_the_variable_then_the_home_file() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        let (t, src) = token(&Env::fixed(&[("HOME", h)])).unwrap();
        assert!(t.is_none());
        assert_eq!(src, TokenSource::None);
        std::fs::write(home.path().join(".vault-token"), "  from-file\n").unwrap();
        let (t, src) = token(&Env::fixed(&[("HOME", h)])).unwrap();
        assert_eq!(t.as_deref().map(String::as_str), Some("from-file"));
        assert_eq!(src, TokenSource::File(home.path().join(".vault-token")));
        let (t, src) = token(&Env::fixed(&[("HOME", h), (vars::VAULT_TOKEN, "env")])).unwrap();
        assert_eq!(t.as_deref().map(String::as_str), Some("env"));
        assert_eq!(src, TokenSource::Env);
        assert!(token(&Env::fixed(&[(vars::VAULT_TOKEN, "a\nb")])).is_err());
    }

    #[test]
    fn settings_reject_what_the_vault_client_rejects() {
        let k = key("http://127.0.0.1:1");
        for (vars, variable) in [
            (
                vec![(vars::VAULT_SKIP_VERIFY, "maybe")],
                vars::VAULT_SKIP_VERIFY,
            ),
            (
                vec![(vars::VAULT_MAX_RETRIES, "-1")],
                vars::VAULT_MAX_RETRIES,
            ),
            (
                vec![(vars::VAULT_CLIENT_TIMEOUT, "soon")],
                vars::VAULT_CLIENT_TIMEOUT,
            ),
            (
                vec![(vars::VAULT_CLIENT_CERT, "/c.pem")],
                vars::VAULT_CLIENT_KEY,
            ),
            (
                vec![(vars::VAULT_HEADERS, r#"{"X-Vault-Token":"x"}"#)],
                vars::VAULT_HEADERS,
            ),
            (
                vec![(vars::VAULT_HEADERS, r#"{"A":1}"#)],
                vars::VAULT_HEADERS,
            ),
            (
                vec![(vars::VAULT_CACERT, "/nonexistent/ca.pem")],
                vars::VAULT_CACERT,
            ),
        ] {
            match settings(&k, &Env::fixed(&vars)) {
                Err(VaultError::Setting { variable: v, .. }) => assert_eq!(v, variable),
                Err(other) => panic!("{vars:?}: unexpected {other}"),
                Ok(_) => panic!("{vars:?}: accepted"),
            }
        }
        let ok = settings(
            &k,
            &Env::fixed(&[
                (vars::VAULT_HEADERS, r#"{"X-Custom":"1"}"#),
                (vars::VAULT_CLIENT_TIMEOUT, "7"),
                (vars::VAULT_AGENT_ADDR, "http://127.0.0.1:2"),
                (vars::VAULT_NAMESPACE, "team"),
            ]),
        )
        .unwrap();
        assert_eq!(ok.headers, vec![("X-Custom".to_owned(), "1".to_owned())]);
        assert_eq!(ok.timeout, Duration::from_secs(7));
        assert_eq!(ok.base, "http://127.0.0.1:2");
        assert_eq!(ok.namespace.as_deref(), Some("team"));
    }

    #[test]
    fn error_text_prefers_the_vault_errors_list() {
        assert_eq!(
            vault_error_text(br#"{"errors":["permission denied"]}"#).as_deref(),
            Some("permission denied")
        );
        assert_eq!(vault_error_text(b"oops\n").as_deref(), Some("oops"));
        assert_eq!(vault_error_text(b""), None);
    }

    #[test]
    fn paths_join_like_go() {
        assert_eq!(
            join_path(&["sops/nested", "encrypt", "k"]),
            "sops/nested/encrypt/k"
        );
        assert_eq!(join_path(&["/a//b/", "decrypt", "k"]), "a/b/decrypt/k");
    }

    #[test]
    fn a_refused_connection_is_reported_with_the_url_and_token_source() {
        // Port 1 on loopback: nothing listens.
        let env = Env::fixed(&[
            (vars::VAULT_MAX_RETRIES, "0"),
            (vars::VAULT_TOKEN, "sekrit"),
        ]);
        let err = match call(
            &key("http://127.0.0.1:1"),
            VaultOp::Decrypt,
            &serde_json::json!({"ciphertext": "vault:v1:x"}),
            &env,
        ) {
            Err(e) => e,
            Ok(_) => panic!("nothing listens on port 1"),
        };
        let text = err.to_string();
        assert!(text.starts_with("failed to decrypt sops data key from Vault transit backend 'sops/nested/decrypt/k': "), "{text}");
        assert!(
            text.contains("http://127.0.0.1:1/v1/sops/nested/decrypt/k"),
            "{text}"
        );
        assert!(text.contains("token from VAULT_TOKEN"), "{text}");
        assert!(!text.contains("sekrit"), "{text}");
    }
}
