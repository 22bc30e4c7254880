//! The jump table's memory on Windows: one pagefile-backed section
//! (`CreateFileMapping` with `SEC_RESERVE`, so its pages are reserved, not
//! backed) mapped twice, an executable, read-only view and a writable one.
//! A page is backed once it is committed through the writable view
//! (`VirtualAlloc(MEM_COMMIT)`); the executable view then reads it as
//! `PAGE_EXECUTE_READ`. No page is ever writable and executable.
//!
//! Near placement: the executable view goes right below the runtime's own
//! image (or as close below it as there is room), slots handed out from
//! its top; each module version is loaded from a copy rebased to prefer
//! the first free range above the view (`copy`), so the modules land
//! beside the first slots.

use std::io;
use std::ops::Range;
use std::os::windows::io::{AsRawHandle as _, FromRawHandle as _, OwnedHandle};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use windows_sys::Win32::Foundation::{ERROR_INVALID_ADDRESS, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, FILE_MAP, FILE_MAP_EXECUTE, FILE_MAP_READ, FILE_MAP_WRITE, MEM_COMMIT,
    MEMORY_MAPPED_VIEW_ADDRESS, MapViewOfFileEx, PAGE_EXECUTE_READWRITE, PAGE_READWRITE,
    SEC_RESERVE, UnmapViewOfFile, VirtualAlloc,
};

use super::allocation_granularity;
use crate::jump_table::Growth;

/// Where the executable view of the process's table ends: module copies
/// are placed in the first free range from there up ([`modules_from`]).
static TABLE_END: AtomicUsize = AtomicUsize::new(0);

/// Where module copies should prefer to load from: the end of the jump
/// table's executable view once one was reserved, else `None`.
pub(super) fn modules_from() -> Option<usize> {
    match TABLE_END.load(Ordering::Relaxed) {
        0 => None,
        end => Some(end),
    }
}

/// A private copy of the table, for a forked child: Windows has no `fork`,
/// so none is ever made.
#[derive(Debug)]
pub(crate) struct TableCopy(());

/// Two views of `len` bytes of one section, executable and writable.
#[derive(Debug)]
pub(crate) struct Views {
    rx: NonNull<u8>,
    rw: NonNull<u8>,
    len: usize,
    /// Held, not read: the section lives as long as its views and this.
    _section: OwnedHandle,
}

// SAFETY: the views are this value's own mappings; the raw pointers are
// their addresses and carry no thread affinity.
unsafe impl Send for Views {}

/// A section of `len` bytes of reserved (not committed) pagefile memory
/// that views may map executable or writable.
fn section(len: usize) -> io::Result<OwnedHandle> {
    let len = len as u64;
    // SAFETY: no file (the pagefile backs it), no security attributes, no
    // name; the handle returned is owned by the result.
    let handle = unsafe {
        CreateFileMappingW(
            INVALID_HANDLE_VALUE,
            std::ptr::null(),
            PAGE_EXECUTE_READWRITE | SEC_RESERVE,
            (len >> 32) as u32,
            len as u32,
            std::ptr::null(),
        )
    };
    if handle.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh handle that nobody else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle) })
}

/// Maps `len` bytes of `section` with `access`, at `at` or where Windows
/// chooses. A taken address fails (`ERROR_INVALID_ADDRESS`): nothing mapped
/// is ever replaced.
fn map(
    section: &OwnedHandle,
    access: FILE_MAP,
    at: Option<usize>,
    len: usize,
) -> io::Result<NonNull<u8>> {
    let at = at.unwrap_or(0) as *const std::ffi::c_void;
    // SAFETY: maps the whole section, which is `len` bytes; nothing
    // already mapped can be replaced.
    let view = unsafe { MapViewOfFileEx(section.as_raw_handle(), access, 0, 0, len, at) };
    NonNull::new(view.Value.cast()).ok_or_else(io::Error::last_os_error)
}

/// Unmaps a view made by [`map`].
///
/// # Safety
/// Nothing uses the view afterwards.
unsafe fn unmap(view: NonNull<u8>) {
    // SAFETY: the caller's promise.
    unsafe {
        UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS {
            Value: view.as_ptr().cast(),
        });
    }
}

