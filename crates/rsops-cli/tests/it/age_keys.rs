//! age keys beyond X25519, checked end to end and against the reference
//! sops: hybrid post-quantum recipients and identities (sops 3.12+), key
//! files mixing classic and post-quantum identities, `SOPS_AGE_RECIPIENT`
//! for the key commands, `SOPS_AGE_SSH_PRIVATE_KEY_CMD`, passphrase-protected
//! identity files, and age plugins run from `PATH`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{demo_key_file, ok, sops, Scratch, DEMO_RECIPIENT};

const PLAIN: &str = "user: alice\npassword: hunter2\n";

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

fn rsops_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rsops"))
}

/// The TEST-ONLY post-quantum identity file and its recipient.
fn pq_key() -> (PathBuf, String) {
    let path = testdata("test-only-pq-age-key.txt");
    let text = std::fs::read_to_string(&path).expect("pq key");
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key line")
        .to_owned();
    assert!(recipient.starts_with("age1pq1"), "{recipient}");
    (path, recipient)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn post_quantum_recipients_round_trip_with_sops() {
    let s = Scratch::new();
    let (key, recipient) = pq_key();
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &s.run(
            rsops_bin(),
            &["encrypt", "--age", &recipient, "plain.yaml"],
            None,
            None,
        ),
        "rsops encrypt to a pq recipient",
    );
    let text = String::from_utf8_lossy(&enc).into_owned();
    assert!(text.contains(&format!("recipient: {recipient}")), "{text}");
    s.write("by-rsops.yaml", &enc);
    let plain = ok(
        &s.run(rsops_bin(), &["decrypt", "by-rsops.yaml"], Some(&key), None),
        "rsops decrypt with the pq identity",
    );
    assert_eq!(String::from_utf8_lossy(&plain), PLAIN);
    // The X25519 demo identity cannot open it.
    let out = s.run(
        rsops_bin(),
        &["decrypt", "by-rsops.yaml"],
        Some(&demo_key_file()),
        None,
    );
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));

    let Some(sops) = sops() else { return };
    let plain = ok(
        &s.run(&sops, &["decrypt", "by-rsops.yaml"], Some(&key), None),
        "sops decrypt of rsops's pq file",
    );
    assert_eq!(String::from_utf8_lossy(&plain), PLAIN);
    let enc = ok(
        &s.run(
            &sops,
            &["encrypt", "--age", &recipient, "plain.yaml"],
            None,
            None,
        ),
        "sops encrypt to a pq recipient",
    );
    s.write("by-sops.yaml", &enc);
    let plain = ok(
        &s.run(rsops_bin(), &["decrypt", "by-sops.yaml"], Some(&key), None),
        "rsops decrypt of sops's pq file",
    );
    assert_eq!(String::from_utf8_lossy(&plain), PLAIN);
}

/// A keys file with an X25519 and a post-quantum identity opens files of
/// either kind (rsops used to refuse the whole file).
#[test]
fn one_key_file_holds_classic_and_post_quantum_identities() {
    let s = Scratch::new();
    let (pq, recipient) = pq_key();
    let mut both = std::fs::read(demo_key_file()).unwrap();
    both.extend(std::fs::read(&pq).unwrap());
    let keys = s.write("keys.txt", &both);
    s.write("plain.yaml", PLAIN.as_bytes());
    for r in [recipient.as_str(), DEMO_RECIPIENT] {
        let enc = ok(
            &s.run(
                rsops_bin(),
                &["encrypt", "--age", r, "plain.yaml"],
                None,
                None,
            ),
            "encrypt",
        );
        s.write("f.yaml", &enc);
        let plain = ok(
            &s.run(rsops_bin(), &["decrypt", "f.yaml"], Some(&keys), None),
            r,
        );
        assert_eq!(String::from_utf8_lossy(&plain), PLAIN, "{r}");
    }
}

