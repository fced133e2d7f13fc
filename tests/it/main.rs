//! The integration tests, in one binary: one link instead of one per file.

mod support;

/// A real `docker-registry`, shared with kargo-sources' tests.
#[path = "../../kargo-sources/tests/it/support/mod.rs"]
mod registry;

/// A smart-HTTP git server with basic auth, shared with kargo-git's tests.
#[path = "../../kargo-git/tests/it/support/mod.rs"]
mod git_server;

mod cli_custom_steps;
mod cli_discover;
mod cli_files;
mod cli_manifest_steps;
mod cli_pipeline;
mod cli_postgres;
mod cli_pr;
mod cli_run;
mod cli_terraform;
mod examples;
mod git_promotion;
