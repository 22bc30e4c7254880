//! [`Host::call_guarded`](crate::Host::call_guarded) in a hot build: a Rust
//! closure run through `hcr_guarded_call`.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use crate::host::GuardError;
use crate::runtime::RuntimeLibrary;

/// What the C side hands back to [`trampoline`]: the closure, and where its
/// result goes (its value, or its panic); still `None` after a fault.
struct Call<F, R> {
    f: F,
    result: Option<std::thread::Result<R>>,
}

/// Runs the closure of a [`Call`]. A panic is caught here and resumed on
/// the Rust side: it must not unwind through the C shim.
///
/// # Safety
/// `call` points at a live `Call<F, R>` that nothing else borrows.
unsafe extern "C" fn trampoline<F: FnOnce() -> R + Copy, R>(call: *mut c_void) {
    // SAFETY: the caller's contract: `call` is the `Call` of `call` below.
    let call = unsafe { &mut *call.cast::<Call<F, R>>() };
    call.result = Some(catch_unwind(AssertUnwindSafe(call.f)));
}

/// Runs `f` under the runtime's crash guard.
pub(crate) fn call<F: FnOnce() -> R + Copy, R>(
    runtime: &RuntimeLibrary,
    f: F,
) -> Result<R, GuardError> {
    let mut call = Call { f, result: None };
    // SAFETY: `trampoline::<F, R>` is called with this `Call`, alive and
    // unborrowed for the whole guarded call; what a fault leaves behind is
    // the promise `Host::call_guarded`'s caller made.
    let outcome = unsafe { runtime.guarded_call(trampoline::<F, R>, (&raw mut call).cast()) };
    match (outcome, call.result) {
        (_, Some(Ok(value))) => Ok(value),
        (_, Some(Err(panic))) => resume_unwind(panic),
        (Err(err), None) => Err(GuardError {
            module: runtime.last_error_module(),
            code: err.code,
            message: err.message,
        }),
        (Ok(()), None) => unreachable!("the shim returned without calling the closure"),
    }
}
