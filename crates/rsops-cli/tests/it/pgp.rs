//! OpenPGP end to end (issue 3): the GnuPG tutorial setup with real `gpg`
//! keys in a throw-away GnuPG home, checked against the real sops 3.11 in
//! both directions.
//!
//! Every test creates its own GnuPG home (mode 0700, short path for the
//! gpg-agent socket), and a drop guard kills that home's gpg-agent even when
//! the test fails. Tests skip when gpg is missing, except under `CI=true`,
//! where they fail.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{demo_key_file, ok, sops, Scratch, DEMO_RECIPIENT};

/// gpg-agent's socket path limit is about 107 bytes; the socket names are
/// up to 20 bytes long, so longer homes go to a short directory in /tmp.
const MAX_HOME_LEN: usize = 80;

/// The passphrase of the protected test key (test-only).
const PASSPHRASE: &str = "correct horse battery staple";

/// A Kubernetes Secret as `kubectl create secret generic my-secret
/// --from-literal=... --dry-run=client -o json` prints it (plus a
/// `stringData` block, which the encrypted_regex also covers).
const K8S_SECRET: &str = r#"{
    "apiVersion": "v1",
    "data": {
        "password": "czNjcjN0",
        "username": "YWRtaW4="
    },
    "kind": "Secret",
    "metadata": {
        "creationTimestamp": null,
        "name": "my-secret"
    },
    "stringData": {
        "url": "postgres://db:5432/app"
    },
    "type": "Opaque"
}
"#;

/// A small Secret in YAML.
const YAML_SECRET: &str = "\
apiVersion: v1
kind: Secret
metadata:
    name: db-credentials
type: Opaque
data:
    password: czNjcjN0
stringData:
    url: postgres://db:5432/app
";

/// The tutorial's `.sops.yaml` rule for `fingerprint`.
fn tutorial_rules(fingerprint: &str) -> String {
    format!(
        "creation_rules:\n  - pgp: {fingerprint}\n    encrypted_regex: \"^(data|stringData)$\"\n"
    )
}

/// Whether gpg and gpgconf can be run. Under `CI=true` their absence fails
/// the test instead of skipping it.
fn gpg_available() -> bool {
    let works = |program: &str| {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if works("gpg") && works("gpgconf") {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "gpg and gpgconf (GnuPG >= 2.1) are required under CI=true"
    );
    eprintln!("note: gpg not found; skipping the OpenPGP test");
    false
}

/// A GnuPG home whose gpg-agent (and any other GnuPG daemon) is killed when
/// it is dropped.
struct GnupgHome {
    /// The directory.
    path: PathBuf,
    /// A short directory in /tmp, when the scratch path is too long.
    _short: Option<tempfile::TempDir>,
}

impl GnupgHome {
    /// Creates `<scratch>/<name>` (or a short /tmp directory) with mode
    /// 0700, and an agent configuration that allows preset passphrases and
    /// never prompts (pinentry = /bin/false).
    fn create(s: &Scratch, name: &str) -> GnupgHome {
        let wanted = s.path(name);
        let (path, short) = if wanted.as_os_str().len() <= MAX_HOME_LEN {
            (wanted, None)
        } else {
            let dir = tempfile::Builder::new()
                .prefix("rsops-gpg-")
                .tempdir_in("/tmp")
                .expect("short gpg home");
            (dir.path().to_path_buf(), Some(dir))
        };
        std::fs::create_dir_all(&path).expect("create gpg home");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
                .expect("chmod 0700");
        }
        std::fs::write(
            path.join("gpg-agent.conf"),
            "allow-preset-passphrase\npinentry-program /bin/false\n",
        )
        .expect("gpg-agent.conf");
        GnupgHome {
            path,
            _short: short,
        }
    }

    /// Runs gpg (or a GnuPG helper) on this home.
    fn run(&self, program: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = Command::new(program);
        c.args(args)
            .env("GNUPGHOME", &self.path)
            .env_remove("GPG_TTY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn gpg");
        {
            use std::io::Write;
            let mut input = child.stdin.take().expect("stdin");
            if let Some(data) = stdin {
                input.write_all(data).expect("write stdin");
            }
        }
        child.wait_with_output().expect("wait gpg")
    }

    /// Runs `gpg args` and asserts success.
    fn gpg(&self, args: &[&str]) -> Vec<u8> {
        let out = self.run(Path::new("gpg"), args, None);
        ok(&out, &format!("gpg {}", args.join(" ")))
    }

    /// `gpg --batch --quick-gen-key uid algo default never`, protected by
    /// `passphrase` when given; returns the primary key's fingerprint.
    fn gen_key(&self, uid: &str, algo: &str, passphrase: Option<&str>) -> String {
        self.gpg(&[
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            passphrase.unwrap_or(""),
            "--quick-gen-key",
            uid,
            algo,
            "default",
            "never",
        ]);
        let listing = self.gpg(&["--with-colons", "--list-keys", uid]);
        String::from_utf8_lossy(&listing)
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|rest| rest.split(':').nth(8))
            .map(str::to_string)
            .expect("fingerprint in gpg listing")
    }

    /// The keygrips of the key `fingerprint` (primary and subkeys).
    fn keygrips(&self, fingerprint: &str) -> Vec<String> {
        let listing = self.gpg(&[
            "--with-colons",
            "--with-keygrip",
            "--list-secret-keys",
            fingerprint,
        ]);
        String::from_utf8_lossy(&listing)
            .lines()
            .filter_map(|l| l.strip_prefix("grp:"))
            .filter_map(|rest| rest.split(':').nth(8))
            .map(str::to_string)
            .collect()
    }

    /// Starts the agent and presets `passphrase` for every keygrip of
    /// `fingerprint` (`gpg-preset-passphrase`).
    fn preset_passphrase(&self, fingerprint: &str, passphrase: &str) {
        let launched = self.run(Path::new("gpgconf"), &["--launch", "gpg-agent"], None);
        ok(&launched, "gpgconf --launch gpg-agent");
        let dirs = self.run(Path::new("gpgconf"), &["--list-dirs", "libexecdir"], None);
        let libexec = String::from_utf8_lossy(&ok(&dirs, "gpgconf --list-dirs"))
            .trim()
            .to_string();
        let preset = Path::new(&libexec).join("gpg-preset-passphrase");
        for grip in self.keygrips(fingerprint) {
            let out = self.run(
                &preset,
                &["--preset", &grip],
                Some(format!("{passphrase}\n").as_bytes()),
            );
            ok(&out, "gpg-preset-passphrase");
        }
    }
}

