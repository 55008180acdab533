//! The YAML store: comments kept as tree items, sops 3.11 (go-yaml v3) typing
//! of scalars on reading and its emitter layout on writing.
//!
//! Parsing uses `granit-parser`, a maintained YAML 1.2 event parser that
//! reports comments with their placement and byte spans (see
//! `docs/decisions.md`).

mod emit;
mod parse;
pub mod resolve;
mod simple;
mod split;

pub(crate) use split::{check_piece, is_cut, next_cut, parse_piece};

pub use emit::{emit, emit_value, RootWriter};
pub use parse::{maybe_several_documents, parse, parse_data, parse_root_items};
