//! Finding and loading `.sops.yaml` as sops does: from the
//! current directory upwards. Opt-in extension (sops issue #242,
//! `docs/config.md`): with `RSOPS_CONFIG_FROM_FILE_DIR=1` the search starts
//! in the directory of the file being processed instead ([`load_for_file`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rsops_core::config::{rule_match_path, Config, CreationRule};
use rsops_core::env;
use rsops_format::EmitOptions;

use crate::error::{CmdResult, Error};

/// How many directories up the search goes.
const MAX_DEPTH: usize = 100;
/// The config file name.
const CONFIG_NAME: &str = ".sops.yaml";
/// The name sops warns about.
const WRONG_NAME: &str = ".sops.yml";

/// A loaded configuration and the directory it came from.
pub struct Loaded {
    /// The parsed file.
    pub config: Config,
    /// Its directory (creation rules match paths relative to it).
    pub dir: PathBuf,
    /// Its absolute path (for messages).
    pub path: PathBuf,
}

/// The creation rule of `config` for the file `name` (matched relative to
/// the config's directory); `None` without a config or rules.
pub fn creation_rule<'c>(
    config: Option<&'c Loaded>,
    name: &Path,
) -> CmdResult<Option<&'c CreationRule>> {
    let Some(l) = config else {
        return Ok(None);
    };
    let abs = std::path::absolute(name).unwrap_or_else(|_| name.into());
    l.config
        .creation_rule(&rule_match_path(&l.dir, &abs))
        .map_err(|source| Error::ConfigRule {
            config: l.path.clone(),
            file: name.to_path_buf(),
            source,
        })
}

/// Finds the config: `explicit` (`--config`/`SOPS_CONFIG`), else the first
/// `.sops.yaml` from the current directory upwards.
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit.filter(|p| !p.as_os_str().is_empty()) {
        return Some(p.to_path_buf());
    }
    find_from(std::env::current_dir().ok()?)
}

/// The first `.sops.yaml` in `dir` or one of its parents (at most
/// [`MAX_DEPTH`] levels), warning about `.sops.yml` files seen on the way.
pub fn find_from(dir: PathBuf) -> Option<PathBuf> {
    let mut dir = dir;
    let mut saw_yml = None;
    for _ in 0..MAX_DEPTH {
        let candidate = dir.join(CONFIG_NAME);
        if candidate.is_file() {
            if saw_yml.is_some() {
                crate::warn(&format!(
                    "ignoring \"{WRONG_NAME}\" when searching for config file; the config file must be called \"{CONFIG_NAME}\"; using \"{}\" instead",
                    candidate.display()
                ));
            }
            return Some(candidate);
        }
        if saw_yml.is_none() && dir.join(WRONG_NAME).is_file() {
            saw_yml = Some(());
        }
        if !dir.pop() {
            break;
        }
    }
    if saw_yml.is_some() {
        crate::warn(&format!(
            "ignoring \"{WRONG_NAME}\" when searching for config file; the config file must be called \"{CONFIG_NAME}\""
        ));
    }
    None
}

/// Whether the opt-in search from the file's directory is enabled
/// (`RSOPS_CONFIG_FROM_FILE_DIR` set to `1`, `true`, `yes` or `on`, any case).
pub fn from_file_dir_enabled() -> bool {
    std::env::var(env::RSOPS_CONFIG_FROM_FILE_DIR)
        .map(|v| is_truthy(&v))
        .unwrap_or(false)
}

/// Whether an environment value switches an option on.
fn is_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// The directory the search starts from for `file`: its (absolute) parent
/// directory when the opt-in is enabled and a file is given, else the
/// current directory (sops's rule).
pub fn search_start(file: Option<&Path>, from_file_dir: bool) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok();
    let Some(file) = file.filter(|_| from_file_dir) else {
        return cwd;
    };
    let abs = std::path::absolute(file).ok()?;
    match abs.parent() {
        Some(p) if !p.as_os_str().is_empty() => Some(p.to_path_buf()),
        _ => cwd,
    }
}

/// Finds the config for `file`: `explicit` when given, else the search of
/// [`find`] — which, when [`from_file_dir_enabled`], starts in the
/// directory of `file` (the path used for rule matching: the
/// `--filename-override` or the file argument).
pub fn find_for_file(explicit: Option<&Path>, file: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit.filter(|p| !p.as_os_str().is_empty()) {
        return Some(p.to_path_buf());
    }
    find_from(search_start(file, from_file_dir_enabled())?)
}

/// Loads the config if there is one. A config that cannot be read or parsed
/// is an error for every command (exit 1).
pub fn load(explicit: Option<&Path>) -> CmdResult<Option<Loaded>> {
    match find(explicit) {
        Some(path) => read_config(path).map(Some),
        None => Ok(None),
    }
}

