//! Keyrings read from a GnuPG home directory and from key files.
//!
//! Public keys come from `pubring.kbx` (GnuPG ≥ 2.1, keybox format, read by
//! [`super::keybox`]) and the legacy `pubring.gpg` (a plain OpenPGP keyring;
//! a file by that name in keybox format is read as a keybox). Secret keys
//! come from the legacy `secring.gpg` and from key files configured
//! explicitly. GnuPG ≥ 2.1 keeps secret keys in gpg-agent's own protected
//! format (`private-keys-v1.d`), which is deliberately not read here: those
//! keys are used through `gpg` (see [`super::gpg_exec`]).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::{ValidErasedKeyAmalgamation, ValidKeyAmalgamationIter};
use openpgp::cert::CertParser;
use openpgp::packet::key::{PublicParts, SecretParts, UnspecifiedRole};
use openpgp::packet::Key;
use openpgp::parse::Parse;
use openpgp::policy::Policy;
use openpgp::types::{KeyFlags, RevocationStatus};
use openpgp::{Cert, KeyHandle};

use super::keybox;

/// How a key is named in `fp`: a fingerprint or long key ID, optionally with
/// GnuPG's `!` suffix ("exactly this (sub)key").
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeySpec {
    /// The key (primary or subkey) the spec names.
    pub handle: KeyHandle,
    /// `!` suffix: encrypt to this very key, not the certificate's best one.
    pub exact: bool,
}

impl KeySpec {
    /// Parses a 16-hex key ID or a 40/64-hex fingerprint (any case, optional
    /// `0x` prefix and `!` suffix). Anything else (an e-mail address, a
    /// short key ID) is `None`: only gpg can resolve it.
    pub fn parse(spec: &str) -> Option<KeySpec> {
        let (body, exact) = match spec.strip_suffix('!') {
            Some(body) => (body, true),
            None => (spec, false),
        };
        let body = body
            .strip_prefix("0x")
            .or_else(|| body.strip_prefix("0X"))
            .unwrap_or(body);
        let hex_ok = body.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex_ok || !matches!(body.len(), 16 | 40 | 64) {
            return None;
        }
        let handle = KeyHandle::from_str(body).ok()?;
        Some(KeySpec { handle, exact })
    }
}

/// An unencrypted secret key and the certificate it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct SecretCandidate {
    /// The certificate holding the key.
    pub cert: Cert,
    /// The secret (sub)key.
    pub key: Key<SecretParts, UnspecifiedRole>,
}

/// Certificates loaded from keyring files, plus what went wrong reading them
/// (for error messages; never key material).
#[derive(Debug, Default)]
pub(crate) struct Keyring {
    certs: Vec<Cert>,
    problems: Vec<String>,
}

impl Keyring {
    /// The public keyrings of a GnuPG home: `pubring.kbx`, then `pubring.gpg`.
    /// Missing files are not problems.
    pub fn load_public(home: &Path) -> Keyring {
        let mut ring = Keyring::default();
        ring.add_file(&home.join("pubring.kbx"), false);
        ring.add_file(&home.join("pubring.gpg"), false);
        ring
    }

    /// The secret keyrings: `<home>/secring.gpg` (if present) and the given
    /// key files (which must exist).
    pub fn load_secret(home: &Path, key_files: &[PathBuf]) -> Keyring {
        let mut ring = Keyring::default();
        ring.add_file(&home.join("secring.gpg"), false);
        for file in key_files {
            ring.add_file(file, true);
        }
        ring
    }

    /// Every certificate loaded.
    #[cfg(test)]
    pub fn certs(&self) -> &[Cert] {
        &self.certs
    }

    /// What could not be read (one short line each).
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Reads one keyring file into the ring: keybox or OpenPGP (binary or
    /// armored) keyring. A missing file is recorded only when `required`.
    fn add_file(&mut self, path: &Path, required: bool) {
        let data = match std::fs::read(path) {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return,
            Err(e) => {
                self.problems
                    .push(format!("cannot read {}: {e}", path.display()));
                return;
            }
        };
        if keybox::is_keybox(&data) {
            self.add_keybox(path, &data);
        } else {
            self.add_openpgp_keyring(path, &data);
        }
    }

    /// Adds the OpenPGP keyblocks of a keybox.
    fn add_keybox(&mut self, path: &Path, data: &[u8]) {
        let (blocks, error) = keybox::openpgp_keyblocks(data);
        for block in blocks {
            match Cert::from_bytes(block) {
                Ok(cert) => self.certs.push(cert),
                Err(_) => self.problems.push(format!(
                    "{}: skipped a keyblock that is not a valid OpenPGP key",
                    path.display()
                )),
            }
        }
        if let Some(e) = error {
            self.problems.push(format!("{}: {e}", path.display()));
        }
    }

    /// Adds the certificates of a plain OpenPGP keyring (binary or armored).
    fn add_openpgp_keyring(&mut self, path: &Path, data: &[u8]) {
        if data.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let parser = match CertParser::from_bytes(data) {
            Ok(parser) => parser,
            Err(_) => {
                self.problems
                    .push(format!("{}: not an OpenPGP keyring", path.display()));
                return;
            }
        };
        let mut skipped = 0usize;
        for cert in parser {
            match cert {
                Ok(cert) => self.certs.push(cert),
                Err(_) => skipped += 1,
            }
        }
        if skipped > 0 {
            self.problems.push(format!(
                "{}: skipped {skipped} unreadable key(s)",
                path.display()
            ));
        }
    }

    /// Certificates with a primary key or subkey matching `handle`.
    pub fn find<'a>(&'a self, handle: &'a KeyHandle) -> impl Iterator<Item = &'a Cert> + 'a {
        self.certs
            .iter()
            .filter(move |cert| cert.keys().any(|ka| ka.key().key_handle().aliases(handle)))
    }

