//! Gitea: `push` and `pull_request` (closed), named by `X-Gitea-Event`.

use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::payload::{self, CloneUrls, CommitFiles, PullRequestEvent};
use super::{Delivery, Rejection};

const EVENT_HEADER: &str = "x-gitea-event";

pub(super) fn handle(headers: &HeaderMap, body: &[u8]) -> Result<Delivery, Rejection> {
    let event = payload::header(headers, EVENT_HEADER).unwrap_or_default();
    match event {
        "push" => Ok(push(payload::parse(body)?)),
        "pull_request" => Ok(payload::parse::<PullRequestEvent>(body)?.closed()),
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
    repository: CloneUrls,
    #[serde(default)]
    commits: Vec<CommitFiles>,
    #[serde(default)]
    total_commits: usize,
}

fn push(event: PushEvent) -> Delivery {
    // Gitea cuts long commit lists.
    let changed = payload::changed_paths_unless_cut(&event.commits, event.total_commits);
    payload::refresh(event.repository.normalized(), [event.git_ref], changed)
}
