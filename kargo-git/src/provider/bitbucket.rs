//! Bitbucket Cloud pull requests over its REST API 2.0
//! (`https://api.bitbucket.org/2.0`).
//!
//! A repository is `https://bitbucket.org/WORKSPACE/REPO[.git]`; the token
//! (an access token of the repository, project or workspace) is sent as
//! `Authorization: Bearer TOKEN`.
//!
//! - Opening: `POST /repositories/WORKSPACE/REPO/pullrequests` with the
//!   title, description and `source` / `destination` branches. Bitbucket
//!   pull requests have no labels: labels asked for are left out (as Kargo
//!   does), and [`Capabilities::labels`] is false. A source branch with
//!   nothing new ("There are no changes to be pulled") is
//!   [`Error::NothingToMerge`].
//! - Lists: `GET .../pullrequests?state=...` (one `state` per wanted state),
//!   page by page (`page`, `pagelen`) while the answer names a `next` page.
//! - Merging: `POST .../pullrequests/N/merge` with a `merge_strategy`:
//!   [`MergeMethod::Merge`] is `merge_commit`, [`MergeMethod::Squash`]
//!   `squash`, [`MergeMethod::FastForward`] `fast_forward`; without a method
//!   none is sent and the repository's default applies. Rebasing methods
//!   are `Unsupported`. A draft is not ready. Bitbucket refuses a merge
//!   with 400: about conflicts, that is [`Error::Conflict`]; otherwise
//!   (merge checks such as approvals or builds not met yet) it is
//!   [`MergeOutcome::NotReady`], as is a merge Bitbucket accepted to finish
//!   later (202). The merge commit's hash, which Bitbucket may abbreviate,
//!   is read in full from the commit.
//! - Closing: `POST .../pullrequests/N/decline`; approving:
//!   `POST .../pullrequests/N/approve`, and approvals are the participants
//!   marked `approved`.
//!
//! States: `MERGED` is merged, `DECLINED` and `SUPERSEDED` closed, `OPEN`
//! (and a merge still queued) open.
//!
//! Only Bitbucket Cloud is spoken to: a repository on another host (a
//! Bitbucket Server or Data Center, whose API differs) is refused unless
//! [`RestOptions::api_base`] is set, so the token never goes to Bitbucket
//! Cloud for a repository elsewhere.

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::rest::{
    Auth, Client, RestOptions, check_open, close_settled, encode_segment, merge_settled,
    nothing_to_merge, open_already,
};
use super::select::forge_url;
use super::{
    Capabilities, Error, GitProvider, ListOptions, MergeMethod, MergeOutcome, NewPullRequest,
    Opened, PrState, PullRequest, StateFilter,
};

const NAME: &str = "bitbucket";

/// Bitbucket Cloud's host and API.
const HOST: &str = "bitbucket.org";
const API: &str = "https://api.bitbucket.org/2.0";

/// Pull requests per page (Bitbucket's most), and the most pages read.
const PAGE_LEN: usize = 50;
const MAX_PAGES: usize = 200;

/// Pull requests of one Bitbucket Cloud repository.
#[derive(Debug)]
pub struct BitbucketProvider {
    client: Client,
    workspace: String,
    repo: String,
    /// `https://HOST/WORKSPACE/REPO`, for web URLs the answers lack.
    web: String,
}

impl BitbucketProvider {
    /// The provider for `repo_url` (`https://bitbucket.org/WORKSPACE/REPO[.git]`).
    pub fn new(repo_url: &str, options: RestOptions) -> Result<Self, Error> {
        let url = forge_url(repo_url)?;
        let (workspace, repo) = url.owner_and_name().ok_or_else(|| {
            Error::Invalid(format!(
                "{NAME}: {}: expected https://bitbucket.org/WORKSPACE/REPO",
                kargo_core::urls::redact_url(repo_url)
            ))
        })?;
        // The token goes to Bitbucket Cloud's API only for a Bitbucket Cloud
        // repository (a Bitbucket Server speaks another API).
        let cloud = url.web_host() == HOST;
        let base = match (&options.api_base, cloud) {
            (Some(base), _) => base.clone(),
            (None, true) => API.to_owned(),
            (None, false) => {
                return Err(Error::Invalid(format!(
                    "{NAME}: {}: only Bitbucket Cloud ({HOST}) is supported",
                    kargo_core::urls::redact_url(repo_url)
                )));
            }
        };
        let client = Client::new(NAME, url.path().to_owned(), base, Auth::Bearer, &options)?;
        Ok(BitbucketProvider {
            client,
            workspace: workspace.to_owned(),
            repo: repo.to_owned(),
            web: url.web_url().unwrap_or_default(),
        })
    }

