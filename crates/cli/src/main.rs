//! `backfill`: the command line, all of it in the library ([`backfill::main_with_args`]).

use std::process::ExitCode;

fn main() -> ExitCode {
    keep_freed_heap();
    backfill::main_with_args(std::env::args_os())
}

/// Lets glibc's malloc keep up to 16 MiB of freed memory at the top of each heap instead of
/// handing it back to the kernel at every `free`. Decoding a Parquet column chunk allocates and
/// frees a zstd context; with glibc's default the pages went back and were faulted in again each
/// time: `check` on 40,000 files spent 1.3 to 1.6 s of system time doing that, 0.3 to 0.5 s
/// with this (`bench/plan.md`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn keep_freed_heap() {
    const TRIM_THRESHOLD: libc::c_int = 16 << 20;
    // SAFETY: `mallopt` only sets a malloc parameter; it is called before any other thread
    // exists. A refusal (return value 0) leaves glibc's default, which is only slower.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_heap() {}
