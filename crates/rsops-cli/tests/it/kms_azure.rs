//! Azure Key Vault keys against a local HTTPS mock of the vault
//! (`tests/servers/azurekv.py`: authentication challenge, App Service
//! managed-identity token endpoint, get key, RSA-OAEP-256 encrypt and
//! decrypt), with the reference sops on the same mock.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

use crate::common::{demo_key_file, ok, sops, Scratch, DEMO_RECIPIENT};
use crate::kms_gcp::masked;
use crate::servers::{python_has, TestServer};

const PLAIN: &str = "db:\n    user: admin\n    password: s3cr3t\nport: 5432\n";

/// The mock's tenant and application (its defaults).
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "3b3f6c2a-0d1e-4f5a-9b8c-7d6e5f4a3b2c";

fn rsops_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rsops"))
}

/// A running mock vault and its directory (test CA, request log).
struct Vault {
    server: TestServer,
    dir: tempfile::TempDir,
}

impl Vault {
    /// Starts the mock; `None` (skip) when Python's `cryptography` is
    /// missing outside CI.
    fn start(extra: &[&str]) -> Option<Vault> {
        if !python_has("cryptography") {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().to_str().expect("utf-8 path").to_owned();
        let mut args = vec!["--dir", d.as_str()];
        args.extend_from_slice(extra);
        let server = TestServer::python("azurekv.py", &args);
        Some(Vault { server, dir })
    }

    /// `https://127.0.0.1:PORT`.
    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.server.port)
    }

    /// The URL of key `name` (no version).
    fn key(&self, name: &str) -> String {
        format!("{}/keys/{name}", self.url())
    }

    /// Trust in the test CA and the App Service managed identity.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "SSL_CERT_FILE",
                self.dir
                    .path()
                    .join("ca.pem")
                    .to_string_lossy()
                    .into_owned(),
            ),
            ("IDENTITY_ENDPOINT", format!("{}/msi/token", self.url())),
            ("IDENTITY_HEADER", "test-identity-header".into()),
            // Retries of 5xx and refused connections (rsops) in
            // milliseconds.
            ("RSOPS_TEST_RETRY_BASE_MS", "1".into()),
        ]
    }

    /// Trust in the test CA and the mock's Entra token endpoint, with the
    /// mock's tenant and application, and no managed identity.
    fn entra_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SSL_CERT_FILE", self.file("ca.pem")),
            ("AZURE_AUTHORITY_HOST", self.url()),
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_ID", CLIENT_ID.into()),
        ]
    }

    /// The path of a file of the mock's directory.
    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    fn requests(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("requests.log")).unwrap_or_default()
    }

    fn clear_requests(&self) {
        let _ = std::fs::remove_file(self.dir.path().join("requests.log"));
    }
}

