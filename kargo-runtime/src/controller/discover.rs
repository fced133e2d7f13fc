//! Discovering Warehouses: new Freight, and a recorded outcome per
//! Warehouse.

use kargo_core::model::{Freight, Warehouse};
use kargo_core::state::{DiscoveryOutcome, discovery_lease_key};
use kargo_sources::DiscoverOptions;

use super::Controller;
use super::drive::short;
use crate::Result;
use crate::event::Event;

/// Which Warehouses a discovery looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Refresh {
    /// Only those whose `spec.interval` (or the default given) passed
    /// since their last discovery.
    #[default]
    Due,
    /// Every Warehouse now, as Kargo's refresh does.
    All,
}

/// What one discovery pass did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Discovery {
    /// The Warehouses discovered (not skipped as not due or done by
    /// another replica).
    pub discovered: Vec<String>,
    /// The Freight created.
    pub created: Vec<Freight>,
    /// The Warehouses whose discovery failed, with why.
    pub failed: Vec<(String, String)>,
}

impl Discovery {
    /// Adds the outcome of discovering the Warehouse `name`: the Freight
    /// it created, if new, or why it failed.
    fn record(&mut self, name: &str, result: std::result::Result<Option<Freight>, String>) {
        self.discovered.push(name.to_owned());
        match result {
            Ok(Some(freight)) => self.created.push(freight),
            Ok(None) => {}
            Err(message) => self.failed.push((name.to_owned(), message)),
        }
    }
}

impl Controller {
    /// Discovers the Warehouses `refresh` selects, stores the Freight their
    /// `freightCreationPolicy` and `freightCreationCriteria` let them
    /// create, and records each outcome on the Warehouse's state
    /// ([`StateStore::get_warehouse`](kargo_core::state::StateStore::get_warehouse)).
    /// A Warehouse that fails is reported and the others go on; a
    /// subscription that finds nothing is a failure too, since no Freight
    /// can be made. With `Refresh::Due`, a Warehouse without
    /// `spec.interval` is discovered every `default_interval`.
    pub async fn discover(
        &self,
        refresh: Refresh,
        default_interval: std::time::Duration,
    ) -> Result<Discovery> {
        let project = self.current().await?;
        let mut out = Discovery::default();
        for warehouse in project.manifests().warehouses() {
            if refresh == Refresh::Due && !self.is_due(warehouse, default_interval).await? {
                continue;
            }
            let name = &warehouse.metadata.name;
            let done = self
                .exclusive(&discovery_lease_key(name), self.discover_one(warehouse))
                .await?;
            let Some(result) = done else {
                // Another replica discovers this Warehouse right now.
                continue;
            };
            out.record(name, result);
        }
        Ok(out)
    }

    /// Discovers the Warehouse named `name` now (Kargo's refresh).
    pub async fn refresh_warehouse(&self, name: &str) -> Result<Discovery> {
        let project = self.current().await?;
        let warehouse =
            project
                .manifests()
                .warehouse(name)
                .ok_or_else(|| crate::Error::NotFound {
                    what: "Warehouse",
                    name: name.to_owned(),
                    known: project
                        .manifests()
                        .warehouses()
                        .iter()
                        .map(|w| w.metadata.name.clone())
                        .collect(),
                })?;
        let mut out = Discovery::default();
        out.record(name, self.discover_one(warehouse).await?);
        Ok(out)
    }

    /// Whether `warehouse`'s interval passed since its last discovery.
    async fn is_due(
        &self,
        warehouse: &Warehouse,
        default_interval: std::time::Duration,
    ) -> Result<bool> {
        // Due first, then now: a Warehouse never discovered is due at the
        // time `due_at` read, which must not be later than the `now` it is
        // compared with (with the operands the other way round, a clock
        // tick between the two reads left it never due).
        let due = self.due_at(warehouse, default_interval).await?;
        Ok(self.now() >= due)
    }

    /// When `warehouse` is next due: its last discovery plus its interval,
    /// or now when it was never discovered.
    async fn due_at(
        &self,
        warehouse: &Warehouse,
        default_interval: std::time::Duration,
    ) -> Result<kargo_core::time::Timestamp> {
        let state = self
            .inner
            .store
            .get_warehouse(&warehouse.metadata.name)
            .await?;
        Ok(match state.last_discovery {
            None => self.now(),
            Some(last) => last.plus(warehouse.spec.interval_or(default_interval)),
        })
    }

    /// When the next Warehouse is due, at the soonest.
    pub(super) async fn next_discovery(
        &self,
        default_interval: std::time::Duration,
    ) -> Result<Option<kargo_core::time::Timestamp>> {
        let mut next = None;
        for warehouse in self.current().await?.manifests().warehouses() {
            let at = self.due_at(warehouse, default_interval).await?;
            next = Some(next.map_or(at, |n: kargo_core::time::Timestamp| n.min(at)));
        }
        Ok(next)
    }

    /// Discovers one Warehouse and records the outcome. The inner result
    /// is the Freight created (if new) or why discovery failed.
    async fn discover_one(
        &self,
        warehouse: &Warehouse,
    ) -> Result<std::result::Result<Option<Freight>, String>> {
        let name = &warehouse.metadata.name;
        let store = &self.inner.store;
        let found = self
            .inner
            .sources
            .discover_warehouse(warehouse, DiscoverOptions::default())
            .await;
        let found = match found {
            Ok(found) if found.freight.is_some() => found,
            Ok(found) => {
                let message = format!("nothing discovered for {}", found.missing.join(", "));
                return self.discovery_failed(name, message).await;
            }
            Err(e) => return self.discovery_failed(name, e.to_string()).await,
        };
        let mut created = None;
        // `Automatic` policy and `freightCreationCriteria` decide.
        if let Some(freight) = found.freight_to_create() {
            let mut freight = freight.clone();
            if freight.discovered_at.is_none() {
                freight.discovered_at = Some(self.now().to_string());
            }
            let put = store.put_freight(freight).await?;
            if put.created {
                tracing::info!(warehouse = %name, "new Freight {} ({})", put.freight.alias, short(&put.freight.metadata.name));
                self.emit(Event::FreightCreated {
                    warehouse: name.clone(),
                    freight: put.freight.metadata.name.clone(),
                    alias: put.freight.alias.clone(),
                });
                created = Some(put.freight);
            }
        }
        let id = found.freight.as_ref().map(Freight::id);
        let outcome = DiscoveryOutcome::Succeeded {
            freight: id.clone(),
        };
        store.record_discovery(name, &outcome, self.now()).await?;
        self.emit(Event::DiscoverySucceeded {
            warehouse: name.clone(),
            freight: id,
        });
        Ok(Ok(created))
    }

    async fn discovery_failed(
        &self,
        warehouse: &str,
        message: String,
    ) -> Result<std::result::Result<Option<Freight>, String>> {
        tracing::warn!(warehouse, "discovery failed: {message}");
        let outcome = DiscoveryOutcome::Failed {
            message: message.clone(),
        };
        self.inner
            .store
            .record_discovery(warehouse, &outcome, self.now())
            .await?;
        self.emit(Event::DiscoveryFailed {
            warehouse: warehouse.to_owned(),
            message: message.clone(),
        });
        Ok(Err(message))
    }
}
