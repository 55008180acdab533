//! Flattening of the metadata map for dotenv and INI (STORES.md §6).

use crate::error::FormatError;
use crate::tree::{Map, Value};

/// Flattens a metadata map into `(key, value)` pairs in walk order
/// (`age__list_0__map_recipient`, ...); strings keep their newlines.
pub fn flatten(map: &Map) -> Vec<(String, Value)> {
    let _ = map;
    Vec::new()
}

/// Rebuilds the metadata map from flattened pairs (values as read: strings).
pub fn unflatten(pairs: Vec<(String, Value)>) -> Result<Map, FormatError> {
    let _ = pairs;
    Err(FormatError::parse("metadata", "not implemented yet"))
}
