//! Link settings that make a short `rsops` run cheaper to start.
//!
//! Most of a small `rsops decrypt` is spent before and around `main`:
//! mapping the binary, page faults on its code, and the loader's work (see
//! docs/performance.md, "Start-up"). Two link settings cut that, on the
//! one target where we can tell they are safe:
//!
//! * The unwinder is linked statically (`libgcc_eh.a`) instead of loading
//!   `libgcc_s.so.1`: one shared object less to map and relocate, and no run
//!   of its CPU-detection constructor (each `cpuid` is a trap to the
//!   hypervisor on a virtual machine). Unwinding works as before.
//! * The functions a short run executes (`startup-order.txt`, written by
//!   `scripts/startup-order.sh`) are placed next to each other by the
//!   linker (`--symbol-ordering-file`), so they share fewer pages. A name
//!   the build does not define (another compiler version, changed code) is
//!   skipped; the order never changes what the program does.
//!
//! Both apply only to `x86_64-unknown-linux-gnu` with the toolchain's
//! default linker (rust-lld, the default since Rust 1.90) and can be turned
//! off with `RSOPS_PLAIN_LINK=1`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=startup-order.txt");
    println!("cargo:rerun-if-env-changed=RSOPS_PLAIN_LINK");
    if env::var_os("RSOPS_PLAIN_LINK").is_some_and(|v| !v.is_empty() && v != "0") {
        return;
    }
    if env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu") {
        return;
    }
    if let Some(dir) = static_unwinder_dir() {
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static=gcc_eh");
    }
    if default_linker_is_lld() {
        let order = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
            .join("startup-order.txt");
        if order.is_file() {
            println!(
                "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
                order.display()
            );
            println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
        }
    }
}

/// The directory of the C compiler's `libgcc_eh.a`, if it has one.
fn static_unwinder_dir() -> Option<PathBuf> {
    let cc = env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let out = Command::new(cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // Without the library, the compiler prints the bare name back.
    (out.status.success() && path.is_absolute() && path.is_file())
        .then(|| path.parent().map(Path::to_path_buf))
        .flatten()
}

/// Whether the binary will be linked by rust-lld: Rust 1.90 or later, and
/// no linker, linker flavour or self-contained setting of our user's.
fn default_linker_is_lld() -> bool {
    if env::var_os("RUSTC_LINKER").is_some() {
        return false;
    }
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if [
        "linker",
        "link-self-contained",
        "fuse-ld",
        "linker-features",
    ]
    .iter()
    .any(|f| flags.contains(f))
    {
        return false;
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let Ok(out) = Command::new(rustc).arg("-vV").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let release = text
        .lines()
        .find_map(|l| l.strip_prefix("release: "))
        .unwrap_or_default();
    let mut parts = release.split(['.', '-']).map(|p| p.parse::<u32>().ok());
    matches!(
        (parts.next().flatten(), parts.next().flatten()),
        (Some(1), Some(minor)) if minor >= 90
    )
}
