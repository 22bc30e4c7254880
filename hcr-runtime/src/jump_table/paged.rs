//! The paged table: stubs that are copies of one page of fixed code in the
//! runtime ([`STUB_PAGE_BYTES`]), each copy with a data page right above it
//! holding its stubs' targets. No instruction is ever written, so no page
//! is ever writable and executable, nothing needs the instruction cache
//! flushed, and on macOS every stub runs from a copy of the runtime's own
//! signed code (libffi's trampoline tables work the same way).
//!
//! # Layout
//! The reservation is a run of pairs of [`STUB_PAGE`]-byte blocks: a copy
//! of the stub page, then its data page. The stub page holds
//! [`STUBS_PER_PAGE`] stubs of [`PAGE_STUB_LEN`] bytes and, last, a
//! bad-call entry. Slot `k` (counting handed-out slots from 0) is stub `k %
//! STUBS_PER_PAGE` of pair `k / STUBS_PER_PAGE`; its cell is the word
//! [`STUB_PAGE`] bytes above it. The stub loads the cell's address into a
//! scratch register and jumps to what the cell holds. A slot without a
//! proc holds its page's bad-call entry, which takes the slot's address
//! back from that register and jumps through its page's handler cell (the
//! word above the entry) to the bad-call handler.
//!
//! Pairs are committed as slots need them: the system maps a copy of the
//! stub page and a zeroed read-write page (`sys::StubPages`).
//!
//! # Why re-pointing is safe while other threads call through a slot
//! A target is one aligned pointer-sized word, stored with one atomic
//! `Release` store and loaded by the stub with one aligned load: a caller
//! sees the old or the new target, both complete code. As in the mapped
//! layout's data form, only data changes.
//!
//! # Where it runs
//! On macOS (the only layout there) and, for the Linux suite to run the
//! code macOS runs, on Linux x86_64 and AArch64 when
//! `HCR_JUMP_TABLE_LAYOUT=paged` asks, where pages of at most
//! [`STUB_PAGE`] bytes let a stub page and its data page alternate.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::placement::{Growth, Placed, Placement};
use super::{ADDRESS_ENV, JumpTableConfig, Layout, SlotId, TableError};
use crate::arch::{PAGE_BAD_CALL_OFFSET, PAGE_STUB_LEN, STUB_PAGE, host};
use crate::sys::{self, StubPages};

/// Stubs in one copy of the stub page (all but its bad-call entry).
pub const STUBS_PER_PAGE: usize = PAGE_BAD_CALL_OFFSET / PAGE_STUB_LEN;

/// Bytes of a stub page and its data page.
const PAIR: usize = 2 * STUB_PAGE;

/// The stub page of this architecture: [`STUBS_PER_PAGE`] stubs, then the
/// bad-call entry; none where the architecture has no stub page pieces.
pub(crate) const STUB_PAGE_BYTES: Option<[u8; STUB_PAGE]> = match host::PAGE_PIECES {
    Some(pieces) => Some(crate::arch::stub_page(pieces)),
    None => None,
};

/// The reserved pairs of pages, of which the first `pairs` are committed.
#[derive(Debug)]
pub(super) struct Paged {
    pages: StubPages,
    capacity: usize,
    pairs: usize,
    next: usize,
    bad_call_handler: usize,
    placed: Placed,
}

impl Paged {
    /// Reserves `config.size` bytes (whole pairs of pages, at least one),
    /// at the address `config.placement` asks for when it is free, and
    /// commits the first pair.
    ///
    /// # Errors
    /// [`TableError::LayoutUnavailable`] where this layout cannot run;
    /// [`TableError::Reserve`] when no address space can be had.
    pub(super) fn new(
        config: JumpTableConfig,
        bad_call_handler: usize,
    ) -> Result<Self, TableError> {
        let unavailable = |why: String| TableError::LayoutUnavailable {
            layout: Layout::Paged,
            why,
        };
        if STUB_PAGE_BYTES.is_none() {
            return Err(unavailable(format!(
                "{} has no stub page",
                std::env::consts::ARCH
            )));
        }
        if sys::page_size() > STUB_PAGE {
            return Err(unavailable(format!(
                "this system's pages ({} KiB) are larger than the stub page ({} KiB)",
                sys::page_size() >> 10,
                STUB_PAGE >> 10
            )));
        }
        let capacity = (config.size / PAIR).max(1) * PAIR;
        let (pages, placed) = match config.placement {
            Placement::Fixed(requested) => match StubPages::at(requested, capacity) {
                Ok(pages) => (pages, Placed::Fixed),
                Err(reason) => (
                    StubPages::anywhere(capacity).map_err(reserve_error)?,
                    Placed::NotFixed { requested, reason },
                ),
            },
            Placement::Near => (
                StubPages::anywhere(capacity).map_err(reserve_error)?,
                Placed::Near,
            ),
        };
        let mut table = Paged {
            pages,
            capacity,
            pairs: 0,
            next: 1,
            bad_call_handler,
            placed,
        };
        table.commit_pair()?;
        Ok(table)
    }

