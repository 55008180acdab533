//! Where age identities come from: the SSH key files, the
//! `SOPS_AGE_KEY*` variables, the key command and the default keys file.
//!
//! Loading never fails as a whole: every source is consulted, its identities
//! are combined, and what went wrong (or was absent) is recorded for the
//! error message shown when decryption is impossible, as sops does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use zeroize::Zeroizing;

use super::identities::{
    is_encrypted_identity_file, parse_identities_text, parse_ssh_private_key, IdentitySet,
};
use super::passphrase::EncryptedIdentity;
use crate::env;
use crate::error::{ConfigDirError, IdentitySourceError, IdentitySources};

/// The environment variables the age backend reads.
const AGE_VARIABLES: [&str; 7] = [
    env::SOPS_AGE_SSH_PRIVATE_KEY_FILE,
    env::SOPS_AGE_SSH_PRIVATE_KEY_CMD,
    env::SOPS_AGE_KEY,
    env::SOPS_AGE_KEY_FILE,
    env::SOPS_AGE_KEY_CMD,
    env::XDG_CONFIG_HOME,
    env::APPDATA,
];

/// The default keys file, relative to the user configuration directory.
const DEFAULT_KEYS_FILE: [&str; 3] = ["sops", "age", "keys.txt"];

/// A snapshot of the environment the identity sources are read from.
///
/// Values are zeroized on drop (`SOPS_AGE_KEY` holds secret keys).
pub(super) struct EnvSnapshot {
    vars: HashMap<String, Zeroizing<String>>,
    home: Option<PathBuf>,
}

impl EnvSnapshot {
    /// A snapshot of the given variables and home directory.
    pub(super) fn new(vars: HashMap<String, String>, home: Option<PathBuf>) -> Self {
        let vars = vars
            .into_iter()
            .map(|(name, value)| (name, Zeroizing::new(value)))
            .collect();
        EnvSnapshot { vars, home }
    }

    /// A snapshot of the process environment (only the variables used here).
    ///
    /// Variables whose value is not valid Unicode are treated as unset.
    pub(super) fn from_process() -> Self {
        let vars = AGE_VARIABLES
            .iter()
            .filter_map(|name| {
                std::env::var(name)
                    .ok()
                    .map(|value| ((*name).to_string(), Zeroizing::new(value)))
            })
            .collect();
        EnvSnapshot {
            vars,
            home: process_home(),
        }
    }

    /// The value of a variable, if set (possibly empty).
    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|value| value.as_str())
    }

    /// Whether identities depend on the recipient being decrypted: a key
    /// command runs with `SOPS_AGE_RECIPIENT` set to it, so its output
    /// may differ from one recipient to the next.
    pub(super) fn runs_commands(&self) -> bool {
        self.get(env::SOPS_AGE_KEY_CMD).is_some()
            || self.get(env::SOPS_AGE_SSH_PRIVATE_KEY_CMD).is_some()
    }
}

/// The user's home directory, as Go's `os.UserHomeDir` finds it.
#[cfg(unix)]
fn process_home() -> Option<PathBuf> {
    std::env::var_os(env::HOME)
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
}

/// The user's home directory, as Go's `os.UserHomeDir` finds it.
#[cfg(not(unix))]
fn process_home() -> Option<PathBuf> {
    std::env::home_dir()
}

/// The identities found in every source, with what was absent or failed.
pub(super) struct LoadedIdentities {
    /// All identities, combined.
    pub(super) identities: IdentitySet,
    /// Sources that had no identity and problems met while loading (never
    /// containing key material); shared by the errors that report them.
    pub(super) sources: Arc<IdentitySources>,
}

/// The state of a load in progress.
struct Loader {
    identities: IdentitySet,
    sources: IdentitySources,
}

/// Identities text read from one source, zeroized on drop.
struct TextSource {
    location: String,
    /// The source as the report names it (a variable's file included).
    label: String,
    content: Zeroizing<Vec<u8>>,
}

