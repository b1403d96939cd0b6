//! trailq's own threads, each named for its role, so that `top -H`, `perf` and a panic message
//! tell a parse worker from a Parquet helper (Linux shows at most 15 bytes of a name).

use std::thread::{Builder, JoinHandle, Scope, ScopedJoinHandle};

/// [`std::thread::spawn`], naming the thread; like it, panics if the OS cannot start one.
pub fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .expect("failed to spawn thread")
}

/// [`Scope::spawn`], naming the thread; like it, panics if the OS cannot start one.
pub fn spawn_scoped<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    name: &str,
    f: impl FnOnce() -> T + Send + 'scope,
) -> ScopedJoinHandle<'scope, T> {
    Builder::new()
        .name(name.to_owned())
        .spawn_scoped(scope, f)
        .expect("failed to spawn thread")
}