    /// Hands out a fresh slot whose cell holds its page's bad-call entry.
    pub(super) fn allocate(&mut self) -> Result<SlotId, TableError> {
        let index = self.next - 1;
        let pair = index / STUBS_PER_PAGE;
        if pair >= self.capacity / PAIR {
            return Err(TableError::Full {
                slots: self.capacity / PAIR * STUBS_PER_PAGE,
                mib: self.capacity >> 20,
            });
        }
        while pair >= self.pairs {
            self.commit_pair()?;
        }
        let slot = SlotId(self.next);
        self.cell(slot)
            .store(self.bad_call_entry(pair), Ordering::Release);
        self.next += 1;
        Ok(slot)
    }

    /// The address of a slot's stub.
    pub(super) fn address(&self, slot: SlotId) -> usize {
        let index = slot.0 - 1;
        self.pages.base() + index / STUBS_PER_PAGE * PAIR + index % STUBS_PER_PAGE * PAGE_STUB_LEN
    }

    /// The slot whose stub starts at `address`, if it was handed out.
    pub(super) fn slot_at(&self, address: usize) -> Option<SlotId> {
        let offset = address.checked_sub(self.pages.base())?;
        let within = offset % PAIR;
        if offset >= self.capacity || within >= PAGE_BAD_CALL_OFFSET || within % PAGE_STUB_LEN != 0
        {
            return None;
        }
        let index = offset / PAIR * STUBS_PER_PAGE + within / PAGE_STUB_LEN;
        (index + 1 < self.next).then_some(SlotId(index + 1))
    }

    /// The address of a slot's cell.
    pub(super) fn target_cell(&self, slot: SlotId) -> usize {
        self.address(slot) + STUB_PAGE
    }

    /// Points a slot at `target`: one store into its cell.
    pub(super) fn point_at(&mut self, slot: SlotId, target: usize) {
        self.cell(slot).store(target, Ordering::Release);
    }

    /// Points a slot back at its page's bad-call entry.
    pub(super) fn point_at_bad_call(&mut self, slot: SlotId) {
        let entry = self.bad_call_entry(self.pair_of(slot));
        self.point_at(slot, entry);
    }

    /// What a slot's cell holds.
    pub(super) fn target(&self, slot: SlotId) -> usize {
        self.cell(slot).load(Ordering::Acquire)
    }

    /// Whether a slot leads to the bad-call handler.
    pub(super) fn is_bad_call(&self, slot: SlotId) -> bool {
        self.target(slot) == self.bad_call_entry(self.pair_of(slot))
    }

    pub(super) fn reserved_bytes(&self) -> usize {
        self.capacity
    }

    pub(super) fn committed_bytes(&self) -> usize {
        self.pairs * PAIR
    }

    pub(super) fn slots_used(&self) -> usize {
        self.next - 1
    }

    pub(super) fn placed(&self) -> &Placed {
        &self.placed
    }

    /// Slots go upwards, pair after pair.
    pub(super) fn growth(&self) -> Growth {
        Growth::Up
    }

    pub(super) fn describe_placement(&self) -> String {
        let (start, end) = (self.base(), self.base() + self.capacity);
        let what = format!(
            "the jump table's stub pages are at {start:#x}..{end:#x}, each a copy of the \
             runtime's own beside the data page its stubs jump through"
        );
        match &self.placed {
            Placed::Fixed => format!("{what}, as {ADDRESS_ENV} asks"),
            Placed::NotFixed { requested, reason } => {
                format!(
                    "{ADDRESS_ENV} asks for the jump table at {requested:#x}, but {reason}; {what}"
                )
            }
            _ => what,
        }
    }

    pub(super) fn base(&self) -> usize {
        self.pages.base()
    }

    pub(super) fn bad_call_handler(&self) -> usize {
        self.bad_call_handler
    }

    /// The pair of pages a handed-out slot lies in.
    fn pair_of(&self, slot: SlotId) -> usize {
        (slot.0 - 1) / STUBS_PER_PAGE
    }

    /// The address of the bad-call entry of pair `pair`.
    fn bad_call_entry(&self, pair: usize) -> usize {
        self.pages.base() + pair * PAIR + PAGE_BAD_CALL_OFFSET
    }

    /// Commits the next pair and fills in its handler cell.
    fn commit_pair(&mut self) -> Result<(), TableError> {
        self.pages
            .commit(self.pairs * PAIR)
            .map_err(TableError::Commit)?;
        let handler_cell = self.bad_call_entry(self.pairs) + STUB_PAGE;
        self.pairs += 1;
        self.word(handler_cell)
            .store(self.bad_call_handler, Ordering::Release);
        Ok(())
    }

    /// A handed-out slot's cell.
    fn cell(&self, slot: SlotId) -> &AtomicUsize {
        self.word(self.target_cell(slot))
    }

    /// The word at `address` of a committed data page.
    fn word(&self, address: usize) -> &AtomicUsize {
        let offset = address - self.pages.base();
        assert!(
            offset < self.pairs * PAIR
                && offset % PAIR >= STUB_PAGE
                && offset % size_of::<usize>() == 0
        );
        // SAFETY: the assertion keeps the word inside a committed data page
        // (read-write, zeroed when committed) and aligned; the pages live as
        // long as `self`. Every access to data pages is atomic.
        unsafe { &*(address as *const AtomicUsize) }
    }
}

/// The error of a reservation that failed.
fn reserve_error(source: std::io::Error) -> TableError {
    TableError::Reserve {
        what: "stub and data pages",
        source,
    }
}

#[cfg(test)]
mod tests;
