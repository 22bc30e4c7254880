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

#[cfg(target_arch = "aarch64")]
use aarch64 as imp;
#[cfg(target_arch = "arm")]
use arm as imp;

/// Makes `len` bytes of instructions written at `written` (the writable
/// view) visible to instruction fetch at `executed` (the executable view
/// of the same memory) on this core.
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
pub(crate) fn sync(written: *const u8, executed: *const u8, len: usize) {
    imp::sync(written, executed, len);
}

/// Registers the process for core-serializing membarriers; false where the
/// kernel (or an emulator) does not offer them.
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
pub(crate) fn register_core_sync() -> bool {
    membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE)
}

/// Makes every core running this process serialize its instruction stream
/// before it runs anything else (after instructions were rewritten).
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
pub(crate) fn sync_other_cores() {
    let _ = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE);
}

#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_long = 1 << 5;
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_long = 1 << 6;

#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
fn membarrier(command: libc::c_long) -> bool {
    // SAFETY: membarrier takes two integers and touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, command, 0 as libc::c_long) == 0 }
}

/// Nothing to do: x86 instruction fetch sees data writes.
#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
pub(crate) fn sync(_written: *const u8, _executed: *const u8, _len: usize) {}

/// Nothing to register on x86.
#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
pub(crate) fn register_core_sync() -> bool {
    true
}

/// Nothing to do on x86: the jump table writes instructions only where no
/// other thread runs them (see `StubForm::Near`).
#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
pub(crate) fn sync_other_cores() {}
