//! End-to-end runs of the tools that call sops, with rsops installed under
//! the names they look for: kubectl's embedded kustomize running rsops as
//! the ksops exec plugin, helm-secrets' exact command lines and file
//! checks, and the sopsy Python library. The tools come from the package
//! registries (scripts/test.sh installs them); under `CI=true` a missing
//! tool fails its test instead of skipping it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::common::{demo_key_file, ok, Scratch, DEMO_RECIPIENT};

/// The rsops binary under test.
fn rsops() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rsops"))
}

/// Links rsops into `dir` under `name` (the name decides ksops mode).
pub fn install_as(dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("mkdir");
    let link = dir.join(name);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(rsops(), &link).expect("symlink");
    link
}

/// `name` from PATH or pip's user script directory, its version printed;
/// `None` (a skip) when missing, a failure under `CI=true`.
pub fn tool(name: &str, version_args: &[&str]) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".local/bin"));
    }
    let found = dirs.into_iter().map(|d| d.join(name)).find(|p| {
        Command::new(p)
            .args(version_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    match found {
        Some(p) => {
            let out = Command::new(&p).args(version_args).output().expect("run");
            eprintln!(
                "{name}: {}",
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .replace('\n', "; ")
            );
            Some(p)
        }
        None => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{name} is required under CI=true (scripts/test.sh installs it)"
            );
            eprintln!("note: {name} not found; skipping");
            None
        }
    }
}