/// Loads identities from every source, in sops's order. `recipient` is the
/// recipient being decrypted, given to the key commands as
/// `SOPS_AGE_RECIPIENT` (sops 3.12+).
pub(super) fn load(env: &EnvSnapshot, recipient: Option<&str>) -> LoadedIdentities {
    let mut loaded = Loader {
        identities: IdentitySet::default(),
        sources: IdentitySources::default(),
    };
    load_ssh_sources(env, recipient, &mut loaded);

    let mut texts = Vec::new();
    collect_text_sources(env, recipient, &mut texts, &mut loaded);
    collect_default_file(env, &mut texts, &mut loaded);

    for text in texts {
        match identities_from_text(&text) {
            Ok(set) if set.is_empty() => loaded.sources.unused_locations.push(text.location),
            Ok(set) => {
                loaded.sources.loaded.push((text.label.clone(), set.len()));
                loaded.identities.append(set);
            }
            Err(reason) => loaded.sources.errors.push(reason),
        }
    }
    LoadedIdentities {
        identities: loaded.identities,
        sources: Arc::new(loaded.sources),
    }
}

/// Sources 1 to 3: `SOPS_AGE_SSH_PRIVATE_KEY_FILE`,
/// `SOPS_AGE_SSH_PRIVATE_KEY_CMD` (sops 3.12+), `~/.ssh/id_ed25519`,
/// `~/.ssh/id_rsa` (the latter two only if they exist).
fn load_ssh_sources(env: &EnvSnapshot, recipient: Option<&str>, loaded: &mut Loader) {
    match env.get(env::SOPS_AGE_SSH_PRIVATE_KEY_FILE) {
        Some(path) => load_ssh_file(
            Path::new(path),
            format!("{} ({path})", env::SOPS_AGE_SSH_PRIVATE_KEY_FILE),
            loaded,
        ),
        None => loaded
            .sources
            .unused_locations
            .push(env::SOPS_AGE_SSH_PRIVATE_KEY_FILE.to_string()),
    }
    match env.get(env::SOPS_AGE_SSH_PRIVATE_KEY_CMD) {
        Some(command) => {
            match run_key_command(command, env::SOPS_AGE_SSH_PRIVATE_KEY_CMD, recipient) {
                Ok(stdout) => {
                    let shown = format!("the output of {}", env::SOPS_AGE_SSH_PRIVATE_KEY_CMD);
                    match parse_ssh_private_key(&stdout, &shown) {
                        Ok(identity) => {
                            loaded.identities.ssh.push(identity);
                            loaded
                                .sources
                                .loaded
                                .push((env::SOPS_AGE_SSH_PRIVATE_KEY_CMD.to_string(), 1));
                        }
                        Err(e) => loaded.sources.errors.push(e.into()),
                    }
                }
                Err(reason) => loaded.sources.errors.push(reason),
            }
        }
        None => loaded
            .sources
            .unused_locations
            .push(env::SOPS_AGE_SSH_PRIVATE_KEY_CMD.to_string()),
    }
    let Some(home) = &env.home else {
        loaded.sources.errors.push(IdentitySourceError::NoHome);
        return;
    };
    for name in ["id_ed25519", "id_rsa"] {
        let path = home.join(".ssh").join(name);
        if path.exists() {
            let label = path.display().to_string();
            load_ssh_file(&path, label, loaded);
        } else {
            loaded
                .sources
                .unused_locations
                .push(path.display().to_string());
        }
    }
}

/// Reads and parses one SSH private key file; `label` names the source in
/// the report.
fn load_ssh_file(path: &Path, label: String, loaded: &mut Loader) {
    let shown = path.display().to_string();
    let content = match std::fs::read(path) {
        Ok(bytes) => Zeroizing::new(bytes),
        Err(e) => {
            loaded.sources.errors.push(IdentitySourceError::ReadFile {
                path: path.to_path_buf(),
                source: e,
            });
            return;
        }
    };
    match parse_ssh_private_key(&content, &shown) {
        Ok(identity) => {
            loaded.identities.ssh.push(identity);
            loaded.sources.loaded.push((label, 1));
        }
        Err(e) => loaded.sources.errors.push(e.into()),
    }
}

