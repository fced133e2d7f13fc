//! The versioned schema migrations of each store, embedded in the binary.

use std::borrow::Cow;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// Migrations as `(version, description, sql)`, in order. Never edit a
/// released one: add the next version.
type Migrations = &'static [(i64, &'static str, &'static str)];

/// The SQLite store's migrations (`migrations/`).
#[cfg(feature = "sqlite")]
pub(crate) const SQLITE: Migrations = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (2, "leases", include_str!("../migrations/0002_leases.sql")),
    (
        3,
        "warehouses",
        include_str!("../migrations/0003_warehouses.sql"),
    ),
    (
        4,
        "resources",
        include_str!("../migrations/0004_resources.sql"),
    ),
];

/// The PostgreSQL store's migrations (`migrations/postgres/`).
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: Migrations = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "warehouses",
        include_str!("../migrations/postgres/0002_warehouses.sql"),
    ),
    (
        3,
        "resources",
        include_str!("../migrations/postgres/0003_resources.sql"),
    ),
];

#[derive(Debug)]
struct Embedded(Migrations);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>>
    {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// A migrator over `migrations`.
pub(crate) async fn migrator(
    migrations: Migrations,
) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(migrations)).await
}
