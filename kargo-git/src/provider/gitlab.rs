//! GitLab merge requests (gitlab.com and self-hosted) over its REST API.
//!
//! The API is `SCHEME://HOST/api/v4`; the project is named by its path,
//! URL-encoded (`group%2Fsub%2Fapp`). GitLab merges with a merge commit or
//! squashes (`squash: true`); it has no rebase merge through this API, so
//! the other [`MergeMethod`]s are `Unsupported`. A merge request whose
//! `detailed_merge_status` is not `mergeable` is not ready, unless it has
//! conflicts.

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::rest::{
    Auth, Client, RestOptions, check_open, close_settled, encode_segment, matching, merge_settled,
    non_empty, open_already,
};
use super::select::forge_url;
use super::{
    Capabilities, Error, GitProvider, ListOptions, MergeMethod, MergeOutcome, NewPullRequest,
    Opened, PrState, PullRequest, StateFilter,
};

const NAME: &str = "gitlab";

/// Merge requests of one GitLab project.
#[derive(Debug)]
pub struct GitLabProvider {
    client: Client,
    project: String,
}

impl GitLabProvider {
    /// The provider for `repo_url` (`https://HOST/GROUP[/SUBGROUP...]/PROJECT`).
    pub fn new(repo_url: &str, options: RestOptions) -> Result<Self, Error> {
        let url = forge_url(repo_url)?;
        let base = options
            .api_base
            .clone()
            .unwrap_or_else(|| format!("{}/api/v4", url.web_origin().unwrap_or_default()));
        let client = Client::new(
            NAME,
            url.path().to_owned(),
            base,
            Auth::PrivateToken,
            &options,
        )?;
        Ok(GitLabProvider {
            client,
            project: encode_segment(url.path()),
        })
    }

    fn path(&self, rest: &str) -> String {
        format!("/projects/{}/merge_requests{rest}", self.project)
    }

    async fn fetch(&self, number: u64) -> Result<(PullRequest, MergeRequestAnswer), Error> {
        let path = self.path(&format!("/{number}"));
        let answer: MergeRequestAnswer = self
            .client
            .pr_call_as(Method::GET, &path, None, number)
            .await?;
        Ok((answer.to_pull_request(), answer))
    }
}

/// A merge request as GitLab's API answers it (the fields read).
#[derive(Debug, Deserialize)]
struct MergeRequestAnswer {
    iid: u64,
    web_url: String,
    source_branch: String,
    target_branch: String,
    /// `opened`, `locked`, `merged` or `closed`.
    state: String,
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    sha: Option<String>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    #[serde(default)]
    squash_commit_sha: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    detailed_merge_status: Option<String>,
    #[serde(default)]
    has_conflicts: Option<bool>,
    #[serde(default)]
    draft: Option<bool>,
}

impl MergeRequestAnswer {
    fn to_pull_request(&self) -> PullRequest {
        let state = match self.state.as_str() {
            "merged" => PrState::Merged,
            "opened" | "locked" => PrState::Open,
            _ => PrState::Closed,
        };
        let mut pr = PullRequest::new(
            self.iid,
            &self.web_url,
            &self.source_branch,
            &self.target_branch,
            state,
        );
        pr.title = self.title.clone();
        pr.description = self.description.clone().unwrap_or_default();
        pr.head_sha = non_empty(&self.sha);
        if state == PrState::Merged {
            // A squash into a fast-forward-only project leaves no merge commit.
            pr.merge_commit = non_empty(&self.merge_commit_sha)
                .or_else(|| non_empty(&self.squash_commit_sha))
                .or_else(|| non_empty(&self.sha));
        }
        pr.labels = self.labels.clone();
        pr.created_at = non_empty(&self.created_at);
        pr
    }
}

/// GitLab's answer to an approval: who has approved.
#[derive(Debug, Deserialize)]
struct ApprovalAnswer {
    #[serde(default)]
    approved_by: Vec<ApproverAnswer>,
}

#[derive(Debug, Deserialize)]
struct ApproverAnswer {
    user: UserAnswer,
}

#[derive(Debug, Deserialize)]
struct UserAnswer {
    username: String,
}

