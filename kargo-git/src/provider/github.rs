//! GitHub (github.com and GitHub Enterprise Server) over its REST API.
//!
//! The API is `https://api.github.com` for github.com and
//! `https://HOST/api/v3` for any other host. Merging follows the PR's
//! `mergeable_state`: `dirty` is a conflict, `draft` and `unknown` are not
//! ready; a 405 or 409 from the merge endpoint is "not ready" too (base
//! moved, checks pending) unless GitHub says the merge method is not
//! allowed.

use async_trait::async_trait;
use kargo_core::urls::RepoUrl;
use reqwest::Method;
use serde_json::{Value, json};

use super::repos::{NamedAnswer, PullAnswer, ReposApi};
use super::rest::{Auth, Client, RestOptions, merge_settled, nothing_to_merge, open_already};
use super::{
    Capabilities, Error, GitProvider, ListOptions, MergeMethod, MergeOutcome, NewPullRequest,
    Opened, PullRequest,
};

const NAME: &str = "github";

/// Pull requests of one GitHub repository.
#[derive(Debug)]
pub struct GitHubProvider {
    api: ReposApi,
}

impl GitHubProvider {
    /// The provider for `repo_url` (`https://HOST/OWNER/REPO[.git]`).
    pub fn new(repo_url: &str, options: RestOptions) -> Result<Self, Error> {
        let api = ReposApi::new(NAME, repo_url, &options, Auth::Bearer, default_base)?;
        Ok(GitHubProvider { api })
    }

    /// GitHub says `merged` for one pull request, and `merged_at` in lists.
    fn convert(answer: &PullAnswer) -> PullRequest {
        let merged = answer.merged.unwrap_or(false) || answer.merged_at.is_some();
        answer.to_pull_request(merged)
    }

    async fn fetch(&self, number: u64) -> Result<(PullRequest, PullAnswer), Error> {
        let answer = self.api.pull(number).await?;
        Ok((Self::convert(&answer), answer))
    }
}

/// The API client for the GitHub repository at `repo_url`
/// (`https://HOST/OWNER/REPO[.git]`, or its ssh form), with its owner and
/// name: `https://api.github.com` for github.com, `https://HOST/api/v3`
/// (GitHub Enterprise Server) for any other host, unless
/// [`RestOptions::api_base`] names another.
pub(crate) fn api_client(
    repo_url: &str,
    options: &RestOptions,
) -> Result<(Client, String, String), Error> {
    let api = ReposApi::new(NAME, repo_url, options, Auth::Bearer, default_base)?;
    Ok((api.client, api.owner, api.repo))
}

/// `https://api.github.com` for github.com, `https://HOST/api/v3` for
/// GitHub Enterprise.
fn default_base(url: &RepoUrl) -> String {
    if url.web_host() == "github.com" {
        "https://api.github.com".to_owned()
    } else {
        format!("{}/api/v3", url.web_origin().unwrap_or_default())
    }
}

#[async_trait]
impl GitProvider for GitHubProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            merge_methods: &[MergeMethod::Merge, MergeMethod::Squash, MergeMethod::Rebase],
            ..Capabilities::all()
        }
    }

    async fn open(&self, new: &NewPullRequest) -> Result<Opened, Error> {
        if let Some(opened) = open_already(self, new).await? {
            return Ok(opened);
        }
        let body = json!({
            "title": new.title_or_fallback(),
            "head": new.source_branch,
            "base": new.target_branch,
            "body": new.description,
            "maintainer_can_modify": false,
        });
        let created = match self.api.create_pull(&body).await {
            Ok(v) => v,
            Err(Error::Api {
                status: 422,
                message,
                ..
            }) if message.contains("No commits between") => {
                return Err(nothing_to_merge(&self.api.client, new));
            }
            Err(e) => return Err(e),
        };
        let mut pr = Self::convert(&created);
        if !new.labels.is_empty() {
            let body = json!({ "labels": new.labels });
            let path = self.api.path(&format!("/issues/{}/labels", pr.number));
            let labels: Vec<NamedAnswer> = self
                .api
                .client
                .pr_call_as(Method::POST, &path, Some(&body), pr.number)
                .await?;
            pr.labels = labels.into_iter().map(|l| l.name).collect();
        }
        Ok(Opened { pr, reused: false })
    }

    async fn get(&self, number: u64) -> Result<PullRequest, Error> {
        Ok(self.fetch(number).await?.0)
    }

    async fn list(&self, options: &ListOptions) -> Result<Vec<PullRequest>, Error> {
        let mut query = Vec::new();
        if let Some(source) = &options.source_branch {
            query.push(("head", format!("{}:{source}", self.api.owner)));
        }
        if let Some(target) = &options.target_branch {
            query.push(("base", target.clone()));
        }
        self.api.list_pulls(options, query, Self::convert).await
    }

    async fn merge(&self, number: u64, method: Option<MergeMethod>) -> Result<MergeOutcome, Error> {
        self.capabilities().check_merge(NAME, method)?;
        let (pr, raw) = self.fetch(number).await?;
        if let Some(settled) = merge_settled(&self.api.client, &pr) {
            return settled;
        }
        match raw.mergeable_state.as_deref().unwrap_or_default() {
            "dirty" => {
                return Err(Error::Conflict {
                    provider: NAME,
                    repo: self.api.client.repo.clone(),
                    pr: number,
                    message: "GitHub reports merge conflicts".to_owned(),
                });
            }
            state @ ("draft" | "unknown") => {
                return Ok(MergeOutcome::NotReady {
                    reason: format!("mergeable_state is {state}"),
                });
            }
            _ => {}
        }
        let body = match method {
            Some(m) => json!({ "merge_method": m.as_str() }),
            None => json!({}),
        };
        let merge_path = self.api.path(&format!("/pulls/{number}/merge"));
        match self
            .api
            .client
            .pr_call_as::<Value>(Method::PUT, &merge_path, Some(&body), number)
            .await
        {
            Ok(_) => {}
            Err(Error::Api {
                status: 405 | 409,
                message,
                ..
            }) if !message.contains("not allowed") => {
                return Ok(MergeOutcome::NotReady { reason: message });
            }
            Err(e) => return Err(e),
        }
        Ok(MergeOutcome::Merged(self.get(number).await?))
    }

    async fn close(&self, number: u64) -> Result<PullRequest, Error> {
        let pr = self.get(number).await?;
        self.api.close(&pr, Self::convert).await
    }

    async fn approve(&self, number: u64) -> Result<PullRequest, Error> {
        let pr = self.get(number).await?;
        self.api.approve(pr, &json!({ "event": "APPROVE" })).await
    }
}
