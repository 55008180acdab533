//! The Azure credential chain sops uses (`DefaultAzureCredential` of the Go
//! SDK), rebuilt from `azure_identity`'s credentials, in the same order:
//!
//! 1. environment: `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` +
//!    `AZURE_CLIENT_SECRET`, else `AZURE_CLIENT_CERTIFICATE_PATH` (a PEM
//!    certificate and RSA key, [`super::certificate`];
//!    `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`), else a username (reported as
//!    unsupported); tokens come from `AZURE_AUTHORITY_HOST` (default
//!    `https://login.microsoftonline.com`);
//! 2. workload identity: `AZURE_FEDERATED_TOKEN_FILE` + `AZURE_CLIENT_ID` +
//!    `AZURE_TENANT_ID`;
//! 3. managed identity: App Service (`IDENTITY_ENDPOINT` +
//!    `IDENTITY_HEADER`), else the instance metadata service (given one
//!    second to answer, as the Go chain's probe); `AZURE_CLIENT_ID` selects
//!    a user-assigned identity;
//! 4. Azure CLI (`az account get-access-token`);
//! 5. Azure Developer CLI (`azd auth token`).
//!
//! As in Go, a source that is not configured (or a tool that is not
//! logged in) passes to the next one; a configured environment, workload
//! or App Service credential whose token request fails ends the chain.
//! The tenant named by the vault's challenge is used when it is the
//! credential's own tenant, or when the credential has no tenant, or when
//! `AZURE_ADDITIONALLY_ALLOWED_TENANTS` lists it (or `*`).

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, Transport};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, AzureDeveloperCliCredential,
    AzureDeveloperCliCredentialOptions, ClientAssertionCredential,
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use zeroize::Zeroizing;

use super::certificate::CertificateAssertion;
use super::CredentialAttempt;
use crate::env as vars;
use crate::runtime;

/// How long the instance metadata service may take before the chain
/// moves on (the Go chain's probe timeout).
const IMDS_PROBE: Duration = Duration::from_secs(1);

/// How long any one credential may take.
const CREDENTIAL_TIMEOUT: Duration = Duration::from_secs(30);

/// What one source did.
enum Outcome {
    /// A token.
    Token(Zeroizing<String>),
    /// Not configured or not available: try the next source.
    Unavailable(String),
    /// Configured but failed: stop.
    Failed(String),
}

/// A token for `scope` (`<resource>/.default`), asking in `tenant` when the
/// challenge named one; else what every source said.
pub(crate) async fn token(
    scope: &str,
    tenant: Option<&str>,
) -> Result<Zeroizing<String>, Vec<CredentialAttempt>> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut attempts = Vec::new();
    let sources: [(&'static str, Source); 5] = [
        ("environment", Source::Environment),
        ("workload identity", Source::Workload),
        ("managed identity", Source::Managed),
        ("Azure CLI", Source::Cli),
        ("Azure Developer CLI", Source::DeveloperCli),
    ];
    for (name, source) in sources {
        let outcome = source.token(scope, tenant, &env).await;
        match outcome {
            Outcome::Token(t) => return Ok(t),
            Outcome::Unavailable(reason) => attempts.push(CredentialAttempt {
                credential: name,
                reason,
                stopped: false,
            }),
            Outcome::Failed(reason) => {
                attempts.push(CredentialAttempt {
                    credential: name,
                    reason,
                    stopped: true,
                });
                break;
            }
        }
    }
    Err(attempts)
}

#[derive(Debug, Clone, Copy)]
enum Source {
    Environment,
    Workload,
    Managed,
    Cli,
    DeveloperCli,
}

/// Client options: the shared HTTP client (proxies, `SSL_CERT_FILE`).
fn client_options() -> Result<ClientOptions, String> {
    let client = runtime::http_client_builder()
        .build()
        .map_err(|e| error_chain(&e))?;
    Ok(ClientOptions {
        transport: Some(Transport::new(Arc::new(client))),
        ..ClientOptions::default()
    })
}

