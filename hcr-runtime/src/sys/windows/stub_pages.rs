//! The paged jump table's memory on Windows (`jump_table::paged`): one
//! reservation in which each pair is committed as a stub page, written
//! with the runtime's stub page bytes and then made read and execute
//! before any slot in it is handed out, and above it a zeroed read-write
//! data page. Views of a section could not alternate this finely (Windows
//! places them at 64 KiB), but page protections within one allocation can.
//! A stub page is written only while no thread can run it, and never again.

use std::ffi::c_void;
use std::io;
use std::ptr::NonNull;

use windows_sys::Win32::System::Diagnostics::Debug::FlushInstructionCache;
use windows_sys::Win32::System::Memory::{
    MEM_COMMIT, MEM_RELEASE, MEM_RESERVE, PAGE_EXECUTE_READ, PAGE_NOACCESS, PAGE_READWRITE,
    VirtualAlloc, VirtualFree, VirtualProtect,
};
use windows_sys::Win32::System::Threading::GetCurrentProcess;

use crate::arch::STUB_PAGE;
use crate::jump_table::paged::STUB_PAGE_BYTES;

/// A reservation for pairs of stub and data pages.
#[derive(Debug)]
pub(crate) struct StubPages {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the reservation is this value's own; the pointer is its address
// and carries no thread affinity.
unsafe impl Send for StubPages {}

impl StubPages {
    /// A reservation of `len` bytes at exactly `address`, or why not.
    pub(crate) fn at(address: usize, len: usize) -> Result<StubPages, String> {
        match reserve(address, len) {
            Ok(base) if base.as_ptr() as usize == address => Ok(StubPages { base, len }),
            Ok(elsewhere) => {
                let pages = StubPages {
                    base: elsewhere,
                    len,
                };
                Err(format!("Windows offered {:#x} instead", pages.base()))
            }
            Err(err) => Err(format!("something is already there ({err})")),
        }
    }

    /// A reservation of `len` bytes where Windows chooses.
    ///
    /// # Errors
    /// No address space, or no stub page for this architecture.
    pub(crate) fn anywhere(len: usize) -> io::Result<StubPages> {
        reserve(0, len).map(|base| StubPages { base, len })
    }

    /// The reservation's first byte.
    pub(crate) fn base(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// Commits the stub page at `offset` (a multiple of two stub pages),
    /// written and then made read and execute, and a zeroed data page
    /// above it.
    ///
    /// # Errors
    /// Windows', from `VirtualAlloc` or `VirtualProtect`.
    pub(crate) fn commit(&mut self, offset: usize) -> io::Result<()> {
        assert!(offset % (2 * STUB_PAGE) == 0 && offset + 2 * STUB_PAGE <= self.len);
        let bytes = STUB_PAGE_BYTES
            .ok_or_else(|| io::Error::other("this architecture has no stub page"))?;
        // SAFETY: the pair lies inside this value's own reservation
        // (asserted) and is committed here for the first time: no slot in
        // it has been handed out, so no thread runs or reads it while the
        // stub page is written and its protection changed.
        unsafe {
            let code = self.base.as_ptr().add(offset);
            commit(code, 2 * STUB_PAGE)?;
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), code, STUB_PAGE);
            let mut before = 0;
            if VirtualProtect(code.cast(), STUB_PAGE, PAGE_EXECUTE_READ, &mut before) == 0 {
                return Err(io::Error::last_os_error());
            }
            FlushInstructionCache(GetCurrentProcess(), code.cast(), STUB_PAGE);
        }
        Ok(())
    }
}

impl Drop for StubPages {
    fn drop(&mut self) {
        // SAFETY: the reservation is this value's own; dropping it means
        // nobody calls its stubs any more (the runtime's table is never
        // dropped).
        unsafe { VirtualFree(self.base.as_ptr().cast(), 0, MEM_RELEASE) };
    }
}

/// Reserves `len` bytes, at `address` when it is not 0.
fn reserve(address: usize, len: usize) -> io::Result<NonNull<u8>> {
    // SAFETY: reserving address space touches nothing already allocated.
    let base = unsafe { VirtualAlloc(address as *const c_void, len, MEM_RESERVE, PAGE_NOACCESS) };
    NonNull::new(base.cast()).ok_or_else(io::Error::last_os_error)
}

/// Commits `len` zeroed read-write bytes at `at`.
///
/// # Safety
/// `at..at + len` lies inside a reservation of the caller's.
unsafe fn commit(at: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: forwarded from the caller.
    let done = unsafe { VirtualAlloc(at.cast(), len, MEM_COMMIT, PAGE_READWRITE) };
    if done.is_null() {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