/// Sources 4–6: `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY_CMD`.
fn collect_text_sources(
    env: &EnvSnapshot,
    recipient: Option<&str>,
    texts: &mut Vec<TextSource>,
    loaded: &mut Loader,
) {
    match env.get(env::SOPS_AGE_KEY) {
        Some(value) => texts.push(TextSource {
            location: env::SOPS_AGE_KEY.to_string(),
            label: env::SOPS_AGE_KEY.to_string(),
            content: Zeroizing::new(value.as_bytes().to_vec()),
        }),
        None => loaded
            .sources
            .unused_locations
            .push(env::SOPS_AGE_KEY.to_string()),
    }

    match env.get(env::SOPS_AGE_KEY_FILE) {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => texts.push(TextSource {
                location: env::SOPS_AGE_KEY_FILE.to_string(),
                label: format!("{} ({path})", env::SOPS_AGE_KEY_FILE),
                content: Zeroizing::new(bytes),
            }),
            Err(e) => loaded
                .sources
                .errors
                .push(IdentitySourceError::ReadVariableFile {
                    variable: env::SOPS_AGE_KEY_FILE,
                    path: PathBuf::from(path),
                    source: e,
                }),
        },
        None => loaded
            .sources
            .unused_locations
            .push(env::SOPS_AGE_KEY_FILE.to_string()),
    }

    match env.get(env::SOPS_AGE_KEY_CMD) {
        Some(command) => match run_key_command(command, env::SOPS_AGE_KEY_CMD, recipient) {
            Ok(stdout) => texts.push(TextSource {
                location: env::SOPS_AGE_KEY_CMD.to_string(),
                label: env::SOPS_AGE_KEY_CMD.to_string(),
                content: stdout,
            }),
            Err(reason) => loaded.sources.errors.push(reason),
        },
        None => loaded
            .sources
            .unused_locations
            .push(env::SOPS_AGE_KEY_CMD.to_string()),
    }
}

/// Runs the command line of `variable` (`SOPS_AGE_KEY_CMD`,
/// `SOPS_AGE_SSH_PRIVATE_KEY_CMD`): split shell-style and run directly, no
/// shell, as sops does (3.12+), with `SOPS_AGE_RECIPIENT` set to the
/// recipient being decrypted; returns its standard output.
fn run_key_command(
    command: &str,
    variable: &'static str,
    recipient: Option<&str>,
) -> Result<Zeroizing<Vec<u8>>, IdentitySourceError> {
    let words =
        shell_words::split(command).map_err(|source| IdentitySourceError::CommandParse {
            command: command.to_string(),
            variable,
            source,
        })?;
    let Some((program, args)) = words.split_first() else {
        return Err(IdentitySourceError::CommandEmpty { variable });
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(recipient) = recipient {
        cmd.env(env::SOPS_AGE_RECIPIENT, recipient);
    }
    let output = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| IdentitySourceError::CommandSpawn {
            command: command.to_string(),
            variable,
            source,
        })?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        return Err(IdentitySourceError::CommandFailed {
            command: command.to_string(),
            variable,
            status: output.status,
        });
    }
    Ok(stdout)
}

