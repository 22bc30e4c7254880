//! Every target but 32-bit ARM: the Itanium-ABI unwinder's `_Unwind_GetIP`.

use super::UnwindContext;

unsafe extern "C" {
    fn _Unwind_GetIP(context: *mut UnwindContext) -> usize;
}

/// The address a frame returns to (or, for the innermost, runs at).
///
/// # Safety
/// `context` is the unwinder's context for the frame being visited.
pub(super) unsafe fn frame_address(context: *mut UnwindContext) -> usize {
    // SAFETY: as the caller guarantees.
    unsafe { _Unwind_GetIP(context) }
}
