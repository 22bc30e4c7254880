//! AArch64: clean the data cache and invalidate the instruction cache by
//! address, in lines of the sizes CTR_EL0 gives (readable at EL0 on Linux).

use std::arch::asm;

fn cache_type() -> u64 {
    let value: u64;
    // SAFETY: reading CTR_EL0 has no side effect; Linux lets EL0 read it.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

fn clean_data_line(address: usize) {
    // SAFETY: `dc cvau` on a mapped address only writes the line back.
    unsafe { asm!("dc cvau, {}", in(reg) address, options(nostack, preserves_flags)) };
}

fn invalidate_instruction_line(address: usize) {
    // SAFETY: `ic ivau` on a mapped address only drops cached instructions.
    unsafe { asm!("ic ivau, {}", in(reg) address, options(nostack, preserves_flags)) };
}

fn barrier() {
    // SAFETY: a barrier orders memory accesses and has no other effect.
    unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
}

fn synchronize_context() {
    // SAFETY: isb flushes this core's pipeline and has no other effect.
    unsafe { asm!("isb", options(nostack, preserves_flags)) };
}

/// Lines of `2^field` words covering `start..start + len`.
fn lines(start: usize, len: usize, field: u64) -> impl Iterator<Item = usize> {
    let line = 4usize << field;
    let first = start & !(line - 1);
    (first..start + len).step_by(line)
}

pub(super) fn sync(written: *const u8, executed: *const u8, len: usize) {
    let ctr = cache_type();
    for line in lines(written as usize, len, (ctr >> 16) & 0xf) {
        clean_data_line(line);
    }
    barrier();
    for line in lines(executed as usize, len, ctr & 0xf) {
        invalidate_instruction_line(line);
    }
    barrier();
    synchronize_context();
}

pub(super) fn register_core_sync() -> bool {
    super::membarrier::register()
}

pub(super) fn sync_other_cores() {
    super::membarrier::sync_cores();
}
