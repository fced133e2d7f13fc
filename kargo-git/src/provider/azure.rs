//! Azure DevOps pull requests over the Git "Pull Requests" REST API
//! (`api-version=7.1`).
//!
//! # Repositories
//! A repository is named by organization, project and repository, taken
//! from its URL:
//! - `https://dev.azure.com/ORG/PROJECT/_git/REPO`;
//! - the legacy `https://ORG.visualstudio.com/PROJECT/_git/REPO` (also with
//!   `DefaultCollection/` before the project);
//! - the ssh forms `git@ssh.dev.azure.com:v3/ORG/PROJECT/REPO` and
//!   `ORG@vs-ssh.visualstudio.com:v3/ORG/PROJECT/REPO`;
//! - `.../ORG/_git/REPO` without a project, which is how Azure DevOps names
//!   a repository whose name is its project's;
//! - on any other host (Azure DevOps Server, only when the provider is
//!   named `azure` explicitly), `https://HOST/COLLECTION.../PROJECT/_git/REPO`.
//!
//! The API is the organization's: `https://dev.azure.com/ORG` for the cloud
//! forms (legacy hosts included), `https://HOST/COLLECTION...` on a server;
//! [`RestOptions::api_base`] replaces it. Names are percent-decoded from
//! the URL and encoded again in API paths, so projects with spaces work.
//!
//! # Requests
//! - Authentication: the personal access token as the password of HTTP
//!   basic auth with an empty user name. A token is required, as Kargo
//!   requires one (anonymous requests get a sign-in page, not a JSON 401).
//! - Opening: `POST .../pullrequests` with `sourceRefName` and
//!   `targetRefName` (`refs/heads/BRANCH`), title, description (cut to
//!   Azure's limit of 4000 characters) and `labels: [{name}]`. An open pull
//!   request for the same branches is looked for first with
//!   `searchCriteria.sourceRefName`, `searchCriteria.targetRefName` and
//!   `searchCriteria.status=active`, and reused.
//! - Merging: `PATCH .../pullrequests/N` with `status: completed`, the
//!   `lastMergeSourceCommit` that was checked (Azure refuses the merge if
//!   the branch moved since) and, when a method is given,
//!   `completionOptions.mergeStrategy`: [`MergeMethod::Merge`] is
//!   `noFastForward` (a merge commit), [`MergeMethod::Squash`] is `squash`,
//!   [`MergeMethod::Rebase`] is `rebase` (the commits replayed, then a
//!   fast-forward), [`MergeMethod::RebaseMerge`] is `rebaseMerge` (replayed,
//!   then a merge commit); [`MergeMethod::FastForward`] is `Unsupported`.
//!   Without a method none is sent, and Azure uses the target branch's
//!   policy (a merge commit when there is none).
//! - Closing: `PATCH .../pullrequests/N` with `status: abandoned`.
//!
//! # States
//! `active` is open, `completed` merged (the merge commit is
//! `lastMergeCommit`), `abandoned` closed. Before merging, `mergeStatus`
//! is read: `succeeded` merges, `conflicts` (and `failure`, a merge Azure
//! could not compute) is [`Error::Conflict`]; `queued`, `notSet` and
//! `rejectedByPolicy`, a draft, or a PATCH answered with 409 are
//! [`MergeOutcome::NotReady`]. Azure completes a pull request
//! asynchronously, so after the PATCH the pull request is read again a few
//! times (waits as [`RestOptions::retry`] sets them); still not completed
//! (a branch policy such as required reviewers or a build can hold it), it
//! is not ready yet, and merging again later reports the merge.
//!
//! # Not supported
//! Approving: a vote needs the reviewer's identity ID, which the Pull
//! Requests API does not give for a token, so
//! [`approve`](GitProvider::approve) is [`Error::Unsupported`]. Approvals
//! made otherwise are reported from the reviewers' votes.
//!
//! The pull request's web URL is `REPOSITORY_WEB_URL/pullrequest/N`, built
//! from the repository URL (answers of the Pull Requests API carry only
//! API URLs).

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::rest::{
    Auth, Client, RestOptions, Retry, close_settled, encode_segment, matching, merge_settled,
    non_empty, not_open, open_already,
};
use super::select::forge_url;
use super::{
    Capabilities, Error, GitProvider, ListOptions, MergeMethod, MergeOutcome, NewPullRequest,
    Opened, PrState, PullRequest, StateFilter,
};

