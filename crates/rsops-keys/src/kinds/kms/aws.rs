//! AWS KMS calls: `kms:Encrypt` / `kms:Decrypt` with the official SDK, as
//! sops makes them.
//!
//! * The region is taken from the key's ARN (it overrides `AWS_REGION`).
//! * Credentials come from the SDK's default chain (environment, shared
//!   config and credentials files with profiles, `source_profile`/`role_arn`,
//!   SSO and `credential_process`, web identity, the ECS container endpoint,
//!   IMDS); a key's `aws_profile` selects the profile, over `AWS_PROFILE`.
//! * A key's `role` is assumed with `sts:AssumeRole` from those credentials,
//!   session name `sops@<host name>`.
//! * The encryption context is sent with both calls (KMS binds it to the
//!   ciphertext as additional authenticated data).
//! * Endpoints honour `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_KMS`,
//!   `AWS_ENDPOINT_URL_STS` and `endpoint_url` in the profile (the SDK
//!   resolves them); retries follow `AWS_MAX_ATTEMPTS` / `AWS_RETRY_MODE`
//!   (default: standard, 3 attempts).
//!
//! Every call runs on the shared runtime ([`crate::runtime::block_on`]),
//! which starts on the first AWS key used. Clients (one per region, profile
//! and role) and unwrapped data keys (one per key and `enc`) are kept for the
//! life of the process, so many files sharing a key make one client and
//! concurrent calls from several threads overlap.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kms::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_kms::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_kms::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use base64::Engine as _;
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use super::{KmsError, KmsFailure, KmsKey, KmsOperation};
use crate::env;
use crate::runtime;

/// sops's ARN pattern; the first group is the region. (`\w` is ASCII in
/// Go's regexp.)
static ARN: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^arn:aws[0-9A-Za-z_-]*:kms:(.+):[0-9]+:(key|alias)/.+$")
        .expect("valid pattern")
});

/// The longest STS role session name.
const SESSION_NAME_LIMIT: usize = 64;

/// How long one AWS call may take, retries included, unless
/// `RSOPS_AWS_TIMEOUT` says otherwise.
const DEFAULT_CALL_TIMEOUT: Duration = runtime::REQUEST_TIMEOUT;

/// The region named by a KMS key ARN, as sops finds it.
pub fn region_of(arn: &str) -> Option<&str> {
    ARN.captures(arn).and_then(|c| c.get(1)).map(|m| m.as_str())
}

/// The STS session name sops uses: `sops@` and the host name without the
/// characters outside `[a-zA-Z0-9=,.@-_]` (where `@-_` is the range
/// `@`..=`_`), cut to 64 bytes.
pub fn session_name(hostname: &str) -> String {
    let kept: String = hostname
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '=' | ',' | '.' | '@'..='_'))
        .collect();
    let mut name = format!("sops@{kept}");
    name.truncate(SESSION_NAME_LIMIT);
    name
}

fn hostname() -> String {
    #[cfg(unix)]
    {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
    #[cfg(not(unix))]
    {
        std::env::var("COMPUTERNAME").unwrap_or_default()
    }
}

/// The time limits of every AWS call: `RSOPS_AWS_TIMEOUT` seconds (default
/// 30) for a call with its retries, at most 10 s per attempt and for a
/// connection.
#[derive(Debug, Clone, Copy)]
struct Limits {
    call: Duration,
    attempt: Duration,
}

impl Limits {
    fn from_env() -> Limits {
        let call = std::env::var(env::RSOPS_AWS_TIMEOUT)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(DEFAULT_CALL_TIMEOUT, Duration::from_secs_f64);
        Limits {
            call,
            attempt: call.min(runtime::CONNECT_TIMEOUT),
        }
    }

    fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.attempt)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.call)
            .build()
    }
}

/// Which client a key needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Target {
    region: String,
    profile: String,
    role: String,
}

/// Why a client could not be made (before the KMS call).
#[derive(Debug, Clone)]
enum ClientError {
    Credentials(String),
    AssumeRole(KmsFailure),
}

type ClientSlot = Arc<OnceCell<Result<aws_sdk_kms::Client, ClientError>>>;
type UnwrapSlot = Arc<OnceCell<Result<Zeroizing<Vec<u8>>, KmsError>>>;

