//! Scalar resolution as go-yaml v3 does it (STORES.md §1.1), used by the
//! parser to type plain scalars and by the emitter to decide when a string
//! must be quoted (a string that would resolve to anything else is quoted).

use crate::tree::Value;

/// Resolves a **plain** (unquoted, untagged) scalar to a typed value the way
/// go-yaml v3 decodes it into `interface{}`: null, bool, int, float,
/// timestamp, else string. `Err(())` for an integer that fits `u64` but not
/// `i64` (sops cannot walk a `uint64` and fails).
#[allow(clippy::result_unit_err)]
pub fn resolve_plain(text: &str) -> Result<Value, ()> {
    // Filled in by the YAML parser work (issue 2).
    Ok(Value::Str(text.to_owned()))
}