const NAME: &str = "azure";

/// The REST API version every request names.
const API_VERSION: &str = "7.1";

/// Azure's limit on a pull request's description, in characters.
const MAX_DESCRIPTION: usize = 4000;

/// Pull requests per page of a list (`$top`), and the most pages read.
const PAGE: usize = 100;
const MAX_PAGES: usize = 100;

/// Azure's error code for "an active pull request for the source and target
/// branch already exists".
const DUPLICATE: &str = "TF401179";

/// Where a repository lives, as its URL names it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Location {
    /// The organization's (collection's) API root.
    api: String,
    /// The project (decoded).
    project: String,
    /// The repository (decoded).
    repo: String,
    /// The repository's web page.
    web: String,
    /// How errors name it: `ORG/PROJECT/_git/REPO`.
    display: String,
}

impl Location {
    fn parse(repo_url: &str) -> Result<Location, Error> {
        let invalid = || {
            Error::Invalid(format!(
                "{NAME}: repository URL {}: expected https://dev.azure.com/ORG/PROJECT/_git/REPO \
                 or https://ORG.visualstudio.com/PROJECT/_git/REPO",
                kargo_core::urls::redact_url(repo_url)
            ))
        };
        let url = forge_url(repo_url)?;
        let host_name = url.host().unwrap_or_default();
        let segments: Vec<String> = url.path().split('/').map(decode_segment).collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let dev = |org: &str| format!("https://dev.azure.com/{}", encode_segment(org));
        let cloud = |org: &str, project: &str, repo: &str, web_root: String| {
            let names = [org, project, repo];
            if names.iter().any(|n| n.is_empty()) {
                return Err(invalid());
            }
            Ok(Location {
                api: dev(org),
                project: project.to_owned(),
                repo: repo.to_owned(),
                web: format!(
                    "{web_root}/{}/_git/{}",
                    encode_segment(project),
                    encode_segment(repo)
                ),
                display: format!("{org}/{project}/_git/{repo}"),
            })
        };
        match host_name {
            "dev.azure.com" => match split_git(&segments).ok_or_else(invalid)? {
                ([org], repo) => cloud(org, repo, repo, dev(org)),
                ([org, project], repo) => cloud(org, project, repo, dev(org)),
                _ => Err(invalid()),
            },
            "ssh.dev.azure.com" | "vs-ssh.visualstudio.com" => match segments.as_slice() {
                [v3, org, project, repo] if v3.eq_ignore_ascii_case("v3") => {
                    cloud(org, project, repo, dev(org))
                }
                _ => Err(invalid()),
            },
            h if h.ends_with(".visualstudio.com") => {
                let org = h.trim_end_matches(".visualstudio.com");
                let web_root = format!("https://{h}");
                let (before, repo) = split_git(&segments).ok_or_else(invalid)?;
                let before = match before {
                    [collection, rest @ ..]
                        if collection.eq_ignore_ascii_case("DefaultCollection") =>
                    {
                        rest
                    }
                    all => all,
                };
                match before {
                    [] => cloud(org, repo, repo, web_root),
                    [project] => cloud(org, project, repo, web_root),
                    _ => Err(invalid()),
                }
            }
            _ => {
                // Azure DevOps Server: the collection's path, then the project.
                let (before, repo) = split_git(&segments).ok_or_else(invalid)?;
                let (collection, project) = match before {
                    [] => return Err(invalid()),
                    // A repository named like its project.
                    [_] => (before, repo),
                    [collection @ .., project] => (collection, *project),
                };
                if collection
                    .iter()
                    .chain([&project, &repo])
                    .any(|n| n.is_empty())
                {
                    return Err(invalid());
                }
                let encoded: Vec<String> = collection.iter().map(|c| encode_segment(c)).collect();
                let api = format!(
                    "{}/{}",
                    url.web_origin().unwrap_or_default(),
                    encoded.join("/")
                );
                let collection = collection.join("/");
                Ok(Location {
                    web: format!(
                        "{api}/{}/_git/{}",
                        encode_segment(project),
                        encode_segment(repo)
                    ),
                    api,
                    project: project.to_owned(),
                    repo: repo.to_owned(),
                    display: format!("{collection}/{project}/_git/{repo}"),
                })
            }
        }
    }
}