impl Drop for GnupgHome {
    fn drop(&mut self) {
        // Kills gpg-agent and anything it started (scdaemon) for this home.
        let _ = Command::new("gpgconf")
            .args(["--kill", "all"])
            .env("GNUPGHOME", &self.path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A scratch directory with GnuPG homes. The homes are declared first so
/// that their agents are killed before the directory is removed.
struct Fixture {
    /// The GnuPG homes; the first one is the scratch's `GNUPGHOME`.
    homes: Vec<GnupgHome>,
    /// The scratch directory.
    s: Scratch,
}

/// How a tool is run.
#[derive(Default)]
struct With<'a> {
    /// Index of the GnuPG home to use (default: the main one).
    home: usize,
    /// Whether the demo age key is available.
    age: bool,
    /// Standard input.
    stdin: Option<&'a [u8]>,
    /// Further environment changes.
    env: Vec<(&'a str, Option<&'a OsStr>)>,
}

impl Fixture {
    /// A scratch directory with one GnuPG home (`GNUPGHOME`).
    fn new() -> Fixture {
        let s = Scratch::new();
        let home = GnupgHome::create(&s, ".gnupg");
        Fixture {
            homes: vec![home],
            s,
        }
    }

    /// The main GnuPG home.
    fn home(&self) -> &GnupgHome {
        &self.homes[0]
    }

    /// Adds another (empty) GnuPG home; returns its index.
    fn add_home(&mut self, name: &str) -> usize {
        let home = GnupgHome::create(&self.s, name);
        self.homes.push(home);
        self.homes.len() - 1
    }

    /// Runs `program` with the chosen home and keys.
    fn tool(&self, program: &Path, args: &[&str], with: &With<'_>) -> Output {
        let mut env: Vec<(&str, Option<&OsStr>)> = vec![
            ("GNUPGHOME", Some(self.homes[with.home].path.as_os_str())),
            ("GPG_TTY", None),
        ];
        env.extend(with.env.iter().copied());
        let key = demo_key_file();
        let key = with.age.then_some(key.as_path());
        self.s.run_with_env(program, args, key, &env, with.stdin)
    }

    /// Runs rsops.
    fn rsops(&self, args: &[&str], with: &With<'_>) -> Output {
        self.tool(Path::new(env!("CARGO_BIN_EXE_rsops")), args, with)
    }

    /// Runs rsops with only the main GnuPG home (no age key).
    fn rsops_pgp(&self, args: &[&str]) -> Output {
        self.rsops(args, &With::default())
    }

    /// Runs the reference sops with only the main GnuPG home.
    fn sops_pgp(&self, sops: &Path, args: &[&str]) -> Output {
        self.tool(sops, args, &With::default())
    }
}

/// `text` as sops prints JSON: the 4-space indentation of kubectl as tabs.
fn tab_indented(text: &str) -> String {
    text.lines()
        .map(|l| {
            let trimmed = l.trim_start_matches(' ');
            let depth = (l.len() - trimmed.len()) / 4;
            format!("{}{trimmed}\n", "\t".repeat(depth))
        })
        .collect()
}

/// Asserts that exactly the leaf values under the top-level `data` and
/// `stringData` objects of a tab-indented encrypted JSON Secret are `ENC[…]`.
fn assert_only_data_encrypted(encrypted: &str) {
    let mut in_data = false;
    let mut encrypted_leaves = 0;
    for line in encrypted.lines() {
        if line == "\t\"sops\": {" {
            break;
        }
        if line == "\t\"data\": {" || line == "\t\"stringData\": {" {
            in_data = true;
            continue;
        }
        if line.starts_with("\t}") {
            in_data = false;
            continue;
        }
        let is_enc = line.contains("\"ENC[AES256_GCM,data:");
        assert_eq!(
            is_enc, in_data,
            "line {line:?}: only data/stringData values must be encrypted"
        );
        encrypted_leaves += usize::from(is_enc);
    }
    assert_eq!(encrypted_leaves, 3, "three secret values:\n{encrypted}");
}

/// The tutorial: `.sops.yaml` with a fresh key's fingerprint and the
/// Kubernetes `encrypted_regex`, the Secret piped on stdin; rsops and sops
/// decrypt each other's output to the same bytes.
fn tutorial(algo: &str) {
    if !gpg_available() {
        return;
    }
    let fx = Fixture::new();
    let fp = fx
        .home()
        .gen_key("Tutorial <tutorial@example.com>", algo, None);
    fx.s.write(".sops.yaml", tutorial_rules(&fp).as_bytes());
    let expected = tab_indented(K8S_SECRET);
    let stdin = With {
        stdin: Some(K8S_SECRET.as_bytes()),
        ..With::default()
    };

    // `... | rsops encrypt --filename-override my-secret.json`
    let by_rsops = ok(
        &fx.rsops(
            &["encrypt", "--filename-override", "my-secret.json"],
            &stdin,
        ),
        "rsops encrypt from stdin",
    );
    let by_rsops = String::from_utf8(by_rsops).expect("utf-8");
    assert_only_data_encrypted(&by_rsops);
    assert!(
        by_rsops.contains(&format!("\"fp\": \"{fp}\"")),
        "{by_rsops}"
    );
    assert!(by_rsops.contains("\"encrypted_regex\": \"^(data|stringData)$\""));
    fx.s.write("by-rsops.json", by_rsops.as_bytes());
    let back = ok(
        &fx.rsops_pgp(&["decrypt", "by-rsops.json"]),
        "rsops decrypt",
    );
    assert_eq!(String::from_utf8_lossy(&back), expected);

    // The legacy form `... | rsops -e --input-type json --output-type json /dev/stdin`.
    let legacy = ok(
        &fx.rsops(
            &[
                "-e",
                "--input-type",
                "json",
                "--output-type",
                "json",
                "/dev/stdin",
            ],
            &stdin,
        ),
        "rsops -e /dev/stdin",
    );
    let legacy = String::from_utf8(legacy).expect("utf-8");
    assert_only_data_encrypted(&legacy);
    fx.s.write("legacy.json", legacy.as_bytes());

    let Some(sops) = sops() else { return };
    for file in ["by-rsops.json", "legacy.json"] {
        let out = ok(&fx.sops_pgp(&sops, &["decrypt", file]), "sops decrypt");
        assert_eq!(
            String::from_utf8_lossy(&out),
            expected,
            "sops decrypt {file}"
        );
    }

    let by_sops = ok(
        &fx.tool(
            &sops,
            &["encrypt", "--filename-override", "my-secret.json"],
            &stdin,
        ),
        "sops encrypt from stdin",
    );
    let by_sops = String::from_utf8(by_sops).expect("utf-8");
    assert_only_data_encrypted(&by_sops);
    fx.s.write("by-sops.json", by_sops.as_bytes());
    let out = ok(&fx.rsops_pgp(&["decrypt", "by-sops.json"]), "rsops decrypt");
    assert_eq!(String::from_utf8_lossy(&out), expected);
}

#[test]
fn tutorial_rsa_key_kubernetes_secret_from_stdin_both_ways() {
    tutorial("default");
}

#[test]
fn tutorial_ed25519_cv25519_key_kubernetes_secret_from_stdin_both_ways() {
    // GnuPG 2.3+ generates ed25519/cv25519 keys by default.
    tutorial("future-default");
}

#[test]
fn passphrase_protected_key_decrypts_through_agent_with_preset_passphrase() {
    if !gpg_available() {
        return;
    }
    let fx = Fixture::new();
    let fp = fx.home().gen_key(
        "Locked <locked@example.com>",
        "future-default",
        Some(PASSPHRASE),
    );
    fx.s.write("secret.yaml", YAML_SECRET.as_bytes());
    let enc = ok(
        &fx.rsops_pgp(&["encrypt", "--pgp", &fp, "secret.yaml"]),
        "rsops encrypt (public key only)",
    );
    fx.s.write("enc.yaml", &enc);

    // Restart the agent so that no passphrase is cached from key generation.
    let killed = fx
        .home()
        .run(Path::new("gpgconf"), &["--kill", "gpg-agent"], None);
    ok(&killed, "gpgconf --kill gpg-agent");

    // Locked: one line, exit 128, no prompt (pinentry is /bin/false, stdin
    // is not a terminal).
    let locked = fx.rsops_pgp(&["decrypt", "enc.yaml"]);
    assert_eq!(locked.status.code(), Some(128));
    let err = String::from_utf8_lossy(&locked.stderr);
    // The key report: title, group, key, hint.
    assert_eq!(err.trim_end().lines().count(), 4, "{err}");
    assert!(
        err.contains(&format!("gpg holds a secret key for {fp}")),
        "{err}"
    );
    assert!(err.contains("gpg-agent"), "{err}");
    assert!(!err.contains(PASSPHRASE));

    fx.home().preset_passphrase(&fp, PASSPHRASE);
    let plain = ok(&fx.rsops_pgp(&["decrypt", "enc.yaml"]), "rsops decrypt");
    assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);

    let Some(sops) = sops() else { return };
    let out = ok(
        &fx.sops_pgp(&sops, &["decrypt", "enc.yaml"]),
        "sops decrypt",
    );
    assert_eq!(String::from_utf8_lossy(&out), YAML_SECRET);
    let by_sops = ok(
        &fx.sops_pgp(&sops, &["encrypt", "--pgp", &fp, "secret.yaml"]),
        "sops encrypt",
    );
    fx.s.write("by-sops.yaml", &by_sops);
    let plain = ok(&fx.rsops_pgp(&["decrypt", "by-sops.yaml"]), "rsops decrypt");
    assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);
}

