//! [`StateStore`](kargo_core::state::StateStore) implementations for
//! kargo-rs.
//!
//! kargo-rs is a family of crates: `kargo-core` (model, engine, pipeline
//! rules, the `StateStore` trait and an in-memory store), `kargo-git`,
//! `kargo-sources`, `kargo-steps`, this crate, and the `kargo` facade.
//!
//! # Stores
#![cfg_attr(
    feature = "sqlite",
    doc = "- [`SqliteStore`](sqlite::SqliteStore) (feature `sqlite`, on by default): the embedded default, one file, created on first use."
)]
#![cfg_attr(
    feature = "postgres",
    doc = "- [`PostgresStore`](postgres::PostgresStore) (feature `postgres`, on by default): one database shared by several host replicas, migrated on first use."
)]
//!
//! [`open`] opens a store from a location string (a SQLite file path,
//! a `sqlite:` URL or a `postgres://` URL), the way a command line's
//! `--state` value names it.
//!
//! Every store passes kargo-core's conformance suite
//! (`kargo_core::conformance::state_store`).
//!
//! # Design
//! A store keeps each record as Kargo's JSON document plus the few columns
//! it is looked up by, and applies every state transition in one
//! transaction through the shared rules of `kargo_core::state::rules`, so
//! all stores behave alike and a crash leaves the old or the new state.
//! Schema changes are versioned migrations (`migrations/NNNN_*.sql`), run
//! when a store is opened.
//!
//! ## Several host replicas
//! SQLite serves one host (several processes on one machine may share the
//! file: writes take the lock up front and wait for each other). For
//! several replicas, the PostgreSQL store implements the same trait with
//! the same documents (its own migrations, `migrations/postgres/`), and:
//! - **claims with leases**: replicas take work with
//!   `StateStore::claim_promotion` (`FOR UPDATE SKIP LOCKED`), which gives
//!   the promotion an owner and an expiry; every leased save
//!   (`LeasedCheckpoint`) renews it and fails once another owner holds
//!   it, so the engine stops before its next step; a `Running` promotion
//!   whose lease expired is claimed by another replica and resumed from
//!   its saved state;
//! - **named leases** (`acquire_lease`), so that one replica at a time
//!   discovers a Warehouse;
//! - **LISTEN/NOTIFY**: `watch` tells every replica about new Freight,
//!   approvals, queued and finished promotions as they commit;
//! - **retries**: operations that failed on a broken connection run again
//!   with backoff;
//! - row locks (`SELECT … FOR UPDATE`) for read-modify-write transitions
//!   and the same partial unique index as SQLite, so at most one
//!   promotion per Stage runs whatever the replicas do.
//!
//! The SQLite store implements claims, leases and `watch` too, for the
//! processes that share its file (its changes are seen in-process only).
//!
//! ## Why `postgres` is a default feature
//! The runner (`kargo … --state postgres://…`) and CI use it; it adds
//! sqlx's PostgreSQL driver (no TLS: connect through the host's network
//! or a local proxy). Turn default features off to build SQLite alone.
//!
//! # Example
//! ```
//! # #[cfg(feature = "sqlite")]
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use kargo_core::state::{FreightQuery, StateStore};
//! use kargo_store::sqlite::SqliteStore;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = SqliteStore::open(dir.path().join("state.db")).await.unwrap();
//! assert!(store.list_freight(&FreightQuery::all()).await.unwrap().is_empty());
//! # });
//! ```
//!
//! MSRV: Rust 1.95.

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod doc;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod migrations;
mod open;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use open::{display_location, open, open_existing};
