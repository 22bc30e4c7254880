//! Module libraries on Unix, opened with `RTLD_NOW | RTLD_LOCAL` so that
//! every symbol resolves before any module code runs and no module's
//! symbols leak into another's lookups. Their file names and the check of
//! their headers before `dlopen` (the loaders trust them) are each
//! system's (`library_file_name`, `check_library`).

use std::path::Path;

use libloading::os::unix::{Library as Dl, RTLD_LOCAL, RTLD_NOW};

pub(crate) use super::os::library::{check_library, library_file_name};
pub(crate) use crate::library_error::LibraryError as FormatError;

/// A loaded library; dropping it closes it (`dlclose`).
#[derive(Debug)]
pub(crate) struct Library(Dl);

impl Library {
    /// Opens the library at `path`.
    ///
    /// # Safety
    /// Loading runs the library's initializers: the caller vouches for its
    /// code (it passed the library check, and running it is what loading
    /// a module is for).
    ///
    /// # Errors
    /// The loader's message.
    pub(crate) unsafe fn open(path: &Path) -> Result<Library, String> {
        // SAFETY: forwarded from the caller.
        unsafe { Dl::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
            .map(Library)
            .map_err(|err| err.to_string())
    }

    /// The exported `name`, as a `T`.
    ///
    /// # Safety
    /// `T` is the type of what `name` is (a C function pointer of the
    /// signature the module ABI fixes), and the copied-out value is used
    /// only while the library stays loaded.
    pub(crate) unsafe fn get<T: Copy>(&self, name: &str) -> Option<T> {
        let with_nul = format!("{name}\0");
        // SAFETY: forwarded from the caller.
        unsafe { self.0.get::<T>(with_nul.as_bytes()) }
            .ok()
            .map(|symbol| *symbol)
    }
}
