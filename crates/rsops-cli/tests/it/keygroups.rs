//! Key groups with Shamir, and key management (`rotate`, `updatekeys`,
//! `groups add/delete`), checked against the real sops 3.11: files made by
//! either tool open with the other, with exactly the groups the threshold
//! requires.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use regex::Regex;

use crate::common::{metadata_sorted, ok, sops, Scratch};

/// The TEST-ONLY age keys of the sops fixtures (`testdata/sops/keys`).
const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sops/keys");

const PLAIN: &str = "\
db:
    user: admin
    password: s3cr3t-value
    port: 5432
list:
    - one
    - 2
token_unencrypted: visible
";

fn rsops_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rsops"))
}

/// The text of age identity file `age-N.txt`.
fn identity(n: u8) -> String {
    std::fs::read_to_string(format!("{KEYS}/age-{n}.txt"))
        .unwrap_or_else(|e| panic!("{KEYS}/age-{n}.txt: {e}"))
}

/// The recipient of `age-N.txt` (its `# public key:` line).
fn recipient(n: u8) -> String {
    identity(n)
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key line")
        .trim()
        .to_owned()
}

/// Writes a key file holding exactly the identities `ns`.
fn key_file(s: &Scratch, ns: &[u8]) -> PathBuf {
    let name = format!(
        "keys-{}.txt",
        ns.iter().map(u8::to_string).collect::<Vec<_>>().join("-")
    );
    let text: String = ns.iter().map(|n| identity(*n)).collect();
    s.write(&name, text.as_bytes())
}

/// An OpenPGP key generated in the scratch GNUPGHOME; the agent is killed
/// on drop.
struct Pgp {
    home: PathBuf,
    fingerprint: String,
}

impl Drop for Pgp {
    fn drop(&mut self) {
        kill_agent(&self.home);
    }
}

