//! How a call crosses from one module's code to another's.
//!
//! A caller reaches a reloadable function through its stub's cell: the
//! word in the jump table that the stub jumps through, which always holds
//! the current code (`hcr_stub_cell`). Reading the cell and calling what
//! it holds costs what calling a function pointer costs, one jump less
//! than calling the stub. Its address never changes, so a caller looks it
//! up once per process (per copy of this crate) and keeps it in a
//! [`Stub`]; everything on the calling side is `#[inline(always)]` or a
//! single instruction, so that an unoptimized build calls as directly as
//! an optimized one (see `word`).
//!
//! Every module is a shared library with its own copy of std, and a panic
//! that unwinds out of one copy into another's frames aborts the process.
//! So a Rust-ABI reloadable function is reached through a shim that never
//! unwinds: it takes the arguments as the function does (by value, in
//! registers where the Rust ABI puts them) plus a [`Panicked`] of the
//! caller's, runs the body under `catch_unwind` and returns its result; if
//! the body panics, it reports the message into the caller's `Panicked`
//! and returns nothing. The caller then panics again, in its own crate,
//! with the function's name and the message.
//!
//! Passing Rust values between crates this way is sound because caller and
//! callee were built by the same compiler from the same declaration: the
//! runtime checks the signature fingerprint (which names this convention,
//! [`super::CALL_CONVENTION`]) and the compiler before the call can happen.

use std::any::Any;
use std::cell::Cell;
use std::ffi::CString;
use std::mem::MaybeUninit;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicPtr, Ordering};

use super::{Signature, proc_name, word};

/// What a caller learns of a panic in a Rust-ABI reloadable function: set
/// by the callee's shim, through a function of the caller's crate, only
/// when the body panicked, so the message is allocated by the caller's
/// allocator. Creating one is three stores.
#[repr(C)]
pub struct Panicked {
    raised: bool,
    qualified: bool,
    text: MaybeUninit<String>,
    receive:
        unsafe extern "C" fn(panicked: *mut Panicked, text: *const u8, len: usize, qualified: bool),
}

/// # Safety
/// `panicked` is a live [`Panicked`] of this crate, not raised yet, and
/// `text` points to `len` readable bytes.
unsafe extern "C" fn receive(
    panicked: *mut Panicked,
    text: *const u8,
    len: usize,
    qualified: bool,
) {
    // SAFETY: as the function's contract says.
    unsafe {
        let bytes = std::slice::from_raw_parts(text, len);
        (*panicked)
            .text
            .write(String::from_utf8_lossy(bytes).into_owned());
        (*panicked).qualified = qualified;
        (*panicked).raised = true;
    }
}

impl Panicked {
    /// A report with nothing in it, for one call.
    #[inline(always)]
    #[expect(
        clippy::new_without_default,
        reason = "made per call by generated code only"
    )]
    pub const fn new() -> Panicked {
        Panicked {
            raised: false,
            qualified: false,
            text: MaybeUninit::uninit(),
            receive,
        }
    }

    /// Whether the callee panicked.
    #[inline(always)]
    pub fn raised(&self) -> bool {
        self.raised
    }

    /// Panics again here with the callee's message, naming the function
    /// behind `stub` unless an inner call already did.
    ///
    /// # Panics
    /// Always: that is its purpose.
    #[cold]
    #[inline(never)]
    pub fn reraise(self, stub: &Stub) -> ! {
        assert!(self.raised, "a panic report was re-raised without a panic");
        // SAFETY: `receive` wrote the text before it set `raised`.
        let text = unsafe { self.text.assume_init() };
        let message = if self.qualified {
            text
        } else {
            format!("{} panicked: {text}", stub.full_name())
        };
        let payload = Box::new(message);
        RERAISED.set(&*payload as *const String as usize);
        resume_unwind(payload)
    }
}

thread_local! {
    /// The payload this crate last re-raised, so that a shim further up
    /// the same stack passes its text on instead of naming itself again.
    static RERAISED: Cell<usize> = const { Cell::new(0) };
}

