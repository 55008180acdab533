//! AWS KMS against moto (KMS, STS, IAM on loopback) and a misbehaving KMS
//! mock, with the reference sops on the other side of every file.
//!
//! Both tools reach the servers through `AWS_ENDPOINT_URL` with moto's fake
//! static credentials; IMDS is disabled so that a missing credential fails
//! at once.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::{ok, sops, Scratch, DEMO_RECIPIENT};
use crate::servers::{python_has, TestServer};

const PLAIN: &str = "db:\n    user: admin\n    password: s3cr3t\nport: 5432\n";

/// A moto server with two keys (us-east-1, eu-west-3), an alias and a role.
struct Moto {
    _server: TestServer,
    endpoint: String,
    keys: Vec<String>,
    alias: String,
    role: String,
}

/// moto, or `None` (a skip) when it is not installed outside CI.
fn moto() -> Option<Moto> {
    if !python_has("moto.server") {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let server = TestServer::python("moto_kms.py", &[state.to_str().expect("utf-8 path")]);
    let text = std::fs::read_to_string(&state).expect("moto state");
    let field = |name: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .map(str::to_owned)
            .collect()
    };
    Some(Moto {
        endpoint: field("endpoint").remove(0),
        keys: field("key"),
        alias: field("alias").remove(0),
        role: field("role").remove(0),
        _server: server,
    })
}

/// Both moto and the reference sops, or `None`.
fn moto_and_sops() -> Option<(Moto, PathBuf)> {
    let sops = sops()?;
    Some((moto()?, sops))
}

fn rsops_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rsops"))
}

/// The environment both tools get: the endpoint, and static credentials
/// unless `creds` is false.
fn aws_env(endpoint: &str, creds: bool) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ];
    if creds {
        env.push(("AWS_ACCESS_KEY_ID", "test".to_owned()));
        env.push(("AWS_SECRET_ACCESS_KEY", "test".to_owned()));
    }
    env
}

/// Runs `program` in `s` with `env` (no age key unless `age` is set).
fn run(s: &Scratch, program: &Path, args: &[&str], env: &[(&str, String)], age: bool) -> Output {
    let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, OsStr::new(v))).collect();
    let key = crate::common::demo_key_file();
    s.run_env(program, args, age.then_some(key.as_path()), &env, None)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `sops:` block of a YAML file without the lines that differ between
/// two encryptions (`enc`, `created_at`, `lastmodified`, `mac`).
fn stable_metadata(yaml: &[u8]) -> String {
    let text = String::from_utf8_lossy(yaml);
    let start = text.find("\nsops:\n").expect("metadata block");
    let mut kept = Vec::new();
    // While inside a skipped block scalar (`enc: |`): its key's indentation.
    let mut skipping: Option<usize> = None;
    for line in text[start + 1..].lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(key_indent) = skipping {
            if indent > key_indent {
                continue;
            }
            skipping = None;
        }
        let t = line.trim_start().trim_start_matches("- ");
        let key_indent = line.len() - t.len();
        if ["enc:", "created_at:", "lastmodified:", "mac:", "version:"]
            .iter()
            .any(|p| t.starts_with(p))
        {
            if t.ends_with('|') || t.ends_with("|-") {
                skipping = Some(key_indent);
            }
            continue;
        }
        kept.push(line);
    }
    super::common::order_free(&kept.join("\n"))
}

/// The values of `field` in the metadata, in order (e.g. every `arn:`).
fn metadata_values(yaml: &[u8], field: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(yaml);
    let prefix = format!("{field}: ");
    text.lines()
        .filter_map(|l| {
            let t = l.trim_start().trim_start_matches("- ");
            t.strip_prefix(&prefix).map(str::to_owned)
        })
        .collect()
}

