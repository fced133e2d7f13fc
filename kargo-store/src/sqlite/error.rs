use std::path::PathBuf;

/// What went wrong in the SQLite store.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("cannot open the state database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("cannot migrate the state database {path}: {source}")]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
    #[error("cannot lock {path} to open the state database: {source}")]
    OpenLock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("state database: {0}")]
    Json(#[from] crate::doc::DocError),
}

crate::sql::store_error!(Error, "sqlite-store");
