//! `rsops exec-env FILE... COMMAND`: run `/bin/sh -c COMMAND` with the
//! top-level values of the decrypted file(s) added to its environment (a
//! later file's value overrides an earlier one's).
//! Nothing is written to disk. The child's exit status is rsops's.
//!
//! Also holds what `exec-file` shares: the shell command, `--user`, the
//! child's environment, and turning the child's status into rsops's result.
//!
//! The child's environment is rsops's without rsops's own key variables
//! ([`KEY_VARIABLES`]: the age identities and where to find them), unless
//! `--keep-key-env` is given, plus the file's values (which win, also over
//! a key variable of the same name). sops passes its whole environment on;
//! rsops does not, because the command needs the file's values, not the
//! keys that decrypt every file.
//!
//! `--user` switches the whole process to the user once the file is
//! decrypted (as sops does): supplementary groups, group, then user, for
//! good; what follows runs with that user's privileges only.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};

use nix::unistd::User;
use rsops_core::env;
use rsops_format::{dotenv, Key, Map, MapItem, Value};

use super::open;
use crate::error::{CmdResult, Error};
use crate::settings::ExecEnvSettings;
use crate::signals::{self, Policy};

/// Runs `rsops exec-env`.
pub fn run(s: &ExecEnvSettings) -> CmdResult {
    let args = &s.exec;
    let (file, command) = (args.file.as_path(), args.command.as_str());
    if args.background {
        crate::warn("exec-env's --background option is deprecated and will be removed in a future version of sops");
        if s.same_process {
            return Err(Error::SameProcessBackground);
        }
    }
    let decrypted = open::decrypt(
        Some(file),
        &args.common,
        args.decryption_order.as_deref(),
        false,
    )?;
    let mut vars = env_vars(decrypted.file.docs.first())?;
    drop(decrypted);
    // Further files: a later file's value overrides an earlier one's.
    for more in &s.more_files {
        let d = open::decrypt(
            Some(more),
            &args.common,
            args.decryption_order.as_deref(),
            false,
        )?;
        for (k, v) in env_vars(d.file.docs.first())? {
            vars.retain(|(old, _)| *old != k);
            vars.push((k, v));
        }
    }
    let mut cmd = shell_command(command);
    if s.pristine {
        cmd.env_clear();
    } else {
        child_environment(&mut cmd, args.keep_key_env);
    }
    if let Some(user) = args.user.as_deref() {
        cmd.envs(become_user(user)?);
    }
    cmd.envs(vars);
    if s.same_process {
        return Err(Error::Shell(cmd.exec()));
    }
    if args.background {
        return cmd.spawn().map(drop).map_err(Error::Shell);
    }
    signals::install(Policy::Forward).map_err(Error::Signals)?;
    let status = signals::run_child(&mut cmd).map_err(Error::Shell)?;
    status_result(status)
}

/// `/bin/sh -c command`.
pub(crate) fn shell_command(command: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    cmd
}

/// rsops's result for the child's status: success, or the child's exit
/// code (255 when a signal ended it, as sops).
pub(crate) fn status_result(status: ExitStatus) -> CmdResult {
    if status.success() {
        return Ok(());
    }
    Err(Error::Child(status))
}

/// rsops's own variables that give access to keys: removed from a child's
/// environment unless `--keep-key-env`.
pub(crate) const KEY_VARIABLES: &[&str] = &[
    env::SOPS_AGE_KEY,
    env::SOPS_AGE_KEY_FILE,
    env::SOPS_AGE_KEY_CMD,
    env::SOPS_AGE_SSH_PRIVATE_KEY_FILE,
    env::SOPS_AGE_SSH_PRIVATE_KEY_CMD,
];

/// Removes [`KEY_VARIABLES`] from `cmd`'s environment unless `keep`.
pub(crate) fn child_environment(cmd: &mut Command, keep: bool) {
    if !keep {
        for var in KEY_VARIABLES {
            cmd.env_remove(var);
        }
    }
}

