//! The crash guard: a call into module code that, when it faults inside
//! the current code of a loaded module, returns an error instead of ending
//! the process, after putting that module's previous version back
//! ([`crate::rollback`]).
//!
//! The catching is done by a small C shim (`asm/crash_guard.c`): it sets a
//! jump point, calls the function, and its signal handler jumps back when
//! a synchronous SIGSEGV, SIGBUS, SIGILL or SIGFPE hits an instruction in
//! one of the code ranges handed to it. Any other fault (in the host, the
//! runtime, a system library, another thread) goes on to the handler that
//! was there before, or to the default action: it is never swallowed.
//!
//! What the jump cannot undo: nothing in the faulting frames runs (no
//! destructor, no unlock), so a lock, the allocator or stdio left
//! mid-operation by the faulting code stays that way.

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

use crate::error::Error;
use crate::runtime::Runtime;
use crate::sys::objects::Place;

/// A range of code, `[start, end)`, as the shim reads it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct GuardRange {
    start: usize,
    end: usize,
}

/// What the shim's handler saw when it caught a fault.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct GuardFault {
    signal: c_int,
    code: c_int,
    pc: usize,
    address: usize,
    range: usize,
}

unsafe extern "C" {
    fn hcr_guard_install() -> c_int;
    fn hcr_guard_call(
        function: unsafe extern "C" fn(*mut c_void),
        arg: *mut c_void,
        ranges: *const GuardRange,
        count: usize,
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

/// Whose code a guarded range is: a module and the load of its version.
#[derive(Debug, Clone)]
struct Owner {
    module: String,
    version: u64,
}

/// The code of every module's current version, with its owner.
fn current_code(rt: &Runtime) -> (Vec<GuardRange>, Vec<Owner>) {
    let state = rt.lock();
    let mut ranges = Vec::new();
    let mut owners = Vec::new();
    for (module, record) in state.tree.iter().flat_map(|tree| &tree.modules) {
        let Some(version) = &record.version else {
            continue;
        };
        for code in &version.code {
            ranges.push(GuardRange {
                start: code.start,
                end: code.end,
            });
            owners.push(Owner {
                module: module.clone(),
                version: version.id,
            });
        }
    }
    (ranges, owners)
}

/// Calls `function(arg)`. When it faults inside the current code of a
/// loaded module, the call ends there and returns [`Error::Faulted`], after
/// the module's previous version was made current again where that is
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
    let (ranges, owners) = current_code(rt);
    let mut fault = GuardFault::default();
    // SAFETY: the caller vouches for `function(arg)`; `ranges` and `fault`
    // outlive the call; the shim's jump leaves only frames of `function`
    // and what it called, none of them this crate's.
    let faulted =
        unsafe { hcr_guard_call(function, arg, ranges.as_ptr(), ranges.len(), &mut fault) };
    if faulted == 0 {
        return Ok(());
    }
    let owner = owners.get(fault.range).cloned().ok_or_else(|| {
        Error::Internal(format!(
            "the crash guard caught {fault:?} outside its ranges"
        ))
    })?;
    let outcome = match crate::rollback::roll_back(rt, &owner.module, owner.version) {
        Ok(rolled_back) => rolled_back.to_string(),
        Err(reason) => format!("not rolled back: {reason}"),
    };
    Err(Error::Faulted {
        fault: describe(&fault, &owner.module),
        module: owner.module,
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
