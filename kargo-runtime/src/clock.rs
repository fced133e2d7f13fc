//! Where the controller gets the time: [`Clock`], the [`SystemClock`], and
//! a [`ManualClock`] for tests and replays.
//!
//! Every rule that depends on time (soak times, leases, discovery
//! intervals) reads the controller's clock, so a test can move time on
//! instead of waiting for it.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kargo_core::time::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + Debug + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until it is set or advanced. Clones share
/// the same time.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use kargo_runtime::clock::{Clock, ManualClock};
///
/// let clock = ManualClock::new("2026-01-01T10:00:00Z".parse().unwrap());
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now().to_string(), "2026-01-01T10:01:30Z");
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> Self {
        ManualClock(Arc::new(Mutex::new(at)))
    }

    /// Sets the time to `at`.
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    /// Moves the time `by` on.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now = now.plus(by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
