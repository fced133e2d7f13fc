//! Git repositories for kargo-rs: a clone cache, worktrees, commits and
//! pushes, and the `GitProvider` trait for pull requests.
//!
//! This crate is a placeholder in the kargo-rs family (`kargo-core`,
//! `kargo-git`, `kargo-sources`, `kargo-steps`): its functionality lands
//! with the git work and offers nothing yet.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]
