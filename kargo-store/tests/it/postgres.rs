//! The PostgreSQL store against the real server: the conformance suite,
//! migrations, the schema's guarantees, change notifications between
//! store instances, and connection loss.

use std::sync::Arc;
use std::time::Duration;

use kargo_core::conformance::state_store;
use kargo_core::model::{Freight, FreightOrigin, PromotionPhase};
use kargo_core::state::{
    AbortRequest, Change, Changes, DynStateStore, FreightQuery, NewPromotion, PromotionQuery,
    ResourceKey, ResourceWrite, StateStore, StateStoreExt, StoredResource,
};
use kargo_core::time::Timestamp;
use kargo_store::postgres::PostgresStore;
use kargo_test_support::Database;

fn freight(tag: &str) -> Freight {
    Freight {
        origin: FreightOrigin::warehouse("app"),
        discovered_at: Some("2026-01-01T10:00:00Z".into()),
        images: vec![kargo_core::model::Image {
            repo_url: "ghcr.io/acme/app".into(),
            tag: tag.into(),
            digest: format!("sha256:{tag}"),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn postgres_store_passes_the_conformance_suite() {
    let db = Database::create("kargo_store_test");
    let store = PostgresStore::open(&db.url()).await.expect("open");
    state_store::run_all(&store).await;
}

#[tokio::test]
async fn arc_and_box_postgres_stores_pass_the_conformance_suite() {
    let db = Database::create("kargo_store_test");
    let store: Arc<DynStateStore> = Arc::new(PostgresStore::open(&db.url()).await.expect("open"));
    state_store::run_all(&store).await;
    let db = Database::create("kargo_store_test");
    let store: Box<DynStateStore> = Box::new(PostgresStore::open(&db.url()).await.expect("open"));
    state_store::run_all(&store).await;
}

#[tokio::test]
async fn state_survives_reopening_and_migrations_run_once() {
    let db = Database::create("kargo_store_test");
    let name = {
        let store = PostgresStore::open(&db.url()).await.expect("migrated");
        let put = store.put_freight(freight("v1")).await.expect("put");
        store
            .create_promotion(NewPromotion::new("dev", &put.freight.alias))
            .await
            .expect("create");
        put.freight.metadata.name
    };
    let store = PostgresStore::open(&db.url()).await.expect("reopened");
    assert!(store.get_freight(&name).await.expect("get").is_some());
    assert_eq!(
        store
            .list_promotions(&PromotionQuery::stage("dev"))
            .await
            .expect("list")
            .len(),
        1
    );
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(store.pool())
            .await
            .expect("migrations table");
    assert_eq!(versions, [1, 2, 3], "each migration applied once");
}

#[tokio::test]
async fn the_schema_allows_one_running_promotion_per_stage() {
    let db = Database::create("kargo_store_test");
    let store = PostgresStore::open(&db.url()).await.expect("open");
    let f = store.put_freight(freight("v1")).await.expect("put").freight;
    for _ in 0..2 {
        store
            .create_promotion(NewPromotion::new("dev", &f.metadata.name))
            .await
            .expect("create");
    }
    let err = sqlx::query("UPDATE promotions SET phase = 'Running' WHERE stage = 'dev'")
        .execute(store.pool())
        .await
        .expect_err("unique index");
    assert!(
        err.to_string().contains("one_running_promotion_per_stage"),
        "{err}"
    );
}

#[tokio::test]
async fn a_bad_url_is_an_error_without_the_password() {
    let err = PostgresStore::open("postgres://app:hunter2@127.0.0.1:notaport/db")
        .await
        .expect_err("invalid port");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("postgres://app:***@127.0.0.1"), "{shown}");
}

/// The next change that `pick` keeps (a hang guard of 30 s, not a timing
/// assertion).
async fn next_matching<T>(
    changes: &mut Changes,
    pick: impl Fn(Change) -> Option<T> + Send + Sync,
) -> T {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let change = changes.next().await.expect("the store is alive");
            if let Some(v) = pick(change) {
                return v;
            }
        }
    })
    .await
    .expect("the change arrives")
}

