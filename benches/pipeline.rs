//! One scheduling pass (availability and auto-promotion decisions) over
//! 1,000 Stages (100 chains of 10) with 20 Freight per Warehouse, every
//! piece verified everywhere, so each Stage weighs all 20. Target: 50 ms.
//! Run with `cargo bench --bench pipeline`.
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::collections::HashMap;

use criterion::{Criterion, criterion_group, criterion_main};
use kargo::core::model::{
    Freight, FreightOrigin, FreightRequest, FreightSources, Image, PromotionStep,
    PromotionTemplate, PromotionTemplateSpec, Stage,
};
use kargo::core::pipeline::{StageGraph, StageView, plan};
use kargo::core::state::StageState;
use kargo::core::time::Timestamp;

fn pipeline() -> (StageGraph, Vec<Freight>) {
    let at: Timestamp = "2026-01-01T09:00:00Z".parse().expect("timestamp");
    let template = PromotionTemplate {
        spec: PromotionTemplateSpec {
            steps: vec![PromotionStep {
                uses: "noop".into(),
                ..Default::default()
            }],
            ..Default::default()
        },
    };
    let mut stages = Vec::new();
    let mut freight = Vec::new();
    for chain in 0..100 {
        let warehouse = format!("w{chain}");
        for i in 0..10 {
            let mut s = Stage::default();
            s.metadata.name = format!("c{chain}-s{i}");
            s.spec.requested_freight.push(FreightRequest {
                origin: FreightOrigin::warehouse(&warehouse),
                sources: FreightSources {
                    direct: i == 0,
                    stages: if i == 0 {
                        vec![]
                    } else {
                        vec![format!("c{chain}-s{}", i - 1)]
                    },
                    required_soak_time: Some("1h".parse().expect("duration")),
                    ..Default::default()
                },
            });
            s.spec.promotion_template = Some(template.clone());
            stages.push(s);
        }
        for n in 0..20 {
            let mut f = Freight {
                origin: FreightOrigin::warehouse(&warehouse),
                discovered_at: Some(format!("2026-01-01T08:{n:02}:00Z")),
                images: vec![Image {
                    repo_url: "ghcr.io/acme/app".into(),
                    tag: format!("v{n}"),
                    ..Default::default()
                }],
                ..Default::default()
            }
            .with_generated_name();
            for i in 0..10 {
                let stage = format!("c{chain}-s{i}");
                f.status.add_verified_stage(&stage, at);
                f.status.add_current_stage(&stage, at);
            }
            freight.push(f);
        }
    }
    (StageGraph::new(stages).expect("valid pipeline"), freight)
}

/// The process's peak and current resident memory in MiB, from
/// `/proc/self/status` (`None` where that file does not exist).
fn memory_mib() -> Option<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

fn report_memory(when: &str) {
    match memory_mib() {
        Some((peak, current)) => {
            eprintln!(
                "pipeline/plan memory {when}: peak RSS {peak:.1} MiB, current {current:.1} MiB (target: at most 200 MB)"
            )
        }
        None => eprintln!("pipeline/plan memory {when}: not available on this platform"),
    }
}

fn bench_plan(c: &mut Criterion) {
    let (graph, freight) = pipeline();
    let states: Vec<StageState> = graph
        .stages()
        .map(|s| StageState::new(&s.metadata.name))
        .collect();
    let views: HashMap<String, StageView<'_>> = states
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                StageView {
                    state: s,
                    promotions: &[],
                    auto_promotion_enabled: true,
                },
            )
        })
        .collect();
    let now: Timestamp = "2026-01-01T12:00:00Z".parse().expect("timestamp");
    report_memory("with 1,000 Stages and 2,000 Freight loaded");
    c.bench_function("pipeline/plan-1000-stages-20-freight", |b| {
        b.iter(|| {
            let plan = plan(&graph, &freight, &views, now);
            assert_eq!(plan.promotions.len(), 1000);
        })
    });
    report_memory("after the passes");
}

criterion_group!(benches, bench_plan);
criterion_main!(benches);
