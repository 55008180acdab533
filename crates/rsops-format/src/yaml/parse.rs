//! YAML reading: granit-parser events → documents (STORES.md §1.1, §1.2).

use crate::error::FormatError;
use crate::tree::Map;

/// Parses a YAML stream into one map per document.
pub fn parse(input: &[u8]) -> Result<Vec<Map>, FormatError> {
    let _ = input;
    Err(FormatError::parse("yaml", "not implemented yet"))
}
