//! The kargo-rs controller as a library.
//!
//! kargo-rs follows Kargo's model: Warehouses discover artifacts and make
//! Freight, Stages promote Freight by running steps. `kargo-core` holds
//! the model, the rules and the engine that runs one promotion's steps;
//! this crate runs the whole lifecycle around it over a state store, as
//! Kargo's controllers do in a cluster:
//!
//! - queue a person's promotion after Kargo's checks (availability, hold
//!   intent), or an auto-promotion the schedule decides;
//! - claim the next promotion of a Stage (under a lease when replicas
//!   share the store), run it with a checkpoint after every step, resume
//!   one a dead process left, stop at a step boundary on shutdown;
//! - finish it, verify the Stage, pass Freight through control-flow
//!   Stages;
//! - discover Warehouses as their intervals fall due, recording failures;
//! - abort a promotion, queued or running, from any replica: the request
//!   goes through the store and the replica running it stops at the next
//!   step boundary ([`Controller::abort`]); refresh a waiting promotion,
//!   or every one waiting on a pull request a forge's webhook names
//!   ([`Controller::refresh_pull_request`]);
//! - keep Kargo resources posted to an API in the store, beside the
//!   manifest files, checked before they are stored
//!   ([`Controller::apply_resources`]), and load them on every replica;
//! - tell subscribers what happened ([`Event`]).
//!
//! The `kargo` command line and `kargo serve` are thin users of
//! [`Controller`]; a host application embeds it the same way.
//!
//! # The family
//! `kargo-core` (model, engine) ← `kargo-git`, `kargo-sources`,
//! `kargo-steps` ← `kargo-runtime` (this crate) ← `kargo-cli`; stores in
//! `kargo-store`, the facade `kargo` re-exports them all.
//!
//! # Example
//! ```
//! use std::sync::Arc;
//! use kargo_core::manifest::Manifests;
//! use kargo_core::state::InMemoryStore;
//! use kargo_runtime::{Controller, RunOptions};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let manifests = Manifests::from_yaml_str(r#"
//! apiVersion: kargo.akuity.io/v1alpha1
//! kind: Warehouse
//! metadata: {name: app, namespace: demo}
//! spec:
//!   subscriptions: []
//! "#, "inline").unwrap();
//! let controller = Controller::builder()
//!     .manifests(manifests, "inline")
//!     .store(Arc::new(InMemoryStore::new()))
//!     .build()
//!     .unwrap();
//! let mut events = controller.subscribe();
//! let pass = controller.pass(&RunOptions::default()).await.unwrap();
//! assert!(pass.finished.is_empty());
//! // A Warehouse that finds nothing is recorded as failing.
//! let state = controller.store().get_warehouse("app").await.unwrap();
//! assert!(state.is_failing());
//! assert!(events.try_next().is_some());
//! # });
//! ```
//!
//! # Design decisions
//! - **The store is the record, events are news.** Every transition is
//!   one store call, so a crash leaves the old or the new state; events
//!   are sent after it and may be missed by a slow subscriber, who reads
//!   the store again.
//! - **Time comes from a [`Clock`](clock::Clock)**, so soak times,
//!   intervals and verifications can be tested without waiting; leases
//!   use the system clock, because they are about live processes.
//! - **Requests between replicas go through the store.** An abort is
//!   recorded on the promotion, stored resources are rows; the store's
//!   change feed wakes the other replicas, and each also reads the store
//!   at its checkpoints and passes, so a missed notification only delays.
//! - **Idempotent requests.** Promoting Freight that is already queued or
//!   running in the Stage returns that promotion; finishing is
//!   idempotent in the store; a resumed promotion continues from its
//!   last checkpoint.

pub mod clock;
mod controller;
mod error;
pub mod event;
pub mod input;
mod project;
pub mod runner;
pub mod view;

pub use controller::AUTO_ACTOR;
pub use controller::{
    ApplyMode, Controller, ControllerBuilder, DEFAULT_LEASE, Discovery, Drive, FreightChoice,
    Hooks, NoHooks, Pass, PromoteRequest, Promoted, PullRequestRef, Refresh, ResourceOutcome,
    RunOptions, documents_from_yaml, waits_on_pull_request,
};
pub use error::{Error, Result};
pub use event::{Event, Events};
pub use project::{Project, StageTemplate};
