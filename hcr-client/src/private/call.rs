//! How a call crosses from one module's code to another's.
//!
//! Every module is a shared library with its own copy of std, and a panic
//! that unwinds out of one copy into another's frames aborts the process.
//! So a reloadable function is reached through a shim that never unwinds:
//! the caller passes its arguments, a slot for the result and a sink for a
//! panic message by pointer; the shim runs the body under `catch_unwind`
//! and returns 0 (result written) or 1 (panic message written). The caller
//! then returns the result or panics again, in its own crate, with the
//! function's name and the message.
//!
//! The arguments and the result are Rust values passed in memory, which is
//! sound because caller and callee were built by the same compiler from
//! the same declaration: the runtime checks the signature fingerprint and
//! the compiler before the call can happen.

use std::any::Any;
use std::cell::Cell;
use std::ffi::CString;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicPtr, Ordering};

use super::{Signature, proc_name};

/// Where a callee writes a panic message: a `String` of the caller, filled
/// by a function of the caller, so the text is allocated by the caller's
/// allocator.
#[repr(C)]
pub struct PanicSink {
    text: *mut String,
    qualified: *mut bool,
    receive:
        unsafe extern "C" fn(sink: *const PanicSink, text: *const u8, len: usize, qualified: bool),
}

/// # Safety
/// `sink` is a live [`PanicSink`] of this crate and `text` points to `len`
/// readable bytes.
unsafe extern "C" fn receive(sink: *const PanicSink, text: *const u8, len: usize, qualified: bool) {
    // SAFETY: as the function's contract says; `call` made the sink from
    // two locals that outlive the call.
    unsafe {
        let bytes = std::slice::from_raw_parts(text, len);
        (*(*sink).text).push_str(&String::from_utf8_lossy(bytes));
        *(*sink).qualified = qualified;
    }
}

thread_local! {
    /// The payload this crate last re-raised, so that a shim further up
    /// the same stack passes its text on instead of naming itself again.
    static RERAISED: Cell<usize> = const { Cell::new(0) };
}

/// A caller's handle on one reloadable function: its names, its signature
/// and, once looked up, its stub. The stub's address never changes, so it
/// is looked up once per process (per copy of this crate).
#[derive(Debug)]
pub struct Stub {
    crate_name: &'static str,
    module_path: &'static str,
    name: &'static str,
    signature: Option<&'static Signature>,
    target: AtomicPtr<()>,
}

