//! Kargo's generic receiver: recognised, given its path, its config
//! checked, but its actions not evaluated (see the module docs' departures).

use axum::http::StatusCode;

use super::payload;
use super::{Delivery, Rejection};

pub(super) fn handle(body: &[u8]) -> Result<Delivery, Rejection> {
    // Kargo reads an empty body as no body, anything else must be JSON.
    if !body.is_empty() {
        payload::parse::<serde_json::Value>(body)?;
    }
    Err(Rejection::new(
        StatusCode::NOT_IMPLEMENTED,
        "generic webhook receivers are not supported by kargo-rs yet: their actions' \
         expressions need request functions (request.header(), normalizeGit(), ...) \
         that its expression engine does not provide",
    ))
}
