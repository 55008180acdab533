//! Many files whose data keys sit behind AWS KMS: their key calls run
//! several at once, each distinct data key is unwrapped once, and output
//! and failures come out in argument order.
//!
//! The KMS is `tests/servers/kms_counting.py`: it counts calls and the most
//! calls it had in flight at once, and it holds every call until `GATE`
//! calls are in flight together (or 5 s passed). Reaching `GATE` therefore
//! proves overlapping calls without measuring any time.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

use crate::common::Scratch;
use crate::servers::{python_has, TestServer};

/// Calls that must be in flight at once: more than the 8 files the
/// commands used to work on at once.
const GATE: usize = 12;

/// Distinct files of the tests (each is then also copied once).
const FILES: usize = 24;

const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
const OTHER_KEY: &str =
    "arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000";
const DENIED_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/deny-decrypt";
const DENIED_ENCRYPT_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/deny-encrypt";

/// The counting KMS, or `None` (a skip) without Python outside CI.
fn kms() -> Option<TestServer> {
    kms_with_gate(GATE)
}

fn kms_with_gate(gate: usize) -> Option<TestServer> {
    if !python_has("http.server") {
        return None;
    }
    Some(TestServer::python("kms_counting.py", &[&gate.to_string()]))
}

/// What the counting KMS saw since its last reset.
#[derive(Debug)]
struct Stats {
    max_in_flight: usize,
    encrypt: usize,
    decrypt: usize,
    distinct_decrypted: usize,
    most_decrypts_of_one: usize,
}

fn get(server: &TestServer, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    reply
}

fn stats(server: &TestServer) -> Stats {
    let reply = get(server, "/stats");
    let field = |name: &str| -> usize {
        let start = reply
            .find(&format!("\"{name}\": "))
            .unwrap_or_else(|| panic!("{name} in {reply}"))
            + name.len()
            + 4;
        reply[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .expect("a number")
    };
    Stats {
        max_in_flight: field("max_in_flight"),
        encrypt: field("encrypt"),
        decrypt: field("decrypt"),
        distinct_decrypted: field("distinct_decrypted"),
        most_decrypts_of_one: field("most_decrypts_of_one"),
    }
}

fn reset(server: &TestServer) {
    assert!(get(server, "/reset").starts_with("HTTP/1.1 200"));
}

/// Runs rsops in `s` against the counting KMS (no age key).
fn rsops(s: &Scratch, server: &TestServer, args: &[&str]) -> Output {
    let url = server.url();
    let env: Vec<(&str, &OsStr)> = vec![
        ("AWS_ENDPOINT_URL", OsStr::new(&url)),
        ("AWS_EC2_METADATA_DISABLED", OsStr::new("true")),
        ("AWS_ACCESS_KEY_ID", OsStr::new("test")),
        ("AWS_SECRET_ACCESS_KEY", OsStr::new("test")),
    ];
    s.run_env(
        Path::new(env!("CARGO_BIN_EXE_rsops")),
        args,
        None,
        &env,
        None,
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn plain(i: usize) -> String {
    format!("service: app{i}\ndb:\n    password: p{i}-secret\n")
}

/// Writes `n` plaintext files `f00.yaml`…, returns their names.
fn write_plain(s: &Scratch, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let name = format!("f{i:02}.yaml");
            s.write(&name, plain(i).as_bytes());
            name
        })
        .collect()
}

fn with_args<'a>(head: &[&'a str], files: &'a [String]) -> Vec<&'a str> {
    head.iter()
        .copied()
        .chain(files.iter().map(String::as_str))
        .collect()
}

