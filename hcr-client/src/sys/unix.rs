//! Linux: the runtime is `libhcr_runtime.so`, opened `RTLD_GLOBAL` so that
//! modules opened later resolve their `hcr_*` calls against it.

use std::path::Path;

pub(crate) use libloading::os::unix::Library;
use libloading::os::unix::{RTLD_GLOBAL, RTLD_NOW};

/// The runtime library's file name.
pub(crate) const RUNTIME_FILE: &str = "libhcr_runtime.so";

/// Opens the runtime at `path` into the global scope.
///
/// # Safety
/// Loading runs the library's initializers (the runtime's own Rust std).
pub(crate) unsafe fn open_runtime(path: &Path) -> Result<Library, libloading::Error> {
    // SAFETY: forwarded from the caller.
    unsafe { Library::open(Some(path), RTLD_NOW | RTLD_GLOBAL) }
}

/// Where an already loaded runtime's symbols are found: the process's
/// global scope.
pub(crate) fn loaded_runtime() -> Option<Library> {
    Some(Library::this())
}
