//! The client: key operations sent to a remote key service.
//!
//! # Time limits
//!
//! Two limits bound every operation, so that a service that is down, is
//! not a key service, or hangs cannot stall a command:
//!
//! * the *connect* limit ([`DEFAULT_CONNECT_TIMEOUT`], 20 s, or
//!   `RSOPS_KEYSERVICE_CONNECT_TIMEOUT` seconds): connecting, and hearing
//!   the first bytes of the server's HTTP/2 preface, which a gRPC server
//!   sends at once. This is the limit sops inherits from grpc-go (its
//!   minimum connect timeout): against a port that accepts and never
//!   answers, sops 3.11 fails after 20 s with `error reading server
//!   preface`.
//! * the *operation* limit ([`DEFAULT_TIMEOUT`], 300 s, or
//!   `RSOPS_KEYSERVICE_TIMEOUT` seconds): one encrypt or decrypt, end to
//!   end, once the server has answered the preface. sops has none (it waits
//!   forever); a server started with `--prompt` waits for its operator, so
//!   this is generous.
//!
//! A service that could not be reached, did not answer in time or spoke
//! something else than gRPC is not asked again by the same
//! [`RemoteKeyService`]: later operations fail at once with the same
//! problem (a file with several keys waits once, not once per key).

use crate::error::error_chain;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::codegen::http::Uri;
use tonic::codegen::Service;
use tonic::transport::{Channel, Endpoint};
use zeroize::Zeroizing;

use super::{key_from_master_key, proto};
use crate::env;
use crate::error::{KeyError, ServiceError, ServiceProblem};
use crate::kinds::MasterKey;
use crate::master_key::KeyService;
use crate::runtime;

/// How long connecting to a key service and hearing its first bytes may
/// take by default (grpc-go's minimum connect timeout, which sops uses).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

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
    /// What is dialled (`http://host:port` or `unix:…`).
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
/// reused; nothing happens before. See the [module](self) for the time
/// limits.
///
/// It is a [`KeyService`], so it can be given to the core crate's
/// functions directly, or combined with the local service and other remote
/// ones in a [`KeyServices`](crate::KeyServices):
///
/// ```no_run
/// use rsops_keys::keyservice::{KeyServiceUrl, RemoteKeyService};
/// use rsops_keys::{KeyService, KeyServices, LocalKeyService, MasterKey};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let url = KeyServiceUrl::parse("unix:///run/user/1000/sops.sock")?;
/// let mut services = KeyServices::new();
/// // This process's own keys first, then the remote service, as sops
/// // orders them (leave the local one out to use only the remote keys).
/// services.push(rsops_keys::services::LOCAL_NAME, Box::new(LocalKeyService::from_env()));
/// services.push(url.as_str(), Box::new(RemoteKeyService::from_env(url.clone())));
///
/// let key = MasterKey::age("age1…");
/// let enc = services.encrypt(&key, &[0u8; 32])?;
/// let data_key = services.decrypt(&key, &enc)?;
/// assert_eq!(data_key.len(), 32);
/// # Ok(())
/// # }
/// ```
pub struct RemoteKeyService {
    url: KeyServiceUrl,
    timeout: Duration,
    connect_timeout: Duration,
    channel: Mutex<Option<Channel>>,
    /// Whether the service has sent anything yet (its HTTP/2 preface).
    heard: Arc<AtomicBool>,
    /// Why the service is not asked again, once it failed below gRPC.
    failed: Mutex<Option<ServiceProblem>>,
}

impl fmt::Debug for RemoteKeyService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKeyService")
            .field("url", &self.url.url)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

/// A number of seconds from `name` (decimals allowed); unset, empty, not a
/// positive number: `None`.
fn seconds_from_env(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
}

impl RemoteKeyService {
    /// A client for the service at `url`, with the default time limits.
    pub fn new(url: KeyServiceUrl) -> RemoteKeyService {
        RemoteKeyService {
            url,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            channel: Mutex::new(None),
            heard: Arc::new(AtomicBool::new(false)),
            failed: Mutex::new(None),
        }
    }

