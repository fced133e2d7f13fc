//! `set-metadata` and `set-freight-alias` against the in-memory store, on
//! their own and inside a promotion.

use std::sync::Arc;

use kargo_core::Workspace;
use kargo_core::engine::{Engine, PromotionContext};
use kargo_core::model::{
    Freight, FreightCollection, FreightOrigin, Image, PromotionPhase, PromotionStep,
};
use kargo_core::state::{DynStateStore, InMemoryStore, StateStore};
use kargo_core::step::{StepContext, StepOutcome, StepRegistry};
use serde_json::{Value, json};

use crate::check_convert_cases;

fn registry() -> StepRegistry {
    let mut registry = StepRegistry::new();
    kargo_steps::register_builtins(&mut registry);
    registry
}

async fn run(ctx: &StepContext, kind: &str, config: Value) -> Result<StepOutcome, String> {
    let registry = registry();
    let step = registry.get(kind).expect("step is registered");
    step.run(ctx, config).await.map_err(|e| e.to_string())
}

fn freight(tag: &str) -> Freight {
    Freight {
        origin: FreightOrigin::warehouse("w"),
        images: vec![Image {
            repo_url: "some/repo".into(),
            tag: tag.into(),
            digest: format!("sha256:{tag}"),
            ..Default::default()
        }],
        ..Default::default()
    }
    .with_generated_name()
}

/// A store holding one piece of Freight (aliased `first`), and a step
/// context that uses it.
async fn setup() -> (tempfile::TempDir, Arc<DynStateStore>, Freight, StepContext) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<DynStateStore> = Arc::new(InMemoryStore::new());
    let mut f = freight("v1.2.3");
    f.alias = "first".into();
    let f = store.put_freight(f).await.unwrap().freight;
    let ctx = StepContext::new(Workspace::new(dir.path()).unwrap()).with_store(store.clone());
    (dir, store, f, ctx)
}

#[test]
fn documented_examples_deserialize_and_unknown_keys_are_rejected() {
    use kargo_steps::{set_freight_alias, set_metadata};
    // Kargo's docs, "Common Usage" and "Complex Metadata".
    let common = json!({"updates": [
        {"kind": "Stage", "name": "production", "values": {"foo": "hello", "bar": 42}},
        {"kind": "Freight", "name": "my-app-freight", "values": {"baz": true, "qux": ["a", "b", "c"]}},
    ]});
    let complex = json!({"updates": [{"kind": "Stage", "name": "staging", "values": {
        "foo": {"nested": "value", "numbers": [1, 2, 3],
                "items": [{"name": "item1", "value": "abc"}, {"name": "item2", "value": "xyz"}]},
        "bar": {"alpha": "one", "beta": "two"},
    }}]});
    serde_json::from_value::<set_metadata::Config>(common.clone()).unwrap();
    serde_json::from_value::<set_metadata::Config>(complex).unwrap();
    let alias = json!({"name": "f0e1d2", "alias": "v1.2.3"});
    serde_json::from_value::<set_freight_alias::Config>(alias.clone()).unwrap();

    let mut extra = common.clone();
    extra["bogus"] = json!(1);
    assert!(serde_json::from_value::<set_metadata::Config>(extra).is_err());
    let mut extra_in_update = common;
    extra_in_update["updates"][0]["namespace"] = json!("x");
    assert!(serde_json::from_value::<set_metadata::Config>(extra_in_update).is_err());
    let mut extra = alias;
    extra["bogus"] = json!(1);
    assert!(serde_json::from_value::<set_freight_alias::Config>(extra).is_err());
}

