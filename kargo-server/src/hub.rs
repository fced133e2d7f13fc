//! One project's current objects and their changes: every read of the API
//! is answered from the latest [`Snapshot`], and every watch stream
//! follows the [`WatchEvent`]s between snapshots.
//!
//! A snapshot is read again when the controller reports an event, when the
//! store reports a change (another replica's work, on PostgreSQL), after
//! every write through the API (before it answers, so a client reads its
//! own write), and on a short tick while something runs, so that another
//! replica's step progress shows too. Each read is compared with the last
//! one and the differences are sent once to all streams: the cost of a
//! change does not grow with the number of watchers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kargo_runtime::{Controller, Event};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast, watch};

use crate::metrics::Metrics;
use crate::objects::{Kind, Snapshot};

/// How many changes a slow watch stream may fall behind before it is
/// closed (a client then lists and watches again, as with Kubernetes).
const CHANGE_CAPACITY: usize = 4096;
/// How often the snapshot is read while a promotion runs or waits, for
/// progress made by another replica.
const BUSY_TICK: Duration = Duration::from_millis(1000);
/// How often it is read otherwise.
const IDLE_TICK: Duration = Duration::from_secs(10);
/// How many project events `/events` keeps.
const EVENT_HISTORY: usize = 500;

/// Kubernetes' watch event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChangeType {
    /// A new object.
    Added,
    /// An object changed.
    Modified,
    /// An object is gone (the object is its last state).
    Deleted,
}

/// One object's change.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// The object's kind.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// What happened.
    pub change: ChangeType,
    /// The object (its last state when deleted).
    pub object: Arc<Value>,
    /// The event as JSON, made once for all the streams that send it.
    json: std::sync::OnceLock<Arc<str>>,
}

impl WatchEvent {
    /// `change` of the object `kind` `name`.
    pub fn new(kind: Kind, name: String, change: ChangeType, object: Arc<Value>) -> Self {
        WatchEvent {
            kind,
            name,
            change,
            object,
            json: std::sync::OnceLock::new(),
        }
    }

    /// The event as a watch stream sends it, as `change` (a filtered
    /// stream may send a change as `DELETED`):
    /// `{"type": "ADDED"|"MODIFIED"|"DELETED", "object": {...}}`.
    pub fn to_json(&self, change: ChangeType) -> Arc<str> {
        let make = || Arc::from(json!({"type": change, "object": &*self.object}).to_string());
        if change == self.change {
            self.json.get_or_init(make).clone()
        } else {
            make()
        }
    }
}

/// A project's live state.
#[derive(Debug)]
pub struct Hub {
    project: String,
    controller: Controller,
    current: watch::Sender<Arc<Snapshot>>,
    changes: broadcast::Sender<Arc<WatchEvent>>,
    /// One refresh at a time, so changes go out in order.
    refreshing: tokio::sync::Mutex<()>,
    wake: Notify,
    events: Mutex<VecDeque<Value>>,
    metrics: Arc<Metrics>,
}

impl Hub {
    /// A hub for `controller`'s project `project`, with its first snapshot.
    pub async fn new(
        project: String,
        controller: Controller,
        metrics: Arc<Metrics>,
    ) -> kargo_core::Result<Arc<Hub>> {
        let first = Snapshot::read(&controller, &project).await?;
        Ok(Arc::new(Hub {
            project,
            controller,
            current: watch::channel(Arc::new(first)).0,
            changes: broadcast::channel(CHANGE_CAPACITY).0,
            refreshing: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            events: Mutex::new(VecDeque::new()),
            metrics,
        }))
    }

    /// The project's name.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The controller.
    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.borrow().clone()
    }

    /// The changes from now on, and the snapshot they start from: every
    /// change after that snapshot is received.
    pub fn subscribe(&self) -> (Arc<Snapshot>, broadcast::Receiver<Arc<WatchEvent>>) {
        // Taken under the refresh lock's protection: a refresh publishes
        // its snapshot before it sends its changes, so subscribing first
        // and reading the snapshot second may only repeat a change.
        let rx = self.changes.subscribe();
        (self.snapshot(), rx)
    }

    /// How many watch streams are open.
    pub fn watchers(&self) -> usize {
        self.changes.receiver_count()
    }

    /// Reads the project again and sends what changed; returns the new
    /// snapshot.
    pub async fn refresh(&self) -> kargo_core::Result<Arc<Snapshot>> {
        let _one = self.refreshing.lock().await;
        let next = Arc::new(Snapshot::read(&self.controller, &self.project).await?);
        let previous = self.current.send_replace(next.clone());
        for event in diff(&previous, &next) {
            let _ = self.changes.send(Arc::new(event));
        }
        Ok(next)
    }

    /// Asks the background loop to refresh soon.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// The project's recent events, newest last, as Kubernetes Events.
    pub fn events(&self) -> Vec<Value> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn record(&self, event: &Event) {
        self.metrics.observe(&self.project, event);
        let Some(value) = kubernetes_event(event, &self.project, self.controller.now()) else {
            return;
        };
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if events.len() == EVENT_HISTORY {
            events.pop_front();
        }
        events.push_back(value);
    }

    /// Keeps the snapshot current until `stop` resolves: on the
    /// controller's events, the store's changes, pokes and ticks.
    pub async fn run(self: Arc<Self>, stop: impl Future<Output = ()>) {
        let mut events = self.controller.subscribe();
        let mut store_changes = self.controller.store().watch().await.ok();
        tokio::pin!(stop);
        loop {
            let busy = self.snapshot().of(Kind::Promotion).any(|(_, p)| {
                matches!(
                    p.pointer("/status/phase").and_then(Value::as_str),
                    Some("Running" | "Pending")
                )
            });
            let tick = tokio::time::sleep(if busy { BUSY_TICK } else { IDLE_TICK });
            tokio::select! {
                () = &mut stop => return,
                event = events.next() => match event {
                    Some(event) => self.record(&event),
                    None => return,
                },
                change = async {
                    match store_changes.as_mut() {
                        Some(changes) => changes.next().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if change.is_none() {
                        store_changes = None;
                    }
                }
                () = self.wake.notified() => {}
                () = tick => {}
            }
            // Let a burst of events settle into one read.
            tokio::time::sleep(Duration::from_millis(5)).await;
            while let Some(event) = events.try_next() {
                self.record(&event);
            }
            if let Err(e) = self.refresh().await {
                tracing::warn!(project = %self.project, error = %e, "cannot read the project's state");
            }
        }
    }
}