/// Switches this process to `user` for good (supplementary groups, group,
/// user) and returns the HOME/USER/LOGNAME the child gets. Running as that
/// user already, nothing changes.
pub(crate) fn become_user(user: &str) -> CmdResult<Vec<(OsString, OsString)>> {
    let found = User::from_name(user)
        .map_err(Error::UserLookup)?
        .ok_or_else(|| Error::UnknownUser(user.to_owned()))?;
    let fail = |e: nix::Error| Error::SwitchUser {
        user: user.to_owned(),
        source: e.into(),
    };
    if nix::unistd::geteuid() != found.uid || nix::unistd::getuid() != found.uid {
        let name =
            CString::new(found.name.as_bytes()).map_err(|_| Error::UnknownUser(user.to_owned()))?;
        nix::unistd::initgroups(&name, found.gid).map_err(fail)?;
        nix::unistd::setgid(found.gid).map_err(fail)?;
        nix::unistd::setuid(found.uid).map_err(fail)?;
        // A change of credentials resets the dumpable flag.
        crate::signals::harden();
    }
    Ok(vec![
        ("HOME".into(), found.dir.into_os_string()),
        ("USER".into(), found.name.clone().into()),
        ("LOGNAME".into(), found.name.into()),
    ])
}

/// The environment variables for the top-level values of `doc`: strings as
/// they are, other scalars in the dotenv/INI value format; nested values,
/// non-string keys and keys with `=` are refused.
pub(crate) fn env_vars(doc: Option<&Map>) -> CmdResult<Vec<(OsString, OsString)>> {
    let mut vars = Vec::new();
    let Some(doc) = doc else {
        return Ok(vars);
    };
    for item in &doc.items {
        let MapItem::Entry(e) = item else {
            continue;
        };
        let key = match &e.key {
            Key::Str(k) => k.clone(),
            Key::Other(v) => return Err(Error::EnvNonStringKey(v.type_name())),
        };
        if matches!(e.value, Value::Map(_) | Value::List(_)) {
            return Err(Error::EnvComplexValue(key));
        }
        if key.contains('=') {
            return Err(Error::EnvKeyWithEquals(key));
        }
        let value = env_value(&e.value)?;
        vars.push((OsString::from(key), OsString::from_vec(value)));
    }
    Ok(vars)
}

/// One value as an environment value.
fn env_value(value: &Value) -> CmdResult<Vec<u8>> {
    match value {
        Value::Str(s) => Ok(s.as_bytes().to_vec()),
        Value::Bytes(b) => Ok(b.clone()),
        Value::Null => Ok(b"<nil>".to_vec()),
        other => {
            // The dotenv writer formats scalars exactly as sops does; take
            // its output for a one-entry file `k=<value>\n`.
            let mut one = Map::new();
            one.push("k", other.clone());
            let line = dotenv::emit(&one).map_err(Error::EnvValue)?;
            Ok(line
                .strip_prefix(b"k=")
                .and_then(|l| l.strip_suffix(b"\n"))
                .unwrap_or_default()
                .to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(yaml: &str) -> Map {
        rsops_format::yaml::parse(yaml.as_bytes())
            .unwrap()
            .into_iter()
            .next()
            .unwrap()
    }

    fn pairs(yaml: &str) -> Vec<(String, String)> {
        env_vars(Some(&doc(yaml)))
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
            .collect()
    }

    #[test]
    fn scalars_use_the_dotenv_value_format() {
        let got = pairs(
            "# c\nA: 1.5\nB: two words\nT: 2024-01-02T03:04:05.5Z\nN: null\nBo: true\nI: 30\nF: 30.0\nM: \"l1\\nl2\"\n",
        );
        let want = [
            ("A", "1.5"),
            ("B", "two words"),
            ("T", "2024-01-02T03:04:05Z"),
            ("N", "<nil>"),
            ("Bo", "true"),
            ("I", "30"),
            ("F", "30.0"),
            ("M", "l1\nl2"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn nested_values_and_bad_keys_are_refused() {
        let e = env_vars(Some(&doc("A: 1\nC: [1]\n"))).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::code::GENERIC);
        assert_eq!(
            e.to_string(),
            "cannot use complex value in environment; offending key C"
        );
        let e = env_vars(Some(&doc("D:\n  x: secret\n"))).unwrap_err();
        assert!(!e.to_string().contains("secret"));
        let e = env_vars(Some(&doc("\"a=b\": 1\n"))).unwrap_err();
        assert!(e.to_string().contains("'='"));
        let e = env_vars(Some(&doc("1: x\n"))).unwrap_err();
        assert!(e.to_string().contains("non-string"));
    }

    #[test]
    fn statuses_pass_through() {
        use std::os::unix::process::ExitStatusExt;
        assert!(status_result(ExitStatus::from_raw(0)).is_ok());
        let e = status_result(ExitStatus::from_raw(7 << 8)).unwrap_err();
        assert_eq!(
            (e.exit_code(), e.to_string().as_str()),
            (7, "exit status 7")
        );
        let e = status_result(ExitStatus::from_raw(9)).unwrap_err();
        assert_eq!(
            (e.exit_code(), e.to_string().as_str()),
            (255, "signal: killed")
        );
    }
}
