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
use serde_json::{Value, json};

use super::rest::{
    Auth, Client, RestOptions, close_settled, encode_segment, merge_settled, not_open,
    open_already, str_field,
};
use super::select::RepoUrl;
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
        let url = RepoUrl::parse(repo_url)?;
        let base = options
            .api_base
            .clone()
            .unwrap_or_else(|| format!("{}/api/v4", url.origin()));
        let client = Client::new(NAME, url.path.clone(), base, Auth::PrivateToken, &options)?;
        Ok(GitLabProvider {
            client,
            project: encode_segment(&url.path),
        })
    }

    fn path(&self, rest: &str) -> String {
        format!("/projects/{}/merge_requests{rest}", self.project)
    }

    fn convert(&self, v: &Value) -> Result<PullRequest, Error> {
        let number = v
            .get("iid")
            .and_then(Value::as_u64)
            .ok_or_else(|| self.client.malformed("a merge request without an iid"))?;
        let state = match str_field(v, "state") {
            "merged" => PrState::Merged,
            "opened" | "locked" => PrState::Open,
            _ => PrState::Closed,
        };
        let mut pr = PullRequest::new(
            number,
            str_field(v, "web_url"),
            str_field(v, "source_branch"),
            str_field(v, "target_branch"),
            state,
        );
        pr.title = str_field(v, "title").to_owned();
        pr.description = str_field(v, "description").to_owned();
        pr.head_sha = Some(str_field(v, "sha").to_owned()).filter(|s| !s.is_empty());
        if state == PrState::Merged {
            // A squash into a fast-forward-only project leaves no merge commit.
            pr.merge_commit = [
                str_field(v, "merge_commit_sha"),
                str_field(v, "squash_commit_sha"),
                str_field(v, "sha"),
            ]
            .into_iter()
            .find(|s| !s.is_empty())
            .map(str::to_owned);
        }
        pr.labels = v
            .get("labels")
            .and_then(Value::as_array)
            .map(|ls| {
                ls.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        pr.created_at = Some(str_field(v, "created_at").to_owned()).filter(|s| !s.is_empty());
        Ok(pr)
    }

    async fn fetch(&self, number: u64) -> Result<(PullRequest, Value), Error> {
        let v = self
            .client
            .call(
                Method::GET,
                &self.path(&format!("/{number}")),
                &[],
                None,
                Some(number),
            )
            .await?;
        Ok((self.convert(&v)?, v))
    }
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
        let v = self
            .client
            .call(Method::POST, &self.path(""), &[], Some(&body), None)
            .await?;
        Ok(Opened {
            pr: self.convert(&v)?,
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
        let mut prs = Vec::new();
        for v in self.client.list(&self.path(""), &query).await? {
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
        let squash = (method == Some(MergeMethod::Squash)).then_some(true);
        let (pr, raw) = self.fetch(number).await?;
        if let Some(settled) = merge_settled(&self.client, &pr) {
            return settled;
        }
        let status = str_field(&raw, "detailed_merge_status");
        let conflict = |message: String| Error::Conflict {
            provider: NAME,
            repo: self.client.repo.clone(),
            pr: number,
            message,
        };
        if raw.get("has_conflicts").and_then(Value::as_bool) == Some(true) || status == "conflict" {
            return Err(conflict("GitLab reports merge conflicts".to_owned()));
        }
        if raw.get("draft").and_then(Value::as_bool) == Some(true)
            || (!status.is_empty() && status != "mergeable")
        {
            return Ok(MergeOutcome::NotReady {
                reason: format!("detailed_merge_status is {status}"),
            });
        }
        let body = match squash {
            Some(s) => json!({ "squash": s }),
            None => json!({}),
        };
        let merged = match self
            .client
            .call(
                Method::PUT,
                &self.path(&format!("/{number}/merge")),
                &[],
                Some(&body),
                Some(number),
            )
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
        Ok(MergeOutcome::Merged(self.convert(&merged)?))
    }

    async fn close(&self, number: u64) -> Result<PullRequest, Error> {
        let pr = self.get(number).await?;
        if let Some(settled) = close_settled(&self.client, &pr) {
            return settled;
        }
        let body = json!({ "state_event": "close" });
        let v = self
            .client
            .call(
                Method::PUT,
                &self.path(&format!("/{number}")),
                &[],
                Some(&body),
                Some(number),
            )
            .await?;
        self.convert(&v)
    }

    async fn approve(&self, number: u64) -> Result<PullRequest, Error> {
        let mut pr = self.get(number).await?;
        if !pr.is_open() {
            return Err(not_open(&self.client, &pr, "approved"));
        }
        let approval = self
            .client
            .call(
                Method::POST,
                &self.path(&format!("/{number}/approve")),
                &[],
                Some(&json!({})),
                Some(number),
            )
            .await?;
        pr.approved_by = approval
            .get("approved_by")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|x| {
                        str_field(x.get("user").unwrap_or(&Value::Null), "username").to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(pr)
    }
}