#[tokio::test]
async fn replicas_wake_each_other_through_notifications() {
    let db = Database::create("kargo_store_test");
    let a = PostgresStore::open(&db.url()).await.expect("replica a");
    let b = PostgresStore::open(&db.url()).await.expect("replica b");
    let mut seen_by_b = b.watch().await.expect("watch");

    let f = a.put_freight(freight("v1")).await.expect("put").freight;
    let created = next_matching(&mut seen_by_b, |c| match c {
        Change::FreightCreated { freight } => Some(freight),
        _ => None,
    })
    .await;
    assert_eq!(created, f.metadata.name, "b hears of a's new Freight");

    a.approve_freight(&f.alias, "prod", Timestamp::now())
        .await
        .expect("approve");
    let approved = next_matching(&mut seen_by_b, |c| match c {
        Change::FreightApproved { freight, stage } => Some((freight, stage)),
        _ => None,
    })
    .await;
    assert_eq!(approved, (f.metadata.name.clone(), "prod".to_owned()));

    let promo = a
        .create_promotion(NewPromotion::new("prod", &f.metadata.name))
        .await
        .expect("create");
    let queued = next_matching(&mut seen_by_b, |c| match c {
        Change::PromotionCreated { promotion, .. } => Some(promotion),
        _ => None,
    })
    .await;
    assert_eq!(queued, promo.name);

    b.start_promotion("prod", Timestamp::now())
        .await
        .expect("start")
        .expect("b runs it");
    a.abort_promotion(&promo.name, &AbortRequest::new("alice", Timestamp::now()))
        .await
        .expect("a asks to abort it");
    let abort = next_matching(&mut seen_by_b, |c| match c {
        Change::PromotionAbortRequested { promotion, .. } => Some(promotion),
        _ => None,
    })
    .await;
    assert_eq!(
        abort, promo.name,
        "b hears that a asked to abort its promotion"
    );
    let seen = b
        .get_promotion(&promo.name)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(seen.abort.map(|r| r.actor).as_deref(), Some("alice"));

    let key = ResourceKey::new("Stage", "demo", "qa");
    let stage = StoredResource::new(
        key.clone(),
        serde_json::json!({"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage",
            "metadata": {"name": "qa", "namespace": "demo"}, "spec": {}}),
    );
    a.put_resource(&stage, ResourceWrite::Create)
        .await
        .expect("a stores a resource");
    let changed = next_matching(&mut seen_by_b, |c| match c {
        Change::ResourcesChanged { resource } => Some(resource),
        _ => None,
    })
    .await;
    assert_eq!(changed, key, "b hears of a's resource");
    assert_eq!(b.list_resources().await.expect("list"), [stage]);
}

#[tokio::test]
async fn the_store_carries_on_after_its_connections_are_terminated() {
    let db = Arc::new(Database::create("kargo_store_test"));
    let store = Arc::new(PostgresStore::open(&db.url()).await.expect("open"));
    let mut changes = store.watch().await.expect("watch");
    let mut names = Vec::new();
    for round in 0..5 {
        // Writers keep going while their connections are cut.
        let writers: Vec<_> = (0..4)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    for j in 0..5 {
                        let put = store
                            .put_freight(freight(&format!("r{round}-w{i}-{j}")))
                            .await
                            .expect("put survives the connection loss");
                        mine.push(put.freight.metadata.name);
                    }
                    mine
                })
            })
            .collect();
        terminate_connections(&db).await;
        for w in writers {
            names.extend(w.await.expect("writer"));
        }
    }
    let stored = store
        .list_freight(&FreightQuery::all())
        .await
        .expect("list");
    assert_eq!(stored.len(), names.len(), "nothing lost, nothing doubled");
    for name in &names {
        assert!(stored.iter().any(|f| &f.metadata.name == name), "{name}");
    }

    // The listener reconnects: after the gap it says so, then changes flow.
    // A change made while it reconnects is covered by `Missed` instead of
    // being heard, so changes are made until one is heard (the rounds above
    // may have left a `Missed` queued: waiting for one proves nothing).
    let terminated = terminate_connections(&db).await;
    assert!(terminated > 0, "the store had connections open");
    let mut missed = false;
    tokio::time::timeout(Duration::from_secs(30), async {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let name = store
                .put_freight(freight(&format!("after-the-gap-{attempt}")))
                .await
                .expect("put")
                .freight
                .metadata
                .name;
            let wait = tokio::time::sleep(Duration::from_secs(1));
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    change = changes.next() => match change.expect("the store is alive") {
                        Change::Missed => missed = true,
                        Change::FreightCreated { freight } if freight == name => return,
                        _ => {}
                    },
                    () = &mut wait => break,
                }
            }
        }
    })
    .await
    .expect("changes flow again after the gap");
    assert!(missed, "the gap was reported");
}

