//! The paged jump table's memory on macOS (`jump_table::paged`): a
//! reservation in which each pair is committed by `vm_remap`ping the stub
//! page, which lies in the runtime's own signed `__TEXT` (section
//! `__hcr_stubs`), and mapping a zeroed read-write page above it. No code
//! is ever written: this works under the hardened runtime without the JIT
//! entitlement, and Rosetta, which does not notice writes to code it has
//! translated, has none to notice. libffi builds its closures the same way
//! (`ffi_trampoline_table_alloc`).
//!
//! The data pages are private, so a forked child has its own targets from
//! the start; the stub pages are shared with the runtime's image and never
//! written.

use std::io;
use std::ptr::NonNull;

use super::mach;
use super::{release, reserve};
use crate::arch::STUB_PAGE;
use crate::jump_table::paged::STUB_PAGE_BYTES;

/// The stub page as the linker lays it out: aligned to 16 KiB (Apple
/// Silicon's page) in a section of `__TEXT`, so it is signed with the
/// runtime and can be remapped as a whole.
#[repr(C, align(16384))]
struct Page([u8; STUB_PAGE]);

#[unsafe(link_section = "__TEXT,__hcr_stubs")]
static STUB_PAGE_IN_TEXT: Page = Page(match STUB_PAGE_BYTES {
    Some(bytes) => bytes,
    None => [0; STUB_PAGE],
});

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
        let base = reserve(Some(address), len).map_err(|err| err.to_string())?;
        if base.as_ptr() as usize != address {
            // SAFETY: reserved just above and not used.
            unsafe { release(base, len) };
            return Err(format!(
                "something is already mapped in that range (the kernel offered {:#x})",
                base.as_ptr() as usize
            ));
        }
        Ok(StubPages { base, len })
    }

    /// A reservation of `len` bytes where the kernel chooses.
    ///
    /// # Errors
    /// No address space.
    pub(crate) fn anywhere(len: usize) -> io::Result<StubPages> {
        reserve(None, len).map(|base| StubPages { base, len })
    }

    /// The reservation's first byte.
    pub(crate) fn base(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// Maps a copy of the stub page at `offset` (a multiple of two stub
    /// pages) and a zeroed data page above it.
    ///
    /// # Errors
    /// The kernel's, from `vm_remap` or `mmap`.
    pub(crate) fn commit(&mut self, offset: usize) -> io::Result<()> {
        assert!(offset % (2 * STUB_PAGE) == 0 && offset + 2 * STUB_PAGE <= self.len);
        if STUB_PAGE_BYTES.is_none() {
            return Err(io::Error::other("this architecture has no stub page"));
        }
        let mut at = self.base() + offset;
        let (mut current, mut max) = (0, 0);
        // SAFETY: replaces (VM_FLAGS_OVERWRITE) reserved, never-used pages
        // of this value's own reservation (asserted) with a shared view of
        // the stub page, read and execute as the runtime's __TEXT is; the
        // source is a static of this library, mapped as long as the
        // process runs.
        let status = unsafe {
            mach::vm_remap(
                mach::task_self(),
                &mut at,
                STUB_PAGE,
                0,
                mach::VM_FLAGS_FIXED | mach::VM_FLAGS_OVERWRITE,
                mach::task_self(),
                (&raw const STUB_PAGE_IN_TEXT) as usize,
                0,
                &mut current,
                &mut max,
                mach::VM_INHERIT_SHARE,
            )
        };
        if status != mach::KERN_SUCCESS {
            return Err(io::Error::other(format!(
                "vm_remap of the stub page failed (kern_return_t {status})"
            )));
        }
        if at != self.base() + offset {
            return Err(io::Error::other("vm_remap placed the stub page elsewhere"));
        }
        let data = (self.base() + offset + STUB_PAGE) as *mut libc::c_void;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANON | libc::MAP_FIXED;
        // SAFETY: MAP_FIXED replaces only a reserved, never-used page of
        // this value's own reservation.
        let mapped = unsafe {
            libc::mmap(
                data,
                STUB_PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                -1,
                0,
            )
        };
        if mapped == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for StubPages {
    fn drop(&mut self) {
        // SAFETY: the reservation is this value's own; dropping it means
        // nobody calls its stubs any more (the runtime's table is never
        // dropped).
        unsafe { release(self.base, self.len) };
    }
}
