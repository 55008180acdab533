//! The key service, both ways, against the real sops 3.11: rsops sends its
//! key operations to `sops keyservice`, and sops sends its key operations to
//! `rsops keyservice`, over a unix socket and TCP on loopback. The server
//! holds an age identity and an OpenPGP secret key (its own GnuPG home) that
//! the client's process cannot see; the client runs with
//! `--enable-local-keyservice=false`.
//!
//! Tests skip when sops or gpg is missing, except under `CI=true`, where
//! they fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{demo_key_file, ok, sops, Scratch, DEMO_RECIPIENT};

/// How long a key service may take to start listening.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) const PLAIN: &str = "db:\n    user: admin\n    password: s3cr3t\n";

/// A GnuPG home with one unprotected key, short enough for gpg-agent's
/// socket; its agent is stopped on drop.
pub(crate) struct GpgHome {
    dir: tempfile::TempDir,
    fingerprint: String,
}

impl GpgHome {
    /// A home with a new key, or `None` (skip) when gpg is missing outside
    /// CI.
    pub(crate) fn with_key() -> Option<GpgHome> {
        let works = Command::new("gpg")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !works {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "gpg is required under CI=true"
            );
            eprintln!("note: gpg not found; skipping");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("rsops-ks-")
            .tempdir_in("/tmp")
            .expect("gpg home");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
                .expect("chmod");
        }
        let mut home = GpgHome {
            dir,
            fingerprint: String::new(),
        };
        home.gpg(&[
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            "keyservice test <ks@example.invalid>",
            "default",
            "default",
            "never",
        ]);
        let listing = String::from_utf8(home.gpg(&["--with-colons", "--list-keys"])).unwrap();
        home.fingerprint = listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .map(|l| l.trim_matches(':').to_owned())
            .expect("fingerprint");
        Some(home)
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    fn gpg(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("gpg")
            .env("GNUPGHOME", self.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("gpg");
        ok(&out, &format!("gpg {args:?}"))
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "all"])
            .env("GNUPGHOME", self.path())
            .status();
    }
}

