//! The exports of a Rust module, behind the `hcr_module_*` functions that
//! `module!` generates: registering the crate's reloadable functions and
//! checking the compiler that built it.

use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use super::{Signature, proc_name};
use crate::runtime::RuntimeLibrary;

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
/// registers every reloadable function with its signature.
pub fn dat_init(crate_name: &'static str) -> c_int {
    step("hcr_module_dat_init", |runtime| {
        let me = SELF_MODULE.get_or_init(|| CString::new(crate_name).unwrap_or_default());
        runtime
            .check_toolchain(crate_name, TOOLCHAIN)
            .map_err(|err| err.message)?;
        crate::forward::install_all(&runtime);
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

/// `hcr_module_init` of module `crate_name`.
pub fn init(crate_name: &'static str) -> c_int {
    step("hcr_module_init", |_| {
        let _ = crate_name;
        Ok(())
    })
}

/// The toolchain fingerprint of this build, for the host's own check.
pub(crate) fn toolchain() -> &'static str {
    TOOLCHAIN
}