fn kill_agent(home: &Path) {
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home)
        .args(["--kill", "gpg-agent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Generates a passphrase-less key in `s`'s GNUPGHOME, or `None` when gpg
/// is not installed (the checks then use age keys only).
fn gen_pgp(s: &Scratch) -> Option<Pgp> {
    let home = s.path(".gnupg");
    std::fs::create_dir_all(&home).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).ok()?;
    }
    let gen = Command::new("gpg")
        .arg("--homedir")
        .arg(&home)
        .args([
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "rsops keygroups test (TEST ONLY) <kg@example.invalid>",
            "future-default",
            "default",
            "never",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let pgp = Pgp {
        home: home.clone(),
        fingerprint: String::new(),
    };
    assert!(gen.success(), "gpg --quick-gen-key failed");
    let list = Command::new("gpg")
        .arg("--homedir")
        .arg(&home)
        .args(["--list-keys", "--with-colons"])
        .output()
        .expect("gpg --list-keys");
    let text = String::from_utf8_lossy(&list.stdout);
    let fingerprint = text
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .map(|rest| rest.trim_matches(':').to_owned())
        .expect("fingerprint");
    let mut pgp = pgp;
    pgp.fingerprint = fingerprint;
    Some(pgp)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_code(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: stderr: {}",
        stderr(out)
    );
}

/// Every `ENC[...]` value of a file.
fn enc_values(text: &str) -> Vec<String> {
    let re = Regex::new(r"ENC\[AES256_GCM,[^\]]*\]").expect("regex");
    re.find_iter(text).map(|m| m.as_str().to_owned()).collect()
}

/// Every age `enc` block of a file.
fn age_blocks(text: &str) -> Vec<String> {
    let re =
        Regex::new(r"(?s)-----BEGIN AGE ENCRYPTED FILE-----.*?-----END AGE ENCRYPTED FILE-----")
            .expect("regex");
    re.find_iter(text).map(|m| m.as_str().to_owned()).collect()
}

/// The line starting with `prefix` (trimmed), e.g. `lastmodified:`.
fn line_with(text: &str, prefix: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_default()
        .to_owned()
}

/// A 2-of-3 rule: group 0 = age-1 (+ the PGP key), group 1 = age-2,
/// group 2 = age-3.
fn two_of_three_config(pgp: Option<&Pgp>) -> String {
    let pgp_line = pgp
        .map(|p| format!("        pgp: [{}]\n", p.fingerprint))
        .unwrap_or_default();
    format!(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n{pgp_line}      - age: [{}]\n      - age: [{}]\n",
        recipient(1),
        recipient(2),
        recipient(3)
    )
}

/// Decrypts `file` (copied into a scratch without any PGP key) with the
/// identities `ns` only.
fn decrypt_without_pgp(program: &Path, content: &[u8], ns: &[u8]) -> Output {
    let s = Scratch::new();
    s.write("f.yaml", content);
    let key = key_file(&s, ns);
    let out = s.run(program, &["decrypt", "f.yaml"], Some(&key), None);
    kill_agent(&s.path(".gnupg"));
    out
}

#[test]
fn two_of_three_mixed_groups_interoperate_with_sops() {
    let Some(sops_bin) = sops() else { return };
    let s = Scratch::new();
    let pgp = gen_pgp(&s);
    s.write(".sops.yaml", two_of_three_config(pgp.as_ref()).as_bytes());
    s.write("plain.yaml", PLAIN.as_bytes());
    let all = key_file(&s, &[1, 2, 3]);

    let by_sops = ok(
        &s.run(&sops_bin, &["encrypt", "plain.yaml"], None, None),
        "sops encrypt",
    );
    assert!(String::from_utf8_lossy(&by_sops).contains("shamir_threshold: 2"));
    let by_rsops = ok(
        &s.run(rsops_bin(), &["encrypt", "plain.yaml"], None, None),
        "rsops encrypt",
    );
    s.write("by-sops.yaml", &by_sops);
    let expected = ok(
        &s.run(&sops_bin, &["decrypt", "by-sops.yaml"], Some(&all), None),
        "sops decrypt",
    );

    for (made, file, reader, reader_name) in [
        ("sops", &by_sops, rsops_bin(), "rsops"),
        ("rsops", &by_rsops, sops_bin.as_path(), "sops"),
    ] {
        for pair in [[1u8, 2], [1, 3], [2, 3]] {
            let out = decrypt_without_pgp(reader, file, &pair);
            assert_eq!(
                ok(
                    &out,
                    &format!("{reader_name} decrypt of {made}'s file with groups {pair:?}")
                ),
                expected,
                "{made}'s file, {reader_name} with age keys {pair:?}"
            );
        }
        let out = decrypt_without_pgp(reader, file, &[2]);
        assert_code(
            &out,
            128,
            &format!("{reader_name}: one group of {made}'s file"),
        );
        assert!(out.stdout.is_empty());
        if reader_name == "rsops" {
            let msg = stderr(&out);
            assert!(msg.contains("Shamir threshold 2"), "{msg}");
            assert!(
                msg.contains(&recipient(1)) && msg.contains(&recipient(3)),
                "{msg}"
            );
        }
        if pgp.is_some() {
            // Group 0 through the PGP key, group 2 through age-3.
            s.write("via-pgp.yaml", file);
            let only3 = key_file(&s, &[3]);
            let out = s.run(reader, &["decrypt", "via-pgp.yaml"], Some(&only3), None);
            assert_eq!(ok(&out, "decrypt with PGP + age-3"), expected);
        }
    }
}

#[test]
fn decryption_order_flag_and_env_are_honoured() {
    let s = Scratch::new();
    s.write(".sops.yaml", two_of_three_config(None).as_bytes());
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(&s.rsops(&["encrypt", "plain.yaml"]), "encrypt");
    s.write("f.yaml", &enc);
    let keys = key_file(&s, &[1, 3]);
    let out = s.run(
        rsops_bin(),
        &["decrypt", "--decryption-order", "pgp,age", "f.yaml"],
        Some(&keys),
        None,
    );
    assert_eq!(ok(&out, "decrypt with an order"), PLAIN.as_bytes());
    let out = s.run_env(
        rsops_bin(),
        &["decrypt", "f.yaml"],
        Some(&keys),
        &[("SOPS_DECRYPTION_ORDER", OsStr::new("age,age"))],
        None,
    );
    assert_code(&out, 112, "duplicate type in SOPS_DECRYPTION_ORDER");
}

/// A file sops encrypted for two groups (age-1 | age-2, threshold 2).
fn sops_two_groups(s: &Scratch, sops_bin: &Path) -> Vec<u8> {
    s.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - key_groups:\n      - age: [{}]\n      - age: [{}]\n",
            recipient(1),
            recipient(2)
        )
        .as_bytes(),
    );
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &s.run(sops_bin, &["encrypt", "plain.yaml"], None, None),
        "sops encrypt",
    );
    std::fs::remove_file(s.path(".sops.yaml")).expect("rm config");
    enc
}

