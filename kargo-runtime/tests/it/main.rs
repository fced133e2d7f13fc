//! The controller's scenarios in-process: a GitOps pipeline world
//! (an OCI layout, a bare git repository, Kargo manifests) driven through
//! `Controller` with a test clock, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod context;
mod lifecycle;
mod pipeline;
mod replicas;
mod retry;

use std::sync::Arc;

use kargo_core::model::Freight;
use kargo_core::state::{DynStateStore, FreightQuery};
use kargo_core::time::Timestamp;
use kargo_runtime::clock::ManualClock;
use kargo_runtime::{Controller, ControllerBuilder};
use kargo_test_support::PipelineWorld;

/// `2026-01-01T{hh_mm}:00Z`.
fn at(hh_mm: &str) -> Timestamp {
    format!("2026-01-01T{hh_mm}:00Z").parse().unwrap()
}

/// A builder over `world`'s manifests with every built-in step, a work
/// root in the world and `clock`.
fn builder(
    world: &PipelineWorld,
    store: Arc<DynStateStore>,
    clock: &ManualClock,
) -> ControllerBuilder {
    let registry = kargo_runtime::input::registry_with_custom_steps(&[]).unwrap();
    Controller::builder()
        .manifests_path(world.manifests())
        .registry(Arc::new(registry))
        .store(store)
        .work_root(world.path("work"), false)
        .clock(Arc::new(clock.clone()))
}

/// A SQLite store in the world.
async fn sqlite(world: &PipelineWorld) -> Arc<DynStateStore> {
    kargo_store::open(world.path("state.db").to_str().unwrap())
        .await
        .unwrap()
}

/// The stored Freight whose image has `tag`.
async fn freight_tagged(controller: &Controller, tag: &str) -> Freight {
    controller
        .store()
        .list_freight(&FreightQuery::all())
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.images.first().is_some_and(|i| i.tag == tag))
        .unwrap_or_else(|| panic!("no Freight for {tag}"))
}
