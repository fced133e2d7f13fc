//! Trying a waiting promotion again now (Kargo's RefreshPromotion), and
//! finding the promotions that wait on a pull request, for a forge's
//! webhook.

use kargo_core::state::{PromotionRecord, StateStoreExt};
use kargo_core::urls::normalize_git;
use serde::Serialize;
use serde_json::Value;

use super::Controller;
use crate::{Error, Result};

/// A pull request: its repository and number, as a forge's webhook names
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PullRequestRef {
    /// The repository's URL (any spelling [`normalize_git`] folds).
    pub repo_url: String,
    /// The pull request's number.
    pub number: u64,
}

impl PullRequestRef {
    /// Pull request `number` of the repository at `repo_url`.
    pub fn new(repo_url: impl Into<String>, number: u64) -> Self {
        PullRequestRef {
            repo_url: repo_url.into(),
            number,
        }
    }
}

/// Where a pull request's web URL ends and its repository's begins, per
/// forge: GitHub and Gitea, GitLab, Azure DevOps, Bitbucket, the local
/// provider.
const PR_PATHS: [&str; 6] = [
    "/pull/",
    "/pulls/",
    "/-/merge_requests/",
    "/pullrequest/",
    "/pull-requests/",
    "#pull/",
];

/// Whether `promo` waits (see [`PromotionRecord::is_waiting`]) on `pr`:
/// one of its steps' outputs names the pull request (`pr.id` and `pr.url`,
/// as `git-open-pr` and `git-wait-for-pr` write them) and either the
/// URL's repository or the waiting step's literal `repoURL` is `pr`'s
/// repository.
pub fn waits_on_pull_request(promo: &PromotionRecord, pr: &PullRequestRef) -> bool {
    if !promo.is_waiting() {
        return false;
    }
    let repo = normalize_git(&pr.repo_url);
    let step_repo = promo
        .steps
        .get(promo.state.current_step)
        .and_then(|s| s.config.as_ref())
        .and_then(|c| c.get("repoURL"))
        .and_then(Value::as_str)
        .filter(|url| !url.contains("${"))
        .map(normalize_git);
    promo.state.outputs.values().any(|output| {
        let Some(found) = output.get("pr") else {
            return false;
        };
        let id = match found.get("id") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        if id != Some(pr.number) {
            return false;
        }
        let url_repo = found
            .get("url")
            .and_then(Value::as_str)
            .and_then(repository_of);
        url_repo.is_some_and(|r| normalize_git(r) == repo) || step_repo.as_deref() == Some(&repo)
    })
}

/// The repository part of a pull request's web URL.
fn repository_of(url: &str) -> Option<&str> {
    PR_PATHS
        .iter()
        .filter_map(|p| url.rfind(p))
        .max()
        .map(|at| &url[..at])
}

