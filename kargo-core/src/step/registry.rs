use std::collections::BTreeMap;
use std::sync::Arc;

use super::DynStep;
use crate::{Error, Result};

/// Steps by kind (`"yaml-update"`), shared by every promotion an engine runs.
///
/// ```
/// # use kargo_core::step::{Step, StepContext, StepError, StepOutcome, StepRegistry};
/// # #[derive(Debug)] struct Noop;
/// # #[async_trait::async_trait]
/// # impl Step for Noop {
/// #     async fn run(&self, _: &StepContext, _: serde_json::Value) -> Result<StepOutcome, StepError> {
/// #         Ok(StepOutcome::succeeded())
/// #     }
/// # }
/// let mut registry = StepRegistry::new();
/// registry.register("noop", Noop).unwrap();
/// assert!(registry.get("noop").is_some());
/// assert!(registry.register("noop", Noop).is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct StepRegistry {
    steps: BTreeMap<String, Arc<DynStep>>,
}

impl StepRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        StepRegistry::default()
    }

    /// Registers `step` under `kind`; fails if the kind is taken.
    pub fn register(&mut self, kind: impl Into<String>, step: impl super::Step) -> Result<()> {
        self.register_arc(kind, Arc::new(step))
    }

    /// Registers a shared step under `kind`; fails if the kind is taken.
    pub fn register_arc(&mut self, kind: impl Into<String>, step: Arc<DynStep>) -> Result<()> {
        let kind = kind.into();
        if self.steps.contains_key(&kind) {
            return Err(Error::AlreadyExists {
                what: "step kind",
                name: kind,
            });
        }
        self.steps.insert(kind, step);
        Ok(())
    }

    /// Registers `step` under `kind`, replacing (and returning) any step
    /// registered there before. Hosts use it to override a built-in.
    pub fn replace(
        &mut self,
        kind: impl Into<String>,
        step: impl super::Step,
    ) -> Option<Arc<DynStep>> {
        self.steps.insert(kind.into(), Arc::new(step))
    }

    /// The step registered under `kind`.
    pub fn get(&self, kind: &str) -> Option<Arc<DynStep>> {
        self.steps.get(kind).cloned()
    }

    /// The registered kinds, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.steps.keys().map(String::as_str)
    }
}