#[test]
fn files_cross_decrypt_and_metadata_matches_sops_with_an_encryption_context() {
    let Some((moto, sops)) = moto_and_sops() else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let env = aws_env(&moto.endpoint, true);
    // The second key lives in eu-west-3: the region comes from the ARN.
    let kms = format!("{},{}", moto.keys[0], moto.keys[1]);
    let args = [
        "encrypt",
        "--kms",
        &kms,
        "--encryption-context",
        "zeta:1,alpha:two,Mid:3",
        "plain.yaml",
    ];
    let by_sops = ok(&run(&s, &sops, &args, &env, false), "sops encrypt");
    let by_rsops = ok(&run(&s, rsops_bin(), &args, &env, false), "rsops encrypt");
    assert_eq!(stable_metadata(&by_rsops), stable_metadata(&by_sops));
    // The context is written sorted bytewise, numbers quoted, as sops does.
    let text = String::from_utf8_lossy(&by_rsops);
    assert!(
        text.contains(
            "context:\n            Mid: \"3\"\n            alpha: two\n            zeta: \"1\"\n"
        ),
        "{text}"
    );
    s.write("by-sops.yaml", &by_sops);
    s.write("by-rsops.yaml", &by_rsops);
    for (program, file) in [
        (rsops_bin(), "by-sops.yaml"),
        (sops.as_path(), "by-rsops.yaml"),
        (rsops_bin(), "by-rsops.yaml"),
    ] {
        let out = ok(
            &run(&s, program, &["decrypt", file], &env, false),
            &format!("{} decrypt {file}", program.display()),
        );
        assert_eq!(String::from_utf8_lossy(&out), PLAIN);
    }
    // The context is bound to the ciphertext: editing it breaks both tools
    // the same way.
    let tampered = String::from_utf8_lossy(&by_rsops).replace("alpha: two", "alpha: three");
    s.write("tampered.yaml", tampered.as_bytes());
    let ours = run(&s, rsops_bin(), &["decrypt", "tampered.yaml"], &env, false);
    let theirs = run(&s, &sops, &["decrypt", "tampered.yaml"], &env, false);
    assert_eq!(theirs.status.code(), Some(128), "{}", stderr(&theirs));
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{}",
        stderr(&ours)
    );
    let msg = stderr(&ours);
    assert!(
        msg.contains("does not match the key and encryption context")
            && msg.contains("InvalidCiphertextException")
            && msg.contains(&moto.keys[0]),
        "{msg}"
    );
}

#[test]
fn an_alias_and_a_json_file_work_in_both_directions() {
    let Some((moto, sops)) = moto_and_sops() else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.json", b"{\"a\": \"b\", \"n\": [1, 2]}\n");
    let env = aws_env(&moto.endpoint, true);
    let args = ["encrypt", "--kms", &moto.alias, "plain.json"];
    let by_sops = ok(&run(&s, &sops, &args, &env, false), "sops encrypt");
    let by_rsops = ok(&run(&s, rsops_bin(), &args, &env, false), "rsops encrypt");
    s.write("by-sops.json", &by_sops);
    s.write("by-rsops.json", &by_rsops);
    let a = ok(
        &run(&s, rsops_bin(), &["decrypt", "by-sops.json"], &env, false),
        "rsops",
    );
    let b = ok(
        &run(&s, &sops, &["decrypt", "by-rsops.json"], &env, false),
        "sops",
    );
    assert_eq!(a, b);
    assert!(String::from_utf8_lossy(&a).contains("\"a\": \"b\""));
}

#[test]
fn a_role_is_assumed_through_sts() {
    let Some((moto, sops)) = moto_and_sops() else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let env = aws_env(&moto.endpoint, true);
    let spec = format!("{}+{}", moto.keys[0], moto.role);
    let args = ["encrypt", "--kms", &spec, "plain.yaml"];
    let by_rsops = ok(&run(&s, rsops_bin(), &args, &env, false), "rsops encrypt");
    let by_sops = ok(&run(&s, &sops, &args, &env, false), "sops encrypt");
    assert_eq!(stable_metadata(&by_rsops), stable_metadata(&by_sops));
    assert_eq!(metadata_values(&by_rsops, "role"), vec![moto.role.clone()]);
    s.write("by-rsops.yaml", &by_rsops);
    s.write("by-sops.yaml", &by_sops);
    let out = ok(
        &run(&s, &sops, &["decrypt", "by-rsops.yaml"], &env, false),
        "sops",
    );
    assert_eq!(String::from_utf8_lossy(&out), PLAIN);
    let out = ok(
        &run(&s, rsops_bin(), &["decrypt", "by-sops.yaml"], &env, false),
        "rsops",
    );
    assert_eq!(String::from_utf8_lossy(&out), PLAIN);

    // STS unreachable (moto assumes any role, so the failure is made by
    // sending STS elsewhere): the role is named, sops's exit code, nothing
    // written.
    let mut no_sts = env.clone();
    no_sts.push(("AWS_ENDPOINT_URL_STS", closed_port_url()));
    let ours = run(
        &s,
        rsops_bin(),
        &["encrypt", "-i", "--kms", &spec, "plain.yaml"],
        &no_sts,
        false,
    );
    let theirs = run(
        &s,
        &sops,
        &["encrypt", "--kms", &spec, "plain.yaml"],
        &no_sts,
        false,
    );
    assert_ne!(theirs.status.code(), Some(0), "{}", stderr(&theirs));
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{}",
        stderr(&ours)
    );
    let msg = stderr(&ours);
    assert!(
        msg.contains(&format!(
            "failed to assume role '{}': could not reach http://127.0.0.1:",
            moto.role
        )),
        "{msg}"
    );
    assert_eq!(
        std::fs::read_to_string(s.path("plain.yaml")).unwrap(),
        PLAIN
    );
    let before = std::fs::read(s.path("by-rsops.yaml")).unwrap();
    let ours = run(
        &s,
        rsops_bin(),
        &["decrypt", "-i", "by-rsops.yaml"],
        &no_sts,
        false,
    );
    let theirs = run(&s, &sops, &["decrypt", "by-rsops.yaml"], &no_sts, false);
    assert_eq!(theirs.status.code(), Some(128), "{}", stderr(&theirs));
    assert_eq!(ours.status.code(), Some(128), "{}", stderr(&ours));
    assert_eq!(std::fs::read(s.path("by-rsops.yaml")).unwrap(), before);
}

