//! The one place where blocking git work leaves the async executor.

/// The helper every blocking git operation goes through (exported for the
/// git steps): runs `f` on tokio's blocking pool when called inside a runtime, and
/// inline otherwise (a host without tokio, or a test).
pub async fn maybe_spawn_blocking<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => match runtime.spawn_blocking(f).await {
            Ok(value) => value,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        },
        Err(_) => f(),
    }
}
