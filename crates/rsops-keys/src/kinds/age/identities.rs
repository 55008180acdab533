//! Parsed age identities: X25519 secret keys, OpenSSH private keys and plugin
//! identities, and the parsers for identities text and SSH key files.
//!
//! Parsers never echo the text they reject: errors name a line number and the
//! kind of problem only, because the rejected text may be a secret key.

use std::io::BufReader;

use age::{plugin, pq, ssh, x25519};

use super::passphrase::EncryptedIdentity;
use crate::error::{IdentityParseError, IdentityProblem, SshKeyError, UnsupportedSshKey};

/// Prefix of an X25519 secret key (`AGE-SECRET-KEY-1…`).
const X25519_PREFIX: &str = "AGE-SECRET-KEY-1";
/// Prefix of a hybrid post-quantum secret key (`AGE-SECRET-KEY-PQ-1…`).
const PQ_PREFIX: &str = "AGE-SECRET-KEY-PQ-1";
/// Prefix of a plugin identity (`AGE-PLUGIN-NAME-1…`).
const PLUGIN_PREFIX: &str = "AGE-PLUGIN-";
/// How a binary age file begins.
const AGE_BINARY_MAGIC: &str = "age-encryption";
/// How an armored age file begins.
const AGE_ARMOR_MAGIC: &str = "-----BEGIN AGE";

/// Every identity usable for decryption, from all sources combined.
///
/// All members are `Send + Sync`, so a set can be cached in the backend and
/// shared by every decryption in the process.
#[derive(Default)]
pub(super) struct IdentitySet {
    /// Native X25519 identities.
    pub(super) x25519: Vec<x25519::Identity>,
    /// Native hybrid post-quantum identities (ML-KEM-768 + X25519).
    pub(super) pq: Vec<pq::Identity>,
    /// Unencrypted OpenSSH private keys (ed25519, RSA).
    pub(super) ssh: Vec<ssh::Identity>,
    /// Plugin identities; the plugin binary is run only when decrypting.
    pub(super) plugin: Vec<plugin::Identity>,
    /// Passphrase-protected identity files, decrypted on first use.
    pub(super) encrypted: Vec<EncryptedIdentity>,
}

/// Shows only how many identities of each kind there are (never a key).
impl std::fmt::Debug for IdentitySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentitySet")
            .field("x25519", &self.x25519.len())
            .field("pq", &self.pq.len())
            .field("ssh", &self.ssh.len())
            .field("plugin", &self.plugin.len())
            .field("encrypted", &self.encrypted.len())
            .finish()
    }
}

impl IdentitySet {
    /// The number of identities.
    pub(super) fn len(&self) -> usize {
        self.x25519.len()
            + self.pq.len()
            + self.ssh.len()
            + self.plugin.len()
            + self.encrypted.len()
    }

    /// Whether there is no identity at all.
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves every identity of `other` into `self`.
    pub(super) fn append(&mut self, mut other: IdentitySet) {
        self.x25519.append(&mut other.x25519);
        self.pq.append(&mut other.pq);
        self.ssh.append(&mut other.ssh);
        self.plugin.append(&mut other.plugin);
        self.encrypted.append(&mut other.encrypted);
    }