fn run(s: &Scratch, program: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let env: Vec<(&str, &OsStr)> = env
        .iter()
        .map(|(k, v)| (*k, OsStr::new(v.as_str())))
        .collect();
    s.run_env(program, args, Some(&demo_key_file()), &env, None)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `version:` of the (first) azure_kv entry.
fn version_of(text: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("version: "))
        .filter(|v| !v.starts_with("3."))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn files_cross_decrypt_and_versionless_keys_are_pinned_like_sops() {
    let Some(sops) = sops() else { return };
    let Some(vault) = Vault::start(&[]) else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let key = vault.key("sopskey");

    let by_sops = ok(
        &run(
            &s,
            &sops,
            &["encrypt", "--azure-kv", &key, "plain.yaml"],
            &vault.env(),
        ),
        "sops",
    );
    vault.clear_requests();
    let by_rsops = ok(
        &run(
            &s,
            rsops_bin(),
            &["encrypt", "--azure-kv", &key, "plain.yaml"],
            &vault.env(),
        ),
        "rsops",
    );
    let log = vault.requests();
    // The version is looked up first (challenge, then with a token).
    assert!(
        log.starts_with("GET /keys/sopskey/?api-version=7.6 challenge\n"),
        "{log}"
    );
    assert!(
        log.contains("GET /keys/sopskey/?api-version=7.6 authorised"),
        "{log}"
    );
    let (a, b) = (
        String::from_utf8_lossy(&by_sops),
        String::from_utf8_lossy(&by_rsops),
    );
    assert_eq!(masked(&a), masked(&b));
    let version = version_of(&b);
    assert_eq!(version.len(), 32, "{b}");
    assert_eq!(version, version_of(&a));
    assert!(
        b.contains(&format!(
            "          name: sopskey\n          vault_url: {}\n          version: {version}\n",
            vault.url()
        )),
        "{b}"
    );
    // enc is base64url without padding of a 2048-bit RSA result.
    let enc = b
        .lines()
        .find_map(|l| l.trim().strip_prefix("enc: "))
        .expect("enc");
    assert_eq!(enc.len(), 342, "{enc}");
    assert!(
        enc.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
        "{enc}"
    );

    s.write("by-sops.yaml", &by_sops);
    s.write("by-rsops.yaml", &by_rsops);
    assert_eq!(
        ok(
            &run(&s, rsops_bin(), &["decrypt", "by-sops.yaml"], &vault.env()),
            "rsops"
        ),
        PLAIN.as_bytes()
    );
    assert_eq!(
        ok(
            &run(&s, &sops, &["decrypt", "by-rsops.yaml"], &vault.env()),
            "sops"
        ),
        PLAIN.as_bytes()
    );

    // A key with a version is used as given: no lookup.
    vault.clear_requests();
    let versioned = format!("{key}/{version}");
    let out = run(
        &s,
        rsops_bin(),
        &["encrypt", "--azure-kv", &versioned, "plain.yaml"],
        &vault.env(),
    );
    assert_eq!(
        masked(&String::from_utf8_lossy(&ok(&out, "versioned"))),
        masked(&b)
    );
    assert!(
        !vault.requests().contains("GET /keys"),
        "{}",
        vault.requests()
    );
}

#[test]
fn config_key_groups_mix_azure_with_age_under_shamir() {
    let Some(sops) = sops() else { return };
    let Some(vault) = Vault::start(&[]) else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    s.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - azure_keyvault:\n          - vaultUrl: {}\n            key: sopskey\n      - age:\n          - {DEMO_RECIPIENT}\n      - azure_keyvault:\n          - vaultUrl: {}\n            key: other\n",
            vault.url(),
            vault.url()
        )
        .as_bytes(),
    );
    let by_sops = ok(
        &run(&s, &sops, &["encrypt", "plain.yaml"], &vault.env()),
        "sops",
    );
    let by_rsops = ok(
        &run(&s, rsops_bin(), &["encrypt", "plain.yaml"], &vault.env()),
        "rsops",
    );
    let (a, b) = (
        String::from_utf8_lossy(&by_sops),
        String::from_utf8_lossy(&by_rsops),
    );
    assert_eq!(masked(&a), masked(&b));
    assert!(b.contains("shamir_threshold: 2"), "{b}");
    s.write("by-sops.yaml", &by_sops);
    s.write("by-rsops.yaml", &by_rsops);
    assert_eq!(
        ok(
            &run(&s, &sops, &["decrypt", "by-rsops.yaml"], &vault.env()),
            "sops"
        ),
        PLAIN.as_bytes()
    );
    assert_eq!(
        ok(
            &run(&s, rsops_bin(), &["decrypt", "by-sops.yaml"], &vault.env()),
            "rsops"
        ),
        PLAIN.as_bytes()
    );
    // Without Azure, the age group alone is below the threshold.
    let out = s.run_env(
        rsops_bin(),
        &["decrypt", "by-sops.yaml"],
        Some(&demo_key_file()),
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
}

