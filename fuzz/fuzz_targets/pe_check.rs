//! The PE check that runs before `LoadLibrary`, on arbitrary bytes: it
//! must answer (accept or name a problem) without panicking or reading out
//! of bounds (cargo-fuzz builds with AddressSanitizer), and so must the
//! list of a DLL's imports, which explains a failed load.

#![no_main]

use hcr_runtime::pe::{check_dll_for, imported_dlls};

/// The checks are pure: any host checks x86_64 Windows DLLs.
const AMD64: u16 = 0x8664;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = check_dll_for(bytes, AMD64);
    let _ = imported_dlls(bytes);
});
