//! HashiCorp Vault transit keys against a local mock of the transit engine
//! (`tests/servers/vault.py`), checked against the real sops 3.11: files
//! made by either tool open with the other, the metadata is the same, and
//! failures exit with sops's codes and write nothing.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::{ok, sops, Scratch};
use crate::servers::{python_has, TestServer};

pub const PLAIN: &str = "\
db:
    user: admin
    password: s3cr3t-value
    port: 5432
list:
    - one
    - 2
token_unencrypted: visible
";

pub const TOKEN: &str = "test-token";

pub fn rsops_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rsops"))
}

/// The mock, when Python is available (under `CI=true` its absence fails).
pub fn vault(args: &[&str]) -> Option<TestServer> {
    python_has("http.server").then(|| TestServer::python("vault.py", args))
}

/// The transit URI of `key` in engine `sops/nested` on `server`.
pub fn uri(server: &TestServer, key: &str) -> String {
    format!("{}/v1/sops/nested/keys/{key}", server.url())
}

/// Runs `program` in `s` without age identities, with `env`.
pub fn run(s: &Scratch, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, OsStr::new(*v))).collect();
    s.run_env(program, args, None, &env, None)
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// The `sops:` block with the values that differ from run to run
/// (`enc`, `created_at`, `lastmodified`, `mac`) blanked.
pub fn metadata_shape(file: &[u8]) -> String {
    let text = String::from_utf8_lossy(file);
    let start = text.find("\nsops:").expect("sops metadata");
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = Vec::new();
    // The indentation of a blanked key whose continuation lines (a
    // multi-line age block) are skipped.
    let mut skipping: Option<usize> = None;
    for line in text[start..].lines() {
        if let Some(level) = skipping {
            if indent(line) > level {
                continue;
            }
            skipping = None;
        }
        let trimmed = line.trim_start().trim_start_matches("- ");
        let blanked = ["enc:", "created_at:", "lastmodified:", "mac:"]
            .into_iter()
            .find(|key| trimmed.starts_with(key));
        match blanked {
            Some(key) => {
                let cut = line.find(key).expect("key") + key.len();
                out.push(format!("{} <…>", &line[..cut]));
                skipping = Some(line.find(key).expect("key"));
            }
            None => out.push(line.to_owned()),
        }
    }
    super::common::order_free(&out.join("\n"))
}

/// Both tools encrypt `plain.yaml` with `args` (+ `env`) and decrypt each
/// other's file; returns (sops's file, rsops's file).
pub fn cross_check(
    s: &Scratch,
    sops_bin: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Vec<u8>, Vec<u8>) {
    s.write("plain.yaml", PLAIN.as_bytes());
    let mut full: Vec<&str> = vec!["encrypt"];
    full.extend_from_slice(args);
    full.push("plain.yaml");
    let by_sops = ok(&run(s, sops_bin, &full, env), "sops encrypt");
    let by_rsops = ok(&run(s, rsops_bin(), &full, env), "rsops encrypt");
    s.write("by-sops.yaml", &by_sops);
    s.write("by-rsops.yaml", &by_rsops);
    for (reader, name, file) in [
        (rsops_bin(), "rsops", "by-sops.yaml"),
        (sops_bin, "sops", "by-rsops.yaml"),
        (rsops_bin(), "rsops", "by-rsops.yaml"),
    ] {
        let out = ok(
            &run(s, reader, &["decrypt", file], env),
            &format!("{name} decrypt {file}"),
        );
        assert_eq!(
            String::from_utf8_lossy(&out),
            PLAIN,
            "{name} decrypt {file}"
        );
    }
    assert_eq!(
        metadata_shape(&by_rsops),
        metadata_shape(&by_sops),
        "metadata of rsops vs sops"
    );
    (by_sops, by_rsops)
}

