//! Module libraries on Linux: `lib<name>.so`, checked as ELF before
//! `dlopen` (glibc's loader trusts the headers).

use crate::library_error::LibraryError;

/// The file name of module `name`'s library.
pub(crate) fn library_file_name(name: &str) -> String {
    format!("lib{name}.so")
}

/// Checks a library's bytes before they are loaded (see [`crate::elf`]).
///
/// # Errors
/// The first problem found.
pub(crate) fn check_library(bytes: &[u8]) -> Result<(), LibraryError> {
    crate::elf::check_shared_library(bytes)
}
