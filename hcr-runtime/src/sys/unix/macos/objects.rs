//! Where dyld mapped a library's code on macOS: its images, each a Mach-O
//! header in memory whose segments say what is executable.

use std::ffi::CStr;
use std::ops::Range;
use std::path::Path;

use object::macho;
use object::read::macho::{MachHeader as _, Segment as _};
use object::{Endianness, NativeEndian};

use super::mach;

/// The index of the image dyld loaded from `name`, if one is loaded.
fn image_named(name: &Path) -> Option<u32> {
    let name = name.as_os_str().as_encoded_bytes();
    // SAFETY: dyld's image list may be read at any time; a name it returns
    // is a NUL-terminated string valid while the image stays loaded.
    unsafe {
        (0..mach::_dyld_image_count()).find(|&index| {
            let image = mach::_dyld_get_image_name(index);
            !image.is_null() && CStr::from_ptr(image).to_bytes() == name
        })
    }
}

/// Whether an image loaded from `name` is loaded now.
pub(crate) fn is_loaded(name: &Path) -> bool {
    image_named(name).is_some()
}

/// The executable segments of the image loaded from `name`, as address
/// ranges; empty when no image has that name.
pub(crate) fn code_ranges(name: &Path) -> Vec<Range<usize>> {
    let Some(index) = image_named(name) else {
        return Vec::new();
    };
    // SAFETY: dyld's header of a loaded image and its slide; the header is
    // mapped with the image.
    let (header, slide) = unsafe {
        (
            mach::_dyld_get_image_header(index).cast::<macho::MachHeader64<NativeEndian>>(),
            mach::_dyld_get_image_vmaddr_slide(index),
        )
    };
    if header.is_null() {
        return Vec::new();
    }
    // SAFETY: a 64-bit process loads only 64-bit images, whose header is
    // followed in memory by its `sizeofcmds` bytes of load commands.
    let bytes = unsafe {
        let commands = (*header).sizeofcmds.get(NativeEndian) as usize;
        std::slice::from_raw_parts(
            header.cast::<u8>(),
            size_of::<macho::MachHeader64<NativeEndian>>() + commands,
        )
    };
    let Ok(header) = macho::MachHeader64::<Endianness>::parse(bytes, 0) else {
        return Vec::new();
    };
    let Ok(endian) = header.endian() else {
        return Vec::new();
    };
    let mut ranges = Vec::new();
    let Ok(mut commands) = header.load_commands(endian, bytes, 0) else {
        return ranges;
    };
    while let Ok(Some(command)) = commands.next() {
        if let Ok(Some((segment, _))) = command.segment_64() {
            if segment.initprot(endian).0 & macho::VM_PROT_EXECUTE.0 != 0 {
                let start = (segment.vmaddr(endian) as usize).wrapping_add_signed(slide);
                ranges.push(start..start.saturating_add(segment.vmsize(endian) as usize));
            }
        }
    }
    ranges
}
