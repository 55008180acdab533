//! `rsops ksops`, and the binary run under the name `ksops`: a drop-in
//! for the ksops kustomize generator (viaduct-ai/kustomize-sops).
//!
//! The generator format is ksops's (`kind: ksops`, `files:` decrypted
//! whole, `secretFrom:` turned into Secrets), and so is the choice of
//! protocol: with one argument (the generator's path) it is a legacy exec
//! plugin and prints a YAML stream; with none and a pipe on stdin it is a
//! KRM function and answers the `ResourceList` it reads with one holding
//! the generated objects (or `results:` saying what failed, and exit 1).
//! `install [--with-kustomize] DIR` copies the binary for an init
//! container.
//!
//! Every file is decrypted in parallel and each distinct data key is
//! unwrapped once for the whole generator (ksops unwraps per file).

mod generator;
pub mod godotenv;
pub mod v2yaml;

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use rsops_format::{store, EmitOptions, Format, List, ListItem, Map, Value};

pub use generator::GenerateError;

use crate::error::{CmdResult, Error};
use crate::settings::KsopsSettings;

/// What `ksops` prints when it is run the wrong way (ksops's text).
pub const USAGE: &str = "\
KSOPS is a flexible kustomize plugin for SOPS encrypted resources.
KSOPS supports both legacy and KRM style exec kustomize functions.

kustomize Usage:
- kustomize build --enable-alpha-plugins --enable-exec

Standalone Usage :
- Legacy: ksops secret-generator.yaml
- KRM: cat secret-generator.yaml | ksops

Install Usage (copy ksops binary to a target directory):
- ksops install /custom-tools
- ksops install --with-kustomize /custom-tools
";

/// Why `ksops` failed (exit code 1, as ksops). No message holds a
/// decrypted value.
#[derive(Debug, thiserror::Error)]
pub enum KsopsError {
    /// Wrong arguments: the usage text.
    #[error("\n{USAGE}")]
    Usage,
    /// `install` without a directory.
    #[error(
        "install requires a destination directory\nusage: ksops install [--with-kustomize] <dest-dir>"
    )]
    InstallUsage,
    /// `install` could not copy a binary.
    #[error("error installing {what} to {}: {source}", dest.display())]
    Install {
        /// `ksops` or `kustomize`.
        what: &'static str,
        /// The destination path.
        dest: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The legacy plugin's generator file cannot be read.
    #[error("unable to read in manifest: {}", .0.display())]
    ReadManifest(PathBuf),
    /// KRM mode: standard input cannot be read.
    #[error("unable to read the ResourceList from standard input: {0}")]
    ReadStdin(#[source] std::io::Error),
    /// KRM mode: standard input is not a ResourceList.
    #[error("unable to generate manifests: the input is not a ResourceList: {0}")]
    NotResourceList(String),
    /// Generating failed.
    #[error("unable to generate manifests: {0}")]
    Generate(#[from] GenerateError),
}

/// Whether this process was started under the name `ksops` (a copy made
/// by `install`, a link, or the kustomize plugin path `…/ksops/ksops`).
pub fn invoked_as_ksops() -> bool {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|s| s == "ksops" || s == "ksops.exe"))
        .unwrap_or(false)
}

/// Runs as `ksops` with the process's arguments; returns the exit code.
pub fn main_as_ksops() -> i32 {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let settings = KsopsSettings::from_args(args, std::io::stdin().is_terminal());
    match run(&settings) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}

/// Runs one of ksops's modes.
pub fn run(settings: &KsopsSettings) -> CmdResult {
    match settings {
        KsopsSettings::Help => Err(KsopsError::Usage.into()),
        KsopsSettings::Install {
            dir,
            with_kustomize,
        } => install(dir.as_deref(), *with_kustomize),
        KsopsSettings::Legacy(path) => legacy(path),
        KsopsSettings::Krm => krm(),
    }
}

