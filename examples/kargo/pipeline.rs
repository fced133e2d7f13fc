//! `kargo pipeline`: discover, auto-promote, verify; in a loop until
//! Ctrl-C, or one pass with `--once`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Args;
use kargo_core::pipeline::{StageView, plan};
use kargo_core::state::{FreightQuery, PromotionQuery, PromotionRecord, StageState};
use kargo_sources::DiscoverOptions;
use kargo_sources::warehouse::Sources;

use crate::project::{Project, StateArgs, now, runtime, short};
use crate::{EXIT_NOT_SUCCEEDED, EXIT_SUCCEEDED, InputError};

/// The actor of auto-promotions (Kargo's controller names itself so).
const AUTO_ACTOR: &str = "controller:auto-promotion";

#[derive(Debug, Args)]
pub(crate) struct PipelineArgs {
    #[command(flatten)]
    state: StateArgs,
    /// Make one pass and exit.
    #[arg(long)]
    once: bool,
    /// Seconds between passes.
    #[arg(long, default_value_t = 30)]
    interval: u64,
}

/// Runs passes until Ctrl-C (or one with `--once`). Exit 0 when the
/// passes ran (failed promotions and verifications are pipeline state, see
/// `kargo status`), 1 when the state store failed, 2 for unusable input.
pub(crate) fn pipeline(args: PipelineArgs) -> Result<u8, InputError> {
    let runtime = runtime()?;
    runtime.block_on(async {
        let project = Project::load(&args.state).await?;
        project.stop_on_ctrl_c();
        let sources = Sources::builtin_with_credentials(project.credentials.clone());
        // Other processes' new Freight, approvals and promotions wake the
        // loop before its interval is up (a store that cannot watch leaves
        // the interval alone).
        let mut changes = match args.once {
            true => None,
            false => project.store.watch().await.ok(),
        };
        loop {
            if let Err(e) = pass(&project, &sources).await {
                eprintln!("kargo: {e}");
                return Ok(EXIT_NOT_SUCCEEDED);
            }
            if args.once || project.stop.load(Ordering::SeqCst) {
                return Ok(EXIT_SUCCEEDED);
            }
            // What the pass itself changed is no news.
            if let Some(watch) = changes.as_mut() {
                while let Ok(Some(_)) = tokio::time::timeout(Duration::ZERO, watch.next()).await {}
            }
            let deadline = tokio::time::Instant::now() + Duration::from_secs(args.interval);
            loop {
                if project.stop.load(Ordering::SeqCst) {
                    return Ok(EXIT_SUCCEEDED);
                }
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                let tick = left.min(Duration::from_millis(200));
                let Some(watch) = changes.as_mut() else {
                    tokio::time::sleep(tick).await;
                    continue;
                };
                match tokio::time::timeout(tick, watch.next()).await {
                    Ok(Some(change)) => {
                        eprintln!("kargo: woken by {change:?}");
                        break;
                    }
                    // The store stopped watching: back to the interval.
                    Ok(None) => changes = None,
                    Err(_elapsed) => {}
                }
            }
        }
    })
}

/// One pass: discover new Freight, then run the pipeline to a standstill
/// (resume what an earlier process left, verify unverified Stages, pass
/// Freight through control-flow Stages, queue and run auto-promotions)
/// with Freight moving as far as it may right now.
pub(crate) async fn pass(project: &Project, sources: &Sources) -> kargo_core::Result<()> {
    discover(project, sources).await?;
    // Every round moves Freight at least one Stage on, so the graph's
    // length bounds the rounds.
    for _ in 0..=project.graph.len() {
        let mut moved = false;
        for stage in project.graph.stages() {
            let name = &stage.metadata.name;
            if stage.is_control_flow() {
                continue;
            }
            let drive = project.drive(name).await?;
            moved |= !drive.finished.is_empty();
            if project.stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            moved |= project
                .exclusive(&format!("verify/{name}"), project.verify(name))
                .await?
                .flatten()
                .is_some();
        }
        moved |= project
            .exclusive("schedule", schedule(project))
            .await?
            .unwrap_or(false);
        if !moved {
            break;
        }
    }
    Ok(())
}

/// Runs every Warehouse's subscriptions and stores the new Freight that
/// its `freightCreationPolicy` (`Automatic`) and `freightCreationCriteria`
/// let it create. A Warehouse that fails is reported and skipped.
async fn discover(project: &Project, sources: &Sources) -> kargo_core::Result<()> {
    for warehouse in project.manifests.warehouses() {
        let name = &warehouse.metadata.name;
        let key = kargo_core::state::discovery_lease_key(name);
        let discovered = project
            .exclusive(&key, async {
                Ok(sources
                    .discover_warehouse(warehouse, DiscoverOptions::default())
                    .await)
            })
            .await?;
        let Some(discovered) = discovered else {
            // Another process discovers this Warehouse right now.
            continue;
        };
        let found = match discovered {
            Ok(found) => found,
            Err(e) => {
                eprintln!("kargo: Warehouse {name}: discovery failed: {e}");
                continue;
            }
        };
        if found.freight.is_none() {
            eprintln!(
                "kargo: Warehouse {name}: nothing discovered for {}",
                found.missing.join(", ")
            );
            continue;
        }
        // `Automatic` policy and `freightCreationCriteria` decide.
        let Some(freight) = found.freight_to_create() else {
            continue;
        };
        let mut freight = freight.clone();
        if freight.discovered_at.is_none() {
            freight.discovered_at = Some(now().to_string());
        }
        let put = project.store.put_freight(freight).await?;
        if put.created {
            eprintln!(
                "kargo: Warehouse {name}: new Freight {} ({})",
                put.freight.alias,
                short(&put.freight.metadata.name)
            );
        }
    }
    Ok(())
}

/// One scheduling pass over the stored state: control-flow Stages pass
/// available Freight on, auto-promotions are queued. Returns whether
/// anything was decided.
async fn schedule(project: &Project) -> kargo_core::Result<bool> {
    let store = &project.store;
    let freight = store.list_freight(&FreightQuery::all()).await?;
    let mut states: HashMap<String, (StageState, Vec<PromotionRecord>)> = HashMap::new();
    for stage in project.graph.stages() {
        let name = &stage.metadata.name;
        let state = store.get_stage(name).await?;
        let promotions = store.list_promotions(&PromotionQuery::stage(name)).await?;
        states.insert(name.clone(), (state, promotions));
    }
    let views: HashMap<String, StageView<'_>> = states
        .iter()
        .map(|(name, (state, promotions))| {
            (
                name.clone(),
                StageView {
                    state,
                    promotions,
                    auto_promotion_enabled: project.auto_promotion_enabled(name),
                },
            )
        })
        .collect();
    let decided = plan(&project.graph, &freight, &views, now());
    for v in &decided.verifications {
        use kargo_core::state::StateStoreExt;
        store.mark_verified(&v.freight, &v.stage, now()).await?;
        eprintln!(
            "kargo: {}: passes Freight {} on",
            v.stage,
            short(&v.freight)
        );
    }
    for p in &decided.promotions {
        let queued = project
            .queue(&p.stage, &p.freight, AUTO_ACTOR, None)
            .await?;
        eprintln!(
            "kargo: {}: auto-promotion {} of Freight {} queued",
            p.stage,
            queued.name,
            short(&p.freight)
        );
    }
    Ok(!decided.verifications.is_empty() || !decided.promotions.is_empty())
}
