//! GitLab: `Push Hook`, `Tag Push Hook` and `Merge Request Hook` (closed
//! or merged), named by `X-Gitlab-Event`.

use axum::http::HeaderMap;
use kargo_core::urls::normalize_git;
use serde::Deserialize;

use super::payload::{self, CommitFiles};
use super::{Delivery, Rejection};

const EVENT_HEADER: &str = "x-gitlab-event";

pub(super) fn handle(headers: &HeaderMap, body: &[u8]) -> Result<Delivery, Rejection> {
    let event = payload::header(headers, EVENT_HEADER).unwrap_or_default();
    match event {
        "Push Hook" => Ok(push(payload::parse(body)?)),
        "Tag Push Hook" => Ok(tag_push(payload::parse(body)?)),
        "Merge Request Hook" => Ok(merge_request(payload::parse(body)?)),
        other => Err(payload::unsupported_event(other)),
    }
}

#[derive(Deserialize)]
struct PushEvent {
    #[serde(rename = "ref")]
    git_ref: String,
    repository: Repository,
    #[serde(default)]
    commits: Vec<CommitFiles>,
    #[serde(default)]
    total_commits_count: usize,
}

#[derive(Deserialize)]
struct Repository {
    git_http_url: String,
    #[serde(default)]
    git_ssh_url: String,
}

impl Repository {
    fn urls(&self) -> [String; 2] {
        [
            normalize_git(&self.git_http_url),
            normalize_git(&self.git_ssh_url),
        ]
    }
}

fn push(event: PushEvent) -> Delivery {
    // GitLab lists at most 20 commits.
    let changed = payload::changed_paths_unless_cut(&event.commits, event.total_commits_count);
    payload::refresh(event.repository.urls(), [event.git_ref], changed)
}

fn tag_push(event: PushEvent) -> Delivery {
    payload::refresh(event.repository.urls(), [event.git_ref], Vec::new())
}

#[derive(Deserialize)]
struct MergeRequestEvent {
    object_attributes: MergeRequest,
}

#[derive(Deserialize)]
struct MergeRequest {
    #[serde(default)]
    action: String,
    url: String,
    #[serde(default)]
    iid: Option<u64>,
}

fn merge_request(event: MergeRequestEvent) -> Delivery {
    let mr = event.object_attributes;
    let merged = match mr.action.as_str() {
        "merge" => true,
        "close" => false,
        other => {
            return payload::ignored(format!(
                "merge request action {} is neither close nor merge",
                payload::shown(other)
            ));
        }
    };
    Delivery::PullRequestClosed {
        url: mr.url,
        number: mr.iid,
        merged,
    }
}