/// The changes from `old` to `new`.
fn diff(old: &Snapshot, new: &Snapshot) -> Vec<WatchEvent> {
    let mut out = Vec::new();
    for kind in Kind::ALL {
        let before = old.objects.get(&kind);
        let after = new.objects.get(&kind);
        for (name, object) in after.into_iter().flatten() {
            let change = match before.and_then(|b| b.get(name)) {
                None => ChangeType::Added,
                Some(prev) if prev != object => ChangeType::Modified,
                Some(_) => continue,
            };
            out.push(WatchEvent::new(kind, name.clone(), change, object.clone()));
        }
        for (name, object) in before.into_iter().flatten() {
            if after.is_none_or(|a| !a.contains_key(name)) {
                out.push(WatchEvent::new(
                    kind,
                    name.clone(),
                    ChangeType::Deleted,
                    object.clone(),
                ));
            }
        }
    }
    out
}

/// A controller event as a Kubernetes Event of the project, when it is
/// about one of its objects.
fn kubernetes_event(
    event: &Event,
    project: &str,
    now: kargo_core::time::Timestamp,
) -> Option<Value> {
    let (kind, name, reason, message, warning) = match event {
        Event::FreightCreated {
            warehouse,
            freight,
            alias,
        } => (
            "Freight",
            freight.clone(),
            "FreightCreated",
            format!("Warehouse {warehouse} made Freight {alias}"),
            false,
        ),
        Event::DiscoveryFailed { warehouse, message } => (
            "Warehouse",
            warehouse.clone(),
            "DiscoveryFailed",
            message.clone(),
            true,
        ),
        Event::FreightApproved {
            freight,
            stage,
            actor,
        } => (
            "Freight",
            freight.clone(),
            "FreightApproved",
            format!("Freight approved for Stage {stage} by {actor}"),
            false,
        ),
        Event::PromotionQueued {
            stage,
            promotion,
            freight,
            actor,
        } => (
            "Promotion",
            promotion.clone(),
            "PromotionCreated",
            format!("Promotion of Freight {freight} into Stage {stage} created by {actor}"),
            false,
        ),
        Event::PromotionFinished {
            stage,
            promotion,
            phase,
            message,
            ..
        } => (
            "Promotion",
            promotion.clone(),
            match phase {
                kargo_core::model::PromotionPhase::Succeeded => "PromotionSucceeded",
                kargo_core::model::PromotionPhase::Aborted => "PromotionAborted",
                kargo_core::model::PromotionPhase::Errored => "PromotionErrored",
                _ => "PromotionFailed",
            },
            match message {
                Some(m) => format!("Promotion into Stage {stage}: {phase}: {m}"),
                None => format!("Promotion into Stage {stage}: {phase}"),
            },
            *phase != kargo_core::model::PromotionPhase::Succeeded,
        ),
        Event::VerificationFinished {
            stage,
            phase,
            message,
            ..
        } => (
            "Stage",
            stage.clone(),
            "VerificationFinished",
            match message {
                Some(m) => format!("{phase:?}: {m}"),
                None => format!("{phase:?}"),
            },
            !matches!(phase, kargo_core::state::VerificationPhase::Successful),
        ),
        _ => return None,
    };
    let at = now.to_string();
    Some(json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{name}.{}", now.unix_millis()), "namespace": project},
        "involvedObject": {
            "apiVersion": crate::objects::API_VERSION,
            "kind": kind,
            "name": name,
            "namespace": project,
        },
        "reason": reason,
        "message": message,
        "type": if warning { "Warning" } else { "Normal" },
        "source": {"component": "kargo-rs"},
        "reportingComponent": "kargo-rs",
        "firstTimestamp": at,
        "lastTimestamp": at,
        "eventTime": at,
        "count": 1,
    }))
}