/// `SOPS_AGE_KEY_CMD` is split shell-style and run without a shell, with
/// `SOPS_AGE_RECIPIENT` naming the recipient being decrypted (sops 3.12+;
/// the reference has it too).
#[test]
fn key_command_gets_the_recipient() {
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &s.run(
            rsops_bin(),
            &["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"],
            None,
            None,
        ),
        "encrypt",
    );
    s.write("f.yaml", &enc);
    let key = demo_key_file();
    let command = format!(
        "sh -c 'printf \"%s\\n\" \"$SOPS_AGE_RECIPIENT\" >> \"$1\"; cat \"$0\"' '{}' '{}'",
        key.display(),
        s.path("recipients.log").display()
    );
    let mut tools = vec![rsops_bin().to_path_buf()];
    tools.extend(sops());
    for tool in tools {
        let _ = std::fs::remove_file(s.path("recipients.log"));
        let out = s.run_env(
            &tool,
            &["decrypt", "f.yaml"],
            None,
            &[("SOPS_AGE_KEY_CMD", OsStr::new(&command))],
            None,
        );
        let plain = ok(&out, &format!("{} with SOPS_AGE_KEY_CMD", tool.display()));
        assert_eq!(String::from_utf8_lossy(&plain), PLAIN);
        let log = std::fs::read_to_string(s.path("recipients.log")).expect("the command ran");
        assert_eq!(log, format!("{DEMO_RECIPIENT}\n"), "{}", tool.display());
    }
}

/// `SOPS_AGE_SSH_PRIVATE_KEY_CMD` (sops 3.12+) prints an OpenSSH private
/// key; it also gets `SOPS_AGE_RECIPIENT`.
#[test]
fn ssh_private_key_command() {
    let s = Scratch::new();
    let made = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "rsops-test-only",
            "-f",
        ])
        .arg(s.path("id"))
        .status();
    if !made.is_ok_and(|st| st.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "ssh-keygen is required under CI=true"
        );
        eprintln!("note: ssh-keygen not found; skipping");
        return;
    }
    let public = std::fs::read_to_string(s.path("id.pub")).unwrap();
    let public = public.trim();
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &s.run(
            rsops_bin(),
            &["encrypt", "--age", public, "plain.yaml"],
            None,
            None,
        ),
        "encrypt to an ssh recipient",
    );
    s.write("f.yaml", &enc);
    let command = format!(
        "sh -c 'printf \"%s\" \"$SOPS_AGE_RECIPIENT\" > \"$1\"; cat \"$0\"' '{}' '{}'",
        s.path("id").display(),
        s.path("recipient.log").display()
    );
    let out = s.run_env(
        rsops_bin(),
        &["decrypt", "f.yaml"],
        None,
        &[("SOPS_AGE_SSH_PRIVATE_KEY_CMD", OsStr::new(&command))],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&ok(&out, "decrypt")), PLAIN);
    let logged = std::fs::read_to_string(s.path("recipient.log")).unwrap();
    assert_eq!(logged, public);

    // A command that fails is reported, with the variable's name.
    let out = s.run_env(
        rsops_bin(),
        &["decrypt", "f.yaml"],
        None,
        &[("SOPS_AGE_SSH_PRIVATE_KEY_CMD", OsStr::new("false"))],
        None,
    );
    assert_eq!(out.status.code(), Some(128));
    assert!(
        stderr(&out).contains("SOPS_AGE_SSH_PRIVATE_KEY_CMD"),
        "{}",
        stderr(&out)
    );
}

/// Runs rsops without a controlling terminal (`setsid`), or `None` when
/// `setsid` is missing.
fn rsops_without_terminal(s: &Scratch, args: &[&str], env: &[(&str, &OsStr)]) -> Option<Output> {
    if Command::new("setsid").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "setsid is required under CI=true"
        );
        eprintln!("note: setsid not found; skipping");
        return None;
    }
    let mut all = vec!["-w", env!("CARGO_BIN_EXE_rsops")];
    all.extend_from_slice(args);
    Some(s.run_env(Path::new("setsid"), &all, None, env, None))
}

/// A passphrase-protected keys file (`age -p`; the TEST-ONLY passphrase is
/// `rsops-test-passphrase`): the passphrase comes from pinentry
/// (`PINENTRY_PROGRAM`, here a stand-in that speaks its protocol); without a
/// terminal and without pinentry rsops fails at once, saying why.
#[test]
fn passphrase_protected_identity_file() {
    let s = Scratch::new();
    let locked = testdata("test-only-demo-age-key.passphrase.age");
    let secret = testdata("demo-secret.enc.yaml");
    let pinentry = s.write(
        "pinentry.sh",
        b"#!/bin/sh\necho 'OK Pleased to meet you'\nwhile read -r cmd rest; do\n  case \"$cmd\" in\n    GETPIN) echo 'D rsops-test-passphrase'; echo OK ;;\n    BYE) echo OK; exit 0 ;;\n    *) echo OK ;;\n  esac\ndone\n",
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pinentry, std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret_arg = secret.to_str().unwrap();
    let Some(out) = rsops_without_terminal(
        &s,
        &["decrypt", secret_arg],
        &[
            ("SOPS_AGE_KEY_FILE", locked.as_os_str()),
            ("PINENTRY_PROGRAM", pinentry.as_os_str()),
        ],
    ) else {
        return;
    };
    let expected = std::fs::read(testdata("demo-secret.yaml")).unwrap();
    assert_eq!(ok(&out, "decrypt with pinentry"), expected);

    let started = std::time::Instant::now();
    let out = rsops_without_terminal(
        &s,
        &["decrypt", secret_arg],
        &[("SOPS_AGE_KEY_FILE", locked.as_os_str())],
    )
    .expect("setsid");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot ask for the passphrase of the age identity file 'SOPS_AGE_KEY_FILE': there is no terminal"),
        "{}",
        stderr(&out)
    );
}