/// Writes `~/.aws/config` and `~/.aws/credentials` in the scratch HOME.
fn aws_files(s: &Scratch, config: &str, credentials: &str) {
    std::fs::create_dir_all(s.path(".aws")).unwrap();
    s.write(".aws/config", config.as_bytes());
    s.write(".aws/credentials", credentials.as_bytes());
}

#[test]
fn profiles_with_source_profile_role_and_credential_process() {
    let Some((moto, sops)) = moto_and_sops() else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let process = s.write(
        "creds.sh",
        b"#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"proc\", \"SecretAccessKey\": \"proc\"}'\n",
    );
    std::fs::set_permissions(
        &process,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    aws_files(
        &s,
        &format!(
            "[profile base]\nregion = us-east-1\n\n\
             [profile assumer]\nrole_arn = {role}\nsource_profile = base\n\n\
             [profile proc]\ncredential_process = {proc}\n",
            role = moto.role,
            proc = process.display()
        ),
        "[base]\naws_access_key_id = base\naws_secret_access_key = base\n",
    );
    // No static credentials in the environment: only the profile can work.
    // sops's SDK sends the profile's AssumeRole to AWS unless
    // AWS_ENDPOINT_URL_STS says otherwise.
    let mut env = aws_env(&moto.endpoint, false);
    env.push(("AWS_ENDPOINT_URL_STS", moto.endpoint.clone()));
    for profile in ["assumer", "proc"] {
        let args = [
            "encrypt",
            "--kms",
            &moto.keys[0],
            "--aws-profile",
            profile,
            "plain.yaml",
        ];
        let by_rsops = ok(&run(&s, rsops_bin(), &args, &env, false), "rsops encrypt");
        let by_sops = ok(&run(&s, &sops, &args, &env, false), "sops encrypt");
        assert_eq!(
            stable_metadata(&by_rsops),
            stable_metadata(&by_sops),
            "{profile}"
        );
        assert_eq!(
            metadata_values(&by_rsops, "aws_profile"),
            vec![profile.to_owned()]
        );
        s.write("by-rsops.yaml", &by_rsops);
        s.write("by-sops.yaml", &by_sops);
        // Decrypting uses the file's aws_profile.
        let out = ok(
            &run(&s, &sops, &["decrypt", "by-rsops.yaml"], &env, false),
            "sops",
        );
        assert_eq!(String::from_utf8_lossy(&out), PLAIN, "{profile}");
        let out = ok(
            &run(&s, rsops_bin(), &["decrypt", "by-sops.yaml"], &env, false),
            "rsops",
        );
        assert_eq!(String::from_utf8_lossy(&out), PLAIN, "{profile}");
    }

    // Without any source of credentials the error names the sources tried;
    // the exit code is sops's.
    s.write(
        "by-rsops.yaml",
        &ok(
            &run(
                &s,
                rsops_bin(),
                &["encrypt", "--kms", &moto.keys[0], "plain.yaml"],
                &aws_env(&moto.endpoint, true),
                false,
            ),
            "rsops encrypt",
        ),
    );
    std::fs::remove_dir_all(s.path(".aws")).unwrap();
    let before = std::fs::read(s.path("by-rsops.yaml")).unwrap();
    let ours = run(
        &s,
        rsops_bin(),
        &["decrypt", "-i", "by-rsops.yaml"],
        &env,
        false,
    );
    let theirs = run(&s, &sops, &["decrypt", "by-rsops.yaml"], &env, false);
    assert_eq!(theirs.status.code(), Some(128), "{}", stderr(&theirs));
    assert_eq!(ours.status.code(), Some(128), "{}", stderr(&ours));
    let msg = stderr(&ours);
    assert!(
        msg.contains("no AWS credentials") && msg.contains("Environment"),
        "{msg}"
    );
    assert!(
        !msg.contains("AKIA") && !msg.contains("aws_secret_access_key"),
        "{msg}"
    );
    assert_eq!(std::fs::read(s.path("by-rsops.yaml")).unwrap(), before);
}

#[test]
fn aws_profile_in_a_key_group_of_the_config() {
    let Some((moto, sops)) = moto_and_sops() else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    aws_files(
        &s,
        "[profile p1]\nregion = us-east-1\n",
        "[p1]\naws_access_key_id = p1\naws_secret_access_key = p1\n",
    );
    s.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: \\.yaml$\n    key_groups:\n      - kms:\n          - arn: {}\n            aws_profile: p1\n            context:\n              b: x\n              a: y\n",
            moto.keys[0]
        )
        .as_bytes(),
    );
    let env = aws_env(&moto.endpoint, false);
    let by_rsops = ok(
        &run(&s, rsops_bin(), &["encrypt", "plain.yaml"], &env, false),
        "rsops",
    );
    let by_sops = ok(
        &run(&s, &sops, &["encrypt", "plain.yaml"], &env, false),
        "sops",
    );
    assert_eq!(stable_metadata(&by_rsops), stable_metadata(&by_sops));
    assert_eq!(
        metadata_values(&by_rsops, "aws_profile"),
        vec!["p1".to_owned()]
    );
    s.write("by-rsops.yaml", &by_rsops);
    s.write("by-sops.yaml", &by_sops);
    let out = ok(
        &run(&s, &sops, &["decrypt", "by-rsops.yaml"], &env, false),
        "sops",
    );
    assert_eq!(String::from_utf8_lossy(&out), PLAIN);
    let out = ok(
        &run(&s, rsops_bin(), &["decrypt", "by-sops.yaml"], &env, false),
        "rsops",
    );
    assert_eq!(String::from_utf8_lossy(&out), PLAIN);
}

