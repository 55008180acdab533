//! The INI store (STORES.md §4).

use crate::error::FormatError;
use crate::tree::Map;

/// Parses an INI file: every section is a top-level entry holding a map.
pub fn parse(input: &[u8]) -> Result<Map, FormatError> {
    let _ = input;
    Err(FormatError::parse("ini", "not implemented yet"))
}

/// Writes a map of sections as an INI file.
pub fn emit(map: &Map) -> Result<Vec<u8>, FormatError> {
    let _ = map;
    Err(FormatError::Emit("not implemented yet".into()))
}
