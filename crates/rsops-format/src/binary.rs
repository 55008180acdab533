//! The binary store: the whole file is the value of `data`.

use crate::error::FormatError;
use crate::tree::{Map, Value};

/// The key holding the file's bytes.
pub const DATA_KEY: &str = "data";

/// The tree of a plaintext binary file: `{data: <all bytes>}`.
pub fn load_plain(input: &[u8]) -> Map {
    let mut map = Map::new();
    map.push(DATA_KEY, Value::from_bytes(input.to_vec()));
    map
}

/// The bytes of a decrypted binary file.
pub fn emit_plain(map: &Map) -> Result<Vec<u8>, FormatError> {
    match map.get(DATA_KEY) {
        Some(Value::Str(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Bytes(b)) => Ok(b.clone()),
        _ => Err(FormatError::Emit(
            "error emitting binary store: no binary data found in tree".to_owned(),
        )),
    }
}