    /// `/repositories/WORKSPACE/REPO{rest}`.
    fn path(&self, rest: &str) -> String {
        format!(
            "/repositories/{}/{}{rest}",
            encode_segment(&self.workspace),
            encode_segment(&self.repo)
        )
    }

    fn convert(&self, answer: &PullRequestAnswer) -> PullRequest {
        let state = match answer.state.as_str() {
            "MERGED" => PrState::Merged,
            "DECLINED" | "SUPERSEDED" => PrState::Closed,
            // OPEN, and a merge Bitbucket has queued.
            _ => PrState::Open,
        };
        let number = answer.id;
        let url = answer
            .links
            .as_ref()
            .and_then(|l| l.html.as_ref())
            .map_or_else(
                || format!("{}/pull-requests/{number}", self.web),
                |h| h.href.clone(),
            );
        let hash = |commit: &Option<HashAnswer>| {
            commit
                .as_ref()
                .map(|c| c.hash.clone())
                .filter(|h| !h.is_empty())
        };
        let mut pr = PullRequest::new(
            number,
            url,
            &answer.source.branch.name,
            &answer.destination.branch.name,
            state,
        );
        pr.title = answer.title.clone();
        pr.description = answer.description.clone().unwrap_or_default();
        pr.head_sha = hash(&answer.source.commit);
        pr.merge_commit = hash(&answer.merge_commit).filter(|_| state == PrState::Merged);
        pr.approved_by = answer
            .participants
            .iter()
            .filter(|p| p.approved)
            .filter_map(|p| p.user.as_ref())
            .map(|user| match (&user.nickname, &user.display_name) {
                (Some(nickname), _) if !nickname.is_empty() => nickname.clone(),
                (_, display_name) => display_name.clone().unwrap_or_default(),
            })
            .collect();
        pr.created_at = answer.created_on.clone().filter(|s| !s.is_empty());
        pr
    }

    /// `pr` with its merge commit's hash in full.
    async fn full_merge_commit(&self, mut pr: PullRequest) -> Result<PullRequest, Error> {
        if let Some(short) = pr.merge_commit.clone().filter(|h| h.len() < 40) {
            let path = self.path(&format!("/commit/{}", encode_segment(&short)));
            let commit: HashAnswer = self
                .client
                .pr_call_as(Method::GET, &path, None, pr.number)
                .await?;
            if commit.hash.len() != 40 || !commit.hash.starts_with(short.as_str()) {
                return Err(self.client.malformed("a commit without its full hash"));
            }
            pr.merge_commit = Some(commit.hash);
        }
        Ok(pr)
    }

    async fn fetch(&self, number: u64) -> Result<(PullRequest, PullRequestAnswer), Error> {
        let path = self.path(&format!("/pullrequests/{number}"));
        let answer: PullRequestAnswer = self
            .client
            .pr_call_as(Method::GET, &path, None, number)
            .await?;
        let pr = self.full_merge_commit(self.convert(&answer)).await?;
        Ok((pr, answer))
    }

    /// Posts to `/pullrequests/N/{action}` and reads the pull request again.
    async fn act(&self, number: u64, action: &str) -> Result<PullRequest, Error> {
        let path = self.path(&format!("/pullrequests/{number}/{action}"));
        self.client
            .pr_call_as::<Value>(Method::POST, &path, None, number)
            .await?;
        self.get(number).await
    }

    fn conflict(&self, number: u64, message: String) -> Error {
        Error::Conflict {
            provider: NAME,
            repo: self.client.repo.clone(),
            pr: number,
            message,
        }
    }
}

