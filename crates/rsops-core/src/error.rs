//! The error type of the core crate.
use thiserror::Error;

/// A core operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CoreError {
    /// Placeholder while the crate is assembled.
    #[error("internal")]
    Internal,
}
