//! `fail`: ends the step (and, unless `continueOnError`, the promotion) as
//! `Failed`, typically under an `if`.

mod step;

use serde::{Deserialize, Serialize};

pub use step::Fail;

/// The step kind.
pub const KIND: &str = "fail";

/// The `fail` step's config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Why the promotion fails.
    #[serde(default)]
    pub message: Option<String>,
}
