//! `decrypt` of a large YAML or JSON file in pieces: the output is the
//! plaintext, peak memory stays bounded by the input (not by the whole
//! tree), and a MAC mismatch writes nothing anywhere.

use std::process::Command;

use crate::common::{ok, Scratch, DEMO_RECIPIENT};

/// About `services` × 1.3 KB of plaintext YAML laid out as rsops and sops
/// write it (4-space indentation), so that `decrypt` gives it back byte
/// for byte; every service has a `note_unencrypted` value kept in clear.
fn plaintext(services: usize) -> String {
    let mut s = String::new();
    for i in 0..services {
        s.push_str(&format!("service_{i:05}:\n    name: svc-{i:05}\n    replicas: {}\n    enabled: {}\n    note_unencrypted: n{i}\n    env:\n", i % 11, i % 2 == 0));
        for j in 0..6 {
            s.push_str(&format!(
                "        - name: VAR_{j}\n          value: v{i}x{j}abcdefghijklmnopqrstuvwxyz\n"
            ));
        }
        s.push_str("    secrets:\n");
        for j in 0..12 {
            s.push_str(&format!(
                "        key_{j:03}: s{i}y{j}ABCDEFGHIJKLMNOPQRSTUVWXYZ01\n"
            ));
        }
    }
    s
}

/// Encrypts `plain` as `name` (YAML or JSON by its extension) and returns
/// the encrypted bytes.
fn encrypted(s: &Scratch, plain: &str, name: &str) -> Vec<u8> {
    s.write("plain.yaml", plain.as_bytes());
    let yaml = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"]),
        "encrypt",
    );
    let out = if name.ends_with(".json") {
        s.write("tmp.enc.yaml", &yaml);
        let json = ok(
            &s.rsops(&["decrypt", "--output-type", "json", "tmp.enc.yaml"]),
            "to json",
        );
        s.write("plain.json", &json);
        ok(
            &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "plain.json"]),
            "encrypt json",
        )
    } else {
        yaml
    };
    s.write(name, &out);
    out
}

/// Peak resident memory (bytes) of `rsops args`, measured by Python's
/// `getrusage(RUSAGE_CHILDREN)` around one child run; `None` without
/// Python.
fn peak_rss(s: &Scratch, args: &[&str]) -> Option<u64> {
    let script = "import resource, subprocess, sys\n\
        r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n\
        print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n";
    let c = s.rsops_command();
    let program = c.get_program().to_owned();
    let envs: Vec<_> = c
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned)))
        .collect();
    let mut py = Command::new("python3");
    py.current_dir(s.dir.path())
        .arg("-c")
        .arg(script)
        .arg(program)
        .args(args);
    for (k, v) in envs {
        match v {
            Some(v) => py.env(k, v),
            None => py.env_remove(k),
        };
    }
    let out = py.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut fields = text.split_whitespace();
    let code: i32 = fields.next()?.parse().ok()?;
    assert_eq!(code, 0, "rsops {args:?} failed");
    Some(fields.next()?.parse::<u64>().ok()? * 1024)
}

#[test]
fn a_large_file_decrypts_in_pieces_within_bounded_memory() {
    let s = Scratch::new();
    let plain = plaintext(2100);
    let enc = encrypted(&s, &plain, "big.enc.yaml");
    assert!(enc.len() > 8 << 20, "{} bytes", enc.len());
    let out = ok(&s.rsops(&["decrypt", "big.enc.yaml"]), "decrypt");
    assert!(out == plain.as_bytes(), "decrypted output differs");
    // The same through JSON, in and out.
    let enc_json = encrypted(&s, &plain, "big.enc.json");
    assert!(enc_json.len() > 8 << 20);
    let json = ok(&s.rsops(&["decrypt", "big.enc.json"]), "decrypt json");
    let json_plain = std::fs::read(s.path("plain.json")).unwrap();
    assert!(json == json_plain, "decrypted JSON differs");
    let to_yaml = ok(
        &s.rsops(&["decrypt", "--output-type", "yaml", "big.enc.json"]),
        "json to yaml",
    );
    assert!(
        to_yaml == plain.as_bytes(),
        "JSON decrypted to YAML differs"
    );

    // From standard input (read whole, then cut), and in place.
    let out = s.run(
        std::path::Path::new(env!("CARGO_BIN_EXE_rsops")),
        &["decrypt", "--input-type", "yaml", "--output-type", "yaml"],
        Some(&crate::common::demo_key_file()),
        Some(&enc),
    );
    assert!(ok(&out, "decrypt stdin") == plain.as_bytes());
    s.write("inplace.enc.json", &enc_json);
    ok(&s.rsops(&["decrypt", "-i", "inplace.enc.json"]), "in place");
    assert!(std::fs::read(s.path("inplace.enc.json")).unwrap() == json_plain);

    // Peak memory: the plaintext output and a few pieces (about 0.7 times
    // the input above a small file's: the encrypted input is read in
    // blocks, never whole), not the input and the output (1.3 times) nor
    // the whole tree (about 3.5 times).
    s.write("small.yaml", b"a: 1\n");
    let small = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "small.yaml"]),
        "encrypt small",
    );
    s.write("small.enc.yaml", &small);
    let Some(base) = peak_rss(&s, &["decrypt", "small.enc.yaml"]) else {
        return;
    };
    let peak = peak_rss(&s, &["decrypt", "--output", "out.yaml", "big.enc.yaml"]).unwrap();
    let input = enc.len() as u64;
    assert!(
        peak < base + input,
        "peak RSS {peak} with a {input}-byte input (small file: {base})"
    );
}