#[test]
fn rotate_and_updatekeys_move_files_between_age_and_azure() {
    let Some(sops) = sops() else { return };
    let Some(vault) = Vault::start(&[]) else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &run(
            &s,
            rsops_bin(),
            &["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"],
            &vault.env(),
        ),
        "age",
    );
    s.write("f.yaml", &enc);
    let key = vault.key("sopskey");
    ok(
        &run(
            &s,
            rsops_bin(),
            &[
                "rotate",
                "-i",
                "--add-azure-kv",
                &key,
                "--rm-age",
                DEMO_RECIPIENT,
                "f.yaml",
            ],
            &vault.env(),
        ),
        "rotate",
    );
    let text = std::fs::read_to_string(s.path("f.yaml")).expect("read");
    assert!(
        !text.contains(DEMO_RECIPIENT) && version_of(&text).len() == 32,
        "{text}"
    );
    // sops opens it with the vault alone (no age key).
    let env: Vec<(&str, String)> = vault.env();
    let env: Vec<(&str, &OsStr)> = env
        .iter()
        .map(|(k, v)| (*k, OsStr::new(v.as_str())))
        .collect();
    let out = s.run_env(&sops, &["decrypt", "f.yaml"], None, &env, None);
    assert_eq!(ok(&out, "sops decrypt"), PLAIN.as_bytes());

    // updatekeys with a version-less key in the rule: the pinned version
    // is the file's, so the first run changes only the age key and the
    // second finds the file up to date (as sops does).
    s.write(
        ".sops.yaml",
        format!("creation_rules:\n  - azure_keyvault: {key}\n    age: {DEMO_RECIPIENT}\n")
            .as_bytes(),
    );
    let out = run(
        &s,
        rsops_bin(),
        &["updatekeys", "-y", "f.yaml"],
        &vault.env(),
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("+++ {DEMO_RECIPIENT}")), "{err}");
    assert!(!err.contains("--- https://"), "{err}");
    for program in [rsops_bin(), sops.as_path()] {
        let out = run(&s, program, &["updatekeys", "-y", "f.yaml"], &vault.env());
        assert!(
            stderr(&out).contains("already up to date"),
            "{program:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        ok(&run(&s, &sops, &["decrypt", "f.yaml"], &[]), "sops age"),
        PLAIN.as_bytes()
    );

    // --rm-azure-kv with the URL without version removes the versioned
    // entry (sops resolves the latest version, which is the same here;
    // rsops matches vault and name, without asking the vault).
    let before = std::fs::read(s.path("f.yaml")).expect("read");
    s.write("g.yaml", &before);
    vault.clear_requests();
    for (program, file) in [(rsops_bin(), "f.yaml"), (sops.as_path(), "g.yaml")] {
        let out = run(
            &s,
            program,
            &["rotate", "-i", "--rm-azure-kv", &key, file],
            &vault.env(),
        );
        ok(&out, "rotate --rm-azure-kv");
        let text = std::fs::read_to_string(s.path(file)).expect("read");
        assert!(
            !text.contains("azure_kv") && text.contains(DEMO_RECIPIENT),
            "{program:?}: {text}"
        );
        if program == rsops_bin() {
            assert_eq!(vault.requests(), "", "rsops asked the vault");
        }
    }
}

