//! What the SQL stores share beyond their SQL: reading rows of JSON
//! documents, and their errors as kargo-core's.

use kargo_core::state::{ResourceKey, StoredResource};
use serde::de::DeserializeOwned;
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::doc::{DocError, from_doc};

/// The records of `rows`, each a `what`'s name and JSON document.
pub(crate) fn named_docs<T, R>(rows: &[R], what: &'static str) -> Result<Vec<T>, DocError>
where
    T: DeserializeOwned,
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> &'r str: Decode<'r, R::Database> + Type<R::Database>,
{
    rows.iter()
        .map(|r| from_doc(what, r.get::<&str, _>(0), r.get::<&str, _>(1)))
        .collect()
}

/// The resource in `row`: its kind, namespace, name and JSON document.
pub(crate) fn resource<R>(row: &R) -> Result<StoredResource, DocError>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> &'r str: Decode<'r, R::Database> + Type<R::Database>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    let key = ResourceKey::new(
        row.get::<String, _>(0),
        row.get::<String, _>(1),
        row.get::<String, _>(2),
    );
    let doc = from_doc("resource", &key.to_string(), row.get::<&str, _>(3))?;
    Ok(StoredResource::new(key, doc))
}

/// A SQL store's error.
pub(crate) trait StoreError: std::error::Error + Send + Sync + Sized + 'static {
    /// The store, as [`kargo_core::Error::Generic`] names it.
    const COMPONENT: &'static str;

    /// The database's error, when it is one.
    fn sql(&self) -> Option<&sqlx::Error>;

    /// The database's refusal of a write by a unique index (a second
    /// `Running` promotion in a Stage, say), when this is one.
    fn unique_violation(&self) -> Option<&dyn sqlx::error::DatabaseError> {
        match self.sql() {
            Some(sqlx::Error::Database(db)) if db.is_unique_violation() => Some(&**db),
            _ => None,
        }
    }

    /// Whether the operation may succeed when tried again (each store's
    /// `is_transient`: a lost connection, a busy or locked database).
    fn is_temporary(&self) -> bool;

    /// As kargo-core's error: a unique violation is a refused
    /// precondition, anything else [`Generic`](kargo_core::Error::Generic),
    /// temporary when [`is_temporary`](StoreError::is_temporary) says so.
    fn into_core(self) -> kargo_core::Error {
        if let Some(db) = self.unique_violation() {
            return kargo_core::Error::Precondition(format!("state database: {db}"));
        }
        let status = kargo_core::ErrorStatus::temporary_if(self.is_temporary());
        kargo_core::Error::with_status(Self::COMPONENT, status, self)
    }
}

/// Implements [`StoreError`] for a store's error enum `$error`, whose
/// `Sql` variant holds the database's errors and whose inherent
/// `is_transient` tells a temporary failure, and its conversion into
/// kargo-core's error.
macro_rules! store_error {
    ($error:ident, $component:literal) => {
        impl $crate::sql::StoreError for $error {
            const COMPONENT: &'static str = $component;

            fn sql(&self) -> Option<&sqlx::Error> {
                match self {
                    $error::Sql(e) => Some(e),
                    _ => None,
                }
            }

            fn is_temporary(&self) -> bool {
                self.is_transient()
            }
        }

        impl From<$error> for kargo_core::Error {
            fn from(e: $error) -> Self {
                $crate::sql::StoreError::into_core(e)
            }
        }
    };
}
pub(crate) use store_error;
