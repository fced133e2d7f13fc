//! Read-only views of the pipeline: `kargo status`, `kargo history STAGE`
//! and `kargo freight`. Tables for a person, JSON with `--json`. They
//! refuse a `--state` that does not exist instead of creating it.

use std::time::Duration;

use clap::Args;
use kargo_core::duration::GoDuration;
use kargo_core::model::Freight;
use kargo_core::pipeline::discovered_at;
use kargo_core::state::{FreightQuery, PromotionQuery};
use kargo_core::time::Timestamp;
use kargo_runtime::Controller;
use serde_json::{Value, json};

use crate::project::{Access, StateArgs, controller, short};
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

/// Runs `body` against the controller: exit 0, 2 when the input is
/// unusable, 1 when the store failed.
fn with_controller(
    args: &StateArgs,
    body: impl AsyncFnOnce(&Controller) -> kargo_runtime::Result<()>,
) -> Result<u8, InputError> {
    crate::runtime()?.block_on(async {
        let controller = controller(args, Access::ReadOnly).await?;
        match body(&controller).await {
            Ok(()) => Ok(EXIT_SUCCEEDED),
            Err(e) if e.is_input() => Err(e.into()),
            Err(e) => {
                eprintln!("kargo: {e}");
                Ok(EXIT_NOT_SUCCEEDED)
            }
        }
    })
}

/// Tells on stderr which Warehouses' discovery fails (the JSON views keep
/// their shape; the tables show it too).
async fn report_failing_warehouses(controller: &Controller) -> kargo_runtime::Result<()> {
    for w in controller.warehouse_states().await? {
        if let Some(error) = &w.error {
            eprintln!(
                "kargo: Warehouse {}: discovery failing ({} in a row, last at {}): {error}",
                w.name,
                w.consecutive_failures,
                w.last_discovery.map(|t| t.to_string()).unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// `kargo status`: every Stage in flow order with its upstream, current
/// Freight, last promotion (and why it failed), what runs or waits (with
/// the pull request it waits for), verification, auto-promotion and
/// holds, and how many promotions are queued; then each Warehouse's
/// discovery.
pub(crate) fn status(args: ViewArgs) -> Result<u8, InputError> {
    with_controller(&args.state, async |controller| {
        let stages = controller.stage_summaries().await?;
        if args.json {
            println!("{}", serde_json::to_value(&stages).unwrap_or(Value::Null));
            return report_failing_warehouses(controller).await;
        }
        let rows = stages
            .iter()
            .map(|s| {
                let aliases = |names: Vec<&str>| names.join(",");
                vec![
                    s.name.clone(),
                    s.upstream.join(","),
                    aliases(s.current_freight.iter().map(|f| f.alias.as_str()).collect()),
                    s.last_promotion
                        .as_ref()
                        .map(|p| {
                            let why = p.message.as_deref().map(|m| format!(": {m}"));
                            format!("{} {}{}", p.phase, p.name, why.unwrap_or_default())
                        })
                        .unwrap_or_default(),
                    match (&s.running_promotion, &s.waiting_pull_request) {
                        (Some(r), Some(url)) => format!("waiting {r} on {url}"),
                        (Some(r), None) => format!("running {r}"),
                        _ => s
                            .verification
                            .as_ref()
                            .map(|v| format!("{:?}", v.phase))
                            .unwrap_or_default(),
                    },
                    if s.auto_promotion_enabled {
                        "on"
                    } else {
                        "off"
                    }
                    .to_owned(),
                    s.auto_promotion_holds
                        .iter()
                        .map(|h| format!("{} by {}", h.alias, h.actor))
                        .collect::<Vec<_>>()
                        .join(","),
                    s.queued_promotions.to_string(),
                ]
            })
            .collect();
        print_table(
            &[
                "STAGE",
                "UPSTREAM",
                "FREIGHT",
                "LAST PROMOTION",
                "NOW",
                "AUTO",
                "HOLD",
                "QUEUED",
            ],
            rows,
        );
        println!();
        let rows = controller
            .warehouse_states()
            .await?
            .into_iter()
            .map(|w| {
                vec![
                    w.name.clone(),
                    w.last_discovery.map(|t| t.to_string()).unwrap_or_default(),
                    w.last_freight_id
                        .as_deref()
                        .map(|f| short(f).to_owned())
                        .unwrap_or_default(),
                    match &w.error {
                        Some(e) => format!("failing ({}x): {e}", w.consecutive_failures),
                        None if w.last_discovery.is_some() => "ok".to_owned(),
                        None => "not discovered yet".to_owned(),
                    },
                ]
            })
            .collect();
        print_table(
            &["WAREHOUSE", "LAST DISCOVERY", "LAST FREIGHT", "DISCOVERY"],
            rows,
        );
        Ok(())
    })
}

/// `kargo history STAGE`: the Stage's promotions, newest first, and the
/// Freight it held with their verifications.
pub(crate) fn history(args: HistoryArgs) -> Result<u8, InputError> {
    let stage = args.stage.clone();
    let json_out = args.view.json;
    with_controller(&args.view.state, async move |controller| {
        controller.project().stage(&stage)?;
        let mut promotions = controller
            .store()
            .list_promotions(&PromotionQuery::stage(&stage))
            .await?;
        promotions.reverse();
        let state = controller.store().get_stage(&stage).await?;
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
                    p.state.message.clone().unwrap_or_default(),
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
                "MESSAGE",
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
    with_controller(&args.state, async |controller| {
        let mut all = controller
            .store()
            .list_freight(&FreightQuery::all())
            .await?;
        all.reverse();
        if args.json {
            let docs: Vec<Value> = all.into_iter().map(kargo_shape).collect();
            println!("{}", Value::Array(docs));
            return report_failing_warehouses(controller).await;
        }
        let at = controller.now();
        let project = controller.project();
        let stages: Vec<&str> = project
            .graph()
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
                row.extend(stages.iter().map(|s| cell(&project, f, s, at)));
                row
            })
            .collect();
        print_table(&header, rows);
        report_failing_warehouses(controller).await
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
fn cell(project: &kargo_runtime::Project, f: &Freight, stage: &str, at: Timestamp) -> String {
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
fn required_soak_after(project: &kargo_runtime::Project, stage: &str) -> Option<Duration> {
    let graph = project.graph();
    graph
        .downstream(stage)
        .iter()
        .filter_map(|d| graph.stage(d))
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
