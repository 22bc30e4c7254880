//! The exports of a Rust module, behind the `hcr_module_*` functions that
//! `module!` generates: registering the crate's reloadable functions and
//! persistent globals, checking the compiler that built it, and running
//! its lifecycle.

use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use super::{Signature, proc_name};
use crate::global::RegisterGlobal;
use crate::lifecycle::{Lifecycle, Saved};
use crate::runtime::{GlobalStatus, RuntimeLibrary};

/// The compiler that built this copy of hcr-client, and so the module or
/// host it is linked into (see build.rs).
const TOOLCHAIN: &str = env!("HCR_TOOLCHAIN");

/// One reloadable function of the crate being built as a module.
#[derive(Debug)]
pub struct ProcEntry {
    /// `module_path!()` where it is declared.
    pub module_path: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Its signature fingerprint.
    pub signature: &'static Signature,
    /// The code the stub jumps to: the Rust-ABI shim, or the function
    /// itself for `extern "C"` ones.
    pub address: *const (),
}

// SAFETY: the entry holds only 'static data and a code address, which is
// never written through.
unsafe impl Sync for ProcEntry {}

/// Every reloadable function of the module being built. Only that crate's
/// own build (`--cfg hcr_module`) adds entries, so a module that links
/// another module crate as a library registers only its own functions.
#[linkme::distributed_slice]
pub static PROCS: [ProcEntry];

/// A NULL-terminated list of C strings, for `hcr_module_imports`.
#[derive(Debug)]
pub struct NameList<const N: usize>(pub [*const c_char; N]);

// SAFETY: the pointers point to string literals, which are immutable and
// live for the whole program.
unsafe impl<const N: usize> Sync for NameList<N> {}

static SELF_MODULE: OnceLock<CString> = OnceLock::new();

/// The module this copy of hcr-client is linked into; `None` in the host.
pub fn self_module() -> Option<&'static CStr> {
    SELF_MODULE.get().map(CString::as_c_str)
}

/// The runtime, once some part of the process loaded it.
pub(crate) fn runtime() -> Option<RuntimeLibrary> {
    static RUNTIME: OnceLock<RuntimeLibrary> = OnceLock::new();
    if let Some(runtime) = RUNTIME.get() {
        return Some(*runtime);
    }
    let runtime = RuntimeLibrary::loaded()?;
    Some(*RUNTIME.get_or_init(|| runtime))
}

/// Whether a runtime is loaded in this process.
pub fn runtime_loaded() -> bool {
    runtime().is_some()
}

/// Runs one step of a module's start, turning an error or a panic into a
/// non-zero status and a reason the runtime puts in its message.
fn step(what: &str, body: impl FnOnce(RuntimeLibrary) -> Result<(), String>) -> c_int {
    let Some(runtime) = runtime() else {
        eprintln!("hcr: {what} called, but no hcr runtime is loaded in this process");
        return 1;
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| body(runtime)));
    let reason = match outcome {
        Ok(Ok(())) => return 0,
        Ok(Err(reason)) => reason,
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            format!("panicked: {text}")
        }
    };
    runtime.report_failure(&reason);
    1
}

/// `hcr_module_dat_init` of module `crate_name`: checks the compiler and
/// registers every reloadable function with its signature. A module
/// built with `shared` dependencies uses the host's std, logger and
/// subscriber themselves, so nothing is forwarded.
pub fn dat_init(crate_name: &'static str, shared: bool) -> c_int {
    step("hcr_module_dat_init", |runtime| {
        let me = SELF_MODULE.get_or_init(|| CString::new(crate_name).unwrap_or_default());
        runtime
            .check_toolchain(crate_name, TOOLCHAIN)
            .map_err(|err| err.message)?;
        if !shared {
            crate::forward::install_all(&runtime);
        }
        for entry in PROCS {
            let name = proc_name(crate_name, entry.module_path, entry.name);
            let c_name = CString::new(name).unwrap_or_default();
            let signature = entry.signature.render();
            // SAFETY: the address is the function generated for this entry,
            // in this library, which stays mapped; the signature is rendered
            // from its declaration.
            unsafe { runtime.register_proc_checked(me, &c_name, entry.address.cast(), &signature) }
                .map_err(|err| err.message)?;
        }
        Ok(())
    })
}