impl Source {
    async fn token(
        self,
        scope: &str,
        tenant: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Outcome {
        let options = match client_options() {
            Ok(o) => o,
            Err(e) => return Outcome::Failed(e),
        };
        let allowed = env(vars::AZURE_ADDITIONALLY_ALLOWED_TENANTS).unwrap_or_default();
        let resolve = |default: Option<&str>, credential: &str| {
            resolve_tenant(default, tenant, &allowed, credential)
        };
        match self {
            Source::Environment => {
                let (Some(tenant_id), Some(client_id)) =
                    (env(vars::AZURE_TENANT_ID), env(vars::AZURE_CLIENT_ID))
                else {
                    return Outcome::Unavailable(format!(
                        "{} and {} are not both set",
                        vars::AZURE_TENANT_ID,
                        vars::AZURE_CLIENT_ID
                    ));
                };
                if let Some(secret) = env(vars::AZURE_CLIENT_SECRET) {
                    let tenant_id = match resolve(Some(&tenant_id), "ClientSecretCredential") {
                        Ok(t) => t.unwrap_or(tenant_id),
                        Err(e) => return Outcome::Failed(e),
                    };
                    let credential = ClientSecretCredential::new(
                        &tenant_id,
                        client_id,
                        Secret::new(secret),
                        Some(ClientSecretCredentialOptions {
                            client_options: options,
                        }),
                    );
                    return configured(credential, scope, CREDENTIAL_TIMEOUT).await;
                }
                if let Some(path) = env(vars::AZURE_CLIENT_CERTIFICATE_PATH) {
                    let tenant_id = match resolve(Some(&tenant_id), "ClientCertificateCredential") {
                        Ok(t) => t.unwrap_or(tenant_id),
                        Err(e) => return Outcome::Failed(e),
                    };
                    let send_chain = env(vars::AZURE_CLIENT_SEND_CERTIFICATE_CHAIN)
                        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
                    let audience = match token_endpoint(&tenant_id, &env) {
                        Ok(a) => a,
                        Err(e) => return Outcome::Unavailable(e),
                    };
                    let assertion = match CertificateAssertion::load(
                        std::path::Path::new(&path),
                        send_chain,
                        audience,
                        client_id.clone(),
                    ) {
                        Ok(a) => a,
                        // As in Go: a certificate that cannot be loaded
                        // leaves the environment credential unavailable.
                        Err(e) => return Outcome::Unavailable(e),
                    };
                    let credential = ClientAssertionCredential::new(
                        tenant_id,
                        client_id,
                        assertion,
                        Some(ClientAssertionCredentialOptions {
                            client_options: options,
                        }),
                    );
                    return configured(credential, scope, CREDENTIAL_TIMEOUT).await;
                }
                if env(vars::AZURE_USERNAME).is_some() {
                    return Outcome::Unavailable(format!(
                        "{} is set, but username/password authentication is not supported by rsops",
                        vars::AZURE_USERNAME
                    ));
                }
                Outcome::Unavailable(format!(
                    "neither {} nor {} is set",
                    vars::AZURE_CLIENT_SECRET,
                    vars::AZURE_CLIENT_CERTIFICATE_PATH
                ))
            }
            Source::Workload => {
                let (Some(file), Some(client_id), Some(tenant_id)) = (
                    env(vars::AZURE_FEDERATED_TOKEN_FILE),
                    env(vars::AZURE_CLIENT_ID),
                    env(vars::AZURE_TENANT_ID),
                ) else {
                    return Outcome::Unavailable(format!(
                        "{}, {} and {} are not all set",
                        vars::AZURE_FEDERATED_TOKEN_FILE,
                        vars::AZURE_CLIENT_ID,
                        vars::AZURE_TENANT_ID
                    ));
                };
                let tenant_id = match resolve(Some(&tenant_id), "WorkloadIdentityCredential") {
                    Ok(t) => t.unwrap_or(tenant_id),
                    Err(e) => return Outcome::Failed(e),
                };
                let credential =
                    WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                        credential_options: ClientAssertionCredentialOptions {
                            client_options: options,
                        },
                        client_id: Some(client_id),
                        tenant_id: Some(tenant_id),
                        token_file_path: Some(file.into()),
                    }));
                configured(credential, scope, CREDENTIAL_TIMEOUT).await
            }
            Source::Managed => {
                let app_service =
                    env(vars::IDENTITY_ENDPOINT).is_some() && env(vars::IDENTITY_HEADER).is_some();
                let credential =
                    ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                        user_assigned_id: env(vars::AZURE_CLIENT_ID).map(UserAssignedId::ClientId),
                        client_options: options,
                    }));
                if app_service {
                    configured(credential, scope, CREDENTIAL_TIMEOUT).await
                } else {
                    // The metadata service: unavailable unless it answers
                    // quickly.
                    match configured(credential, scope, IMDS_PROBE).await {
                        Outcome::Failed(reason) => Outcome::Unavailable(reason),
                        other => other,
                    }
                }
            }
            Source::Cli => {
                let tenant_id =
                    match resolve(env(vars::AZURE_TENANT_ID).as_deref(), "AzureCLICredential") {
                        Ok(t) => t.or_else(|| env(vars::AZURE_TENANT_ID)),
                        Err(e) => return Outcome::Failed(e),
                    };
                let credential = AzureCliCredential::new(Some(AzureCliCredentialOptions {
                    tenant_id,
                    ..AzureCliCredentialOptions::default()
                }));
                unavailable_on_error(credential, scope).await
            }
            Source::DeveloperCli => {
                let tenant_id = match resolve(
                    env(vars::AZURE_TENANT_ID).as_deref(),
                    "AzureDeveloperCLICredential",
                ) {
                    Ok(t) => t.or_else(|| env(vars::AZURE_TENANT_ID)),
                    Err(e) => return Outcome::Failed(e),
                };
                let credential =
                    AzureDeveloperCliCredential::new(Some(AzureDeveloperCliCredentialOptions {
                        tenant_id,
                        ..AzureDeveloperCliCredentialOptions::default()
                    }));
                unavailable_on_error(credential, scope).await
            }
        }
    }
}

