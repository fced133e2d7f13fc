use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use kargo_core::Result;
use kargo_core::engine::PromotionState;
use kargo_core::model::Freight;
use kargo_core::model::PromotionPhase;
use kargo_core::pipeline::{alias, discovered_at};
use kargo_core::state::{
    AbortRequest, Change, ChangeFeed, Changes, Claim, DiscoveryOutcome, FreightQuery, Lease,
    NewPromotion, PromotionQuery, PromotionRecord, PutFreight, ResourceKey, ResourceWrite,
    SaveOptions, StageState, StateStore, StatusUpdate, StoredResource, VerificationRecord,
    WarehouseState, rules,
};
use kargo_core::time::Timestamp;
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};

use super::error::Error;
use crate::doc::{from_doc, to_doc};
use crate::migrations::{SQLITE, migrator};
use crate::sql::{named_docs, resource};

/// A [`StateStore`] in one SQLite file, created (and migrated) on first
/// use.
///
/// Every method is one `BEGIN IMMEDIATE` transaction with
/// `synchronous=FULL`, so a change is on disk when the method returns and
/// a crash leaves the old or the new state. Several processes may share
/// the file; writers wait for each other (up to a 30 s busy timeout).
/// [`watch`](StateStore::watch) sees the changes made through this store
/// (and its clones) only.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
    feed: ChangeFeed,
}

type Conn = SqliteConnection;

