//! The contract crate of kargo-rs: Kargo's model, manifests, expressions,
//! the [`Step`](step::Step) trait and its registry, the promotion engine,
//! the rules of a Stage [`pipeline`], and the [`StateStore`](state::StateStore)
//! trait with an in-memory store.
//!
//! kargo-rs is a family of crates:
//! - `kargo-core` (this crate): model, expressions, steps, engine. No
//!   network, no git.
//! - `kargo-git`: repositories, commits, pushes, pull-request providers.
//! - `kargo-sources`: Warehouse sources (images, OCI artifacts, git, charts).
//! - `kargo-credentials`: cloud registry tokens (ECR, GAR, ACR) behind the
//!   [`CredentialsProvider`](credentials::CredentialsProvider) trait.
//! - `kargo-store`: persistent state stores (SQLite, PostgreSQL).
//! - `kargo-steps`: the built-in steps.
//! - `kargo-runtime`: the controller (the promotion lifecycle over a store).
//! - `kargo-cli`: the `kargo` command.
//! - `kargo`: the facade that re-exports them.
//!
//! # Design decisions
//! - **Steps are stateless.** A step is registered once and shared by every
//!   promotion; all per-run data arrives in the
//!   [`StepContext`](step::StepContext). This keeps steps trivially
//!   thread-safe and lets the engine persist and resume a promotion without
//!   asking steps for anything.
//! - **The engine owns retries.** Steps say whether a failure is terminal
//!   or retryable, and whether they are still waiting; the engine counts
//!   errors against `retry.errorThreshold`, enforces `retry.timeout`, and
//!   saves the promotion's state after every step. So every step gets the
//!   same, Kargo-compatible retry semantics for free. As in Kargo, a step
//!   is retried on a later run of the promotion, not in a loop: between
//!   attempts the promotion is saved `Running`, visible and abortable.
//! - **The engine and the store do not know each other.** A promotion's
//!   progress ([`PromotionState`](model::PromotionState)) is model; the
//!   engine saves it through a [`Checkpoint`](checkpoint::Checkpoint),
//!   which stores implement; steps see the store through the narrow
//!   [`StepStore`](step::StepStore), so no step can queue or finish
//!   promotions.
//! - **Pipeline rules are pure.** Availability, soak, auto-promotion and
//!   Freight status updates take the time as an argument and touch no
//!   storage, so every store applies them identically and tests need no
//!   clock.
//!
//! # Feature flags
//! - `conformance`: the public conformance suites in `conformance`, for
//!   implementations of kargo-core's traits (not semver-stable).
//!
//! MSRV: Rust 1.95.

pub mod checkpoint;
#[cfg(any(feature = "conformance", test))]
pub mod conformance;
pub mod credentials;
pub mod duration;
pub mod engine;
mod error;
pub mod expr;
pub mod fs;
pub mod manifest;
pub mod model;
pub mod pipeline;
pub mod process;
pub mod retry;
pub mod semver;
pub mod state;
pub mod step;
pub mod time;
pub mod urls;
mod workspace;

pub use error::{BoxError, Error, ErrorStatus, Result};
pub use workspace::{DEFAULT_MAX_FILE_BYTES, MAX_FILE_BYTES_ENV, PathError, ReadError, Workspace};
