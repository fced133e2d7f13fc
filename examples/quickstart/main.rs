//! The seed scenario on one machine, with no external service: an
//! application made of a Kubernetes workload (Helm values), a Lambda-style
//! function managed by Terraform, and an IAM policy file, promoted from dev
//! to staging to prod.
//!
//! 1. Creates a GitOps repository (`envs/{dev,staging,prod}/...`,
//!    `policies/iam-policy.json`) and an OCI image-layout registry holding
//!    guestbook images and function images.
//! 2. Discovers Freight from a Warehouse with three subscriptions: the
//!    guestbook image, the function as an OCI artifact, and git commits
//!    under `policies/`.
//! 3. Promotes it to dev and staging (commits straight to `main`: values,
//!    tfvars, policy, `terraform apply`, the function URL into the Helm
//!    values) and to prod through a pull request on the embedded local
//!    provider whose description holds the Terraform plan. The demo acts
//!    as the reviewer and merges it; the promotion then resumes: apply,
//!    read the function URL, write it into prod's values, commit, push.
//! 4. Prints the timeline and how to inspect the repository with git.
//!
//! Run it with `scripts/quickstart.sh` (installs Terraform if missing), or
//! `cargo run --example quickstart -- [DIR]` with Terraform on `PATH` or in
//! `KARGO_TERRAFORM`. DIR (default: `kargo-quickstart` in the temporary
//! directory) must be new or empty, or one an earlier run made: the demo
//! never deletes what it did not create.

mod fixtures;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use kargo::core::Workspace;
use kargo::core::engine::{Engine, PromotionContext, inflate_tasks};
use kargo::core::manifest::Manifests;
use kargo::core::model::{Freight, FreightCollection, PromotionPhase, StepStatus};
use kargo::core::pipeline::is_freight_available;
use kargo::core::state::{
    DynStateStore, InMemoryStore, NewPromotion, PromotionRecord, StoreCheckpoint,
};
use kargo::core::state::{StateStore, StateStoreExt};
use kargo::core::step::StepRegistry;
use kargo::core::time::Timestamp;
use kargo::git::provider::local::LocalProvider;
use kargo::git::provider::{GitProvider, MergeMethod, MergeOutcome};
use kargo::sources::DiscoverOptions;
use kargo::sources::warehouse::Sources;
use serde_json::Value;

use fixtures::{Demo, ENVS, git};

const PROJECT: &str = "quickstart";
const MANIFESTS: &str = include_str!("manifests.yaml");

type BoxError = Box<dyn std::error::Error>;

/// The kargo-rs quickstart: a GitOps repository and a registry made from
/// scratch, Freight discovered, and promotions from dev to staging to prod
/// (prod through a pull request holding the Terraform plan).
#[derive(Debug, clap::Parser)]
#[command(name = "quickstart")]
struct Args {
    /// Where the demo works: a new or empty directory, or one an earlier
    /// run made (marked by its `.kargo-quickstart` file), whose demo files
    /// are then replaced. Any other directory is refused and left as it
    /// is. Default: `kargo-quickstart` in the temporary directory.
    dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BoxError> {
    let started = Instant::now();
    let root = <Args as clap::Parser>::parse()
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join("kargo-quickstart"));

    heading("1. A GitOps repository and a registry");
    let demo = Demo::create(&root)?;
    println!("repository  {}", demo.repo_url());
    println!(
        "registry    {} (OCI image layouts)",
        demo.registry.display()
    );
    let manifests = Manifests::from_yaml_str(
        &MANIFESTS
            .replace("__REPO_URL__", &demo.repo_url())
            .replace("__GUESTBOOK_URL__", &demo.image_url("guestbook"))
            .replace(
                "__FUNCTION_IMAGE_URL__",
                &demo.image_url("guestbook-function"),
            ),
        "manifests.yaml",
    )?;

