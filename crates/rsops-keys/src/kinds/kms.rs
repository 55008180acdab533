//! AWS KMS master keys: key ARNs (optionally with a role to assume), an
//! encryption context and an AWS profile.
//!
//! On the command line `--kms` / `SOPS_KMS_ARN` take `ARN[+ROLE_ARN]`,
//! comma-separated; `--encryption-context k1:v1,k2:v2` and `--aws-profile`
//! qualify them ([`KeyOptions`]). In metadata an entry is `arn`, `role`,
//! `context`, `created_at`, `enc`, `aws_profile`.

use std::convert::Infallible;
use std::fmt;

use crate::kind::{
    remove_spaces, split_non_empty_spec, CliSpec, ConfigSpec, FieldType, Fields, FlatField,
    FlatShape, GroupEntry, GroupField, GroupShape, KeyOptions, Kind, MetadataSpec,
};

#[cfg(feature = "aws")]
pub mod aws;

/// An AWS KMS key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KmsKey {
    /// Key ARN.
    pub arn: String,
    /// Role to assume (may be empty).
    pub role: String,
    /// Encryption context, sorted bytewise by key (a map: sops writes it
    /// in that order, and two keys with the same pairs are the same key).
    pub context: Vec<(String, String)>,
    /// AWS profile (may be empty).
    pub aws_profile: String,
}

impl Kind for KmsKey {
    const ID: &'static str = "kms";
    const CLI: CliSpec = CliSpec {
        flag: "kms",
        short: Some('k'),
        env: "SOPS_KMS_ARN",
        noun: "AWS KMS ARNs",
    };
    const CONFIG: ConfigSpec = ConfigSpec {
        flat: FlatField {
            name: "kms",
            shape: FlatShape::StringOrList { outer: "kms" },
        },
        group: GroupField {
            name: "kms",
            shape: GroupShape::Structs {
                go_type: "kmsKey",
                fields: &[
                    ("arn", FieldType::Str),
                    ("role", FieldType::Str),
                    ("context", FieldType::StrMap),
                    ("aws_profile", FieldType::Str),
                ],
            },
        },
    };
    const METADATA: MetadataSpec = MetadataSpec::IN_ORDER;
    type SpecError = Infallible;

    /// Each part is `<kms-arn>[+<role-arn>]` (spaces removed); every key
    /// gets the options' context and profile.
    fn parse_spec(spec: &str, options: &KeyOptions) -> Result<Vec<Self>, Infallible> {
        Ok(split_non_empty_spec(spec)
            .map(|part| {
                let spec = remove_spaces(part);
                let (arn, role) = match spec.find("+arn:") {
                    Some(i) if i > 0 => (spec[..i].to_owned(), spec[i + 1..].to_owned()),
                    _ => (spec, String::new()),
                };
                KmsKey {
                    arn,
                    role,
                    context: sorted(options.encryption_context.clone()),
                    aws_profile: options.aws_profile.clone(),
                }
            })
            .collect())
    }

    fn from_group_entry(entry: GroupEntry<'_>) -> Result<Vec<Self>, Infallible> {
        Ok(match entry {
            GroupEntry::Struct(f) => vec![KmsKey {
                arn: f.str("arn"),
                role: f.str("role"),
                context: sorted(f.map("context")),
                aws_profile: f.str("aws_profile"),
            }],
            GroupEntry::Str(s) => Self::parse_spec(s, &KeyOptions::default())?,
        })
    }

    /// `ARN[+ROLE][|k:v,…[|PROFILE]]`, the context sorted.
    fn key_string(&self) -> String {
        let mut s = self.arn.clone();
        if !self.role.is_empty() {
            s.push('+');
            s.push_str(&self.role);
        }
        let mut ctx: Vec<_> = self.context.iter().collect();
        ctx.sort();
        let ctx: Vec<String> = ctx.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        if !ctx.is_empty() || !self.aws_profile.is_empty() {
            s.push('|');
            s.push_str(&ctx.join(","));
        }
        if !self.aws_profile.is_empty() {
            s.push('|');
            s.push_str(&self.aws_profile);
        }
        s
    }

    fn from_metadata(entry: &Fields) -> Self {
        KmsKey {
            arn: entry.str("arn"),
            role: entry.str("role"),
            context: sorted(entry.map("context")),
            aws_profile: entry.str("aws_profile"),
        }
    }

    fn to_metadata(&self, enc: &str, created_at: &str) -> Fields {
        let mut f = Fields::new();
        f.push_str("arn", &self.arn);
        if !self.role.is_empty() {
            f.push_str("role", &self.role);
        }
        if !self.context.is_empty() {
            // sops writes the context as a Go map: keys sorted bytewise.
            f.push_map("context", sorted(self.context.clone()));
        }
        f.push_str("created_at", created_at);
        f.push_str("enc", enc);
        f.push_str("aws_profile", &self.aws_profile);
        f
    }
}

/// A context in sops's order: sorted bytewise by key.
fn sorted(mut context: Vec<(String, String)>) -> Vec<(String, String)> {
    context.sort();
    context
}

