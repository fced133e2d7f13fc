//! Tokens kept until shortly before they expire, one load at a time per
//! key.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_lc_rs::digest;

use crate::error::Error;
use crate::provider::Clock;

/// How long before its expiry a token stops being handed out (Kargo's
/// margin).
pub(crate) const MARGIN: Duration = Duration::from_secs(5 * 60);

/// The most entries kept; past that the cache starts over.
const MAX_ENTRIES: usize = 4096;

type Slot<V> = Arc<tokio::sync::Mutex<Option<(V, SystemTime)>>>;

/// A token cache. Keys are SHA-256 hashes of what identifies a token, so
/// no secret can be read back from them. Concurrent loads of one key
/// wait for the first: a burst of discoveries costs one exchange.
pub(crate) struct TokenCache<V> {
    slots: Mutex<HashMap<String, Slot<V>>>,
    clock: Clock,
}

impl<V> std::fmt::Debug for TokenCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.slots.lock().map(|s| s.len()).unwrap_or_default();
        f.debug_struct("TokenCache")
            .field("entries", &entries)
            .finish()
    }
}

/// The SHA-256 (hex) of `parts`, joined with NUL bytes.
pub(crate) fn key(parts: &[&str]) -> String {
    hex::encode(digest::digest(&digest::SHA256, parts.join("\0").as_bytes()))
}

impl<V: Clone> TokenCache<V> {
    pub(crate) fn new(clock: Clock) -> Self {
        TokenCache {
            slots: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// The current time of the cache's clock.
    pub(crate) fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// The token under `key`, loaded by `load` when missing or due.
    /// `load` answers the token and when it expires (`None`: unknown,
    /// then it is kept for `default_ttl`). A token that expires within
    /// [`MARGIN`] is handed out once and not kept.
    pub(crate) async fn get<F, Fut>(
        &self,
        key: String,
        default_ttl: Duration,
        load: F,
    ) -> Result<V, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(V, Option<SystemTime>), Error>>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            if slots.len() >= MAX_ENTRIES && !slots.contains_key(&key) {
                slots.clear();
            }
            slots.entry(key).or_default().clone()
        };
        let mut held = slot.lock().await;
        if let Some((value, until)) = held.as_ref()
            && self.now() < *until
        {
            return Ok(value.clone());
        }
        *held = None;
        let (value, expiry) = load().await?;
        let until = match expiry {
            Some(expiry) => expiry.checked_sub(MARGIN),
            None => self.now().checked_add(default_ttl),
        };
        match until {
            Some(until) if self.now() < until => {
                tracing::debug!(
                    valid_for_secs = until
                        .duration_since(self.now())
                        .unwrap_or_default()
                        .as_secs(),
                    "caching a registry token"
                );
                *held = Some((value.clone(), until));
            }
            _ => tracing::debug!("a registry token expires too soon to be kept"),
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[tokio::test]
    async fn tokens_are_kept_until_the_margin_before_expiry_and_short_lived_ones_not_at_all() {
        let now = Arc::new(AtomicU64::new(1_000_000));
        let clock_now = now.clone();
        let clock: Clock = Arc::new(move || {
            SystemTime::UNIX_EPOCH + Duration::from_secs(clock_now.load(Ordering::SeqCst))
        });
        let cache = TokenCache::<u32>::new(clock.clone());
        let loads = AtomicU64::new(0);
        let load = |ttl: u64| {
            let n = loads.fetch_add(1, Ordering::SeqCst) as u32;
            let expiry = clock() + Duration::from_secs(ttl);
            async move { Ok((n, Some(expiry))) }
        };
        let hour = Duration::from_secs(3600);
        assert_eq!(cache.get("a".into(), hour, || load(3600)).await.unwrap(), 0);
        assert_eq!(cache.get("a".into(), hour, || load(3600)).await.unwrap(), 0);
        // 54 minutes on: within the hour, outside the five-minute margin.
        now.fetch_add(54 * 60, Ordering::SeqCst);
        assert_eq!(cache.get("a".into(), hour, || load(3600)).await.unwrap(), 0);
        // 56 minutes on: inside the margin, so a new token.
        now.fetch_add(2 * 60, Ordering::SeqCst);
        assert_eq!(cache.get("a".into(), hour, || load(3600)).await.unwrap(), 1);
        // A token living four minutes is used once and not kept.
        assert_eq!(cache.get("b".into(), hour, || load(240)).await.unwrap(), 2);
        assert_eq!(cache.get("b".into(), hour, || load(240)).await.unwrap(), 3);
        // Unknown expiry: the default time to live.
        let unknown = || async { Ok((9, None)) };
        assert_eq!(cache.get("c".into(), hour, unknown).await.unwrap(), 9);
        let again = || async { Ok((10, None)) };
        assert_eq!(cache.get("c".into(), hour, again).await.unwrap(), 9);
        assert_eq!(loads.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn keys_are_hashes_that_tell_parts_apart() {
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
        assert_eq!(key(&["secret"]).len(), 64);
        assert!(!key(&["secret"]).contains("secret"));
    }
}
