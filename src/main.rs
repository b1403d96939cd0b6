use std::error::Error as _;
use std::process::ExitCode;

use clap::Parser;

use trailq::cli::Cli;

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    match trailq::commands::run(cli) {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut cause = e.source();
            while let Some(c) = cause {
                eprintln!("caused by: {c}");
                cause = c.source();
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// glibc gives each thread its own malloc arena (up to 8 per core); the large Arrow buffers that
/// workers and partition writers free then stay in separate arenas and peak RSS grew by ~100 MB in
/// the convert benchmark. One arena per core keeps it down at no measurable cost (BENCHMARKS.md).
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, cores as libc::c_int);
        }
    }
}