/// What was being done with an AWS KMS key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsOperation {
    /// Wrapping a data key (`kms:Encrypt`).
    Encrypt,
    /// Unwrapping a data key (`kms:Decrypt`).
    Decrypt,
}

impl fmt::Display for KmsOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KmsOperation::Encrypt => "encrypt",
            KmsOperation::Decrypt => "decrypt",
        })
    }
}

/// An AWS KMS key operation failed. Carries the key's ARN (public), the
/// operation and what the service or the network said; never credentials,
/// tokens or key material. The messages do not repeat the ARN: whoever
/// reports the error names the key (sops's data key report does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KmsError {
    /// This rsops was built without the `aws` feature.
    #[error("cannot {op} with AWS KMS key {arn}: rsops was built without AWS KMS support (cargo feature `aws`)")]
    NotBuilt {
        /// The key.
        arn: String,
        /// What was attempted.
        op: KmsOperation,
    },
    /// The ARN does not name a KMS key or alias (sops's wording).
    #[error("no valid ARN found in '{arn}'")]
    InvalidArn {
        /// The ARN as given.
        arn: String,
    },
    /// The file's `enc` for this key is not base64.
    #[error("error base64-decoding encrypted data key of AWS KMS key {arn}")]
    EncNotBase64 {
        /// The key.
        arn: String,
    },
    /// No credentials could be found for the key.
    #[error("cannot {op} with AWS KMS: no AWS credentials{}: {detail}", profile_note(.profile))]
    Credentials {
        /// The key.
        arn: String,
        /// What was attempted.
        op: KmsOperation,
        /// The key's `aws_profile` (empty: the default chain).
        profile: String,
        /// Each credential source tried and why it gave nothing.
        detail: String,
    },
    /// `sts:AssumeRole` for the key's role failed.
    #[error("cannot {op} with AWS KMS: failed to assume role '{role}': {reason}")]
    AssumeRole {
        /// The key.
        arn: String,
        /// What was attempted.
        op: KmsOperation,
        /// The role.
        role: String,
        /// Why.
        reason: KmsFailure,
    },
    /// The KMS call failed.
    #[error("failed to {op} the data key with AWS KMS: {reason}")]
    Call {
        /// The key.
        arn: String,
        /// What was attempted.
        op: KmsOperation,
        /// Why.
        reason: KmsFailure,
    },
    /// The async runtime could not be started.
    #[error("cannot {op} with AWS KMS: {reason}")]
    Runtime {
        /// The key.
        arn: String,
        /// What was attempted.
        op: KmsOperation,
        /// Why.
        reason: String,
    },
}

fn profile_note(profile: &str) -> String {
    if profile.is_empty() {
        String::new()
    } else {
        format!(" for profile '{profile}'")
    }
}

