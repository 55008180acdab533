//! HuaweiCloud KMS keys against a local mock that verifies SDK-HMAC-SHA256
//! signatures (`tests/servers/hckms.py`), checked against the real sops
//! 3.11; and key groups mixing Vault, HuaweiCloud and age keys with Shamir.

use std::time::{Duration, Instant};

use crate::common::{ok, sops, Scratch};
use crate::kms_vault::{
    check_failure, code, cross_check, metadata_shape, rsops_bin, run, stderr, uri, vault, PLAIN,
    TOKEN,
};
use crate::servers::{python_has, TestServer};

const AK: &str = "TESTAK";
const SK: &str = "test-secret-key";
const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const KEY_UUID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

fn hckms(args: &[&str]) -> Option<TestServer> {
    python_has("http.server").then(|| TestServer::python("hckms.py", args))
}

fn key_id() -> String {
    format!("tr-west-1:{KEY_UUID}")
}

/// The SDK variables pointing region tr-west-1 at `server`.
fn sdk_env(server: &TestServer) -> Vec<(&'static str, String)> {
    vec![
        ("HUAWEICLOUD_SDK_REGION_KMS_TR_WEST_1", server.url()),
        ("HUAWEICLOUD_SDK_AK", AK.into()),
        ("HUAWEICLOUD_SDK_SK", SK.into()),
        ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT.into()),
    ]
}

fn refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn hckms_files_interoperate_and_metadata_matches_sops() {
    let Some(sops_bin) = sops() else { return };
    let Some(server) = hckms(&[]) else { return };
    let s = Scratch::new();
    let env = sdk_env(&server);
    let id = key_id();
    let (_, by_rsops) = cross_check(&s, &sops_bin, &["--hckms", &id], &refs(&env));
    let text = String::from_utf8_lossy(&by_rsops);
    assert!(text.contains(&format!("key_id: {id}")), "{text}");

    // From SOPS_HUAWEICLOUD_KMS_IDS and from a key group in .sops.yaml.
    let mut with_ids = env.clone();
    with_ids.push((
        "SOPS_HUAWEICLOUD_KMS_IDS",
        format!("{id}, tr-west-1:other-key"),
    ));
    let (_, by_rsops) = cross_check(&s, &sops_bin, &[], &refs(&with_ids));
    assert_eq!(
        String::from_utf8_lossy(&by_rsops)
            .matches("key_id:")
            .count(),
        2
    );
    s.write(
        ".sops.yaml",
        format!("creation_rules:\n  - key_groups:\n      - hckms:\n          - key_id: {id}\n")
            .as_bytes(),
    );
    cross_check(&s, &sops_bin, &[], &refs(&env));
}

#[test]
fn hckms_credentials_from_the_profile_file_and_temporary_tokens() {
    let Some(sops_bin) = sops() else { return };
    let Some(server) = hckms(&["--token", "temp-token"]) else {
        return;
    };
    let s = Scratch::new();
    let endpoint = server.url();
    // Temporary credentials: the security token is sent (and signed).
    let mut env = sdk_env(&server);
    env.push(("HUAWEICLOUD_SDK_SECURITY_TOKEN", "temp-token".into()));
    cross_check(&s, &sops_bin, &["--hckms", &key_id()], &refs(&env));

    // ~/.huaweicloud/credentials, [basic] section.
    std::fs::create_dir_all(s.path(".huaweicloud")).unwrap();
    s.write(
        ".huaweicloud/credentials",
        format!(
            "[basic]\nak = {AK}\nsk = {SK}\nproject_id = {PROJECT}\nsecurity_token = temp-token\n"
        )
        .as_bytes(),
    );
    let (by_sops, _) = cross_check(
        &s,
        &sops_bin,
        &["--hckms", &key_id()],
        &[("HUAWEICLOUD_SDK_REGION_KMS_TR_WEST_1", &endpoint)],
    );

    // A wrong secret key: the signature does not verify.
    let mut bad = sdk_env(&server);
    bad[2].1 = "not-the-secret".into();
    let (enc, dec) = check_failure(
        &s,
        &sops_bin,
        &["--hckms", &key_id()],
        &by_sops,
        &refs(&bad),
        Duration::from_secs(20),
    );
    assert!(enc.contains("HTTP 401: APIGW.0301"), "{enc}");
    assert!(dec.contains("signature mismatch"), "{dec}");
    assert!(dec.contains("HUAWEICLOUD_SDK_AK"), "{dec}");
    for text in [&enc, &dec] {
        assert!(
            !text.contains("not-the-secret") && !text.contains("temp-token"),
            "{text}"
        );
    }
}