/// Runs a failing encrypt (in place) and decrypt (to an output file) with
/// both tools: same exit codes as sops (1 and 128), the input untouched,
/// no output file. Returns rsops's two messages.
pub fn check_failure(
    s: &Scratch,
    sops_bin: &Path,
    encrypt_args: &[&str],
    encrypted: &[u8],
    env: &[(&str, &str)],
    bound: Duration,
) -> (String, String) {
    let mut messages = Vec::new();
    for (program, name) in [(sops_bin, "sops"), (rsops_bin(), "rsops")] {
        s.write("in-place.yaml", PLAIN.as_bytes());
        let mut args: Vec<&str> = vec!["encrypt", "-i"];
        args.extend_from_slice(encrypt_args);
        args.push("in-place.yaml");
        let started = Instant::now();
        let out = run(s, program, &args, env);
        assert!(
            started.elapsed() < bound,
            "{name} encrypt took {:?}",
            started.elapsed()
        );
        assert_eq!(code(&out), Some(1), "{name} encrypt: {}", stderr(&out));
        assert_eq!(
            std::fs::read_to_string(s.path("in-place.yaml")).unwrap(),
            PLAIN,
            "{name} encrypt -i changed the file"
        );
        let encrypt_message = stderr(&out);

        s.write("enc.yaml", encrypted);
        let _ = std::fs::remove_file(s.path("out.yaml"));
        let started = Instant::now();
        let out = run(
            s,
            program,
            &["decrypt", "--output", "out.yaml", "enc.yaml"],
            env,
        );
        assert!(
            started.elapsed() < bound,
            "{name} decrypt took {:?}",
            started.elapsed()
        );
        assert_eq!(code(&out), Some(128), "{name} decrypt: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{name} printed something");
        assert!(!s.path("out.yaml").exists(), "{name} wrote an output file");
        assert_eq!(std::fs::read(s.path("enc.yaml")).unwrap(), encrypted);
        messages.push((encrypt_message, stderr(&out)));
    }
    let (enc, dec) = messages.pop().expect("rsops");
    for text in [&enc, &dec] {
        assert!(!text.contains(TOKEN), "the token leaked: {text}");
    }
    (enc, dec)
}

#[test]
fn vault_files_interoperate_and_metadata_matches_sops() {
    let Some(sops_bin) = sops() else { return };
    let Some(server) = vault(&[]) else { return };
    let s = Scratch::new();
    let env = [("VAULT_TOKEN", TOKEN)];
    let k1 = uri(&server, "k1");
    let (_, by_rsops) = cross_check(&s, &sops_bin, &["--hc-vault-transit", &k1], &env);
    let text = String::from_utf8_lossy(&by_rsops);
    assert!(text.contains("engine_path: sops/nested"), "{text}");
    assert!(text.contains("enc: vault:v1:"), "{text}");

    // Two keys from SOPS_VAULT_URIS, and the same through .sops.yaml.
    let both = format!("{k1},{}", uri(&server, "k2"));
    cross_check(
        &s,
        &sops_bin,
        &[],
        &[("VAULT_TOKEN", TOKEN), ("SOPS_VAULT_URIS", &both)],
    );
    s.write(
        ".sops.yaml",
        format!("creation_rules:\n  - hc_vault_transit_uri: {both}\n").as_bytes(),
    );
    let (_, by_rsops) = cross_check(&s, &sops_bin, &[], &env);
    assert_eq!(
        String::from_utf8_lossy(&by_rsops)
            .matches("key_name:")
            .count(),
        2
    );
}