/// A pull request as Bitbucket Cloud's API answers it (the fields read).
#[derive(Debug, Deserialize)]
struct PullRequestAnswer {
    id: u64,
    title: String,
    #[serde(default)]
    description: Option<String>,
    /// `OPEN`, `MERGED`, `DECLINED` or `SUPERSEDED`.
    state: String,
    source: EndAnswer,
    destination: EndAnswer,
    #[serde(default)]
    merge_commit: Option<HashAnswer>,
    #[serde(default)]
    participants: Vec<ParticipantAnswer>,
    #[serde(default)]
    created_on: Option<String>,
    #[serde(default)]
    links: Option<LinksAnswer>,
    #[serde(default)]
    draft: Option<bool>,
}

/// A pull request's `source` or `destination`.
#[derive(Debug, Deserialize)]
struct EndAnswer {
    branch: BranchAnswer,
    #[serde(default)]
    commit: Option<HashAnswer>,
}

#[derive(Debug, Deserialize)]
struct BranchAnswer {
    name: String,
}

/// A commit by its (possibly abbreviated) hash.
#[derive(Debug, Deserialize)]
struct HashAnswer {
    hash: String,
}

#[derive(Debug, Deserialize)]
struct ParticipantAnswer {
    #[serde(default)]
    approved: bool,
    #[serde(default)]
    user: Option<UserAnswer>,
}

