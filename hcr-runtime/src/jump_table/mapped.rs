//! The mapped table: one reserved address range per process holding a
//! stub per registered proc, with pages committed as slots are handed out.
//! The layout of Linux and Windows.
//!
//! # Layout
//! The table is one shared memory object seen through two views of the
//! same pages (`sys::Views`): an executable, read-only view (what callers
//! jump through) and a writable, non-executable view (what the runtime
//! writes through), placed as [`placement`] describes: by default beside
//! where the modules loaded next will be mapped. No page is ever writable
//! and executable at once, and no protection is ever flipped while other
//! threads may run on a page.
//!
//! Slot-sized blocks are handed out in order from one edge of the view,
//! the edge nearest the modules ([`Growth`]): upwards from the lowest
//! address, or downwards from the highest. Block `i` lies at the same
//! offset in both views. The first block is a header
//! holding the bad-call handler's address (the handler cell), which every
//! slot's veneer jumps through. Slots follow it; see [`crate::arch`] for a
//! slot's layout. Where a veneer reaches only so far (AArch64's `LDR
//! (literal)`: 1 MiB), the first block of every such stretch holds a copy
//! of the cell instead of a slot.
//!
//! A slot's instructions are written through the writable view before the
//! slot is handed out; on ARM they are then made visible to instruction
//! fetch (`sys::icache`), which x86 does by itself.
//!
//! # Why re-pointing is safe while other threads call through a slot
//! A slot's instructions are written once, before its address is handed
//! out, and never change in the default data form. Re-pointing stores the
//! new target into the slot's aligned, pointer-sized target word with one
//! atomic store. A thread executing the slot's indirect jump loads that word
//! with one aligned load, so it sees either the old or the new target, and
//! both are complete code: old versions of modules stay mapped. Because only
//! data changes, no instruction-cache maintenance or cross-modifying-code
//! serialization is needed. The store uses `Release` ordering so that
//! everything the runtime wrote before publishing the target (the new
//! version's registrations) is visible to a thread that reaches the code
//! through the loaded address.
//!
//! The near form (`jmp rel32`, `B`, written into the instructions) does
//! change instructions, so it is used only when the host has promised that
//! no other thread runs through stubs while they are written
//! ([`StubForm::Near`]); on ARM each such write is followed by cache
//! maintenance and a core-serializing membarrier.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::placement::{self, Growth, Placed};
use super::{ADDRESS_ENV, JumpTableConfig, SlotId, StubForm, TableError};
use crate::arch::{JUMP_LEN, SLOT_SIZE, TARGET_OFFSET, VENEER_OFFSET, host};
use crate::sys::{self, TableCopy, Views};

/// The reserved table with its two views. See the module docs.
#[derive(Debug)]
pub(super) struct Mapped {
    views: Views,
    rx: NonNull<u8>,
    rw: NonNull<u8>,
    capacity: usize,
    /// Bytes committed, counted from the edge slots grow from.
    committed: usize,
    next: usize,
    bad_call_handler: usize,
    near: hashbrown::HashSet<SlotId>,
    growth: Growth,
    placed: Placed,
}

// SAFETY: the table owns its views exclusively; the raw pointers are only
// addresses inside them and carry no thread affinity. Mutation goes
// through `&mut self`, so moving the table to another thread is sound.
unsafe impl Send for Mapped {}

impl Mapped {
    /// Reserves a table and writes its header, which points every future
    /// bad call at `bad_call_handler` (an `extern "C" fn(slot: *const u8) -> !`).
    ///
    /// # Errors
    /// [`TableError::Reserve`] when address space or the memfd cannot be had.
    pub(super) fn new(
        config: JumpTableConfig,
        bad_call_handler: usize,
    ) -> Result<Self, TableError> {
        let page = sys::page_size();
        let capacity = config.size.div_ceil(page) * page;
        let reservation = placement::reserve(config.placement, capacity)?;
        Self::in_reservation(reservation, capacity, bad_call_handler)
    }