/// Like [`load`], but honours the `RSOPS_CONFIG_FROM_FILE_DIR` opt-in for
/// `file` (see [`find_for_file`]).
pub fn load_for_file(explicit: Option<&Path>, file: Option<&Path>) -> CmdResult<Option<Loaded>> {
    match find_for_file(explicit, file) {
        Some(path) => read_config(path).map(Some),
        None => Ok(None),
    }
}

/// Reads and parses the config at `path`.
fn read_config(path: PathBuf) -> CmdResult<Loaded> {
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(source) => return Err(Error::ConfigRead { path, source }),
    };
    let config = match Config::parse(&bytes) {
        Ok(config) => config,
        Err(source) => return Err(Error::ConfigParse { path, source }),
    };
    warn_unknown_fields(&path, &config);
    let abs = std::path::absolute(&path).unwrap_or(path);
    let dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Loaded {
        config,
        dir,
        path: abs,
    })
}

/// Warns (once per process) about the keys of the config that sops
/// ignores, most likely typos.
fn warn_unknown_fields(path: &Path, config: &Config) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if config.warnings.is_empty() || WARNED.swap(true, Ordering::Relaxed) {
        return;
    }
    for line in unknown_field_lines(path, config) {
        crate::warn(&line);
    }
}

/// The warning texts for the unknown keys of `config` (read from `path`).
fn unknown_field_lines(path: &Path, config: &Config) -> Vec<String> {
    config
        .warnings
        .iter()
        .map(|w| format!("{} {w}", path.display()))
        .collect()
}

/// Store options from the `stores` section and `--indent`.
pub fn emit_options(loaded: Option<&Loaded>, indent: Option<i64>) -> CmdResult<EmitOptions> {
    let stores = loaded.map(|l| &l.config.stores);
    let pick = |from_store: Option<i64>| indent.or(from_store);
    let yaml = pick(stores.and_then(|s| s.yaml_indent));
    let json = pick(stores.and_then(|s| s.json_indent));
    let json_binary = pick(stores.and_then(|s| s.json_binary_indent));
    let yaml_indent = match yaml {
        Some(n) if n < 0 => return Err(Error::YamlIndent),
        Some(0) | None => 4,
        Some(n) => n as usize,
    };
    let json_indent = |v: Option<i64>| -> CmdResult<Option<usize>> {
        match v {
            None | Some(-1) => Ok(None),
            Some(n) if n < -1 => Err(Error::JsonIndent),
            Some(n) => Ok(Some(n as usize)),
        }
    };
    Ok(EmitOptions {
        yaml_indent,
        json_indent: json_indent(json)?,
        json_binary_indent: json_indent(json_binary)?,
        dotenv: stores.and_then(|s| s.dotenv_syntax).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truthy_values() {
        for v in ["1", "true", "TRUE", " yes ", "On"] {
            assert!(is_truthy(v), "{v}");
        }
        for v in ["", "0", "false", "no", "off", "2"] {
            assert!(!is_truthy(v), "{v}");
        }
    }

    #[test]
    fn search_starts_in_the_file_directory_only_when_enabled() {
        let cwd = std::env::current_dir().expect("cwd");
        let file = Path::new("/some/where/f.yaml");
        assert_eq!(
            search_start(Some(file), true),
            Some(PathBuf::from("/some/where"))
        );
        assert_eq!(search_start(Some(file), false), Some(cwd.clone()));
        assert_eq!(search_start(None, true), Some(cwd.clone()));
        assert_eq!(search_start(Some(Path::new("f.yaml")), true), Some(cwd));
    }

    #[test]
    fn find_from_walks_up_to_the_nearest_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).expect("mkdir");
        std::fs::write(dir.path().join(CONFIG_NAME), "").expect("write");
        assert_eq!(find_from(deep.clone()), Some(dir.path().join(CONFIG_NAME)));
        std::fs::write(dir.path().join("a").join(CONFIG_NAME), "").expect("write");
        assert_eq!(
            find_from(deep),
            Some(dir.path().join("a").join(CONFIG_NAME))
        );
    }

    #[test]
    fn unknown_fields_are_reported_with_the_config_path() {
        let config =
            Config::parse(b"creation_rules:\n  - path_regex: x\n    encrypted_regexp: ^data$\n")
                .expect("parse");
        assert_eq!(
            unknown_field_lines(Path::new("dir/.sops.yaml"), &config),
            ["dir/.sops.yaml line 3: unknown field 'encrypted_regexp' in a creation rule; did you mean 'encrypted_regex'?"]
        );
    }

    #[test]
    fn explicit_config_wins() {
        assert_eq!(
            find_for_file(
                Some(Path::new("/x/.sops.yaml")),
                Some(Path::new("/y/f.yaml"))
            ),
            Some(PathBuf::from("/x/.sops.yaml"))
        );
    }
}