#[test]
fn kms_and_age_key_groups_with_a_shamir_threshold() {
    let Some((moto, sops)) = moto_and_sops() else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    s.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: \\.yaml$\n    shamir_threshold: 2\n    key_groups:\n      - kms:\n          - arn: {k0}\n      - age:\n          - {DEMO_RECIPIENT}\n      - kms:\n          - arn: {k1}\n",
            k0 = moto.keys[0],
            k1 = moto.keys[1]
        )
        .as_bytes(),
    );
    let env = aws_env(&moto.endpoint, true);
    let by_rsops = ok(
        &run(&s, rsops_bin(), &["encrypt", "plain.yaml"], &env, true),
        "rsops",
    );
    let by_sops = ok(
        &run(&s, &sops, &["encrypt", "plain.yaml"], &env, true),
        "sops",
    );
    assert_eq!(stable_metadata(&by_rsops), stable_metadata(&by_sops));
    s.write("by-rsops.yaml", &by_rsops);
    s.write("by-sops.yaml", &by_sops);
    // KMS down: with the age key (one group) neither tool has enough parts.
    let down = aws_env(&closed_port_url(), true);
    for file in ["by-rsops.yaml", "by-sops.yaml"] {
        for program in [rsops_bin(), sops.as_path()] {
            // Both KMS groups, no age key.
            let out = ok(
                &run(&s, program, &["decrypt", file], &env, false),
                "kms only",
            );
            assert_eq!(String::from_utf8_lossy(&out), PLAIN);
            // age alone is one group of the two needed.
            let out = run(&s, program, &["decrypt", file], &down, true);
            assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
        }
        // rsops: the age group and one KMS group.
        let order = ["decrypt", "--decryption-order", "age,kms", file];
        let out = ok(&run(&s, rsops_bin(), &order, &env, true), "age + kms");
        assert_eq!(String::from_utf8_lossy(&out), PLAIN);
    }
    let out = run(&s, rsops_bin(), &["decrypt", "by-sops.yaml"], &down, true);
    let msg = stderr(&out);
    assert!(
        msg.contains("Shamir threshold 2, 1 part(s) recovered"),
        "{msg}"
    );
    assert!(msg.contains("could not reach"), "{msg}");
}

