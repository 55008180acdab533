//! The error type of the format crate.
//!
//! Errors describe *where* the input is wrong (line, column, key name), never
//! the value found there: parsed values may be secrets.

use thiserror::Error;

/// A store could not parse its input or render a tree.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// The input is not valid for the store (syntax error). `message` names
    /// the position and the kind of problem, never the offending value.
    #[error("{format}: {message}")]
    Parse {
        /// Which store failed (`yaml`, `json`, ...).
        format: &'static str,
        /// What is wrong and where.
        message: String,
    },
    /// The input holds no document at all (empty YAML stream).
    #[error("File cannot be completely empty, it must contain at least one document")]
    NoDocument,
    /// The tree cannot be written by this store (e.g. a nested map in dotenv).
    #[error("{0}")]
    Emit(String),
}

impl FormatError {
    /// Shorthand for a parse error of `format`.
    pub fn parse(format: &'static str, message: impl Into<String>) -> Self {
        FormatError::Parse {
            format,
            message: message.into(),
        }
    }
}