#[test]
fn vault_token_file_namespace_and_agent_address() {
    let Some(sops_bin) = sops() else { return };
    let Some(server) = vault(&["--token", "from-the-file", "--namespace", "team/a"]) else {
        return;
    };
    let s = Scratch::new();
    // The scratch directory is HOME: ~/.vault-token, trimmed.
    s.write(".vault-token", b"  from-the-file\n");
    let env = [("VAULT_NAMESPACE", "team/a")];
    cross_check(
        &s,
        &sops_bin,
        &["--hc-vault-transit", &uri(&server, "k")],
        &env,
    );

    // VAULT_TOKEN wins over the file.
    let out = run(
        &s,
        rsops_bin(),
        &["decrypt", "by-sops.yaml"],
        &[("VAULT_NAMESPACE", "team/a"), ("VAULT_TOKEN", "other")],
    );
    assert_eq!(code(&out), Some(128), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("token from VAULT_TOKEN"),
        "{}",
        stderr(&out)
    );

    // Without the namespace both fail alike.
    let by_sops = std::fs::read(s.path("by-sops.yaml")).unwrap();
    let (_, dec) = check_failure(
        &s,
        &sops_bin,
        &["--hc-vault-transit", &uri(&server, "k")],
        &by_sops,
        &[],
        Duration::from_secs(20),
    );
    assert!(
        dec.contains("HTTP 403: permission denied (namespace)"),
        "{dec}"
    );
    assert!(dec.contains(".vault-token"), "{dec}");

    // VAULT_AGENT_ADDR replaces the address recorded in the file.
    let elsewhere = "http://vault.invalid:8200/v1/sops/nested/keys/k";
    let agent = server.url();
    cross_check(
        &s,
        &sops_bin,
        &["--hc-vault-transit", elsewhere],
        &[("VAULT_NAMESPACE", "team/a"), ("VAULT_AGENT_ADDR", &agent)],
    );
}

#[test]
fn vault_failures_match_sops_exit_codes_and_write_nothing() {
    let Some(sops_bin) = sops() else { return };
    let Some(good) = vault(&[]) else { return };
    let s = Scratch::new();
    let env = [("VAULT_TOKEN", TOKEN)];
    let k = uri(&good, "k");
    let (by_sops, _) = cross_check(&s, &sops_bin, &["--hc-vault-transit", &k], &env);
    let bound = Duration::from_secs(20);

    // Wrong token: 403 from the server.
    let (enc, dec) = check_failure(
        &s,
        &sops_bin,
        &["--hc-vault-transit", &k],
        &by_sops,
        &[("VAULT_TOKEN", "wrong")],
        bound,
    );
    assert!(enc.contains("HTTP 403: permission denied"), "{enc}");
    assert!(
        enc.contains(&format!("{}/v1/sops/nested/encrypt/k", good.url())),
        "{enc}"
    );
    assert!(
        dec.contains(
            "failed to decrypt sops data key from Vault transit backend 'sops/nested/decrypt/k'"
        ),
        "{dec}"
    );
    assert!(
        !enc.contains("wrong") && !dec.contains("wrong"),
        "the token leaked"
    );

    // The wrong key: the ciphertext does not belong to it.
    let text = String::from_utf8_lossy(&by_sops).replace("key_name: k", "key_name: other");
    s.write("wrong-key.yaml", text.as_bytes());
    for (program, name) in [(sops_bin.as_path(), "sops"), (rsops_bin(), "rsops")] {
        let out = run(&s, program, &["decrypt", "wrong-key.yaml"], &env);
        assert_eq!(code(&out), Some(128), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cipher: message authentication failed"),
            "{name}"
        );
    }

    // A server error, retried once (VAULT_MAX_RETRIES=1) by both tools.
    let log = s.path("requests.log");
    let failing = vault(&["--status", "500", "--log", log.to_str().unwrap()]).expect("python");
    let moved = String::from_utf8_lossy(&by_sops).replace(&good.url(), &failing.url());
    let (enc, dec) = check_failure(
        &s,
        &sops_bin,
        &["--hc-vault-transit", &uri(&failing, "k")],
        moved.as_bytes(),
        &[("VAULT_TOKEN", TOKEN), ("VAULT_MAX_RETRIES", "1")],
        bound,
    );
    assert!(enc.contains("HTTP 500: internal error"), "{enc}");
    assert!(dec.contains("HTTP 500"), "{dec}");
    let requests = std::fs::read_to_string(&log).unwrap().lines().count();
    assert_eq!(requests, 8, "2 tools × 2 commands × 2 attempts");

    // A 403 for every request.
    let denied = vault(&["--status", "403"]).expect("python");
    let moved = String::from_utf8_lossy(&by_sops).replace(&good.url(), &denied.url());
    check_failure(
        &s,
        &sops_bin,
        &["--hc-vault-transit", &uri(&denied, "k")],
        moved.as_bytes(),
        &env,
        bound,
    );

    // A slow server: VAULT_CLIENT_TIMEOUT bounds the call.
    let slow = vault(&["--delay", "8"]).expect("python");
    let moved = String::from_utf8_lossy(&by_sops).replace(&good.url(), &slow.url());
    let (enc, _) = check_failure(
        &s,
        &sops_bin,
        &["--hc-vault-transit", &uri(&slow, "k")],
        moved.as_bytes(),
        &[("VAULT_TOKEN", TOKEN), ("VAULT_CLIENT_TIMEOUT", "1")],
        Duration::from_secs(5),
    );
    assert!(enc.contains("no answer within 1 s"), "{enc}");

    // Nobody listening (retries disabled to keep the test short).
    let gone = slow.url();
    drop(slow);
    let moved = String::from_utf8_lossy(&by_sops).replace(&good.url(), &gone);
    let (enc, _) = check_failure(
        &s,
        &sops_bin,
        &[
            "--hc-vault-transit",
            &format!("{gone}/v1/sops/nested/keys/k"),
        ],
        moved.as_bytes(),
        &[("VAULT_TOKEN", TOKEN), ("VAULT_MAX_RETRIES", "0")],
        bound,
    );
    assert!(enc.to_lowercase().contains("connect"), "{enc}");
}

