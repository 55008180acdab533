//! The server: answers key service requests with a local [`KeyService`]
//! (`rsops keyservice`), as sops's `keyservice.Server` does.
//!
//! Every request is performed with the server's own keys and environment.
//! A request without a key is refused with `NotFound` "Must provide a key";
//! a failing key operation returns its error as `Unknown` with the error's
//! text; with a prompt, the operator is asked after the operation and a `n`
//! answer returns `PermissionDenied` "Request rejected by user".

use std::convert::Infallible;
use std::future::Future;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use thiserror::Error;
use tonic::codegen::http;
use tonic::codegen::Service;
use tonic::{Request, Response, Status};

use super::{master_key_from_key, proto};
use crate::kinds::MasterKey;
use crate::master_key::KeyService;

/// How long the server waits for open connections after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Asks the operator whether to answer a request (`--prompt`).
pub trait Prompt: Send + Sync {
    /// `request` is `encrypt` or `decrypt`; `key` describes the key as
    /// sops's prompt does. `Ok(true)` answers the request; an error fails it
    /// with that text.
    fn confirm(&self, request: &str, key: &str) -> Result<bool, String>;
}

/// sops's prompt: `Received … request using …. Respond to request? (y/n): `
/// on standard output, the answer read from standard input (asked again
/// until it is `y` or `n`; end of input fails the request).
#[derive(Debug, Default)]
pub struct StdioPrompt;