impl Stub {
    /// The stub of reloadable `name`, declared in `module_path` of crate
    /// (module) `crate_name`.
    pub const fn new(
        crate_name: &'static str,
        module_path: &'static str,
        name: &'static str,
        signature: &'static Signature,
    ) -> Stub {
        Stub {
            crate_name,
            module_path,
            name,
            signature: Some(signature),
            target: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The stub of a C module's proc, which carries no signature.
    pub const fn foreign(module: &'static str, name: &'static str) -> Stub {
        Stub {
            crate_name: module,
            module_path: module,
            name,
            signature: None,
            target: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// `module::name`, as messages show it.
    pub fn full_name(&self) -> String {
        format!(
            "{}::{}",
            self.crate_name,
            proc_name(self.crate_name, self.module_path, self.name)
        )
    }

    /// The stub's address, or `None` when no runtime is loaded in this
    /// process (a module crate's own tests, a benchmark, a host that has
    /// not started): the caller then runs the function linked into it.
    ///
    /// # Panics
    /// When the runtime refuses the lookup (a signature that differs from
    /// the loaded code's), with a message that says so.
    #[inline]
    pub fn target(&self) -> Option<*const ()> {
        let target = self.target.load(Ordering::Acquire);
        if !target.is_null() {
            return Some(target);
        }
        self.look_up()
    }

    /// The stub's address, for a function with no Rust body to fall back
    /// on (a C module's).
    ///
    /// # Panics
    /// When no runtime is loaded, or it refuses the lookup.
    pub fn foreign_target(&self) -> *const () {
        self.target().unwrap_or_else(|| {
            panic!(
                "cannot call {}: the hcr runtime is not loaded (start an hcr_client::Host first)",
                self.full_name()
            )
        })
    }

    #[cold]
    #[inline(never)]
    fn look_up(&self) -> Option<*const ()> {
        let runtime = super::module::runtime()?;
        let c = |text: &str| CString::new(text).unwrap_or_default();
        let module = c(self.crate_name);
        let name = c(&proc_name(self.crate_name, self.module_path, self.name));
        let signature = self.signature.map(Signature::render);
        let found =
            runtime.get_proc_checked(super::self_module(), &module, &name, signature.as_deref());
        match found {
            Ok(stub) => {
                let stub = stub.as_ptr().cast::<()>();
                self.target.store(stub, Ordering::Release);
                Some(stub)
            }
            Err(err) => panic!("cannot call {}: {}", self.full_name(), err.message),
        }
    }
}

/// The shim every Rust-ABI reloadable function is registered as.
type Shim<A, R> = unsafe extern "C" fn(*mut A, *mut MaybeUninit<R>, *const PanicSink) -> u32;

/// Calls the reloadable function behind `stub`, whose address is
/// `target`, with `args`; a panic in it becomes a panic here, naming the
/// function.
///
/// # Safety
/// `target` is the stub of a function registered by [`serve`]-based shims
/// for exactly these `A` and `R` (the generated code guarantees this, and
/// the runtime checks the signature fingerprint).
pub unsafe fn call<A, R>(stub: &Stub, target: *const (), args: A) -> R {
    // SAFETY: the stub jumps to a `Shim<A, R>`, as the caller guarantees;
    // fn pointers and data pointers have one size on supported targets.
    let shim = unsafe { std::mem::transmute::<*const (), Shim<A, R>>(target) };
    let mut args = ManuallyDrop::new(args);
    let mut result = MaybeUninit::<R>::uninit();
    let (mut text, mut qualified) = (String::new(), false);
    let sink = PanicSink {
        text: &mut text,
        qualified: &mut qualified,
        receive,
    };
    // SAFETY: the shim takes ownership of `args` (read once, never dropped
    // here) and writes `result` when it returns 0.
    match unsafe { shim(&mut *args, &mut result, &sink) } {
        // SAFETY: 0 means the shim wrote the result.
        0 => unsafe { result.assume_init() },
        _ => reraise(stub, text, qualified),
    }
}

#[cold]
fn reraise(stub: &Stub, text: String, qualified: bool) -> ! {
    let message = if qualified {
        text
    } else {
        format!("{} panicked: {text}", stub.full_name())
    };
    let payload = Box::new(message);
    RERAISED.set(&*payload as *const String as usize);
    resume_unwind(payload)
}

/// Runs `body` on the arguments behind `args`, for a shim: writes the
/// result and returns 0, or reports the panic to `sink` and returns 1.
///
/// # Safety
/// `args` points to an initialized `A` that this call takes ownership of;
/// `result` is writable; `sink` is the caller's live sink.
pub unsafe fn serve<A, R>(
    args: *mut A,
    result: *mut MaybeUninit<R>,
    sink: *const PanicSink,
    body: impl FnOnce(A) -> R,
) -> u32 {
    // SAFETY: as the function's contract says.
    let args = unsafe { args.read() };
    match catch_unwind(AssertUnwindSafe(move || body(args))) {
        Ok(value) => {
            // SAFETY: `result` is writable.
            unsafe { (*result).write(value) };
            0
        }
        Err(payload) => {
            let qualified = payload
                .downcast_ref::<String>()
                .is_some_and(|text| text as *const String as usize == RERAISED.get());
            let text = payload_text(&*payload);
            forget_payload(payload);
            // SAFETY: `sink` is the caller's live sink, whose `receive`
            // copies the text before returning.
            unsafe { ((*sink).receive)(sink, text.as_ptr(), text.len(), qualified) };
            1
        }
    }
}

/// Runs the body of a C-ABI reloadable function, which cannot report a
/// panic to its caller: a panic ends the process with a message naming
/// the function.
pub fn abort_on_panic<R>(
    crate_name: &str,
    module_path: &str,
    name: &str,
    body: impl FnOnce() -> R,
) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            let text = payload_text(&*payload);
            eprintln!(
                "hcr: {crate_name}::{} panicked: {text}; an extern \"C\" reloadable function \
                 cannot unwind into its caller, so the process aborts",
                proc_name(crate_name, module_path, name)
            );
            std::process::abort()
        }
    }
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic payload that is not a string".to_owned())
}

/// Drops a caught payload, whose own `Drop` might panic again.
fn forget_payload(payload: Box<dyn Any + Send>) {
    if catch_unwind(AssertUnwindSafe(move || drop(payload))).is_err() {
        // A payload whose drop panics is leaked rather than unwound.
    }
}
