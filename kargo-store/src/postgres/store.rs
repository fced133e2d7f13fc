use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kargo_core::Result;
use kargo_core::engine::PromotionState;
use kargo_core::model::{Freight, PromotionPhase};
use kargo_core::pipeline::{alias, discovered_at};
use kargo_core::state::{
    AbortRequest, Change, ChangeFeed, Changes, Claim, DiscoveryOutcome, FreightQuery, Lease,
    NewPromotion, PromotionQuery, PromotionRecord, PutFreight, ResourceKey, ResourceWrite,
    SaveOptions, StageState, StateStore, StatusUpdate, StoredResource, VerificationRecord,
    WarehouseState, rules,
};
use kargo_core::time::Timestamp;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::error::{Error, is_transient};
use super::retry::with_backoff;
use super::{CHANNEL, listen, redact_url};
use crate::doc::{from_doc, to_doc};
use crate::migrations::{POSTGRES, migrator};
use crate::sql::{StoreError, named_docs, resource};

type Conn = PgConnection;

/// How a [`PostgresStore`] connects and retries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// The most connections the store's pool opens (default 8), plus one
    /// for [`watch`](StateStore::watch).
    pub max_connections: u32,
    /// How long an operation is tried again after connection errors
    /// before its error is returned (default 60 s).
    pub retry_for: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 8,
            retry_for: Duration::from_secs(60),
        }
    }
}

impl PostgresOptions {
    /// Sets [`PostgresOptions::max_connections`].
    pub fn with_max_connections(mut self, max_connections: u32) -> Self {
        self.max_connections = max_connections.max(1);
        self
    }

    /// Sets [`PostgresOptions::retry_for`].
    pub fn with_retry_for(mut self, retry_for: Duration) -> Self {
        self.retry_for = retry_for;
        self
    }
}

