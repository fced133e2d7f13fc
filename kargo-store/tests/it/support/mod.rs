//! A fresh PostgreSQL database per test, dropped afterwards.
//!
//! The server is the one the project's machines run on 127.0.0.1:5432
//! (`.ci/run` starts it); `KARGO_TEST_POSTGRES` names another one (a URL
//! to its maintenance database).

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, PgConnection};

/// The server's maintenance database.
fn admin_url() -> String {
    std::env::var("KARGO_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database of its own for one test; dropped (with its connections)
/// when the value is dropped.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// Creates an empty database.
    pub async fn create() -> TestDb {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "kargo_store_test_{}_{}_{nanos}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        );
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {admin} ({e}); the project's machines run it \
                 on 127.0.0.1:5432 and `.ci/run` starts it when it is stopped"
            )
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        TestDb {
            url: format!("{base}/{name}"),
            name,
        }
    }

    /// Terminates every connection to this database but the caller's:
    /// what a restarting server or a broken network does to the store.
    pub async fn terminate_connections(&self) -> u64 {
        let mut conn = PgConnection::connect(&admin_url())
            .await
            .expect("connect to the maintenance database");
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&self.name)
        .execute(&mut conn)
        .await
        .expect("terminate the test database's connections")
        .rows_affected()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async code: use a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin_url()).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .map(|_| ())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}
