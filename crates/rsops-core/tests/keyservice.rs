//! A library user's view of remote key services: a `KeyServices` made of
//! remote services is handed to the core's `file::encrypt` and
//! `file::decrypt`, and the data key is wrapped and unwrapped by a key
//! service (here an in-process `rsops keyservice` server on loopback) that
//! holds the age identity this process lacks.

use std::collections::HashMap;
use std::sync::Arc;

use rsops_core::file::{self, EncryptOptions};
use rsops_core::metadata::Metadata;
use rsops_core::selection::Selection;
use rsops_format::{store, EmitOptions, Format, Sequential};
use rsops_keys::age::AgeBackend;
use rsops_keys::keyservice::server::{serve, KeyServiceServer, Listener};
use rsops_keys::keyservice::{KeyServiceUrl, RemoteKeyService};
use rsops_keys::pgp::PgpBackend;
use rsops_keys::{runtime, KeyService, KeyServices, LocalKeyService, MasterKey};

const IDENTITY: &str = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX";
const RECIPIENT: &str = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj";
const PLAIN: &str = "db:\n    user: admin\n    password: s3cr3t\n";

/// A local key service with `identity` (may be empty) and nothing else:
/// no HOME, no GnuPG.
fn local(identity: &str) -> LocalKeyService {
    let home = std::env::temp_dir().join("rsops-core-keyservice-test-no-home");
    let vars = HashMap::from([("SOPS_AGE_KEY".to_owned(), identity.to_owned())]);
    LocalKeyService::new(
        AgeBackend::with_env(vars, Some(home.clone())),
        PgpBackend::new(home, "/nonexistent/rsops-gpg"),
    )
}

/// Serves `service` on a loopback port for the rest of the test process.
fn server(service: LocalKeyService) -> String {
    let listener = Listener::bind("tcp", "127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    let server = KeyServiceServer::new(Arc::new(service));
    std::thread::spawn(move || runtime::block_on(serve(server, listener, std::future::pending())));
    url
}

fn remote(url: &str) -> RemoteKeyService {
    RemoteKeyService::new(KeyServiceUrl::parse(url).unwrap())
}

#[test]
fn core_encrypts_and_decrypts_through_remote_key_services() {
    let url = server(local(IDENTITY));
    // Nothing listens here: the first service fails, the second answers.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("tcp://{}", l.local_addr().unwrap())
    };
    let mut services = KeyServices::new();
    services.push(dead.as_str(), Box::new(remote(&dead)));
    services.push(url.as_str(), Box::new(remote(&url)));

    let mut docs = store::load_plain(Format::Yaml, PLAIN.as_bytes()).unwrap();
    let options = EncryptOptions {
        key_groups: vec![vec![MasterKey::age(RECIPIENT)]],
        shamir_threshold: 0,
        selection: Some(Selection::default_rule()),
        mac_only_encrypted: false,
    };
    let now = time::OffsetDateTime::now_utc();
    let metadata = file::encrypt(&mut docs, &options, &services, now).unwrap();
    let emit = EmitOptions::default();
    let encrypted = store::emit_encrypted(Format::Yaml, &docs, &metadata.to_tree(), &emit).unwrap();
    assert!(!String::from_utf8_lossy(&encrypted).contains("s3cr3t"));

    let open = |service: &dyn KeyService| {
        let (mut docs, md) = store::load_encrypted(Format::Yaml, &encrypted, &Sequential)?;
        let md = Metadata::from_tree(&md.expect("metadata"))?;
        file::decrypt(&mut docs, &md, service, &[], false, &Sequential)?;
        Ok::<_, Box<dyn std::error::Error>>(store::emit_plain(Format::Yaml, &docs, &emit)?)
    };
    // This process has no identity: only the service can open the file.
    let e = open(&local("")).unwrap_err();
    assert!(e.to_string().contains(RECIPIENT), "{e}");
    let plain = open(&services).unwrap();
    assert_eq!(String::from_utf8(plain).unwrap(), PLAIN);
    // One remote service alone, given directly.
    assert_eq!(open(&remote(&url)).unwrap(), PLAIN.as_bytes());
    // The dead one alone: an error naming it and the key.
    let e = open(&remote(&dead)).unwrap_err().to_string();
    assert!(
        e.contains(&format!("key service {dead}: cannot connect")),
        "{e}"
    );
    assert!(e.contains(RECIPIENT), "{e}");
}
