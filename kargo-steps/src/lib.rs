//! The built-in promotion steps of kargo-rs.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]

use kargo_core::step::StepRegistry;

#[cfg(feature = "terraform")]
pub mod terraform;
#[cfg(feature = "terraform")]
pub use terraform::{TfApply, TfOutput, TfPlan};

/// Registers every built-in step in `registry`.
pub fn register_builtins(registry: &mut StepRegistry) {
    let _ = &registry;
    #[cfg(feature = "terraform")]
    terraform::register(registry);
}
