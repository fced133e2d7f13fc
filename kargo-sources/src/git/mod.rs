//! Git commits, from repositories kept in kargo-git's [`RepoCache`].
//!
//! [`GitSource`] handles `git` subscriptions with Kargo's fields and rules:
//! - `commitSelectionStrategy`: `NewestFromBranch` (the default) walks the
//!   first-parent history of `branch` (the remote's default branch when
//!   empty), newest first, stopping at commits older than `since`;
//!   `SemVer` (tags as semantic versions, `semverConstraint`,
//!   `strictSemvers`), `Lexical` (tag names, greatest first) and
//!   `NewestTag` (tagger date of annotated tags, commit date of
//!   lightweight ones, newest first) select tags.
//! - `allowTagsRegexes` / `ignoreTagsRegexes` (an ignore match wins); the
//!   deprecated `allowTags` / `ignoreTags` are errors with a tag-based
//!   strategy, as in Kargo.
//! - `includePaths` / `excludePaths`: a commit counts when one of the paths
//!   it changed against its first parent is included (every path is,
//!   without `includePaths`) and not excluded. Selectors are base
//!   directories, `glob:` patterns or `regex:` patterns (see
//!   [`paths`](self#path-selectors)).
//! - `expressionFilter`: a Kargo expression over each candidate. Commits
//!   of a branch see `id`, `commitDate`, `author`, `committer` and
//!   `subject`; tags see `tag`, `id`, `creatorDate`, `author`,
//!   `committer`, `subject`, `tagger` and `annotation`. It must give a
//!   bool (or text Go's `strconv.ParseBool` reads).
//! - `discoveryLimit` (1 to 100).
//!
//! Each result maps to a Freight commit as Kargo's Warehouse does it:
//! `repoURL` as written, `id`, `branch` (the subscription's, for
//! NewestFromBranch), `tag`, `message` (the subject, cut to 80 bytes),
//! `author`, `committer` and the subscription's name, so Freight IDs
//! equal Kargo's.
//!
//! # No fetch when nothing moved
//! Every discovery first lists the remote's refs (one ls-remote round
//! trip through gix, [`RepoCache::ls_remote`]). What the subscription
//! watches (the branch tip, or the tags passing its name filters: Kargo's
//! `observedRefs`) is compared with the last discovery of the same
//! subscription; when equal, the last result is returned with no fetch and
//! no history walk. Otherwise the cache is fetched, unless it already
//! holds exactly the remote's refs (another subscription fetched them).
//! [`GitSource::stats`] counts listings, fetches and reused results.
//!
//! # Path selectors
//! As Kargo reads them: `glob:PATTERN` (`*` within one directory, `**`
//! across directories, `?`, `[...]`, `{a,b}`), `regex:PATTERN` or
//! `regexp:PATTERN` (a search anywhere in the path), and anything else a
//! base directory, matching itself and everything under it.
//!
//! # Departures from Kargo
//! - Dates in `expressionFilter` are RFC 3339 strings in UTC, not Go
//!   times. They have the Go time methods Kargo's docs and tests call
//!   (`creatorDate.Year() >= 2023`, `commitDate.After(date('2025-01-01'))`,
//!   see [`kargo_core::expr`]), read in UTC, and also compare as text
//!   (`commitDate >= '2025-01-01'`).

mod history;
mod paths;
mod select;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kargo_core::credentials::{CredentialType, CredentialsProvider, NoCredentials};
use kargo_core::model::{GitSubscription, RepoSubscription, SubscriptionSource};
use kargo_git::RepoCache;

use crate::source::{Capabilities, DiscoverOptions, Discovered, GitDiscovery, Source, unsupported};

