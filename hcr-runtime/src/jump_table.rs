//! The jump table: one reserved address range per process holding a stub
//! per registered proc. A stub's address never changes; re-pointing it at
//! a proc's new version is one atomic store of data (or, in the near form,
//! a rewrite of its jump).
//!
//! Two layouts ([`Layout`]) keep that promise:
//!
//! * mapped (`mapped`; Linux and Windows): one shared memory object seen
//!   through an executable and a writable view, each slot holding its jump,
//!   its target word and its bad-call veneer, written by the runtime;
//! * paged (`paged`; macOS, and Linux on x86_64 and AArch64 when asked):
//!   copies of one page of fixed code in the runtime, each beside a data
//!   page holding its stubs' targets. No instruction is ever written.
//!
//! Both hand slots out in order, point a fresh slot at a veneer that calls
//! the bad-call handler with the slot's address, and keep every old target
//! callable (old versions of modules stay mapped).

use std::io;

use crate::arch;
use crate::sys::{self, TableCopy};

#[cfg(hcr_mapped_table)]
mod mapped;
pub(crate) mod paged;
pub mod placement;

pub use placement::{ADDRESS_ENV, Growth, Placed, Placement};

/// The address Nim's runtime asks for: low in the address space, away from
/// the heap, PIE images and shared libraries, and so far from the modules.
/// `HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS=0x10000000` asks for it.
pub const NIM_ADDRESS: usize = 0x1000_0000;

/// Default reserved size in MiB (Nim's defaults: 500 on 64-bit, 50 on 32-bit).
pub const DEFAULT_SIZE_MIB: usize = if cfg!(target_pointer_width = "64") {
    500
} else {
    50
};

/// Largest size in MiB: every veneer reaches the header with a 32-bit
/// displacement.
pub const MAX_SIZE_MIB: usize = 2047;

/// Name of the environment variable that sets the reserved size in MiB.
pub const SIZE_ENV: &str = "HOT_CODE_RELOADING_JUMP_TABLE_SIZE";

/// Which instruction form a slot's jump uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StubForm {
    /// Indirect jump through a data word: re-pointing is one atomic store.
    /// Safe while other threads call through the slot.
    #[default]
    Data,
    /// Direct `jmp rel32` where the target is in reach, else the data form.
    /// Writing it changes instructions, so it is only for hosts that
    /// guarantee no other thread runs a stub while it is written.
    Near,
}

/// Name of the environment variable that chooses the table's layout
/// (`mapped` or `paged`, see [`Layout`]).
pub const LAYOUT_ENV: &str = "HCR_JUMP_TABLE_LAYOUT";

/// How the table's stubs are laid out in memory (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Two views of one shared memory object; the runtime writes each
    /// slot's instructions once. Linux and Windows; the only layout with
    /// the near form.
    Mapped,
    /// Copies of the runtime's stub page, each beside a data page; no
    /// instruction is ever written. macOS, where no page may be writable
    /// and executable and code must be signed; Linux on x86_64 and AArch64
    /// when [`LAYOUT_ENV`] asks.
    Paged,
}

impl Layout {
    /// The layout of this system: paged on macOS, mapped elsewhere.
    pub const NATIVE: Layout = sys::TABLE_LAYOUT;

    /// The layout [`LAYOUT_ENV`] asks for, else [`Layout::NATIVE`].
    ///
    /// # Errors
    /// [`TableError::BadLayout`] for a value other than `mapped` or `paged`.
    pub fn from_env() -> Result<Layout, TableError> {
        match std::env::var_os(LAYOUT_ENV) {
            None => Ok(Layout::NATIVE),
            Some(value) => Layout::named(&value.to_string_lossy()),
        }
    }

    /// The layout called `name` (`mapped`, `paged`).
    fn named(name: &str) -> Result<Layout, TableError> {
        match name.trim() {
            "mapped" => Ok(Layout::Mapped),
            "paged" => Ok(Layout::Paged),
            other => Err(TableError::BadLayout(other.to_owned())),
        }
    }

    /// The layout's name, as [`LAYOUT_ENV`] spells it.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Mapped => "mapped",
            Layout::Paged => "paged",
        }
    }
}

/// How to reserve a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JumpTableConfig {
    /// Reserved bytes of each view (a whole number of MiB).
    pub size: usize,
    /// Where the executable view goes.
    pub placement: Placement,
    /// How stubs are laid out.
    pub layout: Layout,
}

impl Default for JumpTableConfig {
    fn default() -> Self {
        JumpTableConfig {
            size: DEFAULT_SIZE_MIB << 20,
            placement: Placement::Near,
            layout: Layout::NATIVE,
        }
    }
}

