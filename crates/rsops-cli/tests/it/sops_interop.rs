//! Round trips against the real sops 3.11 in both directions: what sops
//! writes, rsops decrypts to the same bytes sops prints; what rsops writes,
//! sops decrypts to the same bytes.

use crate::common::{ok, sops, Scratch, DEMO_RECIPIENT};

const YAML: &str = "\
# app settings
db:
    user: admin
    password: s3cr3t-value
    port: 5432
    ratio: 0.25
    enabled: true
    hosts:
        - a.example
        - b.example
    empty: \"\"
    nothing: null
token_unencrypted: visible
list_of_maps:
    - name: x
      value: 1
when: 2024-01-02T03:04:05Z
";

const JSON: &str = r#"{
	"db": {
		"user": "admin",
		"password": "s3cr3t-value",
		"port": 5432,
		"ratio": 0.25,
		"flags": [true, false, null],
		"nested": {"deep": {"deeper": "x"}}
	},
	"escaped": "quote \" backslash \\ tab \t <tag> &amp; é 😀",
	"empty_obj": {},
	"empty_arr": []
}
"#;

const SECRET: &str = "\
apiVersion: v1
kind: Secret
metadata:
    name: db-credentials
    namespace: prod
type: Opaque
data:
    username: YWRtaW4=
    password: czNjcjN0
stringData:
    url: postgres://db:5432/app
";

const SECRET_RULES: &str = "creation_rules:\n  - path_regex: \\.(yaml|json)$\n    encrypted_regex: ^(data|stringData)$\n    age: age19wvakdmnj9dkq26ty7md4nnpm8t4z5xhcvs07k30ty4m6u8svsxqfqhudr\n";

/// Encrypts `name` with both tools and checks all four directions.
fn both_ways(s: &Scratch, sops_bin: &std::path::Path, name: &str, enc_args: &[&str]) {
    let mut args = vec!["encrypt"];
    args.extend_from_slice(enc_args);
    args.push(name);

    // sops encrypts, rsops decrypts to exactly what sops prints.
    let by_sops = ok(&s.sops(sops_bin, &args), "sops encrypt");
    let sops_file = format!("by-sops.{name}");
    s.write(&sops_file, &by_sops);
    let expected = ok(&s.sops(sops_bin, &["decrypt", &sops_file]), "sops decrypt");
    let ours = ok(&s.rsops(&["decrypt", &sops_file]), "rsops decrypt");
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&expected),
        "rsops decrypt of a sops file differs ({name})"
    );

    // rsops encrypts, sops decrypts to the same bytes.
    let by_rsops = ok(&s.rsops(&args), "rsops encrypt");
    let rsops_file = format!("by-rsops.{name}");
    s.write(&rsops_file, &by_rsops);
    let theirs = ok(
        &s.sops(sops_bin, &["decrypt", &rsops_file]),
        "sops decrypt of rsops output",
    );
    assert_eq!(
        String::from_utf8_lossy(&theirs),
        String::from_utf8_lossy(&expected),
        "sops decrypt of an rsops file differs ({name})"
    );
    let ours_again = ok(
        &s.rsops(&["decrypt", &rsops_file]),
        "rsops decrypt of rsops output",
    );
    assert_eq!(ours_again, expected);
}

#[test]
fn yaml_round_trips_both_ways() {
    let Some(sops_bin) = sops() else { return };
    let s = Scratch::new();
    s.write("config.yaml", YAML.as_bytes());
    both_ways(&s, &sops_bin, "config.yaml", &["--age", DEMO_RECIPIENT]);
}

#[test]
fn json_round_trips_both_ways() {
    let Some(sops_bin) = sops() else { return };
    let s = Scratch::new();
    s.write("config.json", JSON.as_bytes());
    both_ways(&s, &sops_bin, "config.json", &["--age", DEMO_RECIPIENT]);
}

