//! The async runtime and HTTP client builder shared by the cloud key kinds.
//!
//! Nothing here runs unless a cloud key is used: the runtime is created on
//! the first call to [`block_on`], so files that only use age or OpenPGP keys
//! start no thread and read no credential.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

/// Worker threads of the shared runtime: key calls are I/O bound, and many
/// calls from the file-level worker threads share these.
const WORKER_THREADS: usize = 2;

/// How long one HTTP connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one HTTP request may take, end to end.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();

/// The runtime could not be started (threads or the I/O driver).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not start the runtime for cloud key calls: {0}")]
pub struct RuntimeError(String);

/// Runs `future` to completion on the shared multi-threaded runtime.
///
/// Callable from any thread that is not itself a runtime worker, including
/// several threads at once (each blocks on its own future).
pub fn block_on<F: Future>(future: F) -> Result<F::Output, RuntimeError> {
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("rsops-cloud")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    match runtime {
        Ok(rt) => Ok(rt.block_on(future)),
        Err(e) => Err(RuntimeError(e.clone())),
    }
}

/// An HTTP client builder with the settings every cloud back end shares:
/// rustls (trusting the system roots and `SSL_CERT_FILE`/`SSL_CERT_DIR`, as
/// the Go clients sops uses do), proxies from `HTTPS_PROXY`/`NO_PROXY`, and
/// bounded connect and request times. A back end adds its own options
/// (client certificates, extra roots) before `build()`.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("rsops/", env!("CARGO_PKG_VERSION")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_runs_futures_from_several_threads() {
        let handles: Vec<_> = (0..4u32)
            .map(|i| std::thread::spawn(move || block_on(async move { i * 2 }).unwrap()))
            .collect();
        let mut got: Vec<u32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, vec![0, 2, 4, 6]);
    }

    #[test]
    fn http_client_builds_with_the_shared_tls_stack() {
        assert!(http_client_builder().build().is_ok());
    }
}
