//! `rsops filestatus`: `{"encrypted":true|false}`.

use rsops_format::{store, Format, Value};

use crate::error::{CmdResult, Error, Usage};
use crate::settings::FilestatusSettings;

/// Runs `filestatus`.
pub fn run(args: &FilestatusSettings) -> CmdResult {
    let Some(file) = args.file.as_deref() else {
        return Err(Error::Usage(Usage::File));
    };
    let format = args
        .input_type
        .unwrap_or_else(|| Format::from_path(&file.to_string_lossy()));
    // sops fails with its generic exit code (1) when it cannot read the file.
    let input = crate::io::read_input(Some(file)).map_err(|e| {
        Error::FilestatusRead(Box::new(match e {
            Error::NonExistentFile(path) => Error::MissingFile(path),
            other => other,
        }))
    })?;
    let meta = match store::load_encrypted(format, &input, crate::parallel::threads()) {
        Ok((_, meta)) => meta,
        // An empty YAML file: no metadata, not encrypted (as in sops).
        Err(rsops_format::FormatError::NoDocument) => None,
        Err(source) => {
            return Err(Error::Filestatus {
                path: file.into(),
                format,
                source,
            })
        }
    };
    let nonempty = |m: &rsops_format::Map, k: &str| {
        m.get(k).is_some_and(|v| match v {
            Value::Str(s) => !s.is_empty(),
            Value::Null => false,
            _ => true,
        })
    };
    let encrypted = meta.is_some_and(|m| nonempty(&m, "version") && nonempty(&m, "mac"));
    crate::io::write_stdout(format!("{{\"encrypted\":{encrypted}}}\n").as_bytes())
}
