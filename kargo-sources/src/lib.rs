//! Warehouse sources for kargo-rs: container images, OCI artifacts, git
//! commits and tags, Helm charts.
//!
//! This crate is a placeholder in the kargo-rs family (`kargo-core`,
//! `kargo-git`, `kargo-sources`, `kargo-steps`): discovery lands with the
//! warehouse work and offers nothing yet.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]
