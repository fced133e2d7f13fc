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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event as a subscriber serializes it: `type` names the
    /// variant, fields are camelCase, empty options are left out.
    #[test]
    fn events_travel_as_json_tagged_with_their_type() {
        let s = |s: &str| s.to_owned();
        let cases = [
            (
                Event::FreightCreated {
                    warehouse: s("app"),
                    freight: s("f1"),
                    alias: s("wary-owl"),
                },
                r#"{"type":"freightCreated","warehouse":"app","freight":"f1","alias":"wary-owl"}"#,
            ),
            (
                Event::DiscoverySucceeded {
                    warehouse: s("app"),
                    freight: Some(s("f1")),
                },
                r#"{"type":"discoverySucceeded","warehouse":"app","freight":"f1"}"#,
            ),
            (
                Event::DiscoveryFailed {
                    warehouse: s("app"),
                    message: s("no tags"),
                },
                r#"{"type":"discoveryFailed","warehouse":"app","message":"no tags"}"#,
            ),
            (
                Event::FreightApproved {
                    freight: s("f1"),
                    stage: s("prod"),
                    actor: s("alice"),
                },
                r#"{"type":"freightApproved","freight":"f1","stage":"prod","actor":"alice"}"#,
            ),
            (
                Event::FreightAliasChanged {
                    freight: s("f1"),
                    alias: s("release-1"),
                },
                r#"{"type":"freightAliasChanged","freight":"f1","alias":"release-1"}"#,
            ),
            (
                Event::FreightMetadataChanged {
                    freight: s("f1"),
                    keys: vec![s("ticket")],
                },
                r#"{"type":"freightMetadataChanged","freight":"f1","keys":["ticket"]}"#,
            ),
            (
                Event::StageMetadataChanged {
                    stage: s("dev"),
                    keys: vec![s("ticket")],
                },
                r#"{"type":"stageMetadataChanged","stage":"dev","keys":["ticket"]}"#,
            ),
            (
                Event::FreightPassedOn {
                    stage: s("gate"),
                    freight: s("f1"),
                },
                r#"{"type":"freightPassedOn","stage":"gate","freight":"f1"}"#,
            ),
            (
                Event::PromotionQueued {
                    stage: s("dev"),
                    promotion: s("p1"),
                    freight: s("f1"),
                    actor: s("alice"),
                },
                r#"{"type":"promotionQueued","stage":"dev","promotion":"p1","freight":"f1","actor":"alice"}"#,
            ),
            (
                Event::HoldChanged {
                    stage: s("dev"),
                    promotion: s("p1"),
                    held: true,
                },
                r#"{"type":"holdChanged","stage":"dev","promotion":"p1","held":true}"#,
            ),
            (
                Event::PromotionStarted {
                    stage: s("dev"),
                    promotion: s("p1"),
                    resumed: false,
                },
                r#"{"type":"promotionStarted","stage":"dev","promotion":"p1","resumed":false}"#,
            ),
            (
                Event::StepFinished {
                    stage: s("dev"),
                    promotion: s("p1"),
                    alias: s("clone"),
                    uses: s("git-clone"),
                    status: StepStatus::Succeeded,
                    message: None,
                    duration: Some(Duration::from_millis(12)),
                },
                r#"{"type":"stepFinished","stage":"dev","promotion":"p1","alias":"clone","uses":"git-clone","status":"Succeeded","duration":12}"#,
            ),
            (
                Event::PromotionWaiting {
                    stage: s("dev"),
                    promotion: s("p1"),
                    message: Some(s("pull request #7 is open")),
                },
                r#"{"type":"promotionWaiting","stage":"dev","promotion":"p1","message":"pull request #7 is open"}"#,
            ),
            (
                Event::PromotionAbortRequested {
                    stage: s("dev"),
                    promotion: s("p1"),
                    actor: s("alice"),
                },
                r#"{"type":"promotionAbortRequested","stage":"dev","promotion":"p1","actor":"alice"}"#,
            ),
            (
                Event::PromotionFinished {
                    stage: s("dev"),
                    promotion: s("p1"),
                    freight: s("f1"),
                    phase: PromotionPhase::Aborted,
                    message: Some(s("aborted by alice")),
                },
                r#"{"type":"promotionFinished","stage":"dev","promotion":"p1","freight":"f1","phase":"Aborted","message":"aborted by alice"}"#,
            ),
            (
                Event::VerificationFinished {
                    stage: s("dev"),
                    id: s("dev.1"),
                    phase: VerificationPhase::Successful,
                    message: None,
                },
                r#"{"type":"verificationFinished","stage":"dev","id":"dev.1","phase":"Successful"}"#,
            ),
            (
                Event::ResourcesChanged {
                    resources: vec![ResourceKey::new("Stage", "demo", "qa")],
                },
                r#"{"type":"resourcesChanged","resources":[{"kind":"Stage","namespace":"demo","name":"qa"}]}"#,
            ),
            (
                Event::ManifestsReloaded {
                    changes: vec![s("Stage qa added")],
                },
                r#"{"type":"manifestsReloaded","changes":["Stage qa added"]}"#,
            ),
            (
                Event::ManifestsRejected { message: s("bad") },
                r#"{"type":"manifestsRejected","message":"bad"}"#,
            ),
            (Event::Missed, r#"{"type":"missed"}"#),
        ];
        for (event, json) in cases {
            assert_eq!(serde_json::to_string(&event).expect("serializes"), json);
        }
    }
}