/// Whether a push of one of `refs` (`refs/heads/main`,
/// `refs/tags/v1.2.0`) changing `changed_paths` could change what
/// `subscription` selects: Kargo's `MatchesRef` and `MatchesPaths`, which
/// its webhook receivers ask before refreshing a Warehouse. A branch
/// subscription matches a push to its branch (without one: `main` or
/// `master`); a tag-based one a tag passing its regexes (and, with
/// `SemVer`, its constraint). With `changed_paths` given (empty: unknown),
/// one of them must also pass `includePaths` and `excludePaths`. Reads no
/// repository. A subscription that does not compile is an error naming
/// the field.
///
/// ```
/// use kargo_core::model::GitSubscription;
///
/// let mut sub = GitSubscription::default();
/// sub.repo_url = "https://github.com/acme/config".into();
/// sub.branch = "release".into();
/// sub.include_paths = vec!["apps/web".into()];
/// let matches = |refs: &[&str], paths: &[&str]| {
///     let refs: Vec<String> = refs.iter().map(|r| r.to_string()).collect();
///     let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
///     kargo_sources::git::push_matches(&sub, &refs, &paths).unwrap()
/// };
/// assert!(matches(&["refs/heads/release"], &["apps/web/values.yaml"]));
/// assert!(matches(&["refs/heads/release"], &[]));
/// assert!(!matches(&["refs/heads/release"], &["apps/api/values.yaml"]));
/// assert!(!matches(&["refs/heads/main"], &["apps/web/values.yaml"]));
/// ```
pub fn push_matches<S: AsRef<str>>(
    subscription: &GitSubscription,
    refs: &[S],
    changed_paths: &[S],
) -> Result<bool, Error> {
    Ok(Selector::new(subscription)?.matches_push(refs, changed_paths))
}
use select::{Observed, Selector};

/// The subscription key [`GitSource`] handles.
pub const KIND: &str = "git";

/// The error of git discovery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A subscription field is unusable.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The field, e.g. `semverConstraint`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `expressionFilter` failed on a candidate.
    #[error("evaluating `expressionFilter`: {0}")]
    Expression(#[source] kargo_core::expr::ExprError),
    /// `expressionFilter` gave something that is not a bool.
    #[error("`expressionFilter` `{expression}` gave `{value}`, which is not a bool")]
    NotABool {
        /// The expression.
        expression: String,
        /// What it gave, as text.
        value: String,
    },
    /// The subscription's branch is not on the remote.
    #[error("branch `{branch}` does not exist")]
    BranchNotFound {
        /// The branch.
        branch: String,
    },
    /// Listing or fetching the remote failed.
    #[error(transparent)]
    Remote(#[from] kargo_git::cache::Error),
    /// The cached repository could not be read.
    #[error("reading the cached repository of {url}: {reason}")]
    Read {
        /// The repository (secrets removed).
        url: String,
        /// Why.
        reason: String,
    },
    /// The credentials provider failed.
    #[error("looking up credentials: {0}")]
    Credentials(#[source] kargo_core::Error),
    /// Discovery was cancelled.
    #[error("discovery was cancelled")]
    Cancelled,
    /// An error, with the subscription it happened in.
    #[error("{subscription}: {source}")]
    Subscription {
        /// `git subscription "name" (repoURL)`, or similar.
        subscription: String,
        /// The error.
        source: Box<Error>,
    },
}

impl Error {
    fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }

    fn read(url: &str, reason: impl fmt::Display) -> Error {
        Error::Read {
            url: kargo_git::cli::redact_url(url),
            reason: reason.to_string(),
        }
    }

    fn root(&self) -> &Error {
        match self {
            Error::Subscription { source, .. } => source.root(),
            e => e,
        }
    }

    /// Whether the failure may pass on another attempt: listing or
    /// fetching the remote failed for a reason
    /// [`kargo_git::cache::Error::is_retryable`] counts, or the credentials
    /// provider failed temporarily.
    pub fn is_temporary(&self) -> bool {
        match self.root() {
            Error::Remote(e) => e.is_retryable(),
            Error::Credentials(e) => e.is_temporary(),
            _ => false,
        }
    }
}

impl From<Error> for kargo_core::Error {
    fn from(e: Error) -> Self {
        match e.root() {
            Error::Invalid { .. } | Error::Expression(_) | Error::NotABool { .. } => {
                kargo_core::Error::Invalid(e.to_string())
            }
            Error::Remote(kargo_git::cache::Error::Authentication { .. }) => {
                kargo_core::Error::Precondition(e.to_string())
            }
            _ => {
                let status = kargo_core::ErrorStatus::temporary_if(e.is_temporary());
                kargo_core::Error::with_status(KIND, status, e)
            }
        }
    }
}

/// How often a [`GitSource`] talked to remotes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// ls-remote round trips (one per discovery).
    pub listings: u64,
    /// Fetches into the cache.
    pub fetches: u64,
    /// Discoveries answered from the last result because the watched refs
    /// had not moved.
    pub reused: u64,
}

