//! ARMv7: user space cannot maintain caches itself; Linux's private
//! `cacheflush` system call cleans and invalidates a range of this
//! process's addresses (arch/arm/kernel/traps.c).

/// `__ARM_NR_cacheflush`: `__ARM_NR_BASE` (0x0f0000) + 2.
const ARM_NR_CACHEFLUSH: libc::c_long = 0x000f_0002;

fn cacheflush(start: *const u8, len: usize) {
    let (start, end) = (start as usize, start as usize + len);
    // SAFETY: the range lies in this process's mappings; the call only
    // maintains caches.
    unsafe {
        libc::syscall(
            ARM_NR_CACHEFLUSH,
            start as libc::c_long,
            end as libc::c_long,
            0 as libc::c_long,
        );
    }
}

pub(super) fn sync(written: *const u8, executed: *const u8, len: usize) {
    cacheflush(written, len);
    cacheflush(executed, len);
}

pub(super) fn register_core_sync() -> bool {
    super::membarrier::register()
}

pub(super) fn sync_other_cores() {
    super::membarrier::sync_cores();
}
