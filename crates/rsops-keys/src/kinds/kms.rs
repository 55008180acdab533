//! AWS KMS master keys: key ARNs (optionally with a role to assume), an
//! encryption context and an AWS profile.
//!
//! On the command line `--kms` / `SOPS_KMS_ARN` take `ARN[+ROLE_ARN]`,
//! comma-separated; `--encryption-context k1:v1,k2:v2` and `--aws-profile`
//! qualify them ([`KeyOptions`]). In metadata an entry is `arn`, `role`,
//! `context`, `created_at`, `enc`, `aws_profile`.

use std::convert::Infallible;

use crate::kind::{
    remove_spaces, split_non_empty_spec, CliSpec, ConfigSpec, FieldType, Fields, FlatField,
    FlatShape, GroupEntry, GroupField, GroupShape, KeyOptions, Kind, MetadataSpec,
};

/// An AWS KMS key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKey {
    /// Key ARN.
    pub arn: String,
    /// Role to assume (may be empty).
    pub role: String,
    /// Encryption context, in file order.
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
                    context: options.encryption_context.clone(),
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
                context: f.map("context"),
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
            context: entry.map("context"),
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
            f.push_map("context", self.context.clone());
        }
        f.push_str("created_at", created_at);
        f.push_str("enc", enc);
        f.push_str("aws_profile", &self.aws_profile);
        f
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
