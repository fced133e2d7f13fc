//! The engine loop: a promotion of many small steps whose configs hold
//! expressions reading earlier outputs, run end to end (evaluation,
//! dispatch, output bookkeeping). Run with `cargo bench --bench engine`.
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use kargo::core::Workspace;
use kargo::core::engine::{Engine, PromotionContext};
use kargo::core::model::{ExpressionVariable, PromotionPhase, PromotionStep};
use kargo::core::step::StepRegistry;
use serde_json::json;

fn promotion_of(n: usize) -> Vec<PromotionStep> {
    (0..n)
        .map(|i| {
            let previous = if i == 0 {
                "${{ vars.seed }}".to_owned()
            } else {
                format!("${{{{ outputs['s{}'].value }}}}", i - 1)
            };
            PromotionStep {
                uses: "compose-output".into(),
                alias: format!("s{i}"),
                config: Some(json!({ "value": previous, "index": i })),
                ..Default::default()
            }
        })
        .collect()
}

fn bench_engine(c: &mut Criterion) {
    let mut registry = StepRegistry::new();
    kargo::steps::register_builtins(&mut registry);
    let engine = Engine::new(Arc::new(registry));
    let dir = tempfile::tempdir().expect("temp dir");
    let ctx =
        PromotionContext::new(Workspace::new(dir.path()).expect("workspace")).with_vars(vec![
            ExpressionVariable {
                name: "seed".into(),
                value: Some("v1.2.3".into()),
            },
        ]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for n in [10, 100] {
        let steps = promotion_of(n);
        c.bench_function(&format!("engine/{n}-compose-output-steps"), |b| {
            b.iter(|| {
                let state = runtime
                    .block_on(engine.run(&ctx, &steps))
                    .expect("promotion runs");
                assert_eq!(state.phase, PromotionPhase::Succeeded);
            })
        });
    }
}

criterion_group!(benches, bench_engine);
criterion_main!(benches);