/// AWS KMS for the local key service: clients and unwrapped keys, made on
/// first use.
#[derive(Default)]
pub struct AwsKms {
    limits: std::sync::OnceLock<Limits>,
    clients: Mutex<HashMap<Target, ClientSlot>>,
    unwrapped: Mutex<HashMap<(KmsKey, String), UnwrapSlot>>,
}

impl std::fmt::Debug for AwsKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKms").finish_non_exhaustive()
    }
}

impl AwsKms {
    /// Nothing is read or started until a key is used.
    pub fn new() -> AwsKms {
        AwsKms::default()
    }

    fn limits(&self) -> Limits {
        *self.limits.get_or_init(Limits::from_env)
    }

    /// Wraps `plaintext` with `key`: base64 of the `CiphertextBlob`.
    pub fn encrypt(&self, key: &KmsKey, plaintext: &[u8]) -> Result<String, KmsError> {
        let op = KmsOperation::Encrypt;
        let target = self.target(key)?;
        let blob = Blob::new(plaintext.to_vec());
        let run = async {
            let client = self.client(&target, key, op).await?;
            let tracker = Tracker::default();
            let out = client
                .encrypt()
                .key_id(&key.arn)
                .plaintext(blob)
                .set_encryption_context(context_map(key))
                .customize()
                .interceptor(tracker.clone())
                .send()
                .await
                .map_err(|e| KmsError::Call {
                    arn: key.arn.clone(),
                    op,
                    reason: classify(&e, &tracker, self.limits()),
                })?;
            let blob = out.ciphertext_blob.ok_or_else(|| KmsError::Call {
                arn: key.arn.clone(),
                op,
                reason: KmsFailure::Other("the response has no CiphertextBlob".into()),
            })?;
            Ok(base64::engine::general_purpose::STANDARD.encode(blob.as_ref()))
        };
        runtime::block_on(run).map_err(|e| KmsError::Runtime {
            arn: key.arn.clone(),
            op,
            reason: e.to_string(),
        })?
    }

    /// Unwraps `enc` with `key`; each (key, `enc`) is asked once per
    /// process, concurrent requests for it wait for that one call.
    pub fn decrypt(&self, key: &KmsKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let op = KmsOperation::Decrypt;
        let slot = {
            let mut map = self
                .unwrapped
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry((key.clone(), enc.to_owned())).or_default())
        };
        let run = async {
            slot.get_or_init(|| self.decrypt_once(key, enc))
                .await
                .clone()
        };
        runtime::block_on(run).map_err(|e| KmsError::Runtime {
            arn: key.arn.clone(),
            op,
            reason: e.to_string(),
        })?
    }

    async fn decrypt_once(&self, key: &KmsKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let op = KmsOperation::Decrypt;
        let blob = base64::engine::general_purpose::STANDARD
            .decode(enc)
            .map_err(|_| KmsError::EncNotBase64 {
                arn: key.arn.clone(),
            })?;
        let target = self.target(key)?;
        let client = self.client(&target, key, op).await?;
        let tracker = Tracker::default();
        let out = client
            .decrypt()
            .key_id(&key.arn)
            .ciphertext_blob(Blob::new(blob))
            .set_encryption_context(context_map(key))
            .customize()
            .interceptor(tracker.clone())
            .send()
            .await
            .map_err(|e| KmsError::Call {
                arn: key.arn.clone(),
                op,
                reason: classify(&e, &tracker, self.limits()),
            })?;
        match out.plaintext {
            Some(p) => Ok(Zeroizing::new(p.into_inner())),
            None => Err(KmsError::Call {
                arn: key.arn.clone(),
                op,
                reason: KmsFailure::Other("the response has no Plaintext".into()),
            }),
        }
    }

    fn target(&self, key: &KmsKey) -> Result<Target, KmsError> {
        let region = region_of(&key.arn).ok_or_else(|| KmsError::InvalidArn {
            arn: key.arn.clone(),
        })?;
        Ok(Target {
            region: region.to_owned(),
            profile: key.aws_profile.clone(),
            role: key.role.clone(),
        })
    }

    /// The client for `target`, made once (credentials resolved, role
    /// assumed) and shared.
    async fn client(
        &self,
        target: &Target,
        key: &KmsKey,
        op: KmsOperation,
    ) -> Result<aws_sdk_kms::Client, KmsError> {
        let slot = {
            let mut map = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry(target.clone()).or_default())
        };
        let made = slot
            .get_or_init(|| make_client(target.clone(), self.limits()))
            .await;
        match made {
            Ok(client) => Ok(client.clone()),
            Err(ClientError::Credentials(detail)) => Err(KmsError::Credentials {
                arn: key.arn.clone(),
                op,
                profile: target.profile.clone(),
                detail: detail.clone(),
            }),
            Err(ClientError::AssumeRole(reason)) => Err(KmsError::AssumeRole {
                arn: key.arn.clone(),
                op,
                role: target.role.clone(),
                reason: reason.clone(),
            }),
        }
    }
}