#[test]
fn failures_exit_like_sops_and_write_nothing() {
    let Some(sops) = sops() else { return };
    let Some(vault) = Vault::start(&[]) else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let both = |args: &[&str], env: &[(&str, String)], code: i32, needle: &str| {
        let before = std::fs::read(s.path("plain.yaml")).expect("read");
        let out = run(&s, &sops, args, env);
        assert_eq!(
            out.status.code(),
            Some(code),
            "sops {args:?}: {}",
            stderr(&out)
        );
        let out = run(&s, rsops_bin(), args, env);
        assert_eq!(
            out.status.code(),
            Some(code),
            "rsops {args:?}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
        assert_eq!(std::fs::read(s.path("plain.yaml")).expect("read"), before);
        stderr(&out)
    };
    let env = vault.env();
    // 403 while resolving the version, and on encrypt.
    let denied = vault.key("denied");
    both(
        &["encrypt", "-i", "--azure-kv", &denied, "plain.yaml"],
        &env,
        1,
        &format!(
            "Azure Key Vault key {denied}/: get key failed with HTTP 403 (Forbidden): The user"
        ),
    );
    both(
        &[
            "encrypt",
            "-i",
            "--azure-kv",
            &format!("{denied}/0123"),
            "plain.yaml",
        ],
        &env,
        1,
        "encrypt failed with HTTP 403 (Forbidden)",
    );
    both(
        &[
            "encrypt",
            "-i",
            "--azure-kv",
            &vault.key("missing"),
            "plain.yaml",
        ],
        &env,
        1,
        "get key failed with HTTP 404 (KeyNotFound)",
    );
    both(
        &[
            "encrypt",
            "-i",
            "--azure-kv",
            &format!("{}/0123", vault.key("broken")),
            "plain.yaml",
        ],
        &env,
        1,
        "encrypt failed with HTTP 500 (InternalServerError)",
    );

    // Decryption failures: 128 for both.
    let good = ok(
        &run(
            &s,
            rsops_bin(),
            &["encrypt", "--azure-kv", &vault.key("sopskey"), "plain.yaml"],
            &env,
        ),
        "encrypt",
    );
    let good = String::from_utf8(good).expect("utf-8");
    s.write("good.yaml", good.as_bytes());
    // Another key's ciphertext: the mock's RSA decryption fails.
    let other = ok(
        &run(
            &s,
            rsops_bin(),
            &["encrypt", "--azure-kv", &vault.key("other"), "plain.yaml"],
            &env,
        ),
        "encrypt",
    );
    let other = String::from_utf8(other).expect("utf-8");
    let other_enc = other
        .lines()
        .find_map(|l| l.trim().strip_prefix("enc: "))
        .expect("enc");
    let good_enc = good
        .lines()
        .find_map(|l| l.trim().strip_prefix("enc: "))
        .expect("enc");
    s.write("wrong.yaml", good.replace(good_enc, other_enc).as_bytes());
    let decrypt = |file: &str, env: &[(&str, String)], needle: &str| {
        let out = run(&s, &sops, &["decrypt", file], env);
        assert_eq!(
            out.status.code(),
            Some(128),
            "sops {file}: {}",
            stderr(&out)
        );
        let out = run(&s, rsops_bin(), &["decrypt", file], env);
        assert_eq!(
            out.status.code(),
            Some(128),
            "rsops {file}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(needle), "{file}: {}", stderr(&out));
        stderr(&out)
    };
    decrypt(
        "wrong.yaml",
        &env,
        "decrypt failed with HTTP 400 (BadParameter): Decryption failed.",
    );
    // 401 challenge but no credential at all: every source of the chain,
    // one line each (the managed identity's reason depends on the
    // machine's network: whatever answers 169.254.169.254, if anything).
    let err = decrypt(
        "good.yaml",
        &[("SSL_CERT_FILE", env[0].1.clone())],
        "decrypt: no credential gave a token; sources tried:\n",
    );
    assert!(!err.contains("mock-kv-token"), "{err}");
    let managed = regex::Regex::new(r"(?m)^    - managed identity: .*$").expect("regex");
    let err = managed.replace(&err, "    - managed identity: (varies)");
    let cli = regex::Regex::new(r"(?m)^    - (Azure CLI|Azure Developer CLI): .*$").expect("regex");
    let err = cli.replace_all(&err, "    - $1: (varies)");
    let key = format!("{}/{}", vault.key("sopskey"), version_of(&good));
    let expected = format!(
        "\n  {key}: Azure Key Vault key {key}: decrypt: no credential gave a token; sources tried:\n    \
         - environment: AZURE_TENANT_ID and AZURE_CLIENT_ID are not both set\n    \
         - workload identity: AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID are not all set\n    \
         - managed identity: (varies)\n    \
         - Azure CLI: (varies)\n    \
         - Azure Developer CLI: (varies)\n"
    );
    assert!(err.contains(&expected), "{err}");
    // The server's certificate is not trusted without the test CA.
    let untrusted: Vec<(&str, String)> = env
        .iter()
        .filter(|(k, _)| *k != "SSL_CERT_FILE")
        .cloned()
        .collect();
    decrypt("good.yaml", &untrusted, "decrypt request failed");
    // Server down.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    s.write(
        "down.yaml",
        good.replace(&vault.url(), &format!("https://127.0.0.1:{port}"))
            .as_bytes(),
    );
    decrypt("down.yaml", &env, "decrypt request failed");
}

#[test]
fn a_challenge_for_another_domain_is_refused() {
    let Some(vault) = Vault::start(&[]) else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    // "localhost:PORT" does not end with ".0.0.1:PORT": the token would go
    // to a resource the vault is not part of.
    let key = format!("https://localhost:{}/keys/sopskey", vault.server.port);
    let out = run(
        &s,
        rsops_bin(),
        &["encrypt", "--azure-kv", &key, "plain.yaml"],
        &vault.env(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("challenge resource \"https://0.0.1:"),
        "{}",
        stderr(&out)
    );
    assert!(!vault.requests().contains("msi"), "{}", vault.requests());
}

#[test]
fn a_slow_vault_is_given_up_on() {
    let Some(vault) = Vault::start(&["--slow", "60"]) else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let key = format!("{}/0123", vault.key("slow"));
    let start = std::time::Instant::now();
    let out = run(
        &s,
        rsops_bin(),
        &["encrypt", "-i", "--azure-kv", &key, "plain.yaml"],
        &vault.env(),
    );
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(took < std::time::Duration::from_secs(50), "took {took:?}");
    assert!(
        stderr(&out).contains("encrypt request failed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(s.path("plain.yaml")).expect("read"),
        PLAIN.as_bytes()
    );
}

/// Runs rsops with `env` (and no age key): its output.
fn rsops_env(s: &Scratch, args: &[&str], env: &[(&str, String)]) -> Output {
    let env: Vec<(&str, &OsStr)> = env
        .iter()
        .map(|(k, v)| (*k, OsStr::new(v.as_str())))
        .collect();
    s.run_env(rsops_bin(), args, None, &env, None)
}

#[test]
fn client_certificates_and_workload_identities_get_tokens_from_entra() {
    let Some(vault) = Vault::start(&[]) else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let key = vault.key("sopskey");
    let with = |extra: &[(&'static str, String)]| {
        let mut env = vault.entra_env();
        env.extend_from_slice(extra);
        env
    };

    // The certificate (PEM: certificate then PKCS#8 key) signs a client
    // assertion the mock checks against the certificate.
    let cert = with(&[("AZURE_CLIENT_CERTIFICATE_PATH", vault.file("client.pem"))]);
    let enc = ok(
        &rsops_env(&s, &["encrypt", "--azure-kv", &key, "plain.yaml"], &cert),
        "encrypt with a client certificate",
    );
    assert!(
        vault.requests().contains("token certificate x5c=no"),
        "{}",
        vault.requests()
    );
    s.write("enc.yaml", &enc);
    vault.clear_requests();
    let mut chain = cert.clone();
    chain.push(("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "true".into()));
    let out = ok(&rsops_env(&s, &["decrypt", "enc.yaml"], &chain), "decrypt");
    assert_eq!(out, PLAIN.as_bytes());
    assert!(
        vault.requests().contains("token certificate x5c=yes"),
        "{}",
        vault.requests()
    );

    // The key before the certificate.
    let pem = std::fs::read_to_string(vault.file("client.pem")).expect("pem");
    let split = pem.find("-----BEGIN PRIVATE KEY-----").expect("key");
    s.write(
        "reordered.pem",
        format!("{}{}", &pem[split..], &pem[..split]).as_bytes(),
    );
    let reordered = with(&[(
        "AZURE_CLIENT_CERTIFICATE_PATH",
        s.path("reordered.pem").to_string_lossy().into_owned(),
    )]);
    let out = ok(
        &rsops_env(&s, &["decrypt", "enc.yaml"], &reordered),
        "key first",
    );
    assert_eq!(out, PLAIN.as_bytes());

    // A certificate the key does not belong to: the environment credential
    // is unavailable, and the error says why (never key material).
    s.write(
        "mismatch.pem",
        format!(
            "{}{}",
            std::fs::read_to_string(vault.file("ca.pem")).expect("ca"),
            &pem[split..]
        )
        .as_bytes(),
    );
    let mismatch = with(&[(
        "AZURE_CLIENT_CERTIFICATE_PATH",
        s.path("mismatch.pem").to_string_lossy().into_owned(),
    )]);
    let out = rsops_env(&s, &["decrypt", "enc.yaml"], &mismatch);
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("environment: ")
            && err.contains("mismatch.pem: no certificate in the file matches the private key"),
        "{err}"
    );
    assert!(
        !err.contains("PRIVATE KEY") && !err.contains("mock-kv-token"),
        "{err}"
    );
    // PKCS#12 is refused with a hint.
    s.write("cert.pfx", b"\x30\x82\x0a\x00not pem");
    let pfx = with(&[(
        "AZURE_CLIENT_CERTIFICATE_PATH",
        s.path("cert.pfx").to_string_lossy().into_owned(),
    )]);
    let out = rsops_env(&s, &["decrypt", "enc.yaml"], &pfx);
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("PKCS#12 (.pfx) certificates are not supported by rsops"),
        "{}",
        stderr(&out)
    );

    // Workload identity: the federated token file is the assertion.
    vault.clear_requests();
    let workload = with(&[("AZURE_FEDERATED_TOKEN_FILE", vault.file("federated-token"))]);
    let out = ok(
        &rsops_env(&s, &["decrypt", "enc.yaml"], &workload),
        "workload identity",
    );
    assert_eq!(out, PLAIN.as_bytes());
    assert!(
        vault.requests().contains("token workload"),
        "{}",
        vault.requests()
    );
    // A token Entra refuses ends the chain with Entra's reason.
    s.write("wrong-token", b"not-the-federated-token");
    let wrong = with(&[(
        "AZURE_FEDERATED_TOKEN_FILE",
        s.path("wrong-token").to_string_lossy().into_owned(),
    )]);
    let out = rsops_env(&s, &["decrypt", "enc.yaml"], &wrong);
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("workload identity: ") && err.contains("AADSTS700027"),
        "{err}"
    );
    assert!(!err.contains("not-the-federated-token"), "{err}");
}

#[test]
fn transient_vault_failures_are_retried_then_reported() {
    let Some(vault) = Vault::start(&[]) else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let env = vault.env();

    // Two 503s, then success: the file is written.
    let out = ok(
        &run(
            &s,
            rsops_bin(),
            &["encrypt", "--azure-kv", &vault.key("flaky"), "plain.yaml"],
            &env,
        ),
        "encrypt through 503s",
    );
    assert_eq!(
        vault.requests().matches(" 503\n").count(),
        2,
        "{}",
        vault.requests()
    );
    s.write("flaky.yaml", &out);
    assert_eq!(
        ok(
            &run(&s, rsops_bin(), &["decrypt", "flaky.yaml"], &env),
            "decrypt"
        ),
        PLAIN.as_bytes()
    );

    // Always 503: four attempts (azcore's three retries), a clear error,
    // exit code 1 as for any encryption failure, nothing written.
    vault.clear_requests();
    let key = format!("{}/0123", vault.key("unavailable"));
    let out = run(
        &s,
        rsops_bin(),
        &["encrypt", "-i", "--azure-kv", &key, "plain.yaml"],
        &env,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "Azure Key Vault key {key}: encrypt failed with HTTP 503 (ServiceUnavailable) after 4 \
             attempts: Mock: the service is unavailable."
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        vault.requests().matches(" 503\n").count(),
        4,
        "{}",
        vault.requests()
    );
    assert_eq!(
        std::fs::read(s.path("plain.yaml")).expect("read"),
        PLAIN.as_bytes()
    );
    // Decryption: exit code 128.
    let text = String::from_utf8(out_of(&s, "flaky.yaml")).expect("utf-8");
    s.write(
        "down.yaml",
        text.replace("name: flaky\n", "name: unavailable\n")
            .as_bytes(),
    );
    let before = std::fs::read(s.path("down.yaml")).expect("read");
    let out = run(&s, rsops_bin(), &["decrypt", "-i", "down.yaml"], &env);
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("decrypt failed with HTTP 503 (ServiceUnavailable) after 4 attempts"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(s.path("down.yaml")).expect("read"), before);
}

fn out_of(s: &Scratch, name: &str) -> Vec<u8> {
    std::fs::read(s.path(name)).expect("read")
}
