//! Where the loader mapped a library's code on Linux, from
//! `dl_iterate_phdr`.

use std::ffi::{CStr, c_int, c_void};
use std::ops::Range;
use std::path::Path;

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
