//! Read-only views of the pipeline: `kargo status`, `kargo history STAGE`
//! and `kargo freight`. Tables for a person, JSON with `--json`.

use std::time::Duration;

use clap::Args;
use kargo_core::duration::GoDuration;
use kargo_core::model::{Freight, PromotionPhase};
use kargo_core::pipeline::discovered_at;
use kargo_core::state::{FreightQuery, PromotionQuery, StageState};
use kargo_core::time::Timestamp;
use serde_json::{Value, json};

use crate::project::{Project, StateArgs, now, runtime, short};
use crate::{EXIT_NOT_SUCCEEDED, EXIT_SUCCEEDED, InputError};

/// `--manifests`, `--state` and `--json`.
#[derive(Debug, Args)]
pub(crate) struct ViewArgs {
    #[command(flatten)]
    state: StateArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    #[command(flatten)]
    view: ViewArgs,
    /// The Stage.
    stage: String,
}

/// Why a view could not be shown.
#[derive(Debug)]
enum ViewError {
    /// Unusable input: exit 2.
    Input(InputError),
    /// The store failed: exit 1.
    Store(kargo_core::Error),
}

impl From<kargo_core::Error> for ViewError {
    fn from(e: kargo_core::Error) -> Self {
        ViewError::Store(e)
    }
}

/// Runs `body` against the loaded project.
fn with_project(
    args: &StateArgs,
    body: impl AsyncFnOnce(&Project) -> Result<(), ViewError>,
) -> Result<u8, InputError> {
    runtime()?.block_on(async {
        let project = Project::load(args).await?;
        match body(&project).await {
            Ok(()) => Ok(EXIT_SUCCEEDED),
            Err(ViewError::Input(e)) => Err(e),
            Err(ViewError::Store(e)) => {
                eprintln!("kargo: state store: {e}");
                Ok(EXIT_NOT_SUCCEEDED)
            }
        }
    })
}

/// `kargo status`: every Stage in flow order with its current Freight, its
/// last promotion, its verification, auto-promotion and holds, and how
/// many promotions are queued.
pub(crate) fn status(args: ViewArgs) -> Result<u8, InputError> {
    with_project(&args.state, async |project| {
        let mut rows = Vec::new();
        let mut docs = Vec::new();
        for stage in project.graph.stages() {
            let name = &stage.metadata.name;
            let state = project.store.get_stage(name).await?;
            let promotions = project
                .store
                .list_promotions(&PromotionQuery::stage(name))
                .await?;
            let queued = promotions
                .iter()
                .filter(|p| p.phase == PromotionPhase::Pending)
                .count();
            let running = promotions
                .iter()
                .find(|p| p.phase == PromotionPhase::Running)
                .map(|p| p.name.clone());
            let last = promotions.iter().rev().find(|p| p.phase.is_terminal());
            let verification = state
                .current()
                .and_then(|c| c.current_verification())
                .cloned();
            let auto = project.auto_promotion_enabled(name);
            let mut current = Vec::new();
            for r in state
                .current()
                .map(|c| c.items.values())
                .into_iter()
                .flatten()
            {
                let alias = project
                    .store
                    .get_freight(&r.name)
                    .await?
                    .map(|f| f.alias)
                    .unwrap_or_default();
                current.push(json!({"name": r.name, "alias": alias, "origin": r.origin}));
            }
            rows.push(vec![
                name.clone(),
                current
                    .iter()
                    .map(|c| c["alias"].as_str().unwrap_or_default().to_owned())
                    .collect::<Vec<_>>()
                    .join(","),
                last.map(|p| format!("{} {}", p.phase.as_str(), p.name))
                    .unwrap_or_default(),
                running
                    .clone()
                    .map(|r| format!("running {r}"))
                    .or(verification.as_ref().map(|v| format!("{:?}", v.phase)))
                    .unwrap_or_default(),
                if auto { "on" } else { "off" }.to_owned(),
                state
                    .auto_promotion_holds
                    .values()
                    .map(|h| format!("{} by {}", short(&h.freight_name), h.actor))
                    .collect::<Vec<_>>()
                    .join(","),
                queued.to_string(),
            ]);
            docs.push(json!({
                "name": name,
                "controlFlow": stage.is_control_flow(),
                "autoPromotionEnabled": auto,
                "currentFreight": current,
                "lastPromotion": last.map(|p| json!({"name": p.name, "phase": p.phase.as_str(), "freight": p.freight})),
                "runningPromotion": running,
                "queuedPromotions": queued,
                "verification": verification,
                "autoPromotionHolds": state.auto_promotion_holds.values().collect::<Vec<_>>(),
            }));
        }
        if args.json {
            println!("{}", Value::Array(docs));
        } else {
            print_table(
                &[
                    "STAGE",
                    "FREIGHT",
                    "LAST PROMOTION",
                    "VERIFICATION",
                    "AUTO",
                    "HOLD",
                    "QUEUED",
                ],
                rows,
            );
        }
        Ok(())
    })
}

