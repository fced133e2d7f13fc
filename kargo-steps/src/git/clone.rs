//! `git-clone`: working trees of a repository at paths in the work directory.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use kargo_core::credentials::CredentialType;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, parse_config};
use kargo_git::checkout::{self, Revision};
use kargo_git::{RepoCache, cache, maybe_spawn_blocking};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Author, non_empty, resolve};

/// The step kind.
pub const KIND: &str = "git-clone";

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
    /// Clone submodules too (not supported; rejected when true).
    #[serde(default)]
    pub recurse_submodules: bool,
    /// Ask for a blobless clone. Accepted; the shared cache fetches full
    /// history once and then only what is new, which serves the same end.
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

impl Checkout {
    fn revision(&self) -> Result<Revision, StepError> {
        match (
            non_empty(&self.branch),
            non_empty(&self.commit),
            non_empty(&self.tag),
        ) {
            (None, None, None) => Ok(Revision::DefaultBranch),
            (Some(b), None, None) => Ok(Revision::Branch(b.to_owned())),
            (None, Some(c), None) => Ok(Revision::Commit(c.to_owned())),
            (None, None, Some(t)) => Ok(Revision::Tag(t.to_owned())),
            _ => Err(StepError::failed(format!(
                "invalid {KIND} config: checkout of `{}` names more than one of branch, commit and tag",
                self.path
            ))),
        }
    }
}

/// The `git-clone` step: fetches the repository into a shared
/// [`RepoCache`] and writes a working tree per checkout. Output:
/// `commits`, the commit checked out per alias (or path).
#[derive(Debug, Clone)]
pub struct GitClone {
    cache: RepoCache,
    depth: Option<std::num::NonZeroU32>,
}

impl Default for GitClone {
    fn default() -> Self {
        GitClone::new(RepoCache::from_env())
    }
}

impl GitClone {
    /// A `git-clone` step using `cache`.
    pub fn new(cache: RepoCache) -> Self {
        GitClone { cache, depth: None }
    }

    /// Makes new cached repositories shallow (`depth` commits per branch;
    /// `None`, the default, fetches full history as Kargo does). Working
    /// trees of a shallow cache can still commit, rebase and push.
    pub fn with_depth(mut self, depth: Option<std::num::NonZeroU32>) -> Self {
        self.depth = depth;
        self
    }
}

#[async_trait]
impl Step for GitClone {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        if config.repo_url.is_empty() || config.checkout.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: repoURL and at least one checkout are required"
            )));
        }
        if config.recurse_submodules {
            return Err(StepError::failed(format!(
                "{KIND}: recurseSubmodules is not supported"
            )));
        }
        let author = config
            .author
            .as_ref()
            .map(|a| a.identity(KIND))
            .transpose()?;
        let mut aliases = BTreeSet::new();
        let mut planned = Vec::new();
        for c in &config.checkout {
            let key = non_empty(&c.alias).unwrap_or(&c.path).to_owned();
            if !aliases.insert(key.clone()) {
                return Err(StepError::failed(format!(
                    "invalid {KIND} config: duplicate checkout alias {key:?}"
                )));
            }
            let dir = resolve(ctx, KIND, &c.path)?;
            let options = checkout::Options::new(c.revision()?)
                .with_create(c.create)
                .with_sparse(c.sparse.clone())
                .with_author(author.clone())
                .with_insecure_skip_tls_verify(config.insecure_skip_tls_verify);
            planned.push((key, dir, options));
        }

        let url = config.repo_url.clone();
        let credentials = ctx
            .credentials
            .get(CredentialType::Git, &url)
            .await
            .map_err(|e| {
                StepError::retryable(format!("{KIND}: cannot look up credentials for {url}"))
                    .with_source(e)
            })?;
        let interrupt = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (cancel, flag) = (ctx.cancel.clone(), Arc::clone(&interrupt));
            tokio::spawn(async move {
                cancel.cancelled().await;
                flag.store(true, Ordering::SeqCst);
            })
        };
        let options = cache::Options::default()
            .with_insecure_skip_tls_verify(config.insecure_skip_tls_verify)
            .with_depth(self.depth);
        let fetched = self
            .cache
            .fetch(&url, credentials.clone(), &options, interrupt)
            .await;
        watcher.abort();
        let fetched = fetched.map_err(|e| {
            if e.is_retryable() {
                StepError::retryable(format!("{KIND}: {e}"))
            } else {
                StepError::terminal(format!("{KIND}: {e}"))
            }
        })?;

        let fetched = Arc::new(fetched);
        let mut commits = Map::new();
        for (key, dir, options) in planned {
            let (fetched, creds) = (Arc::clone(&fetched), credentials.clone());
            let outcome = maybe_spawn_blocking(move || {
                checkout::checkout(&fetched, &dir, &options, creds.as_ref())
            })
            .await
            .map_err(|e| match e {
                checkout::Error::Git { .. }
                | checkout::Error::Io { .. }
                | checkout::Error::Push(_) => StepError::retryable(format!("{KIND}: {e}")),
                other => StepError::failed(format!("{KIND}: {other}")),
            })?;
            commits.insert(key, Value::String(outcome.commit));
        }
        Ok(StepOutcome::succeeded().with_output("commits", Value::Object(commits)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kargos_documented_example_deserializes() {
        let config: Config = serde_json::from_value(serde_json::json!({
            "repoURL": "https://github.com/example/repo.git",
            "checkout": [
                {"branch": "main", "path": "./src"},
                {"branch": "stage/test", "create": true, "path": "./out", "as": "out"},
                {"tag": "v1.0.0", "path": "./tag", "sparse": ["charts"]}
            ],
            "author": {"name": "Kargo", "email": "kargo@example.com"},
            "insecureSkipTLSVerify": false
        }))
        .unwrap();
        assert_eq!(config.checkout[1].alias.as_deref(), Some("out"));
        assert_eq!(
            config.checkout[2].revision().unwrap(),
            Revision::Tag("v1.0.0".into())
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = parse_config::<Config>(
            KIND,
            serde_json::json!({"repoURL": "x", "checkout": [], "depth": 1}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("depth"), "{err}");
    }
}
