//! The dotenv store (STORES.md §3).

use crate::error::FormatError;
use crate::tree::Map;

/// Parses a dotenv file.
pub fn parse(input: &[u8]) -> Result<Map, FormatError> {
    let _ = input;
    Err(FormatError::parse("dotenv", "not implemented yet"))
}

/// Writes a flat map as a dotenv file.
pub fn emit(map: &Map) -> Result<Vec<u8>, FormatError> {
    let _ = map;
    Err(FormatError::Emit("not implemented yet".into()))
}