impl Views {
    /// Views with the executable one at exactly `address`, or why not.
    pub(crate) fn at(address: usize, len: usize) -> Result<Views, String> {
        let section = section(len).map_err(|err| err.to_string())?;
        let rx = match map(
            &section,
            FILE_MAP_READ | FILE_MAP_EXECUTE,
            Some(address),
            len,
        ) {
            Ok(rx) => rx,
            Err(err) if err.raw_os_error() == Some(ERROR_INVALID_ADDRESS as i32) => {
                return Err("something is already mapped in that range".to_owned());
            }
            Err(err) => return Err(err.to_string()),
        };
        Views::with_writable(section, rx, len).map_err(|err| err.to_string())
    }

    /// Views with the executable one right below the runtime's image, or
    /// as close below it as there is room, else wherever Windows puts it;
    /// slots are handed out from its top.
    ///
    /// # Errors
    /// No section or no address space.
    pub(crate) fn near(len: usize) -> io::Result<(Views, Growth)> {
        let section = section(len)?;
        let access = FILE_MAP_READ | FILE_MAP_EXECUTE;
        let granularity = allocation_granularity();
        let image = image_base().unwrap_or(0);
        // Below the image, a step further down each time something is in
        // the way: up to 64 tries over 1 GiB.
        let step = (16 << 20).max(granularity);
        let candidates = (0..64).filter_map(|tries: usize| {
            let top = image.checked_sub(tries * step)? / granularity * granularity;
            top.checked_sub(len.next_multiple_of(granularity))
        });
        let rx = candidates
            .filter(|at| *at > 0)
            .find_map(|at| map(&section, access, Some(at), len).ok());
        let rx = match rx {
            Some(rx) => rx,
            None => map(&section, access, None, len)?,
        };
        Ok((Views::with_writable(section, rx, len)?, Growth::Down))
    }

    /// The views of `section` whose executable one is `rx`: maps the
    /// writable one anywhere.
    fn with_writable(section: OwnedHandle, rx: NonNull<u8>, len: usize) -> io::Result<Views> {
        match map(&section, FILE_MAP_WRITE, None, len) {
            Ok(rw) => {
                // The first table reserved is the runtime's; later ones
                // (tests, benches) leave the modules where they are.
                let end = rx.as_ptr() as usize + len;
                let _ = TABLE_END.compare_exchange(0, end, Ordering::Relaxed, Ordering::Relaxed);
                Ok(Views {
                    rx,
                    rw,
                    len,
                    _section: section,
                })
            }
            Err(err) => {
                // SAFETY: mapped just above, not used.
                unsafe { unmap(rx) };
                Err(err)
            }
        }
    }

    /// The executable view's first byte.
    pub(crate) fn rx(&self) -> NonNull<u8> {
        self.rx
    }

    /// The writable view's first byte.
    pub(crate) fn rw(&self) -> NonNull<u8> {
        self.rw
    }

    /// Backs `range` (page-aligned offsets) of the section with memory,
    /// through the writable view; the executable view sees it too.
    ///
    /// # Errors
    /// Windows', from `VirtualAlloc`.
    pub(crate) fn commit(&mut self, range: Range<usize>) -> io::Result<()> {
        assert!(range.end <= self.len);
        // SAFETY: `range` lies inside this value's own writable view
        // (asserted); committing only backs reserved pages of the section.
        let committed = unsafe {
            VirtualAlloc(
                self.rw.as_ptr().add(range.start).cast(),
                range.len(),
                MEM_COMMIT,
                PAGE_READWRITE,
            )
        };
        if committed.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// A private copy of the table for a forked child: never asked for on
    /// Windows, which has no `fork`.
    pub(crate) fn snapshot(&self, _range: Range<usize>) -> io::Result<TableCopy> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "Windows has no fork",
        ))
    }

    /// Switches to a copy from [`Views::snapshot`], of which there is none
    /// on Windows.
    ///
    /// # Safety
    /// None needed: nothing changes.
    pub(crate) unsafe fn switch_to(
        &mut self,
        _copy: TableCopy,
        _range: Range<usize>,
    ) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "Windows has no fork",
        ))
    }
}

impl Drop for Views {
    fn drop(&mut self) {
        // SAFETY: both views are this value's own; dropping it means nobody
        // uses them any more (the runtime's table is never dropped).
        unsafe {
            unmap(self.rx);
            unmap(self.rw);
        }
    }
}

/// Where the runtime's own image starts.
fn image_base() -> Option<usize> {
    super::objects::runtime_module().map(|module| module as usize)
}
