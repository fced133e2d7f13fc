//! What a [`StateStore`](super::StateStore) tells its watchers: the
//! changes that give a pipeline loop something to do, so that replicas
//! wake each other instead of waiting for their next poll.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::model::{FreightStatus, PromotionPhase};

/// How many changes a slow watcher may fall behind before it gets
/// [`Change::Missed`].
const CAPACITY: usize = 1024;

/// A change in a store's state that a pipeline loop acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Change {
    /// New Freight was stored.
    #[serde(rename_all = "camelCase")]
    FreightCreated {
        /// The Freight's name.
        freight: String,
    },
    /// Freight was approved for a Stage.
    #[serde(rename_all = "camelCase")]
    FreightApproved {
        /// The Freight's name.
        freight: String,
        /// The Stage.
        stage: String,
    },
    /// A promotion was queued.
    #[serde(rename_all = "camelCase")]
    PromotionCreated {
        /// The promotion's name.
        promotion: String,
        /// Its Stage.
        stage: String,
    },
    /// A promotion finished (its Stage may take the next one).
    #[serde(rename_all = "camelCase")]
    PromotionFinished {
        /// The promotion's name.
        promotion: String,
        /// Its Stage.
        stage: String,
        /// The phase it finished with.
        phase: PromotionPhase,
    },
    /// Someone asked to abort a `Running` promotion: the host running it
    /// finishes it `Aborted` at its next step boundary (or next poll,
    /// when it waits).
    #[serde(rename_all = "camelCase")]
    PromotionAbortRequested {
        /// The promotion's name.
        promotion: String,
        /// Its Stage.
        stage: String,
    },
    /// A resource kept in the store was created, replaced or deleted
    /// (hosts load their manifests again).
    #[serde(rename_all = "camelCase")]
    ResourcesChanged {
        /// Which resource.
        resource: super::ResourceKey,
    },
    /// Changes may have been missed (a watcher fell behind, or the store
    /// lost its connection for a while): read the state again.
    Missed,
}

impl Change {
    /// The news that `promo` finished (or was aborted before it started).
    pub fn finished(promo: &super::PromotionRecord) -> Change {
        Change::PromotionFinished {
            promotion: promo.name.clone(),
            stage: promo.stage.clone(),
            phase: promo.phase,
        }
    }

    /// The news that an abort of `promo` was asked for: `Finished` when
    /// a queued promotion ended at once, `AbortRequested` when it runs.
    pub fn aborted(promo: &super::PromotionRecord) -> Change {
        if promo.phase.is_terminal() {
            Change::finished(promo)
        } else {
            Change::PromotionAbortRequested {
                promotion: promo.name.clone(),
                stage: promo.stage.clone(),
            }
        }
    }

    /// The news that the resource `key` changed.
    pub fn resource(key: &super::ResourceKey) -> Change {
        Change::ResourcesChanged {
            resource: key.clone(),
        }
    }

    /// The approvals that a status update from `before` to `after` of the
    /// Freight named `freight` made.
    pub fn approvals(freight: &str, before: &FreightStatus, after: &FreightStatus) -> Vec<Change> {
        after
            .approved_for
            .keys()
            .filter(|stage| !before.approved_for.contains_key(*stage))
            .map(|stage| Change::FreightApproved {
                freight: freight.to_owned(),
                stage: stage.clone(),
            })
            .collect()
    }
}

/// The sending side of a store's changes, for stores that see all their
/// changes in one process (and for a store that forwards what a database
/// tells it). Cheap to clone.
#[derive(Debug, Clone)]
pub struct ChangeFeed {
    tx: broadcast::Sender<Change>,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        ChangeFeed::new()
    }
}

impl ChangeFeed {
    /// A feed nobody watches yet.
    pub fn new() -> Self {
        ChangeFeed {
            tx: broadcast::channel(CAPACITY).0,
        }
    }

    /// Tells every current watcher about `change` (nobody watching is fine).
    pub fn publish(&self, change: Change) {
        let _ = self.tx.send(change);
    }

    /// Tells every current watcher about each of `changes`.
    pub fn publish_all(&self, changes: impl IntoIterator<Item = Change>) {
        for change in changes {
            self.publish(change);
        }
    }

    /// A watcher that gets every change published from now on.
    pub fn subscribe(&self) -> Changes {
        Changes {
            rx: self.tx.subscribe(),
        }
    }
}

/// The changes a watcher receives, oldest first (see
/// [`StateStore::watch`](super::StateStore::watch)).
#[derive(Debug)]
pub struct Changes {
    rx: broadcast::Receiver<Change>,
}

impl Changes {
    /// The next change; [`Change::Missed`] when this watcher fell behind,
    /// `None` once the store is gone.
    pub async fn next(&mut self) -> Option<Change> {
        match self.rx.recv().await {
            Ok(change) => Some(change),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Change::Missed),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_watcher_that_falls_behind_is_told_it_missed_changes() {
        let feed = ChangeFeed::new();
        let mut changes = feed.subscribe();
        for i in 0..=CAPACITY {
            feed.publish(Change::FreightCreated {
                freight: format!("f{i}"),
            });
        }
        assert_eq!(changes.next().await, Some(Change::Missed));
        assert!(matches!(
            changes.next().await,
            Some(Change::FreightCreated { .. })
        ));
    }

    #[test]
    fn changes_travel_as_json_with_a_kind_tag() {
        let change = Change::PromotionFinished {
            promotion: "dev.000000000001.abcdef0".into(),
            stage: "dev".into(),
            phase: PromotionPhase::Succeeded,
        };
        let json = serde_json::to_string(&change).expect("serializes");
        assert_eq!(
            json,
            r#"{"kind":"promotionFinished","promotion":"dev.000000000001.abcdef0","stage":"dev","phase":"Succeeded"}"#
        );
        assert_eq!(
            serde_json::from_str::<Change>(&json).expect("parses"),
            change
        );
        let change = Change::resource(&super::super::ResourceKey::new("Stage", "demo", "qa"));
        let json = serde_json::to_string(&change).expect("serializes");
        assert_eq!(
            json,
            r#"{"kind":"resourcesChanged","resource":{"kind":"Stage","namespace":"demo","name":"qa"}}"#
        );
        assert_eq!(
            serde_json::from_str::<Change>(&json).expect("parses"),
            change
        );
    }
}
