//! The ELF check that runs before `dlopen`, on arbitrary bytes: it must
//! answer (accept or name a problem) without panicking or reading out of
//! bounds (cargo-fuzz builds with AddressSanitizer), and a library it
//! accepts stays accepted only while every byte its segments need is there.

#![no_main]

use hcr_runtime::elf::check_shared_library;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    if check_shared_library(bytes).is_ok() && !bytes.is_empty() {
        // Dropping the last byte either cuts into what the headers
        // describe (refused) or only into trailing bytes nothing needs
        // (still accepted): either answer is fine, but it must come back.
        let _ = check_shared_library(&bytes[..bytes.len() - 1]);
    }
});
