//! The crash guard: a call into module code that, when it faults inside
//! the code of a loaded module version, returns an error instead of ending
//! the process, after putting that module's previous version back when the
//! faulting version is the current one ([`crate::rollback`]).
//!
//! The catching is done by a small C shim (`asm/crash_guard.c`): it sets a
//! jump point, calls the function, and its signal handler jumps back when
//! a synchronous SIGSEGV, SIGBUS, SIGILL or SIGFPE hits an instruction in
//! the code of a module version. The runtime publishes where that code is
//! ([`publish`]) whenever a version is loaded or unmapped, so a reload on
//! another thread during the call is seen. Any other fault (in the host, the
//! runtime, a system library, another thread) goes on to the handler that
//! was there before, or to the default action: it is never swallowed.
//!
//! What the jump cannot undo: nothing in the faulting frames runs (no
//! destructor, no unlock), so a lock, the allocator or stdio left
//! mid-operation by the faulting code stays that way.

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

use crate::error::Error;
use crate::runtime::{Retained, Runtime};
use crate::sys::objects::Place;

/// A range of code, `[start, end)`, as the shim reads it.
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

/// What the shim's handler saw when it caught a fault.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct GuardFault {
    signal: c_int,
    code: c_int,
    pc: usize,
    address: usize,
}

unsafe extern "C" {
    fn hcr_guard_install() -> c_int;
    fn hcr_guard_publish(table: *const GuardTable) -> *const GuardTable;
    fn hcr_guard_call(
        function: unsafe extern "C" fn(*mut c_void),
        arg: *mut c_void,
        fault: *mut GuardFault,
    ) -> c_int;
}

/// The function a guarded call runs, as C sees it.
pub type GuardedFunction = unsafe extern "C" fn(*mut c_void);

/// Installs the shim's signal handler once per process; the handlers
/// found then are the ones faults that are not caught go on to.
fn install() -> Result<(), Error> {
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

/// Tells the shim where module code is: the executable segments of every
/// version in `retained`. Called under the runtime's lock whenever that
/// list changes, before new code runs and before old code is unmapped.
pub(crate) fn publish(retained: &[Retained]) {
    let ranges: Box<[GuardRange]> = retained
        .iter()
        .flat_map(|version| &version.code)
        .map(|code| GuardRange {
            start: code.start,
            end: code.end,
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

/// The module and load whose code holds `pc`, among the versions mapped.
fn owner_of(rt: &Runtime, pc: usize) -> Option<(String, u64)> {
    let state = rt.lock();
    state
        .retained()
        .iter()
        .find(|version| version.code.iter().any(|code| code.contains(&pc)))
        .map(|version| (version.module.clone(), version.id))
}

/// Calls `function(arg)`. When it faults inside the code of a module
/// version, the call ends there and returns [`Error::Faulted`], after the
/// module's previous version was made current again where that is
/// possible. Faults anywhere else are handled as if there were no guard.
///
/// # Safety
/// `function` must be safe to call with `arg`. If it faults, nothing in
/// the frames it left runs again (see the module docs).
pub(crate) unsafe fn call(
    rt: &Runtime,
    function: GuardedFunction,
    arg: *mut c_void,
) -> Result<(), Error> {
    install()?;
    let mut fault = GuardFault::default();
    // SAFETY: the caller vouches for `function(arg)`; `fault` outlives the
    // call; the shim's jump leaves only frames of `function` and what it
    // called, none of them this crate's.
    let faulted = unsafe { hcr_guard_call(function, arg, &mut fault) };
    if faulted == 0 {
        return Ok(());
    }
    let Some((module, version)) = owner_of(rt, fault.pc) else {
        return Err(Error::Faulted {
            module: "(unmapped)".to_owned(),
            fault: describe(&fault, "(unmapped)"),
            outcome: "not rolled back: its version was unmapped meanwhile".to_owned(),
        });
    };
    let outcome = match crate::rollback::roll_back(rt, &module, version) {
        Ok(rolled_back) => rolled_back.to_string(),
        Err(reason) => format!("not rolled back: {reason}"),
    };
    Err(Error::Faulted {
        fault: describe(&fault, &module),
        module,
        outcome,
    })
}

/// "SIGSEGV (address not mapped) accessing 0x0 at value+0x4 (libm.so+0x1139)".
fn describe(fault: &GuardFault, module: &str) -> String {
    let cause = match (fault.signal, fault.code) {
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
    let access = match fault.signal {
        libc::SIGSEGV | libc::SIGBUS => format!(" accessing {:#x}", fault.address),
        _ => String::new(),
    };
    let place = match crate::sys::objects::place_of(fault.pc) {
        Some(Place {
            offset,
            symbol: Some((symbol, distance)),
        }) => format!("{symbol}+{distance:#x} (lib{module}.so+{offset:#x})"),
        Some(Place { offset, .. }) => format!("lib{module}.so+{offset:#x}"),
        None => format!("{:#x}", fault.pc),
    };
    format!("{}{cause}{access} at {place}", signal_name(fault.signal))
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
