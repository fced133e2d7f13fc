//! JFrog Artifactory: `pushed` events of the `docker` domain, for images
//! (`image_type` `docker`) and OCI Helm charts (`oci`).

use axum::http::StatusCode;
use kargo_core::urls::{normalize_chart, normalize_image};
use serde::Deserialize;

use super::payload;
use super::{Delivery, Rejection};

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    data: EventData,
    /// The Artifactory instance's URL.
    #[serde(default)]
    jpd_origin: String,
}

#[derive(Deserialize, Default)]
struct EventData {
    /// `path/in/repo/image/tag/manifest.json`.
    #[serde(default)]
    path: String,
    /// The (local) repository.
    #[serde(default)]
    repo_key: String,
    #[serde(default)]
    image_type: String,
    #[serde(default)]
    tag: String,
}

/// `virtual_repo`, when not empty, replaces the payload's `repo_key`.
pub(super) fn handle(body: &[u8], virtual_repo: &str) -> Result<Delivery, Rejection> {
    let event: Event = payload::parse(body)?;
    if event.event_type != "pushed" || event.domain != "docker" {
        return Err(Rejection::new(
            StatusCode::NOT_IMPLEMENTED,
            "event type must be 'pushed' and domain must be 'docker'",
        ));
    }
    let data = event.data;
    let normalize: fn(&str) -> String = match data.image_type.as_str() {
        "docker" => normalize_image,
        "oci" => normalize_chart,
        other => {
            return Err(Rejection::new(
                StatusCode::NOT_IMPLEMENTED,
                format!("unsupported image type {}", payload::shown(other)),
            ));
        }
    };
    let Some(host) = origin_host(&event.jpd_origin) else {
        return Err(Rejection::bad_request(format!(
            "invalid value {} in payload's jpd_origin field",
            payload::shown(&event.jpd_origin)
        )));
    };
    // The path ends with the tag and the manifest's file name; what comes
    // before is the repository's path inside the Artifactory repository.
    let sections: Vec<&str> = data.path.split('/').collect();
    let Some(repo_path) = sections.len().checked_sub(2).map(|n| &sections[..n]) else {
        return Err(Rejection::bad_request(format!(
            "invalid value {} in payload's data.path field",
            payload::shown(&data.path)
        )));
    };
    let repo = if virtual_repo.is_empty() {
        data.repo_key.as_str()
    } else {
        virtual_repo
    };
    let mut url = format!("{host}/{repo}");
    for section in repo_path {
        url.push('/');
        url.push_str(section);
    }
    Ok(payload::refresh([normalize(&url)], [data.tag], Vec::new()))
}

/// The host (and port) of an `https://host[:port][/path]` URL.
fn origin_host(origin: &str) -> Option<&str> {
    let rest = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    (!host.is_empty()).then_some(host)
}
