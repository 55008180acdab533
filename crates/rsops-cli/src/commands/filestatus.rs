//! `rsops filestatus`: `{"encrypted":true|false}` (CLI.md §2.1).

use rsops_format::{store, Format, Value};

use crate::args::FilestatusArgs;
use crate::exit::{self, CmdResult, Failure};

/// Runs `filestatus`.
pub fn run(args: &FilestatusArgs) -> CmdResult {
    let Some(file) = args.file.as_deref() else {
        return Err(Failure::new(
            exit::NO_FILE_SPECIFIED,
            "Error: no file specified",
        ));
    };
    let format = args
        .input_type
        .as_deref()
        .and_then(Format::from_name)
        .unwrap_or_else(|| Format::from_path(file));
    let input = crate::io::read_input(Some(file))?;
    let (_, meta) =
        store::load_encrypted(format, &input, crate::parallel::threads()).map_err(|e| {
            Failure::new(
                exit::GENERIC,
                format!("cannot read {file} as {}: {e}", format.name()),
            )
        })?;
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
