//! Key services, both ways: the services a command sends its key
//! operations to (`--keyservice`, `--enable-local-keyservice`), and
//! `rsops keyservice`, the server.

use rsops_keys::services::LOCAL_NAME;
use rsops_keys::{KeyService, KeyServices, LocalKeyService};

use crate::error::{CmdResult, Error};
use crate::settings::{Common, KeyserviceSettings};

/// The key services of a command, in sops's order: the local one (unless
/// `--enable-local-keyservice=false`), then each `--keyservice` in the
/// order given. An address that cannot be used is skipped with a warning,
/// as sops does. Without remote services this is the local service alone,
/// and nothing is started; a remote service connects on its first use.
pub fn services(common: &Common) -> Box<dyn KeyService> {
    let remotes = remotes(&common.keyservice);
    if remotes.is_empty() && common.enable_local_keyservice {
        return Box::new(LocalKeyService::from_env());
    }
    let mut all = KeyServices::new();
    if common.enable_local_keyservice {
        all.push(LOCAL_NAME, Box::new(LocalKeyService::from_env()));
    }
    for (name, service) in remotes {
        all.push(name, service);
    }
    Box::new(all)
}

#[cfg(feature = "keyservice")]
fn remotes(urls: &[String]) -> Vec<(String, Box<dyn KeyService>)> {
    use rsops_keys::keyservice::{KeyServiceUrl, RemoteKeyService};
    let mut out: Vec<(String, Box<dyn KeyService>)> = Vec::new();
    for url in urls.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
        match KeyServiceUrl::parse(url) {
            Ok(parsed) => out.push((url.to_owned(), Box::new(RemoteKeyService::from_env(parsed)))),
            Err(e) => crate::warn(&format!(
                "Error parsing URI for keyservice, skipping: {url:?}: {e}"
            )),
        }
    }
    out
}

#[cfg(not(feature = "keyservice"))]
fn remotes(urls: &[String]) -> Vec<(String, Box<dyn KeyService>)> {
    if urls.iter().any(|u| !u.trim().is_empty()) {
        crate::warn("this rsops was built without the keyservice feature: --keyservice is ignored");
    }
    Vec::new()
}

/// `rsops keyservice`: serves this machine's keys (the local key service,
/// every kind this build supports) until SIGINT or SIGTERM.
#[cfg(feature = "keyservice")]
pub fn run(s: &KeyserviceSettings) -> CmdResult {
    use std::sync::Arc;

    use rsops_keys::keyservice::server::{
        serve, termination_signal, KeyServiceServer, Listener, StdioPrompt,
    };

    let fail = |e: &dyn std::fmt::Display| Error::Keyservice(e.to_string());
    let listener = Listener::bind(&s.network, &s.address).map_err(|e| fail(&e))?;
    let mut server = KeyServiceServer::new(Arc::new(LocalKeyService::from_env()));
    if s.prompt {
        server = server.with_prompt(Arc::new(StdioPrompt));
    }
    let shown = match listener.local_addr() {
        // An ephemeral port (`:0`) is shown as the one chosen.
        Some(addr) if s.address.ends_with(":0") => addr.to_string(),
        _ => s.address.clone(),
    };
    if s.verbose {
        log(&format!("Listening on {}://{shown}", s.network));
    }
    let verbose = s.verbose;
    let shutdown = async move {
        let signal = termination_signal().await;
        if verbose {
            log(&format!("Caught signal {signal}: shutting down."));
        }
    };
    rsops_keys::runtime::block_on(serve(server, listener, shutdown))
        .map_err(|e| fail(&e))?
        .map_err(|e| fail(&e))
}

/// `rsops keyservice` in a build without the feature.
#[cfg(not(feature = "keyservice"))]
pub fn run(_: &KeyserviceSettings) -> CmdResult {
    Err(Error::Keyservice(
        "this rsops was built without the keyservice feature".into(),
    ))
}

/// An information line of the server, in sops's log format.
#[cfg(feature = "keyservice")]
fn log(message: &str) {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    eprintln!("[KEYSERVICE]\t time=\"{now}\" level=info msg=\"{message}\"");
}
