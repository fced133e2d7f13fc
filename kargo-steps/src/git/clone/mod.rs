//! `git-clone`: working trees of a repository at paths in the work directory.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use super::Author;
use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use step::{GitClone, derive_sparse};

/// The step kind.
pub const KIND: &str = "git-clone";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("repoURL", NonEmpty),
    ("author.name", NonEmpty),
    ("checkout", NonEmpty),
    ("checkout[].path", NonEmpty),
    ("checkout[].sparse", NonEmpty),
    ("checkout[].sparse[]", NonEmpty),
];

/// Where in the work directory the step reads and writes. Its working trees
/// are its own, whatever an earlier clone checked out.
const TOUCHES: Touches = Touches::Nothing;

/// The `git-clone` step's config (Kargo's `GitCloneConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The remote repository.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// What to check out where; at least one.
    pub checkout: Vec<Checkout>,
    /// Authorship of commits made in these working trees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Author>,
    /// Skip TLS certificate verification.
    #[serde(default, rename = "insecureSkipTLSVerify")]
    pub insecure_skip_tls_verify: bool,
    /// Initialise and update submodules recursively in every checkout
    /// (`git submodule update --init --recursive`). Each submodule gets the
    /// git credentials looked up for its own URL, never those of `repoURL`
    /// (unless it is the same repository).
    #[serde(default)]
    pub recurse_submodules: bool,
    /// Clone without file contents (`--filter=blob:none`) where the server
    /// allows it: a new cached repository gets commits and trees only, and
    /// each checkout fetches the contents it writes (with `sparse`, only
    /// those of its directories).
    #[serde(default)]
    pub blobless: bool,
}

/// One checkout of a `git-clone` config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Checkout {
    /// A branch (exclusive with `commit` and `tag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// A commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// A tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Where to check out, relative to the work directory.
    pub path: String,
    /// Create `branch` as an empty orphan if the remote lacks it.
    #[serde(default)]
    pub create: bool,
    /// Directories to check out (cone mode; no globs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse: Option<Vec<String>>,
    /// The key of this checkout in the `commits` output (default: `path`).
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}
