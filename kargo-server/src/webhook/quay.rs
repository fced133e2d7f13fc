//! Quay.io: repository pushes. The payload does not say whether the
//! repository holds images or charts, so both forms of its URL are
//! refreshed.

use serde::Deserialize;

use super::payload;
use super::{Delivery, Rejection};

#[derive(Deserialize)]
struct PushEvent {
    /// `quay.io/namespace/repository`.
    docker_url: String,
    #[serde(default)]
    updated_tags: Vec<String>,
}

pub(super) fn handle(body: &[u8]) -> Result<Delivery, Rejection> {
    let event: PushEvent = payload::parse(body)?;
    Ok(payload::refresh(
        payload::image_and_chart_urls(&event.docker_url),
        event.updated_tags,
        Vec::new(),
    ))
}
