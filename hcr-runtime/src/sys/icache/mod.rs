//! Making freshly written instructions visible to instruction fetch.
//!
//! The runtime writes a slot's instructions through the writable view and
//! callers fetch them through the executable view. x86 keeps instruction
//! fetch coherent with data writes, so nothing is needed there. ARM does
//! not: the data cache must be cleaned to the point of unification and the
//! instruction cache invalidated for the range ("Arm Architecture
//! Reference Manual", B2.4.4 "Concurrent modification and execution of
//! instructions"), and a core that may already have fetched the old
//! instructions must execute a context synchronization event before it
//! runs the new ones, which `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE)`
//! forces on every core running this process (Linux
//! Documentation/features/sched/membarrier-sync-core).
//!
//! Re-pointing a data-form slot writes data, not instructions, and needs
//! none of this: only allocating a slot and writing a near-form jump do.
//! qemu-user cannot show a missing step here; only real ARM hardware can.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "arm")]
mod arm;
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
mod membarrier;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod x86;

#[cfg(target_arch = "aarch64")]
use aarch64 as imp;
#[cfg(target_arch = "arm")]
use arm as imp;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use x86 as imp;

/// Makes `len` bytes of instructions written at `written` (the writable
/// view) visible to instruction fetch at `executed` (the executable view
/// of the same memory) on this core.
pub(crate) fn sync(written: *const u8, executed: *const u8, len: usize) {
    imp::sync(written, executed, len);
}

/// Registers the process for core-serializing membarriers where the
/// architecture needs them; false where the kernel (or an emulator) does
/// not offer them.
pub(crate) fn register_core_sync() -> bool {
    imp::register_core_sync()
}

/// Makes every core running this process serialize its instruction stream
/// before it runs anything else (after instructions were rewritten).
pub(crate) fn sync_other_cores() {
    imp::sync_other_cores();
}