    /// A table in views already reserved, `capacity` bytes each.
    pub(super) fn in_reservation(
        reservation: placement::Reservation,
        capacity: usize,
        bad_call_handler: usize,
    ) -> Result<Self, TableError> {
        let placement::Reservation {
            views,
            growth,
            placed,
        } = reservation;
        let mut table = Mapped {
            rx: views.rx(),
            rw: views.rw(),
            views,
            capacity,
            committed: 0,
            next: 1,
            bad_call_handler,
            near: hashbrown::HashSet::new(),
            growth,
            placed,
        };
        sys::icache::register_core_sync();
        table.commit_through(SLOT_SIZE)?;
        Ok(table)
    }

    /// A private copy of the table's committed bytes, for a child process to
    /// switch to after `fork` ([`Mapped::switch_to`]). The caller keeps
    /// the table from changing meanwhile (it holds `&self`, and every write
    /// needs `&mut self`).
    pub(super) fn snapshot(&self) -> std::io::Result<TableCopy> {
        self.views.snapshot(self.committed_range())
    }

    /// Makes `snapshot` the memory behind both views, at the same
    /// addresses. After `fork` the child's views are still shared with the
    /// parent's, so a reload in one process would re-point the other's
    /// stubs; a child switches to a private copy taken just before the fork.
    ///
    /// # Safety
    /// `snapshot` holds this table's committed bytes (from
    /// [`Mapped::snapshot`] with no write since), and no other thread
    /// runs (the child right after `fork`), so no call is in flight
    /// through a view while it is replaced.
    pub(super) unsafe fn switch_to(&mut self, snapshot: TableCopy) -> Result<(), TableError> {
        let committed = self.committed_range();
        // SAFETY: forwarded from the caller.
        unsafe { self.views.switch_to(snapshot, committed.clone()) }.map_err(TableError::Commit)?;
        self.sync_instructions(committed.start, committed.len());
        Ok(())
    }

    /// Hands out a fresh slot whose target is its own bad-call veneer.
    ///
    /// # Errors
    /// [`TableError::Full`] when no slot is left, [`TableError::Commit`] when
    /// the next page cannot be committed.
    pub(super) fn allocate(&mut self) -> Result<SlotId, TableError> {
        if is_cell(self.next * SLOT_SIZE) {
            self.next += 1;
        }
        let nth = self.next * SLOT_SIZE;
        if nth + SLOT_SIZE > self.capacity {
            return Err(TableError::Full {
                slots: self.capacity / SLOT_SIZE - cell_count(self.capacity),
                mib: self.capacity >> 20,
            });
        }
        self.commit_through(nth + SLOT_SIZE)?;
        let slot = SlotId(self.next);
        let offset = self.block(nth);
        let address = self.address(slot) as u64;
        let cell = self.rx.as_ptr() as u64 + self.block(cell_offset(nth)) as u64;
        let veneer = host::bad_call_veneer(address, cell)?;
        let jump = host::data_jump(address)?;
        // The slot has never been handed out, so no thread can run it yet:
        // plain writes in this order, then making them visible to
        // instruction fetch (ARM), are enough.
        self.write_bytes(offset + VENEER_OFFSET, &veneer);
        self.store_word(offset + TARGET_OFFSET, self.veneer_address(slot));
        self.store_jump(offset, jump);
        self.sync_instructions(offset, SLOT_SIZE);
        self.next += 1;
        Ok(slot)
    }

    /// The executable address of a slot: what callers receive and call.
    pub(super) fn address(&self, slot: SlotId) -> usize {
        self.rx.as_ptr() as usize + self.block(slot.0 * SLOT_SIZE)
    }

    /// The slot at an executable address, if it is the start of a handed-out slot.
    pub(super) fn slot_at(&self, address: usize) -> Option<SlotId> {
        let offset = address.checked_sub(self.rx.as_ptr() as usize)?;
        if offset >= self.capacity || offset % SLOT_SIZE != 0 {
            return None;
        }
        // `block` maps a block's place in handing-out order to its offset
        // and back.
        let nth = self.block(offset);
        let index = nth / SLOT_SIZE;
        (!is_cell(nth) && index < self.next).then_some(SlotId(index))
    }

    /// The address of the word a slot jumps through: it always holds the
    /// slot's current target (in the near form too), so calling what it
    /// holds is calling the slot, one jump shorter.
    pub(super) fn target_cell(&self, slot: SlotId) -> usize {
        self.address(slot) + TARGET_OFFSET
    }

