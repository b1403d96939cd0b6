//! How trailq asks glibc's allocator to hold memory, in one place: peak RSS under 300 MB at any
//! input size (issue 2) depends on both settings here, measured in BENCHMARKS.md.

/// glibc gives each thread its own malloc arena (up to 8 per core); the large Arrow buffers that
/// workers and partition writers free then stay in separate arenas and peak RSS grew by ~100 MB in
/// the convert benchmark. One arena per core keeps it down at no measurable cost. Call before any
/// thread starts.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, cores as libc::c_int);
        }
    }
}

/// Hands memory that is free inside glibc's heaps back to the kernel. The sink allocates and frees
/// tens of MiB at a time on several threads (a run being spilled, zstd 11 contexts and page
/// buffers of each row group); glibc kept those pages, and peak RSS of a 1 M-record convert went
/// from ~240 to 280–370 MB. Called once per spilled run and per row group: a few milliseconds
/// each, plus the page faults of touching that memory again (sys time 6 → 8.5 s at 1 M records).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
