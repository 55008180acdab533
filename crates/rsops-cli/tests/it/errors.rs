//! Bad input of every kind: one clear line on stderr, sops's exit code,
//! nothing on stdout, no existing file touched, no secret shown.

use crate::common::{ok, Scratch, DEMO_RECIPIENT};

const PLAIN: &str = "user: admin\npassword: hunter2-secret\nnote_unencrypted: hello\n";

fn encrypted(s: &Scratch) -> String {
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"]),
        "encrypt",
    );
    String::from_utf8(enc).unwrap()
}

fn assert_failure(out: &std::process::Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(out.stdout.is_empty(), "stdout must be empty on failure");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("hunter2-secret"), "secret leaked: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    // A key failure is a short report: title, group, key, the age
    // identity sources, one hint; everything else one line.
    let lines = err.trim_end().lines().count();
    if code == 128 {
        assert!((4..=5).contains(&lines), "short report expected: {err}");
        assert_eq!(err.matches("hint: ").count(), 1, "{err}");
    } else {
        assert_eq!(lines, 1, "one line expected: {err}");
    }
}

#[test]
fn malformed_yaml_is_exit_2() {
    let s = Scratch::new();
    s.write("bad.yaml", b"a: [unclosed\nb: c\n");
    let out = s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "bad.yaml"]);
    assert_failure(&out, 2, "yaml");
}

#[test]
fn malformed_json_is_exit_2() {
    let s = Scratch::new();
    s.write("bad.json", b"{\"a\": ");
    let out = s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "bad.json"]);
    assert_failure(&out, 2, "json");
    s.write("arr.json", b"[1, 2]");
    let out = s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "arr.json"]);
    assert_failure(&out, 2, "json");
}

#[test]
fn broken_enc_value_is_exit_25() {
    let s = Scratch::new();
    let enc = encrypted(&s);
    let broken = enc.replacen("ENC[AES256_GCM,data:", "ENC[AES256_GCM,dta:", 1);
    s.write("broken.yaml", broken.as_bytes());
    assert_failure(&s.rsops(&["decrypt", "broken.yaml"]), 25, "user");
}

#[test]
fn tampered_clear_value_is_a_mac_mismatch() {
    let s = Scratch::new();
    let enc = encrypted(&s);
    let tampered = enc.replace("note_unencrypted: hello", "note_unencrypted: hullo");
    assert_ne!(tampered, enc);
    s.write("tampered.yaml", tampered.as_bytes());
    assert_failure(&s.rsops(&["decrypt", "tampered.yaml"]), 51, "MAC mismatch");
    // --ignore-mac reads it anyway.
    let out = ok(
        &s.rsops(&["decrypt", "--ignore-mac", "tampered.yaml"]),
        "ignore-mac",
    );
    assert!(String::from_utf8_lossy(&out).contains("hullo"));
}

#[test]
fn no_key_and_wrong_key_are_exit_128() {
    let s = Scratch::new();
    let enc = encrypted(&s);
    s.write("enc.yaml", enc.as_bytes());
    assert_failure(&s.rsops_no_key(&["decrypt", "enc.yaml"]), 128, "data key");
    let wrong = s.write(
        "wrong.txt",
        b"AGE-SECRET-KEY-1FPTJHU2U27PT0V3WE4LD4KWWQDPT698X90THX3K768VNK4K9T56S0K0NCQ\n",
    );
    let out = s.run(
        std::path::Path::new(env!("CARGO_BIN_EXE_rsops")),
        &["decrypt", "enc.yaml"],
        Some(&wrong),
        None,
    );
    assert_failure(&out, 128, "data key");
}

