//! GCP Cloud KMS keys against a local mock of the REST API
//! (`tests/servers/gcpkms.py`), with the reference sops on the same mock:
//! sops reaches it as `cloudkms.googleapis.com` through the mock's CONNECT
//! proxy (`SOPS_GCP_KMS_CLIENT_TYPE=rest`, `HTTPS_PROXY`, `SSL_CERT_FILE`
//! with the mock's test CA); rsops either the same way or directly with
//! `SOPS_GCP_KMS_ENDPOINT`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::{demo_key_file, ok, sops, Scratch, DEMO_RECIPIENT};
use crate::servers::{python_has, TestServer};

const TOKEN: &str = "gcp-test-token";
const KEY: &str = "projects/p/locations/global/keyRings/r/cryptoKeys/k";
const KEY2: &str = "projects/p/locations/europe-west1/keyRings/r2/cryptoKeys/k2";
const PLAIN: &str = "db:\n    user: admin\n    password: s3cr3t\nport: 5432\n";

fn key(name: &str) -> String {
    format!("projects/p/locations/global/keyRings/r/cryptoKeys/{name}")
}

fn rsops_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rsops"))
}

/// A running mock and its directory (test CA, service account).
struct Gcp {
    server: TestServer,
    dir: tempfile::TempDir,
}

impl Gcp {
    /// Starts the mock; `None` (skip) when Python's `cryptography` is
    /// missing outside CI.
    fn start(extra: &[&str]) -> Option<Gcp> {
        if !python_has("cryptography") {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().to_str().expect("utf-8 path").to_owned();
        let mut args = vec!["--dir", d.as_str(), "--token", TOKEN];
        args.extend_from_slice(extra);
        let server = TestServer::python("gcpkms.py", &args);
        Some(Gcp { server, dir })
    }

    fn ca(&self) -> String {
        self.dir
            .path()
            .join("ca.pem")
            .to_string_lossy()
            .into_owned()
    }

    fn proxy(&self) -> String {
        self.server.url()
    }

    /// rsops talking to the mock directly, with a static token.
    fn direct(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SOPS_GCP_KMS_ENDPOINT", self.server.url()),
            ("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN.into()),
        ]
    }

    /// Either binary reaching "cloudkms.googleapis.com" through the proxy.
    fn proxied(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SOPS_GCP_KMS_CLIENT_TYPE", "rest".into()),
            ("HTTPS_PROXY", self.proxy()),
            ("SSL_CERT_FILE", self.ca()),
            ("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN.into()),
        ]
    }

    /// The TEST-ONLY service account the mock made, with its token
    /// endpoint pointed at the mock.
    fn service_account(&self, s: &Scratch) -> PathBuf {
        let text = std::fs::read_to_string(self.dir.path().join("sa.json")).expect("sa.json");
        let text = text.replace(
            "http://127.0.0.1:9/token",
            &format!("{}/token", self.server.url()),
        );
        s.write("sa.json", text.as_bytes())
    }

    fn requests(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("requests.log")).unwrap_or_default()
    }
}

/// Runs `program` in the scratch directory with the demo age key and `env`.
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

/// The file with the values that differ between runs (`enc`, armored age
/// files, dates, MAC, encrypted values) masked.
pub(crate) fn masked(text: &str) -> String {
    let line = regex::Regex::new(r"(?m)^(\s*-?\s*(?:enc|created_at|lastmodified|mac): ).*$")
        .expect("regex");
    let values = regex::Regex::new(r"ENC\[[^\]]*\]").expect("regex");
    let age = regex::Regex::new(
        r"(?s)-----BEGIN AGE ENCRYPTED FILE-----.*?-----END AGE ENCRYPTED FILE-----",
    )
    .expect("regex");
    let text = line.replace_all(text, "${1}X");
    let text = age.replace_all(&text, "AGE");
    super::common::order_free(&values.replace_all(&text, "ENC[X]"))
}

