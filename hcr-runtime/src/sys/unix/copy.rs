//! In-memory copies of module libraries.
//!
//! A copy is an anonymous in-memory file (memfd) holding the library's
//! bytes, which `dlopen` opens as `/proc/self/fd/<n>`. Nothing is written
//! to disk, so nothing is left behind however the process ends (exit, a
//! signal, SIGKILL), two processes never share a copy, and a forked child
//! has no file it could delete. The process itself can still read the
//! library under that name, so backtraces name module functions; a
//! debugger outside the process reads it as `/proc/<pid>/fd/<n>`.
//!
//! glibc also recognizes a loaded library by the name it was opened with,
//! so a copy's descriptor stays open as long as its library may be mapped:
//! no later copy can get the same number, hence the same name, while it is.

use std::ffi::CString;
use std::io::{self, Write as _};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The bytes of one loaded version, and the name `dlopen` opens them by.
#[derive(Debug)]
pub(crate) struct LibraryCopy {
    /// Held, not read: the copy lives as long as this descriptor.
    _fd: OwnedFd,
    path: PathBuf,
}

impl LibraryCopy {
    /// A copy of `bytes`, load `id` of module `module`, shown as
    /// `memfd:hcr:lib<module>.<id>.so` in `/proc/self/maps`.
    pub(crate) fn new(module: &str, id: u64, bytes: &[u8]) -> io::Result<LibraryCopy> {
        let label = CString::new(format!("hcr:lib{module}.{id}.so")).map_err(io::Error::other)?;
        let mut file = std::fs::File::from(super::memfd(&label)?);
        file.write_all(bytes)?;
        let fd = OwnedFd::from(file);
        let path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        Ok(LibraryCopy { _fd: fd, path })
    }

    /// The name to `dlopen`.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a library opened from this copy is still loaded (`dlclose`
    /// leaves a library loaded while it is pinned, e.g. by a thread-local
    /// destructor it registered).
    pub(crate) fn is_loaded(&self) -> bool {
        let Ok(path) = CString::new(self.path.as_os_str().as_encoded_bytes()) else {
            return false;
        };
        // SAFETY: RTLD_NOLOAD never loads anything (no constructor runs); it
        // returns a handle, which is closed at once, only for a library that
        // is already loaded.
        unsafe {
            let handle = libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
            if handle.is_null() {
                return false;
            }
            libc::dlclose(handle);
        }
        true
    }
}
