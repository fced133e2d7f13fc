//! The error of a credential exchange.

/// A credential exchange that failed. Every variant names the registry and
/// where the identity came from (`Secret NAME`, or the ambient source);
/// none holds a key or a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The cloud answered with an error.
    #[error("registry {registry}, {via}: {operation} was refused: {code} (HTTP {status})")]
    Refused {
        /// The registry host, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com`.
        registry: String,
        /// `Secret NAME`, or the ambient source, e.g. `AWS web identity`.
        via: String,
        /// What was asked, e.g. `ECR GetAuthorizationToken`.
        operation: &'static str,
        /// The cloud's error code (`UnrecognizedClientException`,
        /// `invalid_grant`, ...), or `unknown` when the answer had none.
        code: String,
        /// The HTTP status.
        status: u16,
    },
    /// The cloud could not be reached, or its answer could not be read.
    #[error("registry {registry}, {via}: {operation} failed: {reason}")]
    Failed {
        /// The registry host.
        registry: String,
        /// `Secret NAME`, or the ambient source.
        via: String,
        /// What was asked.
        operation: &'static str,
        /// Why, without any secret.
        reason: String,
    },
    /// A Secret field or a local file is unusable.
    #[error("registry {registry}, {via}: {reason}")]
    Invalid {
        /// The registry host.
        registry: String,
        /// `Secret NAME`, or the ambient source.
        via: String,
        /// What is wrong (naming the field or file, never its value).
        reason: String,
    },
}

impl Error {
    /// Whether trying again later may succeed: the cloud was unreachable
    /// or answered 429 or 5xx.
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Refused { status, .. } => *status == 429 || *status >= 500,
            Error::Failed { .. } => true,
            Error::Invalid { .. } => false,
        }
    }
}

impl From<Error> for kargo_core::Error {
    /// A [`kargo_core::Error::Generic`], temporary when
    /// [`Error::is_temporary`] says so.
    fn from(e: Error) -> Self {
        let status = kargo_core::ErrorStatus::temporary_if(e.is_temporary());
        kargo_core::Error::with_status("registry credentials", status, e)
    }
}

/// Who is asking for what: the registry and the identity's source, for
/// errors.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) registry: String,
    pub(crate) via: String,
}

impl Origin {
    pub(crate) fn invalid(&self, reason: impl Into<String>) -> Error {
        Error::Invalid {
            registry: self.registry.clone(),
            via: self.via.clone(),
            reason: reason.into(),
        }
    }

    pub(crate) fn failed(&self, operation: &'static str, reason: impl Into<String>) -> Error {
        Error::Failed {
            registry: self.registry.clone(),
            via: self.via.clone(),
            operation,
            reason: reason.into(),
        }
    }

    pub(crate) fn refused(&self, operation: &'static str, code: String, status: u16) -> Error {
        Error::Refused {
            registry: self.registry.clone(),
            via: self.via.clone(),
            operation,
            code,
            status,
        }
    }

    /// The same registry, another source.
    pub(crate) fn via(&self, via: impl Into<String>) -> Origin {
        Origin {
            registry: self.registry.clone(),
            via: via.into(),
        }
    }
}
