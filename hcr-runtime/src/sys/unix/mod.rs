//! Unix (Linux and macOS): what both systems do alike (pages, fork
//! handlers, stderr, the `dlopen` loader, dladdr, file stamps, unwinding,
//! the signal-based crash guard) here; memory for the jump table, copies of
//! module libraries, the library check and the list of loaded code in the
//! module of each system (`linux`, `macos`).

pub(crate) mod crash_guard;
pub(crate) mod library;
pub(crate) mod objects;
mod stamp;
pub(crate) mod unwind;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as os;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as os;

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
compile_error!("hcr-runtime supports Linux and macOS among Unix systems");

#[cfg(not(hcr_mapped_table))]
pub(crate) use os::NO_MAPPED_TABLE;
#[cfg(hcr_mapped_table)]
pub(crate) use os::Views;
pub(crate) use os::{StubPages, TABLE_LAYOUT, TableCopy, copy};
pub(crate) use stamp::FileStamp;

use std::io;

/// The size of a page on this machine.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions; _SC_PAGESIZE is always supported.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// The granularity at which views can be placed: a page.
pub(crate) fn allocation_granularity() -> usize {
    page_size()
}

/// Whether this system has `fork` (and so the jump table's copies for a
/// forked child).
pub(crate) const HAS_FORK: bool = true;

/// Whether a file open for reading keeps a build from replacing it: not
/// here, where a rename over it only unlinks the old name.
pub(crate) const READING_BLOCKS_REPLACING: bool = false;

/// Registers `pthread_atfork` handlers.
pub(crate) fn at_fork(
    prepare: unsafe extern "C" fn(),
    parent: unsafe extern "C" fn(),
    child: unsafe extern "C" fn(),
) -> io::Result<()> {
    // SAFETY: the handlers are functions of this library, which is never
    // unloaded (glibc would unregister them if it were).
    let status = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
    if status != 0 {
        return Err(io::Error::from_raw_os_error(status));
    }
    Ok(())
}

/// Writes `text` to fd 2 with one `write`, taking no lock (for a forked
/// child, where another thread of the parent may have held stderr's).
pub(crate) fn write_stderr(text: &[u8]) {
    // SAFETY: write reads `text.len()` bytes from a live slice.
    let _ = unsafe { libc::write(2, text.as_ptr().cast(), text.len()) };
}