    /// Points a slot at `target` using `form` (see [`StubForm`]).
    ///
    /// # Errors
    /// [`TableError::Encode`] only for the near form's instruction bytes on
    /// an address the architecture cannot express; the data form never fails.
    pub(super) fn point_at(
        &mut self,
        slot: SlotId,
        target: usize,
        form: StubForm,
    ) -> Result<(), TableError> {
        let offset = self.block(slot.0 * SLOT_SIZE);
        let address = self.address(slot) as u64;
        self.store_word(offset + TARGET_OFFSET, target);
        let near = match form {
            StubForm::Near => host::near_jump_area(address, target as u64).ok(),
            StubForm::Data => None,
        };
        match near {
            Some(jump) => {
                self.store_jump(offset, jump);
                self.sync_instructions(offset, JUMP_LEN);
                self.near.insert(slot);
            }
            None if self.near.remove(&slot) => {
                // The target word was stored first, so switching the
                // instructions back makes the slot jump to the new target.
                self.store_jump(offset, host::data_jump(address)?);
                self.sync_instructions(offset, JUMP_LEN);
            }
            None => {}
        }
        Ok(())
    }

    /// Points a slot back at its bad-call veneer.
    pub(super) fn point_at_bad_call(&mut self, slot: SlotId) {
        let veneer = self.veneer_address(slot);
        // The data form is always encodable for a slot that was allocated.
        let _ = self.point_at(slot, veneer, StubForm::Data);
    }

    /// The target a slot jumps to now (its veneer when it has no proc).
    pub(super) fn target(&self, slot: SlotId) -> usize {
        self.word(self.block(slot.0 * SLOT_SIZE) + TARGET_OFFSET)
            .load(Ordering::Acquire)
    }

    /// Whether a slot currently jumps to the bad-call handler.
    pub(super) fn is_bad_call(&self, slot: SlotId) -> bool {
        self.target(slot) == self.veneer_address(slot)
    }

    /// Bytes of address space reserved for the executable view.
    pub(super) fn reserved_bytes(&self) -> usize {
        self.capacity
    }

    /// Bytes of the table backed by memory (whole pages).
    pub(super) fn committed_bytes(&self) -> usize {
        self.committed
    }

    /// Number of slots handed out.
    pub(super) fn slots_used(&self) -> usize {
        self.next - 1
    }

    /// Where the table went, against what was asked.
    pub(super) fn placed(&self) -> &Placed {
        &self.placed
    }

    /// Which way slots are handed out.
    pub(super) fn growth(&self) -> Growth {
        self.growth
    }

    /// A sentence saying where the executable view is and why there.
    pub(super) fn describe_placement(&self) -> String {
        let (start, end) = (self.base(), self.base() + self.capacity);
        let edge = match self.growth {
            Growth::Up => "bottom",
            Growth::Down => "top",
        };
        let near = format!(
            "beside where libraries are mapped next, with slots handed out from its {edge}"
        );
        match &self.placed {
            Placed::Near => {
                format!("the jump table's executable view is at {start:#x}..{end:#x}, {near}")
            }
            Placed::Fixed => format!(
                "the jump table's executable view is at {start:#x}..{end:#x}, as {ADDRESS_ENV} asks"
            ),
            Placed::NotFixed { requested, reason } => format!(
                "{ADDRESS_ENV} asks for the jump table at {requested:#x}, but {reason}; it is at \
                 {start:#x}..{end:#x} instead, {near}"
            ),
        }
    }

    /// Start (lowest address) of the executable view.
    pub(super) fn base(&self) -> usize {
        self.rx.as_ptr() as usize
    }

    /// The bad-call handler the header points at.
    pub(super) fn bad_call_handler(&self) -> usize {
        self.bad_call_handler
    }

    fn veneer_address(&self, slot: SlotId) -> usize {
        self.address(slot) + VENEER_OFFSET
    }

    /// The offset in both views of the block `nth` bytes into the
    /// handing-out order (a multiple of [`SLOT_SIZE`]), and back: the
    /// mapping is its own inverse.
    fn block(&self, nth: usize) -> usize {
        match self.growth {
            Growth::Up => nth,
            Growth::Down => self.capacity - SLOT_SIZE - nth,
        }
    }

