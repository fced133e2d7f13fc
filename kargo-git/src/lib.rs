//! Git repositories for kargo-rs: a repository cache fetched into with gix,
//! working trees that borrow the cache's objects, commits, tags, and pushes
//! that integrate concurrent remote changes and retry.
//!
//! kargo-rs is a family of crates: `kargo-core` (model, steps, engine),
//! `kargo-git` (this crate), `kargo-sources` (Warehouse sources),
//! `kargo-steps` (the built-in steps, whose `git-*` steps use this crate)
//! and the `kargo` facade.
//!
//! # Operations
//! One module per operation, each with its options, outcome and error:
//! - [`cache`]: [`RepoCache`], one bare repository per remote URL, fetched
//!   with gix over `file://` and smart HTTP(S), locked per repository so
//!   several promotions and processes can share it.
//! - [`checkout`]: a working tree of a cached repository at a path, on a
//!   branch, commit or tag, optionally sparse.
//! - [`commit`], [`tag`], [`clear`]: local changes, through the git CLI.
//! - [`push`]: fetch, integrate (rebase or merge by policy), push and retry;
//!   serialised per (repository, branch) within a process.
//! - [`provider`]: pull requests, the [`GitProvider`](provider::GitProvider)
//!   trait and its providers: `local` (records inside the repository,
//!   merged by the library; always built), GitHub, GitLab, Gitea/Forgejo,
//!   Azure DevOps and Bitbucket Cloud (REST APIs over reqwest); and
//!   `provider::github_push`, a push through GitHub's API (Kargo's
//!   `github-push`).
//!
//! # Feature flags
//! - `github`, `gitlab`, `gitea`, `azure`, `bitbucket` (default): the REST
//!   pull-request providers (`github` also the push through GitHub's API).
//! - `conformance`: the public [`GitProvider`](provider::GitProvider)
//!   conformance suite (not semver-stable).
//!
//! # Design decisions
//! - **gix fetches, the git CLI writes.** gix has no push, and the git CLI's
//!   rebase, merge and sparse index handling are the reference behaviour;
//!   every git command runs with an isolated configuration (the user's and
//!   the system's git config have no effect) and gets credentials only
//!   through an askpass helper reading the child's environment.
//! - **Secrets.** Credentials never appear on a command line, in a URL, in a
//!   log line or in an error (command output kept in errors is scrubbed).
//! - **Blocking work** runs through one `maybe_spawn_blocking` helper: on
//!   tokio's blocking pool inside a runtime, inline outside one.
//!
//! # Example
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::{Arc, atomic::AtomicBool};
//! use kargo_git::{RepoCache, cache, checkout, commit, push};
//!
//! let cache = RepoCache::new("/var/cache/kargo/git");
//! let fetched = cache
//!     .fetch("https://example.com/org/repo.git", None, &cache::Options::default(), Arc::new(AtomicBool::new(false)))
//!     .await?;
//! let dir = std::path::Path::new("/tmp/work/repo");
//! checkout::checkout(&fetched, dir, &checkout::Options::new(checkout::Revision::Branch("main".into())), None)?;
//! std::fs::write(dir.join("values.yaml"), "image: v2\n")?;
//! commit::commit(dir, "Promote v2", None)?;
//! let cancel = tokio_util::sync::CancellationToken::new();
//! push::push(dir, &push::Options::default(), None, &cancel).await?;
//! # Ok(()) }
//! ```
//!
//! MSRV: Rust 1.95.

mod blocking;
pub mod cache;
pub mod checkout;
pub mod clear;
pub mod cli;
pub mod commit;
#[cfg(any(feature = "conformance", test))]
pub mod conformance;
mod index;
mod pack;
pub mod provider;
pub mod push;
mod snapshot;
pub mod tag;
mod worktree;

pub use blocking::maybe_spawn_blocking;
pub use cache::RepoCache;
pub use cli::Identity;
