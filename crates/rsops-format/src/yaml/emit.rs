//! YAML writing in the layout of sops 3.11's go-yaml v3 emitter (STORES.md §1.3).

use crate::error::FormatError;
use crate::tree::{Map, Value};

/// Writes documents separated by `---`, each ending with a newline.
pub fn emit(docs: &[Map], indent: usize) -> Result<Vec<u8>, FormatError> {
    let _ = (docs, indent);
    Err(FormatError::Emit("not implemented yet".into()))
}

/// Writes a single value as a YAML document (`--extract` of a non-map).
pub fn emit_value(value: &Value, indent: usize) -> Result<Vec<u8>, FormatError> {
    let _ = (value, indent);
    Err(FormatError::Emit("not implemented yet".into()))
}
