//! Build script of the trailq package: link flags for the release binary, nothing generated.
//!
//! A release binary for x86_64 Linux is linked
//! - with identical code folding (`--icf=all`): the generic code that Arrow, DataFusion,
//!   sqlparser and the standard library instantiate in many crates is often the same machine
//!   code, and the linker keeps one copy. The binary lost 7.3 MB (87.1 → 79.8 MB) and neither
//!   convert nor the saved queries got slower. Only functions are folded, never data; Rust does
//!   not promise that two functions have different addresses (`std::ptr::fn_addr_eq`).
//! - with packed relative relocations (`-z pack-relative-relocs`, DT_RELR) when the glibc of the
//!   machine that builds it is 2.36 or later: the position-independent binary's 280,065 pointer
//!   fix-ups take 0.07 MB instead of 6.7 MB (69.0 → 62.4 MB), and `trailq --version` starts in
//!   4.2 ms instead of 5.1 ms, with fewer relocations for the loader to apply. glibc before
//!   2.36 cannot load such a binary, so a machine with an older one (Amazon Linux 2023, RHEL 9,
//!   Ubuntu 22.04) builds without it, and so does a cross build.
//!
//! (BENCHMARKS.md, "Build", issue 15 session 26.) Only where the linker is known to take the
//! flags: rustc's own default for `x86_64-unknown-linux-gnu`, rust-lld (no `RUSTC_LINKER`, no
//! linker flags among the rustflags).
//! Another linker, e.g. the zig wrapper cargo-zigbuild sets for the release workflow's glibc
//! 2.28 builds, may refuse them. Not in debug builds: the tests would link longer for nothing.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    // A linker set in the configuration (`RUSTC_LINKER`) or chosen by flags (e.g. `-C
    // linker-features=-lld` for the system's GNU ld, which has no `--icf`) is not rust-lld.
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let default_linker = std::env::var_os("RUSTC_LINKER").is_none()
        && !["linker", "fuse-ld", "link-self-contained"]
            .iter()
            .any(|f| flags.contains(f));
    if target != "x86_64-unknown-linux-gnu" || !release || !default_linker {
        return;
    }
    println!("cargo::rustc-link-arg-bins=-Wl,--icf=all");
    if host == target && host_glibc().is_some_and(|version| version >= (2, 36)) {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// The version of the glibc this build script runs on (the build machine's).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn host_glibc() -> Option<(u32, u32)> {
    unsafe extern "C" {
        fn gnu_get_libc_version() -> *const std::ffi::c_char;
    }
    // SAFETY: glibc returns a pointer to a static NUL-terminated string, e.g. "2.36".
    let version = unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) };
    let mut parts = version.to_str().ok()?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn host_glibc() -> Option<(u32, u32)> {
    None
}