#[test]
fn unwritable_output_is_exit_3_and_leaves_files_alone() {
    let s = Scratch::new();
    let enc = encrypted(&s);
    s.write("enc.yaml", enc.as_bytes());
    let out = s.rsops(&["decrypt", "--output", "no/such/dir/out.yaml", "enc.yaml"]);
    assert_failure(&out, 3, "no/such/dir/out.yaml");
    // A failing decrypt never touches an existing output file.
    s.write("out.yaml", b"keep me\n");
    s.write("bad.yaml", b"x: 1\n");
    let out = s.rsops(&["decrypt", "--output", "out.yaml", "bad.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(s.path("out.yaml")).unwrap(), b"keep me\n");
}

#[test]
fn encrypting_twice_is_exit_203() {
    let s = Scratch::new();
    let enc = encrypted(&s);
    s.write("enc.yaml", enc.as_bytes());
    let out = s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "enc.yaml"]);
    assert_failure(&out, 203, "already encrypted");
}

#[test]
fn missing_file_is_exit_100() {
    let s = Scratch::new();
    assert_failure(&s.rsops(&["decrypt", "nope.yaml"]), 100, "nope.yaml");
}

#[test]
fn in_place_and_output_conflict_is_exit_8() {
    let s = Scratch::new();
    let enc = encrypted(&s);
    s.write("enc.yaml", enc.as_bytes());
    let out = s.rsops(&["decrypt", "-i", "--output", "x.yaml", "enc.yaml"]);
    assert_failure(&out, 8, "--in-place");
}

/// A plaintext of about 3 MB: large enough that `encrypt` streams it.
fn large_plain() -> String {
    (0..60_000)
        .map(|i| format!("key{i:05}: value-{i:05}-hunter2-secret-padding\n"))
        .collect()
}

#[test]
fn encrypting_a_large_encrypted_file_again_prints_nothing() {
    let s = Scratch::new();
    s.write("big.yaml", large_plain().as_bytes());
    let enc = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "big.yaml"]),
        "encrypt",
    );
    s.write("big.enc.yaml", &enc);
    let out = s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "big.enc.yaml"]);
    assert_failure(&out, 203, "already encrypted");
    // The same as JSON, converted on the way.
    let json = ok(
        &s.rsops(&["decrypt", "--output-type", "json", "big.enc.yaml"]),
        "decrypt to json",
    );
    s.write("big.json", &json);
    let enc = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "big.json"]),
        "encrypt json",
    );
    s.write("big.enc.json", &enc);
    let out = s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "big.enc.json"]);
    assert_failure(&out, 203, "already encrypted");
}

#[test]
fn large_malformed_input_leaves_the_output_file_alone() {
    let s = Scratch::new();
    let mut bad = large_plain();
    bad.push_str("tail: [unclosed\n");
    s.write("big.yaml", bad.as_bytes());
    s.write("out.yaml", b"keep me\n");
    let out = s.rsops(&[
        "encrypt",
        "--age",
        DEMO_RECIPIENT,
        "--output",
        "out.yaml",
        "big.yaml",
    ]);
    assert_failure(&out, 2, "yaml");
    assert_eq!(std::fs::read(s.path("out.yaml")).unwrap(), b"keep me\n");
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".rsops-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_signal_while_writing_removes_the_temporary_file() {
    use std::time::{Duration, Instant};
    let s = Scratch::new();
    // Large enough that the (debug) binary spends seconds writing it.
    let plain: String = (0..250_000)
        .map(|i| format!("key{i:06}: value-{i:06}-hunter2-secret\n"))
        .collect();
    s.write("big.yaml", plain.as_bytes());
    let mut child = s
        .rsops_command()
        .args([
            "encrypt",
            "--age",
            DEMO_RECIPIENT,
            "--output",
            "big.enc.yaml",
            "big.yaml",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let temporary = || {
        std::fs::read_dir(s.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".rsops-"))
            .collect::<Vec<_>>()
    };
    let start = Instant::now();
    while temporary().is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "rsops finished before its temporary file was seen"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no temporary file"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
    assert!(temporary().is_empty(), "left behind: {:?}", temporary());
    assert!(!s.path("big.enc.yaml").exists());
}