#[test]
fn rotate_renews_data_key_and_every_ciphertext() {
    let Some(sops_bin) = sops() else { return };
    let s = Scratch::new();
    let old = sops_two_groups(&s, &sops_bin);
    s.write("f.yaml", &old);
    let keys = key_file(&s, &[1, 2]);

    // stdout by default: the file itself is untouched.
    let new = ok(
        &s.run(rsops_bin(), &["rotate", "f.yaml"], Some(&keys), None),
        "rotate",
    );
    assert_eq!(std::fs::read(s.path("f.yaml")).expect("read"), old);

    let old_text = String::from_utf8_lossy(&old).into_owned();
    let new_text = String::from_utf8_lossy(&new).into_owned();
    let (old_values, new_values) = (enc_values(&old_text), enc_values(&new_text));
    assert_eq!(old_values.len(), new_values.len());
    assert!(old_values.len() > 4);
    for v in &old_values {
        assert!(
            !new_text.contains(v.as_str()),
            "old ciphertext {v} survived"
        );
    }
    let (old_blocks, new_blocks) = (age_blocks(&old_text), age_blocks(&new_text));
    assert_eq!(new_blocks.len(), 2);
    for b in &old_blocks {
        assert!(!new_blocks.contains(b), "an enc block was not renewed");
    }
    assert!(new_text.contains("shamir_threshold: 2"));
    assert_eq!(line_with(&new_text, "version:"), "version: 3.11.0");

    // sops reads the rotated file to the same plaintext.
    s.write("new.yaml", &new);
    let before = ok(
        &s.run(&sops_bin, &["decrypt", "f.yaml"], Some(&keys), None),
        "sops decrypt old",
    );
    let after = ok(
        &s.run(&sops_bin, &["decrypt", "new.yaml"], Some(&keys), None),
        "sops decrypt rotated",
    );
    assert_eq!(before, after);

    // A value from the old file does not open with the new data key.
    let old_password = line_with(&old_text, "password:");
    let new_password = line_with(&new_text, "password:");
    let swapped = new_text.replace(&new_password, &old_password);
    s.write("swapped.yaml", swapped.as_bytes());
    for program in [sops_bin.as_path(), rsops_bin()] {
        let out = s.run(program, &["decrypt", "swapped.yaml"], Some(&keys), None);
        assert!(
            !out.status.success(),
            "old ciphertext opened with the new key"
        );
        assert!(out.stdout.is_empty());
    }

    // -i writes in place.
    ok(
        &s.run(rsops_bin(), &["rotate", "-i", "f.yaml"], Some(&keys), None),
        "rotate -i",
    );
    assert_ne!(std::fs::read(s.path("f.yaml")).expect("read"), old);
}

#[test]
fn rotate_adds_to_group_zero_and_removes_everywhere() {
    let Some(sops_bin) = sops() else { return };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let age1 = recipient(1);
    let enc = ok(
        &s.run(
            &sops_bin,
            &[
                "encrypt",
                "--age",
                &format!("{age1},{}", recipient(2)),
                "plain.yaml",
            ],
            None,
            None,
        ),
        "sops encrypt",
    );
    s.write("f.yaml", &enc);
    let k1 = key_file(&s, &[1]);
    let out = s.run(
        rsops_bin(),
        &[
            "rotate",
            "--add-age",
            &recipient(3),
            "--rm-age",
            &age1,
            "--output",
            "r.yaml",
            "f.yaml",
        ],
        Some(&k1),
        None,
    );
    ok(&out, "rotate --add-age --rm-age");
    assert!(out.stdout.is_empty(), "--output: nothing on stdout");
    let text = std::fs::read_to_string(s.path("r.yaml")).expect("output file");
    assert!(!text.contains(&age1));
    assert!(!text.contains("key_groups"), "one group stays flat");
    let k3 = key_file(&s, &[3]);
    let out = s.run(&sops_bin, &["decrypt", "r.yaml"], Some(&k3), None);
    assert_eq!(
        ok(&out, "sops decrypt with the added key"),
        PLAIN.as_bytes()
    );
    let out = s.run(&sops_bin, &["decrypt", "r.yaml"], Some(&k1), None);
    assert_code(&out, 128, "the removed key no longer opens the file");

    // Removing the last key of a group is refused.
    let out = s.run(
        rsops_bin(),
        &[
            "rotate",
            "--rm-age",
            &format!("{},{}", recipient(2), recipient(3)),
            "r.yaml",
        ],
        Some(&k3),
        None,
    );
    assert_code(&out, 1, "emptying group 0");
    assert!(stderr(&out).contains("key group 0"), "{}", stderr(&out));
}

