//! GitHub: `push`, `package` and `registry_package` (ghcr.io) pushes,
//! `pull_request` closed, and `ping`, named by `X-GitHub-Event`.

use axum::http::HeaderMap;
use serde::Deserialize;

use super::payload::{self, CloneUrls, CommitFiles, PullRequestEvent};
use super::{Delivery, Rejection};

const EVENT_HEADER: &str = "x-github-event";

/// GitHub sends the commits of a push only up to this many; with more, the
/// list is cut and the changed files are unknown.
const MAX_LISTED_COMMITS: usize = 2048;

pub(super) fn handle(headers: &HeaderMap, body: &[u8]) -> Result<Delivery, Rejection> {
    let event = payload::header(headers, EVENT_HEADER).unwrap_or_default();
    match event {
        "ping" => Ok(payload::ignored(payload::PING)),
        "push" => Ok(push(payload::parse(body)?)),
        "pull_request" => {
            let mut event: PullRequestEvent = payload::parse(body)?;
            event.number = event.number.or(event.pull_request.number);
            Ok(event.closed())
        }
        // `package` when the webhook is the repository's own,
        // `registry_package` when it comes through a GitHub App.
        "package" => {
            let event: PackageEvent = payload::parse(body)?;
            package(&event.action, event.package.as_ref(), "package")
        }
        "registry_package" => {
            let event: RegistryPackageEvent = payload::parse(body)?;
            package(
                &event.action,
                event.registry_package.as_ref(),
                "registry_package",
            )
        }
        other => Err(payload::unsupported_event(other)),
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
    head_commit: Option<CommitFiles>,
}

fn push(event: PushEvent) -> Delivery {
    let changed = if event.commits.len() < MAX_LISTED_COMMITS {
        payload::changed_paths(event.commits.iter().chain(&event.head_commit))
    } else {
        Vec::new()
    };
    payload::refresh(event.repository.normalized(), [event.git_ref], changed)
}

#[derive(Deserialize)]
struct PackageEvent {
    action: String,
    #[serde(default)]
    package: Option<Package>,
}

#[derive(Deserialize)]
struct RegistryPackageEvent {
    action: String,
    #[serde(default)]
    registry_package: Option<Package>,
}

#[derive(Deserialize)]
struct Package {
    #[serde(default)]
    package_type: String,
    #[serde(default)]
    package_version: Option<PackageVersion>,
}

#[derive(Deserialize)]
struct PackageVersion {
    #[serde(default)]
    package_url: String,
    #[serde(default)]
    container_metadata: ContainerMetadata,
}

#[derive(Deserialize, Default)]
struct ContainerMetadata {
    #[serde(default)]
    tag: Tag,
    #[serde(default)]
    manifest: serde_json::Value,
}

#[derive(Deserialize, Default)]
struct Tag {
    #[serde(default)]
    name: String,
}

fn package(action: &str, package: Option<&Package>, field: &str) -> Result<Delivery, Rejection> {
    if !matches!(action, "published" | "updated") {
        return Ok(payload::ignored(format!(
            "package action {} does not publish anything",
            payload::shown(action)
        )));
    }
    let Some((package, version)) = package.and_then(|p| p.package_version.as_ref().map(|v| (p, v)))
    else {
        return Err(Rejection::bad_request(format!(
            "invalid request body: no {field}.package_version"
        )));
    };
    // GitHub names container packages `CONTAINER` in one event and
    // `docker` in the other.
    if !matches!(package.package_type.as_str(), "CONTAINER" | "docker") {
        return Ok(payload::ignored(format!(
            "package type {} is neither an image nor a chart",
            payload::shown(&package.package_type)
        )));
    }
    let metadata = &version.container_metadata;
    let media_type = metadata
        .manifest
        .pointer("/config/media_type")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    // GitHub sometimes ends the URL with a `:` and no tag.
    let url = version
        .package_url
        .strip_suffix(':')
        .unwrap_or(&version.package_url);
    Ok(payload::refresh(
        payload::image_repo_urls(url, media_type),
        [metadata.tag.name.clone()],
        Vec::new(),
    ))
}