#[test]
fn rotate_and_updatekeys_move_to_another_kms_key() {
    let Some((moto, sops)) = moto_and_sops() else {
        return;
    };
    let s = Scratch::new();
    let env = aws_env(&moto.endpoint, true);
    s.write("a.yaml", PLAIN.as_bytes());
    ok(
        &run(
            &s,
            rsops_bin(),
            &["encrypt", "-i", "--kms", &moto.keys[0], "a.yaml"],
            &env,
            false,
        ),
        "encrypt",
    );
    ok(
        &run(
            &s,
            rsops_bin(),
            &[
                "rotate",
                "-i",
                "--add-kms",
                &moto.keys[1],
                "--rm-kms",
                &moto.keys[0],
                "a.yaml",
            ],
            &env,
            false,
        ),
        "rotate",
    );
    let rotated = std::fs::read(s.path("a.yaml")).unwrap();
    assert_eq!(metadata_values(&rotated, "arn"), vec![moto.keys[1].clone()]);
    let out = ok(
        &run(&s, &sops, &["decrypt", "a.yaml"], &env, false),
        "sops decrypt",
    );
    assert_eq!(String::from_utf8_lossy(&out), PLAIN);

    // updatekeys: the rule now names the first key again.
    s.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: \\.yaml$\n    kms: {}\n",
            moto.keys[0]
        )
        .as_bytes(),
    );
    let out = run(
        &s,
        rsops_bin(),
        &["updatekeys", "-y", "a.yaml"],
        &env,
        false,
    );
    ok(&out, "updatekeys");
    let updated = std::fs::read(s.path("a.yaml")).unwrap();
    assert_eq!(metadata_values(&updated, "arn"), vec![moto.keys[0].clone()]);
    let out = ok(
        &run(&s, &sops, &["decrypt", "a.yaml"], &env, false),
        "sops decrypt",
    );
    assert_eq!(String::from_utf8_lossy(&out), PLAIN);
    // And sops's own updatekeys accepts what rsops wrote.
    s.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: \\.yaml$\n    kms: {}\n",
            moto.keys[1]
        )
        .as_bytes(),
    );
    ok(
        &run(&s, &sops, &["updatekeys", "-y", "a.yaml"], &env, false),
        "sops updatekeys",
    );
    let out = ok(
        &run(&s, rsops_bin(), &["decrypt", "a.yaml"], &env, false),
        "rsops decrypt",
    );
    assert_eq!(String::from_utf8_lossy(&out), PLAIN);
}

#[test]
fn many_files_decrypt_in_place_in_one_run() {
    let Some(moto) = moto() else {
        return;
    };
    let s = Scratch::new();
    let env = aws_env(&moto.endpoint, true);
    let names: Vec<String> = (0..24).map(|i| format!("f{i}.yaml")).collect();
    for (i, n) in names.iter().enumerate() {
        s.write(n, format!("i: {i}\nsecret: v{i}\n").as_bytes());
    }
    let mut args = vec!["encrypt", "-i", "--kms", moto.keys[0].as_str()];
    args.extend(names.iter().map(String::as_str));
    ok(&run(&s, rsops_bin(), &args, &env, false), "encrypt -i many");
    let encs: std::collections::HashSet<Vec<String>> = names
        .iter()
        .map(|n| metadata_values(&std::fs::read(s.path(n)).unwrap(), "enc"))
        .collect();
    assert_eq!(encs.len(), names.len(), "one data key per file");
    args[0] = "decrypt";
    args.truncate(2);
    args.extend(names.iter().map(String::as_str));
    ok(&run(&s, rsops_bin(), &args, &env, false), "decrypt -i many");
    for (i, n) in names.iter().enumerate() {
        assert_eq!(
            std::fs::read_to_string(s.path(n)).unwrap(),
            format!("i: {i}\nsecret: v{i}\n")
        );
    }
}

/// `http://127.0.0.1:PORT` where nothing listens.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A file encrypted to moto's first key, by rsops, plus the plaintext.
fn encrypted_file(s: &Scratch, moto: &Moto) {
    s.write("plain.yaml", PLAIN.as_bytes());
    let env = aws_env(&moto.endpoint, true);
    let enc = ok(
        &run(
            s,
            rsops_bin(),
            &["encrypt", "--kms", &moto.keys[0], "plain.yaml"],
            &env,
            false,
        ),
        "encrypt",
    );
    s.write("secret.yaml", &enc);
}

/// Runs both tools on `secret.yaml` (decrypt) and `plain.yaml` (encrypt)
/// with `env`; checks the exit codes are sops's, that rsops wrote nothing,
/// and returns rsops's decrypt and encrypt messages.
fn fail_like_sops(s: &Scratch, sops: &Path, arn: &str, env: &[(&str, String)]) -> (String, String) {
    let secret = std::fs::read(s.path("secret.yaml")).unwrap();
    let ours = run(
        s,
        rsops_bin(),
        &["decrypt", "-i", "secret.yaml"],
        env,
        false,
    );
    let theirs = run(s, sops, &["decrypt", "secret.yaml"], env, false);
    assert_eq!(theirs.status.code(), Some(128), "{}", stderr(&theirs));
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{}",
        stderr(&ours)
    );
    assert_eq!(std::fs::read(s.path("secret.yaml")).unwrap(), secret);
    let decrypt_msg = stderr(&ours);

    let ours = run(
        s,
        rsops_bin(),
        &["encrypt", "-i", "--kms", arn, "plain.yaml"],
        env,
        false,
    );
    let theirs = run(
        s,
        sops,
        &["encrypt", "--kms", arn, "plain.yaml"],
        env,
        false,
    );
    assert_ne!(theirs.status.code(), Some(0), "{}", stderr(&theirs));
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{}",
        stderr(&ours)
    );
    assert_eq!(
        std::fs::read_to_string(s.path("plain.yaml")).unwrap(),
        PLAIN
    );
    (decrypt_msg, stderr(&ours))
}

