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
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]

pub use kargo_core as core;
#[cfg(feature = "git")]
pub use kargo_git as git;
#[cfg(feature = "sources")]
pub use kargo_sources as sources;
pub use kargo_steps as steps;