/// The context as the SDK wants it; none when empty (the same request as
/// sops's empty map).
fn context_map(key: &KmsKey) -> Option<HashMap<String, String>> {
    if key.context.is_empty() {
        None
    } else {
        Some(key.context.iter().cloned().collect())
    }
}

/// Loads the shared configuration for the target's region and profile,
/// resolves its credentials (so that a failure says which sources were
/// tried) and assumes the role, if any, with them.
async fn make_client(target: Target, limits: Limits) -> Result<aws_sdk_kms::Client, ClientError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(target.region.clone()))
        .timeout_config(limits.timeout_config());
    if !target.profile.is_empty() {
        loader = loader.profile_name(&target.profile);
    }
    let config = loader.load().await;
    let credentials = resolve_credentials(&config, limits).await?;
    let credentials = if target.role.is_empty() {
        credentials
    } else {
        assume_role(&config, credentials, &target.role, limits).await?
    };
    let kms = aws_sdk_kms::config::Builder::from(&config)
        .credentials_provider(credentials)
        .build();
    Ok(aws_sdk_kms::Client::from_conf(kms))
}

async fn resolve_credentials(
    config: &SdkConfig,
    limits: Limits,
) -> Result<aws_sdk_kms::config::Credentials, ClientError> {
    use aws_sdk_kms::config::ProvideCredentials as _;
    let Some(provider) = config.credentials_provider() else {
        return Err(ClientError::Credentials(
            "no credential provider is configured".into(),
        ));
    };
    match tokio::time::timeout(limits.call, provider.provide_credentials()).await {
        Ok(Ok(credentials)) => Ok(credentials),
        Ok(Err(e)) => Err(ClientError::Credentials(credential_sources(&e))),
        Err(_) => Err(ClientError::Credentials(format!(
            "the credential sources did not answer within {} s",
            limits.call.as_secs()
        ))),
    }
}

/// `sts:AssumeRole` with the base credentials, as sops does: the role's
/// temporary credentials become the KMS client's static credentials.
async fn assume_role(
    config: &SdkConfig,
    base: aws_sdk_kms::config::Credentials,
    role: &str,
    limits: Limits,
) -> Result<aws_sdk_kms::config::Credentials, ClientError> {
    let sts = aws_sdk_sts::config::Builder::from(config)
        .credentials_provider(base)
        .build();
    let tracker = Tracker::default();
    let out = aws_sdk_sts::Client::from_conf(sts)
        .assume_role()
        .role_arn(role)
        .role_session_name(session_name(&hostname()))
        .customize()
        .interceptor(tracker.clone())
        .send()
        .await
        .map_err(|e| ClientError::AssumeRole(classify(&e, &tracker, limits)))?;
    let c = out.credentials.ok_or_else(|| {
        ClientError::AssumeRole(KmsFailure::Other(
            "the AssumeRole response has no credentials".into(),
        ))
    })?;
    Ok(aws_sdk_kms::config::Credentials::new(
        c.access_key_id,
        c.secret_access_key,
        Some(c.session_token),
        std::time::SystemTime::try_from(c.expiration).ok(),
        "AssumeRole",
    ))
}

/// Counts the requests of one operation and notes the endpoint they went
/// to (scheme, host and port only).
#[derive(Debug, Default, Clone)]
struct Tracker(Arc<TrackerState>);

#[derive(Debug, Default)]
struct TrackerState {
    attempts: AtomicU32,
    endpoint: Mutex<Option<String>>,
}

impl Tracker {
    fn attempts(&self) -> u32 {
        self.0.attempts.load(Ordering::Relaxed)
    }

    fn endpoint(&self) -> String {
        self.0
            .endpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| "the AWS endpoint".to_owned())
    }
}