impl Controller {
    /// Tries the promotion `name` again now (Kargo's RefreshPromotion):
    /// drives its Stage's queue, so a waiting promotion runs its waiting
    /// step again (and goes on when it is done), one retrying a failed
    /// step tries it again without waiting for its retry time, and a
    /// queued one starts when it is next. Returns the promotion as stored afterwards; a
    /// finished one is returned as it is. With replicas, a promotion
    /// another replica is running right now is left to it.
    ///
    /// Returns once the Stage's queue stops (empty, waiting, or run
    /// elsewhere), which may take as long as its promotions do: a service
    /// answering a request runs it in a task of its own.
    pub async fn refresh_promotion(&self, name: &str) -> Result<PromotionRecord> {
        let store = &self.inner.store;
        let promo = store
            .get_promotion(name)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "Promotion",
                name: name.to_owned(),
                known: Vec::new(),
            })?;
        if promo.phase.is_terminal() {
            return Ok(promo);
        }
        tracing::info!(stage = %promo.stage, promotion = name, "refreshing promotion {name}");
        self.drive_stage(&promo.stage, Some(name)).await?;
        Ok(store.get_promotion(name).await?.unwrap_or(promo))
    }

    /// The promotions waiting on the pull request `pr`
    /// ([`waits_on_pull_request`]), oldest first.
    pub async fn waiting_on_pull_request(
        &self,
        pr: &PullRequestRef,
    ) -> Result<Vec<PromotionRecord>> {
        let project = self.current().await?;
        let mut out = Vec::new();
        for stage in project.graph().stages() {
            if let Some(running) = self
                .inner
                .store
                .running_promotion(&stage.metadata.name)
                .await?
                && waits_on_pull_request(&running, pr)
            {
                out.push(running);
            }
        }
        Ok(out)
    }

    /// Refreshes ([`refresh_promotion`](Controller::refresh_promotion))
    /// every promotion waiting on the pull request `pr`, e.g. when a
    /// forge says it was merged or closed. Returns them as stored
    /// afterwards (empty when none waits on it).
    pub async fn refresh_pull_request(&self, pr: &PullRequestRef) -> Result<Vec<PromotionRecord>> {
        let mut out = Vec::new();
        for waiting in self.waiting_on_pull_request(pr).await? {
            tracing::info!(
                promotion = %waiting.name,
                "pull request #{} of {} changed; refreshing",
                pr.number,
                pr.repo_url
            );
            out.push(self.refresh_promotion(&waiting.name).await?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use kargo_core::model::PromotionPhase;

    use super::*;

    #[test]
    fn pull_request_urls_name_their_repository() {
        assert_eq!(
            repository_of("https://github.com/acme/app/pull/12"),
            Some("https://github.com/acme/app")
        );
        assert_eq!(
            repository_of("https://gitlab.com/acme/group/app/-/merge_requests/3"),
            Some("https://gitlab.com/acme/group/app")
        );
        assert_eq!(
            repository_of("file:///srv/git/app.git#pull/1"),
            Some("file:///srv/git/app.git")
        );
        assert_eq!(repository_of("https://github.com/acme/app"), None);
    }

    fn waiting(outputs: Value, repo_url: Option<&str>) -> PromotionRecord {
        let record = serde_json::json!({
            "name": "dev.000000000001.abcdef0",
            "stage": "dev",
            "freight": "abcdef0",
            "origin": {"kind": "Warehouse", "name": "app"},
            "phase": "Running",
            "steps": [{"uses": "git-wait-for-pr", "as": "wait",
                       "config": {"repoURL": repo_url.unwrap_or("${{ vars.repo }}"), "prNumber": 7}}],
            "state": {"phase": "Running", "currentStep": 0,
                      "steps": [{"alias": "wait", "uses": "git-wait-for-pr", "status": "Running"}],
                      "outputs": outputs},
        });
        serde_json::from_value(record).expect("a promotion record")
    }

    #[test]
    fn a_waiting_promotion_is_matched_by_its_pull_request() {
        let outputs = serde_json::json!({"wait": {"pr": {"id": 7, "url": "https://github.com/Acme/App/pull/7"}}});
        let promo = waiting(outputs.clone(), None);
        assert!(promo.is_waiting(), "{promo:?}");
        let pr = |repo: &str, n| PullRequestRef::new(repo, n);
        assert!(waits_on_pull_request(
            &promo,
            &pr("https://github.com/acme/app.git", 7)
        ));
        assert!(!waits_on_pull_request(
            &promo,
            &pr("https://github.com/acme/app", 8)
        ));
        assert!(!waits_on_pull_request(
            &promo,
            &pr("https://github.com/acme/other", 7)
        ));
        // Without a URL in the output, the step's literal repoURL decides.
        let bare = serde_json::json!({"wait": {"pr": {"id": "7"}}});
        let literal = waiting(bare.clone(), Some("https://github.com/acme/app"));
        assert!(waits_on_pull_request(
            &literal,
            &pr("https://github.com/acme/app", 7)
        ));
        assert!(!waits_on_pull_request(
            &waiting(bare, None),
            &pr("https://github.com/acme/app", 7)
        ));
        // A promotion that does not wait is never matched.
        let mut done = promo;
        done.phase = PromotionPhase::Succeeded;
        assert!(!waits_on_pull_request(
            &done,
            &pr("https://github.com/acme/app", 7)
        ));
    }
}
