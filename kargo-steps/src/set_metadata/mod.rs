//! `set-metadata`: sets key/value pairs in the metadata of Stages
//! (`Stage.status.metadata`) and Freight (`Freight.status.metadata`),
//! through the promotion's [state store](kargo_core::step::StepContext::store).
//!
//! Each update names a `kind` (`Stage` or `Freight`), a `name` (a Freight
//! may also be named by its alias) and `values`; each value replaces the
//! key's old value whole, other keys stay (Kargo's `UpsertMetadata`). The
//! updates are applied in order; a Freight that does not exist fails the
//! step (earlier updates stay applied, as in Kargo). A Stage needs no
//! state yet: its metadata is created. Expressions read the metadata with
//! `freightMetadata(name)` and `stageMetadata(name)`.
//!
//! Output: none.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::schema::Check::{NonEmpty, OneOf};
use crate::schema::Rule;

pub use step::SetMetadata;

/// The step kind.
pub const KIND: &str = "set-metadata";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("updates", NonEmpty),
    ("updates[].name", NonEmpty),
    ("updates[].kind", OneOf(&["Stage", "Freight"])),
];

/// Where in the work directory the step reads and writes. It changes state
/// in the store only.
const TOUCHES: Touches = Touches::Nothing;

/// The `set-metadata` config (Kargo's `SetMetadataConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The updates, applied in order; at least one.
    pub updates: Vec<MetadataUpdate>,
}

/// One entry of `updates`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct MetadataUpdate {
    /// Whose metadata.
    pub kind: MetadataKind,
    /// The Stage's name, or the Freight's name or alias.
    pub name: String,
    /// The keys to set; at least one.
    pub values: Map<String, Value>,
}

/// The kinds of resource that keep metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MetadataKind {
    /// `Stage.status.metadata`.
    Stage,
    /// `Freight.status.metadata`.
    Freight,
}
