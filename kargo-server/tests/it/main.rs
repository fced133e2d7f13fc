//! `kargo serve`'s API over real HTTP: a server on a loopback port over a
//! real pipeline (an OCI image layout, a bare git repository, SQLite or
//! PostgreSQL), called with reqwest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod api;
mod incremental;
mod receivers;
mod replicas;
mod resources;
mod schema;
pub(crate) mod watch;
mod webhooks;

use kargo_test_support::PipelineWorld;
/// A real `docker-registry` and the images pushed to it.
use kargo_test_support::registry;

/// The test auth file's admin password, and its API tokens by role
/// (`kargo_test_support::auth`); the server harness.
use kargo_test_support::auth::{ADMIN, PASSWORD, PROMOTER, STRANGER, VIEWER};
use kargo_test_support::serve::{TestServer, sqlite};

/// A pipeline world with the image tag v1.0.0 and the stages dev →
/// staging → prod (auto-promotion on in dev and staging).
fn world() -> PipelineWorld {
    let world = PipelineWorld::new(
        &[("v1.0.0", "2026-01-01T00:00:00Z")],
        kargo_test_support::STAGES,
    );
    // prod is promoted by people only: an approval for prod would
    // otherwise race the person's promotion with an auto-promotion.
    world.auto_promote_only(&["dev", "staging"]);
    world
}

/// Pushes the image tag v2.0.0 to `world`'s image.
fn push_v2(world: &PipelineWorld) {
    kargo_test_support::layout_with_tags(
        &world.layout,
        &[
            ("v1.0.0", "2026-01-01T00:00:00Z"),
            ("v2.0.0", "2026-01-02T00:00:00Z"),
        ],
    );
}
