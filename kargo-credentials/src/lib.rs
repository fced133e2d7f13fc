//! Cloud registry credentials for kargo-rs, as Kargo obtains them: Amazon
//! ECR, Google Artifact Registry and Azure Container Registry take no
//! long-lived password, so a cloud identity is exchanged for a short-lived
//! registry token, which is cached until shortly before it expires.
//!
//! kargo-rs is a family of crates: `kargo-core` (model, steps, engine),
//! `kargo-git`, `kargo-sources` (Warehouse discovery), `kargo-steps`
//! (built-in steps), `kargo-store`, and this one, which every registry
//! client reaches through kargo-core's
//! [`CredentialsProvider`](kargo_core::credentials::CredentialsProvider).
//!
//! [`CloudCredentials`] wraps the provider that holds Kargo's credential
//! Secrets (`--credentials`, or a host's own store). For an image or Helm
//! repository URL that names a cloud registry it answers with a token;
//! everything else goes to the wrapped provider unchanged. Install it
//! once, where the provider is built, and image and chart discovery,
//! `oci-push` and `oci-download` all use it.
//!
//! | registry | URL | from a Secret | ambient (no Secret matches) |
//! |---|---|---|---|
//! | Amazon ECR | `<account>.dkr.ecr.<region>.amazonaws.com/…`, `public.ecr.aws/…` | `awsRegion`, `awsAccessKeyID`, `awsSecretAccessKey` → `GetAuthorizationToken` (SigV4) | environment variables, shared credentials file, web identity (IRSA) through STS `AssumeRoleWithWebIdentity`, container credentials (EKS Pod Identity) |
//! | Google Artifact Registry, GCR | `<location>-docker.pkg.dev/…`, `gcr.io/…` | `gcpServiceAccountKey` (base64 JSON key) → OAuth JWT bearer grant → access token (user `oauth2accesstoken`); `_json_key_base64` / `password` pass through as basic credentials | — |
//! | Azure Container Registry | `<name>.azurecr.io/…` | `username`/`password` (repository tokens, service principals) pass through | a service principal (`AZURE_CLIENT_SECRET`) or workload identity (`AZURE_FEDERATED_TOKEN_FILE`) → Entra ID token → `/oauth2/exchange` refresh token → `/oauth2/token` access token |
//!
//! # Secrets stay secret
//! Keys and tokens are never logged and never in an error or `Debug`
//! output. Cache keys are SHA-256 hashes. A failed exchange names the
//! registry, the Secret (or the ambient source) and the cloud's error
//! code, never the key.
//!
//! # Example
//! ```
//! use std::sync::Arc;
//! use kargo_core::credentials::StaticCredentials;
//! use kargo_credentials::CloudCredentials;
//!
//! let secrets = StaticCredentials::new().with_secrets(r#"
//! apiVersion: v1
//! kind: Secret
//! metadata:
//!   name: ecr
//!   labels: {kargo.akuity.io/cred-type: image}
//! stringData:
//!   repoURL: 123456789012.dkr.ecr.us-west-2.amazonaws.com/lambda/fn
//!   awsRegion: us-west-2
//!   awsAccessKeyID: AKIA...
//!   awsSecretAccessKey: ...
//! "#, "creds.yaml")?;
//! let provider = CloudCredentials::builder(Arc::new(secrets)).from_env().build();
//! # let _ = provider;
//! # Ok::<(), kargo_core::Error>(())
//! ```
//!
//! # Departures from Kargo
//! - Kargo's ambient ECR identity first assumes a per-Project role
//!   (`kargo-project-<project>`); a credentials provider here is not told
//!   the Project, so the ambient identity is used as it is.
//! - The Google access token is requested with the `cloud-platform`
//!   scope (Kargo asks for read-only storage), so `oci-push` can push;
//!   the service account's IAM roles still decide what it may do.
//! - ACR's refresh token is exchanged for an access token for the
//!   repository (pull and push) here; Kargo hands the refresh token to
//!   the registry client, which makes that exchange itself.
//!
//! # Feature flags
//!
//! MSRV: Rust 1.95.

mod acr;
mod aws;
mod cache;
mod env;
mod error;
mod gar;
mod http;
mod provider;

pub use env::Environment;
pub use error::Error;
pub use provider::{Builder, Clock, CloudCredentials, Registry};
