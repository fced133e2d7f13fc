//! The built-in promotion steps of kargo-rs.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]

use kargo_core::step::StepRegistry;

/// Registers every built-in step in `registry`.
pub fn register_builtins(registry: &mut StepRegistry) {
    let _ = registry;
}
