//! What a change concerns: the objects of a project to read again after a
//! controller event, a store change or a write through the API, so that
//! the hub reads a few objects instead of the whole project.
//!
//! A change that names nothing readable ([`Event::ManifestsReloaded`],
//! [`Change::Missed`], an event this version does not know) touches
//! [`Touched::everything`]: the whole project is read again.

use std::collections::BTreeSet;

use kargo_core::state::Change;
use kargo_runtime::Event;

/// The objects to read again (the Promotions of a Stage come with it, and
/// so does the Freight that enters or leaves it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    everything: bool,
    stages: BTreeSet<String>,
    freight: BTreeSet<String>,
    warehouses: BTreeSet<String>,
}

impl Touched {
    /// Nothing yet.
    pub fn none() -> Self {
        Touched::default()
    }

    /// The whole project.
    pub fn everything() -> Self {
        Touched {
            everything: true,
            ..Touched::default()
        }
    }

    /// The Stage `name`, its Promotions and the Freight it holds.
    pub fn stage(name: impl Into<String>) -> Self {
        Touched::none().with_stage(name)
    }

    /// The Freight named or aliased `name`.
    pub fn freight(name: impl Into<String>) -> Self {
        Touched::none().with_freight(name)
    }

    /// The Warehouse `name`.
    pub fn warehouse(name: impl Into<String>) -> Self {
        Touched::none().with_warehouse(name)
    }

    /// Adds the Stage `name`.
    pub fn with_stage(mut self, name: impl Into<String>) -> Self {
        self.stages.insert(name.into());
        self
    }

    /// Adds the Freight named or aliased `name`.
    pub fn with_freight(mut self, name: impl Into<String>) -> Self {
        self.freight.insert(name.into());
        self
    }

    /// Adds the Warehouse `name`.
    pub fn with_warehouse(mut self, name: impl Into<String>) -> Self {
        self.warehouses.insert(name.into());
        self
    }

    /// Whether the whole project is to be read.
    pub fn is_everything(&self) -> bool {
        self.everything
    }

    /// Whether nothing is to be read.
    pub fn is_empty(&self) -> bool {
        !self.everything
            && self.stages.is_empty()
            && self.freight.is_empty()
            && self.warehouses.is_empty()
    }

    /// The Stages named.
    pub fn stages(&self) -> &BTreeSet<String> {
        &self.stages
    }

    /// The Freight named (names or aliases).
    pub fn freight_names(&self) -> &BTreeSet<String> {
        &self.freight
    }

    /// The Warehouses named.
    pub fn warehouses(&self) -> &BTreeSet<String> {
        &self.warehouses
    }

    /// Adds everything `other` touches.
    pub fn merge(&mut self, other: Touched) {
        if self.everything {
            return;
        }
        if other.everything {
            *self = Touched::everything();
            return;
        }
        self.stages.extend(other.stages);
        self.freight.extend(other.freight);
        self.warehouses.extend(other.warehouses);
    }

    /// Takes what is touched, leaving nothing.
    pub fn take(&mut self) -> Touched {
        std::mem::take(self)
    }

    /// What the controller's `event` concerns.
    pub fn of_event(event: &Event) -> Touched {
        match event {
            Event::FreightCreated {
                warehouse, freight, ..
            } => Touched::freight(freight).with_warehouse(warehouse),
            Event::DiscoverySucceeded { warehouse, freight } => {
                let touched = Touched::warehouse(warehouse);
                match freight {
                    Some(f) => touched.with_freight(f),
                    None => touched,
                }
            }
            Event::DiscoveryFailed { warehouse, .. } => Touched::warehouse(warehouse),
            Event::FreightApproved { freight, stage, .. }
            | Event::FreightPassedOn { stage, freight }
            | Event::PromotionQueued { stage, freight, .. }
            | Event::PromotionFinished { stage, freight, .. } => {
                Touched::stage(stage).with_freight(freight)
            }
            Event::FreightAliasChanged { freight, .. }
            | Event::FreightMetadataChanged { freight, .. } => Touched::freight(freight),
            Event::StageMetadataChanged { stage, .. }
            | Event::HoldChanged { stage, .. }
            | Event::PromotionStarted { stage, .. }
            | Event::StepFinished { stage, .. }
            | Event::PromotionWaiting { stage, .. }
            | Event::PromotionAbortRequested { stage, .. }
            | Event::VerificationFinished { stage, .. } => Touched::stage(stage),
            // Reloaded manifests change any object; a missed event any
            // other; an event this version does not know, anything.
            _ => Touched::everything(),
        }
    }

    /// What the store's `change` concerns (another replica's work
    /// included): new Freight, approvals, queued, finished and aborted
    /// promotions name their objects; the rest touches everything.
    pub fn of_change(change: &Change) -> Touched {
        match change {
            Change::FreightCreated { freight } => Touched::freight(freight),
            Change::FreightApproved { freight, stage } => {
                Touched::stage(stage).with_freight(freight)
            }
            Change::PromotionCreated { stage, .. }
            | Change::PromotionFinished { stage, .. }
            | Change::PromotionAbortRequested { stage, .. } => Touched::stage(stage),
            _ => Touched::everything(),
        }
    }
}

#[cfg(test)]
mod tests {
    use kargo_core::model::PromotionPhase;

    use super::*;

    fn s(s: &str) -> String {
        s.to_owned()
    }

    #[test]
    fn a_finished_promotion_touches_its_stage_and_freight() {
        let touched = Touched::of_event(&Event::PromotionFinished {
            stage: s("prod"),
            promotion: s("prod.1"),
            freight: s("f1"),
            phase: PromotionPhase::Succeeded,
            message: None,
        });
        assert_eq!(touched, Touched::stage("prod").with_freight("f1"));
        assert!(!touched.is_everything());
    }

    #[test]
    fn new_freight_touches_its_warehouse() {
        let touched = Touched::of_event(&Event::FreightCreated {
            warehouse: s("app"),
            freight: s("f1"),
            alias: s("wary-owl"),
        });
        assert_eq!(touched.warehouses().iter().collect::<Vec<_>>(), ["app"]);
        assert_eq!(touched.freight_names().iter().collect::<Vec<_>>(), ["f1"]);
        assert!(touched.stages().is_empty());
    }

    #[test]
    fn reloaded_manifests_and_missed_events_touch_everything() {
        for event in [
            Event::ManifestsReloaded { changes: vec![] },
            Event::Missed,
            Event::ResourcesChanged { resources: vec![] },
        ] {
            assert!(Touched::of_event(&event).is_everything(), "{event:?}");
        }
        assert!(Touched::of_change(&Change::Missed).is_everything());
    }

    #[test]
    fn another_replicas_finished_promotion_touches_its_stage() {
        let touched = Touched::of_change(&Change::PromotionFinished {
            promotion: s("qa.1"),
            stage: s("qa"),
            phase: PromotionPhase::Failed,
        });
        assert_eq!(touched, Touched::stage("qa"));
    }

    #[test]
    fn merging_keeps_every_name_and_everything_wins() {
        let mut touched = Touched::stage("dev");
        touched.merge(Touched::freight("f1").with_stage("qa"));
        assert_eq!(touched.stages().len(), 2);
        assert_eq!(touched.freight_names().len(), 1);
        let taken = touched.take();
        assert!(touched.is_empty());
        assert!(!taken.is_empty());
        let mut all = taken;
        all.merge(Touched::everything());
        assert!(all.is_everything());
        all.merge(Touched::stage("prod"));
        assert!(all.is_everything());
        assert!(all.stages().is_empty());
    }
}
