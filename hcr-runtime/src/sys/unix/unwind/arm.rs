//! 32-bit ARM: the EHABI unwinder has no `_Unwind_GetIP` function (in its
//! header it is a macro over `_Unwind_VRS_Get`), so the PC is read as core
//! register 15.

use std::ffi::{c_int, c_void};

use super::UnwindContext;

unsafe extern "C" {
    fn _Unwind_VRS_Get(
        context: *mut UnwindContext,
        class: c_int,
        register: u32,
        representation: c_int,
        value: *mut c_void,
    ) -> c_int;
}

/// The address a frame returns to (or, for the innermost, runs at), with
/// the Thumb bit dropped.
///
/// # Safety
/// `context` is the unwinder's context for the frame being visited.
pub(super) unsafe fn frame_address(context: *mut UnwindContext) -> usize {
    const CORE_REGISTERS: c_int = 0;
    const PC: u32 = 15;
    const UINT32: c_int = 0;
    let mut value: u32 = 0;
    // SAFETY: as the caller guarantees; `value` is a writable u32.
    unsafe {
        _Unwind_VRS_Get(context, CORE_REGISTERS, PC, UINT32, (&raw mut value).cast());
    }
    (value & !1) as usize
}
