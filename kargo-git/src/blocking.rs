//! The one place where blocking git work leaves the async executor, and
//! where blocking callers enter async code.

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

/// Runs `future` to completion on a current-thread runtime of its own, for
/// a blocking function whose work is written once, as async code (its
/// blocking parts go through [`maybe_spawn_blocking`] on that runtime).
///
/// Tokio refuses to start a runtime on a thread that is inside one (a
/// worker, a blocking-pool thread, a blocking function called from async
/// code): there the runtime runs on a thread of its own, which this one
/// waits for.
pub(crate) fn block_on<F>(future: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    let run = move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime with only a timer needs no system resources to start")
            .block_on(future)
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return run();
    }
    std::thread::scope(|scope| match scope.spawn(run).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}
