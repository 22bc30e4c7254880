//! [`Host::call_guarded`](crate::Host::call_guarded) in a hot build: a Rust
//! closure run through `hcr_guarded_call`.

use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use crate::host::GuardError;
use crate::runtime::RuntimeLibrary;

/// What the C side hands back to [`trampoline`]: the closure, and where its
/// result or panic goes.
struct Call<F, R> {
    f: F,
    result: MaybeUninit<R>,
    panic: Option<Box<dyn std::any::Any + Send>>,
    returned: bool,
}

/// Runs the closure of a [`Call`]. A panic is caught here and resumed on
/// the Rust side: it must not unwind through the C shim.
///
/// # Safety
/// `call` points at a live `Call<F, R>` that nothing else borrows.
unsafe extern "C" fn trampoline<F: FnOnce() -> R + Copy, R>(call: *mut c_void) {
    // SAFETY: the caller's contract: `call` is the `Call` of `call` below.
    let call = unsafe { &mut *call.cast::<Call<F, R>>() };
    let f = call.f;
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => {
            call.result.write(value);
            call.returned = true;
        }
        Err(panic) => call.panic = Some(panic),
    }
}

/// Runs `f` under the runtime's crash guard.
pub(crate) fn call<F: FnOnce() -> R + Copy, R>(
    runtime: &RuntimeLibrary,
    f: F,
) -> Result<R, GuardError> {
    let mut call = Call {
        f,
        result: MaybeUninit::uninit(),
        panic: None,
        returned: false,
    };
    // SAFETY: `trampoline::<F, R>` is called with this `Call`, alive and
    // unborrowed for the whole guarded call; what a fault leaves behind is
    // the promise `Host::call_guarded`'s caller made.
    let outcome = unsafe { runtime.guarded_call(trampoline::<F, R>, (&raw mut call).cast()) };
    if let Some(panic) = call.panic {
        resume_unwind(panic);
    }
    outcome.map_err(|err| GuardError {
        module: runtime.last_error_module(),
        code: err.code,
        message: err.message,
    })?;
    if !call.returned {
        return Err(GuardError {
            module: None,
            code: -11,
            message: "the guarded call ended without a result".to_owned(),
        });
    }
    // SAFETY: `returned` is set only after `result` was written.
    Ok(unsafe { call.result.assume_init() })
}
