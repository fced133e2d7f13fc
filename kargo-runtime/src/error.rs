//! The runtime's [`Error`].

use std::path::PathBuf;

/// The error of the controller's operations.
///
/// [`Error::is_input`] tells the errors about what the caller asked for
/// (manifests, files, names, Kargo's rules refusing the request: nothing
/// was changed) from failures of the system underneath (the state store,
/// the disk).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The manifests, a file or an argument cannot be used; the message
    /// names the file, document or field.
    #[error("{0}")]
    Invalid(String),
    /// A named Stage, Freight, Warehouse or Promotion does not exist.
    #[error("unknown {what} `{name}`{}", known_list(.known))]
    NotFound {
        /// What kind of thing.
        what: &'static str,
        /// The name asked for.
        name: String,
        /// The names that exist, when there are few enough to list.
        known: Vec<String>,
    },
    /// Kargo's rules refuse the request as things stand (Freight not
    /// available to the Stage, a promotion that is no longer queued, ...).
    #[error("{0}")]
    Refused(String),
    /// The request collides with something that exists already (an
    /// alias other Freight has, ...).
    #[error("{0}")]
    Conflict(String),
    /// The state store failed.
    #[error("state store: {0}")]
    Store(#[source] kargo_core::Error),
    /// A file or directory could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!(" (known: {})", known.join(", "))
    }
}

impl Error {
    /// Whether the error is about the request rather than the system:
    /// unusable input, an unknown name, a refusal by Kargo's rules or a
    /// conflict.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Error::Invalid(_) | Error::NotFound { .. } | Error::Refused(_) | Error::Conflict(_)
        )
    }

    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<kargo_core::Error> for Error {
    /// Keeps the store's answers about the request as such (unknown
    /// names, refused transitions, invalid values); the rest is a store
    /// failure.
    fn from(e: kargo_core::Error) -> Self {
        match e {
            kargo_core::Error::NotFound { what, name } => Error::NotFound {
                what,
                name,
                known: Vec::new(),
            },
            kargo_core::Error::Precondition(message) => Error::Refused(message),
            kargo_core::Error::Invalid(message) => Error::Invalid(message),
            e @ kargo_core::Error::AlreadyExists { .. } => Error::Conflict(e.to_string()),
            other => Error::Store(other),
        }
    }
}

/// `Result` with the runtime's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
