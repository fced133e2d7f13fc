//! Two servers on one PostgreSQL: both answer, a promotion asked of one
//! runs once, and a watch on the other sees it.

use std::time::Duration;

use serde_json::{Value, json};

use super::watch::Events;
use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_share_one_postgresql() {
    let world = world();
    let db = kargo_test_support::Database::create("kargo_server_replicas");
    let replica = |owner: &'static str| {
        move |c: kargo_runtime::ControllerBuilder| c.replica(owner, Duration::from_secs(10))
    };
    let store_a = kargo_store::open(&db.url()).await.unwrap();
    let a = TestServer::start_with(&world, store_a, true, replica("a"), |b| b).await;
    let store_b = kargo_store::open(&db.url()).await.unwrap();
    let b = TestServer::start_with(&world, store_b, true, replica("b"), |b| b).await;

    // Auto-promotion into dev, by whichever replica, once.
    for server in [&a, &b] {
        server
            .wait_for("/v1beta1/projects/demo/stages/dev", Some(VIEWER), |s| {
                s.pointer("/status/lastPromotion/status/phase") == Some(&json!("Succeeded"))
            })
            .await;
    }
    let mut on_b = Events::open(
        &b,
        "/v1beta1/projects/demo/promotions?watch=true&stage=prod",
        Some(VIEWER),
    )
    .await;

    // A person's promotion to prod, asked of replica A.
    let (_, dev) = a
        .get("/v1beta1/projects/demo/stages/dev", Some(VIEWER))
        .await;
    let freight = dev["status"]["freightSummary"].as_str().unwrap().to_owned();
    let (status, _) = a
        .post(
            &format!("/v1beta1/projects/demo/freight/{freight}/approve?stage=prod"),
            Some(PROMOTER),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    let (status, created) = a
        .post(
            "/v1beta1/projects/demo/stages/prod/promotions",
            Some(PROMOTER),
            json!({"freight": freight}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let name = created["metadata"]["name"].as_str().unwrap().to_owned();

    // B's watch sees it queued and finished.
    let seen = on_b
        .until(|e| {
            e["object"]["metadata"]["name"] == name.as_str()
                && e["object"]["status"]["phase"] == "Succeeded"
        })
        .await;
    assert!(
        seen.iter()
            .any(|e| e["type"] == "ADDED" && e["object"]["metadata"]["name"] == name.as_str()),
        "{seen:#?}"
    );
    // Both come to answer the same. Each replica's view follows the
    // database's notifications, so the one that did not run the promotion
    // may see it finish a moment later.
    let path = format!("/v1beta1/projects/demo/promotions/{name}");
    let done = b
        .wait_for(&path, Some(VIEWER), |p| p["status"]["phase"] == "Succeeded")
        .await;
    let on_a = a
        .wait_for(&path, Some(VIEWER), |p| p["status"]["phase"] == "Succeeded")
        .await;
    assert_eq!(
        on_a["metadata"]["annotations"],
        done["metadata"]["annotations"]
    );
    assert_eq!(
        done["metadata"]["annotations"]["kargo.akuity.io/create-actor"],
        "ci"
    );
    // It ran once: one commit for prod on the remote.
    let prod_commits = world
        .commits()
        .iter()
        .filter(|c| c.starts_with("prod:"))
        .count();
    assert_eq!(prod_commits, 1, "{:?}", world.commits());
    let dev_commits = world
        .commits()
        .iter()
        .filter(|c| c.starts_with("dev:"))
        .count();
    assert_eq!(dev_commits, 1, "{:?}", world.commits());
    a.stop().await;
    b.stop().await;
}
