//! The PostgreSQL store: one database shared by several host replicas.
//!
//! - **Claims with leases.** [`claim_promotion`] selects the next
//!   claimable promotion `FOR UPDATE SKIP LOCKED`, so replicas racing for
//!   work never wait for each other and never take the same promotion;
//!   the `promotions.owner` and `lease_until` columns mirror the lease in
//!   the document. A partial unique index keeps one `Running` promotion
//!   per Stage whatever happens.
//! - **Row locks.** Every read-modify-write transition locks the rows it
//!   changes (`SELECT … FOR UPDATE`), in one order (promotion, Stage,
//!   Freight by name), so concurrent replicas apply Kargo's transitions
//!   one after the other.
//! - **LISTEN/NOTIFY.** Transitions send their [`Change`] with
//!   `pg_notify` inside their transaction (delivered on commit);
//!   [`watch`] listens on one extra connection, which reconnects by
//!   itself and reports [`Change::Missed`] after a gap.
//! - **Connection loss.** An operation that failed on a connection error
//!   (the server restarted, the connection was terminated) runs again on
//!   a fresh connection with exponential backoff, for up to
//!   [`PostgresOptions::retry_for`]. Each operation is one transaction,
//!   so a failed attempt changed nothing. When the connection breaks
//!   after a commit was sent but before it was acknowledged, the attempt
//!   runs again on a state that already holds its change. Claims, saves,
//!   finishes, aborts, approvals, verifications and leases are
//!   idempotent, and `put_freight` then reports the Freight as existing;
//!   only `create_promotion` may queue the promotion a second time.
//!
//! [`claim_promotion`]: kargo_core::state::StateStore::claim_promotion
//! [`watch`]: kargo_core::state::StateStore::watch
//! [`Change`]: kargo_core::state::Change
//! [`Change::Missed`]: kargo_core::state::Change::Missed

mod error;
mod listen;
mod retry;
mod store;

pub use store::{PostgresOptions, PostgresStore};

/// The store's kind name.
pub const KIND: &str = "postgres";

/// The channel the store's change notifications travel on.
pub const CHANNEL: &str = "kargo_changes";

/// Whether `location` names a PostgreSQL database (`postgres://` or
/// `postgresql://`).
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// `url` as errors and logs show it: kargo-core's one redaction (the
/// password and query values become `***`).
pub use kargo_core::urls::redact_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_told_from_paths() {
        assert!(is_postgres_url("postgres://localhost/db"));
        assert!(is_postgres_url("postgresql://localhost/db"));
        assert!(!is_postgres_url("state.db"));
        assert!(!is_postgres_url("/var/lib/kargo/postgres.db"));
    }
}