/// A caller's handle on one reloadable function: its names, its signature
/// and, once looked up, the address of its stub's cell.
#[derive(Debug)]
pub struct Stub {
    crate_name: &'static str,
    module_path: &'static str,
    name: &'static str,
    signature: Option<&'static Signature>,
    /// The cell's address; null until looked up.
    cell: AtomicPtr<()>,
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
            cell: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The stub of a C module's proc, which carries no signature.
    pub const fn foreign(module: &'static str, name: &'static str) -> Stub {
        Stub {
            crate_name: module,
            module_path: module,
            name,
            signature: None,
            cell: AtomicPtr::new(std::ptr::null_mut()),
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

    /// The function's current code, read from the stub's cell (call it
    /// now, do not keep it: a reload changes it), or `None` when no
    /// runtime is loaded in this process (a module crate's own tests, a
    /// benchmark, a host that has not started): the caller then runs the
    /// function linked into it.
    ///
    /// # Panics
    /// When the runtime refuses the lookup (a signature that differs from
    /// the loaded code's), with a message that says so.
    #[inline(always)]
    pub fn current(&self) -> Option<*const ()> {
        // SAFETY: an AtomicPtr is laid out as a pointer, aligned and alive
        // (it is `self`'s), and is only ever stored atomically.
        let mut cell = unsafe { word::load((&raw const self.cell).cast()) };
        if cell as usize == 0 {
            cell = self.look_up();
            if cell as usize == 0 {
                return None;
            }
        }
        // SAFETY: the cell is a word of the runtime's jump table, which is
        // never unmapped, and the runtime only stores it atomically.
        Some(unsafe { word::load(cell.cast()) })
    }

    /// The function's current code, for a function with no Rust body to
    /// fall back on (a C module's).
    ///
    /// # Panics
    /// When no runtime is loaded, or it refuses the lookup.
    #[inline(always)]
    pub fn foreign_current(&self) -> *const () {
        match self.current() {
            Some(target) => target,
            None => self.no_runtime(),
        }
    }

    #[cold]
    #[inline(never)]
    fn no_runtime(&self) -> ! {
        panic!(
            "cannot call {}: the hcr runtime is not loaded (start an hcr_client::Host first)",
            self.full_name()
        )
    }

    /// Looks the stub's cell up and keeps it: null when no runtime is
    /// loaded.
    #[cold]
    #[inline(never)]
    fn look_up(&self) -> *const () {
        let Some(runtime) = super::module::runtime() else {
            return std::ptr::null();
        };
        let c = |text: &str| CString::new(text).unwrap_or_default();
        let module = c(self.crate_name);
        let name = c(&proc_name(self.crate_name, self.module_path, self.name));
        let signature = self.signature.map(Signature::render);
        let found = runtime
            .get_proc_checked(super::self_module(), &module, &name, signature.as_deref())
            .and_then(|stub| runtime.stub_cell(stub));
        match found {
            Ok(cell) => {
                let cell = cell.as_ptr().cast::<()>();
                self.cell.store(cell, Ordering::Release);
                cell
            }
            Err(err) => panic!("cannot call {}: {}", self.full_name(), err.message),
        }
    }
}

/// Runs `body` for a shim: returns its result, or reports the panic into
/// the caller's `panicked` and returns nothing.
///
/// # Safety
/// `panicked` is the caller's live [`Panicked`], not raised yet.
#[inline]
pub unsafe fn serve<R>(panicked: *mut Panicked, body: impl FnOnce() -> R) -> MaybeUninit<R> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => MaybeUninit::new(value),
        Err(payload) => {
            report(panicked, payload);
            MaybeUninit::uninit()
        }
    }
}

/// Hands a caught panic's text to the caller's `receive`.
#[cold]
#[inline(never)]
fn report(panicked: *mut Panicked, payload: Box<dyn Any + Send>) {
    let qualified = payload
        .downcast_ref::<String>()
        .is_some_and(|text| text as *const String as usize == RERAISED.get());
    let text = payload_text(&*payload);
    forget_payload(payload);
    // SAFETY: `panicked` is the caller's live report (see `serve`), whose
    // `receive` copies the text before returning.
    unsafe { ((*panicked).receive)(panicked, text.as_ptr(), text.len(), qualified) };
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