/// The Python user base of the machine's HOME (`pip install --user`
/// puts the tools there), for Pythons run with a scratch HOME.
pub fn python_user_base() -> std::ffi::OsString {
    Command::new(super::servers::python())
        .args(["-c", "import site; print(site.getuserbase())"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().into())
        .unwrap_or_default()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes `plain` as `name` and encrypts it in place for the demo key.
fn encrypted(s: &Scratch, name: &str, plain: &[u8]) {
    s.write(name, plain);
    ok(
        &s.rsops(&["encrypt", "-i", "--age", DEMO_RECIPIENT, name]),
        &format!("encrypt {name}"),
    );
}

// --- ksops ---------------------------------------------------------------

const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: production\n";

/// A generator with every kind of input ksops reads: `files`, and a
/// `secretFrom` with files (plain and `key=path`), binaryFiles, envs,
/// metadata and type.
fn ksops_fixture(s: &Scratch) {
    encrypted(s, "cm.enc.yaml", CONFIGMAP.as_bytes());
    encrypted(
        s,
        "config.enc.yaml",
        b"db:\n  user: admin\n  password: s3cret\n",
    );
    encrypted(s, "note.enc.txt", b"hello\nworld\n");
    encrypted(s, "blob.enc.bin", &[0, 1, 2, 255]);
    encrypted(s, "app.enc.env", b"API_TOKEN=tok-123\nDEBUG=false\n");
    s.write(
        "generator.yaml",
        b"apiVersion: viaduct.ai/v1
kind: ksops
metadata:
  name: secrets
files:
  - ./cm.enc.yaml
secretFrom:
  - metadata:
      name: app
      namespace: prod
      labels:
        app: web
      annotations:
        kustomize.config.k8s.io/needs-hash: \"true\"
    type: Opaque
    files:
      - ./config.enc.yaml
      - renamed.txt=./note.enc.txt
    binaryFiles:
      - blob=./blob.enc.bin
    envs:
      - ./app.enc.env
",
    );
    s.write("kustomization.yaml", b"generators:\n  - ./generator.yaml\n");
}

/// What ksops prints for [`ksops_fixture`]: the decrypted file, `\n---\n`,
/// then the Secret as `sigs.k8s.io/yaml` writes it (keys sorted, literal
/// blocks, `"true"` quoted).
const KSOPS_WANT: &str = "apiVersion: v1
kind: ConfigMap
metadata:
    name: settings
data:
    mode: production

---
apiVersion: v1
data:
  blob: AAEC/w==
kind: Secret
metadata:
  annotations:
    kustomize.config.k8s.io/needs-hash: \"true\"
  labels:
    app: web
  name: app
  namespace: prod
stringData:
  API_TOKEN: tok-123
  DEBUG: \"false\"
  config.enc.yaml: |
    db:
        user: admin
        password: s3cret
  renamed.txt: |
    hello
    world
type: Opaque
";

#[test]
fn ksops_legacy_plugin_output_matches_ksops_byte_for_byte() {
    let s = Scratch::new();
    ksops_fixture(&s);
    // As kustomize runs it: the binary named ksops, the generator's path.
    let ksops = install_as(&s.path("bin"), "ksops");
    let out = s.run(&ksops, &["generator.yaml"], Some(&demo_key_file()), None);
    assert_eq!(String::from_utf8_lossy(&ok(&out, "ksops")), KSOPS_WANT);
    // The subcommand is the same program.
    let out = s.rsops(&["ksops", "generator.yaml"]);
    assert_eq!(
        String::from_utf8_lossy(&ok(&out, "rsops ksops")),
        KSOPS_WANT
    );
}

#[test]
fn ksops_without_a_key_fails_and_names_the_file_only() {
    let s = Scratch::new();
    ksops_fixture(&s);
    let out = s.rsops_no_key(&["ksops", "generator.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.starts_with("unable to generate manifests: error decrypting file \"./cm.enc.yaml\" from manifest.Files"),
        "{all}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn ksops_arguments_select_the_mode_as_ksops_does() {
    let s = Scratch::new();
    let ksops = install_as(&s.path("bin"), "ksops");
    let out = s.run(&ksops, &["a", "b"], None, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("KSOPS is a flexible kustomize plugin"));
    let out = s.run(&ksops, &["install"], None, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("install requires a destination directory"));
    let out = s.run(&ksops, &["missing.yaml"], None, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("unable to read in manifest: missing.yaml"));
    let out = s.rsops(&["ksops", "--with", "too", "many"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn ksops_install_copies_a_working_ksops() {
    let s = Scratch::new();
    ksops_fixture(&s);
    let dest = s.path("tools");
    std::fs::create_dir_all(&dest).expect("mkdir");
    let out = s.rsops(&["ksops", "install", "tools"]);
    ok(&out, "install");
    assert!(
        text(&out).contains("installed tools/ksops"),
        "{}",
        text(&out)
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dest.join("ksops"))
        .expect("ksops")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let out = s.run(
        &dest.join("ksops"),
        &["generator.yaml"],
        Some(&demo_key_file()),
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&ok(&out, "installed ksops")),
        KSOPS_WANT
    );
}

/// The ResourceList kustomize sends a KRM exec function: the generator as
/// the only item (marked local-config) and as functionConfig.
fn resource_list(generator: &str) -> String {
    let indented: String = generator.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n  - {}functionConfig:\n{}",
        indented.trim_start(),
        indented.replace("\n    ", "\n  ").replacen("    ", "  ", 1)
    )
}

#[test]
fn ksops_krm_function_answers_a_resource_list() {
    let s = Scratch::new();
    ksops_fixture(&s);
    let generator = std::fs::read_to_string(s.path("generator.yaml")).expect("read");
    let rl = resource_list(&generator);
    let out = s.run(
        rsops(),
        &["ksops"],
        Some(&demo_key_file()),
        Some(rl.as_bytes()),
    );
    let got = String::from_utf8(ok(&out, "krm")).expect("utf-8");
    assert!(got.starts_with("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n"), "{got}");
    assert!(got.contains("\n    kind: Secret\n"), "{got}");
    assert!(got.contains("      API_TOKEN: tok-123\n"), "{got}");
    assert!(
        got.contains("\nfunctionConfig:\n  apiVersion: viaduct.ai/v1\n"),
        "{got}"
    );
    assert!(!got.contains("results:"), "{got}");
}

#[test]
fn ksops_krm_errors_go_under_results_without_secrets() {
    let s = Scratch::new();
    // A .env whose second line is not valid: its text must not be shown.
    encrypted(&s, "bad.enc.env", b"GOOD=1\nbad key!=topsecret-value\n");
    let generator = "apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: g\nsecretFrom:\n  - metadata:\n      name: x\n    envs:\n      - ./bad.enc.env\n";
    let out = s.run(
        rsops(),
        &["ksops"],
        Some(&demo_key_file()),
        Some(resource_list(generator).as_bytes()),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("results:\n  - message: "), "{stdout}");
    assert!(stdout.contains("severity: error"), "{stdout}");
    assert!(
        stdout.contains("unexpected character in variable name on line 2"),
        "{stdout}"
    );
    assert!(!text(&out).contains("topsecret"), "{}", text(&out));
}

/// The kustomization's output as kubectl's embedded kustomize (v5) builds
/// it with rsops as the ksops legacy plugin: the ConfigMap as is, the
/// Secret with its hash suffix (needs-hash), stringData and data kept.
#[test]
fn kubectl_kustomize_runs_rsops_as_the_ksops_plugin() {
    let Some(kubectl) = tool("kubectl", &["version", "--client"]) else {
        return;
    };
    let s = Scratch::new();
    ksops_fixture(&s);
    // kustomize's legacy plugin path, under $XDG_CONFIG_HOME (the scratch
    // directory's .config).
    install_as(
        &s.path(".config/kustomize/plugin/viaduct.ai/v1/ksops"),
        "ksops",
    );
    let out = s.run(
        &kubectl,
        &["kustomize", "--enable-alpha-plugins", "."],
        Some(&demo_key_file()),
        None,
    );
    let got = String::from_utf8(ok(&out, "kubectl kustomize")).expect("utf-8");
    assert!(
        got.contains("kind: ConfigMap\nmetadata:\n  name: settings\n"),
        "{got}"
    );
    assert!(got.contains("  mode: production\n"), "{got}");
    for want in [
        "  API_TOKEN: tok-123\n",
        "  DEBUG: \"false\"\n",
        "  blob: AAEC/w==\n",
        "  renamed.txt: |\n    hello\n    world\n",
        "  labels:\n    app: web\n",
        "  namespace: prod\n",
        "type: Opaque\n",
    ] {
        assert!(got.contains(want), "{want:?} missing from:\n{got}");
    }
    // needs-hash: the name gets kustomize's content hash, and the
    // annotation is consumed.
    assert!(got.contains("  name: app-"), "{got}");
    assert!(!got.contains("needs-hash"), "{got}");
    // Without --enable-alpha-plugins kustomize refuses, as with ksops.
    let out = s.run(&kubectl, &["kustomize", "."], Some(&demo_key_file()), None);
    assert!(!out.status.success());
}

// --- helm-secrets ----------------------------------------------------------

/// helm-secrets' sops back end (`scripts/lib/backends/sops.sh`) replayed
/// with rsops installed as `sops`: its exact command lines (encrypt and
/// decrypt with `--input-type T --output-type T` to stdout, `--output`,
/// `--in-place`, the `/dev/stdin` literal, legacy edit mode with `$EDITOR`)
/// and the `grep` checks it makes
/// on the files rsops writes (encrypted: `mac.*,type:str]`; YAML: a line
/// `sops:` alone; binary: `"data": "ENC`; else JSON).
const HELM_SECRETS_REPLAY: &str = r#"set -eu
is_encrypted() { grep -q 'mac.*,type:str]' "$1"; }
decrypt_type() {
  if grep -xq 'sops:\s*' "$1"; then echo yaml
  elif grep -q '"data": "ENC' "$1"; then echo binary
  else echo json; fi
}
# helm secrets encrypt -i secrets.yaml
cp plain.yaml secrets.yaml
sops --encrypt --input-type yaml --output-type yaml --in-place secrets.yaml
is_encrypted secrets.yaml
test "$(decrypt_type secrets.yaml)" = yaml
# helm secrets decrypt secrets.yaml (stdout), and with --output
sops --decrypt --input-type yaml --output-type yaml secrets.yaml > out.yaml
cmp out.yaml plain.yaml
sops --decrypt --input-type yaml --output-type yaml --output dec.yaml secrets.yaml
cmp dec.yaml plain.yaml
# encrypt to stdout and to --output
sops --encrypt --input-type yaml --output-type yaml plain.yaml > enc-stdout.yaml
sops --encrypt --input-type yaml --output-type yaml --output enc-output.yaml plain.yaml
is_encrypted enc-stdout.yaml && is_encrypted enc-output.yaml
# --set-file with a non-YAML file: binary type
sops --encrypt --input-type binary --output-type binary --output cert.txt.enc cert.txt
is_encrypted cert.txt.enc
test "$(decrypt_type cert.txt.enc)" = binary
sops --decrypt --input-type binary --output-type binary cert.txt.enc > cert.out
cmp cert.out cert.txt
# JSON values
cp plain.json values.json
sops --encrypt --input-type json --output-type json --in-place values.json
is_encrypted values.json
test "$(decrypt_type values.json)" = json
sops --decrypt --input-type json --output-type json values.json > values.out
grep -q '"password": "s3cret"' values.out
# secrets+literal://: the encrypted JSON given on stdin
literal=$(cat values.json)
printf '%s' "$literal" | sops --decrypt --input-type json --output-type json /dev/stdin > literal.out
cmp literal.out values.out
# helm secrets edit: legacy edit mode with $EDITOR
cp enc-stdout.yaml edited.yaml
printf '#!/bin/sh\nsed -i s/s3cret/changed/ "$1"\n' > editor.sh && chmod +x editor.sh
EDITOR=./editor.sh sops --input-type yaml --output-type yaml edited.yaml
is_encrypted edited.yaml
sops --decrypt --input-type yaml --output-type yaml edited.yaml | grep -q 'password: changed'
# helm secrets decrypt -i
sops --decrypt --input-type yaml --output-type yaml --in-place secrets.yaml
cmp secrets.yaml plain.yaml
echo replay-ok
"#;

#[test]
fn helm_secrets_command_lines_work_with_rsops_as_sops() {
    let s = Scratch::new();
    let bin = s.path("bin");
    install_as(&bin, "sops");
    s.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {DEMO_RECIPIENT}\n").as_bytes(),
    );
    s.write(
        "plain.yaml",
        b"db:\n    password: s3cret\n    user: admin\n",
    );
    s.write("plain.json", b"{\n\t\"password\": \"s3cret\"\n}");
    s.write(
        "cert.txt",
        b"-----BEGIN CERT-----\nabc\n-----END CERT-----\n",
    );
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let out = s.run_env(
        Path::new("sh"),
        &["-c", HELM_SECRETS_REPLAY],
        Some(&demo_key_file()),
        &[
            ("PATH", path.as_os_str()),
            ("SOPS_DISABLE_VERSION_CHECK", "true".as_ref()),
        ],
        None,
    );
    assert!(
        out.status.success() && text(&out).contains("replay-ok"),
        "{}",
        text(&out)
    );
    // The files rsops wrote are sops files: the reference sops reads them.
    if let Some(sops) = super::common::sops() {
        for (file, kind, want) in [
            ("enc-stdout.yaml", "yaml", "plain.yaml"),
            ("cert.txt.enc", "binary", "cert.txt"),
        ] {
            let out = s.sops(
                &sops,
                &[
                    "--decrypt",
                    "--input-type",
                    kind,
                    "--output-type",
                    kind,
                    file,
                ],
            );
            let want = std::fs::read(s.path(want)).expect("read");
            assert_eq!(ok(&out, "sops decrypt"), want, "{file}");
        }
    }
}

// --- sopsy -----------------------------------------------------------------

/// The sopsy library (PyPI) with `binary_path` pointing at rsops installed
/// as `sops`: stdin encryption (`--filename-override`), file decryption,
/// `get`, `extract`, and an in-place rotation, all with the `--config`
/// file sopsy writes without an extension.
const SOPSY_SCRIPT: &str = r#"
import sys
from sopsy import Sops, SopsyInputSource
binary, recipient = sys.argv[1], sys.argv[2]
cfg = {"creation_rules": [{"age": recipient}]}
enc = Sops(b"password: s3cret\nuser: admin\n", binary_path=binary, input_type="yaml",
           input_source=SopsyInputSource.STDIN, config_dict=cfg).encrypt(to_dict=False)
enc = enc if isinstance(enc, bytes) else enc.encode()
assert b"ENC[AES256_GCM," in enc, enc
open("secret.enc.yaml", "wb").write(enc)
f = Sops("secret.enc.yaml", binary_path=binary, config_dict=cfg)
assert f.decrypt() == {"password": "s3cret", "user": "admin"}, f.decrypt()
assert f.get("user") in ("admin", b"admin"), f.get("user")
x = Sops("secret.enc.yaml", binary_path=binary, config_dict=cfg, extract='["password"]')
assert x.decrypt(to_dict=False) in ("s3cret", b"s3cret")
Sops("secret.enc.yaml", binary_path=binary, config_dict=cfg, in_place=True).rotate()
assert open("secret.enc.yaml", "rb").read() != enc
assert f.decrypt() == {"password": "s3cret", "user": "admin"}
print("sopsy-ok")
"#;

#[test]
fn sopsy_drives_rsops_as_sops() {
    if !super::servers::python_has("sopsy") {
        return;
    }
    let s = Scratch::new();
    let sops = install_as(&s.path("bin"), "sops");
    let sops_arg = sops.to_string_lossy().into_owned();
    let out = s.run_env(
        &super::servers::python(),
        &["-c", SOPSY_SCRIPT, &sops_arg, DEMO_RECIPIENT],
        Some(&demo_key_file()),
        &[("PYTHONUSERBASE", &python_user_base())],
        None,
    );
    assert!(
        out.status.success() && text(&out).contains("sopsy-ok"),
        "{}",
        text(&out)
    );
}

// --- secret scanners ---------------------------------------------------------

/// A plaintext Kubernetes Secret detect-secrets flags (a password keyword
/// and an AWS access key id).
const PLAINTEXT_SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    password: hunter2-Zq9xW4\n    api_key: AKIAIOSFODNN7EXAMPLE\n";

/// Runs `git` (or any program) in `dir` with a scratch environment where
/// `path` comes first on PATH.
fn in_repo(
    s: &Scratch,
    dir: &Path,
    program: &Path,
    args: &[&str],
    path: &std::ffi::OsStr,
) -> Output {
    let mut c = Command::new(program);
    c.current_dir(dir)
        .args(args)
        .env("HOME", s.dir.path())
        .env("XDG_CONFIG_HOME", s.path(".config"))
        .env("PATH", path)
        .env("PYTHONUSERBASE", python_user_base())
        .env("SOPS_AGE_KEY_FILE", demo_key_file())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env_remove("SOPS_AGE_KEY")
        .stdin(Stdio::null());
    c.output().expect("run")
}

/// The shipped pre-commit configuration (contrib/secret-scanners): a
/// plaintext Secret is refused by both `rsops check` and detect-secrets;
/// once encrypted it passes both, although detect-secrets without the
/// shipped exclusions flags the encrypted file.
#[test]
fn pre_commit_with_detect_secrets_refuses_plaintext_and_passes_ciphertext() {
    if !super::servers::python_has("pre_commit") {
        return;
    }
    let Some(hook) = tool("detect-secrets-hook", &["--version"]) else {
        return;
    };
    let s = Scratch::new();
    let bin = s.path("bin");
    install_as(&bin, "rsops");
    let path = std::env::join_paths(
        [bin.clone(), hook.parent().expect("dir").to_path_buf()]
            .into_iter()
            .chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            )),
    )
    .expect("PATH");
    let repo = s.path("repo");
    std::fs::create_dir_all(repo.join("secrets")).expect("mkdir");
    let git = Path::new("git");
    let run = |program: &Path, args: &[&str]| in_repo(&s, &repo, program, args, &path);
    ok(&run(git, &["init", "-q", "-b", "main"]), "git init");
    let config = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contrib/secret-scanners/pre-commit-config.yaml"
    ))
    .expect("contrib/secret-scanners/pre-commit-config.yaml");
    std::fs::write(repo.join(".pre-commit-config.yaml"), config).expect("write");
    std::fs::write(
        repo.join(".sops.yaml"),
        format!("creation_rules:\n  - path_regex: ^secrets/\n    age: {DEMO_RECIPIENT}\n"),
    )
    .expect("write");
    let python = super::servers::python();
    ok(
        &run(&python, &["-m", "pre_commit", "install"]),
        "pre-commit install",
    );
    ok(&run(git, &["add", "-A"]), "git add");
    ok(
        &run(git, &["commit", "-q", "-m", "config"]),
        "commit config",
    );

    // Plaintext: both hooks fail.
    std::fs::write(repo.join("secrets/db.yaml"), PLAINTEXT_SECRET).expect("write");
    ok(&run(git, &["add", "-A"]), "git add");
    let out = run(git, &["commit", "-q", "-m", "plaintext"]);
    let all = text(&out);
    assert!(!out.status.success(), "plaintext accepted: {all}");
    let failed: Vec<&str> = all.lines().filter(|l| l.ends_with("Failed")).collect();
    assert_eq!(failed.len(), 2, "{all}");
    assert!(
        failed[0].starts_with("rsops check") && failed[1].starts_with("detect-secrets"),
        "{all}"
    );
    assert!(
        all.contains("Secret Keyword") && all.contains("AWS Access Key"),
        "{all}"
    );

    // Encrypted: both pass, although detect-secrets alone flags the file.
    ok(
        &run(&bin.join("rsops"), &["encrypt", "-i", "secrets/db.yaml"]),
        "encrypt",
    );
    let bare = run(&hook, &["secrets/db.yaml"]);
    assert!(!bare.status.success(), "{}", text(&bare));
    ok(&run(git, &["add", "-A"]), "git add");
    let out = run(git, &["commit", "-q", "-m", "encrypted"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// kustomize's `behavior` annotation on a generated Secret: `replace`
/// takes the place of the base's Secret of the same name (without it,
/// kustomize refuses the conflict).
#[test]
fn kubectl_kustomize_replaces_the_base_secret_when_asked() {
    let Some(kubectl) = tool("kubectl", &["version", "--client"]) else {
        return;
    };
    let s = Scratch::new();
    std::fs::create_dir_all(s.path("base")).expect("mkdir");
    s.write(
        "base/secret.yaml",
        b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  host: db.internal\n  user: base-user\n",
    );
    s.write("base/kustomization.yaml", b"resources:\n  - secret.yaml\n");
    encrypted(&s, "db.enc.env", b"user=app\npassword=s3cret\n");
    s.write(
        "generator.yaml",
        b"apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: g\nsecretFrom:\n  - metadata:\n      name: db\n      annotations:\n        kustomize.config.k8s.io/behavior: replace\n    envs:\n      - ./db.enc.env\n",
    );
    s.write(
        "kustomization.yaml",
        b"resources:\n  - ./base\ngenerators:\n  - ./generator.yaml\n",
    );
    install_as(
        &s.path(".config/kustomize/plugin/viaduct.ai/v1/ksops"),
        "ksops",
    );
    let out = s.run(
        &kubectl,
        &["kustomize", "--enable-alpha-plugins", "."],
        Some(&demo_key_file()),
        None,
    );
    let got = String::from_utf8(ok(&out, "kubectl kustomize")).expect("utf-8");
    assert_eq!(
        got,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: s3cret\n  user: app\n"
    );
    let generator = std::fs::read_to_string(s.path("generator.yaml")).expect("read");
    s.write(
        "generator.yaml",
        generator
            .replace("kustomize.config.k8s.io/behavior: replace", "x: y")
            .as_bytes(),
    );
    let out = s.run(
        &kubectl,
        &["kustomize", "--enable-alpha-plugins", "."],
        Some(&demo_key_file()),
        None,
    );
    assert!(!out.status.success(), "{}", text(&out));
}
