//! Several files in one process: `rsops encrypt -i A B ...` and
//! `rsops decrypt -i A B ...` (sops issue #1079).

use crate::common::{ok, sops, Scratch, DEMO_RECIPIENT};

/// Plaintext of the `i`-th test file, in the format of `ext`.
fn plain(i: usize, ext: &str) -> String {
    match ext {
        "yaml" => format!("# file {i}\napp:\n    name: app-{i}\n    port: {}\n    tags:\n        - a\n        - {i}\n", 8000 + i),
        "json" => format!("{{\n\t\"app\": {{\n\t\t\"name\": \"app-{i}\",\n\t\t\"port\": {}\n\t}}\n}}", 8000 + i),
        _ => format!("NAME=app-{i}\nPORT={}\n", 8000 + i),
    }
}

/// Writes `n` plaintext files of mixed formats; returns their names.
fn write_plain_files(s: &Scratch, n: usize) -> Vec<String> {
    let exts = ["yaml", "json", "env"];
    (0..n)
        .map(|i| {
            let ext = exts[i % exts.len()];
            let name = format!("f{i:02}.{ext}");
            s.write(&name, plain(i, ext).as_bytes());
            name
        })
        .collect()
}

fn args<'a>(head: &[&'a str], files: &'a [String]) -> Vec<&'a str> {
    head.iter()
        .copied()
        .chain(files.iter().map(String::as_str))
        .collect()
}

fn read(s: &Scratch, name: &str) -> String {
    String::from_utf8(std::fs::read(s.path(name)).unwrap()).unwrap()
}

#[test]
fn encrypt_then_decrypt_many_files_in_place_round_trips() {
    let s = Scratch::new();
    let files = write_plain_files(&s, 12);
    ok(
        &s.rsops(&args(&["encrypt", "-i", "--age", DEMO_RECIPIENT], &files)),
        "encrypt -i",
    );
    let mut data_keys = std::collections::HashSet::new();
    for (i, f) in files.iter().enumerate() {
        let text = read(&s, f);
        assert!(text.contains("ENC[AES256_GCM,"), "{f} not encrypted");
        assert!(!text.contains(&format!("app-{i}")), "{f} leaks plaintext");
        // Each file gets its own data key: its own age stanza.
        let enc_start = text.find("-----BEGIN AGE ENCRYPTED FILE-----").unwrap();
        data_keys.insert(text[enc_start..enc_start + 200].to_owned());
    }
    assert_eq!(data_keys.len(), files.len());
    ok(&s.rsops(&args(&["decrypt", "-i"], &files)), "decrypt -i");
    for (i, f) in files.iter().enumerate() {
        let ext = f.rsplit('.').next().unwrap();
        let expected = plain(i, ext);
        let got = read(&s, f);
        if ext == "json" {
            // sops writes JSON with a trailing newline.
            assert_eq!(got.trim_end(), expected.trim_end(), "{f}");
        } else {
            assert_eq!(got, expected, "{f}");
        }
    }
}

#[test]
fn decrypt_many_matches_one_process_per_file() {
    let s = Scratch::new();
    let files = write_plain_files(&s, 6);
    ok(
        &s.rsops(&args(&["encrypt", "-i", "--age", DEMO_RECIPIENT], &files)),
        "encrypt -i",
    );
    // One process per file first, to stdout.
    let singles: Vec<Vec<u8>> = files
        .iter()
        .map(|f| ok(&s.rsops(&["decrypt", f]), "decrypt"))
        .collect();
    ok(&s.rsops(&args(&["decrypt", "-i"], &files)), "decrypt -i");
    for (f, single) in files.iter().zip(&singles) {
        assert_eq!(std::fs::read(s.path(f)).unwrap(), *single, "{f}");
    }
}