/// The segments before `_git`, and the repository after it (the last one).
fn split_git<'a, 'b>(segments: &'b [&'a str]) -> Option<(&'b [&'a str], &'a str)> {
    match segments {
        [before @ .., git, repo] if git.eq_ignore_ascii_case("_git") => Some((before, repo)),
        _ => None,
    }
}

/// `segment` with its `%XX` escapes decoded (kept as they are when the
/// result would not be UTF-8).
fn decode_segment(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| segment.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| segment.to_owned())
}

/// `refs/heads/BRANCH`, unless `branch` is a full ref name already.
fn ref_name(branch: &str) -> String {
    if branch.starts_with("refs/") {
        branch.to_owned()
    } else {
        format!("refs/heads/{branch}")
    }
}

/// `description` cut to Azure's limit.
fn limit_description(description: &str) -> String {
    if description.chars().count() <= MAX_DESCRIPTION {
        return description.to_owned();
    }
    let mut cut: String = description.chars().take(MAX_DESCRIPTION - 1).collect();
    cut.push('…');
    cut
}

/// Pull requests of one Azure DevOps repository.
#[derive(Debug)]
pub struct AzureProvider {
    client: Client,
    location: Location,
    /// How long to wait for Azure to complete a merge.
    poll: Retry,
}

impl AzureProvider {
    /// The provider for `repo_url` (`https://dev.azure.com/ORG/PROJECT/_git/REPO`
    /// and the other forms the [module documentation](self) lists).
    ///
    /// Fails when `options` has no token: Azure DevOps needs one.
    pub fn new(repo_url: &str, options: RestOptions) -> Result<Self, Error> {
        let location = Location::parse(repo_url)?;
        if options.token.is_none() {
            return Err(Error::Invalid(format!(
                "{NAME}: {}: a personal access token is required for Azure DevOps",
                location.display
            )));
        }
        let base = options
            .api_base
            .clone()
            .unwrap_or_else(|| location.api.clone());
        let client = Client::new(
            NAME,
            location.display.clone(),
            base,
            Auth::BasicToken,
            &options,
        )?;
        Ok(AzureProvider {
            client,
            location,
            poll: options.retry,
        })
    }

    /// `/PROJECT/_apis/git/repositories/REPO/pullrequests{rest}`.
    fn path(&self, rest: &str) -> String {
        format!(
            "/{}/_apis/git/repositories/{}/pullrequests{rest}",
            encode_segment(&self.location.project),
            encode_segment(&self.location.repo)
        )
    }

    fn version() -> (&'static str, String) {
        ("api-version", API_VERSION.to_owned())
    }

