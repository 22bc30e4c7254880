//! `membarrier(2)` with the core-serializing commands (Linux 4.16+).

const PRIVATE_EXPEDITED_SYNC_CORE: libc::c_long = 1 << 5;
const REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_long = 1 << 6;

fn membarrier(command: libc::c_long) -> bool {
    // SAFETY: membarrier takes two integers and touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, command, 0 as libc::c_long) == 0 }
}

/// Registers the process; false where the kernel or an emulator refuses.
pub(super) fn register() -> bool {
    membarrier(REGISTER_PRIVATE_EXPEDITED_SYNC_CORE)
}

/// Serializes the instruction stream of every core running this process
/// (a no-op, failing, when the process is not registered).
pub(super) fn sync_cores() {
    let _ = membarrier(PRIVATE_EXPEDITED_SYNC_CORE);
}