/// The Entra token endpoint for `tenant`: `AZURE_AUTHORITY_HOST` (else the
/// public cloud's) + `/{tenant}/oauth2/v2.0/token`, as `azure_identity`
/// builds it.
fn token_endpoint(tenant: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let host = env(vars::AZURE_AUTHORITY_HOST)
        .unwrap_or_else(|| "https://login.microsoftonline.com".to_owned());
    let url = azure_core::http::Url::parse(&host)
        .map_err(|e| format!("{} is not a URL: {e}", vars::AZURE_AUTHORITY_HOST))?;
    url.join(&format!("/{tenant}/oauth2/v2.0/token"))
        .map(String::from)
        .map_err(|e| format!("no token endpoint for tenant {tenant:?}: {e}"))
}

/// A configured credential: its token, or `Failed`.
async fn configured<C: TokenCredential + ?Sized>(
    credential: azure_core::Result<Arc<C>>,
    scope: &str,
    limit: Duration,
) -> Outcome {
    let credential = match credential {
        Ok(c) => c,
        Err(e) => return Outcome::Unavailable(error_chain(&e)),
    };
    match tokio::time::timeout(limit, credential.get_token(&[scope], None)).await {
        Ok(Ok(token)) => Outcome::Token(Zeroizing::new(token.token.secret().to_owned())),
        Ok(Err(e)) => Outcome::Failed(error_chain(&e)),
        Err(_) => Outcome::Failed(format!("no token within {} ms", limit.as_millis())),
    }
}

/// A developer tool credential: any failure passes to the next source.
async fn unavailable_on_error<C: TokenCredential + ?Sized>(
    credential: azure_core::Result<Arc<C>>,
    scope: &str,
) -> Outcome {
    match configured(credential, scope, CREDENTIAL_TIMEOUT).await {
        Outcome::Failed(reason) => Outcome::Unavailable(reason),
        other => other,
    }
}

/// The Go SDK's tenant rule: `Ok(None)` keeps the credential's default
/// tenant; `Ok(Some(t))` asks in `t`; an error when the challenge's tenant
/// differs from a set default and is not additionally allowed.
fn resolve_tenant(
    default: Option<&str>,
    requested: Option<&str>,
    additionally_allowed: &str,
    credential: &str,
) -> Result<Option<String>, String> {
    let Some(requested) = requested.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let default = default.unwrap_or_default();
    if requested == default {
        return Ok(None);
    }
    let allowed: Vec<&str> = additionally_allowed
        .split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if allowed.iter().any(|t| *t == "*" || *t == requested)
        || (allowed.is_empty() && (default.is_empty() || default == "organizations"))
    {
        return Ok(Some(requested.to_owned()));
    }
    Err(format!(
        "{credential} isn't configured to acquire tokens for tenant {requested:?} (the vault's \
         tenant); add it to {} (or \"*\") to allow it",
        vars::AZURE_ADDITIONALLY_ALLOWED_TENANTS
    ))
}

/// An error and its causes, joined with `: `, on one line.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = one_line(&e.to_string());
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = one_line(&c.to_string());
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// `text` with its lines joined by spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_resolve_like_the_go_sdk() {
        assert_eq!(resolve_tenant(Some("a"), None, "", "C"), Ok(None));
        assert_eq!(resolve_tenant(Some("a"), Some("a"), "", "C"), Ok(None));
        assert_eq!(
            resolve_tenant(None, Some("b"), "", "C"),
            Ok(Some("b".into()))
        );
        assert_eq!(
            resolve_tenant(Some("a"), Some("b"), "x; b", "C"),
            Ok(Some("b".into()))
        );
        assert_eq!(
            resolve_tenant(Some("a"), Some("b"), "*", "C"),
            Ok(Some("b".into()))
        );
        let err = resolve_tenant(Some("a"), Some("b"), "", "AzureCLICredential").unwrap_err();
        assert!(
            err.starts_with(
                "AzureCLICredential isn't configured to acquire tokens for tenant \"b\""
            ),
            "{err}"
        );
    }
}
