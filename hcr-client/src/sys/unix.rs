//! Linux and macOS: the runtime is `libhcr_runtime.so` (`.dylib` on
//! macOS), opened `RTLD_GLOBAL` so that modules opened later find its
//! `hcr_*` entry points in the process's global scope.

use std::path::Path;

pub(crate) use libloading::os::unix::Library;
use libloading::os::unix::{RTLD_GLOBAL, RTLD_NOW};

/// The runtime library's file name.
#[cfg(not(target_os = "macos"))]
pub(crate) const RUNTIME_FILE: &str = "libhcr_runtime.so";
/// The runtime library's file name.
#[cfg(target_os = "macos")]
pub(crate) const RUNTIME_FILE: &str = "libhcr_runtime.dylib";

/// Opens the runtime at `path` into the global scope.
///
/// # Safety
/// Loading runs the library's initializers (the runtime's own Rust std).
pub(crate) unsafe fn open_runtime(path: &Path) -> Result<Library, libloading::Error> {
    // SAFETY: forwarded from the caller.
    unsafe { Library::open(Some(path), RTLD_NOW | RTLD_GLOBAL) }
}

/// Where an already loaded runtime's symbols are found: the process's
/// global scope (never to be closed).
#[cfg(not(target_os = "macos"))]
pub(crate) fn loaded_runtime() -> Option<Library> {
    Some(Library::this())
}

/// Where an already loaded runtime's symbols are found: every image but
/// those opened `RTLD_LOCAL` (`RTLD_DEFAULT`; dyld's handle of the main
/// program would search only what it was linked with). Never to be closed.
#[cfg(target_os = "macos")]
pub(crate) fn loaded_runtime() -> Option<Library> {
    // SAFETY: RTLD_DEFAULT is a pseudo-handle dlsym takes; the caller
    // never closes it.
    Some(unsafe { Library::from_raw(libc::RTLD_DEFAULT) })
}
