//! Forwards the database's change notifications to the store's watchers.

use kargo_core::state::{Change, ChangeFeed};
use sqlx::postgres::PgListener;

use super::retry::BACKOFF;

/// Receives notifications on `listener` (already listening) and publishes
/// them on `feed` until the task is aborted. After a lost connection it
/// publishes [`Change::Missed`]; the listener reconnects and listens
/// again by itself.
pub(crate) async fn forward(mut listener: PgListener, feed: ChangeFeed) {
    let mut delays = BACKOFF.delays();
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                delays = BACKOFF.delays();
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
                let retry_in = delays.next().unwrap_or(BACKOFF.cap);
                tracing::warn!(error = %e, ?retry_in, "cannot listen for changes yet");
                feed.publish(Change::Missed);
                tokio::time::sleep(retry_in).await;
            }
        }
    }
}
