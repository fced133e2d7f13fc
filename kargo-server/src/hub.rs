//! One project's current objects and their changes: every read of the API
//! is answered from the latest [`Snapshot`], and every watch stream
//! follows the [`WatchEvent`]s between snapshots.
//!
//! A change is read as soon as it is known, and only what it touched
//! ([`Touched`]): a controller event names its Stage, Freight or
//! Warehouse, so does a store change (another replica's work, on
//! PostgreSQL), and so does every write through the API (read before it
//! answers, so a client reads its own write). While promotions run, their
//! Stages are read on a short tick, so that another replica's step
//! progress shows too; the whole project is read on a slow tick, and after
//! anything that names no object (reloaded manifests, missed events). Each
//! read is compared with the last one and the differences are sent once to
//! all streams: the cost of a change grows with neither the number of
//! watchers nor the size of the project.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use kargo_runtime::{Controller, Event};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast, watch};
use tokio::time::Instant;

use crate::metrics::Metrics;
use crate::objects::{Kind, Snapshot};
use crate::touched::Touched;

/// How many changes a slow watch stream may fall behind before it is
/// closed (a client then lists and watches again, as with Kubernetes).
const CHANGE_CAPACITY: usize = 4096;
/// How often the Stages whose promotions run or wait are read, for
/// progress made by another replica.
const BUSY_TICK: Duration = Duration::from_millis(1000);
/// How often the whole project is read.
const FULL_TICK: Duration = Duration::from_secs(10);
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
    /// What the background loop is to read next.
    pending: Mutex<Touched>,
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
            pending: Mutex::new(Touched::none()),
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

    /// Reads the whole project again and sends what changed; returns the
    /// new snapshot.
    pub async fn refresh(&self) -> kargo_core::Result<Arc<Snapshot>> {
        self.refresh_touched(Touched::everything()).await
    }

    /// Reads again what `touched` names (the whole project if it says
    /// so) and sends what changed; returns the new snapshot.
    pub async fn refresh_touched(&self, touched: Touched) -> kargo_core::Result<Arc<Snapshot>> {
        let _one = self.refreshing.lock().await;
        let previous = self.snapshot();
        if touched.is_empty() {
            return Ok(previous);
        }
        let (next, events) = if touched.is_everything() {
            let next = Snapshot::read(&self.controller, &self.project).await?;
            let names = Kind::ALL.into_iter().flat_map(|kind| {
                let names = previous.of(kind).chain(next.of(kind)).map(|(n, _)| n);
                names.map(move |n| (kind, n.clone())).collect::<Vec<_>>()
            });
            let events = diff(&previous, &next, names);
            (next, events)
        } else {
            let (next, read) = previous
                .update(&self.controller, &self.project, &touched)
                .await?;
            let events = diff(&previous, &next, read);
            (next, events)
        };
        for kind in Kind::ALL {
            if !events.iter().any(|e| e.kind == kind) {
                next.keep_lists(&previous, kind);
            }
        }
        let next = Arc::new(next);
        self.current.send_replace(next.clone());
        for event in events {
            let _ = self.changes.send(Arc::new(event));
        }
        Ok(next)
    }

    /// Asks the background loop to read what `touched` names soon.
    pub fn touch(&self, touched: Touched) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .merge(touched);
        self.wake.notify_one();
    }

    fn take_pending(&self) -> Touched {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
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
    /// controller's events, the store's changes, [`Hub::touch`] and ticks.
    pub async fn run(self: Arc<Self>, stop: impl Future<Output = ()>) {
        let mut events = self.controller.subscribe();
        let mut store_changes = self.controller.store().watch().await.ok();
        let mut last_full = Instant::now();
        tokio::pin!(stop);
        loop {
            let busy = busy_stages(&self.snapshot());
            let full_due = last_full + FULL_TICK;
            let tick_at = if busy.is_empty() {
                full_due
            } else {
                full_due.min(Instant::now() + BUSY_TICK)
            };
            let mut touched = Touched::none();
            tokio::select! {
                () = &mut stop => return,
                event = events.next() => match event {
                    Some(event) => self.take_event(&event, &mut touched),
                    None => return,
                },
                change = async {
                    match store_changes.as_mut() {
                        Some(changes) => changes.next().await,
                        None => std::future::pending().await,
                    }
                } => match change {
                    Some(change) => touched.merge(Touched::of_change(&change)),
                    None => store_changes = None,
                },
                () = self.wake.notified() => {}
                () = tokio::time::sleep_until(tick_at) => {
                    for stage in busy {
                        touched.merge(Touched::stage(stage));
                    }
                }
            }
            // Let a burst of events settle into one read.
            tokio::time::sleep(Duration::from_millis(5)).await;
            while let Some(event) = events.try_next() {
                self.take_event(&event, &mut touched);
            }
            while let Some(changes) = store_changes.as_mut() {
                match changes.next().now_or_never() {
                    Some(Some(change)) => touched.merge(Touched::of_change(&change)),
                    Some(None) => store_changes = None,
                    None => break,
                }
            }
            touched.merge(self.take_pending());
            if Instant::now() >= full_due {
                touched = Touched::everything();
            }
            let full = touched.is_everything();
            match self.refresh_touched(touched).await {
                Ok(_) if full => last_full = Instant::now(),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(project = %self.project, error = %e, "cannot read the project's state");
                    // Read everything once the store answers again.
                    self.pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .merge(Touched::everything());
                }
            }
        }
    }

    /// Records the controller's `event` and adds what it touched.
    fn take_event(&self, event: &Event, touched: &mut Touched) {
        self.record(event);
        touched.merge(Touched::of_event(event));
    }
}

/// The Stages of `snapshot` whose promotions run or wait.
fn busy_stages(snapshot: &Snapshot) -> BTreeSet<String> {
    snapshot
        .of(Kind::Promotion)
        .filter(|(_, p)| {
            matches!(
                p.pointer("/status/phase").and_then(Value::as_str),
                Some("Running" | "Pending")
            )
        })
        .filter_map(|(_, p)| p.pointer("/spec/stage").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// The changes from `old` to `new` of the objects `names` (kind and
/// name), each once, in kind and name order.
fn diff(
    old: &Snapshot,
    new: &Snapshot,
    names: impl IntoIterator<Item = (Kind, String)>,
) -> Vec<WatchEvent> {
    let names: BTreeSet<(Kind, String)> = names.into_iter().collect();
    let mut out = Vec::new();
    for (kind, name) in names {
        let (change, object) = match (old.get(kind, &name), new.get(kind, &name)) {
            (None, Some(now)) => (ChangeType::Added, now),
            (Some(before), Some(now)) if !Arc::ptr_eq(before, now) && before != now => {
                (ChangeType::Modified, now)
            }
            (Some(before), None) => (ChangeType::Deleted, before),
            _ => continue,
        };
        out.push(WatchEvent::new(kind, name, change, object.clone()));
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
