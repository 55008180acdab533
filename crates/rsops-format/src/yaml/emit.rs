//! YAML writing in the layout of sops 3.11's go-yaml v3 emitter (STORES.md §1.3).
//!
//! The output is byte-identical to what sops writes: block style, `{}` / `[]`
//! for empty collections, go-yaml's indentation rule, its choice of scalar
//! style (plain, single-quoted, double-quoted with escapes, literal block)
//! and its placement of comment lines. The pieces:
//!
//! * `writer` — output buffer and the emitter's layout state (column,
//!   indentation, pending comments);
//! * `scalar` — scalar style selection and the four scalar writers;
//! * `walk` — the tree walk, one function per emitter step.
//!
//! Everything is written into one pre-sized buffer in a single pass.

mod scalar;
mod walk;
mod writer;

#[cfg(test)]
mod tests;

use crate::error::FormatError;
use crate::tree::{Map, Value};
use walk::{Node, Walk};

/// The indentation step go-yaml actually uses for `SetIndent(indent)`:
/// 0 means the default 4, values outside 2..=9 fall back to 2.
fn effective_indent(indent: usize) -> isize {
    match indent {
        0 => 4,
        2..=9 => indent as isize,
        _ => 2,
    }
}

/// Writes documents separated by `---`, each ending with a newline.
///
/// `indent` is the encoder indentation (sops: `stores.yaml.indent`, default
/// 4). The `sops` metadata map, if any, must already be the last entry of
/// each document. Fails (`FormatError::Emit`) on a value that is not UTF-8,
/// on a map or list used as a map key and on trees nested deeper than 512
/// levels; never panics.
pub fn emit(docs: &[Map], indent: usize) -> Result<Vec<u8>, FormatError> {
    let mut walk = Walk::new(effective_indent(indent), 4096);
    for (i, doc) in docs.iter().enumerate() {
        walk.document(Node::Map(doc), i == 0)?;
    }
    Ok(walk.w.out)
}

/// Writes a single value as a YAML document (`--extract` of a non-map):
/// `30\n`, `- a\n- 1\n`.
///
/// sops writes extracted values with `yaml.Marshal`, which always indents
/// by 4 whatever the configuration; callers reproducing it pass 4.
pub fn emit_value(value: &Value, indent: usize) -> Result<Vec<u8>, FormatError> {
    let mut walk = Walk::new(effective_indent(indent), 256);
    walk.document(Node::of(value), true)?;
    Ok(walk.w.out)
}
