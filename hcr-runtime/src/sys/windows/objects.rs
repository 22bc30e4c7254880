//! The loader's view of loaded images on Windows: which one holds an
//! address, and where one's code was mapped (read from its PE headers in
//! memory).

use std::ops::Range;
use std::path::Path;

use object::LittleEndian as LE;
use object::pe::{IMAGE_SCN_MEM_EXECUTE, ImageDosHeader, ImageNtHeaders64};
use object::read::pe::{ImageNtHeaders as _, ImageOptionalHeader as _};
use windows_sys::Win32::Foundation::HMODULE;
use windows_sys::Win32::System::LibraryLoader::{
    GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS, GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
    GetModuleFileNameW, GetModuleHandleExW, GetModuleHandleW,
};

use super::wide;

/// The loaded image holding `address`, if any.
fn module_of(address: usize) -> Option<HMODULE> {
    let mut module: HMODULE = std::ptr::null_mut();
    // SAFETY: asks which loaded image holds the address, without changing
    // its reference count; writes only `module`.
    let found = unsafe {
        GetModuleHandleExW(
            GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
            address as *const u16,
            &mut module,
        )
    };
    (found != 0 && !module.is_null()).then_some(module)
}

/// The path the loaded image holding `address` was loaded from, if any.
pub(crate) fn object_name(address: usize) -> Option<String> {
    let module = module_of(address)?;
    let mut buffer = vec![0u16; 32 * 1024];
    // SAFETY: writes at most `buffer.len()` characters into `buffer`.
    let len = unsafe { GetModuleFileNameW(module, buffer.as_mut_ptr(), buffer.len() as u32) };
    (len > 0).then(|| String::from_utf16_lossy(&buffer[..len as usize]))
}

/// The headers of the loaded image at `module`: its NT headers, all its
/// header bytes, and where the section table starts in them.
fn headers(module: HMODULE) -> Option<(&'static ImageNtHeaders64, &'static [u8], u64)> {
    let base = module as usize;
    // SAFETY: a loaded image starts with its headers, mapped readable and
    // never unmapped while it is loaded (the runtime's own, or a module
    // version the runtime keeps): the DOS header, then the NT headers at
    // `e_lfanew`, then the section table, all within its first
    // `SizeOfHeaders` bytes (at least a page).
    let bytes = |len: usize| unsafe { std::slice::from_raw_parts(base as *const u8, len) };
    let first_page = bytes(super::page_size());
    let dos = ImageDosHeader::parse(first_page).ok()?;
    let mut offset = u64::from(dos.nt_headers_offset());
    let (nt, _) = ImageNtHeaders64::parse(first_page, &mut offset).ok()?;
    let all = bytes(nt.optional_header().size_of_headers() as usize);
    Some((nt, all, offset))
}

/// The address range the loaded image at `module` occupies.
pub(super) fn image_range(module: HMODULE) -> Option<Range<usize>> {
    let (nt, _, _) = headers(module)?;
    let base = module as usize;
    Some(base..base + nt.optional_header().size_of_image() as usize)
}

/// The executable sections of the image loaded from `name`, as address
/// ranges; empty when no loaded image has that path.
pub(crate) fn code_ranges(name: &Path) -> Vec<Range<usize>> {
    // SAFETY: a NUL-terminated wide path; only looks loaded modules up.
    let module = unsafe { GetModuleHandleW(wide(name).as_ptr()) };
    if module.is_null() {
        return Vec::new();
    }
    let Some((nt, all, offset)) = headers(module) else {
        return Vec::new();
    };
    let Ok(sections) = nt.sections(all, offset) else {
        return Vec::new();
    };
    let base = module as usize;
    sections
        .iter()
        .filter(|section| section.characteristics.get(LE).0 & IMAGE_SCN_MEM_EXECUTE.0 != 0)
        .map(|section| {
            let start = base + section.virtual_address.get(LE) as usize;
            start..start + section.virtual_size.get(LE) as usize
        })
        .collect()
}

/// The image this library (the runtime) was loaded as.
pub(super) fn runtime_module() -> Option<HMODULE> {
    module_of(super::this_image() as usize)
}

/// Where an address lies in the loaded image holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    /// The offset from the image's base.
    pub(crate) offset: usize,
    /// The nearest exported symbol at or below the address, and the
    /// distance from it (not looked up on Windows).
    pub(crate) symbol: Option<(String, usize)>,
}

/// Where `address` lies, if a loaded image holds it.
pub(crate) fn place_of(address: usize) -> Option<Place> {
    let module = module_of(address)?;
    Some(Place {
        offset: address - module as usize,
        symbol: None,
    })
}
