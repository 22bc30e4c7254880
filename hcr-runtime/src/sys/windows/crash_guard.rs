//! The crash guard on Windows: not supported yet. Catching a fault there
//! takes a vectored exception handler and a way back to the guarded call
//! that is as safe as the signal shim's jump on Linux; until then a
//! guarded call is refused with a message that says so, before anything
//! runs.

use std::ffi::c_void;
use std::ops::Range;

use crate::error::Error;

/// The function a guarded call runs, as C sees it.
pub type GuardedFunction = unsafe extern "C" fn(*mut c_void);

/// What a caught fault looked like: never made on Windows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fault {
    /// The faulting instruction.
    pub(crate) pc: usize,
}

impl Fault {
    /// What the fault was.
    pub(crate) fn describe(&self) -> String {
        format!("a fault at {:#x}", self.pc)
    }
}

/// Installs the guard: refused on Windows.
///
/// # Errors
/// Always [`Error::Unsupported`], saying the guard is not supported here.
pub(crate) fn install() -> Result<(), Error> {
    Err(Error::Unsupported(
        "the crash guard is not supported on Windows yet (hcr_guarded_call catches faults \
         on Linux only); the function was not called"
            .to_owned(),
    ))
}

/// Tells the guard where module code is: nothing to tell on Windows.
pub(crate) fn publish<'a>(_code: impl Iterator<Item = &'a Range<usize>>) {}

/// Calls `function(arg)`; never reached on Windows, where [`install`]
/// refuses first.
///
/// # Safety
/// `function` must be safe to call with `arg`.
pub(crate) unsafe fn call(function: GuardedFunction, arg: *mut c_void) -> Option<Fault> {
    // SAFETY: the caller's promise.
    unsafe { function(arg) };
    None
}
