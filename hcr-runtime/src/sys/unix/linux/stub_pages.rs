//! The paged jump table's memory on Linux (`jump_table::paged`): a
//! reservation in which each pair is committed by mapping a memfd that
//! holds the stub page, read and execute, and above it a private zeroed
//! page, read and write. The stub page's bytes are the runtime's own
//! (`STUB_PAGE_BYTES`), the same macOS maps from the runtime's code.
//!
//! The data pages are private, so a forked child has its own targets from
//! the start; the stub pages are never written.

use std::io;
use std::os::fd::OwnedFd;
use std::ptr::NonNull;

use super::{Protection, map_anonymous, map_view, memfd, release, reserve_exactly, write_at};
use crate::arch::STUB_PAGE;
use crate::jump_table::paged::STUB_PAGE_BYTES;

/// A reservation for pairs of stub and data pages.
#[derive(Debug)]
pub(crate) struct StubPages {
    base: NonNull<u8>,
    len: usize,
    /// The stub page's bytes, mapped into every stub page.
    page: OwnedFd,
}

// SAFETY: the reservation is this value's own; the pointer is its address
// and carries no thread affinity.
unsafe impl Send for StubPages {}

impl StubPages {
    /// A reservation of `len` bytes at exactly `address`, or why not.
    pub(crate) fn at(address: usize, len: usize) -> Result<StubPages, String> {
        let base = reserve_exactly(address, len)?;
        StubPages::over(base, len).map_err(|err| err.to_string())
    }

    /// A reservation of `len` bytes where the kernel chooses.
    ///
    /// # Errors
    /// No address space, or no memfd.
    pub(crate) fn anywhere(len: usize) -> io::Result<StubPages> {
        StubPages::over(super::reserve(None, len)?, len)
    }

    /// Takes over the reservation `base..base + len` (released on error).
    fn over(base: NonNull<u8>, len: usize) -> io::Result<StubPages> {
        let page = STUB_PAGE_BYTES
            .ok_or_else(|| io::Error::other("this architecture has no stub page"))
            .and_then(|bytes| {
                let page = memfd(c"hcr-stub-page")?;
                write_at(&page, 0, &bytes)?;
                Ok(page)
            });
        match page {
            Ok(page) => Ok(StubPages { base, len, page }),
            Err(err) => {
                // SAFETY: reserved by the caller and not used yet.
                unsafe { release(base, len) };
                Err(err)
            }
        }
    }

    /// The reservation's first byte.
    pub(crate) fn base(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// Maps the stub page at `offset` (a multiple of two stub pages) and a
    /// zeroed data page above it.
    ///
    /// # Errors
    /// The kernel's, from `mmap`.
    pub(crate) fn commit(&mut self, offset: usize) -> io::Result<()> {
        assert!(offset % (2 * STUB_PAGE) == 0 && offset + 2 * STUB_PAGE <= self.len);
        // SAFETY: both ranges lie inside this value's own reservation
        // (asserted) and hold only reserved, never-used pages.
        unsafe {
            let code = self.base.add(offset);
            map_view(code, STUB_PAGE, &self.page, 0, Protection::ReadExecute)?;
            map_anonymous(code.add(STUB_PAGE), STUB_PAGE)
        }
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
