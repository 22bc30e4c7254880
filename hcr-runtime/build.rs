//! On Linux, gives `libhcr_runtime.so` a SONAME, and on macOS
//! `libhcr_runtime.dylib` the install name `@rpath/libhcr_runtime.dylib`;
//! on both compiles the crash guard's C shim (its catching is
//! signal-based); on Windows, compiles the Windows shim (a vectored
//! exception handler).
//!
//! C modules linked with `-lhcr_runtime` record the SONAME as a dependency;
//! without it the loader would look the library up by path when a module
//! is opened from its in-memory copy, and fail even though the runtime is
//! already loaded.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // The shims live beside the reference stubs in the workspace's asm/
    // directory.
    let asm = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("..")
        .join("asm");
    println!(
        "cargo:rerun-if-changed={}",
        asm.join("crash_guard_table.h").display()
    );
    // The mapped jump table (two views, one writable, one executable, of
    // the same memory) is for every system but Apple's, where executable
    // memory must come from signed code: there the paged table is the
    // only one.
    println!("cargo:rustc-check-cfg=cfg(hcr_mapped_table)");
    if std::env::var("CARGO_CFG_TARGET_VENDOR").as_deref() != Ok("apple") {
        println!("cargo:rustc-cfg=hcr_mapped_table");
    }
    match std::env::var("CARGO_CFG_TARGET_FAMILY").as_deref() {
        Ok("unix") => unix(&asm),
        Ok("windows") => windows(&asm),
        _ => {}
    }
}

/// The Windows shim: a vectored exception handler, no per-architecture
/// part (the system hands it the faulting instruction).
fn windows(asm: &std::path::Path) {
    let shim = asm.join("crash_guard_windows.c");
    println!("cargo:rerun-if-changed={}", shim.display());
    cc::Build::new()
        .file(&shim)
        .warnings(true)
        .extra_warnings(true)
        .compile("hcr_crash_guard");
}

fn unix(asm: &std::path::Path) {
    if std::env::var("CARGO_CFG_TARGET_VENDOR").as_deref() == Ok("apple") {
        // Hosts and C modules record this name, and dyld finds the
        // runtime by it through their run path (beside the executable):
        // rustc's default is the absolute path it was built at.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libhcr_runtime.dylib");
    } else {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libhcr_runtime.so");
    }
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").expect("set by cargo");
    let arch_dir = asm.join(&arch);
    let shim = asm.join("crash_guard.c");
    let header = arch_dir.join("fault_pc.h");
    assert!(
        header.exists(),
        "the crash guard has no fault_pc.h for {arch} (looked in {})",
        arch_dir.display()
    );
    println!("cargo:rerun-if-changed={}", shim.display());
    println!("cargo:rerun-if-changed={}", header.display());
    cc::Build::new()
        .file(&shim)
        .include(&arch_dir)
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-fasynchronous-unwind-tables")
        .compile("hcr_crash_guard");
}
