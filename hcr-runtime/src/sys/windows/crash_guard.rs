//! The crash guard's catching on Windows: installing the C shim's
//! vectored exception handler (`asm/crash_guard_windows.c`) and the words
//! for what it caught; the rest of the binding is the same everywhere
//! (`crash_guard::shim`).

use std::ffi::c_int;
use std::sync::OnceLock;

use crate::error::Error;

/// What the shim's handler saw when it caught a fault
/// (`struct hcr_guard_fault`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fault {
    /// The exception code.
    code: u32,
    /// For an access violation or an in-page error: 0 read, 1 write, 8
    /// execute.
    access: u32,
    /// The faulting instruction.
    pub(crate) pc: usize,
    /// For an access violation or an in-page error: the address accessed.
    address: usize,
}

/// The exception codes the shim catches, with their names and what they
/// mean.
const EXCEPTIONS: [(u32, &str, &str); 8] = [
    (
        0xC000_0005,
        "EXCEPTION_ACCESS_VIOLATION",
        "access violation",
    ),
    (0xC000_0006, "EXCEPTION_IN_PAGE_ERROR", "in-page error"),
    (
        0xC000_001D,
        "EXCEPTION_ILLEGAL_INSTRUCTION",
        "illegal instruction",
    ),
    (
        0xC000_0096,
        "EXCEPTION_PRIV_INSTRUCTION",
        "privileged instruction",
    ),
    (
        0xC000_0094,
        "EXCEPTION_INT_DIVIDE_BY_ZERO",
        "integer division by zero",
    ),
    (0xC000_0095, "EXCEPTION_INT_OVERFLOW", "integer overflow"),
    (
        0x8000_0002,
        "EXCEPTION_DATATYPE_MISALIGNMENT",
        "misaligned data",
    ),
    (
        0xC000_008C,
        "EXCEPTION_ARRAY_BOUNDS_EXCEEDED",
        "array bounds exceeded",
    ),
];

impl Fault {
    /// "EXCEPTION_ACCESS_VIOLATION (access violation) reading 0x0": the
    /// exception, what it means, and what was accessed.
    pub(crate) fn describe(&self) -> String {
        let (name, meaning) = EXCEPTIONS
            .iter()
            .find(|(code, ..)| *code == self.code)
            .map_or(
                (format!("exception {:#x}", self.code), ""),
                |(_, name, meaning)| ((*name).to_owned(), *meaning),
            );
        let cause = if meaning.is_empty() {
            String::new()
        } else {
            format!(" ({meaning})")
        };
        let access = match (self.code, self.access) {
            (0xC000_0005 | 0xC000_0006, 0) => format!(" reading {:#x}", self.address),
            (0xC000_0005 | 0xC000_0006, 1) => format!(" writing {:#x}", self.address),
            (0xC000_0005 | 0xC000_0006, 8) => format!(" executing {:#x}", self.address),
            _ => String::new(),
        };
        format!("{name}{cause}{access}")
    }
}

unsafe extern "C" {
    fn hcr_guard_install() -> c_int;
}

/// Adds the shim's vectored exception handler once per process, first in
/// the list.
///
/// # Errors
/// [`Error::Internal`] with the system's error when it cannot be added.
pub(crate) fn install() -> Result<(), Error> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            // SAFETY: the shim allocates one TLS index and adds one
            // handler; called once (OnceLock).
            if unsafe { hcr_guard_install() } == 0 {
                return Ok(());
            }
            Err(format!(
                "the crash guard cannot add its exception handler: {}",
                std::io::Error::last_os_error()
            ))
        })
        .clone()
        .map_err(Error::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_named_with_what_was_accessed() {
        let fault = |code, access, address| Fault {
            code,
            access,
            pc: 0x1000,
            address,
        };
        assert_eq!(
            fault(0xC000_0005, 1, 0x10).describe(),
            "EXCEPTION_ACCESS_VIOLATION (access violation) writing 0x10"
        );
        assert_eq!(
            fault(0xC000_0094, 0, 0).describe(),
            "EXCEPTION_INT_DIVIDE_BY_ZERO (integer division by zero)"
        );
        assert_eq!(fault(0xE000_0001, 0, 0).describe(), "exception 0xe0000001");
    }
}
