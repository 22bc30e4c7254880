//! The crash guard's catching on Linux and macOS: installing the C shim's
//! signal handler (`asm/crash_guard.c`) and the words for what it caught;
//! the rest of the binding is the same everywhere (`crash_guard::shim`).
//!
//! On macOS a debugger attached through Mach exception ports (lldb, Xcode)
//! is told of a fault before it becomes a signal: it stops there, as for
//! any crash, and the guard catches the fault only once the debugger lets
//! it go on (lldb's `process handle SIGSEGV --pass true`, or continuing).

use std::ffi::c_int;
use std::sync::OnceLock;

use crate::error::Error;

/// What the shim's handler saw when it caught a fault
/// (`struct hcr_guard_fault`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fault {
    /// The signal.
    signal: c_int,
    /// Its `si_code`.
    code: c_int,
    /// The faulting instruction.
    pub(crate) pc: usize,
    /// The address accessed (`si_addr`), for SIGSEGV and SIGBUS.
    address: usize,
}

impl Fault {
    /// "SIGSEGV (address not mapped) accessing 0x0": the signal, why, and
    /// what was accessed.
    pub(crate) fn describe(&self) -> String {
        let cause = match (self.signal, self.code) {
            (libc::SIGSEGV, SEGV_MAPERR) => " (address not mapped)",
            (libc::SIGSEGV, SEGV_ACCERR) => " (access not permitted)",
            (libc::SIGBUS, BUS_ADRALN) => " (misaligned address)",
            (libc::SIGBUS, BUS_ADRERR) => " (no such physical address)",
            (libc::SIGBUS, BUS_OBJERR) => " (hardware error, or past the end of a mapped file)",
            (libc::SIGILL, _) => " (illegal instruction)",
            (libc::SIGFPE, FPE_INTDIV) => " (integer division by zero)",
            (libc::SIGFPE, FPE_INTOVF) => " (integer overflow)",
            _ => "",
        };
        let access = match self.signal {
            libc::SIGSEGV | libc::SIGBUS => format!(" accessing {:#x}", self.address),
            _ => String::new(),
        };
        format!("{}{cause}{access}", signal_name(self.signal))
    }
}

// The `si_code` values named above (`<signal.h>`), which the libc crate
// leaves out; the FPE ones differ between the systems.
const SEGV_MAPERR: c_int = 1;
const SEGV_ACCERR: c_int = 2;
const BUS_ADRALN: c_int = 1;
const BUS_ADRERR: c_int = 2;
const BUS_OBJERR: c_int = 3;
#[cfg(target_os = "macos")]
const FPE_INTDIV: c_int = 7;
#[cfg(target_os = "macos")]
const FPE_INTOVF: c_int = 8;
#[cfg(not(target_os = "macos"))]
const FPE_INTDIV: c_int = 1;
#[cfg(not(target_os = "macos"))]
const FPE_INTOVF: c_int = 2;

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

unsafe extern "C" {
    fn hcr_guard_install() -> c_int;
}

/// Installs the shim's signal handler once per process; the handlers found
/// then are the ones faults that are not caught go on to.
///
/// # Errors
/// [`Error::Internal`] naming the signal whose handler could not be read
/// or set.
pub(crate) fn install() -> Result<(), Error> {
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
            if failed < 0 {
                return Err(format!(
                    "the crash guard cannot make its thread-specific slot: {}",
                    std::io::Error::last_os_error()
                ));
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
