//! Finding and loading `.sops.yaml` as sops does (CONFIG.md §1).

use std::path::{Path, PathBuf};

use rsops_core::config::Config;
use rsops_format::EmitOptions;

use crate::exit::{self, CmdResult, Failure};

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
}

/// Finds the config: `explicit` (`--config`/`SOPS_CONFIG`), else the first
/// `.sops.yaml` from the current directory upwards.
pub fn find(explicit: Option<&str>) -> Option<PathBuf> {
    if let Some(p) = explicit.filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let mut dir = std::env::current_dir().ok()?;
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

/// Loads the config if there is one. A config that cannot be read or parsed
/// is an error for every command (exit 1).
pub fn load(explicit: Option<&str>) -> CmdResult<Option<Loaded>> {
    let Some(path) = find(explicit) else {
        return Ok(None);
    };
    let bytes = std::fs::read(&path).map_err(|e| {
        Failure::new(
            exit::GENERIC,
            format!(
                "error loading config: could not read {}: {e}",
                path.display()
            ),
        )
    })?;
    let config = Config::parse(&bytes)
        .map_err(|e| Failure::new(exit::GENERIC, format!("{e} (in {})", path.display())))?;
    let abs = std::path::absolute(&path).unwrap_or(path);
    let dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Some(Loaded { config, dir }))
}

/// Output formatting from the `stores` section and `--indent`.
pub fn emit_options(loaded: Option<&Loaded>, indent: Option<i64>) -> CmdResult<EmitOptions> {
    let stores = loaded.map(|l| &l.config.stores);
    let pick = |from_store: Option<i64>| indent.or(from_store);
    let yaml = pick(stores.and_then(|s| s.yaml_indent));
    let json = pick(stores.and_then(|s| s.json_indent));
    let json_binary = pick(stores.and_then(|s| s.json_binary_indent));
    let yaml_indent = match yaml {
        Some(n) if n < 0 => {
            return Err(Failure::new(
                exit::GENERIC,
                "YAML Negative indentation not accepted",
            ))
        }
        Some(0) | None => 4,
        Some(n) => n as usize,
    };
    let json_indent = |v: Option<i64>| -> CmdResult<Option<usize>> {
        match v {
            None | Some(-1) => Ok(None),
            Some(n) if n < -1 => Err(Failure::new(
                exit::GENERIC,
                "JSON Indentation parameter smaller than -1 is not accepted",
            )),
            Some(n) => Ok(Some(n as usize)),
        }
    };
    Ok(EmitOptions {
        yaml_indent,
        json_indent: json_indent(json)?,
        json_binary_indent: json_indent(json_binary)?,
    })
}
