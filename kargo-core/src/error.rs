//! The crate-wide error type.

use std::error::Error as StdError;

/// A boxed error from a lower layer.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The result type of kargo-core operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether trying an operation again may succeed (opendal's
/// `ErrorStatus`): the one place a failure's retry status is decided.
///
/// The layer that knows the failure sets it, in its
/// `From<…> for kargo_core::Error` impl; everything above reads it
/// ([`Error::is_temporary`]) and never guesses from a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorStatus {
    /// Trying again cannot help by itself: something must change first.
    #[default]
    Permanent,
    /// Trying again later may succeed: the network failed or timed out, a
    /// service answered 429 or 5xx, a lock or a concurrent change was in
    /// the way.
    Temporary,
}

impl ErrorStatus {
    /// `Temporary` when `temporary` holds (a lower layer's
    /// `is_retryable()` or `is_temporary()`), else `Permanent`.
    pub fn temporary_if(temporary: bool) -> Self {
        if temporary {
            ErrorStatus::Temporary
        } else {
            ErrorStatus::Permanent
        }
    }
}

/// What went wrong, in terms the engine and host applications act on.
///
/// Implementation crates keep their own detailed error enums and map them
/// onto these variants: the semantic cases get their own variant, the rest
/// is boxed into [`Error::Generic`] with its [`ErrorStatus`]
/// ([`Error::generic`], [`Error::temporary`]). Only a `Generic` error can
/// be temporary; the other variants say something about the request that
/// another attempt does not change.
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
        /// Whether another attempt may succeed.
        status: ErrorStatus,
    },
}

impl Error {
    /// A [`Error::Generic`] failure of `component` that another attempt
    /// cannot fix.
    pub fn generic(component: &'static str, source: impl Into<BoxError>) -> Self {
        Error::with_status(component, ErrorStatus::Permanent, source)
    }

    /// A [`Error::Generic`] failure of `component` that may pass on
    /// another attempt.
    pub fn temporary(component: &'static str, source: impl Into<BoxError>) -> Self {
        Error::with_status(component, ErrorStatus::Temporary, source)
    }

    /// A [`Error::Generic`] failure of `component` with the status its
    /// layer decided.
    pub fn with_status(
        component: &'static str,
        status: ErrorStatus,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Generic {
            component,
            source: source.into(),
            status,
        }
    }

    /// Whether another attempt may succeed (see [`ErrorStatus`]).
    pub fn status(&self) -> ErrorStatus {
        match self {
            Error::Generic { status, .. } => *status,
            _ => ErrorStatus::Permanent,
        }
    }

    /// Whether another attempt may succeed.
    pub fn is_temporary(&self) -> bool {
        self.status() == ErrorStatus::Temporary
    }

    /// Whether the error is about unusable input: [`Error::Invalid`] or
    /// [`Error::UnknownConfigKey`].
    pub fn is_invalid(&self) -> bool {
        matches!(self, Error::Invalid(_) | Error::UnknownConfigKey { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_temporary_generic_error_is_temporary() {
        let io = || std::io::Error::other("connection reset");
        assert!(Error::temporary("git-push", io()).is_temporary());
        let status = ErrorStatus::temporary_if;
        assert!(Error::with_status("git-push", status(true), io()).is_temporary());
        assert!(!Error::with_status("git-push", status(false), io()).is_temporary());
        assert_eq!(
            Error::generic("git-push", io()).status(),
            ErrorStatus::Permanent
        );
        assert!(!Error::Precondition("merge conflict".into()).is_temporary());
        assert!(!Error::Invalid("bad".into()).is_temporary());
    }

    #[test]
    fn invalid_input_is_told_apart() {
        assert!(Error::Invalid("bad".into()).is_invalid());
        let unknown = Error::UnknownConfigKey {
            component: "git-push",
            key: "remote".into(),
        };
        assert!(unknown.is_invalid());
        assert!(!Error::temporary("git-push", std::io::Error::other("x")).is_invalid());
        assert!(
            !Error::NotFound {
                what: "branch",
                name: "main".into()
            }
            .is_invalid()
        );
    }

    #[test]
    fn the_generic_message_names_the_component() {
        let e = Error::temporary("git-push", std::io::Error::other("connection reset"));
        assert_eq!(e.to_string(), "git-push: connection reset");
    }
}