    heading("2. Discovery");
    let warehouse = manifests
        .warehouse("guestbook")
        .ok_or("manifests.yaml has no Warehouse `guestbook`")?;
    let discovery = Sources::builtin()
        .discover_warehouse(warehouse, DiscoverOptions::default())
        .await?;
    let found = discovery
        .freight
        .ok_or_else(|| format!("nothing found for {}", discovery.missing.join(", ")))?;
    let store: Arc<DynStateStore> = Arc::new(InMemoryStore::new());
    let freight = store.put_freight(found).await?.freight;
    print_freight(&freight);

    heading("3. Promotions");
    let mut registry = StepRegistry::new();
    kargo::steps::register_builtins(&mut registry);
    let engine = Engine::new(Arc::new(registry));
    let mut records = Vec::new();
    for stage in ENVS {
        let record = promote(&demo, &manifests, &engine, &store, &freight, stage).await?;
        records.push(record);
    }

    heading("4. Where things are");
    let prod = records.last().ok_or("no promotion ran")?;
    let url = prod.state.outputs["publish::tf"]["function_url"]
        .as_str()
        .unwrap_or("?");
    println!("prod function URL   {url}");
    println!("prod values.yaml    FUNCTION_URL = {url}");
    let graph = git(&demo.repo, &["log", "--graph", "--format=%h %s", "main"])?;
    println!("\nmain, newest first:\n{graph}");
    println!("\nInspect it yourself:");
    println!("  git --git-dir {} log --stat main", demo.repo.display());
    println!(
        "  git --git-dir {} show main:envs/prod/kubernetes/values.yaml",
        demo.repo.display()
    );
    println!(
        "  git --git-dir {} show main:envs/prod/terraform/plan.txt",
        demo.repo.display()
    );
    println!("\nDone in {:.1} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// Promotes `freight` into `stage` as the pipeline would: checks that it is
/// available, queues and starts the promotion, runs its steps with a
/// checkpoint after each, reviews the pull request when the promotion waits
/// for one, and records the result.
async fn promote(
    demo: &Demo,
    manifests: &Manifests,
    engine: &Engine,
    store: &Arc<DynStateStore>,
    freight: &Freight,
    stage_name: &str,
) -> Result<PromotionRecord, BoxError> {
    let stage = manifests
        .stage(stage_name)
        .ok_or_else(|| format!("manifests.yaml has no Stage `{stage_name}`"))?;
    let current = store.resolve_freight(&freight.metadata.name).await?;
    let current = store
        .get_freight(&current)
        .await?
        .ok_or("Freight vanished")?;
    if !is_freight_available(stage, &current, Timestamp::now()) {
        return Err(format!("Freight {} is not available to {stage_name}", freight.alias).into());
    }
    let template = &stage
        .spec
        .promotion_template
        .as_ref()
        .ok_or_else(|| format!("Stage `{stage_name}` has no promotion template"))?
        .spec;
    let mut vars = stage.spec.vars.clone();
    vars.extend(template.vars.iter().cloned());
    let mut new = NewPromotion::new(stage_name, &freight.metadata.name);
    new.actor = "quickstart".to_owned();
    new.steps = inflate_tasks(&template.steps, &vars, manifests)?;
    new.vars = vars;
    new.created_at = Some(Timestamp::now());
    store.create_promotion(new).await?;
    let record = store
        .start_promotion(stage_name, Timestamp::now())
        .await?
        .ok_or("the promotion did not start")?;
    println!("\n{stage_name}: promotion {}", record.name);

    let workdir = demo.root.join("work").join(&record.name);
    std::fs::create_dir_all(&workdir)?;
    let ctx = PromotionContext::new(Workspace::new(&workdir)?)
        .with_names(PROJECT, stage_name, &record.name)
        .with_vars(record.vars.clone())
        .with_freight(FreightCollection::new(vec![current]))
        .with_store(store.clone());
    let checkpoint = StoreCheckpoint::new(store.as_ref(), record.name.clone());
    let mut state = record.state.clone();
    let mut printed = 0;
    loop {
        engine
            .resume(&ctx, &record.steps, &mut state, &checkpoint)
            .await?;
        for step in &state.steps[printed..] {
            let Some(status) = step.status else { break };
            println!(
                "  {:<9} {:<16} {:<22} {}",
                status_text(status),
                step.uses,
                step.alias,
                step.message
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            );
            printed += 1;
        }
        if state.phase != PromotionPhase::Running {
            break;
        }
        review(demo, &state.outputs).await?;
    }
    let finished = store
        .finish_promotion(&record.name, Timestamp::now())
        .await?;
    if finished.phase != PromotionPhase::Succeeded {
        return Err(format!(
            "{stage_name}: the promotion ended {:?}: {}",
            finished.phase,
            finished
                .state
                .message
                .as_deref()
                .unwrap_or("see the steps above")
        )
        .into());
    }
    // No verification is configured: like Kargo, a successful promotion
    // verifies the Freight in the Stage, which makes it available downstream.
    store
        .mark_verified(&freight.metadata.name, stage_name, Timestamp::now())
        .await?;
    if let Some(commit) = finished.state.outputs["publish::commit"]["commit"].as_str() {
        println!("  commit {} pushed to main", short(commit));
    }
    Ok(finished)
}

/// The person's side of the pull request: the demo reads it, approves it
/// and merges it, as a reviewer would with `kargo pr approve` and
/// `kargo pr merge`.
async fn review(demo: &Demo, outputs: &serde_json::Map<String, Value>) -> Result<(), BoxError> {
    let number = outputs
        .get("open-pr")
        .and_then(|o| o["pr"]["id"].as_u64())
        .ok_or("the promotion waits, but not for a pull request")?;
    let provider = LocalProvider::new(demo.repo_url()).with_work_root(demo.root.join("review"));
    let pr = provider.get(number).await?;
    println!("\n  Pull request #{number}: {}", pr.title);
    println!("  {} -> {}, {}", pr.source_branch, pr.target_branch, pr.url);
    if let Some(summary) = outputs.get("plan").map(|p| &p["summary"]) {
        println!(
            "  Terraform plan: {} to add, {} to change, {} to destroy; outputs changing: {}",
            summary["add"],
            summary["change"],
            summary["destroy"],
            summary["outputs"]
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        );
    }
    println!(
        "  The promotion waits for the merge. The demo is the reviewer here: it approves and merges."
    );
    provider.approve(number).await?;
    match provider.merge(number, Some(MergeMethod::Merge)).await? {
        MergeOutcome::Merged(pr) => println!(
            "  merged as {}\n",
            short(pr.merge_commit.as_deref().unwrap_or("?"))
        ),
        MergeOutcome::NotReady { reason } => return Err(format!("cannot merge: {reason}").into()),
        other => return Err(format!("cannot merge: {other:?}").into()),
    }
    Ok(())
}

fn print_freight(freight: &Freight) {
    println!(
        "Freight {} (alias {})",
        freight.metadata.name, freight.alias
    );
    for image in &freight.images {
        println!(
            "  image     guestbook:{} {}",
            image.tag,
            short_digest(&image.digest)
        );
    }
    for artifact in &freight.artifacts {
        println!(
            "  artifact  {} {} ({})",
            artifact.subscription_name, artifact.version, artifact.artifact_type
        );
    }
    for commit in &freight.commits {
        println!(
            "  commit    {} {} (policies/)",
            short(&commit.id),
            commit.message.lines().next().unwrap_or("")
        );
    }
}

fn heading(text: &str) {
    println!("\n== {text}");
}

fn status_text(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Succeeded => "ok",
        StepStatus::Skipped => "skipped",
        StepStatus::Running => "waiting",
        StepStatus::Failed => "FAILED",
        StepStatus::Errored => "ERRORED",
        _ => "?",
    }
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn short_digest(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}
