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
//!
//! The kernel copies the file into the memfd (`sendfile`): no byte passes
//! through this process, and the bytes the library check then reads are
//! the copy's own, mapped read-only, which nobody else can change between
//! the check and `dlopen`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The bytes of one loaded version, and the name `dlopen` opens them by.
#[derive(Debug)]
pub(crate) struct LibraryCopy {
    /// Held, not read: the copy lives as long as this descriptor.
    _fd: OwnedFd,
    path: PathBuf,
}

/// A copy just made, and what the library check reads.
#[derive(Debug)]
pub(crate) struct Copied {
    pub(crate) copy: LibraryCopy,
    /// The file's metadata before the copy (of the file copied) and after
    /// it (of whatever its path names then): equal when no write or
    /// rename landed meanwhile.
    pub(crate) before: std::fs::Metadata,
    pub(crate) after: std::fs::Metadata,
    /// The copy's bytes.
    pub(crate) contents: Contents,
}

/// The bytes of a copy, mapped read-only for as long as this lives.
#[derive(Debug)]
pub(crate) struct Contents {
    start: *const u8,
    len: usize,
}

impl Contents {
    /// Maps the `len` bytes of the file behind `fd`.
    fn map(fd: &OwnedFd, len: usize) -> io::Result<Contents> {
        if len == 0 {
            return Ok(Contents {
                start: std::ptr::NonNull::dangling().as_ptr(),
                len,
            });
        }
        // SAFETY: a new shared read-only mapping of a file we own; it
        // replaces nothing (no address is asked for) and is unmapped only
        // by `drop`.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Contents {
            start: start.cast(),
            len,
        })
    }
}

impl std::ops::Deref for Contents {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `start` maps `len` readable bytes (or is a dangling,
        // aligned pointer for no bytes) until `drop`; the memfd behind it
        // is written by no one once the copy is made.
        unsafe { std::slice::from_raw_parts(self.start, self.len) }
    }
}

impl Drop for Contents {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmaps exactly the mapping `map` made, which no
            // slice outlives (they borrow `self`).
            unsafe { libc::munmap(self.start.cast_mut().cast(), self.len) };
        }
    }
}

impl LibraryCopy {
    /// A copy of the file at `path`, load `id` of module `module`, shown
    /// as `memfd:hcr:lib<module>.<id>.so` in `/proc/self/maps`.
    pub(crate) fn of_file(module: &str, id: u64, path: &Path) -> io::Result<Copied> {
        let label = CString::new(format!("hcr:lib{module}.{id}.so")).map_err(io::Error::other)?;
        let source = std::fs::File::open(path)?;
        let before = source.metadata()?;
        let fd = super::memfd(&label)?;
        let mut len = 0usize;
        loop {
            // SAFETY: both descriptors are open and ours; a NULL offset
            // reads from (and moves) the source's own file offset.
            let sent = unsafe {
                libc::sendfile(
                    fd.as_raw_fd(),
                    source.as_raw_fd(),
                    std::ptr::null_mut(),
                    1 << 30,
                )
            };
            match sent {
                0 => break,
                n if n > 0 => len += n as usize,
                _ => {
                    let err = io::Error::last_os_error();
                    let unsupported =
                        matches!(err.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS));
                    if !(unsupported && len == 0) {
                        return Err(err);
                    }
                    // A file system sendfile cannot read from: copy
                    // through this process instead.
                    let mut source = &source;
                    let mut copy = std::fs::File::from(fd.try_clone()?);
                    len = usize::try_from(io::copy(&mut source, &mut copy)?)
                        .map_err(io::Error::other)?;
                    break;
                }
            }
        }
        let after = std::fs::metadata(path)?;
        let contents = Contents::map(&fd, len)?;
        let path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        Ok(Copied {
            copy: LibraryCopy { _fd: fd, path },
            before,
            after,
            contents,
        })
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
