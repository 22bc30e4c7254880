//! Module libraries on macOS: `lib<name>.dylib`, checked as Mach-O before
//! `dlopen` (dyld trusts the load commands).

use crate::library_error::LibraryError;

/// The file name of module `name`'s library.
pub(crate) fn library_file_name(name: &str) -> String {
    format!("lib{name}.dylib")
}

/// Checks a library's bytes before they are loaded (see [`crate::macho`]).
///
/// # Errors
/// The first problem found.
pub(crate) fn check_library(bytes: &[u8]) -> Result<(), LibraryError> {
    crate::macho::check_dylib(bytes)
}
