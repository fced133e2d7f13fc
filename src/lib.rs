#![doc = include_str!("../README.md")]
//!
//! # Crates
//!
//! This facade re-exports the crates of the family:
//! - [`core`]: model, manifests, expressions, the `Step` trait, the engine.
//! - [`steps`]: the built-in steps.
#![cfg_attr(
    feature = "git",
    doc = "- [`git`]: repositories and pull-request providers."
)]
#![cfg_attr(feature = "sources", doc = "- [`sources`]: Warehouse sources.")]
#![cfg_attr(
    feature = "store",
    doc = "- [`store`]: state stores (SQLite, PostgreSQL)."
)]
#![cfg_attr(
    feature = "runtime",
    doc = "- [`runtime`]: the controller (promote, approve, verify, discover, run)."
)]
#![cfg_attr(
    feature = "cloud-credentials",
    doc = "- [`credentials`]: ECR, Google Artifact Registry and Azure Container Registry tokens."
)]
//! - [`prelude`]: the names a host application uses most.

pub use kargo_core as core;
#[cfg(feature = "cloud-credentials")]
pub use kargo_credentials as credentials;
#[cfg(feature = "git")]
pub use kargo_git as git;
#[cfg(feature = "runtime")]
pub use kargo_runtime as runtime;
#[cfg(feature = "sources")]
pub use kargo_sources as sources;
pub use kargo_steps as steps;
#[cfg(feature = "store")]
pub use kargo_store as store;

/// The names a host application uses most: the model, the step trait and
/// its context, the store trait, and (with their features) the
/// controller and the store opener.
pub mod prelude {
    pub use kargo_core::model::{Freight, FreightOrigin, PromotionPhase, Stage, Warehouse};
    pub use kargo_core::state::{StateStore, StateStoreExt};
    pub use kargo_core::step::{Step, StepContext, StepError, StepOutcome, StepRegistry};
    #[cfg(feature = "runtime")]
    pub use kargo_runtime::{Controller, Event, PromoteRequest, RunOptions};
    #[cfg(feature = "store")]
    pub use kargo_store::open as open_store;
}