impl Intercept for Tracker {
    fn name(&self) -> &'static str {
        "rsops-attempt-tracker"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.attempts.fetch_add(1, Ordering::Relaxed);
        let uri = context.request().uri();
        let origin = match uri.find("://") {
            Some(i) => {
                let rest = &uri[i + 3..];
                let end = rest.find(['/', '?']).unwrap_or(rest.len());
                &uri[..i + 3 + end]
            }
            None => uri,
        };
        *self
            .0
            .endpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(origin.to_owned());
        Ok(())
    }
}

/// The few words that say why a call failed.
fn classify<E, R>(e: &SdkError<E, R>, tracker: &Tracker, limits: Limits) -> KmsFailure
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: std::fmt::Debug + HttpStatus + 'static,
{
    let attempts = tracker.attempts().max(1);
    match e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let code = err.code().unwrap_or_default().to_owned();
            let message = err.message().unwrap_or_default().to_owned();
            let status = service.raw().status_code();
            by_code(code, message, status, attempts)
        }
        SdkError::ResponseError(response) => {
            let status = response.raw().status_code();
            if status >= 500 {
                KmsFailure::ServerError {
                    attempts,
                    status,
                    code: String::new(),
                    message: String::new(),
                }
            } else {
                KmsFailure::Other(format!(
                    "unexpected response (HTTP {status}): {}",
                    error_chain(e)
                ))
            }
        }
        SdkError::TimeoutError(_) => KmsFailure::TimedOut {
            endpoint: tracker.endpoint(),
            attempts,
            seconds: limits.call.as_secs(),
        },
        SdkError::DispatchFailure(failure) if failure.is_timeout() => KmsFailure::TimedOut {
            endpoint: tracker.endpoint(),
            attempts,
            seconds: limits.attempt.as_secs(),
        },
        SdkError::DispatchFailure(_) => {
            let detail = error_chain(e);
            let detail = detail.strip_prefix("dispatch failure: ").unwrap_or(&detail);
            let detail = detail.strip_prefix("io error: ").unwrap_or(detail);
            KmsFailure::Unreachable {
                endpoint: tracker.endpoint(),
                attempts,
                detail: detail.to_owned(),
            }
        }
        _ => KmsFailure::Other(error_chain(e)),
    }
}

fn by_code(code: String, message: String, status: u16, attempts: u32) -> KmsFailure {
    match code.as_str() {
        "AccessDeniedException" | "AccessDenied" => KmsFailure::AccessDenied { code, message },
        "NotFoundException" | "NoSuchEntity" => KmsFailure::NotFound { code, message },
        "InvalidCiphertextException" | "IncorrectKeyException" => {
            KmsFailure::InvalidCiphertext { code, message }
        }
        "DisabledException"
        | "KMSInvalidStateException"
        | "InvalidKeyUsageException"
        | "KeyUnavailableException" => KmsFailure::KeyUnusable { code, message },
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredTokenException"
        | "ExpiredToken"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature" => KmsFailure::BadCredentials { code, message },
        "ThrottlingException"
        | "Throttling"
        | "ThrottledException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException" => KmsFailure::Throttled {
            attempts,
            code,
            message,
        },
        _ if status >= 500 => KmsFailure::ServerError {
            attempts,
            status,
            code,
            message,
        },
        _ => KmsFailure::Service {
            status,
            code,
            message,
        },
    }
}

/// The HTTP status of a raw response.
trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_sdk_kms::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Why no credentials were found: each source of the chain and what it
/// said, one line each (`- Environment (…): environment variable not set`),
/// or, when a configured source failed and ended the chain, that error.
fn credential_sources(e: &(dyn StdError + 'static)) -> String {
    use aws_config::meta::ProviderChainError;
    use aws_credential_types::provider::error::CredentialsError;
    let mut next: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(chain) = err.downcast_ref::<ProviderChainError<CredentialsError>>() {
            let attempts: Vec<String> = chain
                .attempts()
                .iter()
                .map(|a| {
                    let why = error_chain(a.error());
                    let why = why
                        .strip_prefix("the credential provider was not enabled: ")
                        .unwrap_or(&why);
                    let why = if why == "the credential provider was not enabled" {
                        "not configured"
                    } else {
                        why
                    };
                    format!("\n    - {}: {why}", source_name(a.name()))
                })
                .collect();
            return format!("sources tried:{}", attempts.concat());
        }
        next = err.source();
    }
    format!(
        "the chain (environment, profile files, web identity, container endpoint, IMDS) \
         stopped at a source that failed: {}",
        error_chain(e)
    )
}

