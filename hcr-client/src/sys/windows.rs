//! Windows: the runtime is `hcr_runtime.dll`; modules import it by that
//! name, and the loader binds them to the one already loaded.

use std::path::Path;

pub(crate) use libloading::os::windows::Library;

/// The runtime library's file name.
pub(crate) const RUNTIME_FILE: &str = "hcr_runtime.dll";

/// Opens the runtime at `path`.
///
/// # Safety
/// Loading runs the library's initializers (the runtime's own Rust std).
pub(crate) unsafe fn open_runtime(path: &Path) -> Result<Library, libloading::Error> {
    // SAFETY: forwarded from the caller.
    unsafe { Library::new(path) }
}

/// The runtime already loaded in this process, if any.
pub(crate) fn loaded_runtime() -> Option<Library> {
    Library::open_already_loaded(RUNTIME_FILE).ok()
}
