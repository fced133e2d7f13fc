//! [`open`]: the one entry point from a location string (a command line's
//! `--state` value, a host's setting) to a store.

use std::sync::Arc;

use kargo_core::state::DynStateStore;
use kargo_core::{Error, Result};

/// Opens the store at `location` and returns it as a shared trait object.
///
/// `location` is
/// - a path (`state.db`, `/var/lib/kargo/state.db`) or a `sqlite:` URL
///   (`sqlite:state.db`, `sqlite://state.db`): the SQLite store in that
///   file, created with its parent directories on first use (feature
///   `sqlite`);
/// - a `postgres://` or `postgresql://` URL: the PostgreSQL store in that
///   database, migrated on first use (feature `postgres`);
/// - anything else with a `scheme://` prefix is [`Error::Unsupported`].
///
/// Errors name the location; a location never carries a secret for SQLite,
/// and URL-style locations are reported without their user information.
///
/// # Examples
/// ```
/// # #[cfg(feature = "sqlite")]
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use kargo_core::state::{FreightQuery, StateStore};
///
/// let dir = tempfile::tempdir().unwrap();
/// let location = dir.path().join("nested/state.db");
/// let store = kargo_store::open(location.to_str().unwrap()).await.unwrap();
/// assert!(store.list_freight(&FreightQuery::all()).await.unwrap().is_empty());
/// # });
/// ```
pub async fn open(location: &str) -> Result<Arc<DynStateStore>> {
    if location.trim().is_empty() {
        return Err(Error::Invalid("state store location is empty".into()));
    }
    match location.split_once("://") {
        Some(("postgres" | "postgresql", _)) => open_postgres(location).await,
        Some((scheme, _)) if scheme != "sqlite" && is_scheme(scheme) => Err(Error::Unsupported {
            operation: format!("state store `{}`", display_location(location)),
            implementer: "kargo-store (known: a SQLite file path, sqlite:PATH, postgres://...)",
        }),
        _ => open_sqlite(sqlite_path(location)).await,
    }
}

/// Opens the store at `location` as [`open`] does, but only when it
/// exists already: a SQLite file that is not there is
/// [`Error::NotFound`] instead of a new, empty store (for commands that
/// only read). A PostgreSQL database must exist either way.
pub async fn open_existing(location: &str) -> Result<Arc<DynStateStore>> {
    let is_sqlite = match location.split_once("://") {
        Some((scheme, _)) => scheme == "sqlite" || !is_scheme(scheme),
        None => true,
    };
    if is_sqlite && !location.trim().is_empty() {
        let path = sqlite_path(location);
        if !std::path::Path::new(path).is_file() {
            return Err(Error::NotFound {
                what: "state database",
                name: path.to_owned(),
            });
        }
    }
    open(location).await
}

/// The file of a SQLite location: `sqlite://PATH`, `sqlite:PATH` or `PATH`.
fn sqlite_path(location: &str) -> &str {
    location
        .strip_prefix("sqlite://")
        .or_else(|| location.strip_prefix("sqlite:"))
        .unwrap_or(location)
}

/// Whether `s` looks like a URL scheme (so `C:\x` or `./a://b` is a path).
fn is_scheme(s: &str) -> bool {
    s.len() > 1
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `location` as it may be shown in messages and logs: a URL-style
/// location through kargo-core's one redaction
/// (`postgres://user:secret@host/db` becomes `postgres://user:***@host/db`);
/// a path unchanged.
pub fn display_location(location: &str) -> String {
    match location.split_once("://") {
        Some((scheme, _)) if is_scheme(scheme) => kargo_core::urls::redact_url(location),
        _ => location.to_owned(),
    }
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(path: &str) -> Result<Arc<DynStateStore>> {
    let path = std::path::Path::new(path);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            Error::generic(
                "sqlite-store",
                format!(
                    "cannot create the directory of the state database {}: {e}",
                    path.display()
                ),
            )
        })?;
    }
    Ok(Arc::new(crate::sqlite::SqliteStore::open(path).await?))
}

#[cfg(not(feature = "sqlite"))]
async fn open_sqlite(path: &str) -> Result<Arc<DynStateStore>> {
    Err(Error::Unsupported {
        operation: format!("SQLite state store {path}"),
        implementer: "kargo-store (built without the `sqlite` feature)",
    })
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> Result<Arc<DynStateStore>> {
    Ok(Arc::new(crate::postgres::PostgresStore::open(url).await?))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(url: &str) -> Result<Arc<DynStateStore>> {
    Err(Error::Unsupported {
        operation: format!("PostgreSQL state store {}", display_location(url)),
        implementer: "kargo-store (built without the `postgres` feature)",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_told_from_paths() {
        assert!(is_scheme("postgres"));
        assert!(is_scheme("git+ssh"));
        assert!(!is_scheme("C"), "a drive letter is a path");
        assert!(!is_scheme("./a"));
    }

    #[tokio::test]
    async fn an_unknown_scheme_is_unsupported_and_hides_the_password() {
        let err = open("mysql://admin:hunter2@db.example/kargo")
            .await
            .expect_err("unsupported");
        let text = err.to_string();
        assert!(matches!(err, Error::Unsupported { .. }), "{text}");
        assert!(
            text.contains("mysql://admin:***@db.example/kargo"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn displayed_locations_hide_passwords() {
        assert_eq!(
            display_location("postgres://kargo:s3cret@db:5432/kargo?sslmode=disable"),
            "postgres://kargo:***@db:5432/kargo?sslmode=***"
        );
        assert_eq!(display_location("postgres://db/k@x"), "postgres://db/k@x");
        assert_eq!(display_location("state/a@b.db"), "state/a@b.db");
    }

    #[tokio::test]
    async fn an_empty_location_is_invalid() {
        assert!(matches!(open(" ").await, Err(Error::Invalid(_))));
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn paths_and_sqlite_urls_open_the_same_file() {
        use kargo_core::model::{Freight, FreightOrigin};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a/b/state.db");
        let path = path.to_str().expect("utf-8 path");
        let store = open(path).await.expect("created on first use");
        let put = store
            .put_freight(Freight {
                origin: FreightOrigin::warehouse("app"),
                ..Default::default()
            })
            .await
            .expect("put");
        drop(store);
        for location in [format!("sqlite://{path}"), format!("sqlite:{path}")] {
            let store = open(&location).await.expect("reopened");
            let got = store
                .get_freight(&put.freight.metadata.name)
                .await
                .expect("get");
            assert_eq!(got.as_ref(), Some(&put.freight), "{location}");
        }
    }
}