    /// The distinct plugin names of the plugin identities, in first-seen order.
    pub(super) fn plugin_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for identity in &self.plugin {
            let name = identity.plugin();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

/// Whether identities text is really a passphrase-encrypted age file.
pub(super) fn is_encrypted_identity_file(text: &str) -> bool {
    let start = text.trim_start();
    start.starts_with(AGE_BINARY_MAGIC) || start.starts_with(AGE_ARMOR_MAGIC)
}

/// Parses identities text: one or more whitespace-separated identities per
/// line; blank lines and lines starting with `#` are skipped.
///
/// The error is a reason without the location (the caller adds it) and never
/// contains the rejected text.
pub(super) fn parse_identities_text(text: &str) -> Result<IdentitySet, IdentityParseError> {
    let mut set = IdentitySet::default();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        for token in line.split_whitespace() {
            parse_identity(token, &mut set).map_err(|problem| IdentityParseError {
                line: index + 1,
                problem,
            })?;
        }
    }
    Ok(set)
}

/// Parses one identity string and adds it to `set`.
fn parse_identity(token: &str, set: &mut IdentitySet) -> Result<(), IdentityProblem> {
    if token.starts_with(PLUGIN_PREFIX) {
        let identity = token
            .parse::<plugin::Identity>()
            .map_err(IdentityProblem::MalformedPlugin)?;
        set.plugin.push(identity);
    } else if token.starts_with(PQ_PREFIX) {
        let identity = token
            .parse::<pq::Identity>()
            .map_err(IdentityProblem::MalformedSecretKey)?;
        set.pq.push(identity);
    } else if token.starts_with(X25519_PREFIX) {
        let identity = token
            .parse::<x25519::Identity>()
            .map_err(IdentityProblem::MalformedSecretKey)?;
        set.x25519.push(identity);
    } else {
        return Err(IdentityProblem::UnknownType);
    }
    Ok(())
}

/// Parses an OpenSSH (or PEM RSA) private key file's content.
///
/// Only unencrypted keys are usable: a passphrase-protected key is reported
/// as an error because rsops cannot ask for the passphrase yet.
pub(super) fn parse_ssh_private_key(
    content: &[u8],
    path: &str,
) -> Result<ssh::Identity, SshKeyError> {
    let identity = ssh::Identity::from_buffer(BufReader::new(content), Some(path.to_string()))
        .map_err(|source| SshKeyError::Malformed {
            path: path.to_string(),
            source,
        })?;
    match identity {
        ssh::Identity::Unencrypted(_) => Ok(identity),
        ssh::Identity::Encrypted(_) => Err(SshKeyError::Encrypted {
            path: path.to_string(),
        }),
        ssh::Identity::Unsupported(key) => Err(SshKeyError::Unsupported {
            path: path.to_string(),
            reason: unsupported_reason(&key),
        }),
    }
}

/// Why an SSH key is unsupported.
fn unsupported_reason(key: &ssh::UnsupportedKey) -> UnsupportedSshKey {
    match key {
        ssh::UnsupportedKey::EncryptedPem => UnsupportedSshKey::EncryptedPem,
        ssh::UnsupportedKey::EncryptedSsh(cipher) => UnsupportedSshKey::Cipher(cipher.clone()),
        ssh::UnsupportedKey::Hardware(key_type) => UnsupportedSshKey::Hardware(key_type.clone()),
        ssh::UnsupportedKey::Type(key_type) => UnsupportedSshKey::Type(key_type.clone()),
    }
}

#[cfg(test)]
#[allow(deprecated)] // X25519 test identities: still what sops uses most
pub(super) mod tests {
    use age::secrecy::ExposeSecret;

    use super::*;

    /// A test-only OpenSSH ed25519 private key without passphrase (made with
    /// `ssh-keygen -t ed25519 -N ''` for these tests; protects nothing).
    pub(crate) const TEST_SSH_ED25519_PRIVATE: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACA9DUt0qJLco1trnlAwmZLqIUA9Q72wOwwLNNtWmG1p9wAAAJjvRxQS70cU
EgAAAAtzc2gtZWQyNTUxOQAAACA9DUt0qJLco1trnlAwmZLqIUA9Q72wOwwLNNtWmG1p9w
AAAEAPU3Z523O8pjj/GanhTg52a4SWrQUn30MW43/cER66ET0NS3SoktyjW2ueUDCZkuoh
QD1DvbA7DAs021aYbWn3AAAAD3Jzb3BzLXRlc3Qtb25seQECAwQFBg==
-----END OPENSSH PRIVATE KEY-----
";
    /// The public key of [`TEST_SSH_ED25519_PRIVATE`], as an authorized-key line.
    pub(crate) const TEST_SSH_ED25519_PUBLIC: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID0NS3SoktyjW2ueUDCZkuohQD1DvbA7DAs021aYbWn3 rsops-test-only";
    /// A test-only ed25519 key protected by the passphrase `test-passphrase`.
    pub(crate) const TEST_SSH_ED25519_ENCRYPTED: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABBoMJaj65
/8JuLvIUrvk0b0AAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIFr0ioD/VurTybkY
KSJjJFrXiOUSGj7Y6AM76XF3WSwXAAAAoBipJ5XHIdMYTn7ohQMvQAW6CszB3Z4gKwybxw
52DdR6qD59+4Tf1ca6W+iJJMOGCRZPs6jlQSjv5HVftoGQ2aT97v+g2jmXGLNTQugqm/V5
NbfvpGRjmo5TO04ZbzE72B5Bk2UoLyVHCXhWkd9r/82Ux5tEbL01coa/lfzh87dsEYiwpH
Bsq5yRs4AysXoxpQrKtYNpn4oN/Y6Z3rApudU=
-----END OPENSSH PRIVATE KEY-----
";

    /// A freshly generated X25519 identity string.
    fn generated() -> String {
        x25519::Identity::generate()
            .to_string()
            .expose_secret()
            .to_string()
    }