/// A key service process, killed on drop.
pub(crate) struct Service {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a service listens.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Net {
    Unix,
    Tcp,
}

/// A free loopback port (released before the service binds it).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `program keyservice` with the server's keys (the demo age
/// identity and `gpg`'s home) and waits until it accepts connections.
fn start(s: &Scratch, program: &Path, net: Net, gpg: &GpgHome) -> Service {
    start_env(
        s,
        program,
        net,
        &[
            ("SOPS_AGE_KEY_FILE", demo_key_file().into_os_string()),
            ("GNUPGHOME", gpg.path().as_os_str().to_owned()),
        ],
    )
}

/// Starts `program keyservice` with `env` on top of a clean environment
/// (no `SOPS_*`, `AWS_*`, `VAULT_*`… of the test process) and waits until
/// it accepts connections.
pub(crate) fn start_env(
    s: &Scratch,
    program: &Path,
    net: Net,
    env: &[(&str, std::ffi::OsString)],
) -> Service {
    let (flags, url, probe): (Vec<String>, String, Box<dyn Fn() -> bool>) = match net {
        Net::Unix => {
            // A new name each time: a killed sops leaves its socket file.
            static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let sock = s.path(&format!("ks-{}-{n}.sock", std::process::id()));
            let url = format!("unix://{}", sock.display());
            let flags = vec![
                "--network".into(),
                "unix".into(),
                "--address".into(),
                sock.display().to_string(),
            ];
            let probe = move || std::os::unix::net::UnixStream::connect(&sock).is_ok();
            (flags, url, Box::new(probe))
        }
        Net::Tcp => {
            let addr = format!("127.0.0.1:{}", free_port());
            let flags = vec!["--net".into(), "tcp".into(), "--addr".into(), addr.clone()];
            let url = format!("tcp://{addr}");
            let probe = move || std::net::TcpStream::connect(&addr).is_ok();
            (flags, url, Box::new(probe))
        }
    };
    let mut c = Command::new(program);
    c.current_dir(s.dir.path())
        .arg("keyservice")
        .args(&flags)
        .env("HOME", s.path("server-home"))
        .env("GNUPGHOME", s.path("server-gnupg"))
        .env_remove("GPG_TTY");
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if [
            "SOPS_",
            "AWS_",
            "VAULT_",
            "GOOGLE_",
            "AZURE_",
            "HUAWEICLOUD_",
            "RSOPS_",
        ]
        .iter()
        .any(|p| name.starts_with(p))
        {
            c.env_remove(&*name);
        }
    }
    c.envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let child = c.spawn().expect("start the key service");
    let mut service = Service { child, url };
    let deadline = Instant::now() + START_TIMEOUT;
    while !probe() {
        if let Ok(Some(status)) = service.child.try_wait() {
            panic!("{program:?} keyservice exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "{program:?} keyservice did not listen within {START_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    service
}

/// Runs `program` as a client: no age identity, an empty GnuPG home, only
/// the remote service.
pub(crate) fn client(s: &Scratch, program: &Path, service: &str, args: &[&str]) -> Output {
    client_env(s, program, service, args, &[])
}

/// [`client`] with extra environment variables.
pub(crate) fn client_env(
    s: &Scratch,
    program: &Path,
    service: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut all = vec![
        args[0],
        "--enable-local-keyservice=false",
        "--keyservice",
        service,
    ];
    all.extend_from_slice(&args[1..]);
    let gnupg = s.path("client-gnupg");
    let mut vars: Vec<(&str, Option<&std::ffi::OsStr>)> =
        vec![("GNUPGHOME", Some(gnupg.as_os_str()))];
    vars.extend(
        env.iter()
            .map(|(k, v)| (*k, Some(std::ffi::OsStr::new(*v)))),
    );
    s.run_with_env(program, &all, None, &vars, None)
}

pub(crate) fn rsops_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rsops"))
}

pub(crate) fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

/// The `enc` values of an encrypted YAML file (one armored block per
/// master key).
fn encs(file: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in file.lines().map(str::trim) {
        if line.starts_with("-----BEGIN ") {
            current = Some(String::new());
        }
        if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
        if line.starts_with("-----END ") {
            blocks.extend(current.take());
        }
    }
    blocks
}

/// rsops encrypts, decrypts and rotates through `sops keyservice`.
fn rsops_through_sops(net: Net) {
    let (Some(sops), Some(gpg)) = (sops(), GpgHome::with_key()) else {
        return;
    };
    let s = Scratch::new();
    std::fs::create_dir_all(s.path("client-gnupg")).unwrap();
    s.write("plain.yaml", PLAIN.as_bytes());
    let server = start(&s, &sops, net, &gpg);
    let url = server.url.as_str();
    let rsops = rsops_bin();
    let fp = gpg.fingerprint.as_str();

    // age and PGP together, then each alone (so that each kind is the one
    // that decrypts).
    for (name, keys) in [
        ("both", vec!["--age", DEMO_RECIPIENT, "--pgp", fp]),
        ("age", vec!["--age", DEMO_RECIPIENT]),
        ("pgp", vec!["--pgp", fp]),
    ] {
        let mut args = vec!["encrypt"];
        args.extend(keys.iter().copied());
        args.push("plain.yaml");
        let enc = text(ok(&client(&s, &rsops, url, &args), "rsops encrypt"));
        let file = format!("{name}.enc.yaml");
        s.write(&file, enc.as_bytes());
        assert_eq!(encs(&enc).len(), keys.len() / 2, "{enc}");

        // The client alone has no key.
        let alone = s.run_with_env(
            &rsops,
            &["decrypt", &file],
            None,
            &[("GNUPGHOME", Some(s.path("client-gnupg").as_os_str()))],
            None,
        );
        assert_eq!(
            alone.status.code(),
            Some(128),
            "{name}: decrypted without the service"
        );

        let dec = client(&s, &rsops, url, &["decrypt", &file]);
        assert_eq!(text(ok(&dec, "rsops decrypt")), PLAIN, "{name}");
        // sops itself, with its local key service only, agrees (it has the
        // keys through the server's environment, so use the service too).
        let by_sops = client(&s, &sops, url, &["decrypt", &file]);
        assert_eq!(text(ok(&by_sops, "sops decrypt")), PLAIN, "{name}");

        let rotated = client(&s, &rsops, url, &["rotate", "-i", &file]);
        ok(&rotated, "rsops rotate");
        let after = std::fs::read_to_string(s.path(&file)).unwrap();
        assert_ne!(
            encs(&after),
            encs(&enc),
            "{name}: rotate re-wraps a new data key"
        );
        let dec = client(&s, &rsops, url, &["decrypt", &file]);
        assert_eq!(
            text(ok(&dec, "rsops decrypt after rotate")),
            PLAIN,
            "{name}"
        );
    }
}

/// sops encrypts and decrypts through `rsops keyservice`.
fn sops_through_rsops(net: Net) {
    let (Some(sops), Some(gpg)) = (sops(), GpgHome::with_key()) else {
        return;
    };
    let s = Scratch::new();
    std::fs::create_dir_all(s.path("client-gnupg")).unwrap();
    s.write("plain.yaml", PLAIN.as_bytes());
    let rsops = rsops_bin();
    let server = start(&s, &rsops, net, &gpg);
    let url = server.url.as_str();
    let fp = gpg.fingerprint.as_str();
    for (name, keys) in [
        ("age", vec!["--age", DEMO_RECIPIENT]),
        ("pgp", vec!["--pgp", fp]),
        ("both", vec!["--age", DEMO_RECIPIENT, "--pgp", fp]),
    ] {
        let mut args = vec!["encrypt"];
        args.extend(keys.iter().copied());
        args.push("plain.yaml");
        let enc = text(ok(&client(&s, &sops, url, &args), "sops encrypt"));
        let file = format!("{name}.enc.yaml");
        s.write(&file, enc.as_bytes());
        let alone = s.run_with_env(
            &sops,
            &["decrypt", &file],
            None,
            &[("GNUPGHOME", Some(s.path("client-gnupg").as_os_str()))],
            None,
        );
        assert_eq!(
            alone.status.code(),
            Some(128),
            "{name}: decrypted without the service"
        );
        let dec = client(&s, &sops, url, &["decrypt", &file]);
        assert_eq!(text(ok(&dec, "sops decrypt")), PLAIN, "{name}");
    }
}

#[test]
fn rsops_uses_sops_keyservice_over_a_unix_socket() {
    rsops_through_sops(Net::Unix);
}

#[test]
fn rsops_uses_sops_keyservice_over_tcp() {
    rsops_through_sops(Net::Tcp);
}

#[test]
fn sops_uses_rsops_keyservice_over_a_unix_socket() {
    sops_through_rsops(Net::Unix);
}

#[test]
fn sops_uses_rsops_keyservice_over_tcp() {
    sops_through_rsops(Net::Tcp);
}

/// A service that is down: a clear error naming it, sops's exit codes
/// (encrypt 1, decrypt 128), nothing written.
#[test]
fn a_service_that_is_down_is_a_clear_error() {
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let rsops = rsops_bin();
    let url = format!("unix://{}", s.path("nobody.sock").display());
    let out = client(
        &s,
        &rsops,
        &url,
        &["encrypt", "-i", "--age", DEMO_RECIPIENT, "plain.yaml"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Could not generate data key"), "{err}");
    assert!(
        err.contains(&format!("key service {url}: cannot connect")),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(s.path("plain.yaml")).unwrap(),
        PLAIN,
        "nothing written"
    );

    // A file the demo key opens; decrypting it only through the dead
    // service fails as sops does (128) and names the service.
    let enc = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"]),
        "encrypt",
    );
    s.write("secret.yaml", &enc);
    let port = free_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let out = client(&s, &rsops, &tcp, &["decrypt", "secret.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(128), "{err}");
    assert!(
        err.contains(&format!("key service {tcp}: cannot connect")),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    // With the local service enabled too, the local key wins.
    let out = s.rsops(&["decrypt", "--keyservice", &tcp, "secret.yaml"]);
    assert_eq!(text(ok(&out, "decrypt")), PLAIN);

    // No service at all: sops's message on encrypt (exit 1), every key
    // failing on decrypt (exit 128).
    let out = s.rsops(&[
        "encrypt",
        "--enable-local-keyservice=false",
        "--age",
        DEMO_RECIPIENT,
        "plain.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no key services provided, cannot update master keys"));
    let out = s.rsops(&["decrypt", "--enable-local-keyservice=false", "secret.yaml"]);
    assert_eq!(out.status.code(), Some(128));
}

/// An address rsops cannot use is skipped with a warning, as sops does.
#[test]
fn an_unusable_address_is_skipped_with_a_warning() {
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let out = s.rsops(&[
        "encrypt",
        "--keyservice",
        "localhost:5000",
        "--age",
        DEMO_RECIPIENT,
        "plain.yaml",
    ]);
    ok(&out, "encrypt with the local service");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Error parsing URI for keyservice, skipping"),
        "{err}"
    );
}

/// `rsops keyservice` refuses an address it cannot listen on (exit 1) and
/// removes its socket when stopped by SIGTERM.
#[test]
fn the_server_reports_listen_errors_and_cleans_up_on_sigterm() {
    let s = Scratch::new();
    let out = s.rsops(&[
        "keyservice",
        "--network",
        "unix",
        "--address",
        "/nonexistent-dir/ks.sock",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Error running keyservice: listen unix /nonexistent-dir/ks.sock: "),
        "{err}"
    );

    let sock = s.path("ks.sock");
    let mut c = s.rsops_command();
    c.args(["keyservice", "--verbose", "--net", "unix", "--addr"])
        .arg(&sock)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let deadline = Instant::now() + START_TIMEOUT;
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < deadline, "no socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("rsops keyservice did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!sock.exists(), "the socket file is removed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("msg=\"Listening on unix://{}\"", sock.display())),
        "{err}"
    );
    assert!(
        err.contains("msg=\"Caught signal terminated: shutting down.\""),
        "{err}"
    );
}

/// A "service" that answers garbage (not HTTP/2) and closes: a clear error
/// naming it, exit 128, nothing on stdout.
#[test]
fn a_service_that_answers_garbage_is_a_clear_error() {
    if !crate::servers::python_has("socket") {
        return;
    }
    let script = [
        "import socket",
        "s = socket.socket()",
        "s.bind(('127.0.0.1', 0))",
        "s.listen(8)",
        "print('PORT', s.getsockname()[1], flush=True)",
        "while True:",
        "    c, _ = s.accept()",
        "    c.sendall(b'HTTP/1.1 400 Bad Request\\r\\n\\r\\ngarbage' * 10)",
        "    c.close()",
    ]
    .join("\n");
    let mut c = Command::new(crate::servers::python());
    c.args(["-c", &script]);
    let server = crate::servers::TestServer::start(c);
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"]),
        "encrypt",
    );
    s.write("secret.yaml", &enc);
    let url = format!("tcp://127.0.0.1:{}", server.port);
    let started = Instant::now();
    let out = client(&s, &rsops_bin(), &url, &["decrypt", "secret.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(128), "{err}");
    assert!(err.contains(&format!("key service {url}: ")), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "answered quickly"
    );
}

/// `rsops keyservice --prompt`: sops's question on stdout, asked again
/// until the answer is y or n; `n` is sops's PermissionDenied for a sops
/// client, `y` answers.
#[test]
fn the_prompt_refuses_on_n_and_answers_on_y() {
    use std::io::{Read, Write};
    let Some(sops) = sops() else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let sock = s.path("prompt.sock");
    let mut c = s.rsops_command();
    c.args(["keyservice", "--prompt", "--network", "unix", "--address"])
        .arg(&sock)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let child = c.spawn().unwrap();
    let mut service = Service {
        child,
        url: format!("unix://{}", sock.display()),
    };
    let deadline = Instant::now() + START_TIMEOUT;
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < deadline, "no socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stdin = service.child.stdin.take().unwrap();
    stdin.write_all(b"maybe\nn\n").unwrap();
    stdin.flush().unwrap();
    let args = ["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"];
    let refused = client(&s, &sops, &service.url, &args);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(
        err.contains("code = PermissionDenied desc = Request rejected by user"),
        "{err}"
    );
    stdin.write_all(b"y\n").unwrap();
    stdin.flush().unwrap();
    ok(
        &client(&s, &sops, &service.url, &args),
        "sops encrypt, answered y",
    );
    drop(stdin);
    let _ = service.child.kill();
    let mut asked = String::new();
    service
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut asked)
        .unwrap();
    let question = format!(
        "\nReceived encrypt request using age key with recipient {DEMO_RECIPIENT}. \
         Respond to request? (y/n): "
    );
    assert_eq!(asked, question.repeat(3), "asked twice, then once");
}