#[test]
fn rotate_missing_file_exit_codes_match_sops() {
    let s = Scratch::new();
    let out = s.rsops(&["rotate", "nope.yaml"]);
    assert_code(&out, 2, "rotate of a missing file");
    let out = s.rsops(&["rotate", "--add-age", &recipient(1), "nope.yaml"]);
    assert_code(&out, 49, "rotate --add-age of a missing file");
    let out = s.rsops(&["rotate"]);
    assert_code(&out, 100, "rotate without a file");
    if let Some(sops_bin) = sops() {
        for (args, code) in [
            (vec!["rotate", "nope.yaml"], 2),
            (vec!["rotate", "--rm-pgp", "ABCD", "nope.yaml"], 49),
        ] {
            let out = s.run(&sops_bin, &args, None, None);
            assert_code(&out, code, "sops on a missing file");
        }
    }
}

#[test]
fn updatekeys_adds_a_recipient_without_touching_values() {
    let Some(sops_bin) = sops() else { return };
    let s = Scratch::new();
    let rule = |recipients: &str| format!("creation_rules:\n  - age: {recipients}\n");
    s.write(".sops.yaml", rule(&recipient(1)).as_bytes());
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &s.run(&sops_bin, &["encrypt", "plain.yaml"], None, None),
        "sops encrypt",
    );
    s.write("f.yaml", &enc);
    s.write(
        ".sops.yaml",
        rule(&format!("{},{}", recipient(1), recipient(2))).as_bytes(),
    );
    let k1 = key_file(&s, &[1]);

    // Without -y and with stdin at EOF: error, file unchanged.
    let out = s.run(rsops_bin(), &["updatekeys", "f.yaml"], Some(&k1), Some(b""));
    assert_code(&out, 1, "no answer");
    let msg = stderr(&out);
    assert!(msg.contains(&format!("+++ {}", recipient(2))), "{msg}");
    assert!(msg.contains("Is this okay? (y/n):"), "{msg}");
    assert_eq!(std::fs::read(s.path("f.yaml")).expect("read"), enc);

    // Answer n: unchanged.
    let out = s.run(
        rsops_bin(),
        &["updatekeys", "f.yaml"],
        Some(&k1),
        Some(b"n\n"),
    );
    ok(&out, "answer n");
    assert_eq!(std::fs::read(s.path("f.yaml")).expect("read"), enc);

    let out = s.run(
        rsops_bin(),
        &["updatekeys", "-y", "f.yaml"],
        Some(&k1),
        None,
    );
    ok(&out, "updatekeys -y");
    let updated = std::fs::read_to_string(s.path("f.yaml")).expect("read");
    let old = String::from_utf8_lossy(&enc).into_owned();
    assert_eq!(enc_values(&updated), enc_values(&old), "values untouched");
    for field in ["lastmodified:", "mac:", "version:"] {
        assert_eq!(
            line_with(&updated, field),
            line_with(&old, field),
            "{field}"
        );
    }
    let k2 = key_file(&s, &[2]);
    let out = s.run(&sops_bin, &["decrypt", "f.yaml"], Some(&k2), None);
    assert_eq!(
        ok(&out, "sops decrypt with the new key alone"),
        PLAIN.as_bytes()
    );

    // Up to date: nothing written.
    let out = s.run(
        rsops_bin(),
        &["updatekeys", "-y", "f.yaml"],
        Some(&k1),
        None,
    );
    ok(&out, "second updatekeys");
    assert!(
        stderr(&out).contains("already up to date"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(s.path("f.yaml")).expect("read"),
        updated
    );
}

