//! Pull requests: the [`GitProvider`] trait, its shared types and error,
//! and provider selection.
//!
//! Providers:
//! - [`local::LocalProvider`] (always built, the embedded default): pull
//!   requests on a plain repository, their records kept inside it under
//!   `refs/kargo/pulls/<number>`, merged by the library.
#![cfg_attr(
    feature = "github",
    doc = "- [`github::GitHubProvider`]: github.com and GitHub Enterprise (`/api/v3`)."
)]
#![cfg_attr(
    feature = "gitlab",
    doc = "- [`gitlab::GitLabProvider`]: merge requests on gitlab.com and self-hosted GitLab."
)]
#![cfg_attr(
    feature = "gitea",
    doc = "- [`gitea::GiteaProvider`]: Gitea and Forgejo."
)]
#![cfg_attr(
    feature = "bitbucket",
    doc = "- [`bitbucket::BitbucketProvider`]: Bitbucket Cloud (bitbucket.org)."
)]
#![cfg_attr(
    feature = "azure",
    doc = "- [`azure::AzureProvider`]: Azure DevOps (dev.azure.com, `*.visualstudio.com`, Azure DevOps Server)."
)]
//!
#![cfg_attr(
    feature = "github",
    doc = "\nBeside the pull requests, [`github_push`] pushes commits through GitHub's API (Kargo's `github-push`).\n"
)]
//!
//! [`select()`] picks one by name (`github`, `gitlab`, `gitea`, `azure`,
//! `bitbucket`, `local`, as Kargo's step configs name them) or from the
//! repository URL's host.

mod error;
pub mod local;
mod select;
mod types;

#[cfg(feature = "azure")]
pub mod azure;
#[cfg(feature = "bitbucket")]
pub mod bitbucket;
#[cfg(feature = "gitea")]
pub mod gitea;
#[cfg(feature = "github")]
pub mod github;
#[cfg(feature = "github")]
pub mod github_push;
#[cfg(feature = "gitlab")]
pub mod gitlab;
#[cfg(any(feature = "github", feature = "gitea"))]
mod repos;
#[cfg(feature = "rest")]
// Each helper serves some of the forges: built without all of them, the
// others' helpers are unused.
#[cfg_attr(
    not(all(
        feature = "github",
        feature = "gitlab",
        feature = "gitea",
        feature = "azure",
        feature = "bitbucket"
    )),
    allow(dead_code)
)]
pub mod rest;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

pub use error::Error;
pub use select::{ProviderKind, SelectOptions, select, select_kind};
pub use types::{
    Capabilities, ListOptions, MergeMethod, MergeOutcome, NewPullRequest, Opened, PrState,
    PullRequest, StateFilter,
};

/// Pull requests of one repository on one provider.
///
/// # Contract
/// - A provider is bound to one repository (given when it was built);
///   pull requests are named by their number in that repository.
/// - [`open`](GitProvider::open) reuses an open pull request from the same
///   source branch to the same target branch instead of opening a second
///   one, and says so in [`Opened::reused`].
/// - [`merge`](GitProvider::merge) of a merged pull request reports it as
///   merged again (idempotent); of a closed one fails with
///   [`Error::NotOpen`]. A pull request that cannot be merged yet (checks
///   pending, mergeability not computed) is [`MergeOutcome::NotReady`]; a
///   conflict is [`Error::Conflict`], and then nothing has changed.
/// - Operations a provider lacks fail with [`Error::Unsupported`];
///   [`capabilities`](GitProvider::capabilities) says which are there.
/// - Errors name the repository and the pull request, never a token.
///
/// # Examples
/// ```no_run
/// # async fn run() -> Result<(), kargo_git::provider::Error> {
/// use kargo_git::provider::{self, GitProvider, NewPullRequest, SelectOptions};
///
/// let prs = provider::select("https://github.com/acme/deploy.git", None, SelectOptions::default())?;
/// let opened = prs
///     .open(&NewPullRequest::new("kargo/promotion/prod.1", "main", "Promote v2"))
///     .await?;
/// println!("{} {}", opened.pr.number, opened.pr.url);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait GitProvider: Send + Sync + fmt::Debug + 'static {
    /// The provider's name (`local`, `github`, `gitlab`, `gitea`, `azure`,
    /// `bitbucket`).
    fn name(&self) -> &'static str;

    /// What this provider supports.
    fn capabilities(&self) -> Capabilities;

    /// Opens a pull request, or reuses the open one for the same branches.
    async fn open(&self, new: &NewPullRequest) -> Result<Opened, Error>;

    /// The pull request with `number`.
    async fn get(&self, number: u64) -> Result<PullRequest, Error>;

    /// The pull requests matching `options`, by number, lowest first.
    async fn list(&self, options: &ListOptions) -> Result<Vec<PullRequest>, Error>;

    /// Merges the pull request with `method` (the provider's default when
    /// `None`).
    async fn merge(&self, number: u64, method: Option<MergeMethod>) -> Result<MergeOutcome, Error>;

    /// Closes the pull request without merging it.
    async fn close(&self, number: u64) -> Result<PullRequest, Error>;

    /// Approves the pull request as the provider's user.
    async fn approve(&self, number: u64) -> Result<PullRequest, Error>;
}

/// A provider as a trait object.
pub type DynGitProvider = dyn GitProvider;

macro_rules! forward_provider {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: GitProvider + ?Sized> GitProvider for $ty {
            fn name(&self) -> &'static str {
                (**self).name()
            }
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            async fn open(&self, new: &NewPullRequest) -> Result<Opened, Error> {
                (**self).open(new).await
            }
            async fn get(&self, number: u64) -> Result<PullRequest, Error> {
                (**self).get(number).await
            }
            async fn list(&self, options: &ListOptions) -> Result<Vec<PullRequest>, Error> {
                (**self).list(options).await
            }
            async fn merge(&self, number: u64, method: Option<MergeMethod>) -> Result<MergeOutcome, Error> {
                (**self).merge(number, method).await
            }
            async fn close(&self, number: u64) -> Result<PullRequest, Error> {
                (**self).close(number).await
            }
            async fn approve(&self, number: u64) -> Result<PullRequest, Error> {
                (**self).approve(number).await
            }
        }
    )*};
}
forward_provider!(Box<T>, Arc<T>);

/// The open pull request from `source` to `target` among `prs`, if any
/// (the lowest number when there are several): what [`GitProvider::open`]
/// reuses.
pub(crate) fn reusable<'a>(
    prs: impl IntoIterator<Item = &'a PullRequest>,
    source: &str,
    target: &str,
) -> Option<&'a PullRequest> {
    prs.into_iter()
        .filter(|pr| {
            pr.state == PrState::Open && pr.source_branch == source && pr.target_branch == target
        })
        .min_by_key(|pr| pr.number)
}
