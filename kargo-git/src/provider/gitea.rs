//! Gitea and Forgejo pull requests over their REST API
//! (`SCHEME://HOST/api/v1`).
//!
//! Labels are given to Gitea by ID, so opening a pull request with labels
//! reads the repository's labels first; a label the repository lacks is an
//! error naming it. A merge answered with 409 is a conflict, with 405 "not
//! ready" (checks pending, not mergeable yet).

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

use super::rest::{
    Auth, Client, RestOptions, close_by_patch, close_settled, labels, merge_settled, not_open,
    open_already, str_field,
};
use super::select::RepoUrl;
use super::{
    Capabilities, Error, GitProvider, ListOptions, MergeMethod, MergeOutcome, NewPullRequest,
    Opened, PrState, PullRequest, StateFilter,
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
        let url = RepoUrl::parse(repo_url)?;
        let (owner, repo) = url
            .path
            .split_once('/')
            .filter(|(_, r)| !r.contains('/'))
            .ok_or_else(|| {
                Error::Invalid(format!("{NAME}: {repo_url}: expected HOST/OWNER/REPO"))
            })?;
        let base = options
            .api_base
            .clone()
            .unwrap_or_else(|| format!("{}/api/v1", url.origin()));
        let client = Client::new(NAME, url.path.clone(), base, Auth::Token, &options)?;
        Ok(GiteaProvider {
            client,
            owner: owner.to_owned(),
            repo: repo.to_owned(),
        })
    }

    fn path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }

    fn convert(&self, v: &Value) -> Result<PullRequest, Error> {
        let number = v
            .get("number")
            .and_then(Value::as_u64)
            .ok_or_else(|| self.client.malformed("a pull request without a number"))?;
        let merged = v.get("merged").and_then(Value::as_bool).unwrap_or(false);
        let state = match (str_field(v, "state"), merged) {
            (_, true) => PrState::Merged,
            ("open", _) => PrState::Open,
            _ => PrState::Closed,
        };
        let head = v.get("head").unwrap_or(&Value::Null);
        let mut pr = PullRequest::new(
            number,
            str_field(v, "html_url"),
            str_field(head, "ref"),
            str_field(v.get("base").unwrap_or(&Value::Null), "ref"),
            state,
        );
        pr.title = str_field(v, "title").to_owned();
        pr.description = str_field(v, "body").to_owned();
        pr.head_sha = Some(str_field(head, "sha").to_owned()).filter(|s| !s.is_empty());
        pr.merge_commit =
            Some(str_field(v, "merge_commit_sha").to_owned()).filter(|s| merged && !s.is_empty());
        pr.labels = labels(v);
        pr.created_at = Some(str_field(v, "created_at").to_owned()).filter(|s| !s.is_empty());
        Ok(pr)
    }

    async fn label_ids(&self, names: &[String]) -> Result<Vec<u64>, Error> {
        let known = self.client.list(&self.path("/labels"), &[]).await?;
        let mut ids = Vec::new();
        let mut missing = Vec::new();
        for name in names {
            match known.iter().find(|l| str_field(l, "name") == name) {
                Some(l) => ids.extend(l.get("id").and_then(Value::as_u64)),
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
        let v = self
            .client
            .call(Method::POST, &self.path("/pulls"), &[], Some(&body), None)
            .await?;
        Ok(Opened {
            pr: self.convert(&v)?,
            reused: false,
        })
    }

    async fn get(&self, number: u64) -> Result<PullRequest, Error> {
        let v = self
            .client
            .call(
                Method::GET,
                &self.path(&format!("/pulls/{number}")),
                &[],
                None,
                Some(number),
            )
            .await?;
        self.convert(&v)
    }

    async fn list(&self, options: &ListOptions) -> Result<Vec<PullRequest>, Error> {
        let state = match options.state {
            StateFilter::Open => "open",
            StateFilter::Closed => "closed",
            StateFilter::All => "all",
        };
        let mut prs = Vec::new();
        for v in self
            .client
            .list(&self.path("/pulls"), &[("state", state.to_owned())])
            .await?
        {
            let pr = self.convert(&v)?;
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
        let v = close_by_patch(&self.client, number, &path).await?;
        self.convert(&v)
    }

    async fn approve(&self, number: u64) -> Result<PullRequest, Error> {
        let mut pr = self.get(number).await?;
        if !pr.is_open() {
            return Err(not_open(&self.client, &pr, "approved"));
        }
        let body = json!({ "event": "APPROVED", "body": "" });
        let review = self
            .client
            .call(
                Method::POST,
                &self.path(&format!("/pulls/{number}/reviews")),
                &[],
                Some(&body),
                Some(number),
            )
            .await?;
        let who = str_field(review.get("user").unwrap_or(&Value::Null), "login");
        if !who.is_empty() {
            pr.approved_by.push(who.to_owned());
        }
        Ok(pr)
    }
}