#[derive(Debug, Default)]
struct Counters {
    listings: AtomicU64,
    fetches: AtomicU64,
    reused: AtomicU64,
}

/// Builds a [`GitSource`].
#[derive(Clone)]
pub struct Builder {
    cache: Option<RepoCache>,
    credentials: Arc<dyn CredentialsProvider>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            cache: None,
            credentials: Arc::new(NoCredentials),
        }
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("cache", &self.cache)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl Builder {
    /// Keep repositories in `cache` (default: [`RepoCache::from_env`]).
    pub fn with_cache(mut self, cache: RepoCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Git credentials come from `provider`.
    pub fn with_credentials(mut self, provider: Arc<dyn CredentialsProvider>) -> Self {
        self.credentials = provider;
        self
    }

    /// The source.
    pub fn build(self) -> GitSource {
        GitSource {
            inner: Arc::new(Inner {
                cache: self.cache.unwrap_or_else(RepoCache::from_env),
                credentials: self.credentials,
                last: Mutex::new(HashMap::new()),
                counters: Counters::default(),
            }),
        }
    }
}

/// Discovers commits for `git` subscriptions.
///
/// ```no_run
/// use kargo_sources::SourceExt;
/// use kargo_sources::git::GitSource;
/// use kargo_core::model::RepoSubscription;
///
/// # async fn demo() -> kargo_core::Result<()> {
/// let source = GitSource::builder().build();
/// let sub: RepoSubscription = serde_json::from_str(
///     r#"{"git": {"repoURL": "https://github.com/acme/app.git", "includePaths": ["deploy"]}}"#,
/// ).unwrap();
/// let newest = source.latest(&sub).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct GitSource {
    inner: Arc<Inner>,
}

