//! Key services that do not work: down (nothing listens on the port, no
//! socket file), refusing (a real key service without the key answers with
//! a gRPC error), answering garbage (random bytes, an HTTP/1 server), and
//! hanging (accepts and never answers; answers the connection but never the
//! request). rsops and the real sops 3.11 run side by side as clients with
//! only the bad service: the same exit codes (1 for encrypt, 128 for
//! decrypt), nothing written (`encrypt -i` leaves its input as it was,
//! `decrypt --output` creates no file), and rsops's message names the
//! service and the key. Every case ends in bounded time.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::keyservice::{
    client_env, free_port, rsops_bin, start_env, Net, Service, PLAIN, START_TIMEOUT,
};
use crate::common::{ok, sops, Scratch, DEMO_RECIPIENT};
use crate::servers::{python, python_has, TestServer};

/// A fingerprint no GnuPG home of these tests holds.
const UNKNOWN_FP: &str = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4";

/// What one client did against the bad service.
struct Outcome {
    encrypt: Output,
    decrypt: Output,
    took: Duration,
}

/// A scratch directory with `plain.yaml` and `secret.yaml` (encrypted for
/// the demo age key, which the clients do not hold).
fn scratch() -> Scratch {
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"]),
        "encrypt",
    );
    s.write("secret.yaml", &enc);
    s
}

