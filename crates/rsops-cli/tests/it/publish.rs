//! `rsops publish` against local servers (moto for S3, `vault.py` for Vault
//! KV v1 and v2, `gcs.py` for Cloud Storage), checked against the real
//! sops 3.11 where it can reach the same server: what is uploaded, the
//! confirmation prompt, the messages and exit codes.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{demo_key_file, ok, sops, Scratch, DEMO_RECIPIENT};
use crate::servers::{python, python_has, TestServer};

const PLAIN: &str = "db:\n    user: admin\n    password: s3cr3t\nname: app\n";

/// The recipient of the TEST-ONLY key `testdata/sops/keys/age-1.txt`.
const AGE1: &str = "age1hd76wdmcguk8j0p6drdg5uq93js0n08avrjqhmdfeaq5qpvnrvnsunt3v8";

fn rsops_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rsops"))
}

fn age1_key_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sops/keys/age-1.txt")
}

/// Runs `program` in `s` with the demo key, `env` and `stdin`.
fn run(
    s: &Scratch,
    program: &Path,
    args: &[&str],
    env: &[(&str, String)],
    stdin: Option<&[u8]>,
) -> Output {
    run_key(s, program, args, env, stdin, &demo_key_file())
}

fn run_key(
    s: &Scratch,
    program: &Path,
    args: &[&str],
    env: &[(&str, String)],
    stdin: Option<&[u8]>,
    key: &Path,
) -> Output {
    let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, OsStr::new(v))).collect();
    s.run_env(program, args, Some(key), &env, stdin)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory with `s.yaml`, encrypted for the demo key.
fn scratch_with_secret() -> Scratch {
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let enc = ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"]),
        "encrypt",
    );
    s.write("s.yaml", &enc);
    s
}

// ------------------------------------------------------------------- S3

/// moto on loopback and the environment that sends both tools to it.
struct S3 {
    _server: TestServer,
    endpoint: String,
}

