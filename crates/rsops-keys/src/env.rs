//! Every environment variable rsops reads, in one place, except the key
//! kinds' key-list variables (`SOPS_AGE_RECIPIENTS`, `SOPS_PGP_FP`, ...),
//! which each kind's module declares ([`crate::kind::CliSpec::env`]).
//!
//! The names and meanings are sops's; rsops reads no variable
//! that is not listed here.

/// Path of the `.sops.yaml` to use (same as `--config`).
pub const SOPS_CONFIG: &str = "SOPS_CONFIG";
/// age identities, as text.
pub const SOPS_AGE_KEY: &str = "SOPS_AGE_KEY";
/// Path of an age identities file.
pub const SOPS_AGE_KEY_FILE: &str = "SOPS_AGE_KEY_FILE";
/// Command whose standard output is age identities.
pub const SOPS_AGE_KEY_CMD: &str = "SOPS_AGE_KEY_CMD";
/// Path of an OpenSSH private key used as an age identity.
pub const SOPS_AGE_SSH_PRIVATE_KEY_FILE: &str = "SOPS_AGE_SSH_PRIVATE_KEY_FILE";
/// Command whose standard output is an OpenSSH private key (sops 3.12+).
pub const SOPS_AGE_SSH_PRIVATE_KEY_CMD: &str = "SOPS_AGE_SSH_PRIVATE_KEY_CMD";
/// Set for `SOPS_AGE_KEY_CMD` and `SOPS_AGE_SSH_PRIVATE_KEY_CMD`: the
/// recipient being decrypted (sops 3.12+).
pub const SOPS_AGE_RECIPIENT: &str = "SOPS_AGE_RECIPIENT";
/// The pinentry program that asks for the passphrase of a
/// passphrase-protected age identity file (else `pinentry` from `PATH`, or
/// the terminal).
pub const PINENTRY_PROGRAM: &str = "PINENTRY_PROGRAM";
/// The gpg binary to use as a fallback.
pub const SOPS_GPG_EXEC: &str = "SOPS_GPG_EXEC";
/// GnuPG home directory.
pub const GNUPGHOME: &str = "GNUPGHOME";
/// Order in which key types are tried when decrypting.
pub const SOPS_DECRYPTION_ORDER: &str = "SOPS_DECRYPTION_ORDER";
/// Remote key services.
pub const SOPS_KEYSERVICE: &str = "SOPS_KEYSERVICE";
/// Whether the in-process key service is used.
pub const SOPS_ENABLE_LOCAL_KEYSERVICE: &str = "SOPS_ENABLE_LOCAL_KEYSERVICE";
/// `--version` never checks for updates in rsops; accepted for compatibility.
pub const SOPS_DISABLE_VERSION_CHECK: &str = "SOPS_DISABLE_VERSION_CHECK";
/// The editor for `edit` (before `EDITOR`).
pub const SOPS_EDITOR: &str = "SOPS_EDITOR";
/// The editor for `edit` when `SOPS_EDITOR` is unset.
pub const EDITOR: &str = "EDITOR";
/// Base of the user configuration directory (age default key file).
pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
/// The user's home directory.
pub const HOME: &str = "HOME";
/// Windows: the roaming application data directory (age default key file).
pub const APPDATA: &str = "APPDATA";
/// rsops extension (sops issue #242): when `1`/`true`/`yes`/`on`, `.sops.yaml`
/// is searched from the processed file's directory upwards instead of from
/// the current directory. Unset (the default) keeps sops's behaviour.
pub const RSOPS_CONFIG_FROM_FILE_DIR: &str = "RSOPS_CONFIG_FROM_FILE_DIR";

// GCP Cloud KMS.
/// Service-account (or other) credentials JSON for GCP KMS, or the path of
/// a file holding it.
pub const GOOGLE_CREDENTIALS: &str = "GOOGLE_CREDENTIALS";
/// Path of an Application Default Credentials file (read by
/// google-cloud-auth; rsops checks only whether it is set).
pub const GOOGLE_APPLICATION_CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// A static OAuth 2.0 access token for GCP KMS.
pub const GOOGLE_OAUTH_ACCESS_TOKEN: &str = "GOOGLE_OAUTH_ACCESS_TOKEN";
/// GCP KMS endpoint (a URL, or `host[:port]` meaning https) (sops 3.13).
pub const SOPS_GCP_KMS_ENDPOINT: &str = "SOPS_GCP_KMS_ENDPOINT";
/// GCP universe domain: the endpoint becomes `cloudkms.<domain>` (sops 3.13).
pub const SOPS_GCP_KMS_UNIVERSE_DOMAIN: &str = "SOPS_GCP_KMS_UNIVERSE_DOMAIN";
/// `grpc` or `rest` in sops; rsops always uses REST (same messages).
pub const SOPS_GCP_KMS_CLIENT_TYPE: &str = "SOPS_GCP_KMS_CLIENT_TYPE";
/// `publish` to GCS: the host (or URL) of a storage emulator; uploads go
/// there without credentials (the Go storage client's variable).
pub const STORAGE_EMULATOR_HOST: &str = "STORAGE_EMULATOR_HOST";

