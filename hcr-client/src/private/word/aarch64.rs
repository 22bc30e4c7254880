//! One pointer-sized load on aarch64: `ldr` of a doubleword.

/// See [`super::load`].
///
/// # Safety
/// As for [`super::load`].
#[inline(always)]
pub(super) unsafe fn load(word: *const *const ()) -> *const () {
    let value: *const ();
    // SAFETY: the caller passes an aligned, live word; reading it is all
    // the instruction does (no stack, no flags, no write).
    unsafe {
        std::arch::asm!(
            "ldr {value}, [{word}]",
            word = in(reg) word,
            value = lateout(reg) value,
            options(nostack, readonly, preserves_flags),
        );
    }
    value
}
