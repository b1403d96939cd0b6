//! Build script of the trailq package: one link flag for the release binary, nothing generated.
//!
//! A release binary for x86_64 Linux is linked with identical code folding (`--icf=all`): the
//! generic code that Arrow, DataFusion, sqlparser and the standard library instantiate in many
//! crates is often the same machine code, and the linker keeps one copy. The binary lost 7.3 MB
//! (87.1 → 79.8 MB) and neither convert nor the saved queries got slower (BENCHMARKS.md,
//! "Build", issue 15 session 26). Only functions are folded, never data; Rust does not promise
//! that two functions have different addresses (`std::ptr::fn_addr_eq`).
//!
//! Only where the linker is known to take the flag: rustc's own default for
//! `x86_64-unknown-linux-gnu`, rust-lld (`RUSTC_LINKER` unset). Another linker, e.g. the zig
//! wrapper cargo-zigbuild sets for the release workflow's glibc 2.28 builds, may refuse it. Not in
//! debug builds: the tests would link longer for nothing.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let default_linker = std::env::var_os("RUSTC_LINKER").is_none();
    if target == "x86_64-unknown-linux-gnu" && release && default_linker {
        println!("cargo::rustc-link-arg-bins=-Wl,--icf=all");
    }
}