#[test]
fn age_and_pgp_file_decrypts_with_either_key_alone_in_both_tools() {
    if !gpg_available() {
        return;
    }
    let mut fx = Fixture::new();
    let fp = fx
        .home()
        .gen_key("Both <both@example.com>", "future-default", None);
    let empty = fx.add_home("g2");
    fx.s.write("secret.yaml", YAML_SECRET.as_bytes());
    let keys = [
        "encrypt",
        "--age",
        DEMO_RECIPIENT,
        "--pgp",
        &fp,
        "secret.yaml",
    ];
    let mut files = vec![("rsops", ok(&fx.rsops_pgp(&keys), "rsops encrypt"))];
    let sops = sops();
    if let Some(sops) = &sops {
        files.push(("sops", ok(&fx.sops_pgp(sops, &keys), "sops encrypt")));
    }
    let rsops_bin = PathBuf::from(env!("CARGO_BIN_EXE_rsops"));
    let mut tools = vec![("rsops", rsops_bin.as_path())];
    if let Some(sops) = &sops {
        tools.push(("sops", sops.as_path()));
    }
    let age_only = With {
        home: empty,
        age: true,
        ..With::default()
    };
    for (writer, content) in &files {
        let text = String::from_utf8_lossy(content);
        assert!(
            text.contains(DEMO_RECIPIENT) && text.contains(&fp),
            "{text}"
        );
        let name = format!("by-{writer}.yaml");
        fx.s.write(&name, content);
        for (reader, bin) in &tools {
            // PGP alone: no age identity anywhere.
            let out = fx.tool(bin, &["decrypt", &name], &With::default());
            let plain = ok(&out, &format!("{reader} decrypts {name} with PGP only"));
            assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);
            // age alone: an empty GnuPG home, PGP tried first and failing.
            let out = fx.tool(
                bin,
                &["decrypt", "--decryption-order", "pgp,age", &name],
                &age_only,
            );
            let plain = ok(&out, &format!("{reader} decrypts {name} with age only"));
            assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);
        }
        // Neither: the file really needs one of them.
        let none = fx.rsops(
            &["decrypt", &name],
            &With {
                home: empty,
                ..With::default()
            },
        );
        assert_eq!(none.status.code(), Some(128), "{name}");
    }
}

