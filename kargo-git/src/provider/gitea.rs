//! Gitea and Forgejo pull requests over their REST API
//! (`SCHEME://HOST/api/v1`).
//!
//! Labels are given to Gitea by ID, so opening a pull request with labels
//! reads the repository's labels first; a label the repository lacks is an
//! error naming it. A merge answered with 409 is a conflict, with 405 "not
//! ready" (checks pending, not mergeable yet).

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::rest::{
    Auth, Client, PullAnswer, RestOptions, ReviewAnswer, close_by_patch, close_settled,
    merge_settled, not_open, open_already,
};
use super::select::forge_url;
use super::{
    Capabilities, Error, GitProvider, ListOptions, MergeMethod, MergeOutcome, NewPullRequest,
    Opened, PullRequest, StateFilter,
};

const NAME: &str = "gitea";

/// Pull requests of one Gitea or Forgejo repository.
#[derive(Debug)]
pub struct GiteaProvider {
    client: Client,
    owner: String,
    repo: String,
}

impl GiteaProvider {
    /// The provider for `repo_url` (`https://HOST/OWNER/REPO[.git]`).
    pub fn new(repo_url: &str, options: RestOptions) -> Result<Self, Error> {
        let url = forge_url(repo_url)?;
        let (owner, repo) = url.owner_and_name().ok_or_else(|| {
            Error::Invalid(format!(
                "{NAME}: {}: expected HOST/OWNER/REPO",
                kargo_core::urls::redact_url(repo_url)
            ))
        })?;
        let base = options
            .api_base
            .clone()
            .unwrap_or_else(|| format!("{}/api/v1", url.web_origin().unwrap_or_default()));
        let client = Client::new(NAME, url.path().to_owned(), base, Auth::Token, &options)?;
        Ok(GiteaProvider {
            client,
            owner: owner.to_owned(),
            repo: repo.to_owned(),
        })
    }

    fn path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }

    /// Gitea says `merged` on every pull request.
    fn convert(answer: &PullAnswer) -> PullRequest {
        answer.to_pull_request(answer.merged.unwrap_or(false))
    }

    async fn label_ids(&self, names: &[String]) -> Result<Vec<u64>, Error> {
        let known: Vec<LabelAnswer> = self.client.list_as(&self.path("/labels"), &[]).await?;
        let mut ids = Vec::new();
        let mut missing = Vec::new();
        for name in names {
            match known.iter().find(|l| l.name == *name) {
                Some(l) => ids.push(l.id),
                None => missing.push(name.as_str()),
            }
        }
        if !missing.is_empty() {
            return Err(Error::Invalid(format!(
                "{NAME}: repository {} has no labels {}",
                self.client.repo,
                missing.join(", ")
            )));
        }
        Ok(ids)
    }
}

/// A repository label, as Gitea lists them: labels are given by ID.
#[derive(Debug, Deserialize)]
struct LabelAnswer {
    id: u64,
    name: String,
}

#[async_trait]
impl GitProvider for GiteaProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
    }

    async fn open(&self, new: &NewPullRequest) -> Result<Opened, Error> {
        if let Some(opened) = open_already(self, new).await? {
            return Ok(opened);
        }
        let mut body = json!({
            "head": new.source_branch,
            "base": new.target_branch,
            "title": new.title_or_fallback(),
            "body": new.description,
        });
        if !new.labels.is_empty() {
            body["labels"] = json!(self.label_ids(&new.labels).await?);
        }
        let answer: PullAnswer = self
            .client
            .call_as(Method::POST, &self.path("/pulls"), &[], Some(&body), None)
            .await?;
        Ok(Opened {
            pr: Self::convert(&answer),
            reused: false,
        })
    }

    async fn get(&self, number: u64) -> Result<PullRequest, Error> {
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
        Ok(Self::convert(&answer))
    }

    async fn list(&self, options: &ListOptions) -> Result<Vec<PullRequest>, Error> {
        let state = match options.state {
            StateFilter::Open => "open",
            StateFilter::Closed => "closed",
            StateFilter::All => "all",
        };
        let mut prs = Vec::new();
        let answers: Vec<PullAnswer> = self
            .client
            .list_as(&self.path("/pulls"), &[("state", state.to_owned())])
            .await?;
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
        let pr = self.get(number).await?;
        if let Some(settled) = merge_settled(&self.client, &pr) {
            return settled;
        }
        let how = match method.unwrap_or(MergeMethod::Merge) {
            MergeMethod::FastForward => "fast-forward-only",
            other => other.as_str(),
        };
        let body = json!({ "Do": how });
        match self
            .client
            .call(
                Method::POST,
                &self.path(&format!("/pulls/{number}/merge")),
                &[],
                Some(&body),
                Some(number),
            )
            .await
        {
            Ok(_) => {}
            Err(Error::Api {
                status: 409,
                message,
                ..
            }) => {
                return Err(Error::Conflict {
                    provider: NAME,
                    repo: self.client.repo.clone(),
                    pr: number,
                    message,
                });
            }
            Err(Error::Api {
                status: 405,
                message,
                ..
            }) => {
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
        let mut pr = self.get(number).await?;
        if !pr.is_open() {
            return Err(not_open(&self.client, &pr, "approved"));
        }
        let body = json!({ "event": "APPROVED", "body": "" });
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
        pr.approved_by
            .extend(review.user.map(|u| u.login).filter(|l| !l.is_empty()));
        Ok(pr)
    }
}