#[test]
fn server_down_and_unknown_key_fail_like_sops() {
    let Some((moto, sops)) = moto_and_sops() else {
        return;
    };
    let s = Scratch::new();
    encrypted_file(&s, &moto);
    let (dec, enc) = fail_like_sops(&s, &sops, &moto.keys[0], &aws_env(&closed_port_url(), true));
    for msg in [&dec, &enc] {
        assert!(
            msg.contains("could not reach http://127.0.0.1:") && msg.contains("attempt(s)"),
            "{msg}"
        );
        assert!(msg.contains(&moto.keys[0]), "{msg}");
    }
    assert!(
        enc.contains("Could not generate data key") || enc.contains("encrypt"),
        "{enc}"
    );

    // rotate cannot recover the data key: sops's code, file untouched.
    let down = aws_env(&closed_port_url(), true);
    let secret = std::fs::read(s.path("secret.yaml")).unwrap();
    let ours = run(
        &s,
        rsops_bin(),
        &["rotate", "-i", "secret.yaml"],
        &down,
        false,
    );
    let theirs = run(&s, &sops, &["rotate", "-i", "secret.yaml"], &down, false);
    assert_eq!(theirs.status.code(), Some(128), "{}", stderr(&theirs));
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{}",
        stderr(&ours)
    );
    assert_eq!(std::fs::read(s.path("secret.yaml")).unwrap(), secret);

    // A key moto does not have.
    let missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000";
    let env = aws_env(&moto.endpoint, true);
    // rotate adding it: the data key is recovered, the new key fails.
    let add = ["rotate", "-i", "--add-kms", missing, "secret.yaml"];
    let ours = run(&s, rsops_bin(), &add, &env, false);
    let theirs = run(&s, &sops, &add, &env, false);
    assert_eq!(theirs.status.code(), Some(1), "{}", stderr(&theirs));
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{}",
        stderr(&ours)
    );
    assert_eq!(std::fs::read(s.path("secret.yaml")).unwrap(), secret);
    let ours = run(
        &s,
        rsops_bin(),
        &["encrypt", "-i", "--kms", missing, "plain.yaml"],
        &env,
        false,
    );
    let theirs = run(
        &s,
        &sops,
        &["encrypt", "--kms", missing, "plain.yaml"],
        &env,
        false,
    );
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{}",
        stderr(&ours)
    );
    assert!(
        stderr(&ours).contains("key not found (NotFoundException"),
        "{}",
        stderr(&ours)
    );
    assert_eq!(
        std::fs::read_to_string(s.path("plain.yaml")).unwrap(),
        PLAIN
    );

    // An ARN sops refuses before any call.
    let ours = run(
        &s,
        rsops_bin(),
        &["encrypt", "--kms", "arn:aws:foo", "plain.yaml"],
        &env,
        false,
    );
    let theirs = run(
        &s,
        &sops,
        &["encrypt", "--kms", "arn:aws:foo", "plain.yaml"],
        &env,
        false,
    );
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{}",
        stderr(&ours)
    );
    assert!(
        stderr(&ours).contains("no valid ARN found in 'arn:aws:foo'"),
        "{}",
        stderr(&ours)
    );
}

/// Requests the faulty mock received.
fn requests(server: &TestServer) -> u32 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        stream,
        "GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let n = reply.rsplit("\"requests\": ").next().unwrap();
    n.trim_end_matches(['}', '\n', ' ']).parse().unwrap()
}

