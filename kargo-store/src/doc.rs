//! Records as JSON documents: every store keeps Freight, Stage state and
//! promotions as Kargo's JSON text plus the few columns it looks them up
//! by, so the row ↔ model mapping is the same for all of them.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A record that cannot be written or read as JSON.
#[derive(Debug, thiserror::Error)]
#[error("cannot read or write the {what} `{name}`: {source}")]
pub(crate) struct DocError {
    what: &'static str,
    name: String,
    source: serde_json::Error,
}

/// `value`, the `what` named `name`, as a JSON document.
pub(crate) fn to_doc<T: Serialize>(
    what: &'static str,
    name: &str,
    value: &T,
) -> Result<String, DocError> {
    serde_json::to_string(value).map_err(|source| DocError {
        what,
        name: name.to_owned(),
        source,
    })
}

/// The `what` named `name` from its JSON document `doc`.
pub(crate) fn from_doc<T: DeserializeOwned>(
    what: &'static str,
    name: &str,
    doc: &str,
) -> Result<T, DocError> {
    serde_json::from_str(doc).map_err(|source| DocError {
        what,
        name: name.to_owned(),
        source,
    })
}
