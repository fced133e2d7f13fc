//! The `/repos/OWNER/REPO` REST API of GitHub, which Gitea (and Forgejo)
//! copies: the answers both send, and the requests both make alike.

use reqwest::Method;
use serde_json::{Value, json};

use kargo_core::urls::RepoUrl;

use super::rest::{Auth, Client, RestOptions, check_open, close_settled, non_empty};
use super::select::forge_url;
use super::{Error, ListOptions, PrState, PullRequest, StateFilter};

/// One repository of the API.
#[derive(Debug)]
pub(crate) struct ReposApi {
    pub(crate) client: Client,
    pub(crate) owner: String,
    pub(crate) repo: String,
}

impl ReposApi {
    /// The API of `repo_url` (`HOST/OWNER/REPO`) for `provider`: at the
    /// options' API base, else at `default_base`.
    pub(crate) fn new(
        provider: &'static str,
        repo_url: &str,
        options: &RestOptions,
        auth: Auth,
        default_base: impl FnOnce(&RepoUrl) -> String,
    ) -> Result<Self, Error> {
        let url = forge_url(repo_url)?;
        let (owner, repo) = url.owner_and_name().ok_or_else(|| {
            Error::Invalid(format!(
                "{provider}: {}: expected HOST/OWNER/REPO",
                kargo_core::urls::redact_url(repo_url)
            ))
        })?;
        let base = options
            .api_base
            .clone()
            .unwrap_or_else(|| default_base(&url));
        let client = Client::new(provider, url.path().to_owned(), base, auth, options)?;
        Ok(ReposApi {
            client,
            owner: owner.to_owned(),
            repo: repo.to_owned(),
        })
    }

    /// `/repos/OWNER/REPO{rest}`.
    pub(crate) fn path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }

    /// Pull request `number`, as the API answers it.
    pub(crate) async fn pull(&self, number: u64) -> Result<PullAnswer, Error> {
        let path = self.path(&format!("/pulls/{number}"));
        self.client
            .pr_call_as(Method::GET, &path, None, number)
            .await
    }

    /// Opens the pull request `body` describes.
    pub(crate) async fn create_pull(&self, body: &Value) -> Result<PullAnswer, Error> {
        self.client
            .call_as(Method::POST, &self.path("/pulls"), &[], Some(body), None)
            .await
    }

    /// The pull requests `options` matches, each made by `convert`, by
    /// number; `query` narrows the list the API answers.
    pub(crate) async fn list_pulls(
        &self,
        options: &ListOptions,
        mut query: Vec<(&str, String)>,
        convert: impl Fn(&PullAnswer) -> PullRequest,
    ) -> Result<Vec<PullRequest>, Error> {
        let state = match options.state {
            StateFilter::Open => "open",
            StateFilter::Closed => "closed",
            StateFilter::All => "all",
        };
        query.insert(0, ("state", state.to_owned()));
        let answers: Vec<PullAnswer> = self.client.list_as(&self.path("/pulls"), &query).await?;
        Ok(super::rest::matching(options, answers.iter().map(convert)))
    }

    /// Closes `pr` with a PATCH of its state (unless it is closed already
    /// or merged); the answer is made a pull request by `convert`.
    pub(crate) async fn close(
        &self,
        pr: &PullRequest,
        convert: impl Fn(&PullAnswer) -> PullRequest,
    ) -> Result<PullRequest, Error> {
        if let Some(settled) = close_settled(&self.client, pr) {
            return settled;
        }
        let path = self.path(&format!("/pulls/{}", pr.number));
        let body = json!({ "state": "closed" });
        let answer: PullAnswer = self
            .client
            .pr_call_as(Method::PATCH, &path, Some(&body), pr.number)
            .await?;
        Ok(convert(&answer))
    }

    /// Approves the open `pr` with the review `body`; the reviewer is
    /// added to its approvers.
    pub(crate) async fn approve(
        &self,
        mut pr: PullRequest,
        body: &Value,
    ) -> Result<PullRequest, Error> {
        check_open(&self.client, &pr, "approved")?;
        let path = self.path(&format!("/pulls/{}/reviews", pr.number));
        let review: ReviewAnswer = self
            .client
            .pr_call_as(Method::POST, &path, Some(body), pr.number)
            .await?;
        pr.approved_by
            .extend(review.user.map(|u| u.login).filter(|l| !l.is_empty()));
        Ok(pr)
    }
}

/// A pull request as GitHub's `pulls` endpoints answer it, and Gitea's,
/// which copy them: the fields read. The ones every pull request has are
/// required, so an answer without them is an error naming the field,
/// never a pull request with an empty branch.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct PullAnswer {
    pub(crate) number: u64,
    pub(crate) html_url: String,
    /// `open` or `closed` (merged ones are closed too).
    pub(crate) state: String,
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) body: Option<String>,
    pub(crate) head: BranchAnswer,
    pub(crate) base: BranchAnswer,
    /// Gitea always, GitHub only for one pull request (not in lists).
    #[serde(default)]
    pub(crate) merged: Option<bool>,
    /// What GitHub's lists tell merged ones by.
    #[cfg_attr(not(feature = "github"), allow(dead_code))]
    #[serde(default)]
    pub(crate) merged_at: Option<String>,
    #[serde(default)]
    pub(crate) merge_commit_sha: Option<String>,
    #[serde(default)]
    pub(crate) labels: Vec<NamedAnswer>,
    #[serde(default)]
    pub(crate) created_at: Option<String>,
    /// GitHub's mergeability (`clean`, `dirty`, `draft`, `unknown`, ...).
    #[cfg_attr(not(feature = "github"), allow(dead_code))]
    #[serde(default)]
    pub(crate) mergeable_state: Option<String>,
}

/// A pull request's `head` or `base`.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct BranchAnswer {
    #[serde(rename = "ref")]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) sha: Option<String>,
}

/// Something with a `name` (a label).
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct NamedAnswer {
    pub(crate) name: String,
}

/// A review, as GitHub and Gitea answer its creation: who made it.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct ReviewAnswer {
    #[serde(default)]
    pub(crate) user: Option<LoginAnswer>,
}

/// A user by login.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct LoginAnswer {
    pub(crate) login: String,
}

impl PullAnswer {
    /// The pull request, merged when `merged` says so (each forge tells it
    /// its own way).
    pub(crate) fn to_pull_request(&self, merged: bool) -> PullRequest {
        let state = match (self.state.as_str(), merged) {
            (_, true) => PrState::Merged,
            ("open", _) => PrState::Open,
            _ => PrState::Closed,
        };
        let mut pr = PullRequest::new(
            self.number,
            &self.html_url,
            &self.head.name,
            &self.base.name,
            state,
        );
        pr.title = self.title.clone();
        pr.description = self.body.clone().unwrap_or_default();
        pr.head_sha = non_empty(&self.head.sha);
        pr.merge_commit = non_empty(&self.merge_commit_sha).filter(|_| merged);
        pr.labels = self.labels.iter().map(|l| l.name.clone()).collect();
        pr.created_at = non_empty(&self.created_at);
        pr
    }
}