#[test]
fn legacy_encrypt_in_place_with_pgp_list_creation_rule() {
    if !gpg_available() {
        return;
    }
    let fx = Fixture::new();
    let first = fx
        .home()
        .gen_key("One <one@example.com>", "future-default", None);
    let second = fx
        .home()
        .gen_key("Two <two@example.com>", "future-default", None);
    let second_lower = second.to_lowercase();
    fx.s.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: secret\\.yaml$\n    encrypted_regex: \"^(data|stringData)$\"\n    pgp:\n      - {first}\n      - {second_lower}\n"
        )
        .as_bytes(),
    );
    let file = fx.s.write("secret.yaml", YAML_SECRET.as_bytes());
    let out = fx.rsops_pgp(&["-e", "-i", "secret.yaml"]);
    ok(&out, "rsops -e -i");
    assert!(out.stdout.is_empty(), "in place writes nothing to stdout");
    let text = std::fs::read_to_string(&file).expect("read back");
    assert!(
        text.contains("    password: ENC[AES256_GCM,data:"),
        "{text}"
    );
    assert!(text.contains("    url: ENC[AES256_GCM,data:"), "{text}");
    assert!(text.contains("    name: db-credentials\n"), "{text}");
    assert!(text.contains("type: Opaque\n"), "{text}");
    // Both keys, in the rule's order, stored as written.
    let first_at = text.find(&format!("fp: {first}\n")).expect("first fp");
    let second_at = text
        .find(&format!("fp: {second_lower}\n"))
        .expect("second fp, lower case as given");
    assert!(first_at < second_at, "{text}");

    let plain = ok(&fx.rsops_pgp(&["-d", "secret.yaml"]), "rsops -d");
    assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);
    let Some(sops) = sops() else { return };
    let plain = ok(
        &fx.sops_pgp(&sops, &["decrypt", "secret.yaml"]),
        "sops decrypt",
    );
    assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);
}

