//! Sinks: where rows go — the event dataset (`parquet_dataset`), or a query's typed results
//! (`results`). Sinks never see SDK types or input formats.

pub mod merge;
pub mod parquet_dataset;
pub mod parquet_file;
mod partition_writer;
pub mod rejected;
pub mod results;
pub mod spill;

/// Hands memory that is free inside glibc's heaps back to the kernel. The sink allocates and frees
/// tens of MiB at a time on several threads (a run being spilled, zstd 11 contexts and page
/// buffers of each row group); glibc kept those pages, and peak RSS of a 1 M-record convert went
/// from ~240 to 280–370 MB (BENCHMARKS.md). Called once per spilled run and per row group: a few
/// milliseconds each.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
