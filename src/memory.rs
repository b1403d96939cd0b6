//! How trailq asks glibc's allocator to hold memory, in one place: peak RSS under 300 MB at any
//! input size (issue 2) depends on the settings here, measured in BENCHMARKS.md.

/// Blocks this large or larger that no free heap space holds get a mapping of their own
/// ([`configure_malloc`]). The buffers made most often are sized to stay below it, so they reuse
/// freed heap memory instead of a fresh, zero-filled mapping each: a parse batch's record text
/// (`pipeline::BATCH_TEXT_BYTES`) and a merge chunk's `eventJson` (`merge::CHUNK_TEXT_BYTES`).
pub const MMAP_ABOVE_BYTES: usize = 2 << 20;

/// Sets glibc's allocator up for a convert's memory. Call before any thread starts.
///
/// - One arena per core: glibc gives each thread its own (up to 8 per core); the large Arrow
///   buffers that workers and partition writers free then stay in separate arenas and peak RSS
///   grew by ~100 MB in the convert benchmark, at no measurable gain.
/// - Blocks of [`MMAP_ABOVE_BYTES`] or more that no free space in a heap holds get mappings of
///   their own, which go back to the kernel when freed, instead of growing a heap. glibc starts
///   so at 128 KiB but raises the threshold with each such block freed, up to 32 MiB, and then
///   grew its heaps for large blocks, where freed ones stayed resident when the next did not
///   fit: at the peak of a 10 M-record convert 115 MiB of the heaps was in use and 113 MiB free,
///   and `convert s3://` of those files peaked at 278–288 MiB, over the 300 MB (286 MiB) bound.
///   With 2 MiB it peaked at 223–232 MiB and the local convert at 210 instead of 255, for 3–6%
///   more time on the real-shaped set (the kernel zero-fills each new mapping) and between 3.5%
///   less and 7% more on the generator's (BENCHMARKS.md, issue 15 session 22). 1 MiB also mapped
///   each merge chunk's `eventJson` (then 1,024 records of ~2 KB) for 10 MiB less and took
///   longer; 4 MiB kept 10–15 MiB more resident.
/// - Free memory at the top of a heap is given back to the kernel only past [`KEEP_FREE_BYTES`],
///   and a heap grows by [`GROW_BY_BYTES`] more than it needs. Setting the mapping threshold
///   fixes glibc's trim threshold at 128 KiB: each batch or row group freed handed its pages
///   back and the next one faulted them in again, zero-filled (0.86 M page faults, 3 s of system
///   time in a 9 s convert of 1 M real-shaped records). What stays above that is still given
///   back by [`release_freed_memory`] past [`TRIM_ABOVE_BYTES`], so the peak stays bounded.
pub fn configure_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, cores as libc::c_int);
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_ABOVE_BYTES as libc::c_int);
            libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP_FREE_BYTES as libc::c_int);
            libc::mallopt(libc::M_TOP_PAD, GROW_BY_BYTES as libc::c_int);
        }
    }
}

/// Free bytes a heap keeps at its top rather than hand back to the kernel ([`configure_malloc`]).
/// Measured on 1 M real-shaped records (BENCHMARKS.md, issue 15 session 24), alternating: 32 MiB
/// took system time from ~3.2 to ~1.9 s and the wall time 6.5% down for ~25 MiB more peak RSS;
/// 16 MiB (1 MiB of pad) was 6% slower than that, 64 MiB (8 MiB) no faster for ~10 MiB more.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const KEEP_FREE_BYTES: usize = 32 << 20;

/// Extra room a heap takes each time it grows (pages are only resident once touched).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const GROW_BY_BYTES: usize = 4 << 20;

/// Hands memory that is free inside glibc's heaps back to the kernel once the process holds more
/// than [`TRIM_ABOVE_BYTES`]. The sink allocates and frees tens of MiB at a time on several threads
/// (a run being spilled, zstd contexts and page buffers of each row group); glibc kept those pages,
/// and peak RSS of a 1 M-record convert went from ~240 to 280–370 MB. Trimming every time cost a
/// page fault for each page touched again (2.1 M faults and 6 s of sys time at 1 M records);
/// below the threshold the freed memory stays for the next row group to reuse. Called once per
/// spilled run and per row group.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if resident_bytes().is_none_or(|rss| rss > TRIM_ABOVE_BYTES) {
        // SAFETY: malloc_trim only returns free pages to the kernel; it is thread-safe.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// Resident size above which freed heap goes back to the kernel. Measured (BENCHMARKS.md) with
/// 0, 128, 160 and 200 MiB: at 200 a 1 M-record convert took 12% less time (0.8 M page faults
/// instead of 2.0 M) at 219–224 MiB peak instead of 211; 10 M records 15% less time at 271–275 MiB
/// peak instead of 264. Since a convert reads on while a partition's last file is finished
/// (issue 15, session 20) it holds ~20 MiB more: at 200 that doubled the page faults; 220 and
/// 240 were as fast as each other at 1 M records, and 220 leaves more room under the 300 MB
/// (286 MiB) bound for the 10 M-record converts and for reading from S3, which holds the
/// objects being fetched too.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_ABOVE_BYTES: u64 = 220 << 20;

/// Memory the kernel says is available without swapping (`MemAvailable` in `/proc/meminfo`;
/// `None` elsewhere than Linux). Decides whether a convert's spilled runs fit in the page cache
/// (`dataset::spill::SpillFormat`).
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The process's resident set size, from `/proc/self/statm` (pages).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    #[test]
    fn resident_size_is_read_and_grows_with_touched_memory() {
        let before = super::resident_bytes().expect("/proc/self/statm is readable");
        let block = vec![1u8; 256 << 20];
        let after = super::resident_bytes().unwrap();
        assert!(after >= before + (192 << 20), "{before} → {after}");
        drop(block);
    }

    #[test]
    fn large_blocks_get_mappings_of_their_own() {
        // In a process of its own: in this one, blocks that other tests freed sit in glibc's
        // heaps, and a request that fits in one is served from it whatever the threshold (as in
        // trailq, where the settings come first).
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "memory::tests::large_blocks_in_a_fresh_process",
                "--ignored",
                "--test-threads=1",
            ])
            .env(FRESH_PROCESS, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    const FRESH_PROCESS: &str = "TRAILQ_TEST_FRESH_PROCESS";

    #[test]
    #[ignore = "run by large_blocks_get_mappings_of_their_own, in a process of its own"]
    fn large_blocks_in_a_fresh_process() {
        if std::env::var_os(FRESH_PROCESS).is_none() {
            return;
        }
        super::configure_malloc();
        let size = super::MMAP_ABOVE_BYTES + (1 << 20);
        // SAFETY: sysconf only reads a system constant.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        // Blocks of this size freed and asked for again: glibc's own threshold would have risen
        // past them after the first, and the later ones would come from its heap, where a freed
        // block stays resident. A block glibc maps on its own spans whole pages (its usable size
        // and 16-byte header); one from a heap is the size asked for rounded up to 16 bytes.
        for i in 0..4 {
            let block = vec![7u8; size];
            // SAFETY: the pointer is a live block from glibc's malloc (Rust's `System`).
            let usable = unsafe { libc::malloc_usable_size(block.as_ptr() as *mut libc::c_void) };
            assert_eq!(
                (usable + 16) % page,
                0,
                "block {i} of {size} bytes is mapped on its own (usable size {usable})"
            );
        }
    }

    #[test]
    fn available_memory_is_read_from_the_kernel() {
        assert!(super::available_memory().is_some_and(|b| b > 0));
    }
}
