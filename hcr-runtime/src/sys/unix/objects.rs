//! The loader's view of loaded objects: which one holds an address, and
//! where one's code was mapped.

use std::ffi::{CStr, c_void};

pub(crate) use super::os::objects::code_ranges;

/// The loader's record of the object holding `address`, if one does.
fn dladdr(address: usize) -> Option<libc::Dl_info> {
    // SAFETY: an all-zero Dl_info is valid (null pointers); dladdr only
    // reads the loader's tables and writes `info`; any address may be
    // asked about.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        (libc::dladdr(address as *const c_void, &mut info) != 0).then_some(info)
    }
}

/// The name the loaded object holding `address` was opened by, if any.
pub(crate) fn object_name(address: usize) -> Option<String> {
    let info = dladdr(address)?;
    if info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dladdr's file name is a NUL-terminated string owned by the
    // loader, valid while the object is loaded (it is: it holds `address`).
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    Some(name.to_string_lossy().into_owned())
}

/// Where an address lies in the loaded object holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    /// The offset from the object's load address.
    pub(crate) offset: usize,
    /// The nearest exported symbol at or below the address, and the
    /// distance from it.
    pub(crate) symbol: Option<(String, usize)>,
}

/// Where `address` lies, from the loader's tables, if an object holds it.
pub(crate) fn place_of(address: usize) -> Option<Place> {
    let info = dladdr(address)?;
    let symbol = (!info.dli_sname.is_null()).then(|| {
        // SAFETY: a symbol name dladdr found is a NUL-terminated string of
        // the loader's, valid while the object is loaded (it holds `address`).
        let name = unsafe { CStr::from_ptr(info.dli_sname) };
        let distance = address.wrapping_sub(info.dli_saddr as usize);
        (name.to_string_lossy().into_owned(), distance)
    });
    Some(Place {
        offset: address.wrapping_sub(info.dli_fbase as usize),
        symbol,
    })
}
