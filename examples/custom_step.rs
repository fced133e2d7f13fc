//! A host application extending kargo-rs with a Source and a Step of its
//! own, then promoting with them.
//!
//! - `ReleaseDirectory` is a [`Source`] for a generic subscription type,
//!   `releaseDir`: it watches a directory holding one sub-directory per
//!   release (`releases/1.2.0/`) and reports the versions, newest first.
//! - `SyncToBucket` is a [`Step`] registered as `s3-sync`: it copies the
//!   promoted release into a bucket (a local directory standing in for S3,
//!   so the example needs no service) under a prefix, and outputs what it
//!   wrote. A later step reads its outputs through an expression.
//!
//! The host hands both to a `kargo-runtime` [`Controller`]: one pass
//! discovers the newest release, auto-promotes it into `prod`, and runs the
//! Stage's steps. Run it with `cargo run --example custom_step`; it prints
//! the Freight and the promotion's outputs, and exits non-zero if the
//! bucket does not hold the newest release afterwards.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use kargo::core::manifest::Manifests;
use kargo::core::model::{ArtifactReference, PromotionPhase, RepoSubscription, SubscriptionSource};
use kargo::core::state::InMemoryStore;
use kargo::core::step::{Step, StepContext, StepError, StepOutcome, StepRegistry, parse_config};
use kargo::runtime::{Controller, RunOptions};
use kargo::sources::warehouse::Sources;
use kargo::sources::{ArtifactDiscovery, Capabilities, DiscoverOptions, Discovered, Source};
use serde::Deserialize;
use serde_json::{Value, json};

/// The subscription type the host's source handles.
const RELEASE_DIR: &str = "releaseDir";

/// Watches a directory of releases: each sub-directory named by a semantic
/// version is one artifact.
#[derive(Debug, Default)]
struct ReleaseDirectory;

/// The `config` of a `releaseDir` subscription.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseDirConfig {
    /// The directory holding one sub-directory per release.
    path: PathBuf,
}

#[async_trait]
impl Source for ReleaseDirectory {
    fn capabilities(&self) -> Capabilities {
        let mut capabilities = Capabilities::default();
        capabilities.subscription_types = vec![RELEASE_DIR];
        capabilities
    }

    async fn discover(
        &self,
        subscription: &RepoSubscription,
        _options: DiscoverOptions,
    ) -> kargo::core::Result<Discovered> {
        let SubscriptionSource::Generic(generic) = &subscription.source else {
            return Err(invalid(subscription, "not a releaseDir subscription"));
        };
        let config: ReleaseDirConfig =
            serde_json::from_value(generic.config.clone().unwrap_or(Value::Null))
                .map_err(|e| invalid(subscription, &e.to_string()))?;
        let entries = std::fs::read_dir(&config.path)
            .map_err(|e| invalid(subscription, &format!("{}: {e}", config.path.display())))?;
        let mut versions: Vec<semver::Version> = entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        versions.sort_by(|a, b| b.cmp(a));
        versions.truncate(generic.discovery_limit as usize);
        let artifact_references = versions
            .into_iter()
            .map(|version| ArtifactReference {
                artifact_type: RELEASE_DIR.to_owned(),
                subscription_name: subscription.name.clone(),
                metadata: Some(json!({ "path": config.path.join(version.to_string()) })),
                version: version.to_string(),
            })
            .collect();
        Ok(Discovered::Artifacts(ArtifactDiscovery {
            subscription_name: subscription.name.clone(),
            artifact_references,
        }))
    }
}

fn invalid(subscription: &RepoSubscription, reason: &str) -> kargo::core::Error {
    kargo::core::Error::Invalid(format!(
        "releaseDir subscription \"{}\": {reason}",
        subscription.name
    ))
}

/// `s3-sync`: copies the release of the promoted Freight into a bucket.
#[derive(Debug, Default)]
struct SyncToBucket;

/// The `s3-sync` config.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SyncConfig {
    /// The subscription whose artifact is synced.
    subscription: String,
    /// The bucket: a directory, relative to the workspace.
    bucket: String,
    /// The key prefix the release's files are written under.
    prefix: String,
}

