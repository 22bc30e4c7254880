//! macOS: the paged jump table's memory (copies of the runtime's signed
//! stub page, `vm_remap`ed beside read-write data pages), copies of module
//! libraries (files under names never used before), the Mach-O check and
//! the list of loaded code (dyld's images).
//!
//! What macOS demands and how this answers it:
//! * no page may be writable and executable (Apple Silicon enforces it,
//!   with or without the hardened runtime), and executable pages must come
//!   from signed code: the table only maps copies of a page of the
//!   runtime's own `__TEXT` and writes data pages;
//! * a signed file changed in place gets its process killed when mapped
//!   again: every version loads from a byte-identical copy under a name
//!   never used before;
//! * `dlclose` leaves an image with thread-local destructors mapped:
//!   collecting asks dyld whether an image is still loaded.

use std::io;
use std::ptr::NonNull;

pub(crate) mod copy;
pub(super) mod library;
mod mach;
pub(super) mod objects;
mod stub_pages;

pub(crate) use stub_pages::StubPages;

/// The jump table's layout here: copies of the stub page.
pub(crate) const TABLE_LAYOUT: crate::jump_table::Layout = crate::jump_table::Layout::Paged;

/// What a forked child would switch to: nothing, as the paged table's
/// data pages are private to each process already.
pub(crate) type TableCopy = std::convert::Infallible;

/// Why the mapped jump table is not built here.
pub(crate) const NO_MAPPED_TABLE: &str = "on macOS executable memory must come from signed code, \
     so the jump table is made of copies of the runtime's stub page (the paged layout)";

/// Reserves `len` bytes of address space with no access, at `hint` when
/// it is free (macOS has no flag to ask for an address without replacing
/// what is there, so the caller compares what it got with the hint).
fn reserve(hint: Option<usize>, len: usize) -> io::Result<NonNull<u8>> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANON;
    let addr = hint.unwrap_or(0) as *mut libc::c_void;
    // SAFETY: an anonymous PROT_NONE mapping without MAP_FIXED replaces
    // nothing: the kernel takes the address only when it is free.
    let ptr = unsafe { libc::mmap(addr, len, libc::PROT_NONE, flags, -1, 0) };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap returned a null mapping"))
}

/// Releases a range obtained from [`reserve`] (with everything inside it).
///
/// # Safety
/// `base..base + len` must be a whole reservation of the caller's, and no
/// code or reference may use memory inside it afterwards.
unsafe fn release(base: NonNull<u8>, len: usize) {
    // SAFETY: the caller owns the whole range and has stopped using it.
    unsafe { libc::munmap(base.as_ptr().cast(), len) };
}