#[test]
fn vault_allowlist_keeps_the_token_from_other_servers() {
    // SOPS_HC_VAULT_ALLOWLIST is sops 3.13's; the reference 3.11 ignores it.
    let Some(server) = vault(&["--log", "/dev/null"]) else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let log = s.path("requests.log");
    let logged = vault(&["--log", log.to_str().unwrap()]).expect("python");
    let k = uri(&logged, "k");
    for (allow, allowed) in [
        ("none", false),
        ("https://vault.example.com", false),
        (server.url().as_str(), false),
        (logged.url().as_str(), true),
        ("all", true),
    ] {
        let out = run(
            &s,
            rsops_bin(),
            &["encrypt", "--hc-vault-transit", &k, "plain.yaml"],
            &[("VAULT_TOKEN", TOKEN), ("SOPS_HC_VAULT_ALLOWLIST", allow)],
        );
        if allowed {
            ok(&out, allow);
        } else {
            assert_eq!(code(&out), Some(1), "{allow}: {}", stderr(&out));
            assert!(
                stderr(&out).contains("Allowlist does not allow"),
                "{}",
                stderr(&out)
            );
        }
    }
    assert_eq!(
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count(),
        2
    );
}

#[test]
fn vault_rotate_and_updatekeys_move_a_file_between_keys() {
    let Some(sops_bin) = sops() else { return };
    let Some(server) = vault(&[]) else { return };
    let s = Scratch::new();
    let env = [("VAULT_TOKEN", TOKEN)];
    let (k1, k2) = (uri(&server, "k1"), uri(&server, "k2"));
    let (by_sops, _) = cross_check(&s, &sops_bin, &["--hc-vault-transit", &k1], &env);
    s.write("f.yaml", &by_sops);
    ok(
        &run(
            &s,
            rsops_bin(),
            &[
                "rotate",
                "-i",
                "--add-hc-vault-transit",
                &k2,
                "--rm-hc-vault-transit",
                &k1,
                "f.yaml",
            ],
            &env,
        ),
        "rsops rotate",
    );
    let rotated = std::fs::read_to_string(s.path("f.yaml")).unwrap();
    assert!(
        rotated.contains("key_name: k2") && !rotated.contains("key_name: k1"),
        "{rotated}"
    );
    let out = ok(
        &run(&s, &sops_bin, &["decrypt", "f.yaml"], &env),
        "sops decrypt",
    );
    assert_eq!(String::from_utf8_lossy(&out), PLAIN);

    // updatekeys back to k1 from .sops.yaml.
    s.write(
        ".sops.yaml",
        format!("creation_rules:\n  - key_groups:\n      - hc_vault: [{k1}]\n").as_bytes(),
    );
    ok(
        &run(&s, rsops_bin(), &["updatekeys", "-y", "f.yaml"], &env),
        "rsops updatekeys",
    );
    let updated = std::fs::read_to_string(s.path("f.yaml")).unwrap();
    assert!(
        updated.contains("key_name: k1") && !updated.contains("key_name: k2"),
        "{updated}"
    );
    let out = ok(
        &run(&s, &sops_bin, &["decrypt", "f.yaml"], &env),
        "sops decrypt",
    );
    assert_eq!(String::from_utf8_lossy(&out), PLAIN);
}