#[test]
fn files_cross_decrypt_between_sops_and_rsops_with_the_same_metadata() {
    let Some(sops) = sops() else { return };
    let Some(gcp) = Gcp::start(&[]) else { return };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let keys = format!("{KEY},{KEY2}");

    let by_sops = ok(
        &run(
            &s,
            &sops,
            &["encrypt", "--gcp-kms", &keys, "plain.yaml"],
            &gcp.proxied(),
        ),
        "sops encrypt",
    );
    assert!(
        gcp.requests()
            .contains("CONNECT cloudkms.googleapis.com:443"),
        "{}",
        gcp.requests()
    );
    s.write("by-sops.yaml", &by_sops);
    let by_rsops = ok(
        &run(
            &s,
            rsops_bin(),
            &["encrypt", "--gcp-kms", &keys, "plain.yaml"],
            &gcp.direct(),
        ),
        "rsops encrypt",
    );
    s.write("by-rsops.yaml", &by_rsops);
    let (a, b) = (
        String::from_utf8_lossy(&by_sops),
        String::from_utf8_lossy(&by_rsops),
    );
    assert_eq!(masked(&a), masked(&b));
    assert!(
        b.contains("gcp_kms:\n        - created_at: ")
            && b.contains(&format!("          resource_id: {KEY}\n")),
        "{b}"
    );

    // Each decrypts the other's file, with the data key from GCP only.
    for (program, file, env) in [
        (rsops_bin(), "by-sops.yaml", gcp.direct()),
        (rsops_bin(), "by-sops.yaml", gcp.proxied()),
        (sops.as_path(), "by-rsops.yaml", gcp.proxied()),
    ] {
        let out = run(&s, program, &["decrypt", file], &env);
        assert_eq!(ok(&out, "decrypt"), PLAIN.as_bytes(), "{program:?} {file}");
    }
    // The enc values are the standard base64 of the mock's ciphertext.
    let enc = b
        .lines()
        .find_map(|l| l.trim().strip_prefix("enc: "))
        .expect("enc line");
    // 16-byte tag + 32-byte data key = 48 bytes = 64 base64 characters.
    assert_eq!(enc.len(), 64, "{enc}");
    assert!(
        enc.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/'),
        "{enc}"
    );
}

