//! Waiting between attempts: one [`Backoff`] and one [`retry`] loop for
//! every part of kargo-rs that tries again (a step's retryable failure, a
//! rejected push, a rate-limited forge, a registry's 5xx, a lost database
//! connection).
//!
//! A backoff is `initial × factor^n`, at most `cap`, each wait shortened by
//! a random share of up to `jitter` so that processes which failed together
//! do not retry together. Whether to try again is never the backoff's
//! choice: it comes from the error, through the closure given to [`retry`]
//! or the caller's own loop over [`Backoff::delays`].
//!
//! ```
//! use std::time::Duration;
//! use kargo_core::retry::{Backoff, retry};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let backoff = Backoff::exponential(Duration::from_millis(1), Duration::from_millis(4));
//! let mut calls = 0;
//! let answer: Result<u32, &str> = retry(
//!     backoff.delays().take(5),
//!     || {
//!         calls += 1;
//!         let n = calls;
//!         async move { if n < 3 { Err("busy") } else { Ok(n) } }
//!     },
//!     |error, _wait| *error == "busy",
//! )
//! .await;
//! assert_eq!(answer, Ok(3));
//! # });
//! ```

use std::time::Duration;

/// How long to wait before each retry: `initial × factor^(n-1)` before the
/// n-th retry, at most `cap`, shortened by a random share of up to
/// `jitter`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Backoff {
    /// The wait before the first retry.
    pub initial: Duration,
    /// The growth from one wait to the next (at least 1).
    pub factor: f64,
    /// The longest wait.
    pub cap: Duration,
    /// The random share (0 to 1) a wait may be shortened by; 0 waits
    /// exactly.
    pub jitter: f64,
}

impl Default for Backoff {
    /// Kargo's backoff for retried git pushes: 1 s, ×1.5, at most 30 s,
    /// jitter 0.5.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            factor: 1.5,
            cap: Duration::from_secs(30),
            jitter: 0.5,
        }
    }
}

impl Backoff {
    /// Waits doubling from `initial` up to `cap`, without jitter.
    pub const fn exponential(initial: Duration, cap: Duration) -> Self {
        Backoff {
            initial,
            factor: 2.0,
            cap,
            jitter: 0.0,
        }
    }

    /// The [default](Backoff::default) backoff, starting at `initial`.
    pub fn starting_at(initial: Duration) -> Self {
        Backoff {
            initial,
            ..Backoff::default()
        }
    }

    /// This backoff with each wait growing by `factor` (at least 1).
    #[must_use]
    pub const fn with_factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// This backoff with each wait shortened by a random share of up to
    /// `jitter` (clamped to 0..=1).
    #[must_use]
    pub const fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// The wait before retry number `retry` (1 for the first), jitter
    /// included.
    pub fn delay(&self, retry: u32) -> Duration {
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let grown = self.initial.as_secs_f64() * self.factor.max(1.0).powi(exponent);
        let base = grown.min(self.cap.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let shortened = if jitter > 0.0 {
            base * (1.0 - jitter * fastrand::f64())
        } else {
            base
        };
        Duration::try_from_secs_f64(shortened).unwrap_or(self.cap)
    }

    /// The waits before each retry, without end: limit them with
    /// [`Iterator::take`] (a number of retries) or
    /// [`Iterator::take_while`] (a deadline).
    pub fn delays(&self) -> Delays {
        Delays {
            backoff: *self,
            retry: 0,
        }
    }
}

/// The waits of a [`Backoff`], one per retry, from the first.
#[derive(Debug, Clone)]
pub struct Delays {
    backoff: Backoff,
    retry: u32,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.retry = self.retry.saturating_add(1);
        Some(self.backoff.delay(self.retry))
    }
}

/// Runs `op` until it succeeds, fails with an error `should_retry` refuses,
/// or `delays` runs out; between attempts it sleeps the next delay.
///
/// `should_retry(error, wait)` decides from the error whether to wait
/// `wait` and try again; it is also where a caller logs the retry. The
/// last error is returned when the delays run out.
pub async fn retry<T, E, Fut>(
    delays: impl IntoIterator<Item = Duration>,
    mut op: impl FnMut() -> Fut,
    mut should_retry: impl FnMut(&E, Duration) -> bool,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, E>>,
{
    let mut delays = delays.into_iter();
    loop {
        match op().await {
            Err(error) => match delays.next() {
                Some(wait) if should_retry(&error, wait) => tokio::time::sleep(wait).await,
                _ => return Err(error),
            },
            ok => return ok,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_by_the_factor_up_to_the_cap() {
        let backoff = Backoff::exponential(Duration::from_millis(100), Duration::from_millis(350));
        let waits: Vec<_> = backoff.delays().take(4).collect();
        assert_eq!(
            waits,
            [100, 200, 350, 350].map(Duration::from_millis).to_vec()
        );
        let slower = backoff.with_factor(1.5);
        assert_eq!(slower.delay(2), Duration::from_millis(150));
    }

    #[test]
    fn jitter_only_shortens_and_by_at_most_its_share() {
        let backoff = Backoff::default();
        assert_eq!(backoff.initial, Duration::from_secs(1));
        for retry in 1..50 {
            let exact = backoff.with_jitter(0.0).delay(retry);
            let wait = backoff.delay(retry);
            assert!(wait <= exact, "{wait:?} > {exact:?}");
            assert!(wait >= exact / 2, "{wait:?} < half of {exact:?}");
        }
        // Fifty waits with jitter are not all the same.
        let waits: std::collections::HashSet<_> = (0..50).map(|_| backoff.delay(3)).collect();
        assert!(waits.len() > 1);
    }

    #[test]
    fn huge_retry_numbers_stay_at_the_cap() {
        let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(30));
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(30));
    }

    #[tokio::test]
    async fn retry_stops_on_an_error_it_refuses() {
        let mut calls = 0;
        let result: Result<(), &str> = retry(
            Backoff::exponential(Duration::from_millis(1), Duration::from_millis(1)).delays(),
            || {
                calls += 1;
                let n = calls;
                async move { Err(if n < 2 { "busy" } else { "broken" }) }
            },
            |error, _| *error == "busy",
        )
        .await;
        assert_eq!(result, Err("broken"));
        assert_eq!(calls, 2);
    }

    #[tokio::test]
    async fn retry_returns_the_last_error_when_the_delays_run_out() {
        let mut calls = 0;
        let mut waited = Vec::new();
        let result: Result<(), u32> = retry(
            Backoff::exponential(Duration::from_millis(1), Duration::from_millis(8))
                .delays()
                .take(3),
            || {
                calls += 1;
                let n = calls;
                async move { Err(n) }
            },
            |_, wait| {
                waited.push(wait);
                true
            },
        )
        .await;
        assert_eq!(result, Err(4));
        assert_eq!(waited, [1, 2, 4].map(Duration::from_millis).to_vec());
    }
}