impl SqliteStore {
    /// Opens the database at `path`, creating it when missing, and runs
    /// the pending migrations.
    ///
    /// Processes opening the same file at once take turns (an OS file
    /// lock on `PATH.open.lock`, waited for): the first creates and
    /// migrates it, the others find it migrated.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let _turn = open_lock(&path).await?;
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|source| Error::Open {
                path: path.clone(),
                source,
            })?;
        let migrate = |source| Error::Migrate {
            path: path.clone(),
            source,
        };
        migrator(SQLITE)
            .await
            .map_err(migrate)?
            .run(&pool)
            .await
            .map_err(migrate)?;
        Ok(SqliteStore {
            pool,
            path,
            feed: ChangeFeed::new(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, Error> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// The lock taken while the database at `path` is opened, created and
/// migrated: `PATH.open.lock`, next to it, waited for without blocking
/// the runtime. Released when the file is dropped (or its process dies).
async fn open_lock(path: &Path) -> Result<std::fs::File, Error> {
    let mut name = path.as_os_str().to_owned();
    name.push(".open.lock");
    let lock_path = PathBuf::from(name);
    let failed = |source| Error::OpenLock {
        path: lock_path.clone(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(failed)?;
    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| failed(std::io::Error::other(e)))?
        .map_err(failed)
}

async fn resolve(conn: &mut Conn, name: &str) -> Result<Option<String>, Error> {
    let row = sqlx::query(
        "SELECT name FROM freight WHERE name = ?1 OR alias = ?1 ORDER BY name = ?1 DESC LIMIT 1",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.get::<String, _>(0)))
}

async fn load_freight(conn: &mut Conn, name: &str) -> Result<Option<Freight>, Error> {
    let row = sqlx::query("SELECT doc FROM freight WHERE name = ?1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row
        .map(|r| from_doc("Freight", name, r.get::<&str, _>(0)))
        .transpose()?)
}

/// The name and the Freight named or aliased `name`.
async fn stored_freight(conn: &mut Conn, name: &str) -> Result<(String, Freight)> {
    let key = resolve(conn, name)
        .await?
        .ok_or_else(|| rules::freight_not_found(name))?;
    let freight = load_freight(conn, &key)
        .await?
        .ok_or_else(|| rules::freight_not_found(name))?;
    Ok((key, freight))
}

async fn alias_taken(conn: &mut Conn, alias: &str) -> Result<bool, Error> {
    Ok(resolve(conn, alias).await?.is_some())
}

async fn insert_freight(conn: &mut Conn, f: &Freight) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO freight (name, alias, origin, discovered_at, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(&f.metadata.name)
    .bind(&f.alias)
    .bind(f.origin.to_string())
    .bind(discovered_at(f).map(Timestamp::unix_millis))
    .bind(to_doc("Freight", &f.metadata.name, f)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn update_freight(conn: &mut Conn, f: &Freight) -> Result<(), Error> {
    sqlx::query("UPDATE freight SET alias = ?2, doc = ?3 WHERE name = ?1")
        .bind(&f.metadata.name)
        .bind(&f.alias)
        .bind(to_doc("Freight", &f.metadata.name, f)?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The document named `name` in `table` (`stages`, `warehouses`), or
/// `empty` when there is none yet.
async fn load_named<T: serde::de::DeserializeOwned>(
    conn: &mut Conn,
    table: &'static str,
    what: &'static str,
    name: &str,
    empty: impl FnOnce() -> T,
) -> Result<T, Error> {
    let row = sqlx::query(&format!("SELECT doc FROM {table} WHERE name = ?1"))
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(r) => Ok(from_doc(what, name, r.get::<&str, _>(0))?),
        None => Ok(empty()),
    }
}

async fn load_stage(conn: &mut Conn, stage: &str) -> Result<StageState, Error> {
    load_named(conn, "stages", "Stage", stage, || StageState::new(stage)).await
}

async fn save_stage(conn: &mut Conn, stage: &StageState) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO stages (name, doc) VALUES (?1, ?2) \
         ON CONFLICT (name) DO UPDATE SET doc = excluded.doc",
    )
    .bind(&stage.name)
    .bind(to_doc("Stage", &stage.name, stage)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn load_warehouse(conn: &mut Conn, name: &str) -> Result<WarehouseState, Error> {
    load_named(conn, "warehouses", "Warehouse", name, || {
        WarehouseState::new(name)
    })
    .await
}

async fn load_promotion(conn: &mut Conn, name: &str) -> Result<Option<PromotionRecord>, Error> {
    let row = sqlx::query("SELECT doc FROM promotions WHERE name = ?1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row
        .map(|r| from_doc("Promotion", name, r.get::<&str, _>(0)))
        .transpose()?)
}

/// The promotion named `name`.
async fn stored_promotion(conn: &mut Conn, name: &str) -> Result<PromotionRecord> {
    load_promotion(conn, name)
        .await?
        .ok_or_else(|| rules::promotion_not_found(name))
}

async fn save_promotion(conn: &mut Conn, p: &PromotionRecord) -> Result<(), Error> {
    sqlx::query("UPDATE promotions SET phase = ?2, doc = ?3 WHERE name = ?1")
        .bind(&p.name)
        .bind(p.phase.as_str())
        .bind(to_doc("Promotion", &p.name, p)?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[async_trait]
impl StateStore for SqliteStore {
    async fn put_freight(&self, freight: Freight) -> Result<PutFreight> {
        let mut tx = self.begin().await?;
        let name = rules::freight_name(&freight);
        if let Some(existing) = load_freight(&mut tx, &name).await? {
            return Ok(PutFreight::existing(existing));
        }
        // Check the first alias choice alone; load every name only when it
        // is taken.
        let mut taken = std::collections::HashSet::new();
        let first = rules::first_alias(&freight, &name);
        if alias_taken(&mut tx, &first).await? {
            taken.insert(first);
            if freight.alias.is_empty() {
                let rows = sqlx::query("SELECT name, alias FROM freight")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(Error::from)?;
                for r in rows {
                    taken.insert(r.get::<String, _>(0));
                    taken.insert(r.get::<String, _>(1));
                }
            }
        }
        let freight = rules::prepare_freight(freight, |a| taken.contains(a))?;
        insert_freight(&mut tx, &freight).await?;
        tx.commit().await.map_err(Error::from)?;
        self.feed.publish(Change::FreightCreated {
            freight: freight.metadata.name.clone(),
        });
        Ok(PutFreight::new(freight))
    }

    async fn get_freight(&self, name: &str) -> Result<Option<Freight>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let Some(key) = resolve(&mut conn, name).await? else {
            return Ok(None);
        };
        Ok(load_freight(&mut conn, &key).await?)
    }

    async fn list_freight(&self, query: &FreightQuery) -> Result<Vec<Freight>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let rows =
            match &query.origin {
                Some(origin) => sqlx::query(
                    "SELECT name, doc FROM freight WHERE origin = ?1 ORDER BY discovered_at, name",
                )
                .bind(origin.to_string())
                .fetch_all(&mut *conn)
                .await,
                None => {
                    sqlx::query("SELECT name, doc FROM freight ORDER BY discovered_at, name")
                        .fetch_all(&mut *conn)
                        .await
                }
            }
            .map_err(Error::from)?;
        Ok(named_docs(&rows, "Freight").map_err(Error::from)?)
    }

    async fn update_freight_status(&self, name: &str, update: StatusUpdate<'_>) -> Result<Freight> {
        let mut tx = self.begin().await?;
        let (key, mut freight) = stored_freight(&mut tx, name).await?;
        let before = freight.status.clone();
        update(&mut freight.status);
        update_freight(&mut tx, &freight).await?;
        tx.commit().await.map_err(Error::from)?;
        self.feed
            .publish_all(Change::approvals(&key, &before, &freight.status));
        Ok(freight)
    }

    async fn set_freight_alias(&self, name: &str, new_alias: &str) -> Result<Freight> {
        alias::validate(new_alias)?;
        let mut tx = self.begin().await?;
        let key = resolve(&mut tx, name)
            .await?
            .ok_or_else(|| rules::freight_not_found(name))?;
        match resolve(&mut tx, new_alias).await? {
            Some(owner) if owner == key => {}
            Some(_) => return Err(rules::alias_exists(new_alias)),
            None => {}
        }
        let mut freight = load_freight(&mut tx, &key)
            .await?
            .ok_or_else(|| rules::freight_not_found(name))?;
        freight.alias = new_alias.to_owned();
        update_freight(&mut tx, &freight).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(freight)
    }

    async fn get_stage(&self, stage: &str) -> Result<StageState> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load_stage(&mut conn, stage).await?)
    }

    async fn get_warehouse(&self, warehouse: &str) -> Result<WarehouseState> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load_warehouse(&mut conn, warehouse).await?)
    }

    async fn record_discovery(
        &self,
        warehouse: &str,
        outcome: &DiscoveryOutcome,
        at: Timestamp,
    ) -> Result<WarehouseState> {
        let mut tx = self.begin().await?;
        let mut state = load_warehouse(&mut tx, warehouse).await?;
        rules::record_discovery(&mut state, outcome, at);
        sqlx::query(
            "INSERT INTO warehouses (name, doc) VALUES (?1, ?2) \
             ON CONFLICT (name) DO UPDATE SET doc = excluded.doc",
        )
        .bind(warehouse)
        .bind(to_doc("Warehouse", warehouse, &state).map_err(Error::from)?)
        .execute(&mut *tx)
        .await
        .map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        Ok(state)
    }

    async fn upsert_stage_metadata(
        &self,
        stage: &str,
        values: &BTreeMap<String, Value>,
    ) -> Result<StageState> {
        // The Stage document is JSON, so its `metadata` needs no migration.
        let mut tx = self.begin().await?;
        let mut state = load_stage(&mut tx, stage).await?;
        rules::upsert_metadata(&mut state.metadata, values);
        save_stage(&mut tx, &state).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(state)
    }

    async fn record_verification(
        &self,
        stage: &str,
        verification: VerificationRecord,
    ) -> Result<StageState> {
        let mut tx = self.begin().await?;
        let mut state = load_stage(&mut tx, stage).await?;
        if let Some((names, at)) = rules::apply_verification(&mut state, verification)? {
            for name in names {
                if let Some(mut f) = load_freight(&mut tx, &name).await? {
                    f.status.add_verified_stage(stage, at);
                    update_freight(&mut tx, &f).await?;
                }
            }
        }
        save_stage(&mut tx, &state).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(state)
    }

    async fn create_promotion(&self, new: NewPromotion) -> Result<PromotionRecord> {
        let mut tx = self.begin().await?;
        let (key, freight) = stored_freight(&mut tx, &new.freight).await?;
        let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 FROM promotions")
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::from)?
            .get(0);
        let name = rules::promotion_name(&new.stage, seq.unsigned_abs(), &key);
        let record = rules::new_promotion(name, new, &freight);
        sqlx::query(
            "INSERT INTO promotions (seq, name, stage, freight, phase, doc) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(seq)
        .bind(&record.name)
        .bind(&record.stage)
        .bind(&record.freight)
        .bind(record.phase.as_str())
        .bind(to_doc("Promotion", &record.name, &record).map_err(Error::from)?)
        .execute(&mut *tx)
        .await
        .map_err(Error::from)?;
        let mut stage = load_stage(&mut tx, &record.stage).await?;
        rules::apply_hold(&mut stage, &record);
        save_stage(&mut tx, &stage).await?;
        tx.commit().await.map_err(Error::from)?;
        self.feed.publish(Change::PromotionCreated {
            promotion: record.name.clone(),
            stage: record.stage.clone(),
        });
        Ok(record)
    }

    async fn start_promotion(
        &self,
        stage: &str,
        now: Timestamp,
    ) -> Result<Option<PromotionRecord>> {
        let mut tx = self.begin().await?;
        let running =
            sqlx::query("SELECT 1 FROM promotions WHERE stage = ?1 AND phase = 'Running'")
                .bind(stage)
                .fetch_optional(&mut *tx)
                .await
                .map_err(Error::from)?;
        if running.is_some() {
            return Ok(None);
        }
        let next = sqlx::query(
            "SELECT name FROM promotions WHERE stage = ?1 AND phase = 'Pending' ORDER BY seq LIMIT 1",
        )
        .bind(stage)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Error::from)?;
        let Some(row) = next else {
            return Ok(None);
        };
        let name: String = row.get(0);
        let mut promo = load_promotion(&mut tx, &name)
            .await?
            .ok_or_else(|| rules::promotion_not_found(&name))?;
        promo.phase = PromotionPhase::Running;
        promo.started_at = Some(now);
        save_promotion(&mut tx, &promo).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(Some(promo))
    }

    async fn save_promotion_state(&self, name: &str, state: &PromotionState) -> Result<()> {
        self.save_promotion_state_opts(name, state, &SaveOptions::default())
            .await
    }

    async fn save_promotion_state_opts(
        &self,
        name: &str,
        state: &PromotionState,
        opts: &SaveOptions,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut promo = stored_promotion(&mut tx, name).await?;
        rules::check_save(&promo, state)?;
        if let Some(lease) = &opts.lease {
            rules::renew_promotion_lease(&mut promo, lease)?;
        }
        promo.state = state.clone();
        save_promotion(&mut tx, &promo).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn finish_promotion(&self, name: &str, now: Timestamp) -> Result<PromotionRecord> {
        let mut tx = self.begin().await?;
        let mut promo = stored_promotion(&mut tx, name).await?;
        let mut stage = load_stage(&mut tx, &promo.stage).await?;
        let Some(finish) = rules::plan_finish(&promo, &stage)? else {
            return Ok(promo);
        };
        let mut incoming = load_freight(&mut tx, &promo.freight).await?;
        let mut outgoing = match &finish.outgoing {
            Some(n) => load_freight(&mut tx, n).await?,
            None => None,
        };
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
        tx.commit().await.map_err(Error::from)?;
        self.feed.publish(Change::finished(&promo));
        Ok(promo)
    }

    async fn abort_promotion(&self, name: &str, request: &AbortRequest) -> Result<PromotionRecord> {
        let mut tx = self.begin().await?;
        let mut promo = stored_promotion(&mut tx, name).await?;
        if rules::apply_abort(&mut promo, request)? {
            save_promotion(&mut tx, &promo).await?;
            tx.commit().await.map_err(Error::from)?;
            self.feed.publish(Change::aborted(&promo));
        }
        Ok(promo)
    }

    async fn get_promotion(&self, name: &str) -> Result<Option<PromotionRecord>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load_promotion(&mut conn, name).await?)
    }

    async fn list_promotions(&self, query: &PromotionQuery) -> Result<Vec<PromotionRecord>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let rows = sqlx::query(
            "SELECT name, doc FROM promotions \
             WHERE (?1 IS NULL OR stage = ?1) AND (?2 IS NULL OR freight = ?2) ORDER BY seq",
        )
        .bind(query.stage.as_deref())
        .bind(query.freight.as_deref())
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::from)?;
        Ok(named_docs(&rows, "Promotion").map_err(Error::from)?)
    }

    async fn claim_promotion(&self, claim: &Claim) -> Result<Option<PromotionRecord>> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "SELECT name, doc FROM promotions WHERE phase IN ('Pending', 'Running') \
             AND (?1 IS NULL OR stage = ?1) ORDER BY seq",
        )
        .bind(claim.stage.as_deref())
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::from)?;
        let active: Vec<PromotionRecord> = named_docs(&rows, "Promotion").map_err(Error::from)?;
        let Some(mut promo) = rules::pick_claim(&active, claim).cloned() else {
            return Ok(None);
        };
        rules::apply_claim(&mut promo, claim);
        save_promotion(&mut tx, &promo).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(Some(promo))
    }

    async fn renew_promotion_lease(&self, name: &str, lease: &Lease) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut promo = stored_promotion(&mut tx, name).await?;
        rules::renew_promotion_lease(&mut promo, lease)?;
        save_promotion(&mut tx, &promo).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn acquire_lease(&self, key: &str, lease: &Lease, now: Timestamp) -> Result<bool> {
        let mut tx = self.begin().await?;
        let current = sqlx::query("SELECT owner, until FROM leases WHERE key = ?1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(Error::from)?
            .map(|r| Lease {
                owner: r.get(0),
                until: Timestamp::from_unix_millis(r.get(1)),
            });
        if !rules::lease_available(current.as_ref(), lease, now) {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO leases (key, owner, until) VALUES (?1, ?2, ?3) \
             ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, until = excluded.until",
        )
        .bind(key)
        .bind(&lease.owner)
        .bind(lease.until.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        Ok(true)
    }

    async fn release_lease(&self, key: &str, owner: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE key = ?1 AND owner = ?2")
            .bind(key)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(())
    }

    async fn list_resources(&self) -> Result<Vec<StoredResource>> {
        let rows = sqlx::query(
            "SELECT kind, namespace, name, doc FROM resources ORDER BY kind, namespace, name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(Error::from)?;
        Ok(rows
            .iter()
            .map(resource)
            .collect::<Result<_, _>>()
            .map_err(Error::from)?)
    }

    async fn put_resource(&self, resource: &StoredResource, write: ResourceWrite) -> Result<bool> {
        let key = &resource.key;
        let doc = to_doc("resource", &key.to_string(), &resource.doc).map_err(Error::from)?;
        let mut tx = self.begin().await?;
        let exists =
            sqlx::query("SELECT 1 FROM resources WHERE kind = ?1 AND namespace = ?2 AND name = ?3")
                .bind(&key.kind)
                .bind(&key.namespace)
                .bind(&key.name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(Error::from)?
                .is_some();
        rules::check_resource_write(key, write, exists)?;
        sqlx::query(
            "INSERT INTO resources (kind, namespace, name, doc) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (kind, namespace, name) DO UPDATE SET doc = excluded.doc",
        )
        .bind(&key.kind)
        .bind(&key.namespace)
        .bind(&key.name)
        .bind(doc)
        .execute(&mut *tx)
        .await
        .map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        self.feed.publish(Change::resource(key));
        Ok(!exists)
    }

    async fn delete_resource(&self, key: &ResourceKey) -> Result<Option<StoredResource>> {
        let row = sqlx::query(
            "DELETE FROM resources WHERE kind = ?1 AND namespace = ?2 AND name = ?3 RETURNING doc",
        )
        .bind(&key.kind)
        .bind(&key.namespace)
        .bind(&key.name)
        .fetch_optional(&self.pool)
        .await
        .map_err(Error::from)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let doc =
            from_doc("resource", &key.to_string(), row.get::<&str, _>(0)).map_err(Error::from)?;
        self.feed.publish(Change::resource(key));
        Ok(Some(StoredResource::new(key.clone(), doc)))
    }

    async fn watch(&self) -> Result<Changes> {
        Ok(self.feed.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kargo_core::conformance::state_store;
    use kargo_core::model::{Freight, FreightOrigin};
    use kargo_core::state::DynStateStore;

    use super::*;

    #[tokio::test]
    async fn sqlite_store_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("state.db"))
            .await
            .expect("open");
        state_store::run_all(&store).await;
    }

    #[tokio::test]
    async fn arc_and_box_sqlite_stores_pass_the_conformance_suite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<DynStateStore> = Arc::new(
            SqliteStore::open(dir.path().join("a.db"))
                .await
                .expect("open"),
        );
        state_store::run_all(&store).await;
        let store: Box<DynStateStore> = Box::new(
            SqliteStore::open(dir.path().join("b.db"))
                .await
                .expect("open"),
        );
        state_store::run_all(&store).await;
    }

    #[tokio::test]
    async fn state_survives_reopening_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested-new-file.db");
        let name = {
            let store = SqliteStore::open(&path)
                .await
                .expect("created on first use");
            let put = store
                .put_freight(Freight {
                    origin: FreightOrigin::warehouse("app"),
                    ..Default::default()
                })
                .await
                .expect("put");
            store
                .create_promotion(NewPromotion::new("dev", &put.freight.alias))
                .await
                .expect("create");
            put.freight.metadata.name
        };
        let store = SqliteStore::open(&path)
            .await
            .expect("reopened, migrations already applied");
        assert!(store.get_freight(&name).await.expect("get").is_some());
        let promotions = store
            .list_promotions(&PromotionQuery::stage("dev"))
            .await
            .expect("list");
        assert_eq!(promotions.len(), 1);
        assert_eq!(store.path(), path);
    }

    #[tokio::test]
    async fn the_schema_allows_one_running_promotion_per_stage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("s.db"))
            .await
            .expect("open");
        let put = store
            .put_freight(Freight {
                origin: FreightOrigin::warehouse("app"),
                ..Default::default()
            })
            .await
            .expect("put");
        for _ in 0..2 {
            store
                .create_promotion(NewPromotion::new("dev", &put.freight.metadata.name))
                .await
                .expect("create");
        }
        // Bypass the store's check: the database itself refuses.
        let err = sqlx::query("UPDATE promotions SET phase = 'Running' WHERE stage = 'dev'")
            .execute(&store.pool)
            .await
            .expect_err("unique index");
        assert!(err.to_string().contains("UNIQUE"), "{err}");
    }
}