#[async_trait]
impl Step for SyncToBucket {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: SyncConfig = parse_config("s3-sync", config)?;
        let release = ctx
            .freight
            .items
            .iter()
            .flat_map(|freight| &freight.artifacts)
            .find(|a| a.subscription_name == config.subscription)
            .ok_or_else(|| {
                StepError::terminal(format!(
                    "no artifact of subscription `{}` in the Freight",
                    config.subscription
                ))
            })?;
        let source = release
            .metadata
            .as_ref()
            .and_then(|m| m["path"].as_str())
            .map(PathBuf::from)
            .ok_or_else(|| StepError::terminal("the artifact records no path"))?;
        let bucket = ctx
            .workspace
            .resolve(&config.bucket)
            .map_err(|e| StepError::failed(e.to_string()))?;
        let prefix = format!(
            "{}/{}",
            config.prefix.trim_end_matches('/'),
            release.version
        );
        let written = copy_tree(&source, &bucket.join(&prefix))
            .map_err(|e| StepError::retryable(format!("sync to {}: {e}", config.bucket)))?;
        Ok(StepOutcome::succeeded()
            .with_output("prefix", prefix)
            .with_output("objects", written))
    }
}

/// Copies the files under `from` to `to`; returns how many it wrote.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<u64> {
    std::fs::create_dir_all(to)?;
    let mut written = 0;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            written += copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
            written += 1;
        }
    }
    Ok(written)
}

const MANIFESTS: &str = r#"
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: site
  namespace: demo
spec:
  subscriptions:
    - name: releases
      releaseDir:
        config:
          path: RELEASES
---
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata:
  name: demo
  namespace: demo
spec:
  promotionPolicies:
    - stage: prod
      autoPromotionEnabled: true
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: prod
  namespace: demo
spec:
  requestedFreight:
    - origin: {kind: Warehouse, name: site}
      sources: {direct: true}
  promotionTemplate:
    spec:
      steps:
        - uses: s3-sync
          as: publish
          config:
            subscription: releases
            bucket: bucket
            prefix: site/prod
        - uses: file-write
          config:
            path: published.txt
            contents: "${{ outputs.publish.objects }} objects under ${{ outputs.publish.prefix }}\n"
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = tempfile::tempdir()?;
    let releases = root.path().join("releases");
    for version in ["1.0.0", "1.1.0", "1.10.0", "not-a-release"] {
        let dir = releases.join(version);
        std::fs::create_dir_all(dir.join("assets"))?;
        std::fs::write(dir.join("index.html"), format!("<h1>{version}</h1>\n"))?;
        std::fs::write(dir.join("assets/app.js"), "console.log('hi')\n")?;
    }
    let manifests = Manifests::from_yaml_str(
        &MANIFESTS.replace("RELEASES", &releases.display().to_string()),
        "manifests.yaml",
    )?;

    // The host's step and source next to the built-in ones, in a
    // controller over an in-memory store.
    let mut registry = StepRegistry::new();
    kargo::steps::register_builtins(&mut registry);
    registry.register("s3-sync", SyncToBucket)?;
    let workdir = root.path().join("work");
    let controller = Controller::builder()
        .manifests(manifests, "manifests.yaml")
        .registry(Arc::new(registry))
        .sources(Sources::builtin().with(ReleaseDirectory))
        .store(Arc::new(InMemoryStore::new()))
        .work_root(&workdir, true)
        .build()?;

    // One pass: the Warehouse makes Freight, auto-promotion takes it to prod.
    let pass = controller.pass(&RunOptions::default()).await?;
    let freight = pass
        .discovery
        .created
        .first()
        .ok_or("the Warehouse found nothing")?;
    println!(
        "Freight {} from Warehouse site: release {}",
        freight.id(),
        freight.artifacts[0].version
    );
    let promotion = pass.finished.first().ok_or("nothing was promoted")?;
    println!(
        "promotion {} {}, outputs {}",
        promotion.name,
        promotion.phase,
        json!(promotion.state.outputs)
    );

    let promoted = workdir.join(&promotion.name);
    let published = std::fs::read_to_string(promoted.join("published.txt"))?;
    let synced = promoted.join("bucket/site/prod/1.10.0/index.html");
    if promotion.phase != PromotionPhase::Succeeded
        || published != "2 objects under site/prod/1.10.0\n"
        || std::fs::read_to_string(synced)? != "<h1>1.10.0</h1>\n"
    {
        return Err("the bucket does not hold release 1.10.0".into());
    }
    println!("{}", published.trim_end());
    Ok(())
}