/// Builds the TEST-ONLY plugin `age-plugin-rsopstest` (workspace member
/// `rsops-test-age-plugin`) into its own target directory and returns the
/// directory holding the binary.
fn build_test_plugin() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_rsops"));
    // target/<profile>/rsops → target/
    let target = exe.parent().and_then(Path::parent).expect("target dir");
    let plugin_target = target.join("test-age-plugin");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "rsops-test-age-plugin",
            "--target-dir",
        ])
        .arg(&plugin_target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the test plugin failed");
    plugin_target.join("debug")
}

/// An identity file made by the plugin for `id`, and its recipient.
fn plugin_identity(s: &Scratch, bin: &Path, id: &str) -> (PathBuf, String) {
    let out = Command::new(bin.join("age-plugin-rsopstest"))
        .arg(id)
        .output()
        .expect("run plugin");
    let text = String::from_utf8(ok(&out, "plugin identity")).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# recipient: "))
        .expect("recipient line")
        .to_owned();
    assert!(recipient.starts_with("age1rsopstest1"), "{recipient}");
    assert!(text.contains("AGE-PLUGIN-RSOPSTEST-1"), "{text}");
    (s.write(&format!("{id}.txt"), text.as_bytes()), recipient)
}

/// age plugins: `age1rsopstest1…` recipients and `AGE-PLUGIN-RSOPSTEST-1…`
/// identities go through `age-plugin-rsopstest` from `PATH`, in rsops and in
/// sops, both ways; a plugin identity for another key fails.
#[test]
fn age_plugin_from_path_works_both_ways_with_sops() {
    let s = Scratch::new();
    let bin = build_test_plugin();
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let env = [("PATH", path.as_os_str())];
    let (key, recipient) = plugin_identity(&s, &bin, "alice");
    let (other, _) = plugin_identity(&s, &bin, "mallory");
    s.write("plain.yaml", PLAIN.as_bytes());

    let enc = ok(
        &s.run_env(
            rsops_bin(),
            &["encrypt", "--age", &recipient, "plain.yaml"],
            None,
            &env,
            None,
        ),
        "rsops encrypt to a plugin recipient",
    );
    s.write("by-rsops.yaml", &enc);
    let plain = ok(
        &s.run_env(
            rsops_bin(),
            &["decrypt", "by-rsops.yaml"],
            Some(&key),
            &env,
            None,
        ),
        "rsops decrypt with a plugin identity",
    );
    assert_eq!(String::from_utf8_lossy(&plain), PLAIN);
    let out = s.run_env(
        rsops_bin(),
        &["decrypt", "by-rsops.yaml"],
        Some(&other),
        &env,
        None,
    );
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));

    let Some(sops) = sops() else { return };
    let plain = ok(
        &s.run_env(&sops, &["decrypt", "by-rsops.yaml"], Some(&key), &env, None),
        "sops decrypt of rsops's plugin file",
    );
    assert_eq!(String::from_utf8_lossy(&plain), PLAIN);
    let enc = ok(
        &s.run_env(
            &sops,
            &["encrypt", "--age", &recipient, "plain.yaml"],
            None,
            &env,
            None,
        ),
        "sops encrypt to a plugin recipient",
    );
    s.write("by-sops.yaml", &enc);
    let plain = ok(
        &s.run_env(
            rsops_bin(),
            &["decrypt", "by-sops.yaml"],
            Some(&key),
            &env,
            None,
        ),
        "rsops decrypt of sops's plugin file",
    );
    assert_eq!(String::from_utf8_lossy(&plain), PLAIN);
}
