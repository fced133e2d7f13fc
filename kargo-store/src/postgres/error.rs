/// What went wrong in the PostgreSQL store. Locations are redacted URLs.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("invalid PostgreSQL URL {location}: {source}")]
    Url {
        location: String,
        source: sqlx::Error,
    },
    #[error("cannot connect to the state database {location}: {source}")]
    Open {
        location: String,
        source: sqlx::Error,
    },
    #[error("cannot migrate the state database {location}: {source}")]
    Migrate {
        location: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("state database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("state database: {0}")]
    Json(#[from] crate::doc::DocError),
}

impl Error {
    /// Whether the operation may succeed when tried again on a fresh
    /// connection: the connection broke, the server is (re)starting, or
    /// the transaction lost a deadlock or serialization race.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Error::Sql(e) | Error::Open { source: e, .. } => is_transient(e),
            Error::Migrate {
                source: sqlx::migrate::MigrateError::Execute(e),
                ..
            } => is_transient(e),
            _ => false,
        }
    }
}

/// Whether `e` is a connection or concurrency failure worth a retry.
pub(crate) fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        // A TLS handshake the client refuses (an untrusted certificate)
        // comes as invalid data: trying again cannot help.
        sqlx::Error::Io(io) => io.kind() != std::io::ErrorKind::InvalidData,
        sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 57P01-03: admin/crash shutdown,
            // cannot connect now; 53300: too many connections; 40001,
            // 40P01: serialization failure, deadlock.
            code.starts_with("08")
                || matches!(
                    code.as_ref(),
                    "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
                )
        }),
        _ => false,
    }
}

crate::sql::store_error!(Error, "postgres-store");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_stay_temporary_above_the_store() {
        let timed_out = kargo_core::Error::from(Error::Sql(sqlx::Error::PoolTimedOut));
        assert!(timed_out.is_temporary(), "{timed_out}");
        let missing = kargo_core::Error::from(Error::Sql(sqlx::Error::RowNotFound));
        assert!(!missing.is_temporary(), "{missing}");
    }
}
