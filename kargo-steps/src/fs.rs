//! File helpers shared by the steps.

use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use kargo_core::step::StepError;

/// The one atomic write of kargo-rs (kargo-core's): a temporary file
/// beside the target, synced, then renamed over it.
pub use kargo_core::fs::{write_atomic, write_atomic_from};

/// A `.gitignore`-style matcher rooted at `root`: the `always` patterns
/// plus every line of `rules` that is neither blank nor a `#` comment.
/// A bad pattern is an unusable config value (`Failed`), naming the step
/// `kind`.
pub(crate) fn ignore_matcher(
    kind: &str,
    root: &Path,
    always: &[&str],
    rules: Option<&str>,
) -> Result<Gitignore, StepError> {
    let mut builder = GitignoreBuilder::new(root);
    let lines = rules.unwrap_or_default().lines().filter(|line| {
        let trimmed = line.trim();
        !trimmed.is_empty() && !trimmed.starts_with('#')
    });
    for line in always.iter().copied().chain(lines) {
        builder.add_line(None, line).map_err(|e| {
            StepError::failed(format!("{kind}: invalid ignore pattern `{line}`")).with_source(e)
        })?;
    }
    builder
        .build()
        .map_err(|e| StepError::failed(format!("{kind}: invalid ignore patterns")).with_source(e))
}
