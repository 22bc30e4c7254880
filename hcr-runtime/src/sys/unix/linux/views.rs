//! The jump table's memory on Linux: one memfd seen through two views
//! placed inside address-space reservations of the table's size, an
//! executable one and a writable one. A page is backed once both views map
//! the memfd there (`commit`); the rest stays reserved.
//!
//! Near placement: both views are reserved as one range where the kernel
//! chooses, which is next to the mappings made so far; then one page is
//! mapped and unmapped at once to see on which side of that range the
//! kernel maps next (below it when it hands addresses out top-down and
//! nothing higher up has room, above it when a gap higher up has room or
//! it goes bottom-up: the legacy layout, qemu-user's 64-bit guests). The
//! dynamic loader maps a library the same way, so the executable view takes
//! the half on that side, and slots grow from its edge there.

use std::io;
use std::ops::Range;
use std::os::fd::OwnedFd;
use std::ptr::NonNull;

use super::{
    Protection, map_view, memfd, probe_next_mapping, release, reserve, reserve_exactly,
    set_file_len, write_at,
};
use crate::jump_table::Growth;

/// A private copy of the table's bytes (a memfd), for a forked child.
pub(crate) type TableCopy = OwnedFd;

/// Two views of `len` bytes of one memfd, executable and writable.
#[derive(Debug)]
pub(crate) struct Views {
    rx: NonNull<u8>,
    rw: NonNull<u8>,
    len: usize,
    file: OwnedFd,
}

// SAFETY: the views are this value's own mappings; the raw pointers are
// their addresses and carry no thread affinity.
unsafe impl Send for Views {}

impl Views {
    /// Views with the executable one at exactly `address`, or why not
    /// (something is mapped in that range, or the kernel offered another
    /// address, as emulators and valgrind do). Nothing mapped before is
    /// ever replaced.
    pub(crate) fn at(address: usize, len: usize) -> Result<Views, String> {
        let rx = reserve_exactly(address, len)?;
        let rw = reserve(None, len).inspect_err(|_| {
            // SAFETY: reserved just above and not used.
            unsafe { release(rx, len) }
        });
        rw.and_then(|rw| Views::over(rx, rw, len))
            .map_err(|err| err.to_string())
    }

    /// Views beside where the kernel maps next, and which way slots should
    /// be handed out to stay near it (see the module docs).
    ///
    /// # Errors
    /// No address space, or no memfd.
    pub(crate) fn near(len: usize) -> io::Result<(Views, Growth)> {
        let Some(both) = len.checked_mul(2).and_then(|both| reserve(None, both).ok()) else {
            // No room for both in one range (a 32-bit process asking for a
            // large table): each view where it fits.
            let rx = reserve(None, len)?;
            let rw = reserve(None, len).inspect_err(|_| {
                // SAFETY: reserved just above and not used.
                unsafe { release(rx, len) }
            })?;
            let growth = growth_towards_next_mapping(rx, len);
            return Ok((Views::over(rx, rw, len)?, growth));
        };
        // SAFETY: `both` spans two views of `len` bytes, so its middle lies
        // inside it.
        let upper = unsafe { both.add(len) };
        let growth = growth_towards_next_mapping(both, 2 * len);
        let (rx, rw) = match growth {
            Growth::Down => (upper, both),
            Growth::Up => (both, upper),
        };
        Ok((Views::over(rx, rw, len)?, growth))
    }

    /// Views over two reservations of `len` bytes, taken over by the
    /// result (released on error).
    fn over(rx: NonNull<u8>, rw: NonNull<u8>, len: usize) -> io::Result<Views> {
        // The file spans the whole table from the start (it is sparse: only
        // written pages take memory), so a view of any stretch can be mapped.
        let file =
            memfd(c"hcr-jump-table").and_then(|file| set_file_len(&file, len).map(|()| file));
        match file {
            Ok(file) => Ok(Views { rx, rw, len, file }),
            Err(err) => {
                // SAFETY: both ranges were reserved by the caller and nothing
                // uses them yet.
                unsafe {
                    release(rx, len);
                    release(rw, len);
                }
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

    /// Backs `range` (page-aligned offsets) of both views with memory.
    ///
    /// # Errors
    /// The kernel's, from `mmap`.
    pub(crate) fn commit(&mut self, range: Range<usize>) -> io::Result<()> {
        assert!(range.end <= self.len);
        for (base, protection) in [
            (self.rx, Protection::ReadExecute),
            (self.rw, Protection::ReadWrite),
        ] {
            // SAFETY: `range` lies inside this value's own reservation
            // (asserted) and holds only reserved, never-used pages, so
            // replacing it with a view of the memfd is sound.
            unsafe {
                map_view(
                    base.add(range.start),
                    range.len(),
                    &self.file,
                    range.start,
                    protection,
                )?;
            }
        }
        Ok(())
    }

    /// A private copy of `range` of the table's bytes, for a child process
    /// to switch to after `fork` ([`Views::switch_to`]). The caller keeps
    /// the bytes from changing meanwhile.
    pub(crate) fn snapshot(&self, range: Range<usize>) -> io::Result<TableCopy> {
        assert!(range.end <= self.len);
        let copy = memfd(c"hcr-jump-table")?;
        set_file_len(&copy, self.len)?;
        // SAFETY: `range` of the writable view is committed (the caller's
        // promise), mapped and readable; nothing writes it meanwhile.
        let bytes =
            unsafe { std::slice::from_raw_parts(self.rw.as_ptr().add(range.start), range.len()) };
        write_at(&copy, range.start, bytes)?;
        Ok(copy)
    }

    /// Makes `copy` the memory behind `range` of both views, at the same
    /// addresses.
    ///
    /// # Safety
    /// `copy` holds the table's bytes of `range` (from
    /// [`Views::snapshot`] with no write since) and no other thread runs
    /// (the child right after `fork`), so no call is in flight through a
    /// view while it is replaced.
    pub(crate) unsafe fn switch_to(
        &mut self,
        copy: TableCopy,
        range: Range<usize>,
    ) -> io::Result<()> {
        assert!(range.end <= self.len);
        for (base, protection) in [
            (self.rw, Protection::ReadWrite),
            (self.rx, Protection::ReadExecute),
        ] {
            // SAFETY: `range` is this value's own view, replaced by a view
            // of the same bytes; see the caller's promise.
            unsafe {
                map_view(
                    base.add(range.start),
                    range.len(),
                    &copy,
                    range.start,
                    protection,
                )?
            };
        }
        self.file = copy;
        Ok(())
    }
}

impl Drop for Views {
    fn drop(&mut self) {
        // SAFETY: both ranges are this value's own reservations; dropping
        // it means nobody uses them any more (the runtime's table is never
        // dropped).
        unsafe {
            release(self.rx, self.len);
            release(self.rw, self.len);
        }
    }
}

/// [`Growth::Down`] when the kernel's next mapping lands above `range`,
/// else [`Growth::Up`]. A failed probe keeps Nim's direction.
fn growth_towards_next_mapping(range: NonNull<u8>, len: usize) -> Growth {
    match probe_next_mapping() {
        Ok(next) if next >= range.as_ptr() as usize + len => Growth::Down,
        _ => Growth::Up,
    }
}
