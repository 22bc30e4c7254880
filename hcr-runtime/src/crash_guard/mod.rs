//! The crash guard: a call into module code that, when it faults inside
//! the code of a loaded module version, returns an error instead of ending
//! the process, after putting that module's previous version back when the
//! faulting version is the current one ([`crate::rollback`]).
//!
//! The catching is done by a small C shim: on Linux (`asm/crash_guard.c`)
//! it sets a jump point, calls the function, and its signal handler jumps
//! back when a synchronous SIGSEGV, SIGBUS, SIGILL or SIGFPE hits an
//! instruction in the code of a module version; on Windows
//! (`asm/crash_guard_windows.c`) it captures its context, calls the
//! function, and its vectored exception handler resumes at that context
//! when an access violation, an illegal or privileged instruction, an
//! integer division by zero or overflow (or an in-page error, misaligned
//! data, array bounds) does. The runtime publishes where that code is
//! ([`publish`]) whenever a version is loaded or unmapped, so a reload on
//! another thread during the call is seen. Any other fault (in the host, the
//! runtime, a system library, another thread) goes on to the handler that
//! was there before, or to the default action: it is never swallowed.
//!
//! What the jump cannot undo: nothing in the faulting frames runs (no
//! destructor, no unlock), so a lock, the allocator or stdio left
//! mid-operation by the faulting code stays that way.

mod shim;

use std::ffi::c_void;

use crate::error::Error;
use crate::runtime::{Retained, Runtime};
use crate::sys::crash_guard::{Fault, install};
use crate::sys::objects::Place;

pub use shim::GuardedFunction;

/// Tells the shim where module code is: the executable segments of every
/// version in `retained`. Called under the runtime's lock whenever that
/// list changes, before new code runs and before old code is unmapped.
pub(crate) fn publish(retained: &[Retained]) {
    shim::publish(retained.iter().flat_map(|version| &version.code));
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
    // SAFETY: forwarded from the caller.
    let Some(fault) = (unsafe { shim::call(function, arg) }) else {
        return Ok(());
    };
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
fn describe(fault: &Fault, module: &str) -> String {
    let file = crate::sys::library::library_file_name(module);
    let place = match crate::sys::objects::place_of(fault.pc) {
        Some(Place {
            offset,
            symbol: Some((symbol, distance)),
        }) => format!("{symbol}+{distance:#x} ({file}+{offset:#x})"),
        Some(Place { offset, .. }) => format!("{file}+{offset:#x}"),
        None => format!("{:#x}", fault.pc),
    };
    format!("{} at {place}", fault.describe())
}
