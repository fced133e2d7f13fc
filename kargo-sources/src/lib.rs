//! Warehouse sources for kargo-rs: they discover the artifact versions a
//! Warehouse subscribes to, and [`warehouse`] turns the newest of each into
//! Freight with Kargo's ID.
//!
//! kargo-rs is a family of crates: `kargo-core` (model, engine, the
//! contracts), `kargo-git` (repositories), `kargo-sources` (this crate),
//! `kargo-steps` (built-in steps) and the facade `kargo`.
//!
//! # Sources
//! A [`Source`] handles the subscription types its
//! [`capabilities`](Source::capabilities) name; [`warehouse::Sources`]
//! dispatches a Warehouse's subscriptions to them.
#![cfg_attr(
    feature = "oci",
    doc = "- [`oci::ImageSource`]: `image` subscriptions, from registries or OCI image-layout directories."
)]
#![cfg_attr(
    feature = "oci",
    doc = "- [`oci::ArtifactSource`]: generic `oci` subscriptions, OCI artifacts of any media type."
)]
#![cfg_attr(
    feature = "helm",
    doc = "- [`helm::ChartSource`]: `chart` subscriptions, classic (`index.yaml`) and `oci://` repositories."
)]
#![cfg_attr(
    feature = "git",
    doc = "- [`git::GitSource`]: `git` subscriptions, through kargo-git's repository cache."
)]
//!
//! # Feature flags
//! - `oci` (default): image and OCI artifact sources (oci-client over
//!   reqwest with rustls).
//! - `helm` (default): the Helm chart source (implies `oci`).
//! - `git` (default): the git source (kargo-git, gix).
//! - `conformance`: the public [`Source`] conformance suite (not
//!   semver-stable).
//!
//! # Design decisions
//! - **Discovery returns Kargo's discovery results**, newest first, and
//!   Freight is built from the first entry of each, exactly as Kargo's
//!   Warehouse controller does; so Freight IDs match Kargo's.
//! - **Metadata is cached by digest only.** A digest names immutable
//!   content, so the cache is never stale; tags are always re-read.
//!
//! MSRV: Rust 1.95.

#[cfg(any(feature = "conformance", test))]
pub mod conformance;
#[cfg(feature = "git")]
pub mod git;
#[cfg(feature = "helm")]
pub mod helm;
#[cfg(feature = "oci")]
pub mod oci;
// Shared by the tag-based sources (images, git tags, charts).
#[cfg_attr(not(any(feature = "oci", feature = "git")), allow(dead_code))]
mod source;
pub mod warehouse;

pub use source::{
    ArtifactDiscovery, Capabilities, ChartDiscovery, DiscoverOptions, Discovered, DiscoveredCommit,
    DiscoveredImage, DynSource, FreightEntry, GitDiscovery, ImageDiscovery, Source, SourceExt,
};