struct Inner {
    cache: RepoCache,
    credentials: Arc<dyn CredentialsProvider>,
    /// The last result of each subscription (by its JSON), with what it
    /// watched.
    last: Mutex<HashMap<String, (Observed, GitDiscovery)>>,
    counters: Counters,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitSource")
            .field("cache", &self.cache)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl Default for GitSource {
    fn default() -> Self {
        Builder::default().build()
    }
}

/// The most subscriptions whose last result is kept.
const LAST_LIMIT: usize = 4096;

impl GitSource {
    /// A builder with default settings.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// How often this source (and its clones) listed, fetched and reused.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        Stats {
            listings: c.listings.load(Ordering::Relaxed),
            fetches: c.fetches.load(Ordering::Relaxed),
            reused: c.reused.load(Ordering::Relaxed),
        }
    }

    async fn discover_git(
        &self,
        subscription: &RepoSubscription,
        sub: &GitSubscription,
        options: &DiscoverOptions,
    ) -> Result<GitDiscovery, Error> {
        let selector = Arc::new(Selector::new(sub)?);
        let inner = &self.inner;
        let credentials = inner
            .credentials
            .get(CredentialType::Git, &sub.repo_url)
            .await
            .map_err(Error::Credentials)?;
        // Discovery reads commits and trees only: a blobless cache serves it.
        let cache_options = kargo_git::cache::Options::default()
            .with_insecure_skip_tls_verify(sub.insecure_skip_tls_verify)
            .with_blobless(sub.blobless.unwrap_or(false));
        let interrupt = Arc::new(AtomicBool::new(false));
        // Cancellation stops a transfer in flight.
        let _watch = options.cancel.clone().map(|token| {
            let interrupt = interrupt.clone();
            tokio::spawn(async move {
                token.cancelled().await;
                interrupt.store(true, Ordering::SeqCst);
            })
            .abort_handle()
        });
        let _watch = _watch.map(AbortOnDrop);

        let listed = inner
            .cache
            .ls_remote(
                &sub.repo_url,
                credentials.clone(),
                &cache_options,
                interrupt.clone(),
            )
            .await?;
        inner.counters.listings.fetch_add(1, Ordering::Relaxed);
        let key = serde_json::to_string(subscription).unwrap_or_default();
        let observed = selector.observe(&listed.refs, listed.default_branch.as_deref());
        if let Some(observed) = &observed
            && let Some((last_observed, last)) =
                inner.last.lock().ok().and_then(|m| m.get(&key).cloned())
            && &last_observed == observed
        {
            inner.counters.reused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(repo = %kargo_git::cli::redact_url(&sub.repo_url), "refs unchanged; no fetch");
            return Ok(last);
        }

        let repo_dir = inner.cache.repo_dir(&sub.repo_url);
        let url = sub.repo_url.clone();
        let local = kargo_git::maybe_spawn_blocking(move || {
            history::History::open(&repo_dir, &url)?.refs()
        })
        .await?;
        let (refs, default_branch) = if local == listed.refs {
            (listed.refs, listed.default_branch)
        } else {
            let fetched = inner
                .cache
                .fetch(&sub.repo_url, credentials, &cache_options, interrupt)
                .await?;
            inner.counters.fetches.fetch_add(1, Ordering::Relaxed);
            (fetched.refs, fetched.default_branch)
        };
        let observed = selector.observe(&refs, default_branch.as_deref());

        let repo_dir = inner.cache.repo_dir(&sub.repo_url);
        let url = sub.repo_url.clone();
        let cancel = options.cancel.clone();
        let select = selector.clone();
        let commits = kargo_git::maybe_spawn_blocking(move || {
            let mut history = history::History::open(&repo_dir, &url)?;
            let cancelled = || cancel.as_ref().is_some_and(|c| c.is_cancelled());
            select.select(&mut history, &refs, default_branch.as_deref(), &cancelled)
        })
        .await?;
        let found = GitDiscovery {
            repo_url: sub.repo_url.clone(),
            commits,
            subscription_name: subscription.name.clone(),
        };
        if let (Some(observed), Ok(mut last)) = (observed, inner.last.lock()) {
            if last.len() >= LAST_LIMIT {
                last.clear();
            }
            last.insert(key, (observed, found.clone()));
        }
        Ok(found)
    }
}

/// Aborts a watcher task when discovery ends.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[async_trait]
impl Source for GitSource {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            subscription_types: vec![KIND],
            strategies: vec!["NewestFromBranch", "SemVer", "Lexical", "NewestTag"],
            platforms: false,
            layout_directories: false,
        }
    }

    async fn discover(
        &self,
        subscription: &RepoSubscription,
        options: DiscoverOptions,
    ) -> kargo_core::Result<Discovered> {
        let SubscriptionSource::Git(sub) = &subscription.source else {
            return Err(unsupported(subscription.source.type_key(), "GitSource"));
        };
        self.discover_git(subscription, sub, &options)
            .await
            .map(Discovered::Commits)
            .map_err(|e| {
                let shown = kargo_git::cli::redact_url(&sub.repo_url);
                Error::Subscription {
                    subscription: crate::source::describe(KIND, &subscription.name, &shown),
                    source: Box::new(e),
                }
                .into()
            })
    }
}