#[derive(Debug, Deserialize)]
struct UserAnswer {
    #[serde(default)]
    nickname: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LinksAnswer {
    #[serde(default)]
    html: Option<HrefAnswer>,
}

#[derive(Debug, Deserialize)]
struct HrefAnswer {
    href: String,
}

/// One page of a pull-request list.
#[derive(Debug, Deserialize)]
struct PageAnswer {
    values: Vec<PullRequestAnswer>,
    #[serde(default)]
    next: Option<String>,
}

/// The answer to a merge: the pull request when it is merged (200), or
/// Bitbucket's note that it merges in the background (202).
#[derive(Debug, Deserialize)]
struct MergeAnswer {
    #[serde(default)]
    state: Option<String>,
}

#[async_trait]
impl GitProvider for BitbucketProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            labels: false,
            merge_methods: &[
                MergeMethod::Merge,
                MergeMethod::Squash,
                MergeMethod::FastForward,
            ],
            ..Capabilities::all()
        }
    }

    async fn open(&self, new: &NewPullRequest) -> Result<Opened, Error> {
        if let Some(opened) = open_already(self, new).await? {
            return Ok(opened);
        }
        if !new.labels.is_empty() {
            tracing::debug!(repo = %self.client.repo, labels = ?new.labels, "Bitbucket pull requests have no labels; left out");
        }
        let body = json!({
            "type": "pullrequest",
            "title": new.title_or_fallback(),
            "description": new.description,
            "source": { "branch": { "name": new.source_branch } },
            "destination": { "branch": { "name": new.target_branch } },
        });
        let created = match self
            .client
            .call(
                Method::POST,
                &self.path("/pullrequests"),
                &[],
                Some(&body),
                None,
            )
            .await
        {
            Ok(v) => v,
            Err(Error::Api {
                status: 400,
                message,
                ..
            }) if message.contains("no changes to be pulled") => {
                return Err(nothing_to_merge(&self.client, new));
            }
            Err(e) => return Err(e),
        };
        let request = format!("POST {}", self.path("/pullrequests"));
        let answer: PullRequestAnswer = self.client.decode(&request, created)?;
        Ok(Opened {
            pr: self.convert(&answer),
            reused: false,
        })
    }

    async fn get(&self, number: u64) -> Result<PullRequest, Error> {
        Ok(self.fetch(number).await?.0)
    }

    async fn list(&self, options: &ListOptions) -> Result<Vec<PullRequest>, Error> {
        let states: &[&str] = match options.state {
            StateFilter::Open => &["OPEN"],
            StateFilter::Closed => &["MERGED", "DECLINED", "SUPERSEDED"],
            StateFilter::All => &["OPEN", "MERGED", "DECLINED", "SUPERSEDED"],
        };
        let path = self.path("/pullrequests");
        let mut prs = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut query: Vec<(&str, String)> =
                states.iter().map(|s| ("state", (*s).to_owned())).collect();
            query.push(("pagelen", PAGE_LEN.to_string()));
            query.push(("page", page.to_string()));
            let page: PageAnswer = self
                .client
                .call_as(Method::GET, &path, &query, None, None)
                .await?;
            for answer in &page.values {
                let pr = self.convert(answer);
                if options.matches(&pr) {
                    prs.push(self.full_merge_commit(pr).await?);
                }
            }
            if page.next.is_none() {
                break;
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
        if raw.draft == Some(true) {
            return Ok(MergeOutcome::NotReady {
                reason: "the pull request is a draft".to_owned(),
            });
        }
        let mut body = json!({ "type": "pullrequestMergeParameters" });
        if let Some(method) = method {
            body["merge_strategy"] = json!(match method {
                MergeMethod::Squash => "squash",
                MergeMethod::FastForward => "fast_forward",
                // The others were refused above.
                _ => "merge_commit",
            });
        }
        let path = self.path(&format!("/pullrequests/{number}/merge"));
        let answer = self
            .client
            .pr_call_as::<Value>(Method::POST, &path, Some(&body), number)
            .await;
        let merged = match answer {
            Ok(v) => v,
            Err(Error::Api {
                status: 400 | 409,
                message,
                ..
            }) => {
                return if message.to_ascii_lowercase().contains("conflict") {
                    Err(self.conflict(number, message))
                } else {
                    Ok(MergeOutcome::NotReady { reason: message })
                };
            }
            Err(e) => return Err(e),
        };
        // 202: Bitbucket merges in the background; merging again reports it.
        let request = format!("POST {path}");
        let state: MergeAnswer = self.client.decode(&request, merged.clone())?;
        if state.state.as_deref() != Some("MERGED") {
            return Ok(MergeOutcome::NotReady {
                reason: "Bitbucket accepted the merge and has not finished it yet".to_owned(),
            });
        }
        let answer: PullRequestAnswer = self.client.decode(&request, merged)?;
        let pr = self.full_merge_commit(self.convert(&answer)).await?;
        Ok(MergeOutcome::Merged(pr))
    }

    async fn close(&self, number: u64) -> Result<PullRequest, Error> {
        let pr = self.get(number).await?;
        match close_settled(&self.client, &pr) {
            Some(settled) => settled,
            None => self.act(number, "decline").await,
        }
    }

    async fn approve(&self, number: u64) -> Result<PullRequest, Error> {
        let pr = self.get(number).await?;
        check_open(&self.client, &pr, "approved")?;
        self.act(number, "approve").await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_workspace_and_slug() {
        let p = BitbucketProvider::new(
            "https://bitbucket.org/acme/deploy.git",
            RestOptions::default(),
        )
        .unwrap();
        assert_eq!((p.workspace.as_str(), p.repo.as_str()), ("acme", "deploy"));
        assert_eq!(
            p.path("/pullrequests"),
            "/repositories/acme/deploy/pullrequests"
        );
        assert_eq!(p.client.base, API);
        let ssh =
            BitbucketProvider::new("git@bitbucket.org:acme/deploy.git", RestOptions::default())
                .unwrap();
        assert_eq!(ssh.web, "https://bitbucket.org/acme/deploy");
        // Another host: refused, unless the API is named.
        let err = BitbucketProvider::new(
            "https://u:s3cret@bitbucket.example.com/acme/deploy",
            RestOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("only Bitbucket Cloud"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        BitbucketProvider::new(
            "https://bitbucket.example.com/acme/deploy",
            RestOptions::default().with_api_base("https://bitbucket.example.com/api/2.0"),
        )
        .unwrap();
        for bad in [
            "https://bitbucket.org/acme",
            "https://bitbucket.org/acme/deploy/extra",
        ] {
            let err = BitbucketProvider::new(bad, RestOptions::default()).unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{err:?}");
            assert!(err.to_string().contains("/REPO"), "{err}");
        }
    }
}