// Azure Key Vault (read by the credential chain; azure_identity reads the
// same names for the credentials it builds).
/// Tenant of the service principal / workload identity.
pub const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
/// Client (application) ID; also the user-assigned managed identity.
pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
/// Client secret of the service principal.
pub const AZURE_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
/// Client certificate of the service principal: a PEM file with the
/// certificate (chain) and its unencrypted RSA private key.
pub const AZURE_CLIENT_CERTIFICATE_PATH: &str = "AZURE_CLIENT_CERTIFICATE_PATH";
/// Password of a PKCS#12 client certificate (PKCS#12 is not supported by
/// rsops: the error says so).
pub const AZURE_CLIENT_CERTIFICATE_PASSWORD: &str = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
/// `1`/`true`: the client assertion carries the certificate chain (`x5c`,
/// subject name / issuer authentication).
pub const AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: &str = "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN";
/// Microsoft Entra authority (default `https://login.microsoftonline.com`).
pub const AZURE_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
/// Username of the deprecated username/password flow (not supported).
pub const AZURE_USERNAME: &str = "AZURE_USERNAME";
/// Federated token file of a workload identity.
pub const AZURE_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
/// Tenants besides `AZURE_TENANT_ID` a credential may get tokens for
/// (`;`-separated, `*` for any).
pub const AZURE_ADDITIONALLY_ALLOWED_TENANTS: &str = "AZURE_ADDITIONALLY_ALLOWED_TENANTS";
/// App Service managed identity endpoint.
pub const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
/// App Service managed identity secret header.
pub const IDENTITY_HEADER: &str = "IDENTITY_HEADER";
/// Tests only: the first retry delay of Azure and GCP key calls, in
/// milliseconds (the other bounds scale with it).
pub const RSOPS_TEST_RETRY_BASE_MS: &str = "RSOPS_TEST_RETRY_BASE_MS";
/// rsops extension: the longest time, in seconds, one AWS KMS or STS call
/// may take with its retries (default 30; each attempt at most 10).
pub const RSOPS_AWS_TIMEOUT: &str = "RSOPS_AWS_TIMEOUT";
/// rsops extension: the longest time, in seconds, one operation of a
/// remote key service (`--keyservice`) may take once the service answered
/// (default 300; sops waits forever).
pub const RSOPS_KEYSERVICE_TIMEOUT: &str = "RSOPS_KEYSERVICE_TIMEOUT";
/// rsops extension: the longest time, in seconds, connecting to a remote
/// key service and hearing its first bytes may take (default 20, the limit
/// sops inherits from grpc-go).
pub const RSOPS_KEYSERVICE_CONNECT_TIMEOUT: &str = "RSOPS_KEYSERVICE_CONNECT_TIMEOUT";

/// The process environment, or a fixed map (tests): how the HTTP key kinds
/// read their variables, so that their settings can be tested without
/// touching the process environment.
#[cfg(any(feature = "vault", feature = "hckms"))]
pub(crate) struct Env {
    vars: Option<std::collections::HashMap<String, String>>,
}

#[cfg(any(feature = "vault", feature = "hckms"))]
impl Env {
    /// The process environment.
    pub(crate) fn process() -> Env {
        Env { vars: None }
    }

    /// A fixed set of variables (and nothing else).
    #[cfg(test)]
    pub(crate) fn fixed(pairs: &[(&str, &str)]) -> Env {
        Env {
            vars: Some(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
        }
    }

    /// A variable's value; unset and empty are the same (as in the Go
    /// clients sops uses).
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        let value = match &self.vars {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|v| !v.is_empty())
    }

    /// The home directory: `HOME`, else the system's idea of it (not for a
    /// fixed map).
    pub(crate) fn home(&self) -> Option<std::path::PathBuf> {
        self.get(HOME)
            .map(std::path::PathBuf::from)
            .or_else(|| self.vars.is_none().then(std::env::home_dir).flatten())
    }
}
