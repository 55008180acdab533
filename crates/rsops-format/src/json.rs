//! The JSON store (STORES.md §2).

use crate::error::FormatError;
use crate::tree::{Map, Value};

/// Parses a JSON document whose top level must be an object.
pub fn parse(input: &[u8]) -> Result<Map, FormatError> {
    let _ = input;
    Err(FormatError::parse("json", "not implemented yet"))
}

/// Writes a map as indented JSON (`None` = tabs) with a final newline.
pub fn emit(map: &Map, indent: Option<usize>) -> Result<Vec<u8>, FormatError> {
    let _ = (map, indent);
    Err(FormatError::Emit("not implemented yet".into()))
}

/// Writes a single value (`--extract`), without a final newline.
pub fn emit_value(value: &Value, indent: Option<usize>) -> Result<Vec<u8>, FormatError> {
    let _ = (value, indent);
    Err(FormatError::Emit("not implemented yet".into()))
}