/// Runs `encrypt -i` (with `keys`) and `decrypt --output` through `url`
/// only, with `program` and `env`; checks that nothing was written.
fn attempt(
    s: &Scratch,
    program: &Path,
    name: &str,
    url: &str,
    keys: &[&str],
    env: &[(&str, &str)],
) -> Outcome {
    let started = Instant::now();
    let input = format!("{name}-in-place.yaml");
    s.write(&input, PLAIN.as_bytes());
    let mut args = vec!["encrypt", "-i"];
    args.extend_from_slice(keys);
    args.push(&input);
    let encrypt = client_env(s, program, url, &args, env);
    assert_eq!(
        std::fs::read_to_string(s.path(&input)).unwrap(),
        PLAIN,
        "{name}: encrypt -i left its input as it was"
    );
    let output = format!("{name}-out.yaml");
    let decrypt = client_env(
        s,
        program,
        url,
        &["decrypt", "--output", &output, "secret.yaml"],
        env,
    );
    assert!(!s.path(&output).exists(), "{name}: no output file");
    assert!(decrypt.stdout.is_empty(), "{name}: nothing on stdout");
    Outcome {
        encrypt,
        decrypt,
        took: started.elapsed(),
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// rsops and (when `with_sops`) sops at the same time against `url`: both
/// fail with exit 1 (encrypt) and 128 (decrypt) within `bound`; rsops's
/// messages name the service and the key. Returns rsops's two messages.
fn both_fail(
    s: &Scratch,
    url: &str,
    keys: &[&str],
    rsops_env: &[(&str, &str)],
    with_sops: bool,
    bound: Duration,
) -> (String, String) {
    let sops_bin = if with_sops { sops() } else { None };
    let (ours, theirs) = std::thread::scope(|scope| {
        let theirs = sops_bin
            .as_deref()
            .map(|bin| scope.spawn(move || attempt(s, bin, "sops", url, keys, &[])));
        let ours = attempt(s, &rsops_bin(), "rsops", url, keys, rsops_env);
        (ours, theirs.map(|t| t.join().unwrap()))
    });
    for (name, outcome) in [("rsops", Some(&ours)), ("sops", theirs.as_ref())] {
        let Some(o) = outcome else { continue };
        assert_eq!(
            o.encrypt.status.code(),
            Some(1),
            "{name} encrypt: {}",
            stderr(&o.encrypt)
        );
        assert_eq!(
            o.decrypt.status.code(),
            Some(128),
            "{name} decrypt: {}",
            stderr(&o.decrypt)
        );
        assert!(o.took < bound, "{name} took {:?}", o.took);
    }
    let (enc, dec) = (stderr(&ours.encrypt), stderr(&ours.decrypt));
    let key = keys.last().unwrap();
    assert!(enc.contains("Could not generate data key"), "{enc}");
    for (msg, key) in [(&enc, *key), (&dec, DEMO_RECIPIENT)] {
        assert!(msg.contains(&format!("key service {url}: ")), "{msg}");
        assert!(msg.contains(key), "the key is named: {msg}");
    }
    (enc, dec)
}

#[test]
fn a_service_that_is_down_fails_at_once_as_sops_does() {
    let s = scratch();
    let unix = format!("unix://{}", s.path("nobody.sock").display());
    let tcp = format!("tcp://127.0.0.1:{}", free_port());
    for url in [unix, tcp] {
        let keys = ["--age", DEMO_RECIPIENT];
        let (enc, dec) = both_fail(&s, &url, &keys, &[], true, Duration::from_secs(15));
        for msg in [enc, dec] {
            assert!(msg.contains("cannot connect"), "{msg}");
            assert!(msg.contains("is the key service running"), "{msg}");
        }
    }
}

/// A real key service that lacks the key answers with a gRPC error: its
/// own message reaches the client with the status code.
#[test]
fn a_service_without_the_key_refuses_with_its_own_error() {
    let Some(sops_bin) = sops() else {
        return;
    };
    let s = scratch();
    // Neither server holds an age identity or an OpenPGP key.
    for (name, program) in [("sops", sops_bin.as_path()), ("rsops", &*rsops_bin())] {
        let server = start_env(&s, program, Net::Unix, &[]);
        let keys = ["--pgp", UNKNOWN_FP];
        let (enc, dec) = both_fail(&s, &server.url, &keys, &[], true, Duration::from_secs(30));
        assert!(enc.contains("(gRPC status Unknown)"), "{name}: {enc}");
        assert!(dec.contains("(gRPC status Unknown)"), "{name}: {dec}");
        assert!(dec.contains("age"), "{name}: the server's age error: {dec}");
        drop(server);
    }
}

/// A Python one-liner server on loopback printing `PORT n`.
fn python_server(body: &[&str]) -> TestServer {
    let mut script = vec![
        "import os, socket, sys",
        "s = socket.socket()",
        "s.bind(('127.0.0.1', 0))",
        "s.listen(16)",
        "print('PORT', s.getsockname()[1], flush=True)",
        "held = []",
        "while True:",
        "    c, _ = s.accept()",
    ];
    script.extend_from_slice(body);
    let mut c = Command::new(python());
    c.args(["-c", &script.join("\n")]);
    TestServer::start(c)
}

#[test]
fn a_service_that_answers_random_bytes_or_http1_fails_at_once() {
    if !python_has("http.server") {
        return;
    }
    let s = scratch();
    let random = python_server(&["    c.sendall(os.urandom(4096))", "    c.close()"]);
    let http1_port = free_port();
    let mut http1 = Command::new(python())
        .args([
            "-m",
            "http.server",
            &http1_port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(s.path(""))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + START_TIMEOUT;
    while std::net::TcpStream::connect(("127.0.0.1", http1_port)).is_err() {
        assert!(Instant::now() < deadline, "http.server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    for url in [
        format!("tcp://127.0.0.1:{}", random.port),
        format!("tcp://127.0.0.1:{http1_port}"),
    ] {
        let keys = ["--age", DEMO_RECIPIENT];
        let (enc, dec) = both_fail(&s, &url, &keys, &[], true, Duration::from_secs(15));
        for msg in [enc, dec] {
            assert!(
                msg.contains("the connection failed") || msg.contains("cannot connect"),
                "{msg}"
            );
        }
    }
    let _ = http1.kill();
    let _ = http1.wait();
}

/// Accepts and never answers: rsops gives up after
/// `RSOPS_KEYSERVICE_CONNECT_TIMEOUT` seconds, and the second key of the
/// file does not wait again.
#[test]
fn a_service_that_accepts_and_never_answers_ends_at_the_connect_limit() {
    if !python_has("socket") {
        return;
    }
    let server = python_server(&["    held.append(c)"]);
    let s = scratch();
    // Two keys in the file: the service is not asked again after the
    // first one timed out.
    let two = ok(
        &s.rsops(&[
            "encrypt",
            "--age",
            &format!("{DEMO_RECIPIENT},{}", other_recipient()),
            "plain.yaml",
        ]),
        "encrypt",
    );
    s.write("secret.yaml", &two);
    let url = format!("tcp://127.0.0.1:{}", server.port);
    let env = [("RSOPS_KEYSERVICE_CONNECT_TIMEOUT", "1.5")];
    let keys = ["--age", DEMO_RECIPIENT];
    let (enc, dec) = both_fail(&s, &url, &keys, &env, false, Duration::from_secs(15));
    for msg in [enc, dec] {
        assert!(
            msg.contains("connected, but the service sent nothing within 1.5 seconds"),
            "{msg}"
        );
        assert!(msg.contains("RSOPS_KEYSERVICE_CONNECT_TIMEOUT"), "{msg}");
    }
}

/// A second age recipient (of a throwaway identity).
fn other_recipient() -> &'static str {
    "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"
}

/// Without a setting, rsops gives up on a silent service after 20 s, as
/// sops 3.11 does (grpc-go's connect limit), with the same exit code.
#[test]
fn a_silent_service_is_given_up_after_20_seconds_like_sops() {
    if !python_has("socket") {
        return;
    }
    let server = python_server(&["    held.append(c)"]);
    let s = scratch();
    let url = format!("tcp://127.0.0.1:{}", server.port);
    let run = |program: &Path| {
        let started = Instant::now();
        let out = client_env(&s, program, &url, &["decrypt", "secret.yaml"], &[]);
        (out, started.elapsed())
    };
    let sops_bin = sops();
    let (ours, theirs) = std::thread::scope(|scope| {
        let theirs = sops_bin.as_deref().map(|bin| scope.spawn(move || run(bin)));
        (run(&rsops_bin()), theirs.map(|t| t.join().unwrap()))
    });
    for (name, result) in [("rsops", Some(ours)), ("sops", theirs)] {
        let Some((out, took)) = result else { continue };
        assert_eq!(out.status.code(), Some(128), "{name}: {}", stderr(&out));
        assert!(
            took >= Duration::from_secs(19) && took < Duration::from_secs(40),
            "{name} took {took:?}"
        );
        if name == "rsops" {
            assert!(
                stderr(&out).contains("sent nothing within 20 seconds"),
                "{}",
                stderr(&out)
            );
        }
    }
}

/// A real key service that takes the request and never answers it (here
/// `rsops keyservice --prompt` whose operator never answers): rsops gives
/// up after `RSOPS_KEYSERVICE_TIMEOUT` seconds. (sops has no limit there
/// and would wait forever, so it is not run.)
#[test]
fn a_service_that_never_answers_the_request_ends_at_the_operation_limit() {
    let s = scratch();
    let sock = s.path("prompt.sock");
    let mut c = s.rsops_command();
    c.args(["keyservice", "--prompt", "--network", "unix", "--address"])
        .arg(&sock)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = c.spawn().unwrap();
    let mut service = Service {
        child,
        url: format!("unix://{}", sock.display()),
    };
    // Held open and never written to: every request waits.
    let _stdin = service.child.stdin.take();
    let deadline = Instant::now() + START_TIMEOUT;
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < deadline, "no socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    let env = [("RSOPS_KEYSERVICE_TIMEOUT", "2")];
    let keys = ["--age", DEMO_RECIPIENT];
    let started = Instant::now();
    let (enc, dec) = both_fail(
        &s,
        &service.url,
        &keys,
        &env,
        false,
        Duration::from_secs(20),
    );
    assert!(started.elapsed() >= Duration::from_secs(4), "waited twice");
    for msg in [enc, dec] {
        assert!(
            msg.contains("no answer within 2 seconds (set RSOPS_KEYSERVICE_TIMEOUT"),
            "{msg}"
        );
    }
}
