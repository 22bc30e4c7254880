//! The calling thread's stack, as the code addresses of its frames, from
//! the platform unwinder (libgcc's `_Unwind_Backtrace`, which Rust's std
//! links for its own backtraces).

use std::ffi::{c_int, c_void};

// How a frame's address is read: ARM's EHABI unwinder differs from the
// Itanium-ABI one every other target uses.
#[cfg(target_arch = "arm")]
mod arm;
#[cfg(target_arch = "arm")]
use arm::frame_address;
#[cfg(not(target_arch = "arm"))]
mod itanium;
#[cfg(not(target_arch = "arm"))]
use itanium::frame_address;

/// The unwinder's per-frame state, opaque.
#[repr(C)]
struct UnwindContext {
    _opaque: [u8; 0],
}

type Trace = extern "C" fn(*mut UnwindContext, *mut c_void) -> c_int;

const URC_NO_REASON: c_int = 0;
const URC_END_OF_STACK: c_int = 5;

unsafe extern "C" {
    fn _Unwind_Backtrace(trace: Trace, arg: *mut c_void) -> c_int;
}

/// Walks at most this many frames: a deeper stack is still checked that far.
const MAX_FRAMES: usize = 512;

/// The code addresses of the calling thread's frames, innermost first. An
/// unwinder that cannot step past a frame (code without unwind tables)
/// ends the list there.
pub(crate) fn frame_addresses() -> Vec<usize> {
    extern "C" fn visit(context: *mut UnwindContext, out: *mut c_void) -> c_int {
        // SAFETY: `out` is the Vec passed below, alive and not otherwise
        // borrowed during the walk; `context` comes from the unwinder.
        let (out, address) = unsafe { (&mut *out.cast::<Vec<usize>>(), frame_address(context)) };
        if address != 0 {
            out.push(address);
        }
        if out.len() >= MAX_FRAMES {
            URC_END_OF_STACK
        } else {
            URC_NO_REASON
        }
    }
    let mut out: Vec<usize> = Vec::with_capacity(64);
    // SAFETY: `visit` matches the callback type and only touches `out`.
    unsafe { _Unwind_Backtrace(visit, (&raw mut out).cast()) };
    out
}