    /// The committed part of the views, as offsets.
    fn committed_range(&self) -> std::ops::Range<usize> {
        match self.growth {
            Growth::Up => 0..self.committed,
            Growth::Down => self.capacity - self.committed..self.capacity,
        }
    }

    /// Makes instructions just written at `offset` visible to instruction
    /// fetch on every core (a no-op on x86; see `sys::icache`).
    fn sync_instructions(&self, offset: usize, len: usize) {
        // SAFETY: `offset + len` lies in the committed part of both views
        // (the callers just wrote there), so the pointers stay in bounds.
        let (written, executed) =
            unsafe { (self.rw.as_ptr().add(offset), self.rx.as_ptr().add(offset)) };
        sys::icache::sync(written, executed, len);
        sys::icache::sync_other_cores();
    }

    /// Commits whole pages until the first `end` bytes in handing-out
    /// order are backed.
    fn commit_through(&mut self, end: usize) -> Result<(), TableError> {
        if end <= self.committed {
            return Ok(());
        }
        let page = sys::page_size();
        let new_end = (end.div_ceil(page) * page).min(self.capacity);
        let first_new = self.committed;
        let start = match self.growth {
            Growth::Up => first_new,
            Growth::Down => self.capacity - new_end,
        };
        self.views
            .commit(start..start + (new_end - first_new))
            .map_err(TableError::Commit)?;
        self.committed = new_end;
        // Every handler cell in the new pages points at the handler.
        let mut cell = cell_offset(first_new);
        while cell < new_end {
            if cell >= first_new {
                self.store_word(self.block(cell), self.bad_call_handler);
            }
            cell += host::HANDLER_CELL_SPACING.unwrap_or(usize::MAX / 2);
        }
        Ok(())
    }

    /// The pointer-sized word at `offset` of the writable view.
    fn word(&self, offset: usize) -> &AtomicUsize {
        let committed = self.committed_range();
        assert!(
            committed.start <= offset
                && offset + size_of::<usize>() <= committed.end
                && offset % size_of::<usize>() == 0
        );
        // SAFETY: the assertion keeps the word inside the committed writable
        // view and aligned; the view lives as long as `self`. All access to
        // table memory goes through atomics or happens before a slot is
        // handed out, so no non-atomic access races with this one.
        unsafe { &*self.rw.as_ptr().add(offset).cast::<AtomicUsize>() }
    }

    fn store_word(&self, offset: usize, value: usize) {
        self.word(offset).store(value, Ordering::Release);
    }

    /// Replaces a slot's jump area with one aligned 8-byte store.
    fn store_jump(&self, offset: usize, jump: [u8; JUMP_LEN]) {
        let committed = self.committed_range();
        assert!(
            committed.start <= offset
                && offset + JUMP_LEN <= committed.end
                && offset % JUMP_LEN == 0
        );
        // SAFETY: as in `word`: inside the committed writable view, aligned
        // to 8 bytes (slots are 32-byte aligned), only accessed atomically.
        let word = unsafe { &*self.rw.as_ptr().add(offset).cast::<AtomicU64>() };
        word.store(u64::from_ne_bytes(jump), Ordering::Release);
    }

    fn write_bytes(&self, offset: usize, bytes: &[u8]) {
        let committed = self.committed_range();
        assert!(committed.start <= offset && offset + bytes.len() <= committed.end);
        // SAFETY: the range is inside the committed writable view; it belongs
        // to a slot that has not been handed out, so nothing reads it yet.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.rw.as_ptr().add(offset),
                bytes.len(),
            );
        }
    }
}

/// Where the handler cell a slot `offset` bytes into the handing-out order
/// reads lies in that order: the header, or on architectures whose veneers
/// reach only so far, the first block of the slot's stretch of the table.
fn cell_offset(offset: usize) -> usize {
    match host::HANDLER_CELL_SPACING {
        Some(spacing) => offset / spacing * spacing,
        None => 0,
    }
}

/// Whether the block `offset` bytes into the handing-out order holds a
/// handler cell.
fn is_cell(offset: usize) -> bool {
    cell_offset(offset) == offset
}

/// How many handler cells a table of `capacity` bytes holds.
pub(super) fn cell_count(capacity: usize) -> usize {
    host::HANDLER_CELL_SPACING.map_or(1, |spacing| capacity.div_ceil(spacing))
}