impl Prompt for StdioPrompt {
    fn confirm(&self, request: &str, key: &str) -> Result<bool, String> {
        let stdin = io::stdin();
        let mut line = String::new();
        loop {
            print!("\nReceived {request} request using {key}. Respond to request? (y/n): ");
            io::stdout().flush().map_err(|e| e.to_string())?;
            line.clear();
            match stdin.lock().read_line(&mut line) {
                Ok(0) => return Err("EOF".into()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
            match line.trim() {
                "y" => return Ok(true),
                "n" => return Ok(false),
                _ => {}
            }
        }
    }
}

/// How sops's prompt names a key.
pub fn describe_key(key: &MasterKey) -> String {
    match key {
        MasterKey::Pgp(k) => format!("PGP key with fingerprint {}", k.fingerprint),
        MasterKey::Kms(k) => format!("AWS KMS key with ARN {}", k.arn),
        MasterKey::GcpKms(k) => format!("GCP KMS key with resource ID {}", k.resource_id),
        MasterKey::AzureKv(k) => format!(
            "Azure Key Vault key with URL {}/keys/{}/{}",
            k.vault_url, k.name, k.version
        ),
        MasterKey::HcVault(k) => format!(
            "Hashicorp Vault key with URI {}/v1/{}/keys/{}",
            k.vault_address, k.engine_path, k.key_name
        ),
        MasterKey::Hckms(k) => format!("HuaweiCloud KMS key with ID {}", k.key_id),
        MasterKey::Age(k) => format!("age key with recipient {}", k.recipient),
    }
}

/// The gRPC service: `/KeyService/Encrypt` and `/KeyService/Decrypt`
/// answered by a [`KeyService`].
#[derive(Clone)]
pub struct KeyServiceServer {
    service: Arc<dyn KeyService>,
    prompt: Option<Arc<dyn Prompt>>,
    /// One prompt at a time.
    prompt_lock: Arc<Mutex<()>>,
}

impl KeyServiceServer {
    /// A server answering with `service`.
    pub fn new(service: Arc<dyn KeyService>) -> KeyServiceServer {
        KeyServiceServer {
            service,
            prompt: None,
            prompt_lock: Arc::new(Mutex::new(())),
        }
    }

    /// Asks `prompt` before answering each request.
    pub fn with_prompt(mut self, prompt: Arc<dyn Prompt>) -> KeyServiceServer {
        self.prompt = Some(prompt);
        self
    }

    /// Runs `op` on the key with the local service (off the async threads:
    /// key operations block), then asks the prompt, if any.
    async fn answer<T: Send + 'static>(
        &self,
        key: Option<proto::Key>,
        request: &'static str,
        op: impl FnOnce(&dyn KeyService, &MasterKey) -> Result<T, String> + Send + 'static,
    ) -> Result<T, Status> {
        let Some(key_type) = key.and_then(|k| k.key_type) else {
            return Err(Status::not_found("Must provide a key"));
        };
        let key = master_key_from_key(&key_type);
        let service = self.service.clone();
        let prompt = self.prompt.clone();
        let lock = self.prompt_lock.clone();
        tokio::task::spawn_blocking(move || {
            let value = op(service.as_ref(), &key).map_err(Status::unknown)?;
            if let Some(prompt) = prompt {
                let _one_at_a_time = lock.lock().unwrap_or_else(|e| e.into_inner());
                match prompt.confirm(request, &describe_key(&key)) {
                    Ok(true) => {}
                    Ok(false) => return Err(Status::permission_denied("Request rejected by user")),
                    Err(e) => return Err(Status::unknown(e)),
                }
            }
            Ok(value)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
    }

    /// `KeyService.Encrypt`.
    pub async fn encrypt(
        &self,
        request: proto::EncryptRequest,
    ) -> Result<proto::EncryptResponse, Status> {
        let plaintext = zeroize::Zeroizing::new(request.plaintext);
        let enc = self
            .answer(request.key, "encrypt", move |service, key| {
                service.encrypt(key, &plaintext).map_err(|e| e.to_string())
            })
            .await?;
        Ok(proto::EncryptResponse {
            ciphertext: enc.into_bytes(),
        })
    }

    /// `KeyService.Decrypt`.
    pub async fn decrypt(
        &self,
        request: proto::DecryptRequest,
    ) -> Result<proto::DecryptResponse, Status> {
        let ciphertext = request.ciphertext;
        let plaintext = self
            .answer(request.key, "decrypt", move |service, key| {
                let enc = String::from_utf8_lossy(&ciphertext);
                service.decrypt(key, &enc).map_err(|e| e.to_string())
            })
            .await?;
        Ok(proto::DecryptResponse {
            plaintext: plaintext.to_vec(),
        })
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// `KeyService.Encrypt` for tonic's codec machinery.
struct EncryptMethod(KeyServiceServer);

impl tonic::server::UnaryService<proto::EncryptRequest> for EncryptMethod {
    type Response = proto::EncryptResponse;
    type Future = BoxFuture<Result<Response<proto::EncryptResponse>, Status>>;

    fn call(&mut self, request: Request<proto::EncryptRequest>) -> Self::Future {
        let server = self.0.clone();
        Box::pin(async move {
            server
                .encrypt(request.into_inner())
                .await
                .map(Response::new)
        })
    }
}

/// `KeyService.Decrypt` for tonic's codec machinery.
struct DecryptMethod(KeyServiceServer);

impl tonic::server::UnaryService<proto::DecryptRequest> for DecryptMethod {
    type Response = proto::DecryptResponse;
    type Future = BoxFuture<Result<Response<proto::DecryptResponse>, Status>>;

    fn call(&mut self, request: Request<proto::DecryptRequest>) -> Self::Future {
        let server = self.0.clone();
        Box::pin(async move {
            server
                .decrypt(request.into_inner())
                .await
                .map(Response::new)
        })
    }
}

impl<B> Service<http::Request<B>> for KeyServiceServer
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let server = self.clone();
        match request.uri().path() {
            proto::ENCRYPT_PATH => Box::pin(async move {
                let method = EncryptMethod(server);
                let codec =
                    tonic_prost::ProstCodec::<proto::EncryptResponse, proto::EncryptRequest>::default();
                Ok(tonic::server::Grpc::new(codec).unary(method, request).await)
            }),
            proto::DECRYPT_PATH => Box::pin(async move {
                let method = DecryptMethod(server);
                let codec =
                    tonic_prost::ProstCodec::<proto::DecryptResponse, proto::DecryptRequest>::default();
                Ok(tonic::server::Grpc::new(codec).unary(method, request).await)
            }),
            _ => Box::pin(async move { Ok(Status::unimplemented("").into_http()) }),
        }
    }
}

/// Where the server listens.
#[derive(Debug)]
pub enum Listener {
    /// A TCP socket.
    Tcp(std::net::TcpListener),
    /// A unix socket and its path (removed when the server stops).
    Unix(std::os::unix::net::UnixListener, PathBuf),
}

/// Why the server could not start or stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServeError {
    /// `--network` is not `tcp`/`tcp4`/`tcp6`/`unix`.
    #[error("listen {0}: unknown network {0}")]
    UnknownNetwork(String),
    /// Binding failed (`listen tcp 127.0.0.1:5000: …`, as sops words it).
    #[error("listen {network} {address}: {source}")]
    Listen {
        /// The network.
        network: String,
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The server failed while running.
    #[error("{0}")]
    Serve(String),
    /// The async runtime could not be started.
    #[error("{0}")]
    Runtime(String),
}

impl Listener {
    /// Listens on `address` of `network`, as sops's `net.Listen` does
    /// (`:5000` is every interface).
    pub fn bind(network: &str, address: &str) -> Result<Listener, ServeError> {
        let listen_error = |source| ServeError::Listen {
            network: network.to_owned(),
            address: address.to_owned(),
            source,
        };
        match network {
            "tcp" | "tcp4" | "tcp6" => {
                let addr = match address.strip_prefix(':') {
                    Some(port) if network == "tcp6" => format!("[::]:{port}"),
                    Some(port) => format!("0.0.0.0:{port}"),
                    None => address.to_owned(),
                };
                std::net::TcpListener::bind(addr)
                    .map(Listener::Tcp)
                    .map_err(listen_error)
            }
            "unix" => std::os::unix::net::UnixListener::bind(address)
                .map(|l| Listener::Unix(l, PathBuf::from(address)))
                .map_err(listen_error),
            other => Err(ServeError::UnknownNetwork(other.to_owned())),
        }
    }

    /// The local TCP address (`None` for a unix socket).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }
}

/// Serves `server` on `listener` until `shutdown` completes; then stops
/// accepting, gives open connections a moment to finish and removes the
/// unix socket file. Runs on the caller's tokio runtime.
pub async fn serve(
    server: KeyServiceServer,
    listener: Listener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let grace = {
        let rx = rx.clone();
        async move {
            stopped(rx).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        }
    };
    let builder = tonic::transport::Server::builder();
    let mut socket: Option<PathBuf> = None;
    let running: BoxFuture<Result<(), tonic::transport::Error>> = match listener {
        Listener::Tcp(l) => {
            l.set_nonblocking(true)
                .map_err(|e| ServeError::Serve(e.to_string()))?;
            let l = tokio::net::TcpListener::from_std(l)
                .map_err(|e| ServeError::Serve(e.to_string()))?;
            let incoming = tonic::transport::server::TcpIncoming::from(l);
            Box::pin(builder.serve_with_incoming_shutdown(server, incoming, stopped(rx)))
        }
        Listener::Unix(l, path) => {
            socket = Some(path);
            l.set_nonblocking(true)
                .map_err(|e| ServeError::Serve(e.to_string()))?;
            let l = tokio::net::UnixListener::from_std(l)
                .map_err(|e| ServeError::Serve(e.to_string()))?;
            let incoming = tokio_stream::wrappers::UnixListenerStream::new(l);
            Box::pin(builder.serve_with_incoming_shutdown(server, incoming, stopped(rx)))
        }
    };
    let result = tokio::select! {
        r = running => r.map_err(|e| ServeError::Serve(crate::error::error_chain(&e))),
        _ = grace => Ok(()),
    };
    if let Some(path) = socket {
        remove_socket(&path);
    }
    result
}

fn remove_socket(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// Completes on SIGINT or SIGTERM with the signal's name as Go prints it
/// (`interrupt`, `terminated`).
pub async fn termination_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "interrupt",
        _ = term.recv() => "terminated",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::age::AgeBackend;
    use crate::error::{KeyError, ServiceError, ServiceProblem};
    use crate::keyservice::{KeyServiceUrl, RemoteKeyService};
    use crate::pgp::PgpBackend;
    use crate::runtime;
    use crate::LocalKeyService;

    const IDENTITY: &str =
        "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX";
    const RECIPIENT: &str = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj";

    fn local(identity: &str) -> Arc<dyn KeyService> {
        let home = std::env::temp_dir().join("rsops-keyservice-tests-no-home");
        let vars = HashMap::from([("SOPS_AGE_KEY".to_string(), identity.to_string())]);
        Arc::new(LocalKeyService::new(
            AgeBackend::with_env(vars, Some(home.clone())),
            PgpBackend::new(home, "/nonexistent/rsops-gpg"),
        ))
    }

    /// Answers every prompt with `answer`, recording the questions.
    struct Answer(bool, Mutex<Vec<String>>);

    impl Prompt for Answer {
        fn confirm(&self, request: &str, key: &str) -> Result<bool, String> {
            self.1.lock().unwrap().push(format!("{request} {key}"));
            Ok(self.0)
        }
    }

    /// Starts `server` on `listener` in a thread of the shared runtime;
    /// returns the sender that stops it and the thread.
    fn start(
        server: KeyServiceServer,
        listener: Listener,
    ) -> (
        tokio::sync::oneshot::Sender<()>,
        std::thread::JoinHandle<Result<(), ServeError>>,
    ) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = std::thread::spawn(move || {
            runtime::block_on(serve(server, listener, async {
                let _ = rx.await;
            }))
            .unwrap()
        });
        (tx, handle)
    }

    #[test]
    fn a_client_and_the_server_agree_over_a_unix_socket_and_tcp() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("ks.sock");
        let unix = Listener::bind("unix", sock.to_str().unwrap()).unwrap();
        let tcp = Listener::bind("tcp", "127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        let (stop_unix, unix_thread) = start(KeyServiceServer::new(local(IDENTITY)), unix);
        let (stop_tcp, tcp_thread) = start(KeyServiceServer::new(local(IDENTITY)), tcp);

        let key = MasterKey::age(RECIPIENT);
        for url in [
            format!("unix://{}", sock.display()),
            format!("tcp://127.0.0.1:{port}"),
        ] {
            let client = RemoteKeyService::new(KeyServiceUrl::parse(&url).unwrap());
            let enc = client.encrypt(&key, b"data key").unwrap();
            assert!(
                enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
                "{enc}"
            );
            // The server's identity decrypts what the client holds no
            // identity for.
            assert!(local("").decrypt(&key, &enc).is_err());
            assert_eq!(&*client.decrypt(&key, &enc).unwrap(), b"data key");
            // A server-side failure comes back with its text.
            let e = client.decrypt(&key, "not age").unwrap_err();
            match e {
                KeyError::Service(ServiceError {
                    problem: ServiceProblem::Status { code, message },
                    ..
                }) => {
                    assert_eq!(code, "Unknown");
                    assert!(message.contains("age"), "{message}");
                }
                other => panic!("{other:?}"),
            }
        }
        stop_unix.send(()).unwrap();
        stop_tcp.send(()).unwrap();
        unix_thread.join().unwrap().unwrap();
        tcp_thread.join().unwrap().unwrap();
        assert!(!sock.exists(), "the socket file is removed on shutdown");
    }

    /// Key operations run on the blocking pool, where the cloud kinds may
    /// block on the shared runtime themselves.
    #[test]
    fn a_key_operation_may_block_on_the_shared_runtime() {
        struct Nested;
        impl KeyService for Nested {
            fn encrypt(&self, _: &MasterKey, plaintext: &[u8]) -> Result<String, KeyError> {
                let n = plaintext.len();
                Ok(runtime::block_on(async move { format!("{n} bytes") }).unwrap())
            }
            fn decrypt(
                &self,
                _: &MasterKey,
                _: &str,
            ) -> Result<zeroize::Zeroizing<Vec<u8>>, KeyError> {
                unreachable!()
            }
        }
        let server = KeyServiceServer::new(Arc::new(Nested));
        let key = super::super::key_from_master_key(&MasterKey::age(RECIPIENT));
        let answer = runtime::block_on(server.encrypt(proto::EncryptRequest {
            key: Some(key),
            plaintext: vec![0; 32],
        }))
        .unwrap()
        .unwrap();
        assert_eq!(answer.ciphertext, b"32 bytes");
    }

    #[test]
    fn requests_without_a_key_and_rejected_prompts_fail_as_in_sops() {
        let server = KeyServiceServer::new(local(IDENTITY));
        let no_key = runtime::block_on(server.encrypt(proto::EncryptRequest {
            key: None,
            plaintext: vec![1],
        }))
        .unwrap()
        .unwrap_err();
        assert_eq!(no_key.code(), tonic::Code::NotFound);
        assert_eq!(no_key.message(), "Must provide a key");
        let empty_key = runtime::block_on(server.decrypt(proto::DecryptRequest {
            key: Some(proto::Key { key_type: None }),
            ciphertext: vec![],
        }))
        .unwrap()
        .unwrap_err();
        assert_eq!(empty_key.message(), "Must provide a key");

        let answer = Arc::new(Answer(false, Mutex::new(Vec::new())));
        let server = server.with_prompt(answer.clone());
        let key = super::super::key_from_master_key(&MasterKey::age(RECIPIENT));
        let refused = runtime::block_on(server.encrypt(proto::EncryptRequest {
            key: Some(key),
            plaintext: vec![1],
        }))
        .unwrap()
        .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert_eq!(refused.message(), "Request rejected by user");
        assert_eq!(
            *answer.1.lock().unwrap(),
            [format!("encrypt age key with recipient {RECIPIENT}")]
        );
    }
}