#[test]
fn sops_pgp_fp_environment_variable_instead_of_the_flag() {
    if !gpg_available() {
        return;
    }
    let fx = Fixture::new();
    let first = fx
        .home()
        .gen_key("One <one@example.com>", "future-default", None);
    let second = fx
        .home()
        .gen_key("Two <two@example.com>", "future-default", None);
    // sops removes all spaces: a spaced-out fingerprint and ", " both work.
    let spaced: String = second
        .chars()
        .enumerate()
        .flat_map(|(i, c)| (i > 0 && i % 4 == 0).then_some(' ').into_iter().chain([c]))
        .collect();
    let value = format!("{first}, {spaced}");
    fx.s.write("secret.yaml", YAML_SECRET.as_bytes());
    let with_env = With {
        env: vec![("SOPS_PGP_FP", Some(OsStr::new(&value)))],
        ..With::default()
    };
    let enc = ok(
        &fx.rsops(&["encrypt", "secret.yaml"], &with_env),
        "rsops encrypt with SOPS_PGP_FP",
    );
    let text = String::from_utf8_lossy(&enc).into_owned();
    let fps: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("fp: "))
        .collect();
    assert_eq!(fps, vec![first.as_str(), second.as_str()], "{text}");
    fx.s.write("enc.yaml", &enc);
    let plain = ok(&fx.rsops_pgp(&["decrypt", "enc.yaml"]), "rsops decrypt");
    assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);

    let Some(sops) = sops() else { return };
    let plain = ok(
        &fx.sops_pgp(&sops, &["decrypt", "enc.yaml"]),
        "sops decrypt",
    );
    assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);
    let by_sops = ok(
        &fx.tool(&sops, &["encrypt", "secret.yaml"], &with_env),
        "sops encrypt with SOPS_PGP_FP",
    );
    let sops_text = String::from_utf8_lossy(&by_sops);
    let sops_fps: Vec<&str> = sops_text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("fp: "))
        .collect();
    assert_eq!(sops_fps, fps, "same fp entries as sops");
}

#[test]
fn fingerprint_forms_are_stored_as_sops_stores_them() {
    if !gpg_available() {
        return;
    }
    let fx = Fixture::new();
    let fp = fx
        .home()
        .gen_key("Forms <forms@example.com>", "future-default", None);
    let long_id = fp.get(24..).expect("40-hex fingerprint").to_string();
    fx.s.write("secret.yaml", YAML_SECRET.as_bytes());
    let sops = sops();
    let forms = [
        fp.to_lowercase(),
        long_id.clone(),
        long_id.to_lowercase(),
        format!("0x{long_id}"),
    ];
    for form in &forms {
        let enc = ok(
            &fx.rsops_pgp(&["encrypt", "--pgp", form, "secret.yaml"]),
            &format!("rsops encrypt --pgp {form}"),
        );
        let text = String::from_utf8_lossy(&enc).into_owned();
        let stored: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("fp: "))
            .map(|v| v.trim_matches('"'))
            .collect();
        assert_eq!(stored, vec![form.as_str()], "{text}");
        fx.s.write("enc.yaml", &enc);
        let plain = ok(&fx.rsops_pgp(&["decrypt", "enc.yaml"]), "rsops decrypt");
        assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);
        if let Some(sops) = &sops {
            let plain = ok(&fx.sops_pgp(sops, &["decrypt", "enc.yaml"]), "sops decrypt");
            assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET, "{form}");
            let by_sops = ok(
                &fx.sops_pgp(sops, &["encrypt", "--pgp", form, "secret.yaml"]),
                "sops encrypt",
            );
            let sops_text = String::from_utf8_lossy(&by_sops);
            assert!(
                sops_text
                    .lines()
                    .any(|l| l.trim().trim_start_matches("fp: ").trim_matches('"') == form),
                "sops stores {form} the same way:\n{sops_text}"
            );
        }
    }
}

/// The `sops:` block of a YAML file with everything that differs between
/// two encryptions masked: timestamps, `ENC[…]` values and the armored body.
fn masked_metadata(yaml: &str) -> String {
    let block = yaml
        .split_once("\nsops:\n")
        .map(|(_, b)| b)
        .expect("sops block");
    let mut out = Vec::new();
    let mut in_armor = false;
    for line in block.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if trimmed == "-----BEGIN PGP MESSAGE-----" {
            in_armor = true;
            out.push(line.to_string());
            out.push(format!("{indent}<armored body>"));
            continue;
        }
        if trimmed == "-----END PGP MESSAGE-----" {
            in_armor = false;
        } else if in_armor {
            continue;
        }
        let masked = match trimmed.split_once(": ") {
            Some((k, _)) if k.ends_with("lastmodified") || k.ends_with("created_at") => {
                format!("{indent}{k}: <time>")
            }
            Some((k, v)) if v.starts_with("ENC[") => format!("{indent}{k}: <enc>"),
            Some(("version", _)) => format!("{indent}version: <version>"),
            _ => line.to_string(),
        };
        out.push(masked);
    }
    // The reference writes struct order, rsops sops 3.13's sorted order.
    let mut out: Vec<String> = out
        .iter()
        .map(|l| crate::common::metadata_line(l))
        .collect();
    out.sort();
    out.join("\n")
}

