//! GitHub (github.com and GitHub Enterprise Server) over its REST API.
//!
//! The API is `https://api.github.com` for github.com and
//! `https://HOST/api/v3` for any other host. Merging follows the PR's
//! `mergeable_state`: `dirty` is a conflict, `draft` and `unknown` are not
//! ready; a 405 or 409 from the merge endpoint is "not ready" too (base
//! moved, checks pending) unless GitHub says the merge method is not
//! allowed.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::json;

use super::rest::{
    Auth, Client, NamedAnswer, PullAnswer, RestOptions, ReviewAnswer, close_by_patch,
    close_settled, merge_settled, not_open, nothing_to_merge, open_already,
};
use super::select::forge_url;
use super::{
    Capabilities, Error, GitProvider, ListOptions, MergeMethod, MergeOutcome, NewPullRequest,
    Opened, PullRequest, StateFilter,
};

const NAME: &str = "github";

/// Pull requests of one GitHub repository.
#[derive(Debug)]
pub struct GitHubProvider {
    client: Client,
    owner: String,
    repo: String,
}

impl GitHubProvider {
    /// The provider for `repo_url` (`https://HOST/OWNER/REPO[.git]`).
    pub fn new(repo_url: &str, options: RestOptions) -> Result<Self, Error> {
        let (client, owner, repo) = api_client(repo_url, &options)?;
        Ok(GitHubProvider {
            client,
            owner,
            repo,
        })
    }

    fn path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }

    /// GitHub says `merged` for one pull request, and `merged_at` in lists.
    fn convert(answer: &PullAnswer) -> PullRequest {
        let merged = answer.merged.unwrap_or(false) || answer.merged_at.is_some();
        answer.to_pull_request(merged)
    }

    async fn fetch(&self, number: u64) -> Result<(PullRequest, PullAnswer), Error> {
        let answer: PullAnswer = self
            .client
            .call_as(
                Method::GET,
                &self.path(&format!("/pulls/{number}")),
                &[],
                None,
                Some(number),
            )
            .await?;
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
    let url = forge_url(repo_url)?;
    let (owner, repo) = url.owner_and_name().ok_or_else(|| {
        Error::Invalid(format!(
            "{NAME}: {}: expected HOST/OWNER/REPO",
            kargo_core::urls::redact_url(repo_url)
        ))
    })?;
    let base = options.api_base.clone().unwrap_or_else(|| {
        if url.web_host() == "github.com" {
            "https://api.github.com".to_owned()
        } else {
            format!("{}/api/v3", url.web_origin().unwrap_or_default())
        }
    });
    let client = Client::new(NAME, url.path().to_owned(), base, Auth::Bearer, options)?;
    Ok((client, owner.to_owned(), repo.to_owned()))
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
        let created: PullAnswer = match self
            .client
            .call_as(Method::POST, &self.path("/pulls"), &[], Some(&body), None)
            .await
        {
            Ok(v) => v,
            Err(Error::Api {
                status: 422,
                message,
                ..
            }) if message.contains("No commits between") => {
                return Err(nothing_to_merge(&self.client, new));
            }
            Err(e) => return Err(e),
        };
        let mut pr = Self::convert(&created);
        if !new.labels.is_empty() {
            let body = json!({ "labels": new.labels });
            let labels: Vec<NamedAnswer> = self
                .client
                .call_as(
                    Method::POST,
                    &self.path(&format!("/issues/{}/labels", pr.number)),
                    &[],
                    Some(&body),
                    Some(pr.number),
                )
                .await?;
            pr.labels = labels.into_iter().map(|l| l.name).collect();
        }
        Ok(Opened { pr, reused: false })
    }

    async fn get(&self, number: u64) -> Result<PullRequest, Error> {
        Ok(self.fetch(number).await?.0)
    }

    async fn list(&self, options: &ListOptions) -> Result<Vec<PullRequest>, Error> {
        let state = match options.state {
            StateFilter::Open => "open",
            StateFilter::Closed => "closed",
            StateFilter::All => "all",
        };
        let mut query = vec![("state", state.to_owned())];
        if let Some(source) = &options.source_branch {
            query.push(("head", format!("{}:{source}", self.owner)));
        }
        if let Some(target) = &options.target_branch {
            query.push(("base", target.clone()));
        }
        let mut prs = Vec::new();
        let answers: Vec<PullAnswer> = self.client.list_as(&self.path("/pulls"), &query).await?;
        for answer in &answers {
            let pr = Self::convert(answer);
            if options.matches(&pr) {
                prs.push(pr);
            }
        }
        prs.sort_by_key(|pr| pr.number);
        Ok(prs)
    }

    async fn merge(&self, number: u64, method: Option<MergeMethod>) -> Result<MergeOutcome, Error> {
        self.capabilities().check_merge(NAME, method)?;
        let (pr, raw) = self.fetch(number).await?;
        if let Some(settled) = merge_settled(&self.client, &pr) {
            return settled;
        }
        match raw.mergeable_state.as_deref().unwrap_or_default() {
            "dirty" => {
                return Err(Error::Conflict {
                    provider: NAME,
                    repo: self.client.repo.clone(),
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
        let merge_path = self.path(&format!("/pulls/{number}/merge"));
        match self
            .client
            .call(Method::PUT, &merge_path, &[], Some(&body), Some(number))
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
        let path = self.path(&format!("/pulls/{number}"));
        if let Some(settled) = close_settled(&self.client, &pr) {
            return settled;
        }
        let answer = close_by_patch(&self.client, number, &path).await?;
        Ok(Self::convert(&answer))
    }

    async fn approve(&self, number: u64) -> Result<PullRequest, Error> {
        let pr = self.get(number).await?;
        if !pr.is_open() {
            return Err(not_open(&self.client, &pr, "approved"));
        }
        let body = json!({ "event": "APPROVE" });
        let review: ReviewAnswer = self
            .client
            .call_as(
                Method::POST,
                &self.path(&format!("/pulls/{number}/reviews")),
                &[],
                Some(&body),
                Some(number),
            )
            .await?;
        let mut pr = pr;
        pr.approved_by
            .extend(review.user.map(|u| u.login).filter(|l| !l.is_empty()));
        Ok(pr)
    }
}
