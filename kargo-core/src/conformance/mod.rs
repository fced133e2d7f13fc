//! Conformance test suites for implementations of kargo-core's traits.
//!
//! Not semver-stable: cases are added as the contracts are refined. Turn
//! the `conformance` feature on in an implementation crate's
//! `[dev-dependencies]` and run every suite against the implementation,
//! also through `Box<dyn _>` and `Arc<dyn _>`.

pub mod state_store;
