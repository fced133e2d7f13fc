//! The integration tests, in one binary: one link instead of one per file.

mod archive_steps;
#[cfg(feature = "argocd")]
mod argocd_steps;
mod file_steps;
mod git_steps;
mod manifest_steps;
#[cfg(feature = "oci")]
mod oci_steps;
mod pr_steps;
#[cfg(all(feature = "kustomize", feature = "helm"))]
mod render_steps;
mod state_steps;