/// `kargo history STAGE`: the Stage's promotions, newest first, and the
/// Freight it held with their verifications.
pub(crate) fn history(args: HistoryArgs) -> Result<u8, InputError> {
    let stage = args.stage.clone();
    let json_out = args.view.json;
    with_project(&args.view.state, async move |project| {
        project.stage(&stage).map_err(ViewError::Input)?;
        let mut promotions = project
            .store
            .list_promotions(&PromotionQuery::stage(&stage))
            .await?;
        promotions.reverse();
        let state: StageState = project.store.get_stage(&stage).await?;
        if json_out {
            println!(
                "{}",
                json!({"stage": stage, "promotions": promotions, "freightHistory": state.freight_history})
            );
            return Ok(());
        }
        let rows = promotions
            .iter()
            .map(|p| {
                let verification = state
                    .freight_history
                    .iter()
                    .find(|c| c.promotion == p.name)
                    .and_then(|c| c.current_verification())
                    .map(|v| format!("{:?}", v.phase))
                    .unwrap_or_default();
                vec![
                    p.name.clone(),
                    short(&p.freight).to_owned(),
                    p.actor.clone(),
                    p.phase.as_str().to_owned(),
                    verification,
                    p.finished_at.map(|t| t.to_string()).unwrap_or_default(),
                ]
            })
            .collect();
        print_table(
            &[
                "PROMOTION",
                "FREIGHT",
                "ACTOR",
                "PHASE",
                "VERIFICATION",
                "FINISHED",
            ],
            rows,
        );
        Ok(())
    })
}

/// `kargo freight`: every Freight, newest first, with where it is in each
/// Stage: `here` (current), `verified`, `soaking 5m0s/1h0m0s` (verified,
/// not yet soaked long enough for a downstream Stage), `approved`.
/// `--json` prints an array of Freight in Kargo's shape, `status`
/// (`currentlyIn`, `verifiedIn`, `approvedFor`) included.
pub(crate) fn freight(args: ViewArgs) -> Result<u8, InputError> {
    with_project(&args.state, async |project| {
        let mut all = project.store.list_freight(&FreightQuery::all()).await?;
        all.reverse();
        if args.json {
            let docs: Vec<Value> = all.into_iter().map(kargo_shape).collect();
            println!("{}", Value::Array(docs));
            return Ok(());
        }
        let at = now();
        let stages: Vec<&str> = project
            .graph
            .stages()
            .map(|s| s.metadata.name.as_str())
            .collect();
        let mut header = vec!["ALIAS", "ID", "ORIGIN", "DISCOVERED"];
        header.extend(stages.iter().copied());
        let rows = all
            .iter()
            .map(|f| {
                let mut row = vec![
                    f.alias.clone(),
                    short(&f.metadata.name).to_owned(),
                    f.origin.name.clone(),
                    discovered_at(f).map(|t| t.to_string()).unwrap_or_default(),
                ];
                row.extend(stages.iter().map(|s| cell(project, f, s, at)));
                row
            })
            .collect();
        print_table(&header, rows);
        Ok(())
    })
}

/// Freight as Kargo shows it: with `apiVersion` and `kind`.
fn kargo_shape(mut f: Freight) -> Value {
    f.api_version
        .get_or_insert_with(|| kargo_core::model::API_VERSION.to_owned());
    f.kind.get_or_insert_with(|| "Freight".to_owned());
    serde_json::to_value(&f).unwrap_or(Value::Null)
}

/// What Freight `f` is in Stage `stage` at `at`.
fn cell(project: &Project, f: &Freight, stage: &str, at: Timestamp) -> String {
    let mut parts = Vec::new();
    if f.is_currently_in(stage) {
        parts.push("here".to_owned());
    }
    if f.is_verified_in(stage) {
        parts.push("verified".to_owned());
        if let Some(required) = required_soak_after(project, stage) {
            let soaked = f.longest_soak(stage, at);
            if soaked < required {
                parts.push(format!(
                    "soaking {}/{}",
                    GoDuration::from(Duration::from_secs(soaked.as_secs())),
                    GoDuration::from(required)
                ));
            }
        }
    }
    if f.is_approved_for(stage) {
        parts.push("approved".to_owned());
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(",")
    }
}

/// The longest soak a downstream Stage requires in `stage`.
fn required_soak_after(project: &Project, stage: &str) -> Option<Duration> {
    project
        .graph
        .downstream(stage)
        .iter()
        .filter_map(|d| project.graph.stage(d))
        .flat_map(|d| d.spec.requested_freight.iter())
        .filter(|r| r.sources.stages.iter().any(|s| s == stage))
        .filter_map(|r| r.sources.required_soak_time)
        .map(GoDuration::as_duration)
        .max()
}

/// Prints `rows` under `header`, columns padded to their widest cell.
fn print_table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
}