#[test]
fn denied_server_errors_and_throttling_fail_like_sops() {
    let Some((moto, sops)) = moto_and_sops() else {
        return;
    };
    let s = Scratch::new();
    encrypted_file(&s, &moto);
    for (mode, words, retried) in [
        (
            "denied",
            "access denied (AccessDeniedException: User:",
            false,
        ),
        (
            "error500",
            "server error after 3 attempt(s) (HTTP 500, KMSInternalException",
            true,
        ),
        (
            "throttle",
            "throttled by the service after 3 attempt(s) (ThrottlingException",
            true,
        ),
    ] {
        let server = TestServer::python("kms_faulty.py", &[mode]);
        let env = aws_env(&server.url(), true);
        let (dec, enc) = fail_like_sops(&s, &sops, &moto.keys[0], &env);
        for msg in [&dec, &enc] {
            assert!(msg.contains(words), "{mode}: {msg}");
        }
        assert!(
            dec.contains("failed to decrypt the data key with AWS KMS: "),
            "{dec}"
        );
        assert!(
            enc.contains("failed to encrypt the data key with AWS KMS: "),
            "{enc}"
        );
        // rsops decrypt + encrypt, sops decrypt + encrypt.
        let per_call = if retried { 3 } else { 1 };
        assert_eq!(requests(&server), 4 * per_call, "{mode}");
    }
}

#[test]
fn a_server_that_never_answers_is_given_up_on_in_bounded_time() {
    let Some(moto) = moto() else {
        return;
    };
    let s = Scratch::new();
    encrypted_file(&s, &moto);
    let server = TestServer::python("kms_faulty.py", &["slow"]);
    let mut env = aws_env(&server.url(), true);
    env.push(("RSOPS_AWS_TIMEOUT", "2".to_owned()));
    let before = std::fs::read(s.path("secret.yaml")).unwrap();
    let start = Instant::now();
    let out = run(
        &s,
        rsops_bin(),
        &["decrypt", "-i", "secret.yaml"],
        &env,
        false,
    );
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let msg = stderr(&out);
    assert!(
        msg.contains("no answer from http://127.0.0.1:") && msg.contains("within 2 s"),
        "{msg}"
    );
    assert_eq!(std::fs::read(s.path("secret.yaml")).unwrap(), before);
}

#[test]
fn web_identity_tokens_are_exchanged_through_sts() {
    let Some((moto, sops)) = moto_and_sops() else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    // EKS IRSA / CI OIDC: a token file and a role, no static credentials
    // (moto accepts any token; without the exchange there would be no
    // credentials at all).
    s.write("token", b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyc29wcyJ9.c2ln");
    let mut env = aws_env(&moto.endpoint, false);
    env.push((
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        s.path("token").to_string_lossy().into_owned(),
    ));
    env.push(("AWS_ROLE_ARN", moto.role.clone()));
    env.push(("AWS_ROLE_SESSION_NAME", "rsops-test".into()));
    // sops 3.11's web identity client reads only the STS-specific
    // endpoint variable.
    env.push(("AWS_ENDPOINT_URL_STS", moto.endpoint.clone()));
    let args = ["encrypt", "--kms", &moto.keys[0], "plain.yaml"];
    let by_rsops = ok(&run(&s, rsops_bin(), &args, &env, false), "rsops encrypt");
    s.write("by-rsops.yaml", &by_rsops);
    let by_sops = ok(&run(&s, &sops, &args, &env, false), "sops encrypt");
    assert_eq!(stable_metadata(&by_rsops), stable_metadata(&by_sops));
    s.write("by-sops.yaml", &by_sops);
    let out = ok(
        &run(&s, rsops_bin(), &["decrypt", "by-sops.yaml"], &env, false),
        "rsops decrypt",
    );
    assert_eq!(String::from_utf8_lossy(&out), PLAIN);
    let out = ok(
        &run(&s, &sops, &["decrypt", "by-rsops.yaml"], &env, false),
        "sops decrypt",
    );
    assert_eq!(String::from_utf8_lossy(&out), PLAIN);

    // The token file is missing: sops's exit code, and the error names the
    // web identity source.
    let mut missing = env.clone();
    missing.retain(|(k, _)| *k != "AWS_WEB_IDENTITY_TOKEN_FILE");
    missing.push((
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        s.path("no-such-token").to_string_lossy().into_owned(),
    ));
    let ours = run(
        &s,
        rsops_bin(),
        &["decrypt", "by-sops.yaml"],
        &missing,
        false,
    );
    let theirs = run(&s, &sops, &["decrypt", "by-sops.yaml"], &missing, false);
    assert_eq!(theirs.status.code(), Some(128), "{}", stderr(&theirs));
    assert_eq!(ours.status.code(), Some(128), "{}", stderr(&ours));
    let msg = stderr(&ours);
    assert!(msg.contains("web identity"), "{msg}");
    assert!(!msg.contains("eyJhbGci"), "{msg}");
}

/// A file whose only key is `arn` (the data key and values are fake: no key
/// is reached in these tests).
fn file_for(arn: &str) -> String {
    format!(
        "a: ENC[AES256_GCM,data:Vw==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:int]\n\
         sops:\n    kms:\n        - arn: {arn}\n          created_at: \"2026-12-07T03:05:40Z\"\n          enc: AAAA\n          aws_profile: \"\"\n\
         \x20   lastmodified: \"2026-12-07T03:05:40Z\"\n\
         \x20   mac: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n\
         \x20   unencrypted_suffix: _unencrypted\n    version: 3.11.0\n"
    )
}

#[test]
fn no_credentials_list_every_source_tried() {
    // An empty HOME, no AWS variable but IMDS off (so that the machine's
    // network cannot change the text): every source of the chain says why
    // it gave nothing, one line each.
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
    s.write("secret.yaml", file_for(arn).as_bytes());
    let env = vec![("AWS_EC2_METADATA_DISABLED", "true".to_owned())];
    let sources = "sources tried:\n    \
        - Environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY): environment variable not set\n    \
        - Profile (~/.aws/config, ~/.aws/credentials, AWS_PROFILE): not configured\n    \
        - WebIdentityToken (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN): $AWS_WEB_IDENTITY_TOKEN_FILE was not set\n    \
        - EcsContainer (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI): ECS provider not configured\n    \
        - Ec2InstanceMetadata (IMDS): IMDS disabled by AWS_EC2_METADATA_DISABLED env var set to `true`";

    let enc = ["encrypt", "-i", "--kms", arn, "plain.yaml"];
    let out = run(&s, rsops_bin(), &enc, &env, false);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "Could not generate data key: failed to encrypt new data key with master key \
             \"{arn}\": cannot encrypt with AWS KMS: no AWS credentials: {sources}"
        )
    );
    assert_eq!(
        std::fs::read_to_string(s.path("plain.yaml")).unwrap(),
        PLAIN
    );

    let out = run(&s, rsops_bin(), &["decrypt", "secret.yaml"], &env, false);
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "\n  {arn}: cannot decrypt with AWS KMS: no AWS credentials: {sources}\n"
        )),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());

    // sops's exit codes for the same command lines.
    if let Some(sops) = sops() {
        for (args, code) in [(&enc[..], 1), (&["decrypt", "secret.yaml"][..], 128)] {
            let theirs = run(&s, &sops, args, &env, false);
            assert_eq!(theirs.status.code(), Some(code), "{}", stderr(&theirs));
        }
    }
}