/// Source 7: `<user config dir>/sops/age/keys.txt`. Consulted always; listed
/// as absent only when no other source provided anything (as sops does).
fn collect_default_file(env: &EnvSnapshot, texts: &mut Vec<TextSource>, loaded: &mut Loader) {
    let nothing_else = texts.is_empty() && loaded.identities.is_empty();
    let dir = match user_config_dir(env) {
        Ok(dir) => dir,
        Err(reason) => {
            if nothing_else {
                loaded
                    .sources
                    .errors
                    .push(IdentitySourceError::ConfigDir(reason));
            }
            return;
        }
    };
    let path = DEFAULT_KEYS_FILE
        .iter()
        .fold(dir, |path, part| path.join(part));
    let shown = path.display().to_string();
    match std::fs::read(&path) {
        Ok(bytes) => texts.push(TextSource {
            label: shown.clone(),
            location: shown,
            content: Zeroizing::new(bytes),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if nothing_else {
                loaded.sources.unused_locations.push(shown);
            }
        }
        Err(e) => loaded
            .sources
            .errors
            .push(IdentitySourceError::ReadFile { path, source: e }),
    }
}

/// The user configuration directory, as sops finds it: Linux
/// `$XDG_CONFIG_HOME` (absolute) or `~/.config`; macOS `$XDG_CONFIG_HOME` if
/// set, else `~/Library/Application Support`; Windows the roaming AppData.
fn user_config_dir(env: &EnvSnapshot) -> Result<PathBuf, ConfigDirError> {
    let xdg = env.get(env::XDG_CONFIG_HOME).filter(|dir| !dir.is_empty());
    let home = || env.home.clone().ok_or(ConfigDirError::NoHome);
    if cfg!(target_os = "macos") {
        match xdg {
            Some(dir) => Ok(PathBuf::from(dir)),
            None => Ok(home()?.join("Library").join("Application Support")),
        }
    } else if cfg!(windows) {
        match env.get(env::APPDATA).filter(|dir| !dir.is_empty()) {
            Some(dir) => Ok(PathBuf::from(dir)),
            None => Ok(home()?.join("AppData").join("Roaming")),
        }
    } else {
        match xdg {
            Some(dir) if Path::new(dir).is_absolute() => Ok(PathBuf::from(dir)),
            Some(_) => Err(ConfigDirError::RelativeXdgConfigHome),
            None => Ok(home()?.join(".config")),
        }
    }
}

/// Parses the identities of one text source; errors name the source.
fn identities_from_text(text: &TextSource) -> Result<IdentitySet, IdentitySourceError> {
    let location = || text.location.clone();
    let content = std::str::from_utf8(&text.content).map_err(|_| IdentitySourceError::NotUtf8 {
        location: location(),
    })?;
    if is_encrypted_identity_file(content) {
        let encrypted = EncryptedIdentity::parse(content.as_bytes(), &text.location)
            .ok_or_else(|| IdentitySourceError::PassphraseEncrypted {
                location: location(),
            })?
            .map_err(|source| IdentitySourceError::EncryptedIdentityFile {
                location: location(),
                source,
            })?;
        let mut set = IdentitySet::default();
        set.encrypted.push(encrypted);
        return Ok(set);
    }
    parse_identities_text(content).map_err(|source| IdentitySourceError::Parse {
        location: location(),
        source,
    })
}

#[cfg(test)]
#[allow(deprecated)] // X25519 test identities: still what sops uses most
mod tests {
    use age::secrecy::ExposeSecret;

    use super::*;
    use crate::age::identities::tests::TEST_SSH_ED25519_PRIVATE;
    use crate::error::quoted_list;

    /// A snapshot with the given variables and `home` as home directory.
    fn snapshot(vars: &[(&str, &str)], home: &Path) -> EnvSnapshot {
        let vars = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        EnvSnapshot::new(vars, Some(home.to_path_buf()))
    }

    /// A generated X25519 identity string.
    fn generated() -> String {
        age::x25519::Identity::generate()
            .to_string()
            .expose_secret()
            .to_string()
    }

    #[test]
    fn quoted_list_uses_sops_wording() {
        let items = |n: usize| (1..=n).map(|i| format!("l{i}")).collect::<Vec<_>>();
        assert_eq!(quoted_list(&items(1)), " 'l1'");
        assert_eq!(quoted_list(&items(2)), "s 'l1' and 'l2'");
        assert_eq!(quoted_list(&items(3)), "s 'l1', 'l2', and 'l3'");
    }

    #[test]
    fn nothing_configured_lists_every_location() {
        let home = tempfile::tempdir().expect("tempdir");
        let h = home.path().display();
        let loaded = load(&snapshot(&[], home.path()), None);
        assert!(loaded.identities.is_empty());
        assert!(
            loaded.sources.errors.is_empty(),
            "{:?}",
            loaded.sources.errors
        );
        let default = if cfg!(target_os = "macos") {
            format!("{h}/Library/Application Support/sops/age/keys.txt")
        } else {
            format!("{h}/.config/sops/age/keys.txt")
        };
        if cfg!(unix) {
            assert_eq!(
                loaded.sources.to_string(),
                format!(
                    ". Did not find keys in locations 'SOPS_AGE_SSH_PRIVATE_KEY_FILE', \
                     'SOPS_AGE_SSH_PRIVATE_KEY_CMD', '{h}/.ssh/id_ed25519', '{h}/.ssh/id_rsa', 'SOPS_AGE_KEY', \
                     'SOPS_AGE_KEY_FILE', 'SOPS_AGE_KEY_CMD', and '{default}'."
                )
            );
        }
    }

    #[test]
    fn xdg_config_home_default_file_is_read() {
        let home = tempfile::tempdir().expect("tempdir");
        let xdg = home.path().join("xdg");
        std::fs::create_dir_all(xdg.join("sops/age")).expect("mkdir");
        std::fs::write(xdg.join("sops/age/keys.txt"), generated()).expect("write");
        let xdg = xdg.display().to_string();
        let loaded = load(
            &snapshot(&[(env::XDG_CONFIG_HOME, &xdg)], home.path()),
            None,
        );
        if !cfg!(windows) {
            assert_eq!(loaded.identities.x25519.len(), 1);
        }
    }

    #[test]
    fn empty_sops_age_key_is_listed_last_and_default_is_not() {
        let home = tempfile::tempdir().expect("tempdir");
        let loaded = load(&snapshot(&[(env::SOPS_AGE_KEY, "")], home.path()), None);
        assert!(loaded.identities.is_empty());
        assert_eq!(
            loaded.sources.unused_locations.last().map(String::as_str),
            Some(env::SOPS_AGE_KEY)
        );
        assert!(!loaded.sources.to_string().contains("keys.txt"));
    }

    #[test]
    fn all_sources_are_combined() {
        let home = tempfile::tempdir().expect("tempdir");
        let key_file = home.path().join("keys.txt");
        std::fs::write(&key_file, format!("# file\n{}\n", generated())).expect("write");
        let ssh_dir = home.path().join(".ssh");
        std::fs::create_dir_all(&ssh_dir).expect("mkdir");
        std::fs::write(ssh_dir.join("id_ed25519"), TEST_SSH_ED25519_PRIVATE).expect("write");
        let env_key = generated();
        let key_file = key_file.display().to_string();
        let loaded = load(
            &snapshot(
                &[
                    (env::SOPS_AGE_KEY, &env_key),
                    (env::SOPS_AGE_KEY_FILE, &key_file),
                ],
                home.path(),
            ),
            None,
        );
        assert!(
            loaded.sources.errors.is_empty(),
            "{:?}",
            loaded.sources.errors
        );
        assert_eq!(loaded.identities.x25519.len(), 2);
        assert_eq!(loaded.identities.ssh.len(), 1);
        assert!(!loaded.sources.to_string().contains("id_ed25519"));
        let ssh = ssh_dir.join("id_ed25519").display().to_string();
        assert_eq!(
            loaded.sources.loaded,
            [
                (ssh.clone(), 1),
                (env::SOPS_AGE_KEY.to_string(), 1),
                (format!("{} ({key_file})", env::SOPS_AGE_KEY_FILE), 1),
            ]
        );
        let summary = loaded.sources.summary();
        assert_eq!(
            summary,
            format!(
                "1 loaded from {ssh}, 1 loaded from SOPS_AGE_KEY, \
                 1 loaded from SOPS_AGE_KEY_FILE ({key_file})"
            )
        );
        assert!(!summary.contains(&env_key[15..]), "no key material");
    }

    #[test]
    fn unreadable_key_file_is_not_fatal() {
        let home = tempfile::tempdir().expect("tempdir");
        let missing = home.path().join("missing.txt").display().to_string();
        let key = generated();
        let loaded = load(
            &snapshot(
                &[
                    (env::SOPS_AGE_KEY_FILE, &missing),
                    (env::SOPS_AGE_KEY, &key),
                ],
                home.path(),
            ),
            None,
        );
        assert_eq!(loaded.identities.x25519.len(), 1);
        assert_eq!(loaded.sources.errors.len(), 1);
        match &loaded.sources.errors[0] {
            e @ IdentitySourceError::ReadVariableFile {
                variable,
                path,
                source,
            } => {
                assert_eq!(*variable, env::SOPS_AGE_KEY_FILE);
                assert_eq!(path, Path::new(&missing));
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
                assert!(e.to_string().starts_with(&format!(
                    "failed to open SOPS_AGE_KEY_FILE file: {missing}: "
                )));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn invalid_sops_age_key_is_reported_without_the_value() {
        let home = tempfile::tempdir().expect("tempdir");
        let loaded = load(
            &snapshot(&[(env::SOPS_AGE_KEY, "SUPERSECRETGARBAGE")], home.path()),
            None,
        );
        let [error] = loaded.sources.errors.as_slice() else {
            panic!("{:?}", loaded.sources.errors);
        };
        assert!(matches!(
            error,
            IdentitySourceError::Parse {
                location,
                source: crate::error::IdentityParseError {
                    line: 1,
                    problem: crate::error::IdentityProblem::UnknownType
                },
            } if location == env::SOPS_AGE_KEY
        ));
        assert_eq!(
            error.to_string(),
            "failed to parse 'SOPS_AGE_KEY' age identities: line 1: unknown identity type"
        );
        assert!(!loaded.sources.to_string().contains("SUPERSECRET"));
        assert!(!format!("{:?}", loaded.sources).contains("SUPERSECRET"));
    }

    #[test]
    fn malformed_passphrase_encrypted_identity_file_is_a_clear_error() {
        let home = tempfile::tempdir().expect("tempdir");
        let loaded = load(
            &snapshot(
                &[(
                    env::SOPS_AGE_KEY,
                    "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n",
                )],
                home.path(),
            ),
            None,
        );
        assert!(loaded.identities.is_empty());
        assert!(
            matches!(
                &loaded.sources.errors[0],
                IdentitySourceError::EncryptedIdentityFile { location, .. } if location == env::SOPS_AGE_KEY
            ),
            "{:?}",
            loaded.sources.errors
        );
        let text = loaded.sources.errors[0].to_string();
        assert!(
            text.starts_with(
                "failed to read the passphrase-protected age identity file 'SOPS_AGE_KEY': "
            ),
            "{text}"
        );
        assert!(!text.contains("YWdl"), "{text}");
    }

    #[cfg(unix)]
    #[test]
    fn key_command_output_is_read() {
        let home = tempfile::tempdir().expect("tempdir");
        let key = generated();
        let command = format!("printf '%s\\n# comment\\n' '{key}'");
        let loaded = load(
            &snapshot(&[(env::SOPS_AGE_KEY_CMD, &command)], home.path()),
            None,
        );
        assert!(
            loaded.sources.errors.is_empty(),
            "{:?}",
            loaded.sources.errors
        );
        assert_eq!(loaded.identities.x25519.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn failing_key_command_is_reported() {
        let home = tempfile::tempdir().expect("tempdir");
        let loaded = load(
            &snapshot(&[(env::SOPS_AGE_KEY_CMD, "false")], home.path()),
            None,
        );
        assert!(loaded.identities.is_empty());
        let error = &loaded.sources.errors[0];
        assert!(
            matches!(error, IdentitySourceError::CommandFailed { command, status, .. }
                if command == "false" && status.code() == Some(1)),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "failed to execute command false from SOPS_AGE_KEY_CMD: exit status: 1"
        );
    }

    #[test]
    fn empty_or_unparsable_key_command_is_an_error() {
        let home = tempfile::tempdir().expect("tempdir");
        for command in ["", "   ", "echo 'unterminated"] {
            let loaded = load(
                &snapshot(&[(env::SOPS_AGE_KEY_CMD, command)], home.path()),
                None,
            );
            assert_eq!(
                loaded.sources.errors.len(),
                1,
                "{command:?}: {:?}",
                loaded.sources.errors
            );
            assert!(matches!(
                loaded.sources.errors[0],
                IdentitySourceError::CommandEmpty { .. } | IdentitySourceError::CommandParse { .. }
            ));
            assert!(loaded.sources.errors[0]
                .to_string()
                .contains("failed to parse command"));
        }
    }

    #[test]
    fn relative_xdg_config_home_is_an_error_on_linux() {
        let home = tempfile::tempdir().expect("tempdir");
        let loaded = load(
            &snapshot(&[(env::XDG_CONFIG_HOME, "relative")], home.path()),
            None,
        );
        if cfg!(all(unix, not(target_os = "macos"))) {
            let [error] = loaded.sources.errors.as_slice() else {
                panic!("{:?}", loaded.sources.errors);
            };
            assert!(matches!(
                error,
                IdentitySourceError::ConfigDir(ConfigDirError::RelativeXdgConfigHome)
            ));
            assert_eq!(
                error.to_string(),
                "user config directory could not be determined: path in $XDG_CONFIG_HOME \
                 is relative"
            );
        }
    }

    #[test]
    fn encrypted_ssh_key_file_is_an_error_but_others_still_load() {
        let home = tempfile::tempdir().expect("tempdir");
        let ssh_file = home.path().join("enc_key");
        std::fs::write(
            &ssh_file,
            crate::age::identities::tests::TEST_SSH_ED25519_ENCRYPTED,
        )
        .expect("write");
        let ssh_file = ssh_file.display().to_string();
        let key = generated();
        let loaded = load(
            &snapshot(
                &[
                    (env::SOPS_AGE_SSH_PRIVATE_KEY_FILE, &ssh_file),
                    (env::SOPS_AGE_KEY, &key),
                ],
                home.path(),
            ),
            None,
        );
        assert_eq!(loaded.identities.len(), 1);
        assert!(
            matches!(
                &loaded.sources.errors[0],
                IdentitySourceError::SshKey(crate::error::SshKeyError::Encrypted { path })
                    if *path == ssh_file
            ),
            "{:?}",
            loaded.sources.errors
        );
        assert!(loaded.sources.errors[0].to_string().contains("passphrase"));
    }
}