#[test]
fn updatekeys_matches_sops_on_regrouping() {
    let Some(sops_bin) = sops() else { return };
    let s = Scratch::new();
    s.write(".sops.yaml", two_of_three_config(None).as_bytes());
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &s.run(&sops_bin, &["encrypt", "plain.yaml"], None, None),
        "sops encrypt",
    );
    s.write("mine.yaml", &enc);
    s.write("theirs.yaml", &enc);
    s.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - key_groups:\n      - age: [{}, {}]\n      - age: [{}]\n",
            recipient(1),
            recipient(3),
            recipient(2)
        )
        .as_bytes(),
    );
    let k12 = key_file(&s, &[1, 2]);
    ok(
        &s.run(
            rsops_bin(),
            &["updatekeys", "-y", "mine.yaml"],
            Some(&k12),
            None,
        ),
        "rsops updatekeys",
    );
    ok(
        &s.run(
            &sops_bin,
            &["updatekeys", "-y", "theirs.yaml"],
            Some(&k12),
            None,
        ),
        "sops updatekeys",
    );
    let strip = |name: &str| -> Vec<String> {
        let text = std::fs::read_to_string(s.path(name)).expect("read");
        let blocks = age_blocks(&text);
        let mut t = text;
        for b in blocks {
            t = t.replace(&b, "");
        }
        metadata_sorted(&t)
    };
    assert_eq!(strip("mine.yaml"), strip("theirs.yaml"));
    let k32 = key_file(&s, &[3, 2]);
    let out = s.run(&sops_bin, &["decrypt", "mine.yaml"], Some(&k32), None);
    assert_eq!(ok(&out, "sops decrypt after regrouping"), PLAIN.as_bytes());
}

#[test]
fn updatekeys_on_a_directory_updates_matching_sops_files() {
    let s = Scratch::new();
    let k1 = key_file(&s, &[1]);
    std::fs::create_dir_all(s.path("secrets/other")).expect("mkdir");
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &s.run(
            rsops_bin(),
            &["encrypt", "--age", &recipient(1), "plain.yaml"],
            Some(&k1),
            None,
        ),
        "encrypt",
    );
    s.write("secrets/a.yaml", &enc);
    s.write("secrets/other/b.yaml", &enc);
    s.write("secrets/notes.yaml", b"just: plain\n");
    s.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^secrets/[^/]*\\.yaml$\n    age: {},{}\n",
            recipient(1),
            recipient(2)
        )
        .as_bytes(),
    );
    let out = s.run(
        rsops_bin(),
        &["updatekeys", "-y", "secrets"],
        Some(&k1),
        None,
    );
    ok(&out, "updatekeys on a directory");
    let msg = stderr(&out);
    assert!(msg.contains("a.yaml synced with new keys"), "{msg}");
    assert!(msg.contains("b.yaml: no creation rule matches"), "{msg}");
    assert!(!msg.contains("notes.yaml"), "{msg}");
    assert!(std::fs::read_to_string(s.path("secrets/a.yaml"))
        .expect("read")
        .contains(&recipient(2)));
    assert_eq!(
        std::fs::read(s.path("secrets/other/b.yaml")).expect("read"),
        enc
    );
    assert_eq!(
        std::fs::read(s.path("secrets/notes.yaml")).expect("read"),
        b"just: plain\n"
    );
    let k2 = key_file(&s, &[2]);
    let out = s.run(rsops_bin(), &["decrypt", "secrets/a.yaml"], Some(&k2), None);
    assert_eq!(ok(&out, "decrypt with the added key"), PLAIN.as_bytes());
}

