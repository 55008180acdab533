//! The client: key operations sent to a remote key service.

use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use thiserror::Error;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use zeroize::Zeroizing;

use super::{key_from_master_key, proto};
use crate::error::{KeyError, ServiceError, ServiceProblem};
use crate::kinds::MasterKey;
use crate::master_key::KeyService;
use crate::runtime;

/// How long connecting to a key service may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one key operation may take by default, end to end. A server
/// started with `--prompt` waits for its operator, so this is generous.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// A key service address: `tcp://host:port` (also `tcp4://`, `tcp6://`),
/// `unix:///absolute/path.sock` or `unix:relative.sock`, as sops accepts
/// them for `--keyservice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyServiceUrl {
    /// The URL as given.
    url: String,
    /// What tonic connects to (`http://host:port` or `unix:…`).
    endpoint: String,
}

/// A `--keyservice` value that is not a usable key service address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UrlError {
    /// No `scheme:` prefix.
    #[error("not a URL (expected tcp://host:port or unix:///path/to/socket)")]
    NotAUrl,
    /// A scheme that is not a stream network sops can dial.
    #[error("unsupported network {0:?} (expected tcp, tcp4, tcp6 or unix)")]
    UnsupportedNetwork(String),
    /// `tcp://` without `host:port`.
    #[error("missing host:port")]
    NoHostPort,
    /// `unix:` without a path, or `unix://host/…`.
    #[error("missing socket path (expected unix:///absolute/path or unix:relative/path)")]
    NoPath,
}

impl KeyServiceUrl {
    /// Parses a `--keyservice` value.
    pub fn parse(url: &str) -> Result<KeyServiceUrl, UrlError> {
        let (scheme, rest) = url.split_once(':').ok_or(UrlError::NotAUrl)?;
        let valid_scheme = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !valid_scheme {
            return Err(UrlError::NotAUrl);
        }
        let endpoint = match scheme.to_ascii_lowercase().as_str() {
            "unix" => {
                let path = match rest.strip_prefix("//") {
                    // unix:///abs: an empty authority, then the path.
                    Some(after) => after.strip_prefix('/').map(|_| after),
                    None => Some(rest),
                };
                match path {
                    Some(p) if !p.is_empty() => format!("unix:{p}"),
                    _ => return Err(UrlError::NoPath),
                }
            }
            "tcp" | "tcp4" | "tcp6" => {
                let host = rest.strip_prefix("//").ok_or(UrlError::NoHostPort)?;
                let host = host.split(['/', '?', '#']).next().unwrap_or_default();
                let has_port = host
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
                if !has_port {
                    return Err(UrlError::NoHostPort);
                }
                format!("http://{host}")
            }
            other => return Err(UrlError::UnsupportedNetwork(other.to_owned())),
        };
        Ok(KeyServiceUrl {
            url: url.to_owned(),
            endpoint,
        })
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

impl fmt::Display for KeyServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// A remote key service (`sops keyservice`, `rsops keyservice`): every
/// operation is one gRPC call, made on the shared runtime
/// ([`crate::runtime`]). The connection is made on the first call and
/// reused; nothing happens before.
pub struct RemoteKeyService {
    url: KeyServiceUrl,
    timeout: Duration,
    channel: Mutex<Option<Channel>>,
}

impl RemoteKeyService {
    /// A client for the service at `url`.
    pub fn new(url: KeyServiceUrl) -> RemoteKeyService {
        RemoteKeyService {
            url,
            timeout: DEFAULT_TIMEOUT,
            channel: Mutex::new(None),
        }
    }

    /// Sets how long one operation may take.
    pub fn with_timeout(mut self, timeout: Duration) -> RemoteKeyService {
        self.timeout = timeout;
        self
    }

    /// The service's URL.
    pub fn url(&self) -> &KeyServiceUrl {
        &self.url
    }

    async fn channel(&self) -> Result<Channel, ServiceProblem> {
        if let Some(channel) = self.lock().clone() {
            return Ok(channel);
        }
        let endpoint = Endpoint::from_shared(self.url.endpoint.clone())
            .map_err(|e| ServiceProblem::Connect(error_chain(&e)))?
            .connect_timeout(CONNECT_TIMEOUT);
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| ServiceProblem::Connect(error_chain(&e)))?;
        *self.lock() = Some(channel.clone());
        Ok(channel)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Channel>> {
        self.channel.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn unary<Req, Resp>(
        &self,
        path: &'static str,
        request: Req,
    ) -> Result<Resp, ServiceProblem>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let channel = self.channel().await?;
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready()
            .await
            .map_err(|e| ServiceProblem::Connect(error_chain(&e)))?;
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        grpc.unary(
            tonic::Request::new(request),
            PathAndQuery::from_static(path),
            codec,
        )
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| ServiceProblem::Status {
            code: format!("{:?}", status.code()),
            message: status.message().to_owned(),
        })
    }

    /// Runs `call` on the shared runtime within the time limit.
    fn run<T>(
        &self,
        key: &MasterKey,
        call: impl Future<Output = Result<T, ServiceProblem>>,
    ) -> Result<T, KeyError> {
        let timeout = self.timeout;
        let outcome = runtime::block_on(async move {
            match tokio::time::timeout(timeout, call).await {
                Ok(result) => result,
                Err(_) => Err(ServiceProblem::TimedOut(timeout.as_secs())),
            }
        })
        .unwrap_or_else(|e| Err(ServiceProblem::Runtime(e.to_string())));
        outcome.map_err(|problem| {
            KeyError::Service(ServiceError::new(
                self.url.as_str(),
                key.kind().identifier(),
                problem,
            ))
        })
    }
}

impl KeyService for RemoteKeyService {
    fn encrypt(&self, key: &MasterKey, plaintext: &[u8]) -> Result<String, KeyError> {
        let request = proto::EncryptRequest {
            key: Some(key_from_master_key(key)),
            plaintext: plaintext.to_vec(),
        };
        let response: proto::EncryptResponse =
            self.run(key, self.unary(proto::ENCRYPT_PATH, request))?;
        String::from_utf8(response.ciphertext).map_err(|_| {
            KeyError::Service(ServiceError::new(
                self.url.as_str(),
                key.kind().identifier(),
                ServiceProblem::NotText,
            ))
        })
    }

