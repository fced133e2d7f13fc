//! [`StepStore`]: the part of the pipeline's state a step may read and
//! change.

use std::collections::BTreeMap;
use std::fmt::Debug;

use async_trait::async_trait;
use serde_json::Value;

use crate::Result;
use crate::model::Freight;

/// A trait object for [`StepStore`].
pub type DynStepStore = dyn StepStore;

/// What a step sees of the pipeline's state: Freight, Freight and Stage
/// metadata, and Freight aliases. Narrower than the host's
/// [`StateStore`](crate::state::StateStore), which implements it, so
/// that no step can queue, claim or finish promotions.
///
/// # Contract
/// Each method is one atomic change of the store behind it; unknown
/// Freight is [`Error::NotFound`](crate::Error::NotFound).
#[async_trait]
pub trait StepStore: Send + Sync + Debug + 'static {
    /// The Freight named or aliased `name`.
    async fn freight(&self, name: &str) -> Result<Option<Freight>>;

    /// The metadata of the Stage named `stage` (empty when it has none).
    async fn stage_metadata(&self, stage: &str) -> Result<BTreeMap<String, Value>>;

    /// Sets each of `values` in the Stage's metadata (a key given
    /// replaces its old value whole).
    async fn set_stage_metadata(&self, stage: &str, values: &BTreeMap<String, Value>)
    -> Result<()>;

    /// Sets each of `values` in the metadata of the Freight named or
    /// aliased `freight`.
    async fn set_freight_metadata(
        &self,
        freight: &str,
        values: &BTreeMap<String, Value>,
    ) -> Result<()>;

    /// Gives the Freight named `name` the alias `alias`; returns it as
    /// stored afterwards.
    async fn alias_freight(&self, name: &str, alias: &str) -> Result<Freight>;
}
