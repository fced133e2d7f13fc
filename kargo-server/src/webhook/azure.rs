//! Azure: Azure Container Registry (`push`, `ping`) and Azure DevOps
//! (`git.push`, `git.pullrequest.merged`, `git.pullrequest.updated` when
//! abandoned) through one receiver, told apart by the `User-Agent`
//! (`AzureContainerRegistry/…` or `VSServices/…`), as Kargo does.

use axum::http::{HeaderMap, header::USER_AGENT};
use kargo_core::urls::normalize_git;
use serde::Deserialize;

use super::payload;
use super::{Delivery, Rejection};

pub(super) fn handle(headers: &HeaderMap, body: &[u8]) -> Result<Delivery, Rejection> {
    let agent = payload::header(headers, USER_AGENT.as_str()).unwrap_or_default();
    if agent.starts_with("AzureContainerRegistry") {
        container_registry(payload::parse(body)?)
    } else if agent.starts_with("VSServices") {
        devops(payload::parse(body)?)
    } else {
        Err(Rejection::bad_request(
            "request does not appear to have originated from a supported service \
             (User-Agent is neither AzureContainerRegistry/… nor VSServices/…)",
        ))
    }
}

#[derive(Deserialize)]
struct RegistryEvent {
    action: String,
    #[serde(default)]
    target: RegistryTarget,
    #[serde(default)]
    request: RegistryRequest,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RegistryTarget {
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    repository: String,
    #[serde(default)]
    tag: String,
}

#[derive(Deserialize, Default)]
struct RegistryRequest {
    #[serde(default)]
    host: String,
}

fn container_registry(event: RegistryEvent) -> Result<Delivery, Rejection> {
    match event.action.as_str() {
        "push" => {
            if event.request.host.is_empty() || event.target.repository.is_empty() {
                return Err(Rejection::bad_request(
                    "invalid request body: a push needs request.host and target.repository",
                ));
            }
            let url = format!("{}/{}", event.request.host, event.target.repository);
            Ok(payload::refresh(
                payload::image_repo_urls(&url, &event.target.media_type),
                [event.target.tag],
                Vec::new(),
            ))
        }
        "ping" => Ok(payload::ignored(payload::PING)),
        other => Err(payload::unsupported_event(other)),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DevOpsEvent {
    event_type: String,
    #[serde(default)]
    resource: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DevOpsPush {
    #[serde(default)]
    ref_updates: Vec<RefUpdate>,
    repository: DevOpsRepository,
}

#[derive(Deserialize)]
struct RefUpdate {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DevOpsRepository {
    remote_url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DevOpsPullRequest {
    #[serde(default)]
    pull_request_id: Option<u64>,
    #[serde(default)]
    status: String,
    #[serde(rename = "_links")]
    links: DevOpsLinks,
}

#[derive(Deserialize)]
struct DevOpsLinks {
    web: DevOpsHref,
}

#[derive(Deserialize)]
struct DevOpsHref {
    href: String,
}

fn resource<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, Rejection> {
    serde_json::from_value(value).map_err(|e| {
        Rejection::bad_request(format!(
            "invalid request body: resource: {}",
            payload::shown(&e.to_string())
        ))
    })
}

fn devops(event: DevOpsEvent) -> Result<Delivery, Rejection> {
    match event.event_type.as_str() {
        "git.push" => {
            let push: DevOpsPush = resource(event.resource)?;
            Ok(payload::refresh(
                [normalize_git(&push.repository.remote_url)],
                push.ref_updates.into_iter().map(|r| r.name),
                Vec::new(),
            ))
        }
        "git.pullrequest.merged" => {
            let pr: DevOpsPullRequest = resource(event.resource)?;
            Ok(Delivery::PullRequestClosed {
                url: pr.links.web.href,
                number: pr.pull_request_id,
                merged: true,
            })
        }
        "git.pullrequest.updated" => {
            let pr: DevOpsPullRequest = resource(event.resource)?;
            if pr.status != "abandoned" {
                return Ok(payload::ignored(format!(
                    "pull request status {} is not abandoned",
                    payload::shown(&pr.status)
                )));
            }
            Ok(Delivery::PullRequestClosed {
                url: pr.links.web.href,
                number: pr.pull_request_id,
                merged: false,
            })
        }
        other => Err(payload::unsupported_event(other)),
    }
}