#[test]
fn credentials_come_from_the_sources_sops_reads() {
    let Some(sops) = sops() else { return };
    let Some(gcp) = Gcp::start(&[]) else { return };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &run(
            &s,
            &sops,
            &["encrypt", "--gcp-kms", KEY, "plain.yaml"],
            &gcp.proxied(),
        ),
        "sops encrypt",
    );
    s.write("e.yaml", &enc);
    let sa = gcp.service_account(&s);
    let sa_path = sa.to_string_lossy().into_owned();
    let sa_json = std::fs::read_to_string(&sa).expect("sa");
    let endpoint = ("SOPS_GCP_KMS_ENDPOINT", gcp.server.url());
    let host = format!("127.0.0.1:{}", gcp.server.port);
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "GOOGLE_CREDENTIALS path",
            vec![endpoint.clone(), ("GOOGLE_CREDENTIALS", sa_path.clone())],
        ),
        (
            "GOOGLE_CREDENTIALS JSON",
            vec![endpoint.clone(), ("GOOGLE_CREDENTIALS", sa_json)],
        ),
        (
            "GOOGLE_APPLICATION_CREDENTIALS",
            vec![
                endpoint.clone(),
                ("GOOGLE_APPLICATION_CREDENTIALS", sa_path.clone()),
            ],
        ),
        (
            "metadata server",
            vec![endpoint.clone(), ("GCE_METADATA_HOST", host)],
        ),
        (
            // GOOGLE_CREDENTIALS comes before the static token.
            "GOOGLE_CREDENTIALS over token",
            vec![
                endpoint.clone(),
                ("GOOGLE_CREDENTIALS", sa_path.clone()),
                ("GOOGLE_OAUTH_ACCESS_TOKEN", "wrong".into()),
            ],
        ),
    ];
    for (what, env) in &cases {
        let out = run(&s, rsops_bin(), &["decrypt", "e.yaml"], env);
        assert_eq!(ok(&out, what), PLAIN.as_bytes(), "{what}");
    }
    // The reference sops reads the same service account file.
    let mut env = gcp.proxied();
    env.retain(|(k, _)| *k != "GOOGLE_OAUTH_ACCESS_TOKEN");
    env.push(("GOOGLE_CREDENTIALS", sa_path));
    assert_eq!(
        ok(&run(&s, &sops, &["decrypt", "e.yaml"], &env), "sops sa"),
        PLAIN.as_bytes()
    );

    // A rejected token: both fail with 128, rsops names the status.
    let bad = vec![
        ("SOPS_GCP_KMS_ENDPOINT", gcp.server.url()),
        ("GOOGLE_OAUTH_ACCESS_TOKEN", "wrong-token".to_owned()),
    ];
    let out = run(&s, rsops_bin(), &["decrypt", "e.yaml"], &bad);
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "GCP KMS key {KEY}: decrypt failed with HTTP 401: UNAUTHENTICATED"
        )),
        "{err}"
    );
    assert!(!err.contains("wrong-token"), "{err}");
    let mut bad_sops = gcp.proxied();
    bad_sops.retain(|(k, _)| *k != "GOOGLE_OAUTH_ACCESS_TOKEN");
    bad_sops.push(("GOOGLE_OAUTH_ACCESS_TOKEN", "wrong-token".into()));
    assert_eq!(
        run(&s, &sops, &["decrypt", "e.yaml"], &bad_sops)
            .status
            .code(),
        Some(128)
    );

    // Credentials JSON that is neither a file nor JSON.
    let out = run(
        &s,
        rsops_bin(),
        &["decrypt", "e.yaml"],
        &[
            endpoint,
            ("GOOGLE_CREDENTIALS", "/nonexistent/creds.json".into()),
        ],
    );
    assert_eq!(out.status.code(), Some(128));
    assert!(
        stderr(&out).contains("cannot get credentials from GOOGLE_CREDENTIALS: neither an existing file nor credentials JSON"),
        "{}",
        stderr(&out)
    );
}

