//! Harbor: `PUSH_ARTIFACT` events in Harbor's default payload format (not
//! CloudEvents). The payload does not say whether the artifact is an
//! image or a chart, so both forms of its URL are refreshed.

use serde::Deserialize;

use super::payload;
use super::{Delivery, Rejection};

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    event_data: EventData,
}

#[derive(Deserialize, Default)]
struct EventData {
    #[serde(default)]
    resources: Vec<Resource>,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(default)]
    tag: String,
    /// `harbor.example.com/project/repository:tag`.
    #[serde(default)]
    resource_url: String,
}

pub(super) fn handle(body: &[u8]) -> Result<Delivery, Rejection> {
    let event: Event = payload::parse(body)?;
    if event.event_type != "PUSH_ARTIFACT" {
        return Err(payload::unsupported_event(&event.event_type));
    }
    let resources = event.event_data.resources;
    // One push is about one repository: the first resource names it.
    let urls = resources
        .first()
        .map(|r| payload::image_and_chart_urls(&r.resource_url))
        .unwrap_or_default();
    Ok(payload::refresh(
        urls,
        resources.into_iter().map(|r| r.tag),
        Vec::new(),
    ))
}
