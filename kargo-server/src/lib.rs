//! `kargo serve`: the kargo-rs controller as a service.
//!
//! The server runs [`kargo_runtime::Controller`]s and answers Kargo's REST
//! API (`/v1beta1`) over them: the same paths, parameters, status codes
//! and Kubernetes-shaped objects as Kargo's own API server, so a client
//! written for Kargo works unchanged. Around the API it adds access
//! control ([`auth`]: an admin password, signed login tokens, API tokens
//! with roles), Kargo's webhook receivers ([`webhook`]), live watch
//! streams (`?watch=true`), health checks, Prometheus metrics, and a web
//! UI at `/` ([`ui`]) that is a client of the same API.
//!
//! # Design decisions
//! - **Reads come from a snapshot.** Each project's objects are read from
//!   the state store into a snapshot; every Get, List and watch is answered
//!   from it, so a read costs no store query and a change is computed once
//!   for all watch streams. A change reads again only the objects it names
//!   ([`touched`]: a Stage with its Promotions and the Freight entering or
//!   leaving it, a Freight, a Warehouse); the whole project is read every
//!   10 seconds and after changes that name nothing. Writes through the API
//!   read what they wrote before answering. A whole list is serialized, and
//!   gzipped for clients that accept it, once per change of its kind.
//! - **The store is shared, the snapshot is not.** Replicas on one
//!   PostgreSQL each keep their own snapshot, refreshed by the store's
//!   change notifications and, while promotions run, a one-second look at
//!   their Stages.
//! - **Errors answer a message, never a secret or a trace**: internal
//!   failures are logged with the request's ID and answered with a fixed
//!   message.

mod api;
pub mod auth;
pub mod hub;
pub mod metrics;
pub mod objects;
mod openapi;
mod receive;
mod schema;
mod server;
pub mod touched;
pub mod ui;
pub mod webhook;

pub use server::{
    BODY_LIMIT, REQUEST_TIMEOUT, RESOURCES_BODY_LIMIT, Server, ServerBuilder, WEBHOOK_PATH,
};

/// The project that `manifests` describe: the name of their `Project`, or
/// the namespace their resources share (`default` when they name none).
/// Manifests of several projects are refused: `kargo serve` serves one
/// project per state store, since a store keeps one pipeline.
pub fn project_name(manifests: &kargo_core::manifest::Manifests) -> Result<String, String> {
    let mut names = std::collections::BTreeSet::new();
    names.extend(manifests.projects().iter().map(|p| p.metadata.name.clone()));
    let namespaces = manifests
        .stages()
        .iter()
        .map(|s| &s.metadata.namespace)
        .chain(manifests.warehouses().iter().map(|w| &w.metadata.namespace))
        .chain(
            manifests
                .project_configs()
                .iter()
                .map(|c| &c.metadata.namespace),
        );
    names.extend(namespaces.filter(|n| !n.is_empty()).cloned());
    let mut names = names.into_iter();
    match (names.next(), names.next()) {
        (None, _) => Ok("default".to_owned()),
        (Some(one), None) => Ok(one),
        (Some(a), Some(b)) => Err(format!(
            "the manifests describe several projects ({a}, {b}{}); serve one project per --manifests and --state",
            if names.next().is_some() { ", ..." } else { "" }
        )),
    }
}