impl JumpTableConfig {
    /// The default configuration with the size taken from
    /// `HOT_CODE_RELOADING_JUMP_TABLE_SIZE` and a fixed address from
    /// `HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS`, when they are set.
    ///
    /// # Errors
    /// [`TableError::BadSize`] when the size is not a whole number of MiB
    /// between 1 and [`MAX_SIZE_MIB`]; [`TableError::BadAddress`] when the
    /// address is malformed (see [`Placement::from_env`]).
    pub fn from_env() -> Result<Self, TableError> {
        let mut config = JumpTableConfig::default();
        if let Some(value) = std::env::var_os(SIZE_ENV) {
            let text = value.to_string_lossy().into_owned();
            let mib: usize = text
                .trim()
                .parse()
                .map_err(|_| TableError::BadSize(text.clone()))?;
            if !(1..=MAX_SIZE_MIB).contains(&mib) {
                return Err(TableError::BadSize(text));
            }
            config.size = mib << 20;
        }
        config.placement = Placement::from_env(config.size)?;
        config.layout = Layout::from_env()?;
        Ok(config)
    }
}

/// Why the jump table could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The size variable is malformed.
    #[error("{SIZE_ENV} must be a whole number of MiB between 1 and {MAX_SIZE_MIB}, got `{0}`")]
    BadSize(String),
    /// The layout variable is malformed.
    #[error("{LAYOUT_ENV} must be `mapped` or `paged`, got `{0}`")]
    BadLayout(String),
    /// The layout asked for cannot be had on this system or architecture.
    #[error("the {} jump table is not available here: {why}", .layout.name())]
    LayoutUnavailable {
        /// The layout asked for.
        layout: Layout,
        /// Why not.
        why: String,
    },
    /// The address variable is malformed.
    #[error("{ADDRESS_ENV} must be an aligned address such as 0x10000000, got `{text}`: {why}")]
    BadAddress {
        /// The variable's value.
        text: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Reserving address space or creating the backing file failed.
    #[error("cannot reserve the jump table ({what})")]
    Reserve {
        /// The step that failed.
        what: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Every slot is taken.
    #[error(
        "jump table is full: all {slots} slots of {mib} MiB are in use; \
         set {SIZE_ENV} to a larger size in MiB"
    )]
    Full {
        /// Number of slots the table holds.
        slots: usize,
        /// Reserved size in MiB.
        mib: usize,
    },
    /// Committing the next page failed.
    #[error("cannot commit jump table memory")]
    Commit(#[source] io::Error),
    /// A stub could not be encoded.
    #[error("cannot encode stub")]
    Encode(#[from] arch::EncodeError),
}

/// Index of a slot; slot 0 is the header and never handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId(usize);

impl SlotId {
    /// The slot's position in the table (1 for the first slot).
    pub fn index(self) -> usize {
        self.0
    }
}

/// The process's jump table, in one of the two layouts.
#[derive(Debug)]
pub struct JumpTable {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    #[cfg(hcr_mapped_table)]
    Mapped(mapped::Mapped),
    Paged(paged::Paged),
}

/// Runs `$body` on whichever layout `$table` holds, bound to `$t`.
macro_rules! each {
    ($table:expr, $t:ident => $body:expr) => {
        match $table {
            #[cfg(hcr_mapped_table)]
            Kind::Mapped($t) => $body,
            Kind::Paged($t) => $body,
        }
    };
}

/// What a forked child switches to ([`JumpTable::switch_to`]): a private
/// copy of a mapped table's bytes; nothing for a paged table, whose data
/// pages are private to each process already.
#[derive(Debug)]
pub(crate) struct ForkCopy(Option<TableCopy>);

impl JumpTable {
    /// Reserves a table in the layout `config` asks for and points every
    /// future bad call at `bad_call_handler` (an `extern "C" fn(slot:
    /// *const u8) -> !`).
    ///
    /// # Errors
    /// [`TableError::Reserve`] when address space or memory cannot be had;
    /// [`TableError::LayoutUnavailable`] for a layout this system lacks.
    pub fn new(config: JumpTableConfig, bad_call_handler: usize) -> Result<Self, TableError> {
        let kind = match config.layout {
            #[cfg(hcr_mapped_table)]
            Layout::Mapped => Kind::Mapped(mapped::Mapped::new(config, bad_call_handler)?),
            #[cfg(not(hcr_mapped_table))]
            Layout::Mapped => {
                return Err(TableError::LayoutUnavailable {
                    layout: Layout::Mapped,
                    why: sys::NO_MAPPED_TABLE.to_owned(),
                });
            }
            Layout::Paged => Kind::Paged(paged::Paged::new(config, bad_call_handler)?),
        };
        Ok(JumpTable { kind })
    }

    /// The table's layout.
    pub fn layout(&self) -> Layout {
        match self.kind {
            #[cfg(hcr_mapped_table)]
            Kind::Mapped(_) => Layout::Mapped,
            Kind::Paged(_) => Layout::Paged,
        }
    }

    /// What a child process switches to after `fork`
    /// ([`JumpTable::switch_to`]). The caller keeps the table from
    /// changing meanwhile (it holds `&self`, and every write needs `&mut
    /// self`).
    pub(crate) fn snapshot(&self) -> io::Result<ForkCopy> {
        match &self.kind {
            #[cfg(hcr_mapped_table)]
            Kind::Mapped(table) => table.snapshot().map(|copy| ForkCopy(Some(copy))),
            Kind::Paged(_) => Ok(ForkCopy(None)),
        }
    }

    /// Makes a forked child's table its own: after `fork` the mapped
    /// table's views are still shared with the parent's, so a reload in
    /// one process would re-point the other's stubs.
    ///
    /// # Safety
    /// `copy` comes from [`JumpTable::snapshot`] with no write since, and
    /// no other thread runs (the child right after `fork`).
    pub(crate) unsafe fn switch_to(&mut self, copy: ForkCopy) -> Result<(), TableError> {
        match (&mut self.kind, copy.0) {
            // SAFETY: forwarded from the caller.
            #[cfg(hcr_mapped_table)]
            (Kind::Mapped(table), Some(copy)) => unsafe { table.switch_to(copy) },
            _ => Ok(()),
        }
    }

    /// Hands out a fresh slot whose target is its own bad-call veneer.
    ///
    /// # Errors
    /// [`TableError::Full`] when no slot is left, [`TableError::Commit`] when
    /// the next page cannot be committed.
    pub fn allocate(&mut self) -> Result<SlotId, TableError> {
        each!(&mut self.kind, t => t.allocate())
    }

    /// The executable address of a slot: what callers receive and call.
    pub fn address(&self, slot: SlotId) -> usize {
        each!(&self.kind, t => t.address(slot))
    }

    /// The slot at an executable address, if it is the start of a handed-out slot.
    pub fn slot_at(&self, address: usize) -> Option<SlotId> {
        each!(&self.kind, t => t.slot_at(address))
    }

    /// The address of the word a slot jumps through: it always holds the
    /// slot's current target, so calling what it holds is calling the
    /// slot, one jump shorter.
    pub fn target_cell(&self, slot: SlotId) -> usize {
        each!(&self.kind, t => t.target_cell(slot))
    }

    /// Points a slot at `target` using `form` (see [`StubForm`]; the paged
    /// layout has only the data form).
    ///
    /// # Errors
    /// [`TableError::Encode`] only for the near form's instruction bytes on
    /// an address the architecture cannot express; the data form never fails.
    pub fn point_at(
        &mut self,
        slot: SlotId,
        target: usize,
        form: StubForm,
    ) -> Result<(), TableError> {
        match &mut self.kind {
            #[cfg(hcr_mapped_table)]
            Kind::Mapped(table) => table.point_at(slot, target, form),
            Kind::Paged(table) => {
                // Only the data form: choosing the near form is refused
                // with this layout (`hcr_set_stub_form`).
                let _ = form;
                table.point_at(slot, target);
                Ok(())
            }
        }
    }

    /// Points a slot back at its bad-call veneer.
    pub fn point_at_bad_call(&mut self, slot: SlotId) {
        each!(&mut self.kind, t => t.point_at_bad_call(slot))
    }

    /// The target a slot jumps to now (its veneer when it has no proc).
    pub fn target(&self, slot: SlotId) -> usize {
        each!(&self.kind, t => t.target(slot))
    }

    /// Whether a slot currently jumps to the bad-call handler.
    pub fn is_bad_call(&self, slot: SlotId) -> bool {
        each!(&self.kind, t => t.is_bad_call(slot))
    }

    /// Bytes of address space reserved for stubs (the executable view, or
    /// the stub and data pages).
    pub fn reserved_bytes(&self) -> usize {
        each!(&self.kind, t => t.reserved_bytes())
    }

    /// Bytes of the table backed by memory (whole pages).
    pub fn committed_bytes(&self) -> usize {
        each!(&self.kind, t => t.committed_bytes())
    }

    /// Number of slots handed out.
    pub fn slots_used(&self) -> usize {
        each!(&self.kind, t => t.slots_used())
    }

    /// Where the table went, against what was asked.
    pub fn placed(&self) -> &Placed {
        each!(&self.kind, t => t.placed())
    }

    /// Which way slots are handed out.
    pub fn growth(&self) -> Growth {
        each!(&self.kind, t => t.growth())
    }

    /// A sentence saying where the stubs are and why there.
    pub fn describe_placement(&self) -> String {
        each!(&self.kind, t => t.describe_placement())
    }

    /// The lowest address of the stubs.
    pub fn base(&self) -> usize {
        each!(&self.kind, t => t.base())
    }

    /// The bad-call handler every fresh slot leads to.
    pub fn bad_call_handler(&self) -> usize {
        each!(&self.kind, t => t.bad_call_handler())
    }
}

#[cfg(all(test, hcr_mapped_table))]
mod tests;