/// Kargo: set_freight_alias_test.go, `Test_setFreightAlias_convert`.
#[tokio::test]
async fn kargo_set_freight_alias_convert_cases() {
    check_convert_cases(
        "set-freight-alias",
        vec![
            (
                "both name and alias are not specified",
                json!({}),
                Some("missing field `name`"),
            ),
            (
                "name is not specified",
                json!({"alias": "stable"}),
                Some("missing field `name`"),
            ),
            (
                "name is empty",
                json!({"name": "", "alias": "new-alias"}),
                Some("`name` must not be empty"),
            ),
            (
                "alias is not specified",
                json!({"name": "fake-freight-id"}),
                Some("missing field `alias`"),
            ),
            (
                "alias is empty",
                json!({"name": "fake-freight-id", "alias": ""}),
                Some("`alias` must not be empty"),
            ),
            (
                "unknown field is not allowed",
                json!({"name": "fake-freight-id", "alias": "new-alias", "unexpected": "nope"}),
                Some("unknown field `unexpected`"),
            ),
            (
                "valid minimal config",
                json!({"name": "fake-freight-id", "alias": "new-alias"}),
                None,
            ),
        ],
    )
    .await;
}

/// Kargo: metadata_setter_test.go, `Test_metadataSetter_convert`. Where
/// Kargo lists every missing field of an update, kargo-rs names the first.
#[tokio::test]
async fn kargo_metadata_setter_convert_cases() {
    let update = |kind: &str, name: &str, values: Value| json!({"updates": [{"kind": kind, "name": name, "values": values}]});
    check_convert_cases(
        "set-metadata",
        vec![
            ("missing updates field", json!({}), Some("missing field `updates`")),
            ("invalid config type", json!({"updates": "not-an-array"}), Some("at `updates`: invalid type: string")),
            ("missing required fields in updates", json!({"updates": [{}]}), Some("missing field `kind`")),
            (
                "invalid kind",
                update("InvalidKind", "test", json!({"key": "value"})),
                Some("`updates[0].kind` is `InvalidKind`; it must be one of `Stage`, `Freight`"),
            ),
            ("empty name", update("Stage", "", json!({"key": "value"})), Some("`updates[0].name` must not be empty")),
            ("empty values", update("Stage", "test", json!({})), Some("`updates[0].values` needs at least one key")),
            (
                "valid kitchen sink",
                json!({"updates": [
                    {"kind": "Stage", "name": "test-stage", "values": {
                        "string": "value", "number": 42, "bool": true, "nullKey": null,
                        "object": {"nested": "value", "array": ["item1", "item2"], "deep": {"foo": "bar", "nums": [1, 2, 3]}},
                    }},
                    {"kind": "Freight", "name": "test-freight", "values": {"deployed": true, "version": "1.0.0"}},
                ]}),
                None,
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn set_metadata_upserts_stage_and_freight_metadata() {
    let (_dir, store, f, ctx) = setup().await;
    store
        .upsert_stage_metadata(
            "production",
            &[
                ("bar".to_owned(), json!({"old": true})),
                ("keep".to_owned(), json!(1)),
            ]
            .into_iter()
            .collect(),
        )
        .await
        .unwrap();
    let config = json!({"updates": [
        {"kind": "Stage", "name": "production", "values": {"foo": "hello", "bar": 42}},
        {"kind": "Freight", "name": "first", "values": {"baz": true, "qux": ["a", "b", "c"]}},
    ]});
    let out = run(&ctx, "set-metadata", config).await.unwrap();
    assert_eq!(out.output, serde_json::Map::new());

    let stage = store.get_stage("production").await.unwrap();
    assert_eq!(
        serde_json::to_value(&stage.metadata).unwrap(),
        json!({"bar": 42, "foo": "hello", "keep": 1})
    );
    let got = store.get_freight(&f.metadata.name).await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&got.status.metadata).unwrap(),
        json!({"baz": true, "qux": ["a", "b", "c"]})
    );
}

#[tokio::test]
async fn set_metadata_rejects_bad_configs_and_unknown_freight() {
    let (_dir, _store, _f, ctx) = setup().await;
    for (config, want) in [
        (json!({"updates": []}), "`updates` needs at least one entry"),
        (
            json!({"updates": [{"kind": "Stage", "name": "s", "values": {}}]}),
            "`updates[0].values` needs at least one key",
        ),
        (
            json!({"updates": [{"kind": "Stage", "name": "", "values": {"a": 1}}]}),
            "`updates[0].name` is empty",
        ),
        (
            json!({"updates": [{"kind": "Warehouse", "name": "w", "values": {"a": 1}}]}),
            "unknown variant `Warehouse`",
        ),
        (
            json!({"updates": [{"kind": "Freight", "name": "nope", "values": {"a": 1}}]}),
            "set-metadata: cannot set metadata of Freight `nope`: Freight not found: nope",
        ),
    ] {
        let err = run(&ctx, "set-metadata", config.clone())
            .await
            .expect_err("fails");
        assert!(err.contains(want), "{config}: {err}");
    }
}

#[tokio::test]
async fn state_steps_without_a_store_fail_naming_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = StepContext::new(Workspace::new(dir.path()).unwrap());
    let err = run(
        &ctx,
        "set-metadata",
        json!({"updates": [{"kind": "Stage", "name": "s", "values": {"a": 1}}]}),
    )
    .await
    .expect_err("no store");
    assert!(err.contains("set-metadata: no state store"), "{err}");
    let err = run(
        &ctx,
        "set-freight-alias",
        json!({"name": "x", "alias": "y"}),
    )
    .await
    .expect_err("no store");
    assert!(err.contains("set-freight-alias: no state store"), "{err}");
}

#[tokio::test]
async fn set_freight_alias_renames_and_refuses_taken_or_unknown() {
    let (_dir, store, f, ctx) = setup().await;
    let other = store.put_freight(freight("v2")).await.unwrap().freight;

    let out = run(
        &ctx,
        "set-freight-alias",
        json!({"name": f.metadata.name, "alias": "v1.2.3"}),
    )
    .await
    .unwrap();
    assert_eq!(
        out.message.as_deref(),
        Some(
            format!(
                "updated alias of Freight {:?} from \"first\" to \"v1.2.3\"",
                f.metadata.name
            )
            .as_str()
        )
    );
    assert_eq!(
        store
            .get_freight("v1.2.3")
            .await
            .unwrap()
            .unwrap()
            .metadata
            .name,
        f.metadata.name
    );
    assert!(store.get_freight("first").await.unwrap().is_none());

    let err = run(
        &ctx,
        "set-freight-alias",
        json!({"name": other.metadata.name, "alias": "v1.2.3"}),
    )
    .await
    .expect_err("taken");
    assert!(err.contains("already exists: v1.2.3"), "{err}");
    let err = run(
        &ctx,
        "set-freight-alias",
        json!({"name": "nope", "alias": "x"}),
    )
    .await
    .expect_err("unknown");
    assert!(err.contains("Freight `nope` not found"), "{err}");
    let err = run(
        &ctx,
        "set-freight-alias",
        json!({"name": "nope", "alias": ""}),
    )
    .await
    .expect_err("empty");
    assert!(err.contains("`alias` is empty"), "{err}");
}

#[tokio::test]
async fn documented_alias_example_runs_inside_a_promotion() {
    let (dir, store, f, _ctx) = setup().await;
    // Kargo's example, expressions and all.
    let steps: Vec<PromotionStep> = serde_json::from_value(json!([{
        "uses": "set-freight-alias",
        "config": {
            "name": "${{ ctx.targetFreight.name }}",
            "alias": "${{ imageFrom('some/repo').Tag }}",
        },
    }, {
        "uses": "set-metadata",
        "config": {"updates": [
            {"kind": "Stage", "name": "${{ ctx.stage }}", "values": {"promoted": "${{ ctx.targetFreight.name }}"}},
        ]},
    }]))
    .unwrap();
    let ctx = PromotionContext::new(Workspace::new(dir.path()).unwrap())
        .with_names("p", "prod", "prod.1")
        .with_freight(FreightCollection::new(vec![f.clone()]))
        .with_store(store.clone());
    let state = Engine::new(Arc::new(registry()))
        .run(&ctx, &steps)
        .await
        .unwrap();
    assert_eq!(state.phase, PromotionPhase::Succeeded, "{:?}", state.steps);
    let renamed = store.get_freight(&f.metadata.name).await.unwrap().unwrap();
    assert_eq!(renamed.alias, "v1.2.3");
    let stage = store.get_stage("prod").await.unwrap();
    assert_eq!(stage.metadata["promoted"], json!(f.metadata.name));
}

#[tokio::test]
async fn later_steps_read_metadata_with_freight_metadata_and_stage_metadata() {
    let (dir, store, f, _ctx) = setup().await;
    store
        .upsert_stage_metadata(
            "staging",
            &[("next".to_owned(), json!("prod"))].into_iter().collect(),
        )
        .await
        .unwrap();
    let steps: Vec<PromotionStep> = serde_json::from_value(json!([{
        "uses": "set-metadata",
        "config": {"updates": [
            {"kind": "Freight", "name": "${{ ctx.targetFreight.name }}", "values": {"category": "hotfix", "config": {"timeout": 30}}},
            {"kind": "Stage", "name": "prod", "values": {"aws-region": "eu-west-1"}},
        ]},
    }, {
        "uses": "compose-output",
        "as": "read",
        "config": {
            "category": "${{ freightMetadata(ctx.targetFreight.name).category }}",
            "byAlias": "${{ freightMetadata('first').config.timeout }}",
            "missing": "${{ freightMetadata(ctx.targetFreight.name)?.other?.x ?? 300 }}",
            "noFreight": "${{ freightMetadata('nothing') ?? 'none' }}",
            // The name comes from other metadata.
            "region": "${{ stageMetadata(stageMetadata('staging').next)['aws-region'] }}",
            "tier": "${{ stageMetadata(ctx.stage)['tier'] ?? 'default-tier' }}",
        },
    }]))
    .unwrap();
    let ctx = PromotionContext::new(Workspace::new(dir.path()).unwrap())
        .with_names("p", "dev", "dev.1")
        .with_freight(FreightCollection::new(vec![f.clone()]));
    let engine = Engine::new(Arc::new(registry()));
    let state = engine
        .run(&ctx.clone().with_store(store.clone()), &steps)
        .await
        .unwrap();
    assert_eq!(state.phase, PromotionPhase::Succeeded, "{:?}", state.steps);
    assert_eq!(
        state.outputs["read"],
        json!({"category": "hotfix", "byAlias": 30, "missing": 300, "noFreight": "none",
               "region": "eu-west-1", "tier": "default-tier"})
    );

    // Without a store the functions say so.
    let state = engine.run(&ctx, &steps[1..]).await.unwrap();
    assert_eq!(state.phase, PromotionPhase::Errored);
    let message = state.steps[0].message.clone().unwrap_or_default();
    assert!(
        message.contains("freightMetadata(): no state store"),
        "{message}"
    );
}

/// Kargo: metadata_setter_test.go, `Test_metadataSetter_run`, "Stage not
/// found": Kargo fails the step; kargo-rs has no stored Stage objects and
/// gives a Stage with no state yet its first metadata (see README, "Where
/// kargo-rs deliberately differs").
#[tokio::test]
async fn set_metadata_on_a_stage_with_no_state_yet_creates_it() {
    let (_dir, store, _f, ctx) = setup().await;
    let config =
        json!({"updates": [{"kind": "Stage", "name": "fresh", "values": {"key": "value"}}]});
    run(&ctx, "set-metadata", config).await.unwrap();
    let stage = store.get_stage("fresh").await.unwrap();
    assert_eq!(
        serde_json::to_value(&stage.metadata).unwrap(),
        json!({"key": "value"})
    );
}
