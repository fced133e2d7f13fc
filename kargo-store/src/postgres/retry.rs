//! Runs an operation again on transient failures, with exponential
//! backoff.

use std::time::{Duration, Instant};

use kargo_core::retry::Backoff;

use super::error::Error;

/// The pauses after a failure: from 50 ms, doubling, at most 2 s.
pub(crate) const BACKOFF: Backoff =
    Backoff::exponential(Duration::from_millis(50), Duration::from_secs(2));

/// Runs `op` until it succeeds, fails for good, or `retry_for` has passed
/// since the first attempt; `what` names it in the logs.
pub(crate) async fn with_backoff<T, F, Fut>(
    what: &'static str,
    retry_for: Duration,
    op: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let start = Instant::now();
    let waits = BACKOFF
        .delays()
        .take_while(move |_| start.elapsed() < retry_for);
    kargo_core::retry::retry(waits, op, |e, retry_in| {
        let transient = e.is_transient();
        if transient {
            tracing::warn!(operation = what, error = %e, ?retry_in, "state database unavailable, retrying");
        }
        transient
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn broken() -> Error {
        Error::Sql(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset",
        )))
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let out = with_backoff("test", Duration::from_secs(60), || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(broken())
            } else {
                Ok(7)
            }
        })
        .await
        .expect("third attempt succeeds");
        assert_eq!(out, 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn other_failures_are_returned_at_once() {
        let calls = AtomicU32::new(0);
        let err = with_backoff("test", Duration::from_secs(60), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Error::Sql(sqlx::Error::RowNotFound))
        })
        .await
        .expect_err("not transient");
        assert!(matches!(err, Error::Sql(sqlx::Error::RowNotFound)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn retries_stop_when_the_time_is_up() {
        let calls = AtomicU32::new(0);
        let err = with_backoff("test", Duration::ZERO, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(broken())
        })
        .await
        .expect_err("no time to retry");
        assert!(err.is_transient());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