    fn convert(&self, answer: &PullRequestAnswer) -> PullRequest {
        let number = answer.pull_request_id;
        let state = match answer.status.as_str() {
            "completed" => PrState::Merged,
            "abandoned" => PrState::Closed,
            _ => PrState::Open,
        };
        let branch = |name: &str| name.strip_prefix("refs/heads/").unwrap_or(name).to_owned();
        let commit = |c: &Option<CommitAnswer>| {
            c.as_ref()
                .map(|c| c.commit_id.clone())
                .filter(|s| !s.is_empty())
        };
        let mut pr = PullRequest::new(
            number,
            format!("{}/pullrequest/{number}", self.location.web),
            branch(&answer.source_ref_name),
            branch(&answer.target_ref_name),
            state,
        );
        pr.title = answer.title.clone();
        pr.description = answer.description.clone().unwrap_or_default();
        pr.head_sha = commit(&answer.last_merge_source_commit);
        pr.merge_commit = commit(&answer.last_merge_commit).filter(|_| state == PrState::Merged);
        pr.labels = answer
            .labels
            .iter()
            .filter(|l| l.active != Some(false) && !l.name.is_empty())
            .map(|l| l.name.clone())
            .collect();
        // Votes: 10 approved, 5 approved with suggestions.
        pr.approved_by = answer
            .reviewers
            .iter()
            .filter(|r| r.vote >= 5)
            .map(|r| {
                non_empty(&r.unique_name)
                    .or_else(|| r.display_name.clone())
                    .unwrap_or_default()
            })
            .collect();
        pr.created_at = non_empty(&answer.creation_date);
        pr
    }

    async fn fetch(&self, number: u64) -> Result<(PullRequest, PullRequestAnswer), Error> {
        let answer: PullRequestAnswer = self
            .client
            .call_as(
                Method::GET,
                &self.path(&format!("/{number}")),
                &[Self::version()],
                None,
                Some(number),
            )
            .await?;
        Ok((self.convert(&answer), answer))
    }

    /// Every page of a pull-request search (`$top` / `$skip`), until a
    /// short page.
    async fn search(&self, criteria: &[(&str, String)]) -> Result<Vec<PullRequestAnswer>, Error> {
        let path = self.path("");
        let mut all = Vec::new();
        for page in 0..MAX_PAGES {
            let mut query = criteria.to_vec();
            query.push(("$top", PAGE.to_string()));
            query.push(("$skip", (page * PAGE).to_string()));
            query.push(Self::version());
            let answer: ListAnswer = self
                .client
                .call_as(Method::GET, &path, &query, None, None)
                .await?;
            let short = answer.value.len() < PAGE;
            all.extend(answer.value);
            if short {
                break;
            }
        }
        Ok(all)
    }

    /// Changes pull request `number` with a `PATCH` of `body`.
    async fn patch(&self, number: u64, body: &Value) -> Result<Value, Error> {
        self.client
            .call(
                Method::PATCH,
                &self.path(&format!("/{number}")),
                &[Self::version()],
                Some(body),
                Some(number),
            )
            .await
    }

    fn conflict(&self, number: u64, message: String) -> Error {
        Error::Conflict {
            provider: NAME,
            repo: self.client.repo.clone(),
            pr: number,
            message,
        }
    }

    /// Reads the pull request until Azure has completed it, waiting as
    /// `poll` says; `None` when it is still open.
    async fn await_completion(&self, number: u64) -> Result<Option<PullRequest>, Error> {
        for wait in completion_waits(self.poll) {
            tokio::time::sleep(wait).await;
            let pr = self.get(number).await?;
            match pr.state {
                PrState::Merged => return Ok(Some(pr)),
                PrState::Closed => return Err(not_open(&self.client, &pr, "merged")),
                PrState::Open => {}
            }
        }
        Ok(None)
    }
}

/// A pull request as Azure DevOps' Pull Requests API answers it (the
/// fields read).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullRequestAnswer {
    pull_request_id: u64,
    /// `active`, `completed` or `abandoned`.
    status: String,
    source_ref_name: String,
    target_ref_name: String,
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    last_merge_source_commit: Option<CommitAnswer>,
    #[serde(default)]
    last_merge_commit: Option<CommitAnswer>,
    #[serde(default)]
    labels: Vec<LabelAnswer>,
    #[serde(default)]
    reviewers: Vec<ReviewerAnswer>,
    #[serde(default)]
    creation_date: Option<String>,
    #[serde(default)]
    is_draft: Option<bool>,
    #[serde(default)]
    merge_status: Option<String>,
    #[serde(default)]
    merge_failure_message: Option<String>,
    #[serde(default)]
    merge_failure_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommitAnswer {
    commit_id: String,
}