#[test]
fn hckms_failures_match_sops_exit_codes_and_write_nothing() {
    let Some(sops_bin) = sops() else { return };
    let Some(good) = hckms(&[]) else { return };
    let s = Scratch::new();
    let env = sdk_env(&good);
    let id = key_id();
    let (by_sops, _) = cross_check(&s, &sops_bin, &["--hckms", &id], &refs(&env));
    let bound = Duration::from_secs(20);

    // The wrong key: the ciphertext belongs to another key.
    let text =
        String::from_utf8_lossy(&by_sops).replace(KEY_UUID, "ffffffff-0000-0000-0000-000000000000");
    s.write("wrong-key.yaml", text.as_bytes());
    for (program, name) in [(sops_bin.as_path(), "sops"), (rsops_bin(), "rsops")] {
        let out = run(&s, program, &["decrypt", "wrong-key.yaml"], &refs(&env));
        assert_eq!(code(&out), Some(128), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("KMS.0210"),
            "{name}: {}",
            stderr(&out)
        );
    }

    // 403 and 500 for every request.
    for status in ["403", "500"] {
        let failing = hckms(&["--status", status]).expect("python");
        let (enc, dec) = check_failure(
            &s,
            &sops_bin,
            &["--hckms", &id],
            &by_sops,
            &refs(&sdk_env(&failing)),
            bound,
        );
        assert!(
            enc.contains(&format!("HTTP {status}: KMS.0001: mock failure")),
            "{enc}"
        );
        assert!(dec.contains(&failing.url()), "{dec}");
    }

    // Nobody listening.
    let gone = hckms(&[]).expect("python");
    let gone_env = sdk_env(&gone);
    drop(gone);
    let (enc, _) = check_failure(
        &s,
        &sops_bin,
        &["--hckms", &id],
        &by_sops,
        &refs(&gone_env),
        bound,
    );
    assert!(enc.to_lowercase().contains("connect"), "{enc}");

    // No credentials at all.
    let out = run(
        &s,
        rsops_bin(),
        &["encrypt", "--hckms", &id, "plain.yaml"],
        &[("HUAWEICLOUD_SDK_REGION_KMS_TR_WEST_1", &good.url())],
    );
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("failed to get HuaweiCloud credentials"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn hckms_slow_server_is_bounded() {
    // sops's HuaweiCloud client waits far longer; rsops gives up after its
    // request timeout (30 s).
    let Some(slow) = hckms(&["--delay", "60"]) else {
        return;
    };
    let s = Scratch::new();
    s.write("plain.yaml", PLAIN.as_bytes());
    let started = Instant::now();
    let out = run(
        &s,
        rsops_bin(),
        &["encrypt", "--hckms", &key_id(), "plain.yaml"],
        &refs(&sdk_env(&slow)),
    );
    let took = started.elapsed();
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(took < Duration::from_secs(45), "took {took:?}");
    assert!(
        stderr(&out).contains("no answer within 30 s"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn key_groups_mixing_vault_hckms_and_age_decrypt_with_any_two() {
    let Some(sops_bin) = sops() else { return };
    let (Some(vault_server), Some(kms)) = (vault(&[]), hckms(&[])) else {
        return;
    };
    let keys = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/sops/keys/age-1.txt"
    );
    let identity = std::fs::read_to_string(keys).expect("age-1.txt");
    let recipient = identity
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key")
        .trim()
        .to_owned();
    let s = Scratch::new();
    s.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - hc_vault: [{}]\n      - age: [{recipient}]\n      - hckms:\n          - key_id: {}\n",
            uri(&vault_server, "k"),
            key_id()
        )
        .as_bytes(),
    );
    let mut all = sdk_env(&kms);
    all.push(("VAULT_TOKEN", TOKEN.into()));
    all.push(("SOPS_AGE_KEY_FILE", keys.into()));
    let (by_sops, by_rsops) = cross_check(&s, &sops_bin, &[], &refs(&all));
    let text = String::from_utf8_lossy(&by_rsops);
    assert!(text.contains("shamir_threshold: 2"), "{text}");
    assert_eq!(metadata_shape(&by_rsops), metadata_shape(&by_sops));

    // Take one group away at a time: any two decrypt, in both tools.
    let without = |what: &str| -> Vec<(&'static str, String)> {
        let mut env = all.clone();
        match what {
            "vault" => env.iter_mut().for_each(|(k, v)| {
                if *k == "VAULT_TOKEN" {
                    *v = "wrong".into();
                }
            }),
            "age" => env.retain(|(k, _)| *k != "SOPS_AGE_KEY_FILE"),
            _ => env.iter_mut().for_each(|(k, v)| {
                if *k == "HUAWEICLOUD_SDK_SK" {
                    *v = "wrong".into();
                }
            }),
        }
        env
    };
    for missing in ["vault", "age", "hckms"] {
        let env = without(missing);
        for (file, made) in [(&by_sops, "sops"), (&by_rsops, "rsops")] {
            s.write("f.yaml", file);
            for (program, name) in [(sops_bin.as_path(), "sops"), (rsops_bin(), "rsops")] {
                let out = run(&s, program, &["decrypt", "f.yaml"], &refs(&env));
                assert_eq!(
                    String::from_utf8_lossy(&ok(
                        &out,
                        &format!("{name}, {made}'s file, without {missing}")
                    )),
                    PLAIN
                );
            }
        }
    }
    // Only one group left: both refuse with 128.
    let mut one = without("vault");
    one.retain(|(k, _)| *k != "SOPS_AGE_KEY_FILE");
    s.write("f.yaml", &by_rsops);
    for (program, name) in [(sops_bin.as_path(), "sops"), (rsops_bin(), "rsops")] {
        let out = run(&s, program, &["decrypt", "f.yaml"], &refs(&one));
        assert_eq!(code(&out), Some(128), "{name}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}