#[test]
fn files_sharing_a_data_key_decrypt_together() {
    // Copies of one encrypted file share a data key (unwrapped once).
    let s = Scratch::new();
    s.write("one.yaml", plain(1, "yaml").as_bytes());
    let enc = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "one.yaml"]),
        "encrypt",
    );
    let files: Vec<String> = (0..8).map(|i| format!("c{i}.yaml")).collect();
    for f in &files {
        s.write(f, &enc);
    }
    ok(&s.rsops(&args(&["decrypt", "-i"], &files)), "decrypt -i");
    for f in &files {
        assert_eq!(read(&s, f), plain(1, "yaml"));
    }
}

#[test]
fn one_line_per_failing_file_and_the_others_still_done() {
    let s = Scratch::new();
    let mut files = write_plain_files(&s, 4);
    ok(
        &s.rsops(&args(&["encrypt", "-i", "--age", DEMO_RECIPIENT], &files)),
        "encrypt -i",
    );
    // A plaintext file (no metadata) and a missing one among good ones.
    s.write("plain.yaml", b"a: 1\n");
    files.insert(1, "plain.yaml".into());
    files.push("missing.yaml".into());
    let out = s.rsops(&args(&["decrypt", "-i"], &files));
    assert_eq!(out.status.code(), Some(1), "code of the first failing file");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("plain.yaml: ") && lines[0].contains("metadata not found"));
    assert!(lines[1].starts_with("missing.yaml: ") && lines[1].contains("non-existent"));
    for f in ["f00.yaml", "f01.json", "f02.env", "f03.yaml"] {
        assert!(!read(&s, f).contains("ENC["), "{f} was not decrypted");
    }
    assert_eq!(read(&s, "plain.yaml"), "a: 1\n");
}

#[test]
fn a_tampered_file_fails_its_mac_check_alone() {
    let s = Scratch::new();
    let files = write_plain_files(&s, 3);
    ok(
        &s.rsops(&args(&["encrypt", "-i", "--age", DEMO_RECIPIENT], &files)),
        "encrypt -i",
    );
    // Drop one encrypted entry of f00.yaml: every remaining value still
    // decrypts, only the MAC detects it.
    let text = read(&s, "f00.yaml");
    let tampered: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("port:"))
        .map(|l| format!("{l}\n"))
        .collect();
    s.write("f00.yaml", tampered.as_bytes());
    let out = s.rsops(&args(&["decrypt", "-i"], &files));
    assert_eq!(out.status.code(), Some(51));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("f00.yaml: "), "{err}");
    assert!(read(&s, "f00.yaml").contains("ENC["));
    assert!(!read(&s, "f01.json").contains("ENC["));
}

#[test]
fn several_files_without_in_place_are_refused() {
    let s = Scratch::new();
    let files = write_plain_files(&s, 2);
    for cmd in [
        vec!["encrypt", "--age", DEMO_RECIPIENT],
        vec!["decrypt"],
        vec!["decrypt", "--output", "out.yaml"],
    ] {
        let out = s.rsops(&args(&cmd, &files));
        assert_eq!(out.status.code(), Some(8), "{cmd:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("-i"), "{err}");
        assert!(out.stdout.is_empty());
    }
    // Nothing was touched.
    assert_eq!(read(&s, "f00.yaml"), plain(0, "yaml"));
}

#[test]
fn in_place_with_output_is_refused_for_many() {
    let s = Scratch::new();
    let files = write_plain_files(&s, 2);
    let out = s.rsops(&args(&["decrypt", "-i", "--output", "x"], &files));
    assert_eq!(out.status.code(), Some(8));
}

#[test]
fn sops_decrypts_what_encrypt_many_wrote() {
    let Some(sops) = sops() else { return };
    let s = Scratch::new();
    let files = write_plain_files(&s, 3);
    ok(
        &s.rsops(&args(&["encrypt", "-i", "--age", DEMO_RECIPIENT], &files)),
        "encrypt -i",
    );
    for f in &files {
        let ours = ok(&s.rsops(&["decrypt", f]), "rsops decrypt");
        let theirs = ok(&s.sops(&sops, &["decrypt", f]), "sops decrypt");
        assert_eq!(ours, theirs, "{f}");
    }
}
