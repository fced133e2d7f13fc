//! What the controller did, as typed [`Event`]s, for subscribers: a
//! service's live API, a UI, logs, metrics.
//!
//! Events are announcements, not the record: the state store holds the
//! truth, and a subscriber that falls behind is told so
//! ([`Event::Missed`]) and reads the store again.

use std::time::Duration;

use kargo_core::model::{PromotionPhase, StepStatus};
use kargo_core::state::{ResourceKey, VerificationPhase};
use serde::Serialize;
use tokio::sync::broadcast;

/// How many events a slow subscriber may fall behind before it misses
/// some.
const CAPACITY: usize = 1024;

/// Something the controller did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum Event {
    /// A Warehouse's discovery made new Freight.
    FreightCreated {
        /// The Warehouse.
        warehouse: String,
        /// The Freight's name (its ID).
        freight: String,
        /// Its alias.
        alias: String,
    },
    /// A Warehouse's discovery succeeded (whether or not it made new
    /// Freight); recorded on its state too.
    DiscoverySucceeded {
        /// The Warehouse.
        warehouse: String,
        /// The ID of the Freight the discovered artifacts make (stored
        /// already, or new: then [`Event::FreightCreated`] came first).
        #[serde(skip_serializing_if = "Option::is_none")]
        freight: Option<String>,
    },
    /// A Warehouse's discovery failed; recorded on its state too.
    DiscoveryFailed {
        /// The Warehouse.
        warehouse: String,
        /// Why.
        message: String,
    },
    /// Freight was approved for a Stage.
    FreightApproved {
        /// The Freight's name.
        freight: String,
        /// The Stage.
        stage: String,
        /// Who approved it.
        actor: String,
    },
    /// Freight got a new alias (through the API or a `set-freight-alias`
    /// step).
    FreightAliasChanged {
        /// The Freight's name.
        freight: String,
        /// Its new alias.
        alias: String,
    },
    /// A promotion step set metadata on Freight (`set-metadata`).
    FreightMetadataChanged {
        /// The Freight's name or alias, as the step named it.
        freight: String,
        /// The keys set.
        keys: Vec<String>,
    },
    /// A promotion step set metadata on a Stage (`set-metadata`).
    StageMetadataChanged {
        /// The Stage.
        stage: String,
        /// The keys set.
        keys: Vec<String>,
    },
    /// A control-flow Stage passed Freight on (marked it verified).
    FreightPassedOn {
        /// The control-flow Stage.
        stage: String,
        /// The Freight's name.
        freight: String,
    },
    /// A promotion was queued.
    PromotionQueued {
        /// The Stage.
        stage: String,
        /// The promotion's name.
        promotion: String,
        /// The Freight's name.
        freight: String,
        /// Who asked for it.
        actor: String,
    },
    /// A manual promotion held (or released) the Stage's auto-promotion
    /// for the Freight's origin.
    HoldChanged {
        /// The Stage.
        stage: String,
        /// The promotion that carries the intent.
        promotion: String,
        /// Whether auto-promotion is now held (`false`: resumed).
        held: bool,
    },
    /// A promotion started, or was resumed from its saved state.
    PromotionStarted {
        /// The Stage.
        stage: String,
        /// The promotion's name.
        promotion: String,
        /// Whether it was resumed rather than started anew.
        resumed: bool,
    },
    /// One step of a promotion finished (or settled for now: a step that
    /// waits reports `Running`).
    StepFinished {
        /// The Stage.
        stage: String,
        /// The promotion's name.
        promotion: String,
        /// The step's alias.
        alias: String,
        /// The step kind.
        uses: String,
        /// How it ended.
        status: StepStatus,
        /// Its message, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// How long it ran, when known.
        #[serde(skip_serializing_if = "Option::is_none", with = "millis")]
        duration: Option<Duration>,
    },
    /// A promotion waits (a step is `Running`, e.g. for a pull request);
    /// it resumes on a later pass.
    PromotionWaiting {
        /// The Stage.
        stage: String,
        /// The promotion's name.
        promotion: String,
        /// Why it waits.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Someone asked to abort a running promotion; it ends `Aborted` at
    /// its next step boundary (or next poll, when it waits), on whichever
    /// replica runs it, with [`Event::PromotionFinished`].
    PromotionAbortRequested {
        /// The Stage.
        stage: String,
        /// The promotion's name.
        promotion: String,
        /// Who asked.
        actor: String,
    },
    /// A promotion reached a terminal phase (`Aborted` included: queued
    /// and aborted, or aborted at a step boundary; the message names who
    /// asked).
    PromotionFinished {
        /// The Stage.
        stage: String,
        /// The promotion's name.
        promotion: String,
        /// The Freight's name.
        freight: String,
        /// Its phase.
        phase: PromotionPhase,
        /// Why, when it did not succeed.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A Stage's verification finished.
    VerificationFinished {
        /// The Stage.
        stage: String,
        /// The verification's id.
        id: String,
        /// Its outcome.
        phase: VerificationPhase,
        /// Its message, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Resources kept in the store were created, replaced or deleted
    /// through this controller
    /// ([`apply_resources`](crate::Controller::apply_resources),
    /// [`delete_resources`](crate::Controller::delete_resources)); the
    /// project is loaded again ([`Event::ManifestsReloaded`]).
    ResourcesChanged {
        /// Which resources.
        resources: Vec<ResourceKey>,
    },
    /// The manifests (files, or resources kept in the store by this or
    /// another replica) changed and were loaded again.
    ManifestsReloaded {
        /// What changed, one entry per resource (`Stage prod changed`).
        changes: Vec<String>,
    },
    /// The manifests (files or stored resources) changed but cannot be
    /// used; the controller keeps the ones it had.
    ManifestsRejected {
        /// Why.
        message: String,
    },
    /// This subscriber fell behind and missed events: read the store.
    Missed,
}

mod millis {
    use std::time::Duration;

    use serde::Serializer;

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }
}

/// The sending side, owned by the controller.
#[derive(Debug, Clone)]
pub(crate) struct EventBus(broadcast::Sender<Event>);

impl EventBus {
    pub(crate) fn new() -> Self {
        EventBus(broadcast::channel(CAPACITY).0)
    }

    /// Sends `event` to the current subscribers (none is fine).
    pub(crate) fn emit(&self, event: Event) {
        let _ = self.0.send(event);
    }

    pub(crate) fn subscribe(&self) -> Events {
        Events(self.0.subscribe())
    }
}

/// A subscription to the controller's events, from the moment it was
/// taken ([`Controller::subscribe`](crate::Controller::subscribe)).
#[derive(Debug)]
pub struct Events(broadcast::Receiver<Event>);

impl Events {
    /// The next event; [`Event::Missed`] when this subscriber fell
    /// behind, `None` once the controller is gone.
    pub async fn next(&mut self) -> Option<Event> {
        match self.0.recv().await {
            Ok(event) => Some(event),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Event::Missed),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next event if one is waiting, without waiting.
    pub fn try_next(&mut self) -> Option<Event> {
        match self.0.try_recv() {
            Ok(event) => Some(event),
            Err(broadcast::error::TryRecvError::Lagged(_)) => Some(Event::Missed),
            Err(_) => None,
        }
    }
}