/// Why a call to AWS (KMS or STS) failed, in a few words, with the
/// service's error code and message where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KmsFailure {
    /// The credentials are not allowed to use the key or role.
    #[error("access denied ({code}: {message})")]
    AccessDenied {
        /// The service's error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The key (or alias) does not exist in that account and region.
    #[error("key not found ({code}: {message})")]
    NotFound {
        /// The service's error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The ciphertext was not made by this key with this encryption
    /// context (edited `enc` or `context`, or another key).
    #[error("the ciphertext does not match the key and encryption context ({code}{})", message_suffix(.message))]
    InvalidCiphertext {
        /// The service's error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The key exists but cannot be used (disabled, pending deletion,
    /// wrong key usage).
    #[error("the key cannot be used ({code}: {message})")]
    KeyUnusable {
        /// The service's error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The credentials were refused (invalid, expired).
    #[error("the credentials were refused ({code}: {message})")]
    BadCredentials {
        /// The service's error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The service kept throttling the requests.
    #[error("throttled by the service after {attempts} attempt(s) ({code}: {message})")]
    Throttled {
        /// Requests sent.
        attempts: u32,
        /// The service's error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The service kept failing with a server error.
    #[error("server error after {attempts} attempt(s) (HTTP {status}{})", code_suffix(.code, .message))]
    ServerError {
        /// Requests sent.
        attempts: u32,
        /// The HTTP status.
        status: u16,
        /// The service's error code (may be empty).
        code: String,
        /// The service's message (may be empty).
        message: String,
    },
    /// Any other error the service returned.
    #[error("the service refused the request (HTTP {status}{})", code_suffix(.code, .message))]
    Service {
        /// The HTTP status.
        status: u16,
        /// The service's error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// No connection could be made, or it broke.
    #[error("could not reach {endpoint} after {attempts} attempt(s): {detail}")]
    Unreachable {
        /// The endpoint URL, or a description when none was resolved.
        endpoint: String,
        /// Requests attempted.
        attempts: u32,
        /// The network error.
        detail: String,
    },
    /// The endpoint did not answer in time.
    #[error("no answer from {endpoint} within {seconds} s ({attempts} attempt(s))")]
    TimedOut {
        /// The endpoint URL, or a description when none was resolved.
        endpoint: String,
        /// Requests attempted.
        attempts: u32,
        /// The time limit that was hit.
        seconds: u64,
    },
    /// Anything else (a malformed response, a request that could not be
    /// built).
    #[error("{0}")]
    Other(String),
}

fn message_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

fn code_suffix(code: &str, message: &str) -> String {
    match (code.is_empty(), message.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(", {code}"),
        (true, false) => format!(": {message}"),
        (false, false) => format!(", {code}: {message}"),
    }
}

/// The encryption context given as `k1:v1,k2:v2`.
///
/// Every pair must split into exactly two parts at `:`; otherwise sops drops
/// the whole context (with a warning) and this returns `None`. An empty spec
/// is an empty context. A repeated key keeps its first position and its last
/// value, like the map sops builds.
pub fn parse_encryption_context(spec: &str) -> Option<Vec<(String, String)>> {
    let mut context: Vec<(String, String)> = Vec::new();
    if spec.is_empty() {
        return Some(context);
    }
    for pair in spec.split(',') {
        let mut parts = pair.split(':');
        let (Some(key), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        match context.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => context.push((key.to_owned(), value.to_owned())),
        }
    }
    Some(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kms_arns(spec: &str, context: &[(String, String)], profile: &str) -> Vec<KmsKey> {
        let options = KeyOptions {
            encryption_context: context.to_vec(),
            aws_profile: profile.to_owned(),
        };
        match KmsKey::parse_spec(spec, &options) {
            Ok(keys) => keys,
            Err(never) => match never {},
        }
    }

    #[test]
    fn kms_splits_role_and_applies_context_and_profile() {
        let ctx = vec![("app".to_owned(), "x".to_owned())];
        let keys = kms_arns(
            "arn:aws:kms:us-east-1:1:key/a+arn:aws:iam::1:role/r, arn:aws:kms:eu-west-1:1:alias/b",
            &ctx,
            "prof",
        );
        assert_eq!(
            keys,
            vec![
                KmsKey {
                    arn: "arn:aws:kms:us-east-1:1:key/a".into(),
                    role: "arn:aws:iam::1:role/r".into(),
                    context: ctx.clone(),
                    aws_profile: "prof".into(),
                },
                KmsKey {
                    arn: "arn:aws:kms:eu-west-1:1:alias/b".into(),
                    role: String::new(),
                    context: ctx.clone(),
                    aws_profile: "prof".into(),
                },
            ]
        );
        // A role in another partition is split too; a leading "+arn:" is not a role.
        let cn = kms_arns("arn:aws-cn:kms:r:1:key/a+arn:aws-cn:iam::1:role/r", &[], "");
        assert!(matches!(&cn[..], [KmsKey { role, .. }] if role == "arn:aws-cn:iam::1:role/r"));
        let lead = kms_arns("+arn:x", &[], "");
        assert!(
            matches!(&lead[..], [KmsKey { arn, role, .. }] if arn == "+arn:x" && role.is_empty())
        );
        assert!(kms_arns("", &ctx, "").is_empty());
    }

    #[test]
    fn key_string_sorts_the_context() {
        let key = KmsKey {
            arn: "arn:k".into(),
            role: "arn:r".into(),
            context: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
            aws_profile: "p".into(),
        };
        assert_eq!(key.key_string(), "arn:k+arn:r|a:1,b:2|p");
        let plain = KmsKey {
            context: Vec::new(),
            aws_profile: String::new(),
            ..key
        };
        assert_eq!(plain.key_string(), "arn:k+arn:r");
    }

    #[test]
    fn context_is_kept_and_written_sorted_bytewise() {
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        // What sops 3.11 wrote for `--encryption-context zeta:1,alpha:2,Mid:3`.
        let sops = vec![pair("Mid", "3"), pair("alpha", "2"), pair("zeta", "1")];
        let given = parse_encryption_context("zeta:1,alpha:2,Mid:3").unwrap();
        let keys = kms_arns("arn:aws:kms:us-east-1:1:key/a", &given, "");
        assert_eq!(keys[0].context, sops);
        let entry = keys[0].to_metadata("E", "T");
        assert_eq!(entry.map("context"), sops);
        let mut unsorted = Fields::new();
        unsorted.push_str("arn", "arn:aws:kms:us-east-1:1:key/a");
        unsorted.push_map("context", given);
        assert_eq!(KmsKey::from_metadata(&unsorted).context, sops);
    }

    #[test]
    fn encryption_context_pairs() {
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(
            parse_encryption_context("a:1,b:2,a:3"),
            Some(vec![pair("a", "3"), pair("b", "2")])
        );
        assert_eq!(parse_encryption_context(""), Some(vec![]));
        assert_eq!(parse_encryption_context("a:1:2"), None);
        assert_eq!(parse_encryption_context("a:1,b"), None);
        assert_eq!(parse_encryption_context("a:1,"), None);
        assert_eq!(
            parse_encryption_context(" a : 1"),
            Some(vec![pair(" a ", " 1")])
        );
    }
}
