//! Windows: memory for the jump table (a pagefile-backed section mapped
//! twice), processes, and the modules for loading, objects, unwinding and
//! the crash guard.

use std::ffi::c_void;
use std::io::{self, Write as _};
use std::os::windows::ffi::OsStrExt as _;
use std::path::Path;

use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};

pub(crate) mod copy;
pub(crate) mod crash_guard;
pub(crate) mod library;
pub(crate) mod objects;
mod stamp;
mod stub_pages;
pub(crate) mod unwind;
mod views;

pub(crate) use stamp::FileStamp;
pub(crate) use stub_pages::StubPages;
pub(crate) use views::{TableCopy, Views};

/// The jump table's layout here: two views of one section.
pub(crate) const TABLE_LAYOUT: crate::jump_table::Layout = crate::jump_table::Layout::Mapped;

fn system_info() -> SYSTEM_INFO {
    // SAFETY: an all-zero SYSTEM_INFO is a valid value to be overwritten;
    // GetSystemInfo only writes it.
    unsafe {
        let mut info: SYSTEM_INFO = std::mem::zeroed();
        GetSystemInfo(&mut info);
        info
    }
}

/// The size of a page on this machine.
pub(crate) fn page_size() -> usize {
    system_info().dwPageSize as usize
}

/// The granularity at which views can be placed (64 KiB).
pub(crate) fn allocation_granularity() -> usize {
    system_info().dwAllocationGranularity as usize
}

/// Whether this system has `fork` (and so the jump table's copies for a
/// forked child).
pub(crate) const HAS_FORK: bool = false;

/// Whether a file open for reading keeps a build from replacing it: yes,
/// a rename over a file that is open fails with "access denied" (wine
/// does so too), so nothing reads a module's file while its host might
/// not expect a build to be written.
pub(crate) const READING_BLOCKS_REPLACING: bool = true;

/// Registers fork handlers: Windows has no `fork`, so there is nothing to
/// watch for.
pub(crate) fn at_fork(
    _prepare: unsafe extern "C" fn(),
    _parent: unsafe extern "C" fn(),
    _child: unsafe extern "C" fn(),
) -> io::Result<()> {
    Ok(())
}

/// Writes `text` to standard error.
pub(crate) fn write_stderr(text: &[u8]) {
    let _ = io::stderr().write_all(text);
}

/// `path` as a NUL-terminated UTF-16 string, for the wide Windows calls.
fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain([0]).collect()
}

/// An address inside this library's image (the runtime's own code).
fn this_image() -> *const c_void {
    page_size as *const c_void
}