/// `FILES` files encrypted to `KEY` with `encrypt -i` (checked to overlap
/// its calls), then each copied to `cNN.yaml` (same data key): returns
/// every name, originals first.
fn encrypted_files(s: &Scratch, server: &TestServer) -> Vec<String> {
    let mut files = write_plain(s, FILES);
    reset(server);
    let out = rsops(
        s,
        server,
        &with_args(&["encrypt", "-i", "--kms", KEY], &files),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let seen = stats(server);
    assert_eq!(seen.encrypt, FILES, "{seen:?}");
    assert!(seen.max_in_flight >= GATE, "encrypt -i: {seen:?}");
    for i in 0..FILES {
        let copy = format!("c{i:02}.yaml");
        std::fs::copy(s.path(&files[i]), s.path(&copy)).expect("copy");
        files.push(copy);
    }
    files
}

#[test]
fn decrypt_in_place_overlaps_key_calls_and_unwraps_each_data_key_once() {
    let Some(server) = kms() else { return };
    let s = Scratch::new();
    let files = encrypted_files(&s, &server);
    reset(&server);
    let out = rsops(&s, &server, &with_args(&["decrypt", "-i"], &files));
    assert!(out.status.success(), "{}", stderr(&out));
    let seen = stats(&server);
    assert!(seen.max_in_flight >= GATE, "{seen:?}");
    // 48 files, 24 data keys: one call per data key.
    assert_eq!(seen.decrypt, FILES, "{seen:?}");
    assert_eq!(seen.distinct_decrypted, FILES, "{seen:?}");
    assert_eq!(seen.most_decrypts_of_one, 1, "{seen:?}");
    for (n, name) in files.iter().enumerate() {
        let text = std::fs::read_to_string(s.path(name)).expect("read");
        assert_eq!(text, plain(n % FILES), "{name}");
    }
}

#[test]
fn a_file_whose_key_is_refused_fails_alone_and_in_argument_order() {
    let Some(server) = kms() else { return };
    let s = Scratch::new();
    let mut files = encrypted_files(&s, &server);
    // Two files whose KMS key refuses to decrypt, among the others.
    for (name, i) in [("bad1.yaml", 3), ("bad2.yaml", 30)] {
        s.write(name, plain(99).as_bytes());
        let out = rsops(&s, &server, &["encrypt", "-i", "--kms", DENIED_KEY, name]);
        assert!(out.status.success(), "{}", stderr(&out));
        files.insert(i, name.to_owned());
    }
    reset(&server);
    let out = rsops(&s, &server, &with_args(&["decrypt", "-i"], &files));
    // The exit code of a file whose data key cannot be recovered.
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    let err = stderr(&out);
    let bad1 = err.find("bad1.yaml: ").expect("bad1 reported");
    let bad2 = err.find("bad2.yaml: ").expect("bad2 reported");
    assert!(bad1 < bad2, "argument order: {err}");
    assert_eq!(
        err.matches("Failed to get the data key").count(),
        2,
        "{err}"
    );
    assert!(err.contains(DENIED_KEY), "{err}");
    assert!(err.contains("access denied"), "{err}");
    // The failing files are untouched, the others decrypted.
    for name in ["bad1.yaml", "bad2.yaml"] {
        let text = std::fs::read_to_string(s.path(name)).expect("read");
        assert!(text.contains("sops:"), "{name} left encrypted");
    }
    for (n, name) in files.iter().filter(|f| !f.starts_with("bad")).enumerate() {
        let text = std::fs::read_to_string(s.path(name)).expect("read");
        assert_eq!(text, plain(n % FILES), "{name}");
    }
    let seen = stats(&server);
    assert!(seen.max_in_flight >= GATE, "{seen:?}");
}

#[test]
fn updatekeys_with_yes_overlaps_key_calls_and_reports_in_file_order() {
    let Some(server) = kms() else { return };
    let s = Scratch::new();
    let files = encrypted_files(&s, &server);
    s.write(
        ".sops.yaml",
        format!("creation_rules:\n  - kms: {KEY},{OTHER_KEY}\n").as_bytes(),
    );
    reset(&server);
    let out = rsops(&s, &server, &with_args(&["updatekeys", "-y"], &files));
    assert!(out.status.success(), "{}", stderr(&out));
    let seen = stats(&server);
    assert!(seen.max_in_flight >= GATE, "{seen:?}");
    // One unwrap per data key, then each file's key wrapped for both keys.
    assert_eq!(seen.decrypt, FILES, "{seen:?}");
    assert_eq!(seen.encrypt, 2 * files.len(), "{seen:?}");
    // Each file's lines together, the files in argument order.
    let err = stderr(&out);
    let mut expected = String::new();
    for name in &files {
        let abs = std::path::absolute(s.path(name)).expect("absolute");
        let abs = abs.display();
        expected.push_str(&format!(
            "Syncing keys for file {abs}\n\
             The following changes will be made to the file's groups:\n\
             Group 1\n    {KEY}\n+++ {OTHER_KEY}\n\
             File {abs} synced with new keys\n"
        ));
    }
    assert_eq!(err, expected);
    for name in &files {
        let text = std::fs::read_to_string(s.path(name)).expect("read");
        assert!(text.contains(OTHER_KEY), "{name}");
    }
    // The files decrypt with their new key list.
    reset(&server);
    let out = rsops(&s, &server, &with_args(&["decrypt", "-i"], &files));
    assert!(out.status.success(), "{}", stderr(&out));
    for (n, name) in files.iter().enumerate() {
        let text = std::fs::read_to_string(s.path(name)).expect("read");
        assert_eq!(text, plain(n % FILES), "{name}");
    }
}

#[test]
fn updatekeys_without_yes_asks_file_by_file() {
    let Some(server) = kms() else { return };
    let s = Scratch::new();
    let files: Vec<String> = encrypted_files(&s, &server).into_iter().take(3).collect();
    s.write(
        ".sops.yaml",
        format!("creation_rules:\n  - kms: {OTHER_KEY}\n").as_bytes(),
    );
    let url = server.url();
    let env: Vec<(&str, &OsStr)> = vec![
        ("AWS_ENDPOINT_URL", OsStr::new(&url)),
        ("AWS_EC2_METADATA_DISABLED", OsStr::new("true")),
        ("AWS_ACCESS_KEY_ID", OsStr::new("test")),
        ("AWS_SECRET_ACCESS_KEY", OsStr::new("test")),
    ];
    // Yes, no, yes: each answer is read right after its file's changes.
    let out = s.run_env(
        Path::new(env!("CARGO_BIN_EXE_rsops")),
        &with_args(&["updatekeys"], &files),
        None,
        &env,
        Some(b"y\nn\ny\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    // The prompt has no newline: the file's result follows it.
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("Syncing") || l.starts_with("Is this okay"))
        .collect();
    assert_eq!(lines.len(), 6, "{err}");
    for (i, verdict) in [
        "synced with new keys",
        "left unchanged",
        "synced with new keys",
    ]
    .iter()
    .enumerate()
    {
        assert!(lines[2 * i].starts_with("Syncing keys for file "), "{err}");
        assert!(lines[2 * i].ends_with(&files[i]), "{err}");
        assert!(
            lines[2 * i + 1].starts_with("Is this okay? (y/n):File "),
            "{err}"
        );
        assert!(lines[2 * i + 1].ends_with(verdict), "{err}");
    }
    let text = std::fs::read_to_string(s.path(&files[1])).expect("read");
    assert!(!text.contains(OTHER_KEY), "declined file unchanged");
}

#[test]
fn rotate_names_a_failed_key_once_with_sops_brackets() {
    let Some(server) = kms_with_gate(1) else {
        return;
    };
    let s = Scratch::new();
    let files = write_plain(&s, 1);
    let out = rsops(&s, &server, &["encrypt", "-i", "--kms", KEY, &files[0]]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = std::fs::read(s.path(&files[0])).expect("read");
    // The data key unwraps and wraps for KEY; the added key refuses.
    let out = rsops(
        &s,
        &server,
        &["rotate", "-i", "--add-kms", DENIED_ENCRYPT_KEY, &files[0]],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.matches("Could not generate data key").count(),
        1,
        "{err}"
    );
    let head = format!(
        "Could not generate data key: [failed to encrypt new data key with master key \"{DENIED_ENCRYPT_KEY}\": "
    );
    assert!(err.starts_with(&head), "{err}");
    assert!(err.contains("access denied"), "{err}");
    assert!(err.trim_end().ends_with(']'), "{err}");
    assert_eq!(std::fs::read(s.path(&files[0])).expect("read"), before);
}