/// The value of `key: "..."` on the first line that has it.
fn quoted_value<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}: \"")))
        .and_then(|v| v.trim_end_matches(',').strip_suffix('"'))
        .unwrap_or_else(|| panic!("no {key} in:\n{text}"))
}

/// `YYYY-MM-DDTHH:MM:SSZ`, as sops writes RFC 3339 UTC times.
fn assert_rfc3339_utc(t: &str) {
    let shape: String = t
        .chars()
        .map(|c| if c.is_ascii_digit() { 'd' } else { c })
        .collect();
    assert_eq!(shape, "dddd-dd-ddTdd:dd:ddZ", "{t}");
}

#[test]
fn metadata_layout_matches_sops_and_sops_reads_it() {
    if !gpg_available() {
        return;
    }
    let fx = Fixture::new();
    let fp = fx
        .home()
        .gen_key("Layout <layout@example.com>", "default", None);
    fx.s.write(".sops.yaml", tutorial_rules(&fp).as_bytes());
    fx.s.write("secret.yaml", YAML_SECRET.as_bytes());
    fx.s.write("secret.json", tab_indented(K8S_SECRET).as_bytes());

    let yaml = ok(
        &fx.rsops_pgp(&["encrypt", "secret.yaml"]),
        "rsops encrypt yaml",
    );
    let yaml = String::from_utf8(yaml).expect("utf-8");
    // The pgp list: created_at, a literal block without final newline (`|-`)
    // holding the whole armor, fp.
    assert!(
        yaml.contains(&format!(
            "    pgp:\n        - created_at: \"{}\"\n          enc: |-\n            -----BEGIN PGP MESSAGE-----\n\n",
            quoted_value(&yaml, "- created_at")
        )),
        "{yaml}"
    );
    assert!(
        yaml.contains(&format!(
            "\n            -----END PGP MESSAGE-----\n          fp: {fp}\n"
        )),
        "{yaml}"
    );
    assert_rfc3339_utc(quoted_value(&yaml, "- created_at"));
    assert_rfc3339_utc(quoted_value(&yaml, "lastmodified"));

    let json = ok(
        &fx.rsops_pgp(&["encrypt", "secret.json"]),
        "rsops encrypt json",
    );
    let json = String::from_utf8(json).expect("utf-8");
    let enc = quoted_value(&json, "\"enc\"");
    assert!(
        enc.starts_with("-----BEGIN PGP MESSAGE-----\\n\\n"),
        "{enc}"
    );
    assert!(
        enc.ends_with("\\n-----END PGP MESSAGE-----"),
        "no trailing newline: {enc}"
    );
    assert_rfc3339_utc(quoted_value(&json, "\"created_at\""));
    assert!(json.contains(&format!("\"fp\": \"{fp}\"")), "{json}");

    // The armored enc is a message gpg itself decrypts (to the 32-byte key).
    let armor = enc.replace("\\n", "\n");
    let key = fx
        .home()
        .run(Path::new("gpg"), &["--batch", "-d"], Some(armor.as_bytes()));
    assert_eq!(ok(&key, "gpg -d of enc").len(), 32);

    fx.s.write("enc.yaml", yaml.as_bytes());
    fx.s.write("enc.json", json.as_bytes());
    let Some(sops) = sops() else { return };
    let plain = ok(
        &fx.sops_pgp(&sops, &["decrypt", "enc.yaml"]),
        "sops decrypt yaml",
    );
    assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);
    let plain = ok(
        &fx.sops_pgp(&sops, &["decrypt", "enc.json"]),
        "sops decrypt json",
    );
    assert_eq!(String::from_utf8_lossy(&plain), tab_indented(K8S_SECRET));

    // Same layout as sops's own output, line for line.
    let by_sops = ok(
        &fx.sops_pgp(&sops, &["encrypt", "secret.yaml"]),
        "sops encrypt",
    );
    let by_sops = String::from_utf8(by_sops).expect("utf-8");
    assert_eq!(masked_metadata(&yaml), masked_metadata(&by_sops));
}

#[test]
fn missing_secret_key_is_one_helpful_line_with_exit_128() {
    if !gpg_available() {
        return;
    }
    let mut fx = Fixture::new();
    let fp = fx
        .home()
        .gen_key("Gone <gone@example.com>", "future-default", None);
    let empty = fx.add_home("g2");
    fx.s.write("secret.yaml", YAML_SECRET.as_bytes());
    let enc = ok(
        &fx.rsops_pgp(&["encrypt", "--pgp", &fp, "secret.yaml"]),
        "rsops encrypt",
    );
    fx.s.write("enc.yaml", &enc);
    let without_key = With {
        home: empty,
        ..With::default()
    };
    let out = fx.rsops(&["decrypt", "enc.yaml"], &without_key);
    assert_eq!(out.status.code(), Some(128));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim_end().lines().count(),
        4,
        "title, group, key, hint: {err}"
    );
    assert!(
        err.contains(&format!("no secret key for any of: {fp}")),
        "{err}"
    );
    assert!(err.contains("GNUPGHOME"), "{err}");
    assert!(err.contains("is gpg-agent running?"), "{err}");
    for noise in ["go-crypto", "sequoia", "Caused by", "secring"] {
        assert!(!err.contains(noise), "library noise {noise:?}: {err}");
    }
    assert!(!err.contains("czNjcjN0") && !err.contains("postgres://"));

    let Some(sops) = sops() else { return };
    let theirs = fx.tool(&sops, &["decrypt", "enc.yaml"], &without_key);
    assert_eq!(
        theirs.status.code(),
        out.status.code(),
        "same exit code as sops"
    );
}

