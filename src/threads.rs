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

/// How much lower than the rest of trailq a thread that only feeds others runs
/// ([`run_behind`]): Linux's scheduler gives a thread of nice 10 about a tenth of the CPU time of
/// one of nice 0 when both want the same core.
#[cfg(target_os = "linux")]
const BEHIND_NICE: libc::c_int = 10;
/// The highest nice value (the lowest priority) Linux takes.
#[cfg(target_os = "linux")]
const LOWEST_NICE: libc::c_int = 19;

/// Lowers the calling thread's scheduling priority (nice +10), so that on a busy core the threads
/// it feeds run first. A convert's dataset thread, which merges and writes the partitions, is the
/// one every row waits for; with the parse workers behind it, and room to parse ahead while it
/// commits, they use the time it and the Parquet helpers leave instead of taking turns with them.
/// A real-shaped 1 M convert took 10% less time (the generator's small files 2.6% more), with
/// 10-15 MiB more peak RSS for the deeper channel (BENCHMARKS.md, issue 15 session 28). Other
/// programs of normal priority also come before such a thread.
///
/// Linux only: there `setpriority` with a thread id sets that one thread; elsewhere (macOS) it
/// would lower the whole process, so this does nothing. A failure is ignored: the thread runs at
/// its usual priority, which is only slower.
pub fn run_behind() {
    #[cfg(target_os = "linux")]
    {
        let tid = this_thread();
        let lowered = nice_of(tid).saturating_add(BEHIND_NICE).min(LOWEST_NICE);
        // SAFETY: a plain system call on the calling thread's own id; no memory is passed.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, lowered) };
    }
}

/// The calling thread's id (what `setpriority` takes on Linux for one thread).
#[cfg(target_os = "linux")]
fn this_thread() -> libc::id_t {
    // SAFETY: a plain system call; no memory is passed.
    unsafe { libc::gettid() as libc::id_t }
}

/// The nice value of thread `tid`.
#[cfg(target_os = "linux")]
fn nice_of(tid: libc::id_t) -> libc::c_int {
    // SAFETY: a plain system call; no memory is passed.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn running_behind_lowers_only_the_calling_thread() {
        let this = this_thread();
        let before = nice_of(this);
        let (lowered, started) = spawn("behind", move || {
            let tid = this_thread();
            let start = nice_of(tid);
            run_behind();
            (nice_of(tid), start)
        })
        .join()
        .unwrap();
        assert_eq!(
            started, before,
            "a new thread starts at its parent's priority"
        );
        assert_eq!(lowered, (before + BEHIND_NICE).min(LOWEST_NICE));
        assert_eq!(nice_of(this), before, "the other threads keep theirs");
    }
}
