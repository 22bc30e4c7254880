//! The Mach-O check that runs before `dlopen` on macOS, on arbitrary
//! bytes: it must answer (accept or name a problem) without panicking or
//! reading out of bounds (cargo-fuzz builds with AddressSanitizer), for
//! thin files and universal ones alike.

#![no_main]

use hcr_runtime::macho::check_dylib_for;

/// The check is pure: any host checks dylibs for both Apple CPUs.
const ARM64: u32 = 0x0100_000c;
const X86_64: u32 = 0x0100_0007;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = check_dylib_for(bytes, ARM64);
    let _ = check_dylib_for(bytes, X86_64);
});