#[test]
fn config_from_file_dir_is_opt_in() {
    let s = Scratch::new();
    let k1 = key_file(&s, &[1]);
    std::fs::create_dir_all(s.path("proj")).expect("mkdir");
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &s.run(
            rsops_bin(),
            &["encrypt", "--age", &recipient(1), "plain.yaml"],
            Some(&k1),
            None,
        ),
        "encrypt",
    );
    s.write("proj/f.yaml", &enc);
    s.write(
        "proj/.sops.yaml",
        format!(
            "creation_rules:\n  - age: {},{}\n",
            recipient(1),
            recipient(2)
        )
        .as_bytes(),
    );
    // Default (sops): the search starts in the current directory (the
    // scratch root, which has no .sops.yaml).
    let out = s.run(
        rsops_bin(),
        &["updatekeys", "-y", "proj/f.yaml"],
        Some(&k1),
        None,
    );
    assert_code(&out, 1, "no config in the current directory");
    assert!(
        stderr(&out).contains("config file not found"),
        "{}",
        stderr(&out)
    );
    let out = s.run_env(
        rsops_bin(),
        &["updatekeys", "-y", "proj/f.yaml"],
        Some(&k1),
        &[("RSOPS_CONFIG_FROM_FILE_DIR", OsStr::new("1"))],
        None,
    );
    ok(&out, "updatekeys with RSOPS_CONFIG_FROM_FILE_DIR=1");
    assert!(std::fs::read_to_string(s.path("proj/f.yaml"))
        .expect("read")
        .contains(&recipient(2)));
}

#[test]
fn groups_add_and_delete_match_sops() {
    let Some(sops_bin) = sops() else { return };
    let s = Scratch::new();
    let enc = sops_two_groups(&s, &sops_bin);
    s.write("mine.yaml", &enc);
    s.write("theirs.yaml", &enc);
    let k12 = key_file(&s, &[1, 2]);
    let age3 = recipient(3);
    let out = s.run(
        rsops_bin(),
        &["groups", "add", "--file", "mine.yaml", "--age", &age3],
        Some(&k12),
        None,
    );
    let added = ok(&out, "rsops groups add");
    assert_eq!(
        std::fs::read(s.path("mine.yaml")).expect("read"),
        enc,
        "stdout only"
    );
    ok(
        &s.run(
            &sops_bin,
            &[
                "groups",
                "add",
                "--file",
                "theirs.yaml",
                "--age",
                &age3,
                "-i",
            ],
            Some(&k12),
            None,
        ),
        "sops groups add",
    );
    let strip = |text: &str| -> String {
        let mut t = text.to_owned();
        for b in age_blocks(text) {
            t = t.replace(&b, "");
        }
        t
    };
    let added_text = String::from_utf8_lossy(&added).into_owned();
    let theirs = std::fs::read_to_string(s.path("theirs.yaml")).expect("read");
    assert_eq!(
        metadata_sorted(&strip(&added_text)),
        metadata_sorted(&strip(&theirs))
    );
    assert_eq!(
        enc_values(&added_text),
        enc_values(&String::from_utf8_lossy(&enc))
    );

    // The new group counts: age-3 and age-1 (2 of 3 groups) open it.
    s.write("added.yaml", &added);
    let k13 = key_file(&s, &[1, 3]);
    let out = s.run(&sops_bin, &["decrypt", "added.yaml"], Some(&k13), None);
    assert_eq!(ok(&out, "sops decrypt after groups add"), PLAIN.as_bytes());

    // Delete group 0 (in place); threshold 2 of the 2 remaining.
    ok(
        &s.run(
            rsops_bin(),
            &["groups", "delete", "--file", "added.yaml", "-i", "0"],
            Some(&k12),
            None,
        ),
        "groups delete",
    );
    let text = std::fs::read_to_string(s.path("added.yaml")).expect("read");
    assert!(!text.contains(&recipient(1)));
    let k23 = key_file(&s, &[2, 3]);
    let out = s.run(&sops_bin, &["decrypt", "added.yaml"], Some(&k23), None);
    assert_eq!(
        ok(&out, "sops decrypt after groups delete"),
        PLAIN.as_bytes()
    );

    // Refused below the threshold, as sops.
    for program in [rsops_bin(), sops_bin.as_path()] {
        let out = s.run(
            program,
            &["groups", "delete", "--file", "added.yaml", "0"],
            Some(&k23),
            None,
        );
        assert_code(&out, 1, "delete below the threshold");
        assert!(
            stderr(&out).contains("Shamir threshold"),
            "{}",
            stderr(&out)
        );
    }
}
