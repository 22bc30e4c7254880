//! The binding to the crash guard's C shim, the same on every system
//! (`asm/crash_guard.c` on Unix, `asm/crash_guard_windows.c` on Windows):
//! publishing the table of module code the shim reads, and the guarded
//! call itself. What a fault looks like and how the shim's handler is
//! installed are the system's (`sys::crash_guard`).

use std::ffi::{c_int, c_void};
use std::ops::Range;

use crate::sys::crash_guard::Fault;

/// A range of code, `[start, end)` (`struct hcr_guard_range`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct GuardRange {
    start: usize,
    end: usize,
}

/// The table of ranges the shim reads (`struct hcr_guard_table`), first in
/// [`Published`] so that a pointer to one is a pointer to the other.
#[repr(C)]
#[derive(Debug)]
struct GuardTable {
    ranges: *const GuardRange,
    count: usize,
}

/// A table handed to the shim, with the ranges it points into.
#[repr(C)]
#[derive(Debug)]
struct Published {
    table: GuardTable,
    ranges: Box<[GuardRange]>,
}

unsafe extern "C" {
    fn hcr_guard_publish(table: *const GuardTable) -> *const GuardTable;
    fn hcr_guard_call(
        function: unsafe extern "C" fn(*mut c_void),
        arg: *mut c_void,
        fault: *mut Fault,
    ) -> c_int;
}

/// The function a guarded call runs, as C sees it.
pub type GuardedFunction = unsafe extern "C" fn(*mut c_void);

/// Hands the shim the ranges that hold module code, replacing the ones it
/// had. The caller publishes before code in a new range can run and before
/// code in a dropped range is unmapped.
pub(crate) fn publish<'a>(code: impl Iterator<Item = &'a Range<usize>>) {
    let ranges: Box<[GuardRange]> = code
        .map(|range| GuardRange {
            start: range.start,
            end: range.end,
        })
        .collect();
    let published = Box::new(Published {
        table: GuardTable {
            ranges: ranges.as_ptr(),
            count: ranges.len(),
        },
        ranges,
    });
    // SAFETY: the table and its ranges stay allocated until the shim hands
    // the table back from a later publish; `Published` starts with the
    // `GuardTable` (repr(C)), so the pointers are interchangeable.
    let old = unsafe { hcr_guard_publish(&raw const Box::leak(published).table) };
    if !old.is_null() {
        // SAFETY: every table the shim holds came from this function as a
        // leaked `Box<Published>`; it handed this one back, and no handler
        // reads it any more.
        drop(unsafe { Box::from_raw(old.cast::<Published>().cast_mut()) });
    }
}

/// Calls `function(arg)` with the shim's jump point set: `None` when it
/// returned, the fault when a fault in published code ended it.
///
/// # Safety
/// `function` must be safe to call with `arg`. If it faults, nothing in
/// the frames it left runs again.
pub(crate) unsafe fn call(function: GuardedFunction, arg: *mut c_void) -> Option<Fault> {
    let mut fault = Fault::default();
    // SAFETY: the caller vouches for `function(arg)`; `fault` outlives the
    // call; the shim's jump leaves only frames of `function` and what it
    // called, none of them this crate's.
    let faulted = unsafe { hcr_guard_call(function, arg, &mut fault) };
    (faulted != 0).then_some(fault)
}