/// A [`StateStore`] in a PostgreSQL database, migrated on first use,
/// which several host replicas share (see the [module docs](super)).
///
/// Cheap to clone: clones share one connection pool and one change
/// listener.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    location: String,
    options: PostgresOptions,
    feed: ChangeFeed,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.listener.get_mut().take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.inner.location)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/database`)
    /// and runs the pending migrations, with the default options.
    pub async fn open(url: &str) -> Result<Self> {
        PostgresStore::open_opts(url, PostgresOptions::default()).await
    }

    /// [`open`](PostgresStore::open) with `options`. Connection errors are
    /// retried for [`PostgresOptions::retry_for`].
    pub async fn open_opts(url: &str, options: PostgresOptions) -> Result<Self> {
        let location = redact_url(url);
        let connect = PgConnectOptions::from_str(url).map_err(|source| Error::Url {
            location: location.clone(),
            source,
        })?;
        // One connection of its own first: a certificate or password the
        // server refuses is reported at once with its cause, instead of
        // being retried as pool timeouts.
        match <PgConnection as sqlx::Connection>::connect_with(&connect).await {
            Ok(conn) => {
                let _ = sqlx::Connection::close(conn).await;
            }
            Err(source) if !is_transient(&source) => {
                return Err(Error::Open { location, source }.into());
            }
            Err(_) => {}
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(connect);
        with_backoff("open", options.retry_for, || async {
            let migrator = migrator(POSTGRES).await.map_err(|source| Error::Migrate {
                location: location.clone(),
                source,
            })?;
            let mut conn = pool.acquire().await.map_err(|source| Error::Open {
                location: location.clone(),
                source,
            })?;
            migrator
                .run(&mut *conn)
                .await
                .map_err(|source| Error::Migrate {
                    location: location.clone(),
                    source,
                })
        })
        .await?;
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                location,
                options,
                feed: ChangeFeed::new(),
                listener: Mutex::new(None),
            }),
        })
    }

    /// The database's URL, without its password.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The connection pool (for host applications that keep their own
    /// tables next to the store's).
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Runs `op` (one transaction) again after connection errors; see
    /// [`Attempt`].
    async fn retry<T, F, Fut>(&self, what: &'static str, op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        with_backoff(what, self.inner.options.retry_for, op).await?
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, Error> {
        Ok(self.inner.pool.begin().await?)
    }
}

/// One attempt at an operation: `Err` for database errors (retried when
/// transient), `Ok(Err)` for a refusal by Kargo's rules (the transaction
/// rolled back; returned as it is).
type Attempt<T> = Result<Result<T>, Error>;

/// The value of a rules check, or the attempt ends with its refusal.
macro_rules! check {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(refused) => return Ok(Err(refused.into())),
        }
    };
}

async fn resolve(conn: &mut Conn, name: &str) -> Result<Option<String>, Error> {
    let row = sqlx::query(
        "SELECT name FROM freight WHERE name = $1 OR alias = $1 ORDER BY name = $1 DESC LIMIT 1",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.get::<String, _>(0)))
}

/// The Freight named `name`, its row locked for this transaction when
/// `lock`.
async fn load_freight(conn: &mut Conn, name: &str, lock: bool) -> Result<Option<Freight>, Error> {
    let sql = if lock {
        "SELECT doc FROM freight WHERE name = $1 FOR UPDATE"
    } else {
        "SELECT doc FROM freight WHERE name = $1"
    };
    let row = sqlx::query(sql)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row
        .map(|r| from_doc("Freight", name, r.get::<&str, _>(0)))
        .transpose()?)
}

/// The name and the Freight named or aliased `name`, its row locked for
/// this transaction when `lock`; `Ok(Err)` when there is none.
async fn stored_freight(conn: &mut Conn, name: &str, lock: bool) -> Attempt<(String, Freight)> {
    let Some(key) = resolve(conn, name).await? else {
        return Ok(Err(rules::freight_not_found(name)));
    };
    Ok(load_freight(conn, &key, lock)
        .await?
        .map(|freight| (key, freight))
        .ok_or_else(|| rules::freight_not_found(name)))
}

async fn update_freight(conn: &mut Conn, f: &Freight) -> Result<(), Error> {
    sqlx::query("UPDATE freight SET alias = $2, doc = $3 WHERE name = $1")
        .bind(&f.metadata.name)
        .bind(&f.alias)
        .bind(to_doc("Freight", &f.metadata.name, f)?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The state of `stage`, its row created if missing and locked for this
/// transaction.
async fn lock_stage(conn: &mut Conn, stage: &str) -> Result<StageState, Error> {
    sqlx::query("INSERT INTO stages (name, doc) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(stage)
        .bind(to_doc("Stage", stage, &StageState::new(stage))?)
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query("SELECT doc FROM stages WHERE name = $1 FOR UPDATE")
        .bind(stage)
        .fetch_one(&mut *conn)
        .await?;
    Ok(from_doc("Stage", stage, row.get::<&str, _>(0))?)
}

async fn save_stage(conn: &mut Conn, stage: &StageState) -> Result<(), Error> {
    sqlx::query("UPDATE stages SET doc = $2 WHERE name = $1")
        .bind(&stage.name)
        .bind(to_doc("Stage", &stage.name, stage)?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn load_promotion(
    conn: &mut Conn,
    name: &str,
    lock: bool,
) -> Result<Option<PromotionRecord>, Error> {
    let sql = if lock {
        "SELECT doc FROM promotions WHERE name = $1 FOR UPDATE"
    } else {
        "SELECT doc FROM promotions WHERE name = $1"
    };
    let row = sqlx::query(sql)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row
        .map(|r| from_doc("Promotion", name, r.get::<&str, _>(0)))
        .transpose()?)
}

/// The promotion named `name`, its row locked for this transaction;
/// `Ok(Err)` when there is none.
async fn stored_promotion(conn: &mut Conn, name: &str) -> Attempt<PromotionRecord> {
    Ok(load_promotion(conn, name, true)
        .await?
        .ok_or_else(|| rules::promotion_not_found(name)))
}

async fn save_promotion(conn: &mut Conn, p: &PromotionRecord) -> Result<(), Error> {
    sqlx::query(
        "UPDATE promotions SET phase = $2, owner = $3, lease_until = $4, doc = $5 WHERE name = $1",
    )
    .bind(&p.name)
    .bind(p.phase.as_str())
    .bind(p.lease.as_ref().map(|l| l.owner.as_str()))
    .bind(p.lease.as_ref().map(|l| l.until.unix_millis()))
    .bind(to_doc("Promotion", &p.name, p)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Sends `change` to every listener when the transaction commits.
async fn notify(conn: &mut Conn, change: &Change) -> Result<(), Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(to_doc("change", "notification", change)?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The next claimable promotion (see [`StateStore::claim_promotion`]),
/// locked; promotions other replicas are claiming are skipped.
const CLAIM_NEXT: &str = "\
SELECT p.doc FROM promotions p
WHERE ($1::text IS NULL OR p.stage = $1)
  AND ((p.phase = 'Running' AND (p.owner = $2 OR p.lease_until <= $3))
    OR (p.phase = 'Pending'
      AND NOT EXISTS (SELECT 1 FROM promotions r WHERE r.stage = p.stage AND r.phase = 'Running')
      AND NOT EXISTS (SELECT 1 FROM promotions o
                      WHERE o.stage = p.stage AND o.phase = 'Pending' AND o.seq < p.seq)))
ORDER BY p.seq
LIMIT 1
FOR UPDATE OF p SKIP LOCKED";

impl PostgresStore {
    async fn put_freight_once(&self, freight: Freight) -> Attempt<PutFreight> {
        let mut tx = self.begin().await?;
        let name = rules::freight_name(&freight);
        if let Some(existing) = load_freight(&mut tx, &name, false).await? {
            return Ok(Ok(PutFreight::existing(existing)));
        }
        let first = rules::first_alias(&freight, &name);
        let mut taken = std::collections::HashSet::new();
        if resolve(&mut tx, &first).await?.is_some() {
            taken.insert(first);
            if freight.alias.is_empty() {
                for r in sqlx::query("SELECT name, alias FROM freight")
                    .fetch_all(&mut *tx)
                    .await?
                {
                    taken.insert(r.get::<String, _>(0));
                    taken.insert(r.get::<String, _>(1));
                }
            }
        }
        let freight = check!(rules::prepare_freight(freight, |a| taken.contains(a)));
        let inserted = sqlx::query(
            "INSERT INTO freight (name, alias, origin, discovered_at, doc) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&freight.metadata.name)
        .bind(&freight.alias)
        .bind(freight.origin.to_string())
        .bind(discovered_at(&freight).map(Timestamp::unix_millis))
        .bind(to_doc("Freight", &freight.metadata.name, &freight)?)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // Another replica stored it in the meantime.
            tx.rollback().await?;
            let mut conn = self.inner.pool.acquire().await?;
            let existing = load_freight(&mut conn, &name, false).await?;
            return Ok(existing
                .map(PutFreight::existing)
                .ok_or_else(|| rules::freight_not_found(&name)));
        }
        notify(
            &mut tx,
            &Change::FreightCreated {
                freight: freight.metadata.name.clone(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(PutFreight::new(freight)))
    }

    async fn update_freight_status_once(
        &self,
        name: &str,
        update: StatusUpdate<'_>,
    ) -> Attempt<Freight> {
        let mut tx = self.begin().await?;
        let (key, mut freight) = check!(stored_freight(&mut tx, name, true).await?);
        let before = freight.status.clone();
        update(&mut freight.status);
        update_freight(&mut tx, &freight).await?;
        for change in Change::approvals(&key, &before, &freight.status) {
            notify(&mut tx, &change).await?;
        }
        tx.commit().await?;
        Ok(Ok(freight))
    }

    async fn set_freight_alias_once(&self, name: &str, new_alias: &str) -> Attempt<Freight> {
        let mut tx = self.begin().await?;
        let key = check!(
            resolve(&mut tx, name)
                .await?
                .ok_or_else(|| rules::freight_not_found(name))
        );
        if resolve(&mut tx, new_alias)
            .await?
            .is_some_and(|owner| owner != key)
        {
            return Ok(Err(rules::alias_exists(new_alias)));
        }
        let mut freight = check!(
            load_freight(&mut tx, &key, true)
                .await?
                .ok_or_else(|| rules::freight_not_found(name))
        );
        freight.alias = new_alias.to_owned();
        update_freight(&mut tx, &freight).await?;
        tx.commit().await?;
        Ok(Ok(freight))
    }

    async fn record_verification_once(
        &self,
        stage: &str,
        verification: VerificationRecord,
    ) -> Attempt<StageState> {
        let mut tx = self.begin().await?;
        let mut state = lock_stage(&mut tx, stage).await?;
        if let Some((mut names, at)) = check!(rules::apply_verification(&mut state, verification)) {
            names.sort_unstable();
            for name in names {
                if let Some(mut f) = load_freight(&mut tx, &name, true).await? {
                    f.status.add_verified_stage(stage, at);
                    update_freight(&mut tx, &f).await?;
                }
            }
        }
        save_stage(&mut tx, &state).await?;
        tx.commit().await?;
        Ok(Ok(state))
    }

    async fn create_promotion_once(&self, new: NewPromotion) -> Attempt<PromotionRecord> {
        let mut tx = self.begin().await?;
        let (key, freight) = check!(stored_freight(&mut tx, &new.freight, false).await?);
        let seq: i64 = sqlx::query("SELECT nextval('promotion_seq')")
            .fetch_one(&mut *tx)
            .await?
            .get(0);
        let name = rules::promotion_name(&new.stage, seq.unsigned_abs(), &key);
        let record = rules::new_promotion(name, new, &freight);
        sqlx::query(
            "INSERT INTO promotions (seq, name, stage, freight, phase, doc) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(seq)
        .bind(&record.name)
        .bind(&record.stage)
        .bind(&record.freight)
        .bind(record.phase.as_str())
        .bind(to_doc("Promotion", &record.name, &record)?)
        .execute(&mut *tx)
        .await?;
        let mut stage = lock_stage(&mut tx, &record.stage).await?;
        rules::apply_hold(&mut stage, &record);
        save_stage(&mut tx, &stage).await?;
        notify(
            &mut tx,
            &Change::PromotionCreated {
                promotion: record.name.clone(),
                stage: record.stage.clone(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(record))
    }

    async fn start_promotion_once(
        &self,
        stage: &str,
        now: Timestamp,
    ) -> Attempt<Option<PromotionRecord>> {
        let mut tx = self.begin().await?;
        // Serializes starts in this Stage: the Stage's row is the lock.
        lock_stage(&mut tx, stage).await?;
        let running =
            sqlx::query("SELECT 1 FROM promotions WHERE stage = $1 AND phase = 'Running'")
                .bind(stage)
                .fetch_optional(&mut *tx)
                .await?;
        if running.is_some() {
            return Ok(Ok(None));
        }
        let next = sqlx::query(
            "SELECT name FROM promotions WHERE stage = $1 AND phase = 'Pending' \
             ORDER BY seq LIMIT 1 FOR UPDATE",
        )
        .bind(stage)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = next else {
            return Ok(Ok(None));
        };
        let name: String = row.get(0);
        let mut promo = check!(
            load_promotion(&mut tx, &name, true)
                .await?
                .ok_or_else(|| rules::promotion_not_found(&name))
        );
        promo.phase = PromotionPhase::Running;
        promo.started_at = Some(now);
        save_promotion(&mut tx, &promo).await?;
        tx.commit().await?;
        Ok(Ok(Some(promo)))
    }

    async fn save_promotion_state_once(
        &self,
        name: &str,
        state: &PromotionState,
        opts: &SaveOptions,
    ) -> Attempt<()> {
        let mut tx = self.begin().await?;
        let mut promo = check!(stored_promotion(&mut tx, name).await?);
        check!(rules::check_save(&promo, state));
        if let Some(lease) = &opts.lease {
            check!(rules::renew_promotion_lease(&mut promo, lease));
        }
        promo.state = state.clone();
        save_promotion(&mut tx, &promo).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn renew_promotion_lease_once(&self, name: &str, lease: &Lease) -> Attempt<()> {
        let mut tx = self.begin().await?;
        let mut promo = check!(stored_promotion(&mut tx, name).await?);
        check!(rules::renew_promotion_lease(&mut promo, lease));
        save_promotion(&mut tx, &promo).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn finish_promotion_once(&self, name: &str, now: Timestamp) -> Attempt<PromotionRecord> {
        let mut tx = self.begin().await?;
        let mut promo = check!(stored_promotion(&mut tx, name).await?);
        if promo.phase.is_terminal() {
            return Ok(Ok(promo));
        }
        let mut stage = lock_stage(&mut tx, &promo.stage).await?;
        let Some(finish) = check!(rules::plan_finish(&promo, &stage)) else {
            return Ok(Ok(promo));
        };
        // Lock the Freight in name order, as every transaction does.
        let mut names: Vec<&str> = std::iter::once(promo.freight.as_str())
            .chain(finish.outgoing.as_deref())
            .collect();
        names.sort_unstable();
        let (mut incoming, mut outgoing) = (None, None);
        for n in names {
            let f = load_freight(&mut tx, n, true).await?;
            if n == promo.freight {
                incoming = f;
            } else {
                outgoing = f;
            }
        }
        rules::apply_finish(
            &mut promo,
            &mut stage,
            incoming.as_mut(),
            outgoing.as_mut(),
            now,
        );
        for f in [incoming, outgoing].iter().flatten() {
            update_freight(&mut tx, f).await?;
        }
        save_stage(&mut tx, &stage).await?;
        save_promotion(&mut tx, &promo).await?;
        notify(&mut tx, &Change::finished(&promo)).await?;
        tx.commit().await?;
        Ok(Ok(promo))
    }

    async fn abort_promotion_once(
        &self,
        name: &str,
        request: &AbortRequest,
    ) -> Attempt<PromotionRecord> {
        let mut tx = self.begin().await?;
        let mut promo = check!(stored_promotion(&mut tx, name).await?);
        if check!(rules::apply_abort(&mut promo, request)) {
            save_promotion(&mut tx, &promo).await?;
            notify(&mut tx, &Change::aborted(&promo)).await?;
            tx.commit().await?;
        }
        Ok(Ok(promo))
    }

    async fn put_resource_once(
        &self,
        resource: &StoredResource,
        write: ResourceWrite,
    ) -> Attempt<bool> {
        let key = &resource.key;
        let doc = to_doc("resource", &key.to_string(), &resource.doc)?;
        let mut tx = self.begin().await?;
        let exists = sqlx::query(
            "SELECT 1 FROM resources WHERE kind = $1 AND namespace = $2 AND name = $3 FOR UPDATE",
        )
        .bind(&key.kind)
        .bind(&key.namespace)
        .bind(&key.name)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        check!(rules::check_resource_write(key, write, exists));
        let inserted = sqlx::query(
            "INSERT INTO resources (kind, namespace, name, doc) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (kind, namespace, name) DO UPDATE SET doc = excluded.doc \
             RETURNING (xmax = 0)",
        )
        .bind(&key.kind)
        .bind(&key.namespace)
        .bind(&key.name)
        .bind(doc)
        .fetch_one(&mut *tx)
        .await?
        .get::<bool, _>(0);
        if write == ResourceWrite::Create && !inserted {
            // Another replica created it since the check above.
            return Ok(Err(rules::resource_exists(key)));
        }
        notify(&mut tx, &Change::resource(key)).await?;
        tx.commit().await?;
        Ok(Ok(inserted))
    }

    async fn delete_resource_once(&self, key: &ResourceKey) -> Attempt<Option<StoredResource>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "DELETE FROM resources WHERE kind = $1 AND namespace = $2 AND name = $3 RETURNING doc",
        )
        .bind(&key.kind)
        .bind(&key.namespace)
        .bind(&key.name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Ok(None));
        };
        let doc = from_doc("resource", &key.to_string(), row.get::<&str, _>(0))?;
        notify(&mut tx, &Change::resource(key)).await?;
        tx.commit().await?;
        Ok(Ok(Some(StoredResource::new(key.clone(), doc))))
    }

    async fn record_discovery_once(
        &self,
        warehouse: &str,
        outcome: &DiscoveryOutcome,
        at: Timestamp,
    ) -> Attempt<WarehouseState> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO warehouses (name, doc) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(warehouse)
        .bind(to_doc(
            "Warehouse",
            warehouse,
            &WarehouseState::new(warehouse),
        )?)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT doc FROM warehouses WHERE name = $1 FOR UPDATE")
            .bind(warehouse)
            .fetch_one(&mut *tx)
            .await?;
        let mut state: WarehouseState = from_doc("Warehouse", warehouse, row.get::<&str, _>(0))?;
        rules::record_discovery(&mut state, outcome, at);
        sqlx::query("UPDATE warehouses SET doc = $2 WHERE name = $1")
            .bind(warehouse)
            .bind(to_doc("Warehouse", warehouse, &state)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(state))
    }

    async fn get_warehouse_once(&self, warehouse: &str) -> Attempt<WarehouseState> {
        let row = sqlx::query("SELECT doc FROM warehouses WHERE name = $1")
            .bind(warehouse)
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(Ok(match row {
            Some(r) => from_doc("Warehouse", warehouse, r.get::<&str, _>(0))?,
            None => WarehouseState::new(warehouse),
        }))
    }

    async fn upsert_stage_metadata_once(
        &self,
        stage: &str,
        values: &BTreeMap<String, Value>,
    ) -> Attempt<StageState> {
        let mut tx = self.begin().await?;
        let mut state = lock_stage(&mut tx, stage).await?;
        rules::upsert_metadata(&mut state.metadata, values);
        save_stage(&mut tx, &state).await?;
        tx.commit().await?;
        Ok(Ok(state))
    }

    async fn claim_promotion_once(&self, claim: &Claim) -> Attempt<Option<PromotionRecord>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(CLAIM_NEXT)
            .bind(claim.stage.as_deref())
            .bind(&claim.lease.owner)
            .bind(claim.now.unix_millis())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(Ok(None));
        };
        let mut promo: PromotionRecord = from_doc("Promotion", "claimed", row.get::<&str, _>(0))?;
        // The row is locked now: check the claim on what it holds.
        if promo.phase == PromotionPhase::Running && !rules::running_claimable(&promo, claim) {
            return Ok(Ok(None));
        }
        rules::apply_claim(&mut promo, claim);
        save_promotion(&mut tx, &promo).await?;
        tx.commit().await?;
        Ok(Ok(Some(promo)))
    }

    async fn acquire_lease_once(&self, key: &str, lease: &Lease, now: Timestamp) -> Attempt<bool> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO leases (key, owner, until) VALUES ($1, '', 0) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT owner, until FROM leases WHERE key = $1 FOR UPDATE")
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
        let owner: String = row.get(0);
        let current = (!owner.is_empty()).then(|| Lease {
            owner,
            until: Timestamp::from_unix_millis(row.get(1)),
        });
        if !rules::lease_available(current.as_ref(), lease, now) {
            return Ok(Ok(false));
        }
        sqlx::query("UPDATE leases SET owner = $2, until = $3 WHERE key = $1")
            .bind(key)
            .bind(&lease.owner)
            .bind(lease.until.unix_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(true))
    }

    /// Starts listening for change notifications unless it does already.
    async fn ensure_listening(&self) -> Result<(), Error> {
        let mut task = self.inner.listener.lock().await;
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return Ok(());
        }
        let mut listener = PgListener::connect_with(&self.inner.pool).await?;
        listener.listen(CHANNEL).await?;
        *task = Some(tokio::spawn(listen::forward(
            listener,
            self.inner.feed.clone(),
        )));
        Ok(())
    }
}

/// Reads that need no transaction.
impl PostgresStore {
    async fn get_freight_once(&self, name: &str) -> Attempt<Option<Freight>> {
        let mut conn = self.inner.pool.acquire().await?;
        let Some(key) = resolve(&mut conn, name).await? else {
            return Ok(Ok(None));
        };
        Ok(Ok(load_freight(&mut conn, &key, false).await?))
    }

    async fn list_freight_once(&self, query: &FreightQuery) -> Attempt<Vec<Freight>> {
        let rows = sqlx::query(
            "SELECT name, doc FROM freight WHERE ($1::text IS NULL OR origin = $1) \
             ORDER BY discovered_at NULLS FIRST, name",
        )
        .bind(query.origin.as_ref().map(ToString::to_string))
        .fetch_all(&self.inner.pool)
        .await?;
        Ok(Ok(named_docs(&rows, "Freight")?))
    }

    async fn get_stage_once(&self, stage: &str) -> Attempt<StageState> {
        let row = sqlx::query("SELECT doc FROM stages WHERE name = $1")
            .bind(stage)
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(Ok(match row {
            Some(r) => from_doc("Stage", stage, r.get::<&str, _>(0))?,
            None => StageState::new(stage),
        }))
    }

    async fn get_promotion_once(&self, name: &str) -> Attempt<Option<PromotionRecord>> {
        let mut conn = self.inner.pool.acquire().await?;
        Ok(Ok(load_promotion(&mut conn, name, false).await?))
    }

    async fn list_promotions_once(&self, query: &PromotionQuery) -> Attempt<Vec<PromotionRecord>> {
        let rows = sqlx::query(
            "SELECT name, doc FROM promotions \
             WHERE ($1::text IS NULL OR stage = $1) AND ($2::text IS NULL OR freight = $2) \
             ORDER BY seq",
        )
        .bind(query.stage.as_deref())
        .bind(query.freight.as_deref())
        .fetch_all(&self.inner.pool)
        .await?;
        Ok(Ok(named_docs(&rows, "Promotion")?))
    }

    async fn list_resources_once(&self) -> Attempt<Vec<StoredResource>> {
        let rows = sqlx::query(
            "SELECT kind, namespace, name, doc FROM resources ORDER BY kind, namespace, name",
        )
        .fetch_all(&self.inner.pool)
        .await?;
        Ok(Ok(rows.iter().map(resource).collect::<Result<_, _>>()?))
    }

    async fn release_lease_once(&self, key: &str, owner: &str) -> Attempt<()> {
        sqlx::query("UPDATE leases SET owner = '', until = 0 WHERE key = $1 AND owner = $2")
            .bind(key)
            .bind(owner)
            .execute(&self.inner.pool)
            .await?;
        Ok(Ok(()))
    }
}

#[async_trait]
impl StateStore for PostgresStore {
    async fn put_freight(&self, freight: Freight) -> Result<PutFreight> {
        self.retry("put_freight", move || {
            self.put_freight_once(freight.clone())
        })
        .await
    }

    async fn get_freight(&self, name: &str) -> Result<Option<Freight>> {
        self.retry("get_freight", move || self.get_freight_once(name))
            .await
    }

    async fn list_freight(&self, query: &FreightQuery) -> Result<Vec<Freight>> {
        self.retry("list_freight", move || self.list_freight_once(query))
            .await
    }

    async fn update_freight_status(&self, name: &str, update: StatusUpdate<'_>) -> Result<Freight> {
        self.retry("update_freight_status", move || {
            self.update_freight_status_once(name, update)
        })
        .await
    }

    async fn set_freight_alias(&self, name: &str, new_alias: &str) -> Result<Freight> {
        alias::validate(new_alias)?;
        self.retry("set_freight_alias", move || {
            self.set_freight_alias_once(name, new_alias)
        })
        .await
    }

    async fn get_stage(&self, stage: &str) -> Result<StageState> {
        self.retry("get_stage", move || self.get_stage_once(stage))
            .await
    }

    async fn get_warehouse(&self, warehouse: &str) -> Result<WarehouseState> {
        self.retry("get_warehouse", move || self.get_warehouse_once(warehouse))
            .await
    }

    async fn record_discovery(
        &self,
        warehouse: &str,
        outcome: &DiscoveryOutcome,
        at: Timestamp,
    ) -> Result<WarehouseState> {
        self.retry("record_discovery", move || {
            self.record_discovery_once(warehouse, outcome, at)
        })
        .await
    }

    async fn upsert_stage_metadata(
        &self,
        stage: &str,
        values: &BTreeMap<String, Value>,
    ) -> Result<StageState> {
        self.retry("upsert_stage_metadata", move || {
            self.upsert_stage_metadata_once(stage, values)
        })
        .await
    }

    async fn record_verification(
        &self,
        stage: &str,
        verification: VerificationRecord,
    ) -> Result<StageState> {
        self.retry("record_verification", move || {
            self.record_verification_once(stage, verification.clone())
        })
        .await
    }

    async fn create_promotion(&self, new: NewPromotion) -> Result<PromotionRecord> {
        self.retry("create_promotion", move || {
            self.create_promotion_once(new.clone())
        })
        .await
    }

    async fn start_promotion(
        &self,
        stage: &str,
        now: Timestamp,
    ) -> Result<Option<PromotionRecord>> {
        self.retry("start_promotion", move || {
            self.start_promotion_once(stage, now)
        })
        .await
    }

    async fn save_promotion_state(&self, name: &str, state: &PromotionState) -> Result<()> {
        self.save_promotion_state_opts(name, state, &SaveOptions::default())
            .await
    }

    async fn finish_promotion(&self, name: &str, now: Timestamp) -> Result<PromotionRecord> {
        self.retry("finish_promotion", move || {
            self.finish_promotion_once(name, now)
        })
        .await
    }

    async fn abort_promotion(&self, name: &str, request: &AbortRequest) -> Result<PromotionRecord> {
        self.retry("abort_promotion", move || {
            self.abort_promotion_once(name, request)
        })
        .await
    }

    async fn get_promotion(&self, name: &str) -> Result<Option<PromotionRecord>> {
        self.retry("get_promotion", move || self.get_promotion_once(name))
            .await
    }

    async fn list_promotions(&self, query: &PromotionQuery) -> Result<Vec<PromotionRecord>> {
        self.retry("list_promotions", move || self.list_promotions_once(query))
            .await
    }

    async fn claim_promotion(&self, claim: &Claim) -> Result<Option<PromotionRecord>> {
        // Two replicas may race to start Pending promotions of one Stage
        // (the second finds the first's row already Running); the unique
        // index refuses the second, which then looks again.
        for _ in 0..3 {
            match self
                .retry("claim_promotion", move || async move {
                    match self.claim_promotion_once(claim).await {
                        Err(e) if e.unique_violation().is_some() => {
                            Ok(Err(kargo_core::Error::Precondition(
                                "lost a race to start a promotion".into(),
                            )))
                        }
                        other => other,
                    }
                })
                .await
            {
                Err(kargo_core::Error::Precondition(_)) => continue,
                other => return other,
            }
        }
        Ok(None)
    }

    async fn save_promotion_state_opts(
        &self,
        name: &str,
        state: &PromotionState,
        opts: &SaveOptions,
    ) -> Result<()> {
        self.retry("save_promotion_state", move || {
            self.save_promotion_state_once(name, state, opts)
        })
        .await
    }

    async fn renew_promotion_lease(&self, name: &str, lease: &Lease) -> Result<()> {
        self.retry("renew_promotion_lease", move || {
            self.renew_promotion_lease_once(name, lease)
        })
        .await
    }

    async fn acquire_lease(&self, key: &str, lease: &Lease, now: Timestamp) -> Result<bool> {
        self.retry("acquire_lease", move || {
            self.acquire_lease_once(key, lease, now)
        })
        .await
    }

    async fn release_lease(&self, key: &str, owner: &str) -> Result<()> {
        self.retry("release_lease", move || self.release_lease_once(key, owner))
            .await
    }

    async fn list_resources(&self) -> Result<Vec<StoredResource>> {
        self.retry("list_resources", move || self.list_resources_once())
            .await
    }

    async fn put_resource(&self, resource: &StoredResource, write: ResourceWrite) -> Result<bool> {
        self.retry("put_resource", move || {
            self.put_resource_once(resource, write)
        })
        .await
    }

    async fn delete_resource(&self, key: &ResourceKey) -> Result<Option<StoredResource>> {
        self.retry("delete_resource", move || self.delete_resource_once(key))
            .await
    }

    async fn watch(&self) -> Result<Changes> {
        let changes = self.inner.feed.subscribe();
        with_backoff("watch", self.inner.options.retry_for, || {
            self.ensure_listening()
        })
        .await?;
        Ok(changes)
    }
}
