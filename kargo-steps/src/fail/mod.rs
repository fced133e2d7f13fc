//! `fail`: ends the step (and, unless `continueOnError`, the promotion) as
//! `Failed`, typically under an `if`.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use step::Fail;

/// The step kind.
pub const KIND: &str = "fail";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[("message", NonEmpty)];

/// Where in the work directory the step reads and writes.
const TOUCHES: Touches = Touches::Nothing;

/// The `fail` step's config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Why the promotion fails.
    #[serde(default)]
    pub message: Option<String>,
}
