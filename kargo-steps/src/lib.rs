//! The built-in promotion steps of kargo-rs, named and configured as
//! Kargo's steps are, so Kargo promotion templates run unchanged.
//!
//! kargo-rs is a family of crates: `kargo-core` (model, engine, the `Step`
//! trait), `kargo-git`, `kargo-sources`, `kargo-steps` (this crate) and the
//! `kargo` facade. Hosts call [`register_builtins`] and add their own steps
//! to the same [`StepRegistry`].
//!
//! ```
//! let mut registry = kargo_core::step::StepRegistry::new();
//! kargo_steps::register_builtins(&mut registry);
//! assert!(registry.get("compose-output").is_some());
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

pub mod compose_output;
pub mod fail;
pub mod file_write;
pub mod fs;
#[cfg(feature = "git")]
pub mod git;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http")]
pub mod http_download;
#[cfg(all(test, feature = "http"))]
mod test_support;

pub use compose_output::ComposeOutput;
pub use fail::Fail;
pub use file_write::FileWrite;
#[cfg(feature = "http")]
pub use http::Http;
#[cfg(feature = "http")]
pub use http_download::HttpDownload;

use kargo_core::step::StepRegistry;

/// Registers every built-in step in `registry`, replacing any step a
/// host registered under the same kind before.
pub fn register_builtins(registry: &mut StepRegistry) {
    registry.replace(compose_output::KIND, ComposeOutput);
    registry.replace(fail::KIND, Fail);
    registry.replace(file_write::KIND, FileWrite);
    #[cfg(feature = "git")]
    git::register(registry);
    #[cfg(feature = "http")]
    {
        registry.replace(http::KIND, Http::new());
        registry.replace(http_download::KIND, HttpDownload::new());
    }
}
