//! The OpenPGP key kind: fingerprints, their flags, `.sops.yaml` fields and
//! metadata entry (`created_at`, `enc`, `fp`).

use std::convert::Infallible;

use crate::kind::{
    remove_spaces, split_non_empty_spec, CliSpec, ConfigSpec, Fields, FlatField, FlatShape,
    GroupEntry, GroupField, GroupShape, KeyOptions, Kind, MetadataSpec,
};

/// An OpenPGP key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgpKey {
    /// The fingerprint (or long key ID) as given, spaces removed.
    pub fingerprint: String,
}

impl Kind for PgpKey {
    const ID: &'static str = "pgp";
    const CLI: CliSpec = CliSpec {
        flag: "pgp",
        short: Some('p'),
        env: "SOPS_PGP_FP",
        noun: "OpenPGP fingerprints",
    };
    const CONFIG: ConfigSpec = ConfigSpec {
        flat: FlatField {
            name: "pgp",
            shape: FlatShape::StringOrList { outer: "pgp" },
        },
        group: GroupField {
            name: "pgp",
            shape: GroupShape::Strings,
        },
    };
    const METADATA: MetadataSpec = MetadataSpec {
        flat_after_mac: true,
        group_first: true,
        group_always: false,
        read_last: false,
    };
    type SpecError = Infallible;

    /// Every part is a fingerprint; all spaces are removed.
    fn parse_spec(spec: &str, _options: &KeyOptions) -> Result<Vec<Self>, Infallible> {
        Ok(split_non_empty_spec(spec)
            .map(|part| PgpKey {
                fingerprint: remove_spaces(part),
            })
            .collect())
    }

    /// A key-group element is one fingerprint (not split at commas).
    fn from_group_entry(entry: GroupEntry<'_>) -> Result<Vec<Self>, Infallible> {
        Ok(match entry {
            GroupEntry::Str(fp) => vec![PgpKey {
                fingerprint: remove_spaces(fp),
            }],
            GroupEntry::Struct(_) => Vec::new(),
        })
    }

    fn key_string(&self) -> String {
        self.fingerprint.clone()
    }

    fn from_metadata(entry: &Fields) -> Self {
        PgpKey {
            fingerprint: entry.str("fp"),
        }
    }

    fn to_metadata(&self, enc: &str, created_at: &str) -> Fields {
        let mut f = Fields::new();
        f.push_str("created_at", created_at);
        f.push_str("enc", enc);
        f.push_str("fp", &self.fingerprint);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgp_removes_all_spaces() {
        let keys = PgpKey::parse_spec("85D7 7543 B3D6, abc ,", &KeyOptions::default());
        let fp = |s: &str| PgpKey {
            fingerprint: s.into(),
        };
        assert_eq!(keys, Ok(vec![fp("85D77543B3D6"), fp("abc"), fp("")]));
        assert_eq!(PgpKey::parse_spec("", &KeyOptions::default()), Ok(vec![]));
        assert_eq!(
            PgpKey::from_group_entry(GroupEntry::Str("AB CD,EF")),
            Ok(vec![fp("ABCD,EF")])
        );
    }
}
