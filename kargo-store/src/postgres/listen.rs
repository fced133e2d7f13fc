//! Forwards the database's change notifications to the store's watchers.

use std::time::Duration;

use kargo_core::state::{Change, ChangeFeed};
use sqlx::postgres::PgListener;

/// Receives notifications on `listener` (already listening) and publishes
/// them on `feed` until the task is aborted. After a lost connection it
/// publishes [`Change::Missed`]; the listener reconnects and listens
/// again by itself.
pub(crate) async fn forward(mut listener: PgListener, feed: ChangeFeed) {
    let mut delay = Duration::from_millis(50);
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                delay = Duration::from_millis(50);
                match serde_json::from_str::<Change>(notification.payload()) {
                    Ok(change) => feed.publish(change),
                    Err(e) => {
                        tracing::warn!(error = %e, "ignoring a change notification that is not a change");
                    }
                }
            }
            Ok(None) => {
                tracing::warn!("lost the change notification connection; reconnecting");
                feed.publish(Change::Missed);
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?delay, "cannot listen for changes yet");
                feed.publish(Change::Missed);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}
