//! Docker Hub: repository pushes.

use serde::Deserialize;

use super::payload;
use super::{Delivery, Rejection};

#[derive(Deserialize)]
struct PushEvent {
    #[serde(default)]
    push_data: PushData,
    repository: Repository,
}

#[derive(Deserialize, Default)]
struct PushData {
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    tag: String,
}

#[derive(Deserialize)]
struct Repository {
    /// `namespace/name`, e.g. `library/nginx`.
    repo_name: String,
}

pub(super) fn handle(body: &[u8]) -> Result<Delivery, Rejection> {
    let event: PushEvent = payload::parse(body)?;
    Ok(payload::refresh(
        payload::image_repo_urls(&event.repository.repo_name, &event.push_data.media_type),
        [event.push_data.tag],
        Vec::new(),
    ))
}
