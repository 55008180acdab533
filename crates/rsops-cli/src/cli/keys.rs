//! The key-type flags, generated from the key-kind registry: for every kind,
//! `--<flag>` (with its short form and environment variable), `--add-<flag>`,
//! `--rm-<flag>`, and the repeatable `groups add --<flag>`. Nothing else in
//! the binary spells a key-type flag out; the kinds' modules in rsops-keys
//! name them ([`rsops_keys::kind::CliSpec`]).
//!
//! Each group turns its flags into a list of [`KeySpec`]s, (key kind, spec
//! string) pairs in registry order; the settings turn those into master
//! keys.

use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches};
use rsops_keys::KeyKind;

/// One key-type flag's value: the key kind and what was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// The key kind.
    pub kind: KeyKind,
    /// The comma-separated list (or single key) as given.
    pub spec: String,
}

/// The value of one single-valued flag per kind, in registry order.
type PerKind = Vec<(KeyKind, Option<String>)>;

/// The clap id of a kind's flag with a prefix (`""`, `add-`, `rm-`).
fn flag_name(prefix: &str, kind: KeyKind) -> String {
    format!("{prefix}{}", kind.cli().flag)
}

/// The value name help shows for a flag (`ADD_AGE` for `--add-age`).
fn value_name(prefix: &str, kind: KeyKind) -> String {
    flag_name(prefix, kind).replace('-', "_").to_uppercase()
}

/// One optional string per kind, read from `matches`.
fn per_kind(matches: &ArgMatches, prefix: &str) -> PerKind {
    KeyKind::ALL
        .iter()
        .map(|&kind| {
            let value = matches.get_one::<String>(&flag_name(prefix, kind)).cloned();
            (kind, value)
        })
        .collect()
}

/// The lists that are set and not blank, in registry order.
fn non_blank(values: &PerKind) -> Vec<KeySpec> {
    values
        .iter()
        .filter_map(|(kind, value)| {
            let spec = value.as_deref().filter(|s| !s.trim().is_empty())?;
            Some(KeySpec {
                kind: *kind,
                spec: spec.to_owned(),
            })
        })
        .collect()
}

/// The key lists of a new file (encrypt, edit of a new file): `--age`,
/// `--pgp`, ... with their environment variables.
#[derive(Debug, Default, Clone)]
pub struct KeyFlags {
    /// What each kind's flag (or variable) gave.
    pub values: PerKind,
}

impl KeyFlags {
    /// The non-blank lists, in registry order.
    pub fn specs(&self) -> Vec<KeySpec> {
        non_blank(&self.values)
    }
}