/// Runs `args` with both binaries (sops through the proxy, rsops
/// directly) and checks both exit with the same code, that rsops's message
/// holds `needle`, and that `file` (when given) is left as it was.
fn both_fail(
    s: &Scratch,
    sops: &Path,
    gcp: &Gcp,
    args: &[&str],
    file: Option<&str>,
    code: i32,
    needle: &str,
) {
    let before = file.map(|f| std::fs::read(s.path(f)).expect("read"));
    let out = run(s, sops, args, &gcp.proxied());
    assert_eq!(
        out.status.code(),
        Some(code),
        "sops {args:?}: {}",
        stderr(&out)
    );
    let out = run(s, rsops_bin(), args, &gcp.direct());
    assert_eq!(
        out.status.code(),
        Some(code),
        "rsops {args:?}: {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    assert!(out.stdout.is_empty(), "{args:?}");
    if let (Some(f), Some(before)) = (file, before) {
        assert_eq!(
            std::fs::read(s.path(f)).expect("read"),
            before,
            "{f} was rewritten"
        );
    }
}

#[test]
fn failures_exit_like_sops_and_write_nothing() {
    let Some(sops) = sops() else { return };
    let Some(gcp) = Gcp::start(&[]) else { return };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let denied = key("denied");
    both_fail(
        &s,
        &sops,
        &gcp,
        &["encrypt", "-i", "--gcp-kms", &denied, "plain.yaml"],
        Some("plain.yaml"),
        1,
        &format!(
            "GCP KMS key {denied}: encrypt failed with HTTP 403: PERMISSION_DENIED: Permission"
        ),
    );
    let broken = key("broken");
    both_fail(
        &s,
        &sops,
        &gcp,
        &["encrypt", "-i", "--gcp-kms", &broken, "plain.yaml"],
        Some("plain.yaml"),
        1,
        "encrypt failed with HTTP 500: INTERNAL: Internal error encountered.",
    );
    both_fail(
        &s,
        &sops,
        &gcp,
        &["encrypt", "--gcp-kms", "projects/p/bad", "plain.yaml"],
        None,
        1,
        "no valid resource ID found in \"projects/p/bad\"",
    );
    // A file whose key entry names another key: the mock refuses.
    let enc = ok(
        &run(
            &s,
            rsops_bin(),
            &["encrypt", "--gcp-kms", KEY, "plain.yaml"],
            &gcp.direct(),
        ),
        "encrypt",
    );
    let text = String::from_utf8(enc).expect("utf-8").replace(KEY, KEY2);
    s.write("wrong.yaml", text.as_bytes());
    both_fail(
        &s,
        &sops,
        &gcp,
        &["decrypt", "wrong.yaml"],
        None,
        128,
        "decrypt failed with HTTP 400: INVALID_ARGUMENT: Decryption failed",
    );
    // rotate of that file fails before anything is written.
    both_fail(
        &s,
        &sops,
        &gcp,
        &["rotate", "-i", "wrong.yaml"],
        Some("wrong.yaml"),
        128,
        "Failed to get the data key",
    );

    // Server down: connection refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    s.write("right.yaml", text.replace(KEY2, KEY).as_bytes());
    let down = vec![
        ("SOPS_GCP_KMS_ENDPOINT", format!("http://127.0.0.1:{port}")),
        ("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN.to_owned()),
    ];
    let out = run(&s, rsops_bin(), &["decrypt", "right.yaml"], &down);
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("GCP KMS key {KEY}: decrypt request failed:")),
        "{}",
        stderr(&out)
    );
    let down_sops = vec![
        ("SOPS_GCP_KMS_CLIENT_TYPE", "rest".to_owned()),
        ("HTTPS_PROXY", format!("http://127.0.0.1:{port}")),
        ("SSL_CERT_FILE", gcp.ca()),
        ("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN.to_owned()),
    ];
    assert_eq!(
        run(&s, &sops, &["decrypt", "right.yaml"], &down_sops)
            .status
            .code(),
        Some(128)
    );
    let out = run(
        &s,
        rsops_bin(),
        &["encrypt", "-i", "--gcp-kms", KEY, "plain.yaml"],
        &down,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(s.path("plain.yaml")).expect("read"),
        PLAIN.as_bytes()
    );
}

#[test]
fn a_slow_server_is_given_up_on() {
    let Some(gcp) = Gcp::start(&["--slow", "60"]) else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let start = Instant::now();
    let out = run(
        &s,
        rsops_bin(),
        &["encrypt", "-i", "--gcp-kms", &key("slow"), "plain.yaml"],
        &gcp.direct(),
    );
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(took < Duration::from_secs(50), "took {took:?}");
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

#[test]
fn key_groups_mix_gcp_with_age_under_shamir_and_keys_move() {
    let Some(sops) = sops() else { return };
    let Some(gcp) = Gcp::start(&[]) else { return };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    s.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - gcp_kms:\n          - resource_id: {KEY}\n      - age:\n          - {DEMO_RECIPIENT}\n      - gcp_kms:\n          - resource_id: {KEY2}\n"
        )
        .as_bytes(),
    );
    let mut all = gcp.direct();
    all.extend(gcp.proxied());
    let by_rsops = ok(
        &run(&s, rsops_bin(), &["encrypt", "plain.yaml"], &all),
        "rsops encrypt",
    );
    let by_sops = ok(
        &run(&s, &sops, &["encrypt", "plain.yaml"], &gcp.proxied()),
        "sops encrypt",
    );
    assert_eq!(
        masked(&String::from_utf8_lossy(&by_rsops)),
        masked(&String::from_utf8_lossy(&by_sops))
    );
    s.write("by-rsops.yaml", &by_rsops);
    s.write("by-sops.yaml", &by_sops);
    assert_eq!(
        ok(
            &run(&s, &sops, &["decrypt", "by-rsops.yaml"], &gcp.proxied()),
            "sops"
        ),
        PLAIN.as_bytes()
    );
    assert_eq!(
        ok(
            &run(&s, rsops_bin(), &["decrypt", "by-sops.yaml"], &all),
            "rsops"
        ),
        PLAIN.as_bytes()
    );

    // Without GCP credentials, only the age group opens: below threshold.
    let out = s.run_env(
        rsops_bin(),
        &["decrypt", "by-sops.yaml"],
        Some(&demo_key_file()),
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));

    // rotate moves a file from age to GCP; sops opens it with GCP alone.
    std::fs::remove_file(s.path(".sops.yaml")).expect("remove config");
    let single = ok(
        &run(
            &s,
            rsops_bin(),
            &["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"],
            &all,
        ),
        "age encrypt",
    );
    s.write("moved.yaml", &single);
    ok(
        &run(
            &s,
            rsops_bin(),
            &[
                "rotate",
                "-i",
                "--add-gcp-kms",
                KEY,
                "--rm-age",
                DEMO_RECIPIENT,
                "moved.yaml",
            ],
            &all,
        ),
        "rotate",
    );
    let moved = std::fs::read_to_string(s.path("moved.yaml")).expect("read");
    assert!(
        moved.contains(KEY) && !moved.contains(DEMO_RECIPIENT),
        "{moved}"
    );
    let env: Vec<(&str, String)> = gcp.proxied();
    let env: Vec<(&str, &OsStr)> = env
        .iter()
        .map(|(k, v)| (*k, OsStr::new(v.as_str())))
        .collect();
    let out = s.run_env(&sops, &["decrypt", "moved.yaml"], None, &env, None);
    assert_eq!(ok(&out, "sops decrypt moved"), PLAIN.as_bytes());

    // updatekeys moves it on to the rule's keys (age + KEY2).
    s.write(
        ".sops.yaml",
        format!("creation_rules:\n  - gcp_kms: {KEY2}\n    age: {DEMO_RECIPIENT}\n").as_bytes(),
    );
    ok(
        &run(&s, rsops_bin(), &["updatekeys", "-y", "moved.yaml"], &all),
        "updatekeys",
    );
    let updated = std::fs::read_to_string(s.path("moved.yaml")).expect("read");
    assert!(
        updated.contains(KEY2) && !updated.contains(&format!("{KEY}\n")),
        "{updated}"
    );
    assert_eq!(
        ok(
            &run(&s, &sops, &["decrypt", "moved.yaml"], &gcp.proxied()),
            "sops"
        ),
        PLAIN.as_bytes()
    );
    let out = run(&s, rsops_bin(), &["updatekeys", "-y", "moved.yaml"], &all);
    assert!(
        stderr(&out).contains("already up to date"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn proxy_and_ca_are_honoured_by_rsops() {
    let Some(gcp) = Gcp::start(&[]) else { return };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &run(
            &s,
            rsops_bin(),
            &["encrypt", "--gcp-kms", KEY, "plain.yaml"],
            &gcp.proxied(),
        ),
        "encrypt through the proxy",
    );
    assert!(
        gcp.requests()
            .contains("CONNECT cloudkms.googleapis.com:443"),
        "{}",
        gcp.requests()
    );
    assert!(
        gcp.requests()
            .contains(&format!("POST /v1/{KEY}:encrypt proxy")),
        "{}",
        gcp.requests()
    );
    s.write("e.yaml", &enc);
    // Without the test CA the proxied TLS session is refused.
    let mut env = gcp.proxied();
    env.retain(|(k, _)| *k != "SSL_CERT_FILE");
    let out = run(&s, rsops_bin(), &["decrypt", "e.yaml"], &env);
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("decrypt request failed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unavailable_servers_are_retried_then_reported() {
    let Some(gcp) = Gcp::start(&[]) else { return };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let mut env = gcp.direct();
    env.push(("RSOPS_TEST_RETRY_BASE_MS", "1".into()));
    let count_503 = |name: &str| gcp.requests().matches(&format!("503 {name}\n")).count();

    // Two 503s on encrypt and two on decrypt, then success.
    let flaky = key("flaky");
    let enc = ok(
        &run(
            &s,
            rsops_bin(),
            &["encrypt", "--gcp-kms", &flaky, "plain.yaml"],
            &env,
        ),
        "encrypt through 503s",
    );
    assert_eq!(count_503("flaky"), 2, "{}", gcp.requests());
    s.write("flaky.yaml", &enc);
    let out = ok(
        &run(&s, rsops_bin(), &["decrypt", "flaky.yaml"], &env),
        "decrypt through 503s",
    );
    assert_eq!(out, PLAIN.as_bytes());
    assert_eq!(count_503("flaky"), 4, "{}", gcp.requests());

    // Always 503: retried until the call's time budget is spent, then a
    // clear error; exit codes 1 (encrypt) and 128 (decrypt) as sops, and
    // nothing written.
    let unavailable = key("unavailable");
    let out = run(
        &s,
        rsops_bin(),
        &["encrypt", "-i", "--gcp-kms", &unavailable, "plain.yaml"],
        &env,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let prefix = format!("GCP KMS key {unavailable}: encrypt failed with HTTP 503 after ");
    assert!(
        err.contains(&prefix)
            && err.contains(" attempts: UNAVAILABLE: The service is currently unavailable."),
        "{err}"
    );
    assert!(count_503("unavailable") >= 3, "{}", gcp.requests());
    assert_eq!(
        std::fs::read(s.path("plain.yaml")).expect("read"),
        PLAIN.as_bytes()
    );
    let text = String::from_utf8(enc)
        .expect("utf-8")
        .replace(&flaky, &unavailable);
    s.write("down.yaml", text.as_bytes());
    let out = run(&s, rsops_bin(), &["decrypt", "-i", "down.yaml"], &env);
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("decrypt failed with HTTP 503 after "),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(s.path("down.yaml")).expect("read"),
        text
    );
}

#[test]
fn no_credentials_list_every_source_tried() {
    // An empty HOME, no Google variable, a metadata server that refuses
    // connections: each source, one line each.
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let env = vec![("GCE_METADATA_HOST", format!("127.0.0.1:{port}"))];
    let sources = "no credentials; sources tried:\n    \
        - GOOGLE_CREDENTIALS: not set\n    \
        - GOOGLE_OAUTH_ACCESS_TOKEN: not set\n    \
        - application default credentials: GOOGLE_APPLICATION_CREDENTIALS not set, no gcloud file (~/.config/gcloud/application_default_credentials.json)\n    \
        - metadata server (GCE_METADATA_HOST): Connection refused (os error 111)";
    let enc = ["encrypt", "-i", "--gcp-kms", KEY, "plain.yaml"];
    let out = run(&s, rsops_bin(), &enc, &env);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "Could not generate data key: failed to encrypt new data key with master key \
             \"{KEY}\": GCP KMS key {KEY}: {sources}"
        )
    );
    assert_eq!(
        std::fs::read(s.path("plain.yaml")).expect("read"),
        PLAIN.as_bytes()
    );
    let file = format!(
        "a: ENC[AES256_GCM,data:Vw==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:int]\n\
         sops:\n    gcp_kms:\n        - resource_id: {KEY}\n          created_at: \"2026-12-07T03:05:40Z\"\n          enc: AAAA\n\
         \x20   lastmodified: \"2026-12-07T03:05:40Z\"\n\
         \x20   mac: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n\
         \x20   unencrypted_suffix: _unencrypted\n    version: 3.11.0\n"
    );
    s.write("secret.yaml", file.as_bytes());
    let out = run(&s, rsops_bin(), &["decrypt", "secret.yaml"], &env);
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("\n  {KEY}: GCP KMS key {KEY}: {sources}\n")),
        "{}",
        stderr(&out)
    );
    // (sops's exit codes for these command lines, 1 and 128, are compared
    // in `failures_exit_like_sops_and_write_nothing`; sops probes an
    // unanswering metadata server for a minute.)
}