/// Writes an executable `gpg` wrapper that logs its arguments to `log`.
fn gpg_wrapper(s: &Scratch, log: &Path) -> PathBuf {
    let script = s.write(
        "gpg-wrapper.sh",
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nexec gpg \"$@\"\n",
            log.display()
        )
        .as_bytes(),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .expect("chmod wrapper");
    }
    script
}

#[cfg(unix)]
#[test]
fn sops_gpg_exec_is_used_for_agent_decryption_and_encryption_fallback() {
    if !gpg_available() {
        return;
    }
    let fx = Fixture::new();
    let log = fx.s.path("gpg-calls.log");
    let wrapper = gpg_wrapper(&fx.s, &log);
    // RSA-1024 is refused by sequoia's standard policy but not by GnuPG:
    // encryption falls back to gpg, as sops does.
    let fp = fx
        .home()
        .gen_key("Weak <weak@example.com>", "rsa1024", None);
    fx.home().gpg(&[
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--quick-add-key",
        &fp,
        "rsa1024",
        "encr",
        "never",
    ]);
    fx.s.write("secret.yaml", YAML_SECRET.as_bytes());
    let via_wrapper = With {
        env: vec![("SOPS_GPG_EXEC", Some(wrapper.as_os_str()))],
        ..With::default()
    };
    let enc = ok(
        &fx.rsops(&["encrypt", "--pgp", &fp, "secret.yaml"], &via_wrapper),
        "rsops encrypt via SOPS_GPG_EXEC",
    );
    let calls = std::fs::read_to_string(&log).expect("wrapper was run");
    let tail = &fp[24..];
    assert!(
        calls.contains(&format!(
            "--no-default-recipient --yes --encrypt -a -r {fp} --trusted-key {tail} --no-encrypt-to"
        )),
        "{calls}"
    );
    fx.s.write("enc.yaml", &enc);

    std::fs::remove_file(&log).expect("reset log");
    let plain = ok(
        &fx.rsops(&["decrypt", "enc.yaml"], &via_wrapper),
        "rsops decrypt via SOPS_GPG_EXEC",
    );
    assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);
    let calls = std::fs::read_to_string(&log).expect("wrapper was run");
    assert!(calls.lines().any(|l| l.ends_with("-d")), "{calls}");

    // A SOPS_GPG_EXEC that does not exist: one line naming it.
    let missing = fx.s.path("no-such-gpg");
    let out = fx.rsops(
        &["decrypt", "enc.yaml"],
        &With {
            env: vec![("SOPS_GPG_EXEC", Some(missing.as_os_str()))],
            ..With::default()
        },
    );
    assert_eq!(out.status.code(), Some(128));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 4, "{err}");
    assert!(err.contains("no-such-gpg"), "{err}");

    if let Some(sops) = sops() {
        let plain = ok(
            &fx.sops_pgp(&sops, &["decrypt", "enc.yaml"]),
            "sops decrypt",
        );
        assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);
    }
}

#[test]
fn legacy_keyrings_without_agent_pubring_gpg_and_secring_gpg() {
    if !gpg_available() {
        return;
    }
    let mut fx = Fixture::new();
    let fp = fx
        .home()
        .gen_key("Legacy <legacy@example.com>", "default", None);
    let public = fx.home().gpg(&["--export", &fp]);
    let secret = fx.home().gpg(&[
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--export-secret-keys",
        &fp,
    ]);
    // A GnuPG 1.x style home: pubring.gpg and an unprotected secring.gpg.
    let legacy = fx.add_home("g1");
    std::fs::write(fx.homes[legacy].path.join("pubring.gpg"), &public).expect("pubring.gpg");
    std::fs::write(fx.homes[legacy].path.join("secring.gpg"), &secret).expect("secring.gpg");
    fx.s.write("secret.yaml", YAML_SECRET.as_bytes());
    // No gpg at all: everything happens in-process.
    let no_gpg = With {
        home: legacy,
        env: vec![("SOPS_GPG_EXEC", Some(OsStr::new("/nonexistent/gpg")))],
        ..With::default()
    };
    let enc = ok(
        &fx.rsops(&["encrypt", "--pgp", &fp, "secret.yaml"], &no_gpg),
        "rsops encrypt from pubring.gpg",
    );
    fx.s.write("enc.yaml", &enc);
    let plain = ok(
        &fx.rsops(&["decrypt", "enc.yaml"], &no_gpg),
        "rsops decrypt from secring.gpg",
    );
    assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);

    let Some(sops) = sops() else { return };
    // sops reads secring.gpg itself too; and gpg-agent decrypts its file.
    let plain = ok(
        &fx.sops_pgp(&sops, &["decrypt", "enc.yaml"]),
        "sops decrypt",
    );
    assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);
    let by_sops = ok(
        &fx.sops_pgp(&sops, &["encrypt", "--pgp", &fp, "secret.yaml"]),
        "sops encrypt",
    );
    fx.s.write("by-sops.yaml", &by_sops);
    let plain = ok(
        &fx.rsops(&["decrypt", "by-sops.yaml"], &no_gpg),
        "rsops decrypts sops's gpg output from secring.gpg",
    );
    assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);
}

