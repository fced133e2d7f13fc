//! Bitbucket Cloud (`repo:push`, `pullrequest:fulfilled`,
//! `pullrequest:rejected`) and Bitbucket Server / Data Center
//! (`repo:refs_changed`, `pr:merged`, `pr:declined`, `diagnostics:ping`),
//! named by `X-Event-Key`.

use axum::http::HeaderMap;
use kargo_core::urls::normalize_git;
use serde::Deserialize;

use super::payload;
use super::{Delivery, Rejection};

const EVENT_HEADER: &str = "x-event-key";

pub(super) fn handle(headers: &HeaderMap, body: &[u8]) -> Result<Delivery, Rejection> {
    let event = payload::header(headers, EVENT_HEADER).unwrap_or_default();
    match event {
        "repo:push" => Ok(cloud_push(payload::parse(body)?)),
        "repo:refs_changed" => Ok(server_refs_changed(payload::parse(body)?)),
        "pullrequest:fulfilled" | "pullrequest:rejected" => {
            let parsed: CloudPullRequestEvent = payload::parse(body)?;
            Ok(Delivery::PullRequestClosed {
                url: parsed.pullrequest.links.html.href,
                number: parsed.pullrequest.id,
                merged: event == "pullrequest:fulfilled",
            })
        }
        "pr:merged" | "pr:declined" => {
            let parsed: ServerPullRequestEvent = payload::parse(body)?;
            let Some(link) = parsed.pull_request.links.links.into_iter().next() else {
                return Err(Rejection::bad_request(
                    "invalid request body: no pullRequest.links.self[0].href",
                ));
            };
            Ok(Delivery::PullRequestClosed {
                url: link.href,
                number: parsed.pull_request.id,
                merged: event == "pr:merged",
            })
        }
        "diagnostics:ping" => Ok(payload::ignored(payload::PING)),
        other => Err(payload::unsupported_event(other)),
    }
}

#[derive(Deserialize)]
struct Href {
    href: String,
}

#[derive(Deserialize)]
struct CloudPushEvent {
    push: CloudPush,
    repository: CloudRepository,
}

#[derive(Deserialize)]
struct CloudPush {
    #[serde(default)]
    changes: Vec<CloudChange>,
}

#[derive(Deserialize)]
struct CloudChange {
    /// `null` when the branch or tag was deleted.
    #[serde(default)]
    new: Option<CloudRef>,
}

#[derive(Deserialize)]
struct CloudRef {
    #[serde(default, rename = "type")]
    ref_type: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct CloudRepository {
    links: CloudRepositoryLinks,
}

#[derive(Deserialize)]
struct CloudRepositoryLinks {
    /// The repository's web page, which is also its HTTPS clone URL (the
    /// payload has no clone links).
    html: Href,
}

fn cloud_push(event: CloudPushEvent) -> Delivery {
    // Bitbucket Cloud names branches and tags bare; Kargo's ref matching
    // wants them qualified.
    let refs = event.push.changes.into_iter().filter_map(|c| {
        let new = c.new.filter(|n| !n.name.is_empty())?;
        Some(if new.ref_type == "tag" {
            format!("refs/tags/{}", new.name)
        } else {
            format!("refs/heads/{}", new.name)
        })
    });
    payload::refresh(
        [normalize_git(&event.repository.links.html.href)],
        refs,
        Vec::new(),
    )
}

#[derive(Deserialize)]
struct ServerRefsChangedEvent {
    #[serde(default)]
    changes: Vec<ServerChange>,
    repository: ServerRepository,
}

#[derive(Deserialize)]
struct ServerChange {
    #[serde(rename = "ref")]
    changed_ref: ServerRef,
}

#[derive(Deserialize)]
struct ServerRef {
    id: String,
}

#[derive(Deserialize)]
struct ServerRepository {
    links: ServerRepositoryLinks,
}

#[derive(Deserialize)]
struct ServerRepositoryLinks {
    /// The HTTP and SSH clone URLs.
    #[serde(default)]
    clone: Vec<Href>,
}

fn server_refs_changed(event: ServerRefsChangedEvent) -> Delivery {
    payload::refresh(
        event
            .repository
            .links
            .clone
            .iter()
            .map(|link| normalize_git(&link.href)),
        event.changes.into_iter().map(|c| c.changed_ref.id),
        Vec::new(),
    )
}

#[derive(Deserialize)]
struct CloudPullRequestEvent {
    pullrequest: CloudPullRequest,
}

#[derive(Deserialize)]
struct CloudPullRequest {
    #[serde(default)]
    id: Option<u64>,
    links: CloudPullRequestLinks,
}

#[derive(Deserialize)]
struct CloudPullRequestLinks {
    html: Href,
}

#[derive(Deserialize)]
struct ServerPullRequestEvent {
    #[serde(rename = "pullRequest")]
    pull_request: ServerPullRequest,
}

#[derive(Deserialize)]
struct ServerPullRequest {
    #[serde(default)]
    id: Option<u64>,
    links: ServerPullRequestLinks,
}

#[derive(Deserialize)]
struct ServerPullRequestLinks {
    #[serde(rename = "self", default)]
    links: Vec<Href>,
}
