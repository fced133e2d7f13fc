//! The crate-wide error type.

use std::error::Error as StdError;

/// A boxed error from a lower layer.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The result type of kargo-core operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms the engine and host applications act on.
///
/// Implementation crates keep their own detailed error enums and map them
/// onto these variants: the semantic cases get their own variant, the rest
/// is boxed into [`Error::Generic`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A named thing (a resource, a file, a step kind) does not exist.
    #[error("{what} not found: {name}")]
    NotFound {
        /// The kind of thing that was looked up, e.g. "step kind".
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// A thing that must be unique exists already.
    #[error("{what} already exists: {name}")]
    AlreadyExists {
        /// The kind of thing, e.g. "step alias".
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// A precondition of the operation does not hold.
    #[error("precondition failed: {0}")]
    Precondition(String),
    /// The operation is not supported by the implementer.
    #[error("{implementer} does not support {operation}")]
    Unsupported {
        /// What was asked for.
        operation: String,
        /// Who was asked.
        implementer: &'static str,
    },
    /// A configuration names a key the component does not know.
    #[error("{component}: unknown configuration key `{key}`")]
    UnknownConfigKey {
        /// The component whose configuration was read.
        component: &'static str,
        /// The key it did not know.
        key: String,
    },
    /// Input that cannot be used: a malformed manifest, config or expression.
    #[error("{0}")]
    Invalid(String),
    /// Any other failure, boxed, with the component it came from.
    #[error("{component}: {source}")]
    Generic {
        /// The component that failed, e.g. "manifest" or "yaml-update".
        component: &'static str,
        /// The underlying error.
        source: BoxError,
    },
}