/// What the SDK's chain calls a source, with the settings it reads.
fn source_name(name: &str) -> String {
    let what = match name {
        "Environment" => "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY",
        "Profile" => "~/.aws/config, ~/.aws/credentials, AWS_PROFILE",
        "WebIdentityToken" => "AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN",
        "EcsContainer" => "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI",
        "Ec2InstanceMetadata" => "IMDS",
        _ => return name.to_owned(),
    };
    format!("{name} ({what})")
}

/// An error and its causes, `a: b: c`, on one line, without repeating a
/// cause its parent already shows.
fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = next {
        let text = err.to_string().replace("\n  ", "; ").replace('\n', "; ");
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_comes_from_the_arn_as_sops_matches_it() {
        assert_eq!(
            region_of("arn:aws:kms:eu-west-3:123456789012:key/1234"),
            Some("eu-west-3")
        );
        assert_eq!(
            region_of("arn:aws-us-gov:kms:us-gov-west-1:1:alias/a"),
            Some("us-gov-west-1")
        );
        assert_eq!(
            region_of("arn:aws-cn:kms:cn-north-1:1:key/x"),
            Some("cn-north-1")
        );
        for bad in [
            "arn:aws:foo",
            "arn:aws:kms:us-east-1:acct:key/x",
            "arn:aws:kms:us-east-1:1:secret/x",
            "arn:aws:kms:us-east-1:1:key/",
            "arn:awsé:kms:r:1:key/x",
            "",
        ] {
            assert_eq!(region_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn session_name_keeps_sops_characters_and_64_bytes() {
        assert_eq!(session_name("host-1.example.com"), "sops@host1.example.com");
        // `@-_` is a range in sops's pattern: `[`, `\`, `]`, `^` survive.
        assert_eq!(
            session_name("a[b]c^d\\e f+g_h=i,j"),
            "sops@a[b]c^d\\efg_h=i,j"
        );
        assert_eq!(session_name("héllo"), "sops@hllo");
        let long = "x".repeat(100);
        assert_eq!(session_name(&long).len(), 64);
        assert_eq!(session_name(""), "sops@");
    }

    #[test]
    fn service_error_codes_are_sorted_into_kinds() {
        let f = |code: &str, status| by_code(code.into(), "m".into(), status, 3);
        assert!(matches!(
            f("AccessDeniedException", 400),
            KmsFailure::AccessDenied { .. }
        ));
        assert!(matches!(
            f("NotFoundException", 400),
            KmsFailure::NotFound { .. }
        ));
        assert!(matches!(
            f("InvalidCiphertextException", 400),
            KmsFailure::InvalidCiphertext { .. }
        ));
        assert!(matches!(
            f("DisabledException", 400),
            KmsFailure::KeyUnusable { .. }
        ));
        assert!(matches!(
            f("UnrecognizedClientException", 400),
            KmsFailure::BadCredentials { .. }
        ));
        assert!(matches!(
            f("ThrottlingException", 400),
            KmsFailure::Throttled { attempts: 3, .. }
        ));
        assert!(matches!(
            f("KMSInternalException", 500),
            KmsFailure::ServerError { status: 500, .. }
        ));
        assert!(matches!(
            f("ValidationException", 400),
            KmsFailure::Service { status: 400, .. }
        ));
        assert_eq!(
            f("AccessDeniedException", 400).to_string(),
            "access denied (AccessDeniedException: m)"
        );
    }

    #[test]
    fn an_invalid_arn_fails_before_any_call() {
        let kms = AwsKms::new();
        let key = KmsKey {
            arn: "arn:aws:foo".into(),
            role: String::new(),
            context: Vec::new(),
            aws_profile: String::new(),
        };
        let e = kms.encrypt(&key, &[0; 32]).unwrap_err();
        assert_eq!(
            e,
            KmsError::InvalidArn {
                arn: "arn:aws:foo".into()
            }
        );
        assert_eq!(e.to_string(), "no valid ARN found in 'arn:aws:foo'");
        let e = kms.decrypt(&key, "AAAA").unwrap_err();
        assert_eq!(e.to_string(), "no valid ARN found in 'arn:aws:foo'");
        let e = kms.decrypt(&key, "not base64!").unwrap_err();
        assert!(matches!(e, KmsError::EncNotBase64 { .. }), "{e}");
    }
}