    /// The key GnuPG would encrypt to for `spec`: in the first matching
    /// certificate that is valid under `policy` (not expired or revoked), the
    /// newest valid, unrevoked, unexpired subkey (or primary key) that is
    /// usable for transport or storage encryption and whose algorithm is
    /// supported; with `spec.exact`, exactly the named key if it qualifies.
    pub fn encryption_key<'a>(
        &'a self,
        spec: &'a KeySpec,
        policy: &'a dyn Policy,
    ) -> Option<ValidErasedKeyAmalgamation<'a, PublicParts>> {
        self.find(&spec.handle)
            .find_map(|cert| best_encryption_key(cert, spec, policy))
    }

    /// Unencrypted secret keys that can decrypt for one of `recipients`
    /// (`None` = a wildcard recipient: every unencrypted secret key).
    pub fn unencrypted_candidates(&self, recipients: &[Option<KeyHandle>]) -> Vec<SecretCandidate> {
        let mut out = Vec::new();
        for cert in &self.certs {
            for ka in cert.keys().unencrypted_secret() {
                let handle = ka.key().key_handle();
                let wanted = recipients.iter().any(|r| match r {
                    Some(r) => handle.aliases(r),
                    None => true,
                });
                if wanted {
                    out.push(SecretCandidate {
                        cert: cert.clone(),
                        key: ka.key().clone().role_into_unspecified(),
                    });
                }
            }
        }
        out
    }

    /// Whether a passphrase-protected secret key for one of `recipients` is
    /// present (it cannot be used without gpg-agent).
    pub fn has_encrypted_secret_for(&self, recipients: &[Option<KeyHandle>]) -> bool {
        self.certs.iter().any(|cert| {
            cert.keys().encrypted_secret().any(|ka| {
                let handle = ka.key().key_handle();
                recipients
                    .iter()
                    .any(|r| r.as_ref().is_some_and(|r| handle.aliases(r)))
            })
        })
    }
}

/// See [`Keyring::encryption_key`].
fn best_encryption_key<'a>(
    cert: &'a Cert,
    spec: &KeySpec,
    policy: &'a dyn Policy,
) -> Option<ValidErasedKeyAmalgamation<'a, PublicParts>> {
    let valid = cert.with_policy(policy, None).ok()?;
    if valid.alive().is_err() {
        return None;
    }
    if let RevocationStatus::Revoked(_) = valid.revocation_status() {
        return None;
    }
    let flags = KeyFlags::empty()
        .set_transport_encryption()
        .set_storage_encryption();
    let usable: ValidKeyAmalgamationIter<'a, PublicParts, UnspecifiedRole> = valid
        .keys()
        .supported()
        .alive()
        .revoked(false)
        .key_flags(flags);
    usable
        .filter(|ka| !spec.exact || ka.key().key_handle().aliases(&spec.handle))
        .max_by_key(|ka| ka.key().creation_time())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_spec_accepts_fingerprints_and_long_ids() {
        let fp = KeySpec::parse("E43F4C44E69FA1FBD74FA85A40B881A36B576BD1").map(|s| s.exact);
        assert_eq!(fp, Some(false));
        assert!(KeySpec::parse("e43f4c44e69fa1fbd74fa85a40b881a36b576bd1").is_some());
        assert!(KeySpec::parse("40B881A36B576BD1").is_some());
        assert!(KeySpec::parse("0x40B881A36B576BD1").is_some());
        let exact = KeySpec::parse("58F34CB77414B549!");
        assert_eq!(exact.map(|s| s.exact), Some(true));
    }

    #[test]
    fn key_spec_rejects_what_only_gpg_resolves() {
        assert!(KeySpec::parse("someone@example.com").is_none());
        assert!(KeySpec::parse("6B576BD1").is_none());
        assert!(KeySpec::parse("").is_none());
        assert!(KeySpec::parse("!").is_none());
        assert!(KeySpec::parse("ZZ3F4C44E69FA1FBD74FA85A40B881A36B576BD1").is_none());
        assert!(KeySpec::parse("é3F4C44E69FA1FBD74FA85A40B881A36B576BD").is_none());
    }

    #[test]
    fn missing_home_gives_an_empty_ring_without_problems() {
        let dir = tempfile::tempdir().map(|d| d.path().join("absent"));
        let Ok(home) = dir else { return };
        let ring = Keyring::load_public(&home);
        assert!(ring.certs().is_empty());
        assert!(ring.problems().is_empty());
    }

    #[test]
    fn garbage_keyring_is_a_problem_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("pubring.gpg"), b"\xff\xfe not a keyring").expect("write");
        let ring = Keyring::load_public(dir.path());
        assert!(ring.certs().is_empty());
        assert_eq!(ring.problems().len(), 1, "{:?}", ring.problems());
    }

    #[test]
    fn required_key_file_missing_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ring = Keyring::load_secret(dir.path(), &[dir.path().join("nope.asc")]);
        assert!(ring.certs().is_empty());
        assert!(ring.problems()[0].contains("nope.asc"));
    }
}
