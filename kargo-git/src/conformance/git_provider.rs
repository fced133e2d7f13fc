//! The [`GitProvider`] contract, checked against a repository the caller
//! prepared.
//!
//! The repository must have a `main` branch and, for each of the branches
//! named in [`Case`], a branch with at least one commit `main` lacks (the
//! `conflicting` one changes a file `main` changed too). No pull request may
//! exist for them yet. Cases that need a capability (approvals, a merge
//! method) run only when the provider declares it.
//!
//! ```ignore
//! kargo_git::conformance::git_provider::all(&provider, &Case::default()).await;
//! ```

use crate::provider::{
    DynGitProvider, Error, ListOptions, MergeMethod, MergeOutcome, NewPullRequest, PrState,
    StateFilter,
};

/// The branches the suite opens pull requests from, all into `main`.
#[derive(Debug, Clone)]
pub struct Case {
    /// The target branch.
    pub target: String,
    /// Opened, reused, approved and merged with the default method.
    pub merged: String,
    /// Opened and closed without merging.
    pub closed: String,
    /// Merged with [`MergeMethod::Squash`] (when supported).
    pub squashed: String,
    /// Merged with [`MergeMethod::Rebase`] (when supported).
    pub rebased: String,
    /// Conflicts with `target` once `merged` is in (`None`: not checked).
    pub conflicting: Option<String>,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            target: "main".into(),
            merged: "feature/merge".into(),
            closed: "feature/close".into(),
            squashed: "feature/squash".into(),
            rebased: "feature/rebase".into(),
            conflicting: Some("feature/conflict".into()),
        }
    }
}

/// Runs every check in an order that needs no other setup.
pub async fn all(provider: &DynGitProvider, case: &Case) {
    let number = open_then_reuse(provider, case).await;
    get_and_list_agree(provider, case, number).await;
    if provider.capabilities().approve {
        approve_is_recorded(provider, number).await;
    }
    merge_reports_the_merge_commit(provider, number).await;
    merging_again_is_idempotent(provider, number).await;
    close_without_merging(provider, case).await;
    for method in [MergeMethod::Squash, MergeMethod::Rebase] {
        if provider.capabilities().merges_with(method) {
            let branch = match method {
                MergeMethod::Squash => &case.squashed,
                _ => &case.rebased,
            };
            merge_with_method(provider, case, branch, method).await;
        }
    }
    if let Some(branch) = &case.conflicting {
        conflicting_merge_fails(provider, case, branch).await;
    }
    unknown_pull_requests_are_not_found(provider).await;
}

/// `open` opens one pull request and, asked again for the same branches,
/// returns the same one. Returns its number.
pub async fn open_then_reuse(provider: &DynGitProvider, case: &Case) -> u64 {
    let new = NewPullRequest::new(&case.merged, &case.target, "Promote v2")
        .with_description("tf-plan:\n  + resource \"x\"\n")
        .with_labels(vec!["promotion".into()]);
    let first = provider.open(&new).await.expect("open");
    assert!(!first.reused, "{first:?}");
    assert_eq!(first.pr.state, PrState::Open);
    assert_eq!(first.pr.source_branch, case.merged);
    assert_eq!(first.pr.target_branch, case.target);
    assert_eq!(first.pr.title, "Promote v2");
    assert!(!first.pr.url.is_empty());
    let second = provider.open(&new).await.expect("open again");
    assert!(second.reused, "{second:?}");
    assert_eq!(second.pr.number, first.pr.number);
    first.pr.number
}

/// `get` and `list` report the same open pull request.
pub async fn get_and_list_agree(provider: &DynGitProvider, case: &Case, number: u64) {
    let pr = provider.get(number).await.expect("get");
    assert_eq!(pr.number, number);
    assert_eq!(pr.state, PrState::Open);
    assert!(pr.description.contains("tf-plan"), "{pr:?}");
    let listed = provider
        .list(&ListOptions::default().with_branches(&case.merged, &case.target))
        .await
        .expect("list");
    assert_eq!(
        listed.iter().map(|p| p.number).collect::<Vec<_>>(),
        vec![number]
    );
    let closed = provider
        .list(&ListOptions::default().with_state(StateFilter::Closed))
        .await
        .expect("list closed");
    assert!(
        closed.iter().all(|p| p.state != PrState::Open),
        "{closed:?}"
    );
}

