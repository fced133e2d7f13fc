//! The SQLite store: the embedded default.

mod error;
mod store;

pub use store::SqliteStore;

/// The store's kind name.
pub const KIND: &str = "sqlite";