#[derive(Debug, Deserialize)]
struct LabelAnswer {
    name: String,
    #[serde(default)]
    active: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewerAnswer {
    #[serde(default)]
    vote: i64,
    #[serde(default)]
    unique_name: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

/// One page of a pull-request search.
#[derive(Debug, Deserialize)]
struct ListAnswer {
    value: Vec<PullRequestAnswer>,
}

#[async_trait]
impl GitProvider for AzureProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            approve: false,
            merge_methods: &[
                MergeMethod::Merge,
                MergeMethod::Squash,
                MergeMethod::Rebase,
                MergeMethod::RebaseMerge,
            ],
            ..Capabilities::all()
        }
    }

    async fn open(&self, new: &NewPullRequest) -> Result<Opened, Error> {
        if let Some(opened) = open_already(self, new).await? {
            return Ok(opened);
        }
        let mut body = json!({
            "sourceRefName": ref_name(&new.source_branch),
            "targetRefName": ref_name(&new.target_branch),
            "title": new.title_or_fallback(),
            "description": limit_description(&new.description),
        });
        if !new.labels.is_empty() {
            body["labels"] = new.labels.iter().map(|l| json!({ "name": l })).collect();
        }
        let created: PullRequestAnswer = match self
            .client
            .call_as(
                Method::POST,
                &self.path(""),
                &[Self::version()],
                Some(&body),
                None,
            )
            .await
        {
            Ok(v) => v,
            // Opened concurrently since the list: reuse that one.
            Err(e @ Error::Api { status: 409, .. }) if e.to_string().contains(DUPLICATE) => {
                return open_already(self, new).await?.ok_or(e);
            }
            Err(e) => return Err(e),
        };
        Ok(Opened {
            pr: self.convert(&created),
            reused: false,
        })
    }

    async fn get(&self, number: u64) -> Result<PullRequest, Error> {
        Ok(self.fetch(number).await?.0)
    }

    async fn list(&self, options: &ListOptions) -> Result<Vec<PullRequest>, Error> {
        let status = match options.state {
            StateFilter::Open => "active",
            // completed and abandoned both count as closed: ask for all.
            StateFilter::Closed | StateFilter::All => "all",
        };
        let mut criteria = vec![("searchCriteria.status", status.to_owned())];
        if let Some(source) = &options.source_branch {
            criteria.push(("searchCriteria.sourceRefName", ref_name(source)));
        }
        if let Some(target) = &options.target_branch {
            criteria.push(("searchCriteria.targetRefName", ref_name(target)));
        }
        let answers = self.search(&criteria).await?;
        Ok(matching(options, answers.iter().map(|a| self.convert(a))))
    }

    async fn merge(&self, number: u64, method: Option<MergeMethod>) -> Result<MergeOutcome, Error> {
        self.capabilities().check_merge(NAME, method)?;
        let (pr, raw) = self.fetch(number).await?;
        if let Some(settled) = merge_settled(&self.client, &pr) {
            return settled;
        }
        let status = raw.status.as_str();
        if status != "active" {
            return Ok(MergeOutcome::NotReady {
                reason: format!("status is {status:?}"),
            });
        }
        // A draft may report mergeStatus succeeded, yet cannot be completed.
        if raw.is_draft == Some(true) {
            return Ok(MergeOutcome::NotReady {
                reason: "the pull request is a draft".to_owned(),
            });
        }
        match raw.merge_status.as_deref().unwrap_or_default() {
            "succeeded" => {}
            "conflicts" => {
                return Err(
                    self.conflict(number, "Azure DevOps reports merge conflicts".to_owned())
                );
            }
            "failure" => {
                let why = non_empty(&raw.merge_failure_message)
                    .or_else(|| raw.merge_failure_type.clone())
                    .unwrap_or_default();
                return Err(self.conflict(
                    number,
                    format!("Azure DevOps could not compute the merge ({why})"),
                ));
            }
            other => {
                return Ok(MergeOutcome::NotReady {
                    reason: format!("mergeStatus is {other:?}"),
                });
            }
        }
        let Some(source) = pr.head_sha.clone() else {
            return Ok(MergeOutcome::NotReady {
                reason: "Azure DevOps has not named the source commit yet".to_owned(),
            });
        };
        let mut body = json!({
            "status": "completed",
            "lastMergeSourceCommit": { "commitId": source },
        });
        if let Some(method) = method {
            let strategy = match method {
                MergeMethod::Merge => "noFastForward",
                MergeMethod::Squash => "squash",
                MergeMethod::Rebase => "rebase",
                MergeMethod::RebaseMerge => "rebaseMerge",
                // Refused by check_merge above.
                MergeMethod::FastForward => "fastForward",
            };
            body["completionOptions"] = json!({ "mergeStrategy": strategy });
        }
        let answer = match self.patch(number, &body).await {
            Ok(v) => v,
            // The source branch moved since it was checked, or a policy
            // holds the merge: read it again later.
            Err(Error::Api {
                status: 409,
                message,
                ..
            }) => return Ok(MergeOutcome::NotReady { reason: message }),
            Err(e) => return Err(e),
        };
        if answer.is_object() {
            let request = format!("PATCH {}", self.path(&format!("/{number}")));
            let pr = self.convert(&self.client.decode(&request, answer)?);
            if pr.is_merged() && pr.merge_commit.is_some() {
                return Ok(MergeOutcome::Merged(pr));
            }
        }
        Ok(match self.await_completion(number).await? {
            Some(pr) => MergeOutcome::Merged(pr),
            None => MergeOutcome::NotReady {
                reason: "completion requested; Azure DevOps has not completed the pull request \
                         yet (a branch policy may hold it)"
                    .to_owned(),
            },
        })
    }

    async fn close(&self, number: u64) -> Result<PullRequest, Error> {
        let pr = self.get(number).await?;
        if let Some(settled) = close_settled(&self.client, &pr) {
            return settled;
        }
        let body = json!({ "status": "abandoned" });
        let v = self.patch(number, &body).await?;
        let request = format!("PATCH {}", self.path(&format!("/{number}")));
        Ok(self.convert(&self.client.decode(&request, v)?))
    }

    async fn approve(&self, _number: u64) -> Result<PullRequest, Error> {
        Err(Error::Unsupported {
            provider: NAME,
            operation: "approve (a vote needs the reviewer's identity ID)".to_owned(),
        })
    }
}

