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
//!
//! [`open`] opens a store from a location string (a SQLite file path or
//! `sqlite:` URL), the way a command line's `--state` value names it.
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
//! ## Several host replicas (a PostgreSQL store to follow)
//! SQLite serves one host (several processes on one machine may share the
//! file: writes take the lock up front and wait for each other). For
//! several replicas, a PostgreSQL store implements the same trait with
//! the same schema, and adds:
//! - **claims with leases**: `start_promotion` sets `owner` and
//!   `lease_until` on the promotion it starts; `save_promotion_state`
//!   renews the lease and fails with a precondition error once another
//!   owner holds it; a `Running` promotion whose lease expired may be
//!   claimed (and resumed from its saved state) by another replica;
//! - row locks (`SELECT … FOR UPDATE`) for read-modify-write transitions;
//! - the same partial unique index, so at most one promotion per Stage
//!   runs whatever the replicas do.
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
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]
#![warn(clippy::future_not_send)]

mod open;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use open::{display_location, open};