#[test]
fn sso_profiles_use_the_cached_token_at_the_portal() {
    let Some((moto, sops)) = moto_and_sops() else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let log = s.path("portal.log");
    let portal = TestServer::python(
        "sso_portal.py",
        &[
            "--token",
            "cached-sso-token",
            "--log",
            log.to_str().expect("utf-8 path"),
        ],
    );
    // What `aws sso login` leaves: an sso-session profile and the cached
    // token, named by the SHA-1 of the session name.
    aws_files(
        &s,
        "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\n\
         sso_role_name = Developer\nregion = us-east-1\n\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n",
        "",
    );
    std::fs::create_dir_all(s.path(".aws/sso/cache")).unwrap();
    // sha1("corp")
    let name = "ee0bfd2552fbd840c02cc48b6e823320543c450f";
    s.write(
        &format!(".aws/sso/cache/{name}.json"),
        br#"{"accessToken":"cached-sso-token","expiresAt":"2099-01-01T00:00:00Z","region":"us-east-1","startUrl":"https://corp.awsapps.com/start"}"#,
    );
    let env = vec![
        ("AWS_PROFILE", "dev".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_ENDPOINT_URL_KMS", moto.endpoint.clone()),
        ("AWS_ENDPOINT_URL_SSO", portal.url()),
    ];
    let args = ["encrypt", "--kms", &moto.keys[0], "plain.yaml"];
    let by_rsops = ok(&run(&s, rsops_bin(), &args, &env, false), "rsops encrypt");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap_or_default(),
        "Developer 123456789012\n"
    );
    s.write("by-rsops.yaml", &by_rsops);
    let out = ok(
        &run(&s, &sops, &["decrypt", "by-rsops.yaml"], &env, false),
        "sops decrypt with the same SSO profile",
    );
    assert_eq!(String::from_utf8_lossy(&out), PLAIN);

    // An expired cached token: no credentials, the profile says why.
    s.write(
        &format!(".aws/sso/cache/{name}.json"),
        br#"{"accessToken":"cached-sso-token","expiresAt":"2001-01-01T00:00:00Z","region":"us-east-1","startUrl":"https://corp.awsapps.com/start"}"#,
    );
    let out = run(&s, rsops_bin(), &["decrypt", "by-rsops.yaml"], &env, false);
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("cached-sso-token"),
        "{}",
        stderr(&out)
    );
}