impl Args for KeyFlags {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for &kind in KeyKind::ALL {
            let spec = kind.cli();
            let mut arg = Arg::new(flag_name("", kind))
                .long(spec.flag)
                .env(spec.env)
                .value_name(value_name("", kind))
                .action(ArgAction::Set)
                .value_parser(clap::value_parser!(String))
                .help(format!("{}, comma-separated.", capitalized(spec.noun)));
            if let Some(short) = spec.short {
                arg = arg.short(short);
            }
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for KeyFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(KeyFlags {
            values: per_kind(matches, ""),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// The `--add-*` / `--rm-*` flags (comma-separated lists), as sops has them.
#[derive(Debug, Default, Clone)]
pub struct KeyChangeFlags {
    /// `--add-<flag>` per kind.
    pub add: PerKind,
    /// `--rm-<flag>` per kind.
    pub remove: PerKind,
}

impl KeyChangeFlags {
    /// The non-blank `--add-*` lists, in registry order.
    pub fn adds(&self) -> Vec<KeySpec> {
        non_blank(&self.add)
    }

    /// The non-blank `--rm-*` lists, in registry order.
    pub fn removes(&self) -> Vec<KeySpec> {
        non_blank(&self.remove)
    }

    /// Whether any `--add-*`/`--rm-*` flag is non-empty.
    pub fn any(&self) -> bool {
        !self.adds().is_empty() || !self.removes().is_empty()
    }
}

impl Args for KeyChangeFlags {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for &kind in KeyKind::ALL {
            let spec = kind.cli();
            let noun = capitalized(spec.noun);
            cmd = cmd
                .arg(
                    Arg::new(flag_name("add-", kind))
                        .long(flag_name("add-", kind))
                        .value_name(value_name("add-", kind))
                        .action(ArgAction::Set)
                        .value_parser(clap::value_parser!(String))
                        .help(format!("{noun} to add to key group 0.")),
                )
                .arg(
                    Arg::new(flag_name("rm-", kind))
                        .long(flag_name("rm-", kind))
                        .value_name(value_name("rm-", kind))
                        .action(ArgAction::Set)
                        .value_parser(clap::value_parser!(String))
                        .help(format!("{noun} to remove from every key group.")),
                );
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for KeyChangeFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(KeyChangeFlags {
            add: per_kind(matches, "add-"),
            remove: per_kind(matches, "rm-"),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// The keys of a new key group (`groups add`): each flag repeatable, no
/// environment variables (as sops).
#[derive(Debug, Default, Clone)]
pub struct GroupKeyFlags {
    /// Every value of each kind's flag, in the order given.
    pub values: Vec<(KeyKind, Vec<String>)>,
}

impl GroupKeyFlags {
    /// Every value, kinds in registry order.
    pub fn specs(&self) -> Vec<KeySpec> {
        self.values
            .iter()
            .flat_map(|(kind, values)| {
                values.iter().map(move |spec| KeySpec {
                    kind: *kind,
                    spec: spec.clone(),
                })
            })
            .collect()
    }
}

impl Args for GroupKeyFlags {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for &kind in KeyKind::ALL {
            let spec = kind.cli();
            cmd = cmd.arg(
                Arg::new(flag_name("", kind))
                    .long(spec.flag)
                    .value_name(value_name("", kind))
                    .action(ArgAction::Append)
                    .value_parser(clap::value_parser!(String))
                    .help(format!(
                        "{} of the new group (repeatable).",
                        capitalized(spec.noun)
                    )),
            );
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for GroupKeyFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let values = KeyKind::ALL
            .iter()
            .map(|&kind| {
                let given = matches
                    .get_many::<String>(&flag_name("", kind))
                    .map(|v| v.cloned().collect())
                    .unwrap_or_default();
                (kind, given)
            })
            .collect();
        Ok(GroupKeyFlags { values })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// `noun` with its first letter in upper case (help texts start with one).
fn capitalized(noun: &str) -> String {
    let mut chars = noun.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    #[command(args_override_self = true)]
    struct Probe {
        #[command(flatten)]
        keys: KeyFlags,
        #[command(flatten)]
        changes: KeyChangeFlags,
    }

    #[derive(Debug, Parser)]
    struct GroupProbe {
        #[command(flatten)]
        keys: GroupKeyFlags,
    }

    #[test]
    fn every_kind_has_its_flags() {
        for &kind in KeyKind::ALL {
            let flag = kind.cli().flag;
            let probe = Probe::try_parse_from([
                "t".to_owned(),
                format!("--{flag}=x"),
                format!("--add-{flag}=y"),
                format!("--rm-{flag}=z"),
            ])
            .expect("flags parse");
            let expect = |spec: &str| {
                vec![KeySpec {
                    kind,
                    spec: spec.into(),
                }]
            };
            assert_eq!(probe.keys.specs(), expect("x"));
            assert_eq!(probe.changes.adds(), expect("y"));
            assert_eq!(probe.changes.removes(), expect("z"));
            assert!(probe.changes.any());
        }
    }

    #[test]
    fn short_flags_and_last_value_wins() {
        let probe = Probe::try_parse_from(["t", "-a", "first", "-a", "second", "-p", "FP"]);
        let probe = probe.expect("flags parse");
        let kinds: Vec<_> = probe
            .keys
            .specs()
            .into_iter()
            .map(|s| (s.kind.identifier(), s.spec))
            .collect();
        assert_eq!(
            kinds,
            [("age", "second".to_owned()), ("pgp", "FP".to_owned())]
        );
    }

    #[test]
    fn blank_lists_are_left_out_in_registry_order() {
        let probe = Probe::try_parse_from(["t", "--age", "age1x", "--pgp", "  ", "--kms", "arn"])
            .expect("flags parse");
        let kinds: Vec<&str> = probe
            .keys
            .specs()
            .iter()
            .map(|s| s.kind.identifier())
            .collect();
        assert_eq!(kinds, ["kms", "age"]);
        assert!(!probe.changes.any());
    }

    #[test]
    fn group_flags_repeat() {
        let probe = GroupProbe::try_parse_from(["t", "--age", "a1", "--age", "a2", "--pgp", "P"])
            .expect("flags parse");
        let specs: Vec<_> = probe
            .keys
            .specs()
            .into_iter()
            .map(|s| (s.kind.identifier(), s.spec))
            .collect();
        assert_eq!(
            specs,
            [
                ("age", "a1".to_owned()),
                ("age", "a2".to_owned()),
                ("pgp", "P".to_owned())
            ]
        );
    }
}