impl S3 {
    fn start() -> Option<S3> {
        if !python_has("moto.server") {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let server = TestServer::python(
            "moto_kms.py",
            &[state.to_str().expect("utf-8"), "us-east-1"],
        );
        let endpoint = std::fs::read_to_string(&state)
            .expect("state")
            .lines()
            .find_map(|l| l.strip_prefix("endpoint "))
            .expect("endpoint")
            .to_owned();
        let s3 = S3 {
            _server: server,
            endpoint,
        };
        s3.boto("s3.create_bucket(Bucket='bkt')");
        Some(s3)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// Runs Python `code` with `s3` a boto3 client of the server; its
    /// standard output.
    fn boto(&self, code: &str) -> Vec<u8> {
        self.boto_as(("test", "test"), code)
    }

    /// [`S3::boto`] with the access key `id` and `secret`.
    fn boto_as(&self, (id, secret): (&str, &str), code: &str) -> Vec<u8> {
        let script = format!(
            "import boto3, json, sys, urllib.request\nep = '{}'\ns3 = boto3.client('s3', endpoint_url=ep, region_name='us-east-1', aws_access_key_id='{id}', aws_secret_access_key='{secret}')\n{code}\n",
            self.endpoint
        );
        let out = Command::new(python())
            .args(["-c", &script])
            .output()
            .expect("python");
        assert!(out.status.success(), "boto3: {}", text(&out.stderr));
        out.stdout
    }

    /// The object's bytes.
    fn get(&self, key: &str) -> Vec<u8> {
        self.boto(&format!(
            "sys.stdout.buffer.write(s3.get_object(Bucket='bkt', Key='{key}')['Body'].read())"
        ))
    }

    /// Every object name, sorted.
    fn keys(&self) -> Vec<String> {
        let out = self.boto(
            "print('\\n'.join(sorted(o['Key'] for o in s3.list_objects(Bucket='bkt').get('Contents', []))))",
        );
        text(&out)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn s3_gets_the_file_as_is_and_both_tools_decrypt_it() {
    let Some(sops) = sops() else { return };
    let Some(s3) = S3::start() else { return };
    let s = scratch_with_secret();
    s.write(
        ".sops.yaml",
        b"destination_rules:\n  - path_regex: ^s\\.yaml$\n    s3_bucket: bkt\n    s3_prefix: ours/\n",
    );
    let env = s3.env();
    let out = run(&s, rsops_bin(), &["publish", "-y", "s.yaml"], &env, None);
    ok(&out, "rsops publish");
    assert_eq!(
        s3.get("ours/s.yaml"),
        std::fs::read(s.path("s.yaml")).unwrap()
    );
    // sops publishes the same bytes under another prefix.
    s.write(
        ".sops.yaml",
        b"destination_rules:\n  - path_regex: ^s\\.yaml$\n    s3_bucket: bkt\n    s3_prefix: theirs/\n",
    );
    ok(
        &run(&s, &sops, &["publish", "-y", "s.yaml"], &env, None),
        "sops publish",
    );
    assert_eq!(s3.get("theirs/s.yaml"), s3.get("ours/s.yaml"));
    s.write("fetched.yaml", &s3.get("ours/s.yaml"));
    for program in [rsops_bin(), sops.as_path()] {
        let plain = ok(
            &run(&s, program, &["decrypt", "fetched.yaml"], &env, None),
            "decrypt",
        );
        assert_eq!(text(&plain), PLAIN);
    }
}

#[test]
fn s3_recreation_rule_reencrypts_for_its_keys_like_sops() {
    let Some(sops) = sops() else { return };
    let Some(s3) = S3::start() else { return };
    let s = scratch_with_secret();
    let config = |prefix: &str| {
        format!(
            "destination_rules:\n  - s3_bucket: bkt\n    s3_prefix: {prefix}/\n    omit_extensions: true\n    recreation_rule:\n      age: {AGE1}\n"
        )
    };
    let env = s3.env();
    s.write(".sops.yaml", config("ours").as_bytes());
    let ours = run(&s, rsops_bin(), &["publish", "-y", "s.yaml"], &env, None);
    let shown = text(&ok(&ours, "rsops publish"));
    s.write(".sops.yaml", config("theirs").as_bytes());
    let theirs = run(&s, &sops, &["publish", "-y", "s.yaml"], &env, None);
    assert_eq!(shown, text(&ok(&theirs, "sops publish")));
    assert_eq!(
        shown,
        format!(
            "The following changes will be made to the file's key groups:\nGroup 1\n+++ {AGE1}\n--- {DEMO_RECIPIENT}\n"
        )
    );
    assert_eq!(s3.keys(), ["ours/s", "theirs/s"]);
    let uploaded = s3.get("ours/s");
    assert_ne!(uploaded, std::fs::read(s.path("s.yaml")).unwrap());
    assert!(text(&uploaded).contains(AGE1) && !text(&uploaded).contains(DEMO_RECIPIENT));
    s.write("fetched.yaml", &uploaded);
    // Only the recreation rule's key opens it, with either tool.
    for program in [rsops_bin(), sops.as_path()] {
        let plain = run_key(
            &s,
            program,
            &["decrypt", "fetched.yaml"],
            &env,
            None,
            &age1_key_file(),
        );
        assert_eq!(text(&ok(&plain, "decrypt")), PLAIN);
        let denied = run(&s, program, &["decrypt", "fetched.yaml"], &env, None);
        assert_eq!(denied.status.code(), Some(128), "{}", text(&denied.stderr));
    }
}

#[test]
fn recursive_publishes_relative_paths_and_matches_the_walked_path() {
    let Some(s3) = S3::start() else { return };
    let s = scratch_with_secret();
    std::fs::create_dir_all(s.path("dir/sub")).unwrap();
    std::fs::copy(s.path("s.yaml"), s.path("dir/a.yaml")).unwrap();
    std::fs::copy(s.path("s.yaml"), s.path("dir/sub/b.yaml")).unwrap();
    s.write(
        ".sops.yaml",
        b"destination_rules:\n  - path_regex: ^dir/sub/\n    s3_bucket: bkt\n    s3_prefix: deep/\n  - s3_bucket: bkt\n    s3_prefix: top/\n",
    );
    let env = s3.env();
    let refused = run(&s, rsops_bin(), &["publish", "-y", "dir"], &env, None);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        text(&refused.stderr).trim(),
        "can't operate on a directory without --recursive flag."
    );
    let out = run(
        &s,
        rsops_bin(),
        &["publish", "-y", "--recursive", "--omit-extensions", "./dir"],
        &env,
        None,
    );
    ok(&out, "publish --recursive");
    // The rule is matched against the walked path (`dir/sub/b.yaml`, as
    // Go's filepath.Walk cleans it); the name is the path below `dir`.
    assert_eq!(s3.keys(), ["deep/sub/b", "top/a"]);
}

#[test]
fn the_prompt_needs_y_and_stdin_at_its_end_fails_like_sops() {
    let Some(sops) = sops() else { return };
    let Some(s3) = S3::start() else { return };
    let s = scratch_with_secret();
    s.write(
        ".sops.yaml",
        b"destination_rules:\n  - s3_bucket: bkt\n    s3_prefix: p/\n",
    );
    let env = s3.env();
    let abs = s.path("s.yaml");
    let prompt = format!("uploading {} to s3://bkt/p/s.yaml ? (y/n): ", abs.display());
    for program in [rsops_bin(), sops.as_path()] {
        // No answer (stdin closed, as without a terminal): an error.
        let closed = run(&s, program, &["publish", "s.yaml"], &env, None);
        assert_eq!(closed.status.code(), Some(1), "{}", program.display());
        assert!(
            text(&closed.stdout).starts_with(&prompt),
            "{}",
            text(&closed.stdout)
        );
        // `n`: canceled, an error for a single file.
        let declined = run(&s, program, &["publish", "s.yaml"], &env, Some(b"n\n"));
        assert_eq!(declined.status.code(), Some(1));
        assert!(
            text(&declined.stderr).contains(&format!("Publication of {} canceled", abs.display())),
            "{}",
            text(&declined.stderr)
        );
        assert!(s3.keys().is_empty(), "nothing uploaded");
    }
    let closed = run(&s, rsops_bin(), &["publish", "s.yaml"], &env, None);
    assert!(
        text(&closed.stderr).contains("pass -y"),
        "{}",
        text(&closed.stderr)
    );
    // Anything else is asked again; `y` uploads.
    let yes = run(
        &s,
        rsops_bin(),
        &["publish", "s.yaml"],
        &env,
        Some(b"maybe\ny\n"),
    );
    ok(&yes, "publish with y");
    assert_eq!(text(&yes.stdout), format!("{prompt}{prompt}"));
    assert_eq!(s3.keys(), ["p/s.yaml"]);
}

#[test]
fn s3_down_is_a_clear_error_with_sops_exit_code() {
    let Some(sops) = sops() else { return };
    let s = scratch_with_secret();
    s.write(".sops.yaml", b"destination_rules:\n  - s3_bucket: bkt\n");
    let env = vec![
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_MAX_ATTEMPTS", "1".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ];
    let ours = run(&s, rsops_bin(), &["publish", "-y", "s.yaml"], &env, None);
    let theirs = run(&s, &sops, &["publish", "-y", "s.yaml"], &env, None);
    assert_eq!(theirs.status.code(), Some(1));
    assert_eq!(ours.status.code(), theirs.status.code());
    let msg = text(&ours.stderr);
    assert!(
        msg.contains("could not publish to s3://bkt/s.yaml")
            && msg.contains("PutObject")
            && msg.contains("127.0.0.1:1"),
        "{msg}"
    );
}

/// Credentials that moto checks once [`S3::require_signatures`] ran.
struct MotoCredentials {
    user: (String, String),
    role: (String, String, String),
}

impl S3 {
    /// Makes moto check every request's signature from now on (it accepts
    /// anything by default), against an IAM user's access key and the
    /// temporary credentials of a role it assumed, both allowed everything.
    fn require_signatures(&self) -> MotoCredentials {
        let out = self.boto(
            "allow = json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]})
trust = json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Principal': {'AWS': '*'}, 'Action': 'sts:AssumeRole'}]})
iam = boto3.client('iam', endpoint_url=ep, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')
iam.create_user(UserName='publisher')
iam.put_user_policy(UserName='publisher', PolicyName='all', PolicyDocument=allow)
key = iam.create_access_key(UserName='publisher')['AccessKey']
role = iam.create_role(RoleName='publisher-role', AssumeRolePolicyDocument=trust)['Role']['Arn']
iam.put_role_policy(RoleName='publisher-role', PolicyName='all', PolicyDocument=allow)
sts = boto3.client('sts', endpoint_url=ep, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')
c = sts.assume_role(RoleArn=role, RoleSessionName='publish')['Credentials']
urllib.request.urlopen(urllib.request.Request(ep + '/moto-api/reset-auth', data=b'0', method='POST', headers={'Content-Type': 'text/plain'})).read()
print(key['AccessKeyId'], key['SecretAccessKey'])
print(c['AccessKeyId'], c['SecretAccessKey'], c['SessionToken'])",
        );
        let out = text(&out);
        let mut lines = out
            .lines()
            .map(|l| l.split(' ').map(str::to_owned).collect::<Vec<_>>());
        let user = lines.next().expect("user key");
        let role = lines.next().expect("role credentials");
        MotoCredentials {
            user: (user[0].clone(), user[1].clone()),
            role: (role[0].clone(), role[1].clone(), role[2].clone()),
        }
    }
}

/// The server's environment with other credentials.
fn env_with(s3: &S3, id: &str, secret: &str, token: Option<&str>) -> Vec<(&'static str, String)> {
    let mut env: Vec<_> = s3
        .env()
        .into_iter()
        .filter(|(k, _)| *k != "AWS_ACCESS_KEY_ID" && *k != "AWS_SECRET_ACCESS_KEY")
        .collect();
    env.push(("AWS_ACCESS_KEY_ID", id.to_owned()));
    env.push(("AWS_SECRET_ACCESS_KEY", secret.to_owned()));
    if let Some(token) = token {
        env.push(("AWS_SESSION_TOKEN", token.to_owned()));
    }
    env
}

#[test]
fn s3_requests_are_signed_as_s3_checks_them() {
    let Some(s3) = S3::start() else { return };
    let creds = s3.require_signatures();
    let s = scratch_with_secret();
    // A key with a space, `+` and non-ASCII letters: its encoding is part
    // of the signature.
    s.write(
        ".sops.yaml",
        "destination_rules:\n  - s3_bucket: bkt\n    s3_prefix: \"dir x/ü+/\"\n".as_bytes(),
    );
    let file = std::fs::read(s.path("s.yaml")).unwrap();
    let publish =
        |env: &[(&str, String)]| run(&s, rsops_bin(), &["publish", "-y", "s.yaml"], env, None);
    let fetch = || {
        s3.boto_as(
            (&creds.user.0, &creds.user.1),
            "sys.stdout.buffer.write(s3.get_object(Bucket='bkt', Key='dir x/ü+/s.yaml')['Body'].read())",
        )
    };

    let (id, secret) = &creds.user;
    ok(
        &publish(&env_with(&s3, id, secret, None)),
        "publish with an access key",
    );
    assert_eq!(fetch(), file);

    // Temporary credentials: the session token is sent and signed.
    let (id, secret, token) = &creds.role;
    s.write("s.yaml", &[file.as_slice(), b"# 2\n"].concat());
    ok(
        &publish(&env_with(&s3, id, secret, Some(token))),
        "publish with a session token",
    );
    assert_eq!(fetch(), [file.as_slice(), b"# 2\n"].concat());

    // A wrong secret or token is refused by S3, with its error code; the
    // secret is not shown.
    let wrong = "WrongSecretNeverPrinted0123456789";
    let refused = publish(&env_with(&s3, &creds.user.0, wrong, None));
    assert_eq!(refused.status.code(), Some(1));
    let msg = text(&refused.stderr);
    assert!(
        msg.contains("S3 PutObject: HTTP 403")
            && msg.contains("SignatureDoesNotMatch: The request signature we calculated")
            && !msg.contains(wrong),
        "{msg}"
    );
    let refused = publish(&env_with(&s3, id, secret, Some("bogus")));
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("InvalidToken"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(fetch(), [file.as_slice(), b"# 2\n"].concat());
}

#[test]
fn s3_error_answers_give_s3s_code_and_sops_exit_code() {
    let Some(s3) = S3::start() else { return };
    let s = scratch_with_secret();
    s.write(
        ".sops.yaml",
        b"destination_rules:\n  - s3_bucket: no-such-bucket\n",
    );
    let env = s3.env();
    let ours = run(&s, rsops_bin(), &["publish", "-y", "s.yaml"], &env, None);
    assert_eq!(ours.status.code(), Some(1));
    let msg = text(&ours.stderr);
    assert!(
        msg.contains("could not publish to s3://no-such-bucket/s.yaml")
            && msg.contains(&format!(
                "S3 PutObject: HTTP 404 from {}/no-such-bucket/s.yaml: NoSuchBucket: The specified bucket does not exist",
                s3.endpoint
            )),
        "{msg}"
    );
    if let Some(sops) = sops() {
        let theirs = run(&s, &sops, &["publish", "-y", "s.yaml"], &env, None);
        assert_eq!(ours.status.code(), theirs.status.code());
        assert!(
            text(&theirs.stderr).contains("NoSuchBucket"),
            "{}",
            text(&theirs.stderr)
        );
    }
    // No credentials anywhere: said before anything is sent.
    let anonymous: Vec<_> = env
        .into_iter()
        .filter(|(k, _)| *k != "AWS_ACCESS_KEY_ID" && *k != "AWS_SECRET_ACCESS_KEY")
        .collect();
    let out = run(
        &s,
        rsops_bin(),
        &["publish", "-y", "s.yaml"],
        &anonymous,
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let msg = text(&out.stderr);
    assert!(msg.contains("S3 PutObject: no AWS credentials"), "{msg}");
}

// ------------------------------------------------- rules, arguments, errors

#[test]
fn rule_and_argument_errors_match_sops() {
    let sops = sops();
    let s = scratch_with_secret();
    std::fs::create_dir(s.path("d")).unwrap();
    let cases: &[(&str, &[&str], i32, &str)] = &[
        (
            "destination_rules:\n  - path_regex: nomatch\n    s3_bucket: b\n",
            &["publish", "-y", "s.yaml"],
            1,
            "error loading config: no matching destination found in config",
        ),
        (
            "destination_rules:\n  - path_regex: s\n",
            &["publish", "-y", "s.yaml"],
            1,
            "no destination configured for this file",
        ),
        (
            "destination_rules:\n  - s3_bucket: b\n    vault_path: x\n",
            &["publish", "-y", "s.yaml"],
            1,
            "error loading config: more than one destinations were found in a single destination rule, you can only use one per rule",
        ),
        (
            "destination_rules:\n  - vault_kv_version: two\n",
            &["publish", "-y", "s.yaml"],
            1,
            "cannot unmarshal !!str `two` into int",
        ),
        (
            "destination_rules:\n  - s3_bucket: b\n",
            &["publish", "-y", "missing.yaml"],
            1,
            "stat missing.yaml: no such file or directory",
        ),
        (
            "destination_rules:\n  - s3_bucket: b\n",
            &["publish", "-y"],
            100,
            "Error: no file specified",
        ),
        (
            "destination_rules:\n  - s3_bucket: b\n",
            &["publish", "-y", "d"],
            1,
            "can't operate on a directory without --recursive flag.",
        ),
    ];
    for (config, args, code, message) in cases {
        s.write(".sops.yaml", config.as_bytes());
        let ours = run(&s, rsops_bin(), args, &[], None);
        assert_eq!(ours.status.code(), Some(*code), "{config}{args:?}");
        assert!(
            text(&ours.stderr).contains(message),
            "{config}{args:?}: {}",
            text(&ours.stderr)
        );
        if let Some(sops) = &sops {
            let theirs = run(&s, sops, args, &[], None);
            assert_eq!(theirs.status.code(), Some(*code), "sops {config}{args:?}");
            assert!(
                text(&theirs.stderr).contains(message),
                "sops {config}{args:?}"
            );
        }
    }
    std::fs::remove_file(s.path(".sops.yaml")).unwrap();
    let none = run(&s, rsops_bin(), &["publish", "-y", "s.yaml"], &[], None);
    assert_eq!(none.status.code(), Some(1));
    assert!(text(&none.stderr).starts_with("config file not found"));
}

// ------------------------------------------------------------------ Vault

/// The Vault mock with a KV v2 engine at `secret/` and a v1 one at `kv1/`.
fn vault(dump: &Path) -> Option<TestServer> {
    python_has("http.server").then(|| {
        TestServer::python(
            "vault.py",
            &[
                "--kv",
                "secret:2",
                "--kv",
                "kv1:1",
                "--kv-dump",
                dump.to_str().expect("utf-8"),
            ],
        )
    })
}

fn kv(dump: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dump).expect("kv dump")).expect("json")
}

#[test]
fn vault_kv_v1_and_v2_get_the_decrypted_values_like_sops() {
    let s = scratch_with_secret();
    let dump = s.path("kv.json");
    let Some(server) = vault(&dump) else { return };
    s.write(
        ".sops.yaml",
        format!(
            "destination_rules:\n  - path_regex: v1\n    vault_path: app\n    vault_kv_mount_name: kv1/\n    vault_kv_version: 1\n  - vault_path: app/\n    vault_address: {}\n",
            server.url()
        )
        .as_bytes(),
    );
    std::fs::copy(s.path("s.yaml"), s.path("v1.yaml")).unwrap();
    let env = vec![
        ("VAULT_TOKEN", "test-token".to_owned()),
        ("VAULT_ADDR", server.url()),
    ];
    ok(
        &run(&s, rsops_bin(), &["publish", "-y", "s.yaml"], &env, None),
        "v2",
    );
    ok(
        &run(&s, rsops_bin(), &["publish", "-y", "v1.yaml"], &env, None),
        "v1",
    );
    let stored = kv(&dump);
    let values = serde_json::json!({"db": {"user": "admin", "password": "s3cr3t"}, "name": "app"});
    assert_eq!(stored["secret:app/s.yaml"]["data"], values);
    assert_eq!(stored["kv1:app/v1.yaml"]["data"], values);
    // An unchanged v2 secret is not written again; v1 is (sops compares
    // the v1 answer's `data` field, which is not the secret).
    ok(
        &run(&s, rsops_bin(), &["publish", "-y", "s.yaml"], &env, None),
        "v2 again",
    );
    ok(
        &run(&s, rsops_bin(), &["publish", "-y", "v1.yaml"], &env, None),
        "v1 again",
    );
    let stored = kv(&dump);
    assert_eq!(stored["secret:app/s.yaml"]["writes"], 1);
    assert_eq!(stored["kv1:app/v1.yaml"]["writes"], 2);
    // The prompt names the secret's URL.
    let asked = run(&s, rsops_bin(), &["publish", "s.yaml"], &env, Some(b"n\n"));
    assert_eq!(
        text(&asked.stdout),
        format!(
            "uploading {} to {}/v1/secret/data/app/s.yaml ? (y/n): ",
            s.path("s.yaml").display(),
            server.url()
        )
    );
    // sops writes the same data.
    if let Some(sops) = sops() {
        std::fs::copy(s.path("s.yaml"), s.path("v1-sops.yaml")).unwrap();
        ok(
            &run(&s, &sops, &["publish", "-y", "v1-sops.yaml"], &env, None),
            "sops v1",
        );
        assert_eq!(kv(&dump)["kv1:app/v1-sops.yaml"]["data"], values);
    }
}

#[test]
fn vault_errors_are_clear_and_write_nothing() {
    let s = scratch_with_secret();
    let dump = s.path("kv.json");
    let Some(server) = vault(&dump) else { return };
    s.write(
        ".sops.yaml",
        format!(
            "destination_rules:\n  - vault_path: app\n    vault_address: {}\n",
            server.url()
        )
        .as_bytes(),
    );
    let denied = run(
        &s,
        rsops_bin(),
        &["publish", "-y", "s.yaml"],
        &[("VAULT_TOKEN", "wrong".to_owned())],
        None,
    );
    assert_eq!(denied.status.code(), Some(1));
    let msg = text(&denied.stderr);
    assert!(
        msg.contains("failed to write Vault KV secret 'secret/data/app/s.yaml': HTTP 403")
            && msg.contains("permission denied"),
        "{msg}"
    );
    assert!(!dump.exists(), "nothing written");
    s.write(
        ".sops.yaml",
        b"destination_rules:\n  - vault_path: app\n    vault_address: http://127.0.0.1:1\n",
    );
    let down = run(
        &s,
        rsops_bin(),
        &["publish", "-y", "s.yaml"],
        &[
            ("VAULT_TOKEN", "test-token".to_owned()),
            ("VAULT_MAX_RETRIES", "0".to_owned()),
        ],
        None,
    );
    assert_eq!(down.status.code(), Some(1));
    let msg = text(&down.stderr);
    assert!(
        msg.contains("could not publish to http://127.0.0.1:1/v1/secret/data/app/s.yaml")
            && msg.contains("failed to write Vault KV secret"),
        "{msg}"
    );
}

// -------------------------------------------------------------------- GCS

#[test]
fn gcs_upload_through_the_emulator_variable_like_sops() {
    let s = scratch_with_secret();
    let store = tempfile::tempdir().expect("tempdir");
    if !python_has("http.server") {
        return;
    }
    let server = TestServer::python("gcs.py", &[store.path().to_str().expect("utf-8")]);
    s.write(
        ".sops.yaml",
        b"destination_rules:\n  - gcs_bucket: gb\n    gcs_prefix: g/\n",
    );
    let env = vec![(
        "STORAGE_EMULATOR_HOST",
        format!("127.0.0.1:{}", server.port),
    )];
    ok(
        &run(&s, rsops_bin(), &["publish", "-y", "s.yaml"], &env, None),
        "rsops",
    );
    let original = std::fs::read(s.path("s.yaml")).unwrap();
    assert_eq!(
        std::fs::read(store.path().join("gb/g/s.yaml")).unwrap(),
        original
    );
    let log = std::fs::read_to_string(store.path().join("uploads.log")).unwrap();
    assert!(
        log.contains("\"uploadType\": \"media\", \"authorization\": false"),
        "{log}"
    );
    let asked = run(&s, rsops_bin(), &["publish", "s.yaml"], &env, Some(b"n\n"));
    assert!(text(&asked.stdout).ends_with(" to gcs://gb/g/s.yaml ? (y/n): "));
    if let Some(sops) = sops() {
        std::fs::copy(s.path("s.yaml"), s.path("t.yaml")).unwrap();
        ok(
            &run(&s, &sops, &["publish", "-y", "t.yaml"], &env, None),
            "sops",
        );
        assert_eq!(
            std::fs::read(store.path().join("gb/g/t.yaml")).unwrap(),
            original
        );
    }
    // A failing upload is an error (sops 3.11 ignores it and exits 0).
    drop(server);
    let failing = TestServer::python(
        "gcs.py",
        &[store.path().to_str().expect("utf-8"), "--status", "403"],
    );
    let env = vec![(
        "STORAGE_EMULATOR_HOST",
        format!("127.0.0.1:{}", failing.port),
    )];
    let out = run(&s, rsops_bin(), &["publish", "-y", "s.yaml"], &env, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("HTTP 403"),
        "{}",
        text(&out.stderr)
    );
}