#[tokio::test]
async fn a_promotion_runs_to_the_end_across_a_connection_loss() {
    let db = Database::create("kargo_store_test");
    let store = PostgresStore::open(&db.url()).await.expect("open");
    let f = store.put_freight(freight("v1")).await.expect("put").freight;
    store
        .create_promotion(NewPromotion::new("dev", &f.metadata.name))
        .await
        .expect("create");
    let started = store
        .start_promotion("dev", Timestamp::now())
        .await
        .expect("start")
        .expect("started");
    db.terminate_connections();
    let mut state = started.state.clone();
    state.phase = PromotionPhase::Succeeded;
    store
        .save_promotion_state(&started.name, &state)
        .await
        .expect("save after the loss");
    db.terminate_connections();
    let done = store
        .finish_promotion(&started.name, Timestamp::now())
        .await
        .expect("finish after the loss");
    assert_eq!(done.phase, PromotionPhase::Succeeded);
    assert_eq!(
        store
            .get_stage("dev")
            .await
            .expect("stage")
            .current_freight(&f.origin),
        Some(f.metadata.name.as_str())
    );
}

#[tokio::test]
async fn open_takes_a_postgres_url() {
    let db = Database::create("kargo_store_test");
    for url in [
        db.url(),
        db.url().replacen("postgres://", "postgresql://", 1),
    ] {
        let store = kargo_store::open(&url).await.expect("opened");
        assert!(format!("{store:?}").contains("PostgresStore"), "{url}");
        store.put_freight(freight("v1")).await.expect("put");
    }
    let store = kargo_store::open(&db.url()).await.expect("reopened");
    assert_eq!(
        store
            .list_freight(&FreightQuery::all())
            .await
            .expect("list")
            .len(),
        1,
        "one database behind both spellings"
    );
}

/// The server's certificate on the project's machines: Debian's snakeoil
/// pair (`CN=localhost`), which PostgreSQL serves with `ssl = on`.
const SERVER_CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

#[tokio::test]
async fn the_store_connects_over_tls_with_require_and_verify_full() {
    use sqlx::{Connection, PgConnection};
    let db = Database::create("kargo_store_test");
    let url = |params: &str| format!("{}{params}", db.url().replace("127.0.0.1", "localhost"));
    for params in [
        "?sslmode=require".to_owned(),
        format!("?sslmode=verify-full&sslrootcert={SERVER_CERT}"),
    ] {
        let url = url(&params);
        let store = kargo_store::open(&url).await.unwrap_or_else(|e| {
            panic!("{params}: {e} (the machine's PostgreSQL serves TLS with ssl = on)")
        });
        store
            .put_freight(freight("v1"))
            .await
            .expect("write over TLS");
        let mut conn = PgConnection::connect(&url).await.expect("connect");
        let encrypted: bool =
            sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(&mut conn)
                .await
                .expect("pg_stat_ssl");
        assert!(encrypted, "{params}: the connection is encrypted");
    }
    // Without the server's certificate, verify-full cannot trust it.
    let refused = kargo_store::open(&url("?sslmode=verify-full"))
        .await
        .expect_err("an untrusted server certificate");
    let message = refused.to_string();
    assert!(message.contains("localhost"), "names the server: {message}");
}

/// Terminates `db`'s connections from a blocking thread, so that the
/// runtime's other tasks (writers) keep running meanwhile.
async fn terminate_connections(db: &Arc<Database>) -> u64 {
    let db = Arc::clone(db);
    tokio::task::spawn_blocking(move || db.terminate_connections())
        .await
        .expect("psql ran")
}