#[async_trait]
impl GitProvider for GitLabProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            merge_methods: &[MergeMethod::Merge, MergeMethod::Squash],
            ..Capabilities::all()
        }
    }

    async fn open(&self, new: &NewPullRequest) -> Result<Opened, Error> {
        if let Some(opened) = open_already(self, new).await? {
            return Ok(opened);
        }
        let mut body = json!({
            "source_branch": new.source_branch,
            "target_branch": new.target_branch,
            "title": new.title_or_fallback(),
            "description": new.description,
        });
        if !new.labels.is_empty() {
            body["labels"] = json!(new.labels.join(","));
        }
        let answer: MergeRequestAnswer = self
            .client
            .call_as(Method::POST, &self.path(""), &[], Some(&body), None)
            .await?;
        Ok(Opened {
            pr: answer.to_pull_request(),
            reused: false,
        })
    }

    async fn get(&self, number: u64) -> Result<PullRequest, Error> {
        Ok(self.fetch(number).await?.0)
    }

    async fn list(&self, options: &ListOptions) -> Result<Vec<PullRequest>, Error> {
        let state = match options.state {
            StateFilter::Open => "opened",
            // closed and merged both count as closed: ask for all, filter below.
            StateFilter::Closed | StateFilter::All => "all",
        };
        let mut query = vec![("state", state.to_owned())];
        if let Some(source) = &options.source_branch {
            query.push(("source_branch", source.clone()));
        }
        if let Some(target) = &options.target_branch {
            query.push(("target_branch", target.clone()));
        }
        let answers: Vec<MergeRequestAnswer> = self.client.list_as(&self.path(""), &query).await?;
        Ok(matching(
            options,
            answers.iter().map(MergeRequestAnswer::to_pull_request),
        ))
    }

    async fn merge(&self, number: u64, method: Option<MergeMethod>) -> Result<MergeOutcome, Error> {
        self.capabilities().check_merge(NAME, method)?;
        let squash = (method == Some(MergeMethod::Squash)).then_some(true);
        let (pr, raw) = self.fetch(number).await?;
        if let Some(settled) = merge_settled(&self.client, &pr) {
            return settled;
        }
        let status = raw.detailed_merge_status.as_deref().unwrap_or_default();
        let conflict = |message: String| Error::Conflict {
            provider: NAME,
            repo: self.client.repo.clone(),
            pr: number,
            message,
        };
        if raw.has_conflicts == Some(true) || status == "conflict" {
            return Err(conflict("GitLab reports merge conflicts".to_owned()));
        }
        if raw.draft == Some(true) || (!status.is_empty() && status != "mergeable") {
            return Ok(MergeOutcome::NotReady {
                reason: format!("detailed_merge_status is {status}"),
            });
        }
        let body = match squash {
            Some(s) => json!({ "squash": s }),
            None => json!({}),
        };
        let path = self.path(&format!("/{number}/merge"));
        let merged: MergeRequestAnswer = match self
            .client
            .pr_call_as(Method::PUT, &path, Some(&body), number)
            .await
        {
            Ok(v) => v,
            Err(Error::Api {
                status: 406,
                message,
                ..
            }) => return Err(conflict(message)),
            Err(Error::Api {
                status: 405 | 409 | 422,
                message,
                ..
            }) => {
                return Ok(MergeOutcome::NotReady { reason: message });
            }
            Err(e) => return Err(e),
        };
        Ok(MergeOutcome::Merged(merged.to_pull_request()))
    }

    async fn close(&self, number: u64) -> Result<PullRequest, Error> {
        let pr = self.get(number).await?;
        if let Some(settled) = close_settled(&self.client, &pr) {
            return settled;
        }
        let body = json!({ "state_event": "close" });
        let path = self.path(&format!("/{number}"));
        let answer: MergeRequestAnswer = self
            .client
            .pr_call_as(Method::PUT, &path, Some(&body), number)
            .await?;
        Ok(answer.to_pull_request())
    }

    async fn approve(&self, number: u64) -> Result<PullRequest, Error> {
        let mut pr = self.get(number).await?;
        check_open(&self.client, &pr, "approved")?;
        let path = self.path(&format!("/{number}/approve"));
        let approval: ApprovalAnswer = self
            .client
            .pr_call_as(Method::POST, &path, Some(&json!({})), number)
            .await?;
        pr.approved_by = approval
            .approved_by
            .into_iter()
            .map(|a| a.user.username)
            .collect();
        Ok(pr)
    }
}