/// The wait before reading a merged pull request again for the
/// `attempt`th time (from 0): `poll.initial`, doubled each time, at most
/// `poll.max_wait`.
/// The waits before each read of a pull request Azure is completing:
/// `poll.max_attempts` of them, doubling from `poll.initial` up to
/// `poll.max_wait`.
fn completion_waits(poll: Retry) -> impl Iterator<Item = Duration> {
    kargo_core::retry::Backoff::exponential(poll.initial, poll.max_wait)
        .delays()
        .take(poll.max_attempts as usize)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (String, String, String, String, String) {
        let l = Location::parse(url).unwrap();
        (l.api, l.project, l.repo, l.web, l.display)
    }

    #[test]
    fn modern_and_legacy_urls_name_organization_project_and_repository() {
        let modern = (
            "https://dev.azure.com/acme".to_owned(),
            "deploy".to_owned(),
            "app".to_owned(),
            "https://dev.azure.com/acme/deploy/_git/app".to_owned(),
            "acme/deploy/_git/app".to_owned(),
        );
        for url in [
            "https://dev.azure.com/acme/deploy/_git/app",
            "https://acme@dev.azure.com/acme/deploy/_git/app",
            "https://user:s3cret@dev.azure.com/acme/deploy/_git/app/",
            "git@ssh.dev.azure.com:v3/acme/deploy/app",
            "ssh://git@ssh.dev.azure.com/v3/acme/deploy/app",
        ] {
            assert_eq!(parts(url), modern, "{url}");
        }
        let legacy = (
            "https://dev.azure.com/acme".to_owned(),
            "deploy".to_owned(),
            "app".to_owned(),
            "https://acme.visualstudio.com/deploy/_git/app".to_owned(),
            "acme/deploy/_git/app".to_owned(),
        );
        for url in [
            "https://acme.visualstudio.com/deploy/_git/app",
            "https://acme.visualstudio.com/DefaultCollection/deploy/_git/app",
        ] {
            assert_eq!(parts(url), legacy, "{url}");
        }
        // A repository named like its project: no project in the URL.
        let (api, project, repo, web, _) = parts("https://dev.azure.com/acme/_git/deploy");
        assert_eq!(
            (api.as_str(), project.as_str(), repo.as_str()),
            ("https://dev.azure.com/acme", "deploy", "deploy")
        );
        assert_eq!(web, "https://dev.azure.com/acme/deploy/_git/deploy");
    }

    #[test]
    fn names_are_decoded_and_encoded_again() {
        let (api, project, repo, web, display) =
            parts("https://dev.azure.com/acme/Deploy%20Project/_git/app%2Bconfig");
        assert_eq!(api, "https://dev.azure.com/acme");
        assert_eq!(
            (project.as_str(), repo.as_str()),
            ("Deploy Project", "app+config")
        );
        assert_eq!(
            web,
            "https://dev.azure.com/acme/Deploy%20Project/_git/app%2Bconfig"
        );
        assert_eq!(display, "acme/Deploy Project/_git/app+config");
        assert_eq!(decode_segment("100%"), "100%");
        assert_eq!(decode_segment("%zz"), "%zz");
    }

    #[test]
    fn server_urls_keep_their_collection() {
        let (api, project, repo, web, display) =
            parts("https://tfs.example.com:8443/tfs/DefaultCollection/deploy/_git/app");
        assert_eq!(api, "https://tfs.example.com:8443/tfs/DefaultCollection");
        assert_eq!((project.as_str(), repo.as_str()), ("deploy", "app"));
        assert_eq!(
            web,
            "https://tfs.example.com:8443/tfs/DefaultCollection/deploy/_git/app"
        );
        assert_eq!(display, "tfs/DefaultCollection/deploy/_git/app");
        // A repository named like its project, in a collection.
        let (api, project, repo, ..) = parts("http://tfs.example.com/Collection/_git/app");
        assert_eq!(api, "http://tfs.example.com/Collection");
        assert_eq!((project.as_str(), repo.as_str()), ("app", "app"));
    }

    #[test]
    fn urls_that_name_no_repository_are_rejected_without_secrets() {
        for url in [
            "https://user:s3cret@dev.azure.com/acme/deploy/app",
            "https://dev.azure.com/acme/deploy/_git",
            "https://dev.azure.com/acme/a/b/_git/app",
            "https://acme.visualstudio.com/a/b/_git/app",
            "git@ssh.dev.azure.com:acme/deploy/app",
            "https://git.example.com/_git/app",
        ] {
            let err = Location::parse(url).unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{url}: {err:?}");
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn a_token_is_required() {
        let err = AzureProvider::new(
            "https://dev.azure.com/acme/deploy/_git/app",
            RestOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("acme/deploy/_git/app"), "{err}");
        assert!(err.to_string().contains("token"), "{err}");
    }

    #[test]
    fn branches_become_ref_names_and_descriptions_fit() {
        assert_eq!(ref_name("main"), "refs/heads/main");
        assert_eq!(ref_name("refs/heads/main"), "refs/heads/main");
        let long = "é".repeat(MAX_DESCRIPTION + 10);
        let cut = limit_description(&long);
        assert_eq!(cut.chars().count(), MAX_DESCRIPTION);
        assert!(cut.ends_with('…'));
        assert_eq!(limit_description("short"), "short");
    }

    #[test]
    fn completion_is_awaited_within_the_retry_bounds() {
        let poll = Retry::new(5, Duration::from_secs(1), Duration::from_secs(4));
        let total: Duration = completion_waits(poll).sum();
        assert_eq!(total, Duration::from_secs(1 + 2 + 4 + 4 + 4));
    }
}