#[test]
fn a_mac_mismatch_in_pieces_writes_nothing() {
    let s = Scratch::new();
    let plain = plaintext(400);
    let enc = encrypted(&s, &plain, "big.enc.yaml");
    // A value kept in clear is covered by the MAC: changing it leaves
    // every value decryptable and the MAC wrong.
    let text = String::from_utf8(enc).unwrap();
    let tampered = text.replacen("note_unencrypted: n7\n", "note_unencrypted: n8\n", 1);
    assert_ne!(tampered, text);
    s.write("bad.enc.yaml", tampered.as_bytes());
    s.write("inplace.enc.yaml", tampered.as_bytes());

    let out = s.rsops(&["decrypt", "bad.enc.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(51),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("MAC mismatch"));

    let out = s.rsops(&["decrypt", "--output", "out.yaml", "bad.enc.yaml"]);
    assert_eq!(out.status.code(), Some(51));
    assert!(!s.path("out.yaml").exists());

    let out = s.rsops(&["decrypt", "-i", "inplace.enc.yaml"]);
    assert_eq!(out.status.code(), Some(51));
    assert_eq!(
        std::fs::read(s.path("inplace.enc.yaml")).unwrap(),
        tampered.as_bytes()
    );
    let mut names: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "bad.enc.yaml",
            "big.enc.yaml",
            "inplace.enc.yaml",
            "plain.yaml"
        ]
    );

    // --ignore-mac decrypts, with the changed value.
    let out = ok(
        &s.rsops(&["decrypt", "--ignore-mac", "bad.enc.yaml"]),
        "ignore mac",
    );
    assert!(
        out == plain
            .replacen("note_unencrypted: n7\n", "note_unencrypted: n8\n", 1)
            .as_bytes()
    );
}

#[test]
fn without_a_key_a_large_file_fails_as_a_small_one_does() {
    let s = Scratch::new();
    let enc = encrypted(&s, &plaintext(400), "big.enc.yaml");
    assert!(enc.len() > 1 << 20, "{} bytes", enc.len());
    s.write("small.yaml", b"a: 1\n");
    let small = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "small.yaml"]),
        "encrypt small",
    );
    s.write("small.enc.yaml", &small);
    let expected = s.rsops_no_key(&["decrypt", "small.enc.yaml"]);
    assert_eq!(expected.status.code(), Some(128));
    let big = s.rsops_no_key(&["decrypt", "big.enc.yaml"]);
    assert_eq!(big.status.code(), Some(128));
    assert_eq!(
        String::from_utf8_lossy(&big.stderr),
        String::from_utf8_lossy(&expected.stderr)
    );
    assert!(big.stdout.is_empty());

    // A piece that does not parse: its error comes first, with or without
    // a key, as when the whole file is read.
    let text = String::from_utf8(enc).unwrap();
    let broken = text.replacen("service_00200:\n", "service_00200:\n    bad: [open\n", 1);
    assert_ne!(broken, text);
    s.write("broken.enc.yaml", broken.as_bytes());
    let with_key = s.rsops(&["decrypt", "broken.enc.yaml"]);
    let without = s.rsops_no_key(&["decrypt", "broken.enc.yaml"]);
    assert_ne!(with_key.status.code(), Some(0));
    assert_ne!(with_key.status.code(), Some(128));
    assert_eq!(without.status.code(), with_key.status.code());
    assert_eq!(
        String::from_utf8_lossy(&without.stderr),
        String::from_utf8_lossy(&with_key.stderr)
    );
}

#[test]
fn a_large_file_decrypts_from_a_named_pipe() {
    // A FIFO is not read in pieces (its size is unknown): read whole.
    let s = Scratch::new();
    let plain = plaintext(400);
    let enc = encrypted(&s, &plain, "big.enc.yaml");
    let fifo = s.path("fifo.enc.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|m| m.success()) {
        return;
    }
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
        f.write_all(&enc).unwrap();
    });
    let out = ok(&s.rsops(&["decrypt", "fifo.enc.yaml"]), "decrypt fifo");
    writer.join().unwrap();
    assert!(out == plain.as_bytes(), "decrypted output differs");
}