/// The armored `enc` of the first `pgp` entry of an encrypted YAML file.
fn first_enc_armor(yaml: &str) -> String {
    let mut armor = Vec::new();
    for line in yaml.lines().map(str::trim) {
        if line == "-----BEGIN PGP MESSAGE-----" || !armor.is_empty() {
            armor.push(line);
        }
        if line == "-----END PGP MESSAGE-----" {
            break;
        }
    }
    armor.join("\n")
}

impl GnupgHome {
    /// The key ID(s) an OpenPGP message is encrypted to (`gpg --list-packets`).
    fn recipients(&self, message: &[u8]) -> Vec<String> {
        let out = self.run(Path::new("gpg"), &["--list-packets"], Some(message));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with(":pubkey enc packet:"))
            .filter_map(|l| l.rsplit("keyid ").next())
            .map(str::to_string)
            .collect()
    }

    /// The key ID gpg itself encrypts to for `fingerprint`.
    fn gpg_pick(&self, fingerprint: &str) -> Vec<String> {
        let message = self.gpg(&[
            "--batch",
            "--trust-model",
            "always",
            "--encrypt",
            "-r",
            fingerprint,
            "--output",
            "-",
            "/dev/null",
        ]);
        self.recipients(&message)
    }

    /// Runs gpg with the clock set `days_ago` days back.
    fn gpg_at(&self, days_ago: u64, args: &[&str]) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let then = (now - days_ago * 86_400).to_string();
        let mut all = vec![
            "--batch",
            "--faked-system-time",
            &then,
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ];
        all.extend_from_slice(args);
        self.gpg(&all);
    }
}

#[test]
fn encrypts_to_the_subkey_gnupg_picks() {
    if !gpg_available() {
        return;
    }
    let fx = Fixture::new();
    let home = fx.home();
    let uid = "Subkeys <subkeys@example.com>";
    home.gpg_at(30, &["--quick-gen-key", uid, "ed25519", "sign", "never"]);
    let listing = home.gpg(&["--with-colons", "--list-keys", uid]);
    let fp = String::from_utf8_lossy(&listing)
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|rest| rest.split(':').nth(8))
        .map(str::to_string)
        .expect("fingerprint");
    fx.s.write("secret.yaml", YAML_SECRET.as_bytes());
    let check = |what: &str| {
        let enc = ok(
            &fx.rsops_pgp(&["encrypt", "--pgp", &fp, "secret.yaml"]),
            "rsops encrypt",
        );
        let ours = home.recipients(first_enc_armor(&String::from_utf8_lossy(&enc)).as_bytes());
        let theirs = home.gpg_pick(&fp);
        assert_eq!(theirs.len(), 1, "{what}: gpg encrypts to one subkey");
        assert_eq!(ours, theirs, "{what}: the subkey GnuPG picks");
        fx.s.write("enc.yaml", &enc);
        let plain = ok(&fx.rsops_pgp(&["decrypt", "enc.yaml"]), "rsops decrypt");
        assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET, "{what}");
    };
    // Two encryption subkeys: the newer one.
    home.gpg_at(20, &["--quick-add-key", &fp, "cv25519", "encr", "never"]);
    home.gpg_at(10, &["--quick-add-key", &fp, "cv25519", "encr", "never"]);
    check("two valid subkeys");
    // A still newer one that has expired: not that one.
    home.gpg_at(5, &["--quick-add-key", &fp, "cv25519", "encr", "1d"]);
    check("newest subkey expired");
}

#[test]
fn without_gnupghome_the_keys_come_from_home_dot_gnupg() {
    if !gpg_available() {
        return;
    }
    let fx = Fixture::new();
    if fx.home().path != fx.s.path(".gnupg") {
        eprintln!("note: scratch path too long for ~/.gnupg with gpg-agent; skipping");
        return;
    }
    let fp = fx
        .home()
        .gen_key("Default <default@example.com>", "future-default", None);
    fx.s.write("secret.yaml", YAML_SECRET.as_bytes());
    let unset = With {
        env: vec![("GNUPGHOME", None)],
        ..With::default()
    };
    let enc = ok(
        &fx.rsops(&["encrypt", "--pgp", &fp, "secret.yaml"], &unset),
        "rsops encrypt with ~/.gnupg",
    );
    fx.s.write("enc.yaml", &enc);
    let plain = ok(
        &fx.rsops(&["decrypt", "enc.yaml"], &unset),
        "rsops decrypt with ~/.gnupg",
    );
    assert_eq!(String::from_utf8_lossy(&plain), YAML_SECRET);
}
