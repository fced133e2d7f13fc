//! What every receiver's payload reading shares.

use axum::http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use kargo_core::urls::{normalize_chart, normalize_git, normalize_image};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Delivery, Rejection};

/// What Kargo answers to a ping.
pub(super) const PING: &str = "ping event received, webhook is configured correctly";

/// A header's value, when it is there and is text.
pub(super) fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The body read as JSON into `T`; 400 naming what is wrong otherwise.
pub(super) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Rejection> {
    serde_json::from_slice(body).map_err(|e| {
        Rejection::bad_request(format!("invalid request body: {}", shown(&e.to_string())))
    })
}

/// 415 for a form-encoded body: every receiver reads JSON (GitHub offers
/// both; its webhook must be set to `application/json`).
pub(super) fn refuse_form_encoding(headers: &HeaderMap) -> Result<(), Rejection> {
    let form = header(headers, CONTENT_TYPE.as_str()).is_some_and(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if form {
        return Err(Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body is form-encoded; set the webhook's content type to application/json",
        ));
    }
    Ok(())
}

/// 400 for an event type the receiver does not handle.
pub(super) fn unsupported_event(event: &str) -> Rejection {
    Rejection::bad_request(format!("event type {} is not supported", shown(event)))
}

/// A value of the request, fit for a message: control characters dropped
/// and at most 200 characters.
pub(super) fn shown(value: &str) -> String {
    const MAX: usize = 200;
    let mut out: String = value
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX)
        .collect();
    if value.chars().filter(|c| !c.is_control()).count() > MAX {
        out.push('…');
    }
    if out.is_empty() {
        out.push_str("\"\"");
    }
    out
}

/// [`Delivery::Ignored`] with `reason`.
pub(super) fn ignored(reason: impl Into<String>) -> Delivery {
    Delivery::Ignored {
        reason: reason.into(),
    }
}

/// [`Delivery::Refresh`], its lists sorted, deduplicated and without empty
/// entries, as Kargo's `refreshWarehouses` makes them.
pub(super) fn refresh(
    repo_urls: impl IntoIterator<Item = String>,
    qualifiers: impl IntoIterator<Item = String>,
    changed_paths: Vec<String>,
) -> Delivery {
    Delivery::Refresh {
        repo_urls: tidy(repo_urls),
        qualifiers: tidy(qualifiers),
        changed_paths: tidy(changed_paths),
    }
}

fn tidy(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut items: Vec<String> = items.into_iter().filter(|s| !s.is_empty()).collect();
    items.sort();
    items.dedup();
    items
}

/// The files a commit of a push added, changed or removed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CommitFiles {
    #[serde(default)]
    added: Vec<String>,
    #[serde(default)]
    modified: Vec<String>,
    #[serde(default)]
    removed: Vec<String>,
}

/// Every file the commits touched (Kargo's `collectPaths`).
pub(super) fn changed_paths<'c>(commits: impl IntoIterator<Item = &'c CommitFiles>) -> Vec<String> {
    commits
        .into_iter()
        .flat_map(|c| c.added.iter().chain(&c.modified).chain(&c.removed))
        .cloned()
        .collect()
}

/// The files of a push whose event says how many commits it had in
/// `total`: none when the event listed fewer (it cut a long list, so the
/// files are unknown).
pub(super) fn changed_paths_unless_cut(commits: &[CommitFiles], total: usize) -> Vec<String> {
    if total > commits.len() {
        Vec::new()
    } else {
        changed_paths(commits)
    }
}

/// A repository in GitHub's and Gitea's events: its clone URLs.
#[derive(Deserialize)]
pub(super) struct CloneUrls {
    clone_url: String,
    #[serde(default)]
    ssh_url: String,
}

impl CloneUrls {
    /// Both URLs, normalised.
    pub(super) fn normalized(&self) -> [String; 2] {
        [normalize_git(&self.clone_url), normalize_git(&self.ssh_url)]
    }
}

/// A `pull_request` event, as GitHub and Gitea send it.
#[derive(Deserialize)]
pub(super) struct PullRequestEvent {
    action: String,
    /// The pull request's number.
    #[serde(default)]
    pub(super) number: Option<u64>,
    /// The pull request.
    pub(super) pull_request: PullRequest,
}

/// The pull request of a [`PullRequestEvent`].
#[derive(Deserialize)]
pub(super) struct PullRequest {
    html_url: String,
    #[serde(default)]
    merged: bool,
    /// Its number, which GitHub also gives here.
    #[serde(default)]
    pub(super) number: Option<u64>,
}

impl PullRequestEvent {
    /// A closed pull request (merged or not); other actions are ignored.
    pub(super) fn closed(self) -> Delivery {
        if self.action != "closed" {
            return ignored(format!(
                "pull request action {} is not closed",
                shown(&self.action)
            ));
        }
        Delivery::PullRequestClosed {
            url: self.pull_request.html_url,
            number: self.number,
            merged: self.pull_request.merged,
        }
    }
}

const HELM_MEDIA_TYPE_PREFIX: &str = "application/vnd.cncf.helm";

/// Media types that only container images have. The OCI manifest's type is
/// missing on purpose: charts have it too.
const IMAGE_MEDIA_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// A registry repository's URL normalised as an image repository, as a
/// chart repository, or both when `media_type` does not tell which it is
/// (Kargo's `getNormalizedImageRepoURLs`).
pub(super) fn image_repo_urls(repo_url: &str, media_type: &str) -> Vec<String> {
    if media_type.starts_with(HELM_MEDIA_TYPE_PREFIX) {
        return vec![normalize_chart(repo_url)];
    }
    if IMAGE_MEDIA_TYPES.contains(&media_type) {
        return vec![normalize_image(repo_url)];
    }
    let mut urls = vec![normalize_image(repo_url), normalize_chart(repo_url)];
    urls.dedup();
    urls
}

/// Both normalised forms, for registries whose payloads never tell.
pub(super) fn image_and_chart_urls(repo_url: &str) -> Vec<String> {
    image_repo_urls(repo_url, "")
}
