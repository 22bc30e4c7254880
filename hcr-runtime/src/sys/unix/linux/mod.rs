//! Linux: memory primitives for the jump table (reservations, the memfd
//! that backs both views of the mapped table and the stub page of the
//! paged one, views placed inside a reservation), copies of module
//! libraries (memfds), the ELF check and the list of loaded code.
//!
//! Every function here is a thin, checked wrapper over one system call;
//! `Views` owns the invariants about which ranges belong to whom.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

pub(crate) mod copy;
pub(super) mod library;
pub(super) mod objects;
mod stub_pages;
mod views;

pub(crate) use stub_pages::StubPages;
pub(crate) use views::{TableCopy, Views};

use super::page_size;

/// The jump table's layout here: two views of one memfd.
pub(crate) const TABLE_LAYOUT: crate::jump_table::Layout = crate::jump_table::Layout::Mapped;

/// Page protection of a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protection {
    /// Readable and writable, never executable.
    ReadWrite,
    /// Readable and executable, never writable.
    ReadExecute,
}

/// Reserves `len` bytes of address space with no access and no backing
/// memory. With a `hint`, the kernel is asked for exactly that address
/// without replacing anything mapped there (`MAP_FIXED_NOREPLACE`); the
/// caller must compare the returned address with the hint, since emulators
/// and valgrind treat the flag as a mere hint.
fn reserve(hint: Option<usize>, len: usize) -> io::Result<NonNull<u8>> {
    let mut flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    if hint.is_some() {
        flags |= libc::MAP_FIXED_NOREPLACE;
    }
    let addr = hint.unwrap_or(0) as *mut libc::c_void;
    // SAFETY: an anonymous PROT_NONE mapping without MAP_FIXED cannot replace
    // any existing mapping (MAP_FIXED_NOREPLACE fails instead), so no memory
    // owned by anyone else is affected.
    let ptr = unsafe { libc::mmap(addr, len, libc::PROT_NONE, flags, -1, 0) };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap returned a null mapping"))
}

/// Reserves `len` bytes at exactly `address`, or says why not (something
/// is mapped in that range, or the kernel offered another address, as
/// emulators and valgrind do). Nothing mapped before is ever replaced.
fn reserve_exactly(address: usize, len: usize) -> Result<NonNull<u8>, String> {
    match reserve(Some(address), len) {
        Ok(at) if at.as_ptr() as usize == address => Ok(at),
        Ok(elsewhere) => {
            // SAFETY: reserved just above and not used.
            unsafe { release(elsewhere, len) };
            Err(format!(
                "the kernel offered {:#x} instead (emulators and valgrind treat the request as a \
                 hint)",
                elsewhere.as_ptr() as usize
            ))
        }
        Err(err) if err.raw_os_error() == Some(libc::EEXIST) => {
            Err("something is already mapped in that range".to_owned())
        }
        Err(err) => Err(err.to_string()),
    }
}

/// Where the kernel puts the next mapping that nobody places: one page is
/// mapped where the kernel chooses and unmapped again at once. The dynamic
/// loader maps a library the same way, so a small one loaded next lands at
/// or beside this address.
fn probe_next_mapping() -> io::Result<usize> {
    let page = page_size();
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    // SAFETY: an anonymous PROT_NONE mapping at an address of the kernel's
    // choosing replaces nothing.
    let ptr = unsafe { libc::mmap(std::ptr::null_mut(), page, libc::PROT_NONE, flags, -1, 0) };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the page was mapped just above and nothing else knows of it.
    unsafe { libc::munmap(ptr, page) };
    Ok(ptr as usize)
}

/// Releases a range obtained from [`reserve`] (with every view inside it).
///
/// # Safety
/// `base..base + len` must be a whole reservation of the caller's, and no
/// code or reference may use memory inside it afterwards.
unsafe fn release(base: NonNull<u8>, len: usize) {
    // SAFETY: the caller owns the whole range and has stopped using it.
    unsafe { libc::munmap(base.as_ptr().cast(), len) };
}

/// Creates the anonymous file that backs both views of the table. It is
/// sealed against ever being mapped through `execve` paths
/// (`MFD_NOEXEC_SEAL`), which kernels with `vm.memfd_noexec=2` demand; the
/// flag is unknown before Linux 6.3, so the call is retried without it.
fn memfd(name: &std::ffi::CStr) -> io::Result<OwnedFd> {
    const MFD_NOEXEC_SEAL: libc::c_uint = 0x0008;
    let mut flags = libc::MFD_CLOEXEC | MFD_NOEXEC_SEAL;
    loop {
        // SAFETY: `name` is a valid NUL-terminated string for the call's duration.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: memfd_create returned a fresh descriptor that nobody else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EINVAL) && flags & MFD_NOEXEC_SEAL != 0 {
            flags &= !MFD_NOEXEC_SEAL;
            continue;
        }
        return Err(err);
    }
}

/// Grows (or shrinks) the file behind `fd` to `len` bytes.
fn set_file_len(fd: &impl AsRawFd, len: usize) -> io::Result<()> {
    let len = libc::off_t::try_from(len).map_err(io::Error::other)?;
    // SAFETY: ftruncate on a descriptor we own has no memory-safety effects.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Writes all of `bytes` into the file behind `fd` at `offset`.
fn write_at(fd: &OwnedFd, offset: usize, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::from(fd.try_clone()?);
    file.write_all_at(bytes, offset as u64)
}

/// Maps `len` bytes of `fd` at `offset` onto `at`, replacing the part of the
/// caller's reservation that lies there.
///
/// # Safety
/// `at..at + len` must lie inside a reservation the caller owns and that
/// holds nothing anyone still uses (reserved pages or an earlier view of the
/// same bytes of `fd`).
unsafe fn map_view(
    at: NonNull<u8>,
    len: usize,
    fd: &OwnedFd,
    offset: usize,
    protection: Protection,
) -> io::Result<()> {
    let prot = match protection {
        Protection::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
        Protection::ReadExecute => libc::PROT_READ | libc::PROT_EXEC,
    };
    let offset = libc::off_t::try_from(offset).map_err(io::Error::other)?;
    let flags = libc::MAP_SHARED | libc::MAP_FIXED;
    // SAFETY: MAP_FIXED only replaces pages of the caller's own reservation,
    // as the caller guarantees.
    let ptr = unsafe { libc::mmap(at.as_ptr().cast(), len, prot, flags, fd.as_raw_fd(), offset) };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    if ptr.cast() != at.as_ptr() {
        return Err(io::Error::other(
            "MAP_FIXED placed a view at another address",
        ));
    }
    Ok(())
}

/// Maps `len` zeroed, private, read-write bytes onto `at`, replacing the
/// part of the caller's reservation that lies there.
///
/// # Safety
/// As for [`map_view`]: `at..at + len` lies inside a reservation the
/// caller owns and holds nothing anyone still uses.
unsafe fn map_anonymous(at: NonNull<u8>, len: usize) -> io::Result<()> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED;
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    // SAFETY: MAP_FIXED only replaces pages of the caller's own reservation,
    // as the caller guarantees.
    let ptr = unsafe { libc::mmap(at.as_ptr().cast(), len, prot, flags, -1, 0) };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
