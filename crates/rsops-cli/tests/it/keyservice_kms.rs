//! Cloud keys through a key service, both ways, against the real sops
//! 3.11: the server holds the credentials and the endpoint (AWS KMS on
//! moto, HashiCorp Vault transit on its mock), the client has none of them
//! and runs with `--enable-local-keyservice=false`. Files made this way are
//! ordinary KMS / Vault files: the other tool, holding the credentials
//! itself, opens them.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use super::keyservice::{client, rsops_bin, start_env, text, Net, PLAIN};
use crate::common::{ok, sops, Scratch};
use crate::servers::{python_has, TestServer};

/// moto on loopback: its endpoint and first KMS key.
struct Moto {
    _server: TestServer,
    endpoint: String,
    key: String,
}

fn moto() -> Option<Moto> {
    if !python_has("moto.server") {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let server = TestServer::python("moto_kms.py", &[state.to_str().expect("utf-8 path")]);
    let text = std::fs::read_to_string(&state).expect("moto state");
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .expect("moto state field")
            .to_owned()
    };
    Some(Moto {
        endpoint: field("endpoint"),
        key: field("key"),
        _server: server,
    })
}

/// The AWS environment of the side that holds the credentials.
fn aws_env(endpoint: &str) -> Vec<(&'static str, OsString)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ]
    .into_iter()
    .map(|(k, v)| (k, OsString::from(v)))
    .collect()
}

/// Runs `program` with `env` and no age key.
fn direct(s: &Scratch, program: &Path, args: &[&str], env: &[(&str, OsString)]) -> Vec<u8> {
    let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    ok(
        &s.run_env(program, args, None, &env, None),
        &format!("{} {args:?} with the credentials", program.display()),
    )
}

/// `client` encrypts `plain.yaml` with `key_args` and decrypts it through a
/// key service run by `server` with `server_env`; the client alone cannot
/// decrypt, `other` (the other tool) with `server_env` itself opens the
/// file.
fn through_service(
    s: &Scratch,
    server: &Path,
    client_bin: &Path,
    other: &Path,
    key_args: &[&str],
    server_env: &[(&str, OsString)],
    what: &str,
) {
    s.write("plain.yaml", PLAIN.as_bytes());
    std::fs::create_dir_all(s.path("client-gnupg")).unwrap();
    let service = start_env(s, server, Net::Unix, server_env);
    let mut args = vec!["encrypt"];
    args.extend_from_slice(key_args);
    args.push("plain.yaml");
    let enc = text(ok(
        &client(s, client_bin, &service.url, &args),
        &format!("{what}: encrypt through the service"),
    ));
    let file = "through-service.yaml";
    s.write(file, enc.as_bytes());

    let alone = s.run(client_bin, &["decrypt", file], None, None);
    assert_eq!(
        alone.status.code(),
        Some(128),
        "{what}: the client alone has no credentials: {}",
        String::from_utf8_lossy(&alone.stderr)
    );
    let dec = client(s, client_bin, &service.url, &["decrypt", file]);
    assert_eq!(text(ok(&dec, &format!("{what}: decrypt"))), PLAIN, "{what}");
    // An ordinary file: the other tool, holding the credentials, opens it.
    let by_other = direct(s, other, &["decrypt", file], server_env);
    assert_eq!(text(by_other), PLAIN, "{what}: the other tool decrypts");

    // And the other way: a file the other tool made directly opens
    // through the service.
    let mut args = vec!["encrypt"];
    args.extend_from_slice(key_args);
    args.push("plain.yaml");
    let made = direct(s, other, &args, server_env);
    s.write("direct.yaml", &made);
    let dec = client(s, client_bin, &service.url, &["decrypt", "direct.yaml"]);
    assert_eq!(text(ok(&dec, &format!("{what}: decrypt direct"))), PLAIN);
}

#[test]
fn rsops_uses_aws_kms_through_sops_keyservice() {
    let Some(sops_bin) = sops() else { return };
    let Some(moto) = moto() else { return };
    let s = Scratch::new();
    through_service(
        &s,
        &sops_bin,
        &rsops_bin(),
        &sops_bin,
        &[
            "--kms",
            &moto.key,
            "--encryption-context",
            "app:rsops,env:test",
        ],
        &aws_env(&moto.endpoint),
        "rsops -> sops keyservice (AWS KMS)",
    );
}

#[test]
fn sops_uses_aws_kms_through_rsops_keyservice() {
    let Some(sops_bin) = sops() else { return };
    let Some(moto) = moto() else { return };
    let s = Scratch::new();
    through_service(
        &s,
        &rsops_bin(),
        &sops_bin,
        &rsops_bin(),
        &[
            "--kms",
            &moto.key,
            "--encryption-context",
            "app:sops,env:test",
        ],
        &aws_env(&moto.endpoint),
        "sops -> rsops keyservice (AWS KMS)",
    );
}

/// The Vault mock and its environment (the token).
fn vault() -> Option<(TestServer, Vec<(&'static str, OsString)>)> {
    if !python_has("http.server") {
        return None;
    }
    let server = TestServer::python("vault.py", &["--token", "ks-token"]);
    Some((server, vec![("VAULT_TOKEN", OsString::from("ks-token"))]))
}

#[test]
fn vault_transit_through_a_key_service_both_ways() {
    let Some(sops_bin) = sops() else { return };
    let Some((server, env)) = vault() else { return };
    let uri = format!("{}/v1/sops/keys/ks", server.url());
    let rsops = rsops_bin();
    for (service, client_bin, other, what) in [
        (&*sops_bin, &*rsops, &*sops_bin, "rsops -> sops keyservice"),
        (&*rsops, &*sops_bin, &*rsops, "sops -> rsops keyservice"),
    ] {
        let s = Scratch::new();
        through_service(
            &s,
            service,
            client_bin,
            other,
            &["--hc-vault-transit", &uri],
            &env,
            &format!("{what} (Vault transit)"),
        );
    }
}