#[test]
fn kubernetes_secret_under_encrypted_regex_round_trips_both_ways() {
    let Some(sops_bin) = sops() else { return };
    let s = Scratch::new();
    s.write(".sops.yaml", SECRET_RULES.as_bytes());
    s.write("secret.yaml", SECRET.as_bytes());
    both_ways(&s, &sops_bin, "secret.yaml", &[]);

    // Only data/stringData values are encrypted; metadata stays readable.
    let enc = String::from_utf8(ok(&s.rsops(&["encrypt", "secret.yaml"]), "encrypt")).unwrap();
    assert!(enc.contains("name: db-credentials"));
    assert!(enc.contains("kind: Secret"));
    assert!(!enc.contains("YWRtaW4="));
    assert!(!enc.contains("postgres://"));
    assert!(enc.contains("encrypted_regex: ^(data|stringData)$"));
}

#[test]
fn kubernetes_secret_as_json_on_stdin() {
    let Some(sops_bin) = sops() else { return };
    let s = Scratch::new();
    s.write(".sops.yaml", SECRET_RULES.as_bytes());
    let json = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"},"data":{"password":"czNjcjN0"}}"#;
    let out = s.run(
        std::path::Path::new(env!("CARGO_BIN_EXE_rsops")),
        &["encrypt", "--filename-override", "secret.json"],
        None,
        Some(json.as_bytes()),
    );
    let enc = ok(&out, "rsops encrypt from stdin");
    s.write("secret.enc.json", &enc);
    let plain = ok(
        &s.sops(&sops_bin, &["decrypt", "secret.enc.json"]),
        "sops decrypt",
    );
    let text = String::from_utf8(plain).unwrap();
    assert!(text.contains("\"password\": \"czNjcjN0\""), "{text}");
}

/// Inserts a (fake) AWS KMS entry before the age list of an rsops-written
/// YAML file's metadata; the metadata is not covered by the MAC.
fn with_kms_entry(enc: &str) -> String {
    enc.replacen(
        "sops:\n    age:",
        "sops:\n    kms:\n        - arn: arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000\n          created_at: \"2020-01-01T00:00:00Z\"\n          enc: AQICAHhfakefakefake\n          aws_profile: \"\"\n    age:",
        1,
    )
}

#[test]
fn entries_of_unsupported_key_types_survive_a_rewrite() {
    let Some(sops_bin) = sops() else { return };
    let s = Scratch::new();
    s.write("c.yaml", b"a: secret\nb: 2\n");
    let enc = String::from_utf8(ok(
        &s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "c.yaml"]),
        "encrypt",
    ))
    .unwrap();
    let with_kms = with_kms_entry(&enc);
    assert_ne!(with_kms, enc);
    s.write("k.yaml", with_kms.as_bytes());
    // Both tools still open it with the age key (age is tried first).
    let ours = ok(&s.rsops(&["decrypt", "k.yaml"]), "rsops decrypt");
    let theirs = ok(&s.sops(&sops_bin, &["decrypt", "k.yaml"]), "sops decrypt");
    assert_eq!(ours, theirs);
    // A rewrite keeps the KMS entry, field for field.
    ok(
        &s.rsops(&["set", "k.yaml", r#"["a"]"#, r#""changed""#]),
        "rsops set",
    );
    let after = std::fs::read_to_string(s.path("k.yaml")).unwrap();
    assert!(
        after.contains(
            "arn: arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000"
        ),
        "{after}"
    );
    assert!(after.contains("enc: AQICAHhfakefakefake"), "{after}");
    let theirs = ok(
        &s.sops(&sops_bin, &["decrypt", "k.yaml"]),
        "sops decrypt after set",
    );
    assert_eq!(String::from_utf8_lossy(&theirs), "a: changed\nb: 2\n");
}

#[test]
fn version_is_offline_and_names_the_sops_version() {
    let s = Scratch::new();
    let out = s.rsops(&["--version"]);
    let text = String::from_utf8(ok(&out, "--version")).unwrap();
    assert!(text.starts_with("sops 3.13.2 (rsops "), "{text}");
}