/// Every persistent global of the module being built (`#[global]` adds
/// them in the module build only, like `PROCS`).
#[linkme::distributed_slice]
pub static GLOBALS: [&'static dyn RegisterGlobal];

/// What a version hands the next, kept in a runtime global of the module.
#[derive(Default)]
struct Carry {
    saved: Mutex<Option<Vec<u8>>>,
}

/// Tells this crate's `Carry` global from one of another layout.
const CARRY_TAG: u64 = crate::fingerprint::start("hcr-client Carry v1");

/// This version's `Carry`, once its init found it.
static CARRY: OnceLock<&'static Carry> = OnceLock::new();

/// Set when this version unloaded for a reload that may still fail.
static UNLOADED: AtomicBool = AtomicBool::new(false);

/// `hcr_module_init` of module `crate_name`: registers the persistent
/// globals, runs `startup` on the first load and `load` on every load, and
/// adds the handlers that unload this version when it is reloaded.
pub fn init<L: Lifecycle>(crate_name: &'static str) -> c_int {
    step("hcr_module_init", |runtime| {
        // First, so that the handlers `startup` and `load` add, and the
        // lookups of other modules' globals, belong to this version.
        crate::handlers::install_for_module(&runtime);
        for global in GLOBALS {
            global.register(&runtime)?;
        }
        let (block, status) = runtime
            .register_global(
                crate_name,
                "hcr.carry",
                size_of::<Carry>(),
                align_of::<Carry>(),
                CARRY_TAG,
            )
            .map_err(|err| err.message)?;
        let block = block.as_ptr().cast::<Carry>();
        if status != GlobalStatus::Existing {
            // SAFETY: a fresh block of Carry's size and alignment.
            unsafe { block.write(Carry::default()) };
        }
        // SAFETY: the block holds a Carry and lives until the process
        // exits (its layout never changes within one hcr-client version).
        let carry: &'static Carry = unsafe { &*block };
        let _ = CARRY.set(carry);
        if status != GlobalStatus::Existing {
            L::startup().map_err(|err| format!("startup failed: {err}"))?;
        }
        let saved = lock(&carry.saved).clone();
        L::load(Saved::from(saved)).map_err(|err| format!("load failed: {err}"))?;
        runtime.add_event_handler(true, before_reload::<L>);
        runtime.add_event_handler(false, after_reload::<L>);
        Ok(())
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs a hook where no panic may escape (a handler or an export).
fn contained(what: &str, hook: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(hook)).is_err() {
        let module = self_module().map(CStr::to_string_lossy).unwrap_or_default();
        eprintln!("hcr: {what} of module `{module}` panicked; carrying on");
    }
}

/// Before every reload: if this module is about to be replaced, unload.
extern "C" fn before_reload<L: Lifecycle>() {
    contained("unload", || {
        let (Some(me), Some(carry), Some(runtime)) = (self_module(), CARRY.get(), runtime()) else {
            return;
        };
        if runtime.has_module_changed(&me.to_string_lossy()) {
            let bytes = L::unload();
            *lock(&carry.saved) = bytes;
            UNLOADED.store(true, Ordering::SeqCst);
        }
    });
}

/// After every reload: a version that unloaded but is still here (the
/// reload failed) loads its saved state again; otherwise the saved state
/// was handed over and is dropped.
extern "C" fn after_reload<L: Lifecycle>() {
    contained("load", || {
        let Some(carry) = CARRY.get() else {
            return;
        };
        let saved = lock(&carry.saved).take();
        if UNLOADED.swap(false, Ordering::SeqCst) {
            if let Err(err) = L::load(Saved::from(saved)) {
                eprintln!("hcr: load after a failed reload failed: {err}");
            }
        }
    });
}

/// `hcr_module_can_reload`: the lifecycle's answer; a panic says no.
pub fn can_reload<L: Lifecycle>() -> bool {
    let answer = catch_unwind(L::can_reload);
    if answer.is_err() {
        eprintln!("hcr: can_reload panicked; refusing the reload");
    }
    answer.unwrap_or(false)
}

/// `hcr_module_shutdown`: unload (nothing follows, the bytes go) and
/// shutdown.
pub fn shutdown<L: Lifecycle>() {
    contained("shutdown", || {
        let _ = L::unload();
        L::shutdown();
    });
}

/// The toolchain fingerprint of this build, for the host's own check.
pub(crate) fn toolchain() -> &'static str {
    TOOLCHAIN
}
