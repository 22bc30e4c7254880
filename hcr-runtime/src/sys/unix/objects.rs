//! The loader's view of loaded objects: which one holds an address, and
//! where one's code was mapped.

use std::ffi::{CStr, c_int, c_void};
use std::ops::Range;
use std::path::Path;

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

/// The executable segments of the loaded object opened as `name`, as
/// address ranges; empty when no loaded object has that name.
pub(crate) fn code_ranges(name: &Path) -> Vec<Range<usize>> {
    struct Search<'a> {
        name: &'a [u8],
        ranges: Vec<Range<usize>>,
    }
    unsafe extern "C" fn visit(
        info: *mut libc::dl_phdr_info,
        _size: usize,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: `data` is the Search passed below, alive and not otherwise
        // borrowed during the walk; `info` points at the loader's record of
        // one object, valid during this callback.
        let (search, info) = unsafe { (&mut *data.cast::<Search>(), &*info) };
        if info.dlpi_name.is_null() {
            return 0;
        }
        // SAFETY: the loader's object names are NUL-terminated strings.
        if unsafe { CStr::from_ptr(info.dlpi_name) }.to_bytes() != search.name {
            return 0;
        }
        let headers: &[_] = if info.dlpi_phdr.is_null() {
            &[]
        } else {
            // SAFETY: the loader describes `dlpi_phnum` program headers at
            // `dlpi_phdr`, mapped with the object.
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) }
        };
        for header in headers {
            if header.p_type == libc::PT_LOAD && header.p_flags & libc::PF_X != 0 {
                let start = (info.dlpi_addr as usize).wrapping_add(header.p_vaddr as usize);
                search
                    .ranges
                    .push(start..start.saturating_add(header.p_memsz as usize));
            }
        }
        1
    }
    let mut search = Search {
        name: name.as_os_str().as_encoded_bytes(),
        ranges: Vec::new(),
    };
    // SAFETY: `visit` matches the callback type and only touches `search`.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&raw mut search).cast()) };
    search.ranges
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
