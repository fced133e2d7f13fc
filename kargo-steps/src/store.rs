//! Helpers for the steps that change pipeline state through the store.

use kargo_core::step::StepError;

/// Maps a state-store error onto a step error: what the store refuses
/// (unknown Freight, an alias in use, an invalid name) is terminal, a
/// failing store (I/O, database) is retryable.
pub(crate) fn store_error(kind: &str, context: &str, err: kargo_core::Error) -> StepError {
    let message = format!("{kind}: {context}: {err}");
    match err {
        kargo_core::Error::NotFound { .. }
        | kargo_core::Error::AlreadyExists { .. }
        | kargo_core::Error::Precondition(_)
        | kargo_core::Error::Invalid(_)
        | kargo_core::Error::Unsupported { .. } => StepError::terminal(message),
        _ => StepError::retryable(message),
    }
}
