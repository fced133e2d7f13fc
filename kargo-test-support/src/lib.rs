//! Fixtures for kargo-rs's tests and benchmarks, built from real parts:
//! git repositories made with the git CLI and a smart-HTTP git server
//! ([`git`](mod@git), [`git_server`]), OCI image layouts on disk ([`layout`]), a
//! real `docker-registry` (`registry`), Helm chart archives and classic
//! chart repositories ([`charts`]), a fake GitHub backed by real
//! repositories for the pushes through GitHub's API (`github`), HTTP
//! servers answering scripted replies (`http`), databases
//! on the machine's PostgreSQL server ([`postgres`]), a whole GitOps
//! pipeline world
//! ([`PipelineWorld`]), the auth file of `kargo serve`'s tests ([`auth`]),
//! moto's server for the ECR credential tests (`moto`), `kargo serve` on a
//! loopback port (`serve`), a WebDriver client for the UI (`webdriver`)
//! and a stand-in for the `kustomize` and `helm` binaries ([`stand_in`]).
//!
//! Not published; the fixtures panic on failure, as test code does.
//!
//! # Features
//! - `github`: the fake GitHub (wiremock).
//! - `http`: scripted HTTP servers (wiremock).
//! - `moto`: moto's ECR and STS server (reqwest).
//! - `registry`: the registry fixture (oci-client, tokio).
//! - `serve`: the server harness (kargo-server, kargo-runtime, kargo-store).
//! - `webdriver`: the browser client (reqwest, tokio).

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod auth;
pub mod charts;
pub mod git;
pub mod git_server;
#[cfg(feature = "github")]
pub mod github;
#[cfg(feature = "http")]
pub mod http;
pub mod layout;
#[cfg(feature = "moto")]
pub mod moto;
pub mod postgres;
mod process;
#[cfg(feature = "registry")]
pub mod registry;
#[cfg(feature = "serve")]
pub mod serve;
pub mod stand_in;
#[cfg(feature = "webdriver")]
pub mod webdriver;
mod world;

use std::path::{Path, PathBuf};

pub use git::git;
pub use layout::{blob, layout_with_tags};
pub use postgres::Database;
pub use process::{free_port, which};
pub use world::{PipelineWorld, STAGES, VALUES, project_header};

/// Writes `contents` to `dir/name`, creating parent directories.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent directory");
    }
    std::fs::write(&path, contents).expect("write file");
    path
}
