//! The crash guard's catching on Linux: the binding to the C shim
//! `asm/crash_guard.c` (its types, installing its signal handler,
//! publishing the table of module code it reads, and the guarded call
//! itself) and the words for what it caught. All of the guard's raw
//! pointers live here.

use std::ffi::{c_int, c_void};
use std::ops::Range;
use std::sync::OnceLock;

use crate::error::Error;

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

/// What the shim's handler saw when it caught a fault
/// (`struct hcr_guard_fault`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fault {
    /// The signal.
    signal: c_int,
    /// Its `si_code`.
    code: c_int,
    /// The faulting instruction.
    pub(crate) pc: usize,
    /// The address accessed (`si_addr`), for SIGSEGV and SIGBUS.
    address: usize,
}

impl Fault {
    /// "SIGSEGV (address not mapped) accessing 0x0": the signal, why, and
    /// what was accessed.
    pub(crate) fn describe(&self) -> String {
        let cause = match (self.signal, self.code) {
            (libc::SIGSEGV, 1) => " (address not mapped)",
            (libc::SIGSEGV, 2) => " (access not permitted)",
            (libc::SIGBUS, 1) => " (misaligned address)",
            (libc::SIGBUS, 2) => " (no such physical address)",
            (libc::SIGBUS, 3) => " (hardware error, or past the end of a mapped file)",
            (libc::SIGILL, _) => " (illegal instruction)",
            (libc::SIGFPE, 1) => " (integer division by zero)",
            (libc::SIGFPE, 2) => " (integer overflow)",
            _ => "",
        };
        let access = match self.signal {
            libc::SIGSEGV | libc::SIGBUS => format!(" accessing {:#x}", self.address),
            _ => String::new(),
        };
        format!("{}{cause}{access}", signal_name(self.signal))
    }
}

/// The name of one of the guarded signals.
fn signal_name(signal: c_int) -> String {
    match signal {
        libc::SIGSEGV => "SIGSEGV".to_owned(),
        libc::SIGBUS => "SIGBUS".to_owned(),
        libc::SIGILL => "SIGILL".to_owned(),
        libc::SIGFPE => "SIGFPE".to_owned(),
        other => format!("signal {other}"),
    }
}

unsafe extern "C" {
    fn hcr_guard_install() -> c_int;
    fn hcr_guard_publish(table: *const GuardTable) -> *const GuardTable;
    fn hcr_guard_call(
        function: unsafe extern "C" fn(*mut c_void),
        arg: *mut c_void,
        fault: *mut Fault,
    ) -> c_int;
}

/// The function a guarded call runs, as C sees it.
pub type GuardedFunction = unsafe extern "C" fn(*mut c_void);

/// Installs the shim's signal handler once per process; the handlers found
/// then are the ones faults that are not caught go on to.
///
/// # Errors
/// [`Error::Internal`] naming the signal whose handler could not be read
/// or set.
pub(crate) fn install() -> Result<(), Error> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            // SAFETY: the shim only reads and sets the handlers of the four
            // guarded signals; called once (OnceLock), so the handlers it
            // saves are never its own.
            let failed = unsafe { hcr_guard_install() };
            if failed == 0 {
                return Ok(());
            }
            Err(format!(
                "the crash guard cannot install its handler for {}: {}",
                signal_name(failed),
                std::io::Error::last_os_error()
            ))
        })
        .clone()
        .map_err(Error::Internal)
}

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