/// `approve` is reflected by the pull request.
pub async fn approve_is_recorded(provider: &DynGitProvider, number: u64) {
    let pr = provider.approve(number).await.expect("approve");
    assert_eq!(pr.number, number);
    assert_eq!(pr.state, PrState::Open);
}

/// `merge` merges and names the merge commit.
pub async fn merge_reports_the_merge_commit(provider: &DynGitProvider, number: u64) {
    let outcome = provider.merge(number, None).await.expect("merge");
    let MergeOutcome::Merged(pr) = outcome else {
        panic!("not merged: {outcome:?}");
    };
    assert_eq!(pr.state, PrState::Merged);
    let commit = pr.merge_commit.expect("a merge commit");
    assert_eq!(commit.len(), 40, "{commit}");
    let again = provider.get(number).await.expect("get merged");
    assert_eq!(again.state, PrState::Merged);
    assert_eq!(again.merge_commit.as_deref(), Some(commit.as_str()));
}

/// Merging a merged pull request reports the same merge.
pub async fn merging_again_is_idempotent(provider: &DynGitProvider, number: u64) {
    let before = provider.get(number).await.expect("get");
    let outcome = provider.merge(number, None).await.expect("merge again");
    let MergeOutcome::Merged(pr) = outcome else {
        panic!("not merged: {outcome:?}");
    };
    assert_eq!(pr.merge_commit, before.merge_commit);
}

/// `close` closes without merging; merging it afterwards fails.
pub async fn close_without_merging(provider: &DynGitProvider, case: &Case) {
    let opened = provider
        .open(&NewPullRequest::new(
            &case.closed,
            &case.target,
            "Abandoned",
        ))
        .await
        .expect("open");
    let closed = provider.close(opened.pr.number).await.expect("close");
    assert_eq!(closed.state, PrState::Closed);
    assert_eq!(closed.merge_commit, None);
    let err = provider
        .merge(opened.pr.number, None)
        .await
        .expect_err("merging a closed pull request");
    assert!(matches!(err, Error::NotOpen { .. }), "{err:?}");
    // A new pull request for the same branches is a new one.
    let reopened = provider
        .open(&NewPullRequest::new(&case.closed, &case.target, "Again"))
        .await
        .expect("open again");
    assert!(!reopened.reused);
    assert_ne!(reopened.pr.number, opened.pr.number);
    provider.close(reopened.pr.number).await.expect("close");
}

/// `merge` with an explicit method merges.
pub async fn merge_with_method(
    provider: &DynGitProvider,
    case: &Case,
    branch: &str,
    method: MergeMethod,
) {
    let opened = provider
        .open(&NewPullRequest::new(
            branch,
            &case.target,
            format!("By {method}"),
        ))
        .await
        .expect("open");
    let outcome = provider
        .merge(opened.pr.number, Some(method))
        .await
        .expect("merge");
    let MergeOutcome::Merged(pr) = outcome else {
        panic!("not merged: {outcome:?}");
    };
    assert!(pr.merge_commit.is_some(), "{pr:?}");
}

/// A merge that conflicts fails with `Conflict` and leaves the pull
/// request open.
pub async fn conflicting_merge_fails(provider: &DynGitProvider, case: &Case, branch: &str) {
    let opened = provider
        .open(&NewPullRequest::new(branch, &case.target, "Conflicts"))
        .await
        .expect("open");
    let err = provider
        .merge(opened.pr.number, None)
        .await
        .expect_err("a conflicting merge");
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    let pr = provider.get(opened.pr.number).await.expect("get");
    assert_eq!(pr.state, PrState::Open);
    provider.close(opened.pr.number).await.expect("close");
}

/// An unknown number is `NotFound`, naming the pull request.
pub async fn unknown_pull_requests_are_not_found(provider: &DynGitProvider) {
    let err = provider.get(9999).await.expect_err("unknown");
    assert!(
        matches!(err, Error::NotFound { pr: Some(9999), .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("#9999"), "{err}");
}
