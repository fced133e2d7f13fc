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

impl Error {
    /// Whether the operation may succeed when tried again: the database
    /// stayed busy or locked past the busy timeout, or no connection came
    /// free in time.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Error::Sql(sqlx::Error::PoolTimedOut) => true,
            // SQLite's extended result codes keep the primary code in the
            // low byte: 5 SQLITE_BUSY, 6 SQLITE_LOCKED.
            Error::Sql(sqlx::Error::Database(db)) => db
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .is_some_and(|code| matches!(code & 0xff, 5 | 6)),
            _ => false,
        }
    }
}

crate::sql::store_error!(Error, "sqlite-store");

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection};

    use super::*;

    /// A writer that finds the database locked past its busy timeout gets
    /// a temporary error; a unique violation is a precondition.
    #[tokio::test]
    async fn a_busy_database_is_temporary_and_a_unique_violation_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(tmp.path().join("state.db"))
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::ZERO);
        let mut holder = options.connect().await.unwrap();
        sqlx::query("CREATE TABLE t (k TEXT PRIMARY KEY)")
            .execute(&mut holder)
            .await
            .unwrap();
        let mut other = options.connect().await.unwrap();
        let mut held = holder.begin().await.unwrap();
        sqlx::query("INSERT INTO t VALUES ('a')")
            .execute(&mut *held)
            .await
            .unwrap();
        let busy = sqlx::query("INSERT INTO t VALUES ('b')")
            .execute(&mut other)
            .await
            .unwrap_err();
        let busy = kargo_core::Error::from(Error::Sql(busy));
        assert!(busy.is_temporary(), "{busy}");
        held.commit().await.unwrap();

        let duplicate = sqlx::query("INSERT INTO t VALUES ('a')")
            .execute(&mut other)
            .await
            .unwrap_err();
        let duplicate = kargo_core::Error::from(Error::Sql(duplicate));
        assert!(
            matches!(duplicate, kargo_core::Error::Precondition(_)),
            "{duplicate}"
        );
        assert!(!duplicate.is_temporary());
    }
}