/// A test CA, a server certificate for 127.0.0.1 and a client certificate,
/// made with `openssl` (None when it is not installed).
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn make_pki(dir: &Path) -> Option<Pki> {
    if !openssl(dir, &["version"]) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "openssl is required under CI=true"
        );
        return None;
    }
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").ok()?;
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").ok()?;
    let steps: [&[&str]; 5] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=rsops test CA (TEST ONLY)",
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "client.key",
            "-out",
            "client.csr",
            "-subj",
            "/CN=rsops test client",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "client.pem",
            "-days",
            "2",
            "-extfile",
            "client.ext",
        ],
    ];
    for step in steps {
        assert!(openssl(dir, step), "openssl {step:?} failed");
    }
    Some(Pki {
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
    })
}

#[test]
fn vault_over_tls_with_a_test_ca_and_client_certificates() {
    let Some(sops_bin) = sops() else { return };
    if !python_has("ssl") {
        return;
    }
    let pki_dir = tempfile::tempdir().unwrap();
    let Some(pki) = make_pki(pki_dir.path()) else {
        return;
    };
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let (ca, cert, key) = (path(&pki.ca), path(&pki.server_cert), path(&pki.server_key));
    let server = TestServer::python("vault.py", &["--tls", &cert, &key]);
    let k = format!("https://127.0.0.1:{}/v1/sops/nested/keys/k", server.port);
    let s = Scratch::new();
    // VAULT_CACERT, VAULT_CAPATH, VAULT_SKIP_VERIFY each make it work.
    let (by_sops, _) = cross_check(
        &s,
        &sops_bin,
        &["--hc-vault-transit", &k],
        &[("VAULT_TOKEN", TOKEN), ("VAULT_CACERT", &ca)],
    );
    let ca_dir = pki_dir.path().join("cas");
    std::fs::create_dir(&ca_dir).unwrap();
    std::fs::copy(&pki.ca, ca_dir.join("ca.pem")).unwrap();
    cross_check(
        &s,
        &sops_bin,
        &["--hc-vault-transit", &k],
        &[("VAULT_TOKEN", TOKEN), ("VAULT_CAPATH", &path(&ca_dir))],
    );
    cross_check(
        &s,
        &sops_bin,
        &["--hc-vault-transit", &k],
        &[("VAULT_TOKEN", TOKEN), ("VAULT_SKIP_VERIFY", "true")],
    );
    // Without the CA the certificate is not trusted.
    let (enc, _) = check_failure(
        &s,
        &sops_bin,
        &["--hc-vault-transit", &k],
        &by_sops,
        &[("VAULT_TOKEN", TOKEN)],
        Duration::from_secs(20),
    );
    assert!(enc.to_lowercase().contains("certificate"), "{enc}");

    // Mutual TLS: the server requires a client certificate from the CA.
    let mtls = TestServer::python("vault.py", &["--tls", &cert, &key, "--client-ca", &ca]);
    let k = format!("https://127.0.0.1:{}/v1/sops/nested/keys/k", mtls.port);
    let (client_cert, client_key) = (path(&pki.client_cert), path(&pki.client_key));
    let (by_sops, _) = cross_check(
        &s,
        &sops_bin,
        &["--hc-vault-transit", &k],
        &[
            ("VAULT_TOKEN", TOKEN),
            ("VAULT_CACERT", &ca),
            ("VAULT_CLIENT_CERT", &client_cert),
            ("VAULT_CLIENT_KEY", &client_key),
        ],
    );
    check_failure(
        &s,
        &sops_bin,
        &["--hc-vault-transit", &k],
        &by_sops,
        &[("VAULT_TOKEN", TOKEN), ("VAULT_CACERT", &ca)],
        Duration::from_secs(20),
    );
}
