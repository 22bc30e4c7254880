//! Module libraries on Windows: `<name>.dll`, checked as PE before
//! `LoadLibraryExW`, symbols by `GetProcAddress`. A DLL that cannot be
//! loaded because one of its own dependencies is missing is named with
//! that dependency, read from its import directory.

use std::io;
use std::path::Path;

use windows_sys::Win32::Foundation::{ERROR_MOD_NOT_FOUND, FreeLibrary, HMODULE};
use windows_sys::Win32::System::LibraryLoader::{
    GetModuleHandleA, GetProcAddress, LOAD_LIBRARY_AS_DATAFILE, LoadLibraryExA, LoadLibraryExW,
};

use super::wide;

pub(crate) use crate::library_error::LibraryError as FormatError;

/// The file name of module `name`'s library.
pub(crate) fn library_file_name(name: &str) -> String {
    format!("{name}.dll")
}

/// Checks a library's bytes before they are loaded (see [`crate::pe`]).
///
/// # Errors
/// The first problem found.
pub(crate) fn check_library(bytes: &[u8]) -> Result<(), FormatError> {
    crate::pe::check_dll(bytes)
}

/// A loaded library; dropping it unloads it (`FreeLibrary`).
#[derive(Debug)]
pub(crate) struct Library(HMODULE);

// SAFETY: a module handle is a process-wide value (the image's base), not
// tied to the thread that loaded it.
unsafe impl Send for Library {}

impl Library {
    /// Loads the library at `path`.
    ///
    /// # Safety
    /// Loading runs the library's initializers (`DllMain` and its CRT's):
    /// the caller vouches for its code (it passed the PE check, and running
    /// it is what loading a module is for).
    ///
    /// # Errors
    /// Windows' message, naming a missing dependency where that is why.
    pub(crate) unsafe fn open(path: &Path) -> Result<Library, String> {
        // SAFETY: a NUL-terminated wide path; the caller vouches for the code.
        let module = unsafe { LoadLibraryExW(wide(path).as_ptr(), std::ptr::null_mut(), 0) };
        if !module.is_null() {
            return Ok(Library(module));
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(ERROR_MOD_NOT_FOUND as i32) {
            return Err(err.to_string());
        }
        let missing = std::fs::read(path)
            .map(|bytes| crate::pe::imported_dlls(&bytes))
            .unwrap_or_default()
            .into_iter()
            .filter(|dll| !can_be_found(dll))
            .collect::<Vec<_>>();
        Err(match missing.as_slice() {
            [] => err.to_string(),
            [dll] => format!(
                "it needs {dll}, which cannot be found (not loaded, not beside the executable, \
                 not in the system directories, not on PATH)"
            ),
            dlls => format!(
                "it needs {}, which cannot be found (not loaded, not beside the executable, \
                 not in the system directories, not on PATH)",
                dlls.join(", ")
            ),
        })
    }

    /// The exported `name`, as a `T`.
    ///
    /// # Safety
    /// `T` is the type of what `name` is (a C function pointer of the
    /// signature the module ABI fixes), and the copied-out value is used
    /// only while the library stays loaded.
    pub(crate) unsafe fn get<T: Copy>(&self, name: &str) -> Option<T> {
        assert_eq!(size_of::<T>(), size_of::<usize>(), "symbols are pointers");
        let with_nul = format!("{name}\0");
        // SAFETY: the handle is this library's, loaded; the name is
        // NUL-terminated.
        let address = unsafe { GetProcAddress(self.0, with_nul.as_ptr()) }?;
        // SAFETY: `T` is a pointer type of the symbol's, as the caller
        // promises (and its size is a pointer's, asserted).
        Some(unsafe { std::mem::transmute_copy::<_, T>(&address) })
    }
}

impl Drop for Library {
    fn drop(&mut self) {
        // SAFETY: the handle is this value's own; the caller drops it only
        // when no code of the library runs or is pointed to any more.
        unsafe { FreeLibrary(self.0) };
    }
}

/// Whether the DLL `name` (as an import directory names it) is loaded or
/// can be found where the loader looks.
fn can_be_found(name: &str) -> bool {
    let Ok(name) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: a NUL-terminated name; only looks loaded modules up.
    if !unsafe { GetModuleHandleA(name.as_ptr().cast()) }.is_null() {
        return true;
    }
    // SAFETY: maps the file as data only: no code of it runs.
    let data = unsafe {
        LoadLibraryExA(
            name.as_ptr().cast(),
            std::ptr::null_mut(),
            LOAD_LIBRARY_AS_DATAFILE,
        )
    };
    if data.is_null() {
        return false;
    }
    // SAFETY: the handle loaded just above.
    unsafe { FreeLibrary(data) };
    true
}