    #[test]
    fn identities_text_skips_comments_and_blank_lines() {
        let text = format!(
            "# created: today\n\n   \n{}\n# public key: age1…\n{}\n",
            generated(),
            generated()
        );
        let set = parse_identities_text(&text).expect("valid identities");
        assert_eq!(set.x25519.len(), 2);
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn identities_text_allows_several_identities_per_line() {
        let text = format!(
            "{} {}\t{}\r\n{}",
            generated(),
            generated(),
            generated(),
            generated()
        );
        let set = parse_identities_text(&text).expect("valid identities");
        assert_eq!(set.x25519.len(), 4);
    }

    #[test]
    fn identities_text_empty_has_no_identity() {
        let set = parse_identities_text("# only a comment\n\n").expect("no error");
        assert!(set.is_empty());
    }

    #[test]
    fn invalid_line_is_an_error_without_the_secret() {
        let secret_like = "NOT-A-KEY-BUT-SECRET-1234567890";
        let text = format!("{}\n{secret_like}\n", generated());
        let err = parse_identities_text(&text).expect_err("invalid line");
        assert_eq!(
            err,
            IdentityParseError {
                line: 2,
                problem: IdentityProblem::UnknownType
            }
        );
        assert_eq!(err.to_string(), "line 2: unknown identity type");
        assert!(!format!("{err:?}").contains(secret_like));
    }

    #[test]
    fn malformed_x25519_key_is_an_error_without_the_secret() {
        let mut key = generated();
        let last = key.pop();
        key.push(if last == Some('Q') { 'P' } else { 'Q' });
        let err = parse_identities_text(&key).expect_err("bad checksum");
        assert!(
            matches!(err.problem, IdentityProblem::MalformedSecretKey(_)),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.starts_with("line 1: malformed secret key"), "{text}");
        assert!(!text.contains(&key));
    }

    #[test]
    fn malformed_post_quantum_identity_is_an_error_without_the_secret() {
        let err = parse_identities_text("AGE-SECRET-KEY-PQ-1XXXXXXXX").expect_err("pq");
        assert!(
            matches!(err.problem, IdentityProblem::MalformedSecretKey(_)),
            "{err:?}"
        );
        assert!(!err.to_string().contains("XXXXXXXX"));
    }

    #[test]
    fn classic_and_post_quantum_identities_share_a_file() {
        let pq = pq::Identity::generate().to_string();
        let text = format!(
            "# created: today\n{}\n# post-quantum\n{}\n",
            generated(),
            pq.expose_secret()
        );
        let set = parse_identities_text(&text).expect("both kinds");
        assert_eq!((set.x25519.len(), set.pq.len()), (1, 1));
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn plugin_identity_is_parsed() {
        // The default identity of a plugin named `rsopstest` (no key material).
        let identity = plugin::Identity::default_for_plugin("rsopstest")
            .expect("plugin name")
            .to_string();
        let set = parse_identities_text(&identity).expect("plugin identity");
        assert_eq!(set.plugin.len(), 1);
        assert_eq!(set.plugin_names(), vec!["rsopstest"]);
    }

    #[test]
    fn encrypted_identity_file_is_detected() {
        assert!(is_encrypted_identity_file(
            "age-encryption.org/v1\n-> scrypt"
        ));
        assert!(is_encrypted_identity_file(
            "\n-----BEGIN AGE ENCRYPTED FILE-----\n"
        ));
        assert!(!is_encrypted_identity_file("AGE-SECRET-KEY-1ABC"));
    }

    #[test]
    fn unencrypted_ssh_key_is_parsed() {
        let identity =
            parse_ssh_private_key(TEST_SSH_ED25519_PRIVATE.as_bytes(), "id").expect("valid key");
        assert!(matches!(identity, ssh::Identity::Unencrypted(_)));
    }

    #[test]
    fn encrypted_ssh_key_is_a_clear_error() {
        let err = parse_ssh_private_key(TEST_SSH_ED25519_ENCRYPTED.as_bytes(), "/k/id_ed25519")
            .err()
            .expect("encrypted key is refused");
        assert!(
            matches!(&err, SshKeyError::Encrypted { path } if path == "/k/id_ed25519"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the SSH private key \"/k/id_ed25519\" is protected by a passphrase, and rsops \
             cannot ask for it (no terminal prompt yet); use an unencrypted key or an age identity"
        );
    }

    #[test]
    fn garbage_ssh_key_is_an_error_without_content() {
        let err = parse_ssh_private_key(b"not a key at all, secret stuff\n", "k")
            .err()
            .expect("garbage is refused");
        assert!(matches!(err, SshKeyError::Malformed { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("malformed SSH identity in \"k\""),
            "{text}"
        );
        assert!(!text.contains("secret stuff"));
        assert!(!format!("{err:?}").contains("secret stuff"));
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(text in "\\PC{0,200}") {
            let _ = parse_identities_text(&text);
        }

        #[test]
        fn rejected_tokens_are_never_echoed(token in "[A-Z0-9-]{16,40}", line in 0usize..4) {
            let text = format!("{}{token}\n", "# c\n".repeat(line));
            if let Err(err) = parse_identities_text(&text) {
                proptest::prop_assert_eq!(err.line, line + 1);
                let err = err.to_string();
                proptest::prop_assert!(!err.contains(&token), "{}", err);
                let prefix = format!("line {}: ", line + 1);
                proptest::prop_assert!(err.starts_with(&prefix), "{}", err);
            }
        }
    }
}
