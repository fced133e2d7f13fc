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
use serde_json::{Value, json};

use super::repos::{PullAnswer, ReposApi};
use super::rest::{Auth, RestOptions, merge_settled, open_already};
use super::{
    Capabilities, Error, GitProvider, ListOptions, MergeMethod, MergeOutcome, NewPullRequest,
    Opened, PullRequest,
};

const NAME: &str = "gitea";

/// Pull requests of one Gitea or Forgejo repository.
#[derive(Debug)]
pub struct GiteaProvider {
    api: ReposApi,
}

impl GiteaProvider {
    /// The provider for `repo_url` (`https://HOST/OWNER/REPO[.git]`).
    pub fn new(repo_url: &str, options: RestOptions) -> Result<Self, Error> {
        let api = ReposApi::new(NAME, repo_url, &options, Auth::Token, |url| {
            format!("{}/api/v1", url.web_origin().unwrap_or_default())
        })?;
        Ok(GiteaProvider { api })
    }

    fn convert(answer: &PullAnswer) -> PullRequest {
        answer.to_pull_request(answer.merged.unwrap_or(false))
    }

    async fn label_ids(&self, names: &[String]) -> Result<Vec<u64>, Error> {
        let known: Vec<LabelAnswer> = self
            .api
            .client
            .list_as(&self.api.path("/labels"), &[])
            .await?;
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
                self.api.client.repo,
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
        let answer = self.api.create_pull(&body).await?;
        Ok(Opened {
            pr: Self::convert(&answer),
            reused: false,
        })
    }

    async fn get(&self, number: u64) -> Result<PullRequest, Error> {
        Ok(Self::convert(&self.api.pull(number).await?))
    }

    async fn list(&self, options: &ListOptions) -> Result<Vec<PullRequest>, Error> {
        self.api
            .list_pulls(options, Vec::new(), Self::convert)
            .await
    }

    async fn merge(&self, number: u64, method: Option<MergeMethod>) -> Result<MergeOutcome, Error> {
        self.capabilities().check_merge(NAME, method)?;
        let pr = self.get(number).await?;
        if let Some(settled) = merge_settled(&self.api.client, &pr) {
            return settled;
        }
        let how = match method.unwrap_or(MergeMethod::Merge) {
            MergeMethod::FastForward => "fast-forward-only",
            other => other.as_str(),
        };
        let body = json!({ "Do": how });
        let path = self.api.path(&format!("/pulls/{number}/merge"));
        match self
            .api
            .client
            .pr_call_as::<Value>(Method::POST, &path, Some(&body), number)
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
                    repo: self.api.client.repo.clone(),
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
        self.api.close(&pr, Self::convert).await
    }

    async fn approve(&self, number: u64) -> Result<PullRequest, Error> {
        let pr = self.get(number).await?;
        let review = json!({ "event": "APPROVED", "body": "" });
        self.api.approve(pr, &review).await
    }
}
