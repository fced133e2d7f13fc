//! A PostgreSQL database of a test's own on the machine's server, dropped
//! afterwards.
//!
//! The server is the one the project's machines run on 127.0.0.1:5432
//! (`.ci/run` starts it), reached as user `postgres` without a password;
//! `KARGO_TEST_POSTGRES` names another one (a URL to its maintenance
//! database), `KARGO_TEST_POSTGRES_HOST` another host of the same
//! shape. The fixture talks to the server through `psql`, so it works in
//! synchronous and asynchronous tests alike, and in `Drop`.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A database of the test's own, dropped (with its connections) when the
/// value is dropped.
#[derive(Debug)]
pub struct Database {
    name: String,
    /// The maintenance database's URL, `postgres://USER@HOST:PORT/postgres`.
    admin: String,
}

impl Database {
    /// A new, empty database whose name starts with `prefix`.
    pub fn create(prefix: &str) -> Database {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        );
        let admin = std::env::var("KARGO_TEST_POSTGRES").unwrap_or_else(|_| {
            let host =
                std::env::var("KARGO_TEST_POSTGRES_HOST").unwrap_or_else(|_| "127.0.0.1".into());
            format!("postgres://postgres@{host}:5432/postgres")
        });
        let db = Database { name, admin };
        db.psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name));
        db.psql(&format!("CREATE DATABASE {}", db.name));
        db
    }

    /// Runs `sql` on the server's maintenance database; returns what it
    /// printed (unaligned, tuples only).
    pub fn psql(&self, sql: &str) -> String {
        self.try_psql(sql).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Database::psql`], failing with a message instead of a panic.
    fn try_psql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .args(["-d", &self.admin, "-qAtc", sql])
            .output()
            .map_err(|e| format!("psql is missing ({e}): the machine's PostgreSQL provides it"))?;
        if !out.status.success() {
            return Err(format!(
                "psql {sql}: {} (PostgreSQL must answer at {}; `.ci/run` starts the machine's \
                 server on 127.0.0.1:5432 when it is stopped)",
                String::from_utf8_lossy(&out.stderr),
                self.admin
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        let base = self
            .admin
            .rsplit_once('/')
            .map_or(self.admin.as_str(), |(base, _)| base);
        format!("{base}/{}", self.name)
    }

    /// Terminates every connection to this database: what a restarting
    /// server or a broken network does to a store. Returns how many were
    /// terminated.
    pub fn terminate_connections(&self) -> u64 {
        let count = self.psql(&format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()",
            self.name
        ));
        count
            .parse()
            .unwrap_or_else(|e| panic!("a count of terminated connections, not {count:?}: {e}"))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // No panic while a failed test unwinds: say so and go on.
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = self.try_psql(&sql) {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}