    /// A client for the service at `url`, with the time limits of
    /// `RSOPS_KEYSERVICE_TIMEOUT` and `RSOPS_KEYSERVICE_CONNECT_TIMEOUT`
    /// (seconds; a value that is not a positive number is ignored).
    pub fn from_env(url: KeyServiceUrl) -> RemoteKeyService {
        let mut service = RemoteKeyService::new(url);
        if let Some(t) = seconds_from_env(env::RSOPS_KEYSERVICE_TIMEOUT) {
            service.timeout = t;
        }
        if let Some(t) = seconds_from_env(env::RSOPS_KEYSERVICE_CONNECT_TIMEOUT) {
            service.connect_timeout = t;
        }
        service
    }

    /// Sets how long one operation may take.
    pub fn with_timeout(mut self, timeout: Duration) -> RemoteKeyService {
        self.timeout = timeout;
        self
    }

    /// Sets how long connecting and hearing the server's first bytes may
    /// take.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> RemoteKeyService {
        self.connect_timeout = timeout;
        self
    }

    /// The service's URL.
    pub fn url(&self) -> &KeyServiceUrl {
        &self.url
    }

    async fn channel(&self) -> Result<Channel, ServiceProblem> {
        if let Some(channel) = lock(&self.channel).clone() {
            return Ok(channel);
        }
        // The URI only names the :authority; the connector dials.
        let uri = match self.url.endpoint.strip_prefix("unix:") {
            Some(_) => "http://localhost".to_owned(),
            None => self.url.endpoint.clone(),
        };
        let endpoint = Endpoint::from_shared(uri)
            .map_err(|e| ServiceProblem::Connect(error_chain(&e)))?
            .connect_timeout(self.connect_timeout);
        let connector = Connector {
            endpoint: self.url.endpoint.clone(),
            heard: self.heard.clone(),
        };
        let channel = endpoint
            .connect_with_connector(connector)
            .await
            .map_err(|e| ServiceProblem::Connect(error_chain(&e)))?;
        *lock(&self.channel) = Some(channel.clone());
        Ok(channel)
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
        .map_err(problem_of_status)
    }

    /// Runs `call` on the shared runtime within the time limits; a failure
    /// below gRPC is remembered.
    fn run<T>(
        &self,
        key: &MasterKey,
        call: impl Future<Output = Result<T, ServiceProblem>>,
    ) -> Result<T, KeyError> {
        let error = |problem| {
            KeyError::Service(ServiceError::new(
                self.url.as_str(),
                key.kind().identifier(),
                problem,
            ))
        };
        if let Some(problem) = lock(&self.failed).clone() {
            return Err(error(problem));
        }
        let (timeout, connect_timeout) = (self.timeout, self.connect_timeout);
        let heard = self.heard.clone();
        let outcome = runtime::block_on(async move {
            // Fires when the service has sent nothing within the connect
            // limit; never once it has.
            let silent = async move {
                tokio::time::sleep(connect_timeout).await;
                if heard.load(Ordering::SeqCst) {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                result = tokio::time::timeout(timeout, call) => {
                    result.unwrap_or(Err(ServiceProblem::TimedOut(timeout)))
                }
                () = silent => Err(ServiceProblem::Silent(connect_timeout)),
            }
        })
        .unwrap_or_else(|e| Err(ServiceProblem::Runtime(e.to_string())));
        outcome.map_err(|problem| {
            if problem.is_unreachable() {
                *lock(&self.failed) = Some(problem.clone());
            }
            error(problem)
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The problem a failed call's status stands for: the server's own error,
/// or (a status made on this side, with a cause) a broken connection or an
/// answer that is not gRPC.
fn problem_of_status(status: tonic::Status) -> ServiceProblem {
    match std::error::Error::source(&status) {
        Some(cause) => ServiceProblem::Protocol(error_chain(cause)),
        None => ServiceProblem::Status {
            code: format!("{:?}", status.code()),
            message: status.message().to_owned(),
        },
    }
}

/// A byte stream to a key service.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Dials the service's TCP address or unix socket; the connections note
/// when the service first sends something.
#[derive(Clone)]
struct Connector {
    endpoint: String,
    heard: Arc<AtomicBool>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl Service<Uri> for Connector {
    type Response = TokioIo<Watched>;
    type Error = io::Error;
    type Future = BoxFuture<io::Result<TokioIo<Watched>>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let endpoint = self.endpoint.clone();
        let heard = self.heard.clone();
        Box::pin(async move {
            let inner: Box<dyn Io> = match endpoint.strip_prefix("unix:") {
                Some(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
                None => {
                    let addr = endpoint.trim_start_matches("http://");
                    let stream = tokio::net::TcpStream::connect(addr).await?;
                    stream.set_nodelay(true)?;
                    Box::new(stream)
                }
            };
            Ok(TokioIo::new(Watched { inner, heard }))
        })
    }
}

/// A connection that sets its flag once a byte has been read from it.
struct Watched {
    inner: Box<dyn Io>,
    heard: Arc<AtomicBool>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.heard.store(true, Ordering::SeqCst);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
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

    /// A TCP listener on loopback whose connections get `answer` (then are
    /// held open, or closed when `close`).
    fn fake_server(answer: &'static [u8], close: bool) -> String {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("tcp://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for mut stream in listener.incoming().map_while(Result::ok) {
                let _ = stream.write_all(answer);
                if !close {
                    held.push(stream);
                }
            }
        });
        url
    }

    fn problem(e: KeyError) -> ServiceProblem {
        match e {
            KeyError::Service(ServiceError { problem, .. }) => problem,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_silent_service_fails_after_the_connect_limit_and_is_not_asked_again() {
        let url = fake_server(b"", false);
        let limit = Duration::from_millis(300);
        let service =
            RemoteKeyService::new(KeyServiceUrl::parse(&url).unwrap()).with_connect_timeout(limit);
        let key = MasterKey::age("age1x");
        let started = std::time::Instant::now();
        let e = service.decrypt(&key, "enc").unwrap_err();
        let took = started.elapsed();
        assert!(took >= limit && took < Duration::from_secs(5), "{took:?}");
        assert!(
            e.to_string().starts_with(&format!(
                "key service {url}: connected, but the service sent nothing within 0.3 seconds"
            )),
            "{e}"
        );
        assert_eq!(problem(e), ServiceProblem::Silent(limit));
        // Remembered: the next key fails at once, with the same problem.
        let started = std::time::Instant::now();
        let e = service.encrypt(&key, b"k").unwrap_err();
        assert!(started.elapsed() < limit);
        assert_eq!(problem(e), ServiceProblem::Silent(limit));
    }

    #[test]
    fn garbage_and_http1_answers_are_protocol_errors() {
        for answer in [
            &b"\x00\x01\x02\xff\xfe random bytes \x17\x03\x03\x00\x10"[..],
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        ] {
            let url = fake_server(answer, true);
            let service = RemoteKeyService::new(KeyServiceUrl::parse(&url).unwrap());
            let started = std::time::Instant::now();
            let e = service
                .decrypt(&MasterKey::age("age1x"), "enc")
                .unwrap_err();
            assert!(started.elapsed() < Duration::from_secs(5));
            let text = e.to_string();
            match problem(e) {
                ServiceProblem::Protocol(_) | ServiceProblem::Connect(_) => {}
                other => panic!("{other:?}: {text}"),
            }
            assert!(text.starts_with(&format!("key service {url}: ")), "{text}");
        }
    }

    #[test]
    fn timeouts_come_from_the_environment_or_the_defaults() {
        let service = RemoteKeyService::new(KeyServiceUrl::parse("tcp://h:1").unwrap());
        assert_eq!(service.timeout, DEFAULT_TIMEOUT);
        assert_eq!(service.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(
            seconds_from_env("RSOPS_TEST_UNSET_VARIABLE_FOR_KEYSERVICE"),
            None
        );
        let service = service
            .with_timeout(Duration::from_secs(2))
            .with_connect_timeout(Duration::from_millis(1500));
        assert_eq!(
            ServiceProblem::TimedOut(service.timeout).to_string(),
            "no answer within 2 seconds (set RSOPS_KEYSERVICE_TIMEOUT to wait longer)"
        );
        assert!(ServiceProblem::Silent(service.connect_timeout)
            .to_string()
            .contains("within 1.5 seconds"));
    }
}
