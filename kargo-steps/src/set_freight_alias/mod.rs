//! `set-freight-alias`: gives a piece of Freight a new alias, through the
//! promotion's [state store](kargo_core::step::StepContext::store).
//!
//! `name` is the Freight's name (or its current alias). The alias must be
//! valid (see [`alias::validate`](kargo_core::pipeline::alias::validate))
//! and unused by other Freight; setting the alias the Freight already has
//! succeeds. The step's message says what changed, as Kargo's does.
//!
//! Output: none.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use step::SetFreightAlias;

/// The step kind.
pub const KIND: &str = "set-freight-alias";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[("name", NonEmpty), ("alias", NonEmpty)];

/// Where in the work directory the step reads and writes. It changes state
/// in the store only.
const TOUCHES: Touches = Touches::Nothing;

/// The `set-freight-alias` config (Kargo's `SetFreightAliasConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The Freight's name.
    pub name: String,
    /// Its new alias.
    pub alias: String,
}
