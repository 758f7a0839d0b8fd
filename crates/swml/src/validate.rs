//! What a valid SWML script is.

/// Why a script is invalid: where (a JSON path such as `sections.main[2].play.url`) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Invalid {
    /// The JSON path of the offending value.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}
