//! Gitea: `push` and `pull_request` (closed), named by `X-Gitea-Event`.

use axum::http::{HeaderMap, StatusCode};
use kargo_core::urls::normalize_git;
use serde::Deserialize;

use super::payload::{self, CommitFiles};
use super::{Delivery, Rejection};

const EVENT_HEADER: &str = "x-gitea-event";

pub(super) fn handle(headers: &HeaderMap, body: &[u8]) -> Result<Delivery, Rejection> {
    let event = payload::header(headers, EVENT_HEADER).unwrap_or_default();
    match event {
        "push" => Ok(push(payload::parse(body)?)),
        "pull_request" => Ok(pull_request(payload::parse(body)?)),
        // Kargo answers 501 here, where the other receivers answer 400.
        other => Err(Rejection::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("event type {} is not supported", payload::shown(other)),
        )),
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
    total_commits: usize,
}

#[derive(Deserialize)]
struct Repository {
    clone_url: String,
    #[serde(default)]
    ssh_url: String,
}

fn push(event: PushEvent) -> Delivery {
    // Gitea cuts long commit lists; then the files are unknown.
    let changed = if event.total_commits > event.commits.len() {
        Vec::new()
    } else {
        payload::changed_paths(&event.commits)
    };
    payload::refresh(
        [
            normalize_git(&event.repository.clone_url),
            normalize_git(&event.repository.ssh_url),
        ],
        [event.git_ref],
        changed,
    )
}

#[derive(Deserialize)]
struct PullRequestEvent {
    action: String,
    #[serde(default)]
    number: Option<u64>,
    pull_request: PullRequest,
}

#[derive(Deserialize)]
struct PullRequest {
    html_url: String,
    #[serde(default)]
    merged: bool,
}

fn pull_request(event: PullRequestEvent) -> Delivery {
    if event.action != "closed" {
        return payload::ignored(format!(
            "pull request action {} is not closed",
            payload::shown(&event.action)
        ));
    }
    Delivery::PullRequestClosed {
        url: event.pull_request.html_url,
        number: event.number,
        merged: event.pull_request.merged,
    }
}
