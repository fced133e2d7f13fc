//! The Freight and Stage metadata `freightMetadata(name)` and
//! `stageMetadata(name)` read, and the Secrets `secret(name)` reads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use serde_json::Value;

/// Whose metadata an expression asked for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum MetadataKey {
    /// A Freight, by name or alias.
    Freight(String),
    /// A Stage, by name.
    Stage(String),
    /// A Secret of the project, by name (`secret(name)`): its data.
    Secret(String),
}

/// The metadata expressions can read, loaded before they are evaluated
/// (Kargo reads it live from the cluster; expressions here are
/// synchronous, so the engine loads what a step's expressions ask for
/// from the state store first, see [`MetadataView::misses`]).
///
/// A key that is loaded maps to the metadata object, or to `null` when
/// the Freight or Stage has none (or does not exist), which is what the
/// functions return, as in Kargo. A key that is not loaded also reads as
/// `null`, and is recorded as a miss.
///
/// `Debug` shows the keys, never a value (a Secret's data may be loaded).
#[derive(Default)]
pub struct MetadataView {
    loaded: BTreeMap<MetadataKey, Value>,
    misses: Mutex<BTreeSet<MetadataKey>>,
}

impl std::fmt::Debug for MetadataView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataView")
            .field("loaded", &self.loaded.keys().collect::<Vec<_>>())
            .field("misses", &self.misses())
            .finish()
    }
}

impl Clone for MetadataView {
    fn clone(&self) -> Self {
        MetadataView {
            loaded: self.loaded.clone(),
            misses: Mutex::new(self.misses()),
        }
    }
}

impl MetadataView {
    /// An empty view.
    pub fn new() -> Self {
        MetadataView::default()
    }

    /// Adds the metadata of `key` (`null` when there is none).
    pub fn insert(&mut self, key: MetadataKey, metadata: Value) {
        self.loaded.insert(key, metadata);
    }

    /// The keys expressions asked for that were not loaded.
    pub fn misses(&self) -> BTreeSet<MetadataKey> {
        self.misses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The metadata of `key`: loaded, or `null` (and recorded as a miss).
    pub fn get(&self, key: MetadataKey) -> Value {
        self.lookup(key).unwrap_or(Value::Null)
    }

    /// The metadata of `key` when it is loaded; `None` (and recorded as a
    /// miss) when it is not.
    pub fn lookup(&self, key: MetadataKey) -> Option<Value> {
        let found = self.loaded.get(&key).cloned();
        if found.is_none() {
            self.misses
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key);
        }
        found
    }
}