    fn decrypt(&self, key: &MasterKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let request = proto::DecryptRequest {
            key: Some(key_from_master_key(key)),
            ciphertext: enc.as_bytes().to_vec(),
        };
        let response: proto::DecryptResponse =
            self.run(key, self.unary(proto::DECRYPT_PATH, request))?;
        Ok(Zeroizing::new(response.plaintext))
    }
}

/// An error and its causes, `a: b: c`, without repeating a cause whose text
/// the previous one already contains.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_as_sops_accepts_them() {
        let ok = [
            ("tcp://127.0.0.1:5000", "http://127.0.0.1:5000"),
            ("tcp4://localhost:5000", "http://localhost:5000"),
            ("tcp6://[::1]:5000", "http://[::1]:5000"),
            ("TCP://h:1/", "http://h:1"),
            ("unix:///run/sops.sock", "unix:/run/sops.sock"),
            ("unix:rel/sops.sock", "unix:rel/sops.sock"),
        ];
        for (url, endpoint) in ok {
            let parsed = KeyServiceUrl::parse(url).unwrap();
            assert_eq!(parsed.endpoint, endpoint, "{url}");
            assert_eq!(parsed.to_string(), url);
        }
        let bad = [
            ("127.0.0.1:5000", UrlError::NotAUrl),
            ("localhost", UrlError::NotAUrl),
            ("http://h:1", UrlError::UnsupportedNetwork("http".into())),
            ("udp://h:1", UrlError::UnsupportedNetwork("udp".into())),
            ("tcp://h", UrlError::NoHostPort),
            ("tcp:h:1", UrlError::NoHostPort),
            ("tcp://:1", UrlError::NoHostPort),
            ("unix://", UrlError::NoPath),
            ("unix://host/x.sock", UrlError::NoPath),
            ("unix:", UrlError::NoPath),
        ];
        for (url, err) in bad {
            assert_eq!(KeyServiceUrl::parse(url), Err(err), "{url}");
        }
    }

    #[test]
    fn a_service_that_is_down_is_a_connect_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("unix://{}", dir.path().join("none.sock").display());
        let service = RemoteKeyService::new(KeyServiceUrl::parse(&url).unwrap());
        let e = service
            .decrypt(&MasterKey::age("age1x"), "enc")
            .unwrap_err();
        match &e {
            KeyError::Service(ServiceError {
                service,
                kind: "age",
                problem: ServiceProblem::Connect(why),
            }) => {
                assert_eq!(service, &url);
                assert!(why.contains("No such file"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(e
            .to_string()
            .starts_with(&format!("key service {url}: cannot connect: ")));
    }
}