/// `install [--with-kustomize] DIR`: copies this binary to `DIR/ksops`
/// (mode 0755), and `/usr/local/bin/kustomize` to `DIR/kustomize` when
/// asked.
fn install(dir: Option<&Path>, with_kustomize: bool) -> CmdResult {
    let dir = dir.ok_or(KsopsError::InstallUsage)?;
    let dest = dir.join("ksops");
    let copy = |src: &Path, dest: &Path, what: &'static str| -> Result<(), KsopsError> {
        copy_executable(src, dest).map_err(|source| KsopsError::Install {
            what,
            dest: dest.to_path_buf(),
            source,
        })?;
        eprintln!("installed {}", dest.display());
        Ok(())
    };
    let me = std::env::current_exe().map_err(|source| KsopsError::Install {
        what: "ksops",
        dest: dest.clone(),
        source,
    })?;
    copy(&me, &dest, "ksops")?;
    if with_kustomize {
        copy(
            Path::new("/usr/local/bin/kustomize"),
            &dir.join("kustomize"),
            "kustomize",
        )?;
    }
    Ok(())
}

/// Copies `src` over `dest`, executable by everyone.
fn copy_executable(src: &Path, dest: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut input = std::fs::File::open(src)?;
    let mut output = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o755)
        .open(dest)?;
    std::io::copy(&mut input, &mut output)?;
    Ok(())
}

/// The legacy exec plugin: the generator file named on the command line,
/// the generated YAML stream on stdout.
fn legacy(path: &Path) -> CmdResult {
    let raw = std::fs::read(path).map_err(|_| KsopsError::ReadManifest(path.to_path_buf()))?;
    let generated = generator::generate(&raw).map_err(KsopsError::Generate)?;
    let out = zeroize::Zeroizing::new(generated.to_stream());
    crate::io::write_stdout(&out)
}

/// The KRM function: a `ResourceList` in, one out. Every item is a
/// generator; the output's items are what they generate. On failure the
/// output carries the error under `results:` (and the exit code is 1).
fn krm() -> CmdResult {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(KsopsError::ReadStdin)?;
    let mut list = parse_resource_list(&input)?;
    let items: Vec<Map> = match list.get("items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::List(l)) => l
            .values()
            .map(|v| match v {
                Value::Map(m) => Ok(m.clone()),
                _ => Err(KsopsError::NotResourceList(
                    "an item is not an object".into(),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(KsopsError::NotResourceList("items is not a list".into()).into());
        }
    };
    let mut generated = Vec::new();
    let mut failure = None;
    for item in &items {
        match generator::generate_from_map(item).and_then(|g| g.to_objects()) {
            Ok(mut objects) => generated.append(&mut objects),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let items_value = match &failure {
        // As kpt's SDK: on failure the input items are returned unchanged.
        Some(_) => list.remove("items").unwrap_or(Value::List(List::default())),
        None => Value::List(List {
            items: generated
                .into_iter()
                .map(|m| ListItem::Value(Value::Map(m)))
                .collect(),
        }),
    };
    let mut out = Map::new();
    out.push("apiVersion", Value::Str("config.kubernetes.io/v1".into()));
    out.push("kind", Value::Str("ResourceList".into()));
    out.push("items", items_value);
    if let Some(fc) = list.get("functionConfig") {
        out.push("functionConfig", fc.clone());
    }
    if let Some(e) = &failure {
        let mut result = Map::new();
        result.push("message", Value::Str(e.to_string()));
        result.push("severity", Value::Str("error".into()));
        out.push(
            "results",
            Value::List(List {
                items: vec![ListItem::Value(Value::Map(result))],
            }),
        );
    }
    let opts = EmitOptions {
        yaml_indent: 2,
        ..EmitOptions::default()
    };
    let text = zeroize::Zeroizing::new(
        store::emit_plain(Format::Yaml, &[out], &opts).map_err(Error::Dump)?,
    );
    std::io::stdout()
        .lock()
        .write_all(&text)
        .map_err(Error::WriteStdout)?;
    match failure {
        Some(e) => Err(KsopsError::Generate(e).into()),
        None => Ok(()),
    }
}

/// The `ResourceList` of standard input.
fn parse_resource_list(input: &[u8]) -> Result<Map, KsopsError> {
    let docs = store::load_plain(Format::Yaml, input)
        .map_err(|e| KsopsError::NotResourceList(e.to_string()))?;
    let list = docs
        .into_iter()
        .next()
        .ok_or_else(|| KsopsError::NotResourceList("empty input".into()))?;
    match list.get("kind") {
        Some(Value::Str(k)) if k == "ResourceList" => Ok(list),
        _ => Err(KsopsError::NotResourceList(
            "kind is not ResourceList".into(),
        )),
    }
}
