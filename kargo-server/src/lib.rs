//! `kargo serve`: the kargo-rs controller as a service.
//!
//! The server runs a [`kargo_runtime::Controller`] and answers Kargo's REST
//! API (`/v1beta1`) over it: the same paths, parameters, status codes and
//! Kubernetes-shaped objects as Kargo's own API server, so a client written
//! for Kargo works unchanged. Around the API it adds access control (an
//! admin password, signed login tokens and API tokens with roles), Kargo's
//! webhook receivers, live watch streams, health checks and metrics.

#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]

pub mod webhook;
